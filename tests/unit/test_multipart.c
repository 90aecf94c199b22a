/*
 * Unit tests for multipart: boundaries from Content-Type values, and parts
 * found in form uploads, including empty parts, binary content holding
 * CR/LF and near-miss delimiters, preamble, transport padding and bodies
 * cut short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "multipart.h"

static void test_boundary(void **state)
{
	char b[MULTIPART_BOUNDARY_MAX + 1];
	(void)state;
	const char *ok[][2] = {
	        {"multipart/form-data; boundary=XyZ", "XyZ"},
	        {"Multipart/Form-Data;boundary=\"a b'c\"", "a b'c"},
	        {"multipart/mixed; charset=x; boundary=---123; x=y", "---123"},
	};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(multipart_boundary(ok[i][0], strlen(ok[i][0]), b),
		                 strlen(ok[i][1]));
		assert_string_equal(b, ok[i][1]);
	}
	const char *bad[] = {
	        "text/plain; boundary=x",
	        "multipart/form-data",
	        "multipart/form-data; boundary=",
	        "multipart/form-data; boundary=a<b",
	        "multipart/form-data; boundary="
	        "12345678901234567890123456789012345678901234567890123456789012345678901",
	};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(multipart_boundary(bad[i], strlen(bad[i]), b), 0);
}

struct seen {
	int n;
	char content[4][64];
	size_t len[4];
	char head[4][128];
};

static int collect(void *arg, const struct multipart_part *p)
{
	struct seen *s = arg;
	(void)p;
	s->n++;
	return 0;
}

static const char *g_body;

static int collect_text(void *arg, const struct multipart_part *p)
{
	struct seen *s = arg;
	if (s->n < 4) {
		memcpy(s->content[s->n], g_body + p->off, p->len < 63 ? p->len : 63);
		s->len[s->n] = p->len;
		memcpy(s->head[s->n], g_body + p->head_off, p->head_len < 127 ? p->head_len : 127);
	}
	s->n++;
	return 0;
}

static int parse(const char *body, size_t n, const char *b, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	g_body = body;
	return multipart_each(body, n, b, strlen(b), 100, collect_text, s);
}

static void test_parts(void **state)
{
	struct seen s;
	(void)state;
	const char body[] = "preamble\r\n--B\r\nContent-Disposition: form-data; name=a\r\n\r\n"
	                    "alpha\r\n--B  \r\nContent-Disposition: form-data; name=f; "
	                    "filename=x\r\n\r\nbin\r\n--Bx\r\n--B\r\n\r\n\r\n--B--\r\n"
	                    "epilogue\r\n--B\r\n\r\nnot a part\r\n";
	assert_int_equal(parse(body, sizeof(body) - 1, "B", &s), 3);
	assert_int_equal(s.len[0], 5);
	assert_memory_equal(s.content[0], "alpha", 5);
	assert_non_null(strstr(s.head[0], "name=a"));
	/* "--Bx" is content (RFC 2046: a delimiter is followed by blanks and
	 * CRLF, or by "--"), so the file part keeps it. */
	assert_int_equal(s.len[1], strlen("bin\r\n--Bx"));
	assert_memory_equal(s.content[1], "bin\r\n--Bx", s.len[1]);
	assert_non_null(strstr(s.head[1], "filename=x"));
	/* An empty part; nothing after the close delimiter counts. */
	assert_int_equal(s.len[2], 0);
}

static void test_first_delimiter_at_start_and_cut(void **state)
{
	struct seen s;
	(void)state;
	const char body[] = "--B\r\nH: v\r\n\r\nonly part, cut short";
	assert_int_equal(parse(body, sizeof(body) - 1, "B", &s), 1);
	assert_int_equal(s.len[0], strlen("only part, cut short"));
	const char none[] = "no delimiter here";
	assert_int_equal(parse(none, sizeof(none) - 1, "B", &s), -1);
	const char cut_head[] = "--B\r\nH: v";
	assert_int_equal(parse(cut_head, sizeof(cut_head) - 1, "B", &s), 1);
	assert_int_equal(s.len[0], 0);
}

static void test_max_parts(void **state)
{
	char body[4096];
	size_t n = 0;
	(void)state;
	for (int i = 0; i < 50; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "--B\r\n\r\nx%d\r\n", i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "--B--\r\n");
	struct seen s = {0};
	assert_int_equal(multipart_each(body, n, "B", 1, 10, collect, &s), 10);
	memset(&s, 0, sizeof(s));
	assert_int_equal(multipart_each(body, n, "B", 1, 100, collect, &s), 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_boundary),
	        cmocka_unit_test(test_parts),
	        cmocka_unit_test(test_first_delimiter_at_start_and_cut),
	        cmocka_unit_test(test_max_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
