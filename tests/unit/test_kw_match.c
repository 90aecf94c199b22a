/*
 * Unit tests for kw_match.c, against a naive count of each string in the
 * text: random string sets and texts over small alphabets that mix ASCII,
 * kana, kanji, 2- and 4-byte characters and stray UTF-8 bytes (so that
 * anchors collide, strings overlap, repeat and have no anchor), each text
 * scanned whole, cut at random, in random short and long writes, and a
 * byte at a time: the same matches in the same order every time; every
 * split of a fixed text; every alignment in memory; strings at the very
 * start and end, longer than the text, and of 1024 bytes across many
 * writes. The random texts go through each of the scalar, AVX2 and
 * AVX-512 filters that the CPU has.
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

#include "kw_match.h"

#define MAX_IDS  64
#define MAX_SEEN 200000

struct seen {
	long count[MAX_IDS];
	unsigned order[MAX_SEEN]; /* ids in the order reported */
	size_t n;
};

static void on_match(void *ctx, unsigned id)
{
	struct seen *s = ctx;
	assert_true(id < MAX_IDS);
	s->count[id]++;
	if (s->n < MAX_SEEN)
		s->order[s->n++] = id;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 33) % n;
}

/* Scans t[0..n) in writes of the sizes that sizes(k) gives (0: all). */
static void scan(const struct kw_match *m, const char *t, size_t n, size_t (*sizes)(size_t),
                 struct seen *out)
{
	memset(out, 0, sizeof(*out));
	struct kw_match_stream *s = kw_match_open(m, on_match, out);
	for (size_t at = 0, k = 0; at < n; k++) {
		size_t w = sizes != NULL ? sizes(k) : n - at;
		if (w > n - at)
			w = n - at;
		kw_match_write(s, t + at, w);
		at += w;
	}
	kw_match_write(s, t, 0);
	kw_match_finish(s);
	kw_match_finish(s);
	kw_match_close(s);
}

static size_t one_byte(size_t k)
{
	(void)k;
	return 1;
}

static size_t short_writes(size_t k)
{
	(void)k;
	return 1 + rnd(300);
}

static size_t long_writes(size_t k)
{
	(void)k;
	return 1 + rnd(70000);
}

static size_t mixed_writes(size_t k)
{
	return k % 3 == 0 ? 1 + rnd(5) : 1 + rnd(40000);
}

static long naive(const char *t, size_t n, const char *s, size_t len)
{
	long c = 0;
	for (size_t i = 0; i + len <= n; i++)
		c += memcmp(t + i, s, len) == 0;
	return c;
}

static void check_all_ways(const struct kw_match *m, const char *t, size_t n, const long *want,
                           size_t nids)
{
	static struct seen whole, other;
	scan(m, t, n, NULL, &whole);
	for (size_t i = 0; i < nids; i++)
		if (whole.count[i] != want[i])
			fail_msg("string %zu: %ld matches, want %ld (text of %zu bytes)", i,
			         whole.count[i], want[i], n);
	size_t (*ways[])(size_t) = {short_writes, long_writes, mixed_writes, one_byte};
	for (size_t w = 0; w < 4; w++) {
		if (w == 3 && n > 3000)
			break;
		scan(m, t, n, ways[w], &other);
		assert_int_equal(other.n, whole.n);
		assert_memory_equal(other.order, whole.order, whole.n * sizeof(whole.order[0]));
	}
}

static const char *const alphabet[] = {
        "a",
        "b",
        "e",
        " ",
        "x",
        "\xe3\x82\xa2",     /* ア */
        "\xe3\x83\x92",     /* ヒ */
        "\xe3\x83\x84",     /* ツ */
        "\xe7\xa7\x98",     /* 秘 */
        "\xe5\xaf\x86",     /* 密 */
        "\xc3\xa9",         /* é */
        "\xf0\x9f\x98\x80", /* a 4-byte character */
        "\xbf",             /* a stray continuation byte */
        "\xe3",             /* a stray lead byte */
};

static size_t gen(char *o, size_t nsym, unsigned nalpha)
{
	size_t n = 0;
	for (size_t i = 0; i < nsym; i++) {
		const char *s = alphabet[rnd(nalpha)];
		size_t l = strlen(s);
		memcpy(o + n, s, l);
		n += l;
	}
	return n;
}

static void test_random_against_naive(void **state)
{
	(void)state;
	static char text[4 * 40000];
	for (int it = 0; it < 400; it++) {
		unsigned nalpha = 2 + rnd(sizeof(alphabet) / sizeof(alphabet[0]) - 1);
		size_t nstr = 1 + rnd(MAX_IDS);
		char *strs[MAX_IDS];
		size_t lens[MAX_IDS];
		unsigned ids[MAX_IDS];
		for (size_t i = 0; i < nstr; i++) {
			strs[i] = malloc(4 * 12);
			assert_non_null(strs[i]);
			/* Now and then one of the same text as the one before. */
			if (i > 0 && rnd(8) == 0) {
				memcpy(strs[i], strs[i - 1], lens[i - 1]);
				lens[i] = lens[i - 1];
			} else
				lens[i] = gen(strs[i], 1 + rnd(it % 2 ? 12 : 4), nalpha);
			ids[i] = (unsigned)i;
		}
		struct kw_match *m = kw_match_build((const char *const *)strs, lens, ids, nstr);
		/* Each code path in turn (those the CPU has). */
		kw_match_limit_isa(m, (enum kw_match_isa)(it % 3));
		size_t n = gen(text, rnd(4) == 0 ? rnd(40000) : rnd(400), nalpha);
		long want[MAX_IDS];
		for (size_t i = 0; i < nstr; i++)
			want[i] = naive(text, n, strs[i], lens[i]);
		check_all_ways(m, text, n, want, nstr);
		kw_match_free(m);
		for (size_t i = 0; i < nstr; i++)
			free(strs[i]);
	}
}

/* Japanese words in a long text of other Japanese: the case the anchors
 * are chosen for. */
static void test_japanese_text(void **state)
{
	(void)state;
	const char *words[] = {"秘密",   "社外秘", "パスワード", "ヒミツ",     "機密情報", "ツ秘",
	                       "ードパ", "密",     "パ",         "top secret", "secret"};
	size_t n = sizeof(words) / sizeof(words[0]);
	size_t lens[16];
	unsigned ids[16];
	for (size_t i = 0; i < n; i++) {
		lens[i] = strlen(words[i]);
		ids[i] = (unsigned)i;
	}
	struct kw_match *m = kw_match_build(words, lens, ids, n);
	static const char *const pieces[] = {"秘", "密", "社", "外",   "パ",     "ス", "ワ",
	                                     "ー", "ド", "ヒ", "ミ",   "ツ",     "機", "情",
	                                     "報", "の", "、", "top ", "secret", "。"};
	static char text[200000];
	size_t len = 0;
	while (len < sizeof(text) - 64) {
		/* Now and then one of the words itself. */
		const char *p = rnd(50) == 0 ? words[rnd((unsigned)n)]
		                             : pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
		memcpy(text + len, p, strlen(p));
		len += strlen(p);
	}
	long want[16];
	for (size_t i = 0; i < n; i++) {
		want[i] = naive(text, len, words[i], lens[i]);
		assert_true(want[i] > 0);
	}
	check_all_ways(m, text, len, want, n);
	kw_match_free(m);
}

/* Every split of a text with strings at its start and end, overlapping,
 * repeated, shorter than an anchor. */
static void test_every_split(void **state)
{
	(void)state;
	const char *strs[] = {"abcd", "ab",       "a",    "bcdab", "abcd",
	                      "d",    "cdabcdab", "秘密", "密",    "\xe3\x83\x84\xe7",
	                      "xyz"};
	size_t n = sizeof(strs) / sizeof(strs[0]);
	size_t lens[16];
	unsigned ids[16];
	for (size_t i = 0; i < n; i++) {
		lens[i] = strlen(strs[i]);
		ids[i] = (unsigned)i;
	}
	struct kw_match *m = kw_match_build(strs, lens, ids, n);
	const char *text = "abcdabcdab ツ秘密 abcd";
	size_t len = strlen(text);
	long want[16];
	for (size_t i = 0; i < n; i++)
		want[i] = naive(text, len, strs[i], lens[i]);
	assert_int_equal(want[0], 3);
	assert_int_equal(want[10], 0);
	static struct seen whole, split;
	scan(m, text, len, NULL, &whole);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(whole.count[i], want[i]);
	for (size_t cut = 0; cut <= len; cut++) {
		memset(&split, 0, sizeof(split));
		struct kw_match_stream *s = kw_match_open(m, on_match, &split);
		kw_match_write(s, text, cut);
		kw_match_write(s, text + cut, len - cut);
		kw_match_finish(s);
		kw_match_close(s);
		assert_int_equal(split.n, whole.n);
		assert_memory_equal(split.order, whole.order, whole.n * sizeof(whole.order[0]));
	}
	/* A string longer than the text, and an empty text. */
	scan(m, "abc", 3, NULL, &whole);
	assert_int_equal(whole.count[6], 0);
	assert_int_equal(whole.count[1], 1);
	scan(m, "", 0, NULL, &whole);
	assert_int_equal(whole.n, 0);
	kw_match_free(m);
}

/* The same text at each of 64 positions past a 64-byte boundary. */
static void test_every_alignment(void **state)
{
	(void)state;
	const char *strs[] = {"@", "`", "ヒミツ", "himi :\xef\xbf\xbdu", "[", "{", "secret"};
	size_t n = sizeof(strs) / sizeof(strs[0]);
	size_t lens[8];
	unsigned ids[8];
	for (size_t i = 0; i < n; i++) {
		lens[i] = strlen(strs[i]);
		ids[i] = (unsigned)i;
	}
	struct kw_match *m = kw_match_build(strs, lens, ids, n);
	static char text[4096];
	size_t len = 0;
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < n; i++) {
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%.*s%s",
			                        (int)(37 * k + i % 5),
			                        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
			                        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
			                        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
			                        "zzzzzzzzzzzzzzzzzz",
			                        strs[i]);
		}
	assert_true(len < sizeof(text));
	char *buf = aligned_alloc(64, sizeof(text) + 64);
	assert_non_null(buf);
	static struct seen out;
	for (int a = 0; a < 64; a++) {
		memcpy(buf + a, text, len);
		scan(m, buf + a, len, NULL, &out);
		for (size_t i = 0; i < n; i++)
			if (out.count[i] != naive(text, len, strs[i], lens[i]))
				fail_msg("alignment %d: string %zu: %ld matches", a, i,
				         out.count[i]);
	}
	free(buf);
	kw_match_free(m);
}

/* Strings of 1024 bytes (the longest phrase) in writes of 100. */
static void test_long_strings(void **state)
{
	(void)state;
	static char a[1024], b[1024], text[10000];
	for (size_t i = 0; i < sizeof(a); i++) {
		a[i] = (char)('a' + i % 7);
		b[i] = (char)('a' + i % 5);
	}
	const char *strs[] = {a, b, "ab"};
	size_t lens[] = {sizeof(a), sizeof(b), 2};
	unsigned ids[] = {0, 1, 2};
	struct kw_match *m = kw_match_build(strs, lens, ids, 3);
	size_t len = 0;
	memcpy(text + len, a, sizeof(a));
	len += sizeof(a);
	memcpy(text + len, b, sizeof(b));
	len += sizeof(b);
	memcpy(text + len, a, sizeof(a));
	len += sizeof(a);
	memcpy(text + len, a, sizeof(a)); /* back to back */
	len += sizeof(a);
	long want[3];
	for (size_t i = 0; i < 3; i++)
		want[i] = naive(text, len, strs[i], lens[i]);
	assert_int_equal(want[0], 3);
	assert_int_equal(want[1], 1);
	check_all_ways(m, text, len, want, 3);
	kw_match_free(m);
}

static void test_no_strings(void **state)
{
	(void)state;
	struct kw_match *m = kw_match_build(NULL, NULL, NULL, 0);
	static struct seen out;
	scan(m, "anything at all", 15, NULL, &out);
	assert_int_equal(out.n, 0);
	kw_match_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_random_against_naive), cmocka_unit_test(test_japanese_text),
	        cmocka_unit_test(test_every_split),          cmocka_unit_test(test_every_alignment),
	        cmocka_unit_test(test_long_strings),         cmocka_unit_test(test_no_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
