/*
 * Unit tests for modules/kw_charset_jp.c, the CP932 and EUC-JP-MS tables,
 * through kw_charset as pages use them: the output must be exactly what
 * glibc iconv gives with kw_charset's rules (an invalid sequence is U+FFFD
 * and one byte skipped; a sequence cut short at the end is one U+FFFD).
 * Compared with iconv: every 1- and 2-byte input in both charsets, every
 * EUC-JP 3-byte 8F xx yy (JIS X 0212) input, each alone (so the end of the
 * text is tested too); long random texts biased toward lead and trail
 * bytes, fed in writes of random sizes; shorter ones split in two at every
 * byte and a byte at a time (kw_stage_test.h); and ISO-2022-JP, which goes
 * through the CP932 table, against iconv's CP932 on the same codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <iconv.h>

#include "kw_charset.h"
#include "kw_charset_jp.h"
#include "kw_stage_test.h"

/* iconv over p[0..n) with kw_charset's rules, into out (3 n + 16). */
static size_t ref_convert(const char *cs, const unsigned char *p, size_t n, char *out)
{
	iconv_t cd = iconv_open("UTF-8", cs);
	assert_true(cd != (iconv_t)-1);
	char *in = (char *)p, *o = out;
	size_t il = n, ol = 3 * n + 16;
	while (il > 0) {
		if (iconv(cd, &in, &il, &o, &ol) != (size_t)-1)
			break;
		assert_true(errno == EILSEQ || errno == EINVAL);
		memcpy(o, "\xef\xbf\xbd", 3);
		o += 3;
		ol -= 3;
		if (errno == EINVAL)
			break;
		in++;
		il--;
	}
	iconv_close(cd);
	return (size_t)(o - out);
}

/* kw_charset with the HTTP label over p[0..n) in writes of at most step
 * bytes (0: whole); the output in out. */
static void run_charset(const char *label, const char *want_name, const unsigned char *p, size_t n,
                        size_t step, struct kwbuf *out)
{
	memset(out, 0, sizeof(*out));
	struct kw_charset *c = kw_charset_new(label, strlen(label), 0, kwbuf_sink(out));
	for (size_t i = 0; i < n;) {
		size_t k = step == 0 || n - i < step ? n - i : step;
		assert_int_equal(kw_charset_write(c, (const char *)p + i, k), 0);
		i += k;
	}
	assert_int_equal(kw_charset_finish(c), 0);
	assert_string_equal(kw_charset_name(c), want_name);
	kw_charset_free(c);
}

/* The text starts with an ASCII byte, so that a BOM is never read. */
static void compare(const char *label, const char *cs, const unsigned char *p, size_t n,
                    size_t step)
{
	char *want = malloc(3 * n + 16);
	assert_non_null(want);
	size_t wl = ref_convert(cs, p, n, want);
	struct kwbuf got;
	run_charset(label, cs, p, n, step, &got);
	if (got.len != wl || memcmp(got.p, want, wl) != 0) {
		fprintf(stderr, "%s differs from iconv on", cs);
		for (size_t i = 0; i < n && i < 16; i++)
			fprintf(stderr, " %02x", p[i]);
		fprintf(stderr, "\n");
	}
	kw_expect_same(&got, want, wl, cs);
	kwbuf_free(&got);
	free(want);
}

static void test_tables_built(void **state)
{
	(void)state;
	/* glibc's converters fit the tables; were they not, iconv is used. */
	assert_non_null(kw_jp_table("CP932"));
	assert_non_null(kw_jp_table("EUC-JP-MS"));
	assert_null(kw_jp_table("UTF-8"));
	assert_ptr_equal(kw_jp_table("CP932"), kw_jp_table("CP932"));
}

static void every_short(const char *label, const char *cs)
{
	for (unsigned a = 0; a < 256; a++) {
		unsigned char one[2] = {'x', (unsigned char)a};
		compare(label, cs, one, 2, 0);
		for (unsigned b = 0; b < 256; b++) {
			unsigned char two[3] = {'x', (unsigned char)a, (unsigned char)b};
			compare(label, cs, two, 3, 0);
		}
	}
}

static void test_cp932_every_short(void **state)
{
	(void)state;
	every_short("shift_jis", "CP932");
}

static void test_eucjp_every_short(void **state)
{
	(void)state;
	every_short("euc-jp", "EUC-JP-MS");
}

static void test_eucjp_every_jisx0212(void **state)
{
	(void)state;
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			unsigned char three[5] = {'x', 0x8f, (unsigned char)a, (unsigned char)b,
			                          'y'};
			compare("euc-jp", "EUC-JP-MS", three, 4, 0);
			compare("euc-jp", "EUC-JP-MS", three, 5, 0);
		}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 32);
}

/* Random bytes, mostly in the ranges of lead and trail bytes. */
static void random_text(unsigned char *p, size_t n, int euc)
{
	p[0] = 'x';
	for (size_t i = 1; i < n; i++) {
		unsigned r = rnd() % 100;
		if (r < 10)
			p[i] = (unsigned char)(rnd() % 256);
		else if (r < 25)
			p[i] = (unsigned char)(0x20 + rnd() % 0x60);
		else if (r < 30)
			p[i] = euc ? (rnd() % 2 ? 0x8f : 0x8e)
			           : (unsigned char)(0xa1 + rnd() % 0x3f);
		else if (euc)
			p[i] = (unsigned char)(0xa1 + rnd() % 0x5e);
		else
			p[i] = (unsigned char)(r % 2 ? 0x81 + rnd() % 0x1f : 0x40 + rnd() % 0xbd);
	}
}

static void random_long(const char *label, const char *cs, int euc)
{
	size_t n = 200000;
	unsigned char *p = malloc(n);
	assert_non_null(p);
	for (int k = 0; k < 4; k++) {
		random_text(p, n, euc);
		compare(label, cs, p, n, 0);
		compare(label, cs, p, n, 1 + rnd() % 7);
		compare(label, cs, p, n, 60000 + rnd() % 10000);
	}
	free(p);
}

static void test_cp932_random(void **state)
{
	(void)state;
	random_long("shift_jis", "CP932", 0);
}

static void test_eucjp_random(void **state)
{
	(void)state;
	random_long("euc-jp", "EUC-JP-MS", 1);
}

struct ctx {
	const char *label;
};

static void *make(const void *arg, struct kw_sink out)
{
	const struct ctx *c = arg;
	return kw_charset_new(c->label, strlen(c->label), 0, out);
}

static int write_(void *st, const char *p, size_t n)
{
	return kw_charset_write(st, p, n);
}

static int finish(void *st)
{
	return kw_charset_finish(st);
}

static void free_(void *st)
{
	kw_charset_free(st);
}

static const struct kw_stage_ops ops = {make, write_, finish, free_};

static void test_random_splits(void **state)
{
	(void)state;
	unsigned char p[300];
	char want[3 * sizeof(p) + 16];
	for (int euc = 0; euc < 2; euc++)
		for (int k = 0; k < 4; k++) {
			random_text(p, sizeof(p), euc);
			const char *cs = euc ? "EUC-JP-MS" : "CP932";
			size_t wl = ref_convert(cs, p, sizeof(p), want);
			struct ctx c = {euc ? "euc-jp" : "shift_jis"};
			kw_check_splits(&ops, &c, (const char *)p, sizeof(p), 0, want, wl);
		}
}

/* ISO-2022-JP's JIS X 0208 codes go through the CP932 table as Shift_JIS:
 * every row and cell, the same as iconv's CP932 on those codes. */
static void test_iso2022jp_rows(void **state)
{
	(void)state;
	for (unsigned j1 = 0x21; j1 <= 0x7e; j1++) {
		unsigned char in[8 + 2 * 94 + 3], sjis[2 * 94];
		size_t n = 0;
		memcpy(in, "x\x1b$B", 4);
		n = 4;
		for (unsigned j2 = 0x21; j2 <= 0x7e; j2++) {
			in[n++] = (unsigned char)j1;
			in[n++] = (unsigned char)j2;
			size_t s = 2 * (j2 - 0x21);
			sjis[s] = (unsigned char)(((j1 + 1) >> 1) + (j1 <= 0x5e ? 0x70 : 0xb0));
			sjis[s + 1] =
			        (unsigned char)(j2 + ((j1 & 1) ? (j2 < 0x60 ? 0x1f : 0x20) : 0x7e));
		}
		memcpy(in + n, "\x1b(B", 3);
		n += 3;
		char want[3 * sizeof(sjis) + 32];
		want[0] = 'x';
		size_t wl = 1 + ref_convert("CP932", sjis, sizeof(sjis), want + 1);
		struct kwbuf got;
		run_charset("iso-2022-jp", "ISO-2022-JP", in, n, 0, &got);
		kw_expect_same(&got, want, wl, "ISO-2022-JP");
		kwbuf_free(&got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tables_built),
	        cmocka_unit_test(test_cp932_every_short),
	        cmocka_unit_test(test_eucjp_every_short),
	        cmocka_unit_test(test_eucjp_every_jisx0212),
	        cmocka_unit_test(test_cp932_random),
	        cmocka_unit_test(test_eucjp_random),
	        cmocka_unit_test(test_random_splits),
	        cmocka_unit_test(test_iso2022jp_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
