/*
 * Unit tests for kw_normalize.c: the forms a word can take (width, script,
 * case, zero-width characters, decomposed voiced marks, compatibility
 * characters) meet in one; white space collapses; invalid UTF-8 becomes
 * U+FFFD. Every input is also normalized split in two at every byte, and
 * one byte per write, each piece in its own heap buffer of exact size (so
 * ASan sees any read past it), and must give the same output as
 * kw_normalize_string. Random strings over an alphabet of troublesome code
 * points are checked against utf8proc_map itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "kw_normalize.h"

struct out {
	char *p;
	size_t n, cap;
	int fail_after; /* fail the write after this many calls; -1: never */
	int calls;
};

static int out_write(void *arg, const char *p, size_t n)
{
	struct out *o = arg;
	assert_true(n > 0);
	if (o->fail_after >= 0 && o->calls++ >= o->fail_after)
		return -1;
	if (o->n + n + 1 > o->cap) {
		o->cap = 2 * (o->n + n + 1);
		o->p = realloc(o->p, o->cap);
		assert_non_null(o->p);
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
	o->p[o->n] = 0;
	return 0;
}

/* Normalizes s[0..len) cut at the given positions (sorted), each piece in
 * a heap buffer of its own; returns the output, malloc'd. */
static char *norm_pieces(const char *s, size_t len, const size_t *cuts, size_t ncuts)
{
	struct out o = {.fail_after = -1};
	o.p = calloc(1, 1);
	o.cap = 1;
	struct kw_norm *n = kw_norm_new((struct kw_sink){.write = out_write, .arg = &o});
	size_t start = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		char *piece = malloc(end - start + 1);
		assert_non_null(piece);
		memcpy(piece, s + start, end - start);
		struct kw_sink sk = kw_norm_sink(n);
		assert_int_equal(kw_sink_write(&sk, piece, end - start), 0);
		free(piece);
		start = end;
	}
	assert_int_equal(kw_norm_finish(n), 0);
	kw_norm_free(n);
	return o.p;
}

/* Checks that every split of s gives what kw_normalize_string gives, and
 * returns that (malloc'd). */
static char *norm_all_splits(const char *s)
{
	size_t len = strlen(s), wlen;
	char *whole = kw_normalize_string(s, len, &wlen);
	assert_int_equal(strlen(whole), wlen);
	for (size_t i = 0; i <= len; i++) {
		char *got = norm_pieces(s, len, &i, 1);
		if (strcmp(got, whole) != 0)
			fail_msg("split at %zu of \"%s\": \"%s\" != \"%s\"", i, s, got, whole);
		free(got);
	}
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	char *bytewise = norm_pieces(s, len, cuts, len ? len - 1 : 0);
	assert_string_equal(bytewise, whole);
	free(bytewise);
	free(cuts);
	return whole;
}

static void check(const char *in, const char *want)
{
	char *got = norm_all_splits(in);
	if (strcmp(got, want) != 0)
		fail_msg("\"%s\" -> \"%s\", want \"%s\"", in, got, want);
	free(got);
}

static void test_himitsu_variants(void **state)
{
	(void)state;
	check("ヒミツ", "ヒミツ");
	check("ひみつ", "ヒミツ");
	check("ひミツ", "ヒミツ");
	check("ﾋﾐﾂ", "ヒミツ");
	check("ﾋﾐﾂ", "ヒミツ");
	/* Zero-width space, word joiner, BOM, soft hyphen. */
	check("ヒ\u200Bミ\u2060ツ", "ヒミツ");
	check("\uFEFFひ\u00ADみ\u200Bつ\u200B", "ヒミツ");
	check("秘\u200B密", "秘密");
	/* A variation selector goes too. */
	check("秘\uFE00密", "秘密");
	/* Hiragana iteration marks, small ゕゖ, the last folded code point. */
	check("ゝゞゕゖ", "ヽヾヵヶ");
	check("ゔ", "ヴ");
}

static void test_width_and_case(void **state)
{
	(void)state;
	check("ＨＩＭＩＴＵ", "himitu");
	check("Top SECRET", "top secret");
	check("ＣｏｎｆｉｄｅｎｔｉａＬ", "confidential");
	check("Straße", "strasse");
	check("ﬁle", "file");
	check("ÀÉÎ", "àéî");
	/* Half-width katakana with voiced and semi-voiced marks. */
	check("ﾊﾞ", "バ");
	check("ﾋﾟ", "ピ");
	check("ｶﾞｲｺｳ", "ガイコウ");
	check("ﾊﾟｽﾜｰﾄﾞ", "パスワード");
}

static void test_decomposed_marks(void **state)
{
	(void)state;
	check("は\u309A", "パ");         /* ぱ decomposed */
	check("か\u3099", "ガ");         /* が decomposed */
	check("ひ\u309Aみつ", "ピミツ"); /* the mark composes across a split */
	check("e\u0301", "é");
	/* An ignorable between a letter and its mark: removed first. */
	check("e\u200B\u0301", "é");
	check("か\u200B\u3099", "ガ");
	/* Marks in non-canonical order are reordered (ccc 220 before 230). */
	check("a\u0301\u0323", "\u1EA1\u0301");
	/* わ has no voiced form in hiragana; folded first, it composes as ヷ. */
	check("わ\u3099", "ヷ");
	/* Hangul jamo compose into a syllable. */
	check("\u1100\u1161\u11A8", "각");
	/* A mark with nothing before it stays. */
	check("\u3099か", "\u3099カ");
}

static void test_compat_forms(void **state)
{
	(void)state;
	/* What NFKC gives: parenthesized ideograph and circled digit. */
	check("㈱", "(株)");
	check("①②", "12");
	check("㌔", "キロ");
	check("½", "1⁄2");
	check("™", "tm");
	check("㍻", "平成");
	/* Ideographic space and no-break space are spaces. */
	check("秘\u3000密", "秘 密");
}

static void test_whitespace(void **state)
{
	(void)state;
	check("a \t\n\r  b", "a b");
	check("  a  ", " a ");
	check("a\u3000\u00A0 \u2028b", "a b");
	check("a\x01\x7f\x1f b", "a b");
	check("\xc2\x85x", " x"); /* NEL */
	check("", "");
	check("\n", " ");
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	check("a\xff"
	      "b",
	      "a\uFFFDb");
	check("\xe3\x81x", "\uFFFDx");               /* truncated, then ASCII */
	check("x\xe3\x81", "x\uFFFD");               /* truncated at the end */
	check("\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"); /* a surrogate */
	check("\xc0\x80", "\uFFFD\uFFFD");           /* overlong */
	check("\xf0\x9f\x98"
	      "a",
	      "\uFFFDa");
	check("\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"); /* past U+10FFFF */
	check("\x80\xbf", "\uFFFD\uFFFD");
	check("\xf0\x9f\x98\x80", "😀");
	check("\xe3\x81\xb2\xe3", "ヒ\uFFFD");
}

static void test_mixed_every_split(void **state)
{
	(void)state;
	const char *mixed = "社外秘: ﾋﾐﾂ の ＨＩＭＩＴＵ\t\t資料 は\u309Aスワード "
	                    "e\u0301\u0323 ㈱ ① \xff\xe3\x81 Top  SECRET\u200B! 😀 ﾊﾞ";
	char *got = norm_all_splits(mixed);
	assert_string_equal(got, "社外秘: ヒミツ ノ himitu 資料 パスワード "
	                         "\u1EB9\u0301 (株) 1 \uFFFD\uFFFD top secret! 😀 バ");
	free(got);
}

/* Thousands of combining marks: flushed in bounded pieces, the same
 * however the input is split. */
static void test_many_marks(void **state)
{
	(void)state;
	size_t nmarks = 3000;
	char *s = malloc(2 * nmarks + 3);
	assert_non_null(s);
	s[0] = 'e';
	for (size_t i = 0; i < nmarks; i++)
		memcpy(s + 1 + 2 * i, "\xcc\x81", 2); /* U+0301 */
	s[1 + 2 * nmarks] = 'x';
	s[2 + 2 * nmarks] = 0;
	char *got = norm_all_splits(s);
	/* é, then the other marks, then x. */
	assert_int_equal(strlen(got), 2 + 2 * (nmarks - 1) + 1);
	assert_memory_equal(got, "é", 2);
	free(got);
	free(s);
}

static void test_sink_failure(void **state)
{
	(void)state;
	struct out o = {.fail_after = 0};
	struct kw_norm *n = kw_norm_new((struct kw_sink){.write = out_write, .arg = &o});
	assert_int_equal(kw_norm_write(n, "abc", 3), -1);
	assert_int_equal(kw_norm_write(n, "def", 3), -1);
	assert_int_equal(kw_norm_finish(n), -1);
	kw_norm_free(n);
	free(o.p);
	/* Nothing written yet (a mark may follow): no failure before finish. */
	o = (struct out){.fail_after = 0};
	n = kw_norm_new((struct kw_sink){.write = out_write, .arg = &o});
	assert_int_equal(kw_norm_write(n, "a", 1), 0);
	assert_int_equal(kw_norm_finish(n), -1);
	kw_norm_free(n);
	free(o.p);
}

/* The reference: utf8proc_map's NFKC_Casefold of valid UTF-8, kana folded
 * afterwards and white space collapsed. */
static char *reference(const char *s, size_t len)
{
	utf8proc_uint8_t *m;
	utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &m,
	                                  UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
	                                          UTF8PROC_IGNORE | UTF8PROC_STABLE);
	assert_true(r >= 0);
	char *out = malloc((size_t)r + 1);
	assert_non_null(out);
	size_t w = 0;
	bool sp = false;
	for (utf8proc_ssize_t i = 0; i < r;) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(m + i, r - i, &c);
		assert_true(k > 0);
		i += k;
		utf8proc_category_t cat = utf8proc_category(c);
		if (cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
		    cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC) {
			if (!sp)
				out[w++] = ' ';
			sp = true;
			continue;
		}
		sp = false;
		if ((c >= 0x3041 && c <= 0x3096) || (c >= 0x309D && c <= 0x309E))
			c += 0x60;
		w += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)out + w);
	}
	out[w] = 0;
	free(m);
	return out;
}

static void test_against_utf8proc(void **state)
{
	(void)state;
	/* No わゐゑを + U+3099 (composed only in katakana; see above) and
	 * no run of marks near the segment bound. */
	static const int32_t alphabet[] = {
	        'a',    'E',    ' ',    '\t',    '\n',    '1',     0x00C5,  0x0301,  0x0323, 0x0308,
	        0x00DF, 0x0345, 0x03A3, 0x1E9E,  0x212B,  0x2126,  0xFB01,  0x3000,  0x00A0, 0x200B,
	        0x00AD, 0xFEFF, 0x2060, 0xFE0F,  0x3042,  0x304B,  0x304C,  0x306F,  0x3099, 0x309A,
	        0x309B, 0x30AB, 0x30CF, 0xFF76,  0xFF8A,  0xFF9E,  0xFF9F,  0xFF21,  0xFF41, 0x3231,
	        0x2460, 0x3314, 0x79D8, 0x5BC6,  0x1100,  0x1161,  0x11A8,  0xAC00,  0x0CC6, 0x0CD5,
	        0x0CC2, 0x0B47, 0x0B3E, 0x1F600, 0x1D400, 0x110BA, 0x11131, 0x11127, 0xFDFA, 0x2028,
	};
	size_t na = sizeof(alphabet) / sizeof(alphabet[0]);
	unsigned seed = 12345;
	for (int round = 0; round < 3000; round++) {
		char s[200];
		size_t len = 0;
		size_t n = 1 + (seed = seed * 1103515245 + 12345) % 20;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			int32_t c = alphabet[(seed >> 8) % na];
			len += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)s + len);
		}
		s[len] = 0;
		char *want = reference(s, len);
		size_t cuts[3];
		for (int i = 0; i < 3; i++) {
			seed = seed * 1103515245 + 12345;
			cuts[i] = (seed >> 8) % (len + 1);
		}
		/* sorted */
		for (int i = 0; i < 3; i++)
			for (int j = i + 1; j < 3; j++)
				if (cuts[j] < cuts[i]) {
					size_t t = cuts[i];
					cuts[i] = cuts[j];
					cuts[j] = t;
				}
		char *got = norm_pieces(s, len, cuts, 3);
		if (strcmp(got, want) != 0)
			fail_msg("round %d: \"%s\" -> \"%s\", utf8proc \"%s\"", round, s, got,
			         want);
		free(got);
		free(want);
	}
}

/* Long runs of kanji and kana (the fast path for runs of 3-byte code
 * points), past the output block, broken by what leaves it: a voiced mark
 * joining the last kana of a run, an ignorable, a half-width katakana, an
 * ideographic space, ASCII; against utf8proc, whole and in odd writes. */
static void test_long_kana_runs(void **state)
{
	(void)state;
	static const int32_t breaks[] = {0x3099, 0x200B, 0xFF76, 0x3000, 'x', 0x00E9, 0xFF9E};
	size_t cap = 200000, len = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	unsigned seed = 7;
	for (size_t b = 0; len + 4 * 7000 < cap; b++) {
		size_t run = 1 + (seed = seed * 1103515245 + 12345) % 7000;
		for (size_t i = 0; i < run; i++) {
			seed = seed * 1103515245 + 12345;
			int32_t c = (seed >> 8) % 2 ? 0x4E00 + (seed >> 12) % 2000
			                            : 0x3041 + (seed >> 12) % 86;
			len += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)s + len);
		}
		len += (size_t)utf8proc_encode_char(breaks[b % 7], (utf8proc_uint8_t *)s + len);
	}
	char *want = reference(s, len);
	size_t cuts[64];
	for (size_t i = 0; i < 64; i++)
		cuts[i] = (i + 1) * (len / 65) + i % 3;
	char *whole = norm_pieces(s, len, NULL, 0), *got = norm_pieces(s, len, cuts, 64);
	assert_string_equal(whole, want);
	assert_string_equal(got, want);
	free(whole);
	free(got);
	free(want);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_himitsu_variants),  cmocka_unit_test(test_width_and_case),
	        cmocka_unit_test(test_decomposed_marks),  cmocka_unit_test(test_compat_forms),
	        cmocka_unit_test(test_whitespace),        cmocka_unit_test(test_invalid_utf8),
	        cmocka_unit_test(test_mixed_every_split), cmocka_unit_test(test_many_marks),
	        cmocka_unit_test(test_sink_failure),      cmocka_unit_test(test_against_utf8proc),
	        cmocka_unit_test(test_long_kana_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
