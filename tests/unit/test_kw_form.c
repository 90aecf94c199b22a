/*
 * Unit tests for modules/kw_form.c, urlencoded form bodies to text: known
 * bodies to their exact text, each fed whole, split in two at every byte
 * and one byte at a time (kw_stage_test.h); '%' sequences that are not
 * escapes; a sink that stops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kw_form.h"
#include "kw_stage_test.h"

static void *make(const void *ctx, struct kw_sink out)
{
	(void)ctx;
	return kw_form_new(out);
}

static int write_(void *st, const char *p, size_t n)
{
	return kw_form_write(st, p, n);
}

static int finish(void *st)
{
	return kw_form_finish(st);
}

static void free_(void *st)
{
	kw_form_free(st);
}

static const struct kw_stage_ops ops = {make, write_, finish, free_};

static void check(const char *in, const char *want)
{
	kw_check_str(&ops, NULL, in, want);
}

static void test_fields(void **state)
{
	(void)state;
	check("a=%E7%A7%98%E5%AF%86&b=hello+world", "a\n秘密\nb\nhello world");
	check("q=%e3%81%b2%e3%81%bf%e3%81%a4", "q\nひみつ");
	check("", "");
	check("=&&=", "\n\n\n\n");
	check("x=1%2B1%3D2%26y", "x\n1+1=2&y");
	check("raw=秘密+x", "raw\n秘密 x");
	/* Bytes in a legacy charset pass as they are, for kw_charset. */
	check("s=%94%E9%96%A7", "s\n\x94\xe9\x96\xa7");
}

static void test_bad_escapes(void **state)
{
	(void)state;
	check("%zz%4", "%zz%4");
	check("%%41", "%A");
	check("%4g", "%4g");
	check("a%", "a%");
	check("%4%41", "%4A");
	check("%+%=", "% %\n");
}

static void test_nul(void **state)
{
	(void)state;
	kw_check_splits(&ops, NULL, "z=%00", 5, 0, "z\n\0", 3);
}

static void test_large(void **state)
{
	(void)state;
	size_t n = 100000;
	char *in = malloc(n);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = i % 3 == 0 ? '+' : 'a';
	struct kwbuf out = {0};
	struct kw_form *f = kw_form_new(kwbuf_sink(&out));
	assert_int_equal(kw_form_write(f, in, n), 0);
	assert_int_equal(kw_form_finish(f), 0);
	kw_form_free(f);
	assert_int_equal(out.len, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(out.p[i], i % 3 == 0 ? ' ' : 'a');
	kwbuf_free(&out);
	free(in);
}

static int refuse(void *arg, const char *p, size_t n)
{
	(void)p;
	(void)n;
	(*(int *)arg)++;
	return -1;
}

static void test_sink_stops(void **state)
{
	(void)state;
	int calls = 0;
	struct kw_form *f = kw_form_new((struct kw_sink){refuse, &calls});
	assert_int_equal(kw_form_write(f, "a=b", 3), -1);
	assert_int_equal(kw_form_write(f, "a=b", 3), -1);
	assert_int_equal(kw_form_finish(f), -1);
	assert_int_equal(calls, 1);
	kw_form_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fields),     cmocka_unit_test(test_bad_escapes),
	        cmocka_unit_test(test_nul),        cmocka_unit_test(test_large),
	        cmocka_unit_test(test_sink_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
