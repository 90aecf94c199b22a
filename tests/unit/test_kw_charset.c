/*
 * Unit tests for modules/kw_charset.c (and kw_charset_sniff.c), any
 * charset to UTF-8: each case is fed whole, split in two at every byte and
 * one byte at a time (kw_stage_test.h), with the same output and the same
 * charset decided every time. ひみつ/秘密 in UTF-8, CP932 (with the NEC
 * and IBM extensions that Shift_JIS proper lacks: ①, ～ as U+FF5E, ⅰ),
 * EUC-JP, ISO-2022-JP (escapes split across writes, half-width katakana,
 * NEC row 13, bad escapes), UTF-16 with a BOM; the order of BOM, HTTP label
 * and <meta>; detection of each Japanese charset on a short sentence with
 * no label at all, and after more than a kilobyte of ASCII; invalid bytes
 * to U+FFFD; the Windows-1252 table against glibc's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <iconv.h>

#include "kw_charset.h"
#include "kw_stage_test.h"

#define FFFD "\xef\xbf\xbd"

struct ctx {
	const char *label; /* HTTP charset, or NULL */
	int html;
};

static void *make(const void *arg, struct kw_sink out)
{
	const struct ctx *c = arg;
	return kw_charset_new(c->label, c->label ? strlen(c->label) : 0, c->html, out);
}

static int write_(void *st, const char *p, size_t n)
{
	return kw_charset_write(st, p, n);
}

static int finish(void *st)
{
	return kw_charset_finish(st);
}

/* The charset every run must decide (NULL: any). */
static const char *expect_name;

static void free_(void *st)
{
	const char *name = kw_charset_name(st);
	assert_non_null(name);
	if (expect_name != NULL)
		assert_string_equal(name, expect_name);
	kw_charset_free(st);
}

static const struct kw_stage_ops ops = {make, write_, finish, free_};

static void check_n(const char *label, int html, const char *in, size_t n, const char *want,
                    size_t want_len, const char *want_name)
{
	struct ctx c = {label, html};
	expect_name = want_name;
	kw_check_splits(&ops, &c, in, n, 0, want, want_len);
}

static void check(const char *label, int html, const char *in, const char *want,
                  const char *want_name)
{
	check_n(label, html, in, strlen(in), want, strlen(want), want_name);
}

/* ひみつ/秘密①～ⅰ */
#define JP_UTF8  "\xe3\x81\xb2\xe3\x81\xbf\xe3\x81\xa4/\xe7\xa7\x98\xe5\xaf\x86"
#define JP_UTF8X JP_UTF8 "\xe2\x91\xa0\xef\xbd\x9e\xe2\x85\xb0"
#define JP_CP932 "\x82\xd0\x82\xdd\x82\xc2/\x94\xe9\x96\xa7\x87\x40\x81\x60\xfa\x40"
#define JP_EUC   "\xa4\xd2\xa4\xdf\xa4\xc4/\xc8\xeb\xcc\xa9\xad\xa1\xa1\xc1\x8f\xf3\xf3"
#define JP_JIS   "\x1b$B$R$_$D\x1b(B/\x1b$BHkL)-!\x1b(B"
#define JP_JISX  JP_UTF8 "\xe2\x91\xa0"

/* この秘密の会議は明日の午後三時から始まります。 */
#define S_UTF8                                                                                     \
	"\xe3\x81\x93\xe3\x81\xae\xe7\xa7\x98\xe5\xaf\x86\xe3\x81\xae\xe4\xbc\x9a\xe8\xad\xb0\xe3" \
	"\x81\xaf\xe6\x98\x8e\xe6\x97\xa5\xe3\x81\xae\xe5\x8d\x88\xe5\xbe\x8c\xe4\xb8\x89\xe6\x99" \
	"\x82\xe3\x81\x8b\xe3\x82\x89\xe5\xa7\x8b\xe3\x81\xbe\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x99" \
	"\xe3\x80\x82"
#define S_CP932                                                                                    \
	"\x82\xb1\x82\xcc\x94\xe9\x96\xa7\x82\xcc\x89\xef\x8b\x63\x82\xcd\x96\xbe\x93\xfa\x82\xcc" \
	"\x8c\xdf\x8c\xe3\x8e\x4f\x8e\x9e\x82\xa9\x82\xe7\x8e\x6e\x82\xdc\x82\xe8\x82\xdc\x82\xb7" \
	"\x81\x42"
#define S_EUC                                                                                      \
	"\xa4\xb3\xa4\xce\xc8\xeb\xcc\xa9\xa4\xce\xb2\xf1\xb5\xc4\xa4\xcf\xcc\xc0\xc6\xfc\xa4\xce" \
	"\xb8\xe1\xb8\xe5\xbb\xb0\xbb\xfe\xa4\xab\xa4\xe9\xbb\xcf\xa4\xde\xa4\xea\xa4\xde\xa4\xb9" \
	"\xa1\xa3"
#define S_JIS                                                                                      \
	"\x1b\x24\x42\x24\x33\x24\x4e\x48\x6b\x4c\x29\x24\x4e\x32\x71\x35\x44\x24\x4f\x4c\x40\x46" \
	"\x7c\x24\x4e\x38\x61\x38\x65\x3b\x30\x3b\x7e\x24\x2b\x24\x69\x3b\x4f\x24\x5e\x24\x6a\x24" \
	"\x5e\x24\x39\x21\x23\x1b\x28\x42"

static void test_utf8(void **state)
{
	(void)state;
	check("utf-8", 0, JP_UTF8X, JP_UTF8X, "UTF-8");
	check("UTF8", 1, "<p>" JP_UTF8 "</p>", "<p>" JP_UTF8 "</p>", "UTF-8");
	check("\"utf-8\"", 0, "abc", "abc", "UTF-8");
	check("utf-8", 0, "", "", "UTF-8");
	/* 4-byte sequences */
	check("utf-8", 0, "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
	      "UTF-8");
}

static void test_utf8_invalid(void **state)
{
	(void)state;
	check("utf-8", 0,
	      "a\xff"
	      "b",
	      "a" FFFD "b", "UTF-8");
	check("utf-8", 0, "\xe3\x81", FFFD, "UTF-8");
	check("utf-8", 0,
	      "\xe3\x81"
	      "A",
	      FFFD "A", "UTF-8");
	check("utf-8", 0, "\xc0\xaf", FFFD FFFD, "UTF-8");
	check("utf-8", 0, "\xed\xa0\x80", FFFD FFFD FFFD, "UTF-8");
	check("utf-8", 0, "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD, "UTF-8");
	check("utf-8", 0,
	      "\xf0\x9f\x98"
	      "\xe7\xa7\x98",
	      FFFD "\xe7\xa7\x98", "UTF-8");
	check("utf-8", 0, "\x80\xbf\xfe", FFFD FFFD FFFD, "UTF-8");
	check("utf-8", 0, "\xe7\xa7\x98\xe7", "\xe7\xa7\x98" FFFD, "UTF-8");
}

static void test_cp932(void **state)
{
	(void)state;
	const char *labels[] = {"shift_jis", "Shift_JIS",   "sjis",  "x-sjis",
	                        "ms_kanji",  "windows-31j", "cp932", "csShiftJIS"};
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		check(labels[i], 0, JP_CP932, JP_UTF8X, "CP932");
	/* invalid: a byte CP932 lacks, a lead without its trail */
	check("shift_jis", 0, "\x82\xa0\xff\x82\xa2", "\xe3\x81\x82" FFFD "\xe3\x81\x84", "CP932");
	check("shift_jis", 0, "\x82\xa0\x82", "\xe3\x81\x82" FFFD, "CP932");
	check("shift_jis", 0, "\x82 x", FFFD " x", "CP932");
	/* half-width katakana */
	check("shift_jis", 0, "\xb1\xb2", "\xef\xbd\xb1\xef\xbd\xb2", "CP932");
}

static void test_euc_jp(void **state)
{
	(void)state;
	check("euc-jp", 0, JP_EUC, JP_UTF8X, "EUC-JP-MS");
	check("x-euc-jp", 0, JP_EUC, JP_UTF8X, "EUC-JP-MS");
	check("EUC-JP", 0,
	      "\x8e\xb1"
	      "a\xa4",
	      "\xef\xbd\xb1"
	      "a" FFFD,
	      "EUC-JP-MS");
	check("EUC-JP", 0, "\xa4\x41", FFFD "A", "EUC-JP-MS");
}

static void test_iso2022jp(void **state)
{
	(void)state;
	check("iso-2022-jp", 0, JP_JIS, JP_JISX, "ISO-2022-JP");
	/* ESC $ @, ESC ( J, half-width katakana by ESC ( I and by SO/SI */
	check("ISO-2022-JP", 0,
	      "\x1b$@$R\x1b(Jx\x1b(I1\x1b(B!\x0e"
	      "2\x0f"
	      "y",
	      "\xe3\x81\xb2x\xef\xbd\xb1!\xef\xbd\xb2y", "ISO-2022-JP");
	/* NEC-selected IBM extension (row 89) as CP50221 sends it */
	check("iso-2022-jp", 0, "\x1b$By!\x1b(B", "\xe7\xba\x8a", "ISO-2022-JP");
	/* newlines inside the two-byte set, as some mailers do */
	check("iso-2022-jp", 0, "\x1b$B$R\n$_\x1b(B", "\xe3\x81\xb2\n\xe3\x81\xbf", "ISO-2022-JP");
	/* bad: an unknown escape, an 8-bit byte, half a character, JIS X 0212 */
	check("iso-2022-jp", 0, "a\x1bxb", "a" FFFD "xb", "ISO-2022-JP");
	check("iso-2022-jp", 0, "a\x1b$x", "a" FFFD "$x", "ISO-2022-JP");
	check("iso-2022-jp", 0,
	      "a\x82"
	      "b",
	      "a" FFFD "b", "ISO-2022-JP");
	check("iso-2022-jp", 0, "\x1b$B$R$", "\xe3\x81\xb2" FFFD, "ISO-2022-JP");
	check("iso-2022-jp", 0, "\x1b$B$R$\x1b(Bz", "\xe3\x81\xb2" FFFD "z", "ISO-2022-JP");
	check("iso-2022-jp", 0, "\x1b$(D\"/\x1b(Bz", FFFD "z", "ISO-2022-JP");
	check("iso-2022-jp", 0, "a\x1b$", "a" FFFD "$", "ISO-2022-JP");
	check("iso-2022-jp", 0, "a\x1b\x1b$B$R", "a" FFFD "\xe3\x81\xb2", "ISO-2022-JP");
}

static void test_utf16_bom(void **state)
{
	(void)state;
	check_n(NULL, 1, "\xff\xfe\x72\x30\x7f\x30\x64\x30", 8,
	        "\xe3\x81\xb2\xe3\x81\xbf\xe3\x81\xa4", 9, "UTF-16LE");
	check_n(NULL, 0, "\xfe\xff\x30\x72\x79\xd8\x00\x41", 8,
	        "\xe3\x81\xb2\xe7\xa7\x98"
	        "A",
	        7, "UTF-16BE");
	/* the BOM wins over the label; an odd byte at the end is U+FFFD */
	check_n("shift_jis", 0, "\xfe\xff\x30\x72\x30", 5, "\xe3\x81\xb2" FFFD, 6, "UTF-16BE");
	/* a lone surrogate */
	check_n("utf-16le", 0,
	        "\x00\xd8"
	        "A\x00",
	        4, FFFD "A", 4, "UTF-16LE");
	check("utf-8", 0,
	      "\xef\xbb\xbf"
	      "abc",
	      "abc", "UTF-8");
	check("shift_jis", 0, "\xef\xbb\xbf" JP_UTF8, JP_UTF8, "UTF-8");
	check(NULL, 0, "\xef\xbb", "ï»", "WINDOWS-1252");
}

static void test_meta(void **state)
{
	(void)state;
	check(NULL, 1, "<html><head><meta charset=\"Shift_JIS\"></head>" JP_CP932,
	      "<html><head><meta charset=\"Shift_JIS\"></head>" JP_UTF8X, "CP932");
	check(NULL, 1,
	      "<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=euc-jp\">" JP_EUC,
	      "<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=euc-jp\">" JP_UTF8X,
	      "EUC-JP-MS");
	check(NULL, 1, "<meta charset=iso-2022-jp>" JP_JIS, "<meta charset=iso-2022-jp>" JP_JISX,
	      "ISO-2022-JP");
	/* a meta in a comment does not count; an unknown one is skipped */
	check(NULL, 1,
	      "<!-- <meta charset=euc-jp> --><meta charset=bogus><meta charset=sjis>\x82\xa0",
	      "<!-- <meta charset=euc-jp> --><meta charset=bogus><meta charset=sjis>\xe3\x81\x82",
	      "CP932");
	/* <meta> saying UTF-16 means UTF-8 */
	check(NULL, 1, "<meta charset=utf-16>\xe3\x81\x82", "<meta charset=utf-16>\xe3\x81\x82",
	      "UTF-8");
	/* the HTTP label wins over <meta>; without sniff_html, no <meta> */
	check("euc-jp", 1, "<meta charset=shift_jis>" JP_EUC, "<meta charset=shift_jis>" JP_UTF8X,
	      "EUC-JP-MS");
	check(NULL, 0, "<meta charset=euc-jp>" S_CP932, "<meta charset=euc-jp>" S_UTF8, "CP932");
	/* a meta past the first KiB is not looked at */
	char in[1400], want[1400];
	memset(in, ' ', 1100);
	strcpy(in + 1100, "<meta charset=euc-jp>" S_CP932);
	memset(want, ' ', 1100);
	strcpy(want + 1100, "<meta charset=euc-jp>" S_UTF8);
	check(NULL, 1, in, want, "CP932");
}

static void test_detect(void **state)
{
	(void)state;
	check(NULL, 0, S_UTF8, S_UTF8, "UTF-8");
	check(NULL, 0, S_CP932, S_UTF8, "CP932");
	check(NULL, 0, S_EUC, S_UTF8, "EUC-JP-MS");
	check(NULL, 0, S_JIS, S_UTF8, "ISO-2022-JP");
	check(NULL, 1, "<p>" S_CP932 "</p>", "<p>" S_UTF8 "</p>", "CP932");
	check(NULL, 1, "<p>" S_EUC "</p>", "<p>" S_UTF8 "</p>", "EUC-JP-MS");
	/* kanji only */
	check(NULL, 0, "\x94\xe9\x96\xa7\x89\xef\x8b\x63", "秘密会議", "CP932");
	check(NULL, 0, "\xc8\xeb\xcc\xa9\xb2\xf1\xb5\xc4", "秘密会議", "EUC-JP-MS");
	/* Latin-1 */
	check(NULL, 0,
	      "caf\xe9 cr\xe8me br\xfbl\xe9"
	      "e, \xc4pfel, na\xefve \x80"
	      "5",
	      "café crème brûlée, Äpfel, naïve €5", "WINDOWS-1252");
	check(NULL, 0, "\xc9l\xe9gante \xe9l\xe9phant", "Élégante éléphant", "WINDOWS-1252");
	/* ASCII only */
	check(NULL, 1, "<p>hello</p>", "<p>hello</p>", "UTF-8");
	check(NULL, 0, "", "", "UTF-8");
	/* ESC that is not ISO-2022-JP's */
	check(NULL, 0, "\x1b[31mred\x1b[0m", "\x1b[31mred\x1b[0m", "UTF-8");
}

/* Over a kilobyte of ASCII before the first Japanese byte. */
static void test_detect_late(void **state)
{
	(void)state;
	size_t pad = 3000;
	const char *cases[][3] = {
	        {S_CP932, S_UTF8, "CP932"},
	        {S_EUC, S_UTF8, "EUC-JP-MS"},
	        {S_JIS, S_UTF8, "ISO-2022-JP"},
	        {S_UTF8, S_UTF8, "UTF-8"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		size_t l1 = strlen(cases[k][0]), l2 = strlen(cases[k][1]);
		char *in = malloc(pad + l1 + 1), *want = malloc(pad + l2 + 1);
		assert_non_null(in);
		assert_non_null(want);
		for (size_t i = 0; i < pad; i++)
			in[i] = want[i] = (char)(i % 64 == 63 ? '\n' : 'a' + i % 26);
		memcpy(in + pad, cases[k][0], l1 + 1);
		memcpy(want + pad, cases[k][1], l2 + 1);
		check(NULL, 1, in, want, cases[k][2]);
		free(in);
		free(want);
	}
}

static void test_labels(void **state)
{
	(void)state;
	check("latin1", 0, "\xe9\x81\x9d", "é\xc2\x81\xc2\x9d", "WINDOWS-1252");
	check("us-ascii", 0, "\x93q\x94", "“q”", "WINDOWS-1252");
	check("ISO-8859-1", 0, "\xa0\xff", "\xc2\xa0ÿ", "WINDOWS-1252");
	check("koi8-r", 0, "\xf0\xd2\xc9", "При", "KOI8-R");
	check(" 'iso-8859-5' ", 0, "\xbf", "П", "ISO-8859-5");
	/* unknown or unsafe labels are ignored: detection decides */
	check("no-such-charset", 0, S_EUC, S_UTF8, "EUC-JP-MS");
	check("UTF-8//TRANSLIT", 0, S_CP932, S_UTF8, "CP932");
	check("", 0, S_CP932, S_UTF8, "CP932");
}

/* Our Windows-1252 table agrees with glibc where glibc has the byte. */
static void test_cp1252_table(void **state)
{
	(void)state;
	iconv_t cd = iconv_open("UTF-32LE", "WINDOWS-1252");
	assert_true(cd != (iconv_t)-1);
	int missing = 0;
	for (unsigned b = 0; b < 256; b++) {
		char in = (char)b, *ip = &in;
		uint32_t cp;
		char *op = (char *)&cp;
		size_t il = 1, ol = 4;
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
			missing++;
			assert_int_equal(kw_charset_cp1252((unsigned char)b), b);
			continue;
		}
		assert_int_equal(kw_charset_cp1252((unsigned char)b), cp);
	}
	assert_int_equal(missing, 5);
	iconv_close(cd);
}

static void test_name_while_sniffing(void **state)
{
	(void)state;
	struct kwbuf out = {0};
	struct kw_charset *c = kw_charset_new(NULL, 0, 1, kwbuf_sink(&out));
	assert_int_equal(kw_charset_write(c, "<p>", 3), 0);
	assert_null(kw_charset_name(c));
	assert_int_equal(out.len, 0); /* held while deciding */
	assert_int_equal(kw_charset_finish(c), 0);
	assert_string_equal(kw_charset_name(c), "UTF-8");
	assert_string_equal(out.p, "<p>");
	kw_charset_free(c);
	kwbuf_free(&out);
	/* a label decides at the first byte that is not a BOM's */
	c = kw_charset_new("shift_jis", 9, 1, kwbuf_sink(&out));
	assert_int_equal(kw_charset_write(c, "a", 1), 0);
	assert_string_equal(kw_charset_name(c), "CP932");
	assert_int_equal(out.len, 1);
	kw_charset_free(c);
	kwbuf_free(&out);
}

/* Large inputs go through with few writes, all of them, in order. */
static void test_large(void **state)
{
	(void)state;
	const char *labels[] = {"utf-8", "shift_jis", "euc-jp", "iso-2022-jp", "latin1"};
	const char *ins[] = {S_UTF8, S_CP932, S_EUC, S_JIS, "caf\xe9 "};
	const char *outs[] = {S_UTF8, S_UTF8, S_UTF8, S_UTF8, "café "};
	for (size_t k = 0; k < 5; k++) {
		size_t l1 = strlen(ins[k]), l2 = strlen(outs[k]), reps = 20000;
		char *in = malloc(l1 * reps);
		assert_non_null(in);
		for (size_t r = 0; r < reps; r++)
			memcpy(in + r * l1, ins[k], l1);
		struct kwbuf out = {0};
		struct kw_charset *c =
		        kw_charset_new(labels[k], strlen(labels[k]), 0, kwbuf_sink(&out));
		for (size_t at = 0; at < l1 * reps; at += 65536) {
			size_t n = l1 * reps - at < 65536 ? l1 * reps - at : 65536;
			assert_int_equal(kw_charset_write(c, in + at, n), 0);
		}
		assert_int_equal(kw_charset_finish(c), 0);
		kw_charset_free(c);
		assert_int_equal(out.len, l2 * reps);
		for (size_t r = 0; r < reps; r++)
			assert_memory_equal(out.p + r * l2, outs[k], l2);
		assert_true(out.writes < out.len / 4096 + 20);
		kwbuf_free(&out);
		free(in);
	}
}

/* Is p[0..n) valid UTF-8 (no surrogates, nothing past U+10FFFF)? */
static int valid_utf8(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char b = p[i];
		size_t len = b < 0x80   ? 1
		             : b < 0xc2 ? 0
		             : b < 0xe0 ? 2
		             : b < 0xf0 ? 3
		             : b < 0xf5 ? 4
		                        : 0;
		if (len == 0 || i + len > n)
			return 0;
		uint32_t cp = len == 1 ? b : b & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Random bytes in every charset: the output is valid UTF-8, and the same
 * in three random pieces as whole. */
static void test_random(void **state)
{
	(void)state;
	const char *labels[] = {"utf-8",    "shift_jis", "euc-jp", "iso-2022-jp", "utf-16le",
	                        "utf-16be", "latin1",    "koi8-r", NULL};
	/* Bytes that mean something somewhere, more often than others. */
	static const unsigned char spice[] = {0x1b, '$',  '(',  'B',  'I',  'J',  '@',  0x0e,
	                                      0x0f, 0x80, 0x8e, 0x8f, 0xa1, 0xe3, 0xed, 0xef,
	                                      0xf0, 0xf4, 0xff, 0xfe, 0xd8, 0xdc, '<',  '>'};
	uint64_t seed = 12345;
	expect_name = NULL;
	for (size_t l = 0; l < sizeof(labels) / sizeof(labels[0]); l++) {
		for (int round = 0; round < 300; round++) {
			unsigned char in[300];
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			size_t n = (seed >> 33) % sizeof(in);
			for (size_t i = 0; i < n; i++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				unsigned r = (unsigned)(seed >> 33);
				in[i] = r % 3 ? (unsigned char)(r >> 8)
				              : spice[(r >> 8) % sizeof(spice)];
			}
			struct ctx c = {labels[l], 1};
			struct kwbuf whole, parts;
			assert_int_equal(
			        kw_run_pieces(&ops, &c, (const char *)in, n, NULL, 0, &whole), 0);
			size_t cuts[2] = {n / 3, n / 3 + (seed >> 40) % (n - n / 3 + 1)};
			assert_int_equal(
			        kw_run_pieces(&ops, &c, (const char *)in, n, cuts, 2, &parts), 0);
			kw_expect_same(&parts, whole.p, whole.len, "random");
			assert_true(valid_utf8((const unsigned char *)whole.p, whole.len));
			kwbuf_free(&whole);
			kwbuf_free(&parts);
		}
	}
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
	struct kw_charset *c = kw_charset_new("utf-8", 5, 0, (struct kw_sink){refuse, &calls});
	assert_int_equal(kw_charset_write(c, "abc", 3), -1);
	assert_int_equal(kw_charset_write(c, "abc", 3), -1);
	assert_int_equal(kw_charset_finish(c), -1);
	assert_int_equal(calls, 1);
	kw_charset_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_utf8),         cmocka_unit_test(test_utf8_invalid),
	        cmocka_unit_test(test_cp932),        cmocka_unit_test(test_euc_jp),
	        cmocka_unit_test(test_iso2022jp),    cmocka_unit_test(test_utf16_bom),
	        cmocka_unit_test(test_meta),         cmocka_unit_test(test_detect),
	        cmocka_unit_test(test_detect_late),  cmocka_unit_test(test_labels),
	        cmocka_unit_test(test_cp1252_table), cmocka_unit_test(test_name_while_sniffing),
	        cmocka_unit_test(test_large),        cmocka_unit_test(test_random),
	        cmocka_unit_test(test_sink_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
