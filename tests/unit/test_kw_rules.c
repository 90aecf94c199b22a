/*
 * Unit tests for kw_rules.c and kw_scan.c: the rules file's errors (exact
 * messages and lines, all in one run), phrases found whatever the write
 * boundaries (every split position, one byte per write), overlapping
 * occurrences and negative weights, thresholds and the choice of
 * categories, regexes counted once across windows and writes, limits on
 * pathological regexes (an error, not a hang), digest and change
 * detection, the scratch pool under concurrent scans, and the bundled
 * conf/keywords.rules against the forms a word can take.
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

#include <openssl/evp.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kw_normalize.h"
#include "kw_rules.h"

#define SAMPLE_RULES "conf/keywords.rules"

static char tmpdir[64];

static int group_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_kw_rules.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name; returns the path (static buffer). */
static const char *write_rules(const char *name, const char *text)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Loads text as a rules file; the errors go to *errs (malloc'd). */
static struct kw_rules *load_text(const char *text, char **errs, struct kw_rules_stats *st)
{
	const char *path = write_rules("test.rules", text);
	size_t n;
	FILE *e = open_memstream(errs, &n);
	assert_non_null(e);
	struct kw_rules *r = kw_rules_load(path, e, st);
	fclose(e);
	return r;
}

static struct kw_rules *load_ok(const char *text)
{
	char *errs;
	struct kw_rules *r = load_text(text, &errs, NULL);
	if (r == NULL)
		fail_msg("rules refused: %s", errs);
	assert_string_equal(errs, "");
	free(errs);
	return r;
}

/* Scans text (already normalized) cut at cuts[0..ncuts) (sorted), each
 * piece in a heap buffer of its own. */
static void scan_pieces(const struct kw_rules *r, const unsigned *cats, size_t ncats,
                        const char *text, size_t len, const size_t *cuts, size_t ncuts,
                        struct kw_result *res)
{
	struct kw_scan *s = kw_scan_new(r, cats, ncats);
	size_t start = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		char *piece = malloc(end - start + 1);
		assert_non_null(piece);
		memcpy(piece, text + start, end - start);
		struct kw_sink sk = kw_scan_sink(s);
		assert_int_equal(kw_sink_write(&sk, piece, end - start), 0);
		free(piece);
		start = end;
	}
	kw_scan_finish(s, res);
	kw_scan_free(s);
}

static void scan_str(const struct kw_rules *r, const unsigned *cats, size_t ncats, const char *text,
                     struct kw_result *res)
{
	scan_pieces(r, cats, ncats, text, strlen(text), NULL, 0, res);
}

/* Scans text whole, split in two at every byte, and one byte per write:
 * all must give the same result, which is returned. */
static void scan_all_splits(const struct kw_rules *r, const unsigned *cats, size_t ncats,
                            const char *text, struct kw_result *res)
{
	size_t len = strlen(text);
	scan_str(r, cats, ncats, text, res);
	for (size_t i = 0; i <= len; i++) {
		struct kw_result o;
		scan_pieces(r, cats, ncats, text, len, &i, 1, &o);
		if (o.score != res->score || o.category != res->category ||
		    strcmp(o.matched, res->matched) != 0)
			fail_msg("\"%s\" split at %zu: score %ld, whole %ld", text, i, o.score,
			         res->score);
	}
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	struct kw_result o;
	scan_pieces(r, cats, ncats, text, len, cuts, len ? len - 1 : 0, &o);
	assert_int_equal(o.score, res->score);
	assert_int_equal(o.category, res->category);
	free(cuts);
}

static void test_parse_errors(void **state)
{
	(void)state;
	const char *text = "category a {\n"                                         /* 1 */
	                   "\tthreshold -1;\n"                                      /* 2 */
	                   "\tphrase x 0;\n"                                        /* 3 */
	                   "\tphrase \"\u200B\" 1;\n"                               /* 4 */
	                   "\tregex \"(ab\" 1;\n"                                   /* 5 */
	                   "\tregex \"a*\" 1;\n"                                    /* 6 */
	                   "\tphrase only;\n"                                       /* 7 */
	                   "\tweight 3;\n"                                          /* 8 */
	                   "\tthreshold 2;\n"                                       /* 9 */
	                   "\tphrase y 1.5;\n"                                      /* 10 */
	                   "\tphrase z 2\n"                                         /* 11 */
	                   "}\n"                                                    /* 12 */
	                   "category a {\n"                                         /* 13 */
	                   "\tphrase q 1;\n"                                        /* 14 */
	                   "}\n"                                                    /* 15 */
	                   "category \"bad name\" { threshold 1; phrase w 1; }\n"   /* 16 */
	                   "category empty { threshold 1; }\n"                      /* 17 */
	                   "category nothr { phrase v 1; }\n"                       /* 18 */
	                   "foo;\n"                                                 /* 19 */
	                   "}\n"                                                    /* 20 */
	                   "category t { threshold x; phrase \"unterminated 1; }\n" /* 21 */
	                   "category open {\n";                                     /* 22 */
	char *errs;
	struct kw_rules *r = load_text(text, &errs, NULL);
	assert_null(r);
	char want[4096];
	const char *f = write_rules("test.rules", text);
	snprintf(want, sizeof(want),
	         "%1$s:2: threshold: expected an integer from 1 to 1000000\n"
	         "%1$s:3: weight 0 adds nothing\n"
	         "%1$s:4: phrase \"\u200B\" is empty once normalized\n"
	         "%1$s:5: regex \"(ab\": missing closing parenthesis at offset 3\n"
	         "%1$s:6: regex \"a*\" can match empty text\n"
	         "%1$s:7: phrase: expected TEXT WEIGHT\n"
	         "%1$s:8: unknown directive \"weight\"\n"
	         "%1$s:9: threshold is set twice\n"
	         "%1$s:10: weight \"1.5\" is not an integer from -1000000 to 1000000\n"
	         "%1$s:11: \"phrase\": missing \";\"\n"
	         "%1$s:1: category a has no phrase or regex\n"
	         "%1$s:13: category a is defined twice\n"
	         "%1$s:13: category a has no threshold\n"
	         "%1$s:16: category name \"bad name\": up to 64 letters, digits, '_', '-', '.'\n"
	         "%1$s:17: category empty has no phrase or regex\n"
	         "%1$s:18: category nothr has no threshold\n"
	         "%1$s:19: unknown directive \"foo\"\n"
	         "%1$s:20: unexpected \"}\"\n"
	         "%1$s:21: threshold: expected an integer from 1 to 1000000\n"
	         "%1$s:21: unterminated string\n"
	         /* The rest of the file is skipped with the statement. */
	         "%1$s:23: missing \"}\" to close category t\n"
	         "%1$s:21: category t has no phrase or regex\n",
	         f);
	assert_string_equal(errs, want);
	free(errs);
}

static void test_more_errors(void **state)
{
	(void)state;
	char *errs;
	/* A missing file. */
	size_t n;
	FILE *e = open_memstream(&errs, &n);
	assert_null(kw_rules_load("/nonexistent/x.rules", e, NULL));
	fclose(e);
	assert_string_equal(errs, "/nonexistent/x.rules: cannot open: No such file or directory\n");
	free(errs);

	/* A phrase too long once normalized: ① is one character, "1" once
	 * normalized; ㌔ gives 6 bytes. */
	char *text = malloc(64 + 3 * 400);
	assert_non_null(text);
	strcpy(text, "category c {\nthreshold 1;\nphrase \"");
	for (int i = 0; i < 400; i++)
		strcat(text, "㌔");
	strcat(text, "\" 1;\n}\n");
	assert_null(load_text(text, &errs, NULL));
	assert_non_null(strstr(errs, ":3: phrase longer than 1024 bytes once normalized\n"));
	free(errs);
	free(text);

	/* Too many categories. */
	char *many = malloc(80 * 64);
	assert_non_null(many);
	many[0] = 0;
	for (int i = 0; i < 65; i++)
		sprintf(many + strlen(many), "category c%d { threshold 1; phrase x 1; }\n", i);
	assert_null(load_text(many, &errs, NULL));
	assert_non_null(strstr(errs, ":65: more than 64 categories\n"));
	free(errs);
	free(many);

	/* A weight out of range. */
	assert_null(load_text("category c { threshold 1; phrase x 1000001; }\n", &errs, NULL));
	assert_non_null(strstr(errs, ":1: weight \"1000001\" is not an integer"));
	free(errs);
}

static void test_phrases_every_split(void **state)
{
	(void)state;
	struct kw_rules *r = load_ok("category c {\n"
	                             "\tthreshold 1000;\n"
	                             "\tphrase 秘密 1;\n"
	                             "\tphrase ひみつ 10;\n"
	                             "\tphrase \"Top  Secret\" 100;\n"
	                             "}\n");
	unsigned c = 0;
	struct kw_result res;
	/* The text as the normalizer gives it. */
	size_t len;
	char *t = kw_normalize_string("秘密のﾋﾐﾂ: TOP SECRET, 秘密",
	                              strlen("秘密のﾋﾐﾂ: TOP SECRET, 秘密"), &len);
	scan_all_splits(r, &c, 1, t, &res);
	free(t);
	assert_int_equal(res.score, 1 + 10 + 100 + 1);
	assert_int_equal(res.category, -1);
	assert_int_equal(res.threshold, 1000);
	assert_null(res.error);
	char want[256];
	snprintf(want, sizeof(want), "test.rules:3 test.rules:4 test.rules:5");
	assert_string_equal(res.matched, want);
	/* At the very end of the stream, and nothing. */
	scan_all_splits(r, &c, 1, "xx秘密", &res);
	assert_int_equal(res.score, 1);
	scan_all_splits(r, &c, 1, "秘 密", &res);
	assert_int_equal(res.score, 0);
	assert_string_equal(res.matched, "");
	kw_rules_free(r);
}

static void test_overlaps_and_negative(void **state)
{
	(void)state;
	struct kw_rules *r = load_ok("category c {\n"
	                             "\tthreshold 5;\n"
	                             "\tphrase aa 1;\n"
	                             "\tphrase secret 1;\n"
	                             "\tphrase \"secret santa\" -1;\n"
	                             "\tphrase secret 2;\n" /* the same text twice: both count */
	                             "}\n");
	unsigned c = 0;
	struct kw_result res;
	scan_all_splits(r, &c, 1, "aaaa", &res); /* three overlapping occurrences */
	assert_int_equal(res.score, 3);
	scan_all_splits(r, &c, 1, "secret santa", &res);
	assert_int_equal(res.score, 1 + 2 - 1);
	scan_all_splits(r, &c, 1, "secret santa secret", &res);
	assert_int_equal(res.score, 2 * 3 - 1);
	assert_int_equal(res.category, 0);
	/* Found in the order of their anchors in the text (kw_match.c): "secret
	 * santa" has its own 8-byte one, checked before the 4-byte one of the
	 * two "secret" at the same position. */
	assert_string_equal(res.matched, "test.rules:5 test.rules:4 test.rules:6");
	kw_rules_free(r);
}

static void test_thresholds_and_categories(void **state)
{
	(void)state;
	struct kw_rules_stats st;
	char *errs;
	struct kw_rules *r =
	        load_text("category a { threshold 2; phrase alpha 1; }\n"
	                  "category b { threshold 1; phrase beta 1; regex b.ta 5; }\n"
	                  "category c { threshold 3; phrase gamma 3; phrase alpha 1; }\n",
	                  &errs, &st);
	assert_non_null(r);
	free(errs);
	assert_int_equal(st.categories, 3);
	assert_int_equal(st.phrases, 4);
	assert_int_equal(st.regexes, 1);
	assert_int_equal(kw_rules_ncategories(r), 3);
	assert_int_equal(kw_rules_category_id(r, "b"), 1);
	assert_int_equal(kw_rules_category_id(r, "z"), -1);
	assert_string_equal(kw_rules_category_name(r, 2), "c");
	assert_null(kw_rules_category_name(r, 3));

	struct kw_result res;
	unsigned abc[] = {0, 1, 2}, ba[] = {1, 0}, a[] = {0}, c[] = {2}, weird[] = {7, 0, 0};
	/* a: 1 of 2, b: 1 + 5, c: 1 of 3. */
	scan_str(r, abc, 3, "alpha beta", &res);
	assert_int_equal(res.category, 1);
	assert_int_equal(res.score, 6);
	assert_int_equal(res.threshold, 1);
	assert_string_equal(res.matched, "test.rules:2");
	scan_str(r, a, 1, "alpha beta", &res);
	assert_int_equal(res.category, -1);
	assert_int_equal(res.score, 1);
	assert_int_equal(res.threshold, 2);
	assert_string_equal(res.matched, "test.rules:1");
	/* Both reach: the first in cats order. */
	scan_str(r, abc, 3, "alpha alpha beta", &res);
	assert_int_equal(res.category, 0);
	assert_int_equal(res.score, 2);
	scan_str(r, ba, 2, "alpha alpha beta", &res);
	assert_int_equal(res.category, 1);
	/* None reaches: the highest score. */
	scan_str(r, abc, 3, "gamma", &res);
	assert_int_equal(res.category, 2);
	scan_str(r, abc, 3, "alpha", &res);
	assert_int_equal(res.category, -1);
	assert_int_equal(res.score, 1);
	assert_int_equal(res.threshold, 2);    /* a, the first of the tie with c */
	scan_str(r, c, 1, "alpha beta", &res); /* b's rules do not count */
	assert_int_equal(res.category, -1);
	assert_int_equal(res.score, 1);
	/* Unknown and repeated ids are ignored; no cats at all. */
	scan_str(r, weird, 3, "alpha alpha", &res);
	assert_int_equal(res.category, 0);
	scan_str(r, NULL, 0, "alpha beta gamma", &res);
	assert_int_equal(res.category, -1);
	assert_int_equal(res.score, 0);
	assert_string_equal(res.matched, "");
	kw_rules_free(r);
}

/* Text of n repetitions of unit; *len gets its length. */
static char *repeat(const char *unit, size_t n, size_t *len)
{
	size_t u = strlen(unit);
	char *t = malloc(u * n + 1);
	assert_non_null(t);
	for (size_t i = 0; i < n; i++)
		memcpy(t + i * u, unit, u);
	t[u * n] = 0;
	*len = u * n;
	return t;
}

static void test_regex_windows(void **state)
{
	(void)state;
	struct kw_rules *r = load_ok("category c {\n"
	                             "\tthreshold 1;\n"
	                             "\tregex \"secret\\\\s+plan\" 1;\n"
	                             "\tregex \"ア+ン\" 1000;\n"
	                             "\tregex \"(?<=x)y\" 1000000;\n"
	                             "}\n");
	unsigned c = 0;
	struct kw_result res;
	/* Matches back to back over many windows: every alignment of a match
	 * with a window's end and its kept tail occurs. Lengths 12 and 13 are
	 * prime to the window sizes. */
	const char *units[] = {"secret plan ", "secret  plan "};
	for (int u = 0; u < 2; u++) {
		size_t len, nrep = 40000;
		char *t = repeat(units[u], nrep, &len);
		size_t steps[] = {1, 7, 4096, 4097, 65536, 100000, len};
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			if (steps[k] == 1 && u == 1)
				continue; /* slow under ASan; one unit is enough */
			size_t ncuts = len / steps[k];
			size_t *cuts = malloc((ncuts + 1) * sizeof(*cuts));
			assert_non_null(cuts);
			size_t m = 0;
			for (size_t i = steps[k]; i < len; i += steps[k])
				cuts[m++] = i;
			scan_pieces(r, &c, 1, t, len, cuts, m, &res);
			free(cuts);
			assert_null(res.error);
			if (res.score != (long)nrep)
				fail_msg("unit %d step %zu: %ld matches of %zu", u, steps[k],
				         res.score, nrep);
		}
		free(t);
	}
	/* Greedy matches: a run that straddles a window's end is counted once,
	 * whole (not its two parts), and a match that straddles the start of
	 * the kept tail is not counted again from inside it. */
	struct kw_rules *g = load_ok("category c { threshold 1; regex z+ 1; regex x+y 1; }\n");
	const char *gunits[] = {"zzzzzzzzzzzz ", "xxxxxxxxxxy ", "xxxxxxxxxxxxxxxxxxxxxxxxxxxy "};
	for (int u = 0; u < 3; u++) {
		size_t glen, nrep = 30000;
		char *gt = repeat(gunits[u], nrep, &glen);
		size_t steps[] = {4096, 5000, 65536, glen};
		for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			size_t cuts[400], m = 0;
			for (size_t i = steps[k]; i < glen && m < 400; i += steps[k])
				cuts[m++] = i;
			scan_pieces(g, &c, 1, gt, glen, cuts, m, &res);
			if (res.score != (long)nrep)
				fail_msg("\"%s\" step %zu: %ld matches of %zu", gunits[u], steps[k],
				         res.score, nrep);
		}
		free(gt);
	}
	/* Alone, across the end of the first window (64 KiB). */
	size_t glen;
	char *gt = repeat("x", 200000, &glen);
	memset(gt + 65536 - 10, 'z', 20);
	scan_str(g, &c, 1, gt, &res);
	assert_int_equal(res.score, 1);
	free(gt);
	kw_rules_free(g);

	/* A match that straddles a window, greedy across it: counted once. */
	size_t len;
	char *t = repeat("x", 200000, &len);
	memcpy(t + 65536 - 10, "アアアアアアアアアアン", strlen("アアアアアアアアアアン"));
	memcpy(t + 131072 - 3000, "secret      plan", 16);
	t[150000] = 'y';
	scan_str(r, &c, 1, t, &res);
	assert_int_equal(res.score, 1000 + 1 + 1000000);
	free(t);
	kw_rules_free(r);
}

static void test_regex_limits(void **state)
{
	(void)state;
	/* Exponential backtracking: the match limit. */
	struct kw_rules *r = load_ok("category c { threshold 1; regex \"(a+)+b\" 1;\n"
	                             "phrase tail 1; }\n");
	unsigned c = 0;
	struct kw_result res;
	size_t len;
	char *t = repeat("a", 5000, &len);
	strcpy(t + len - 6, "!btail");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	scan_str(r, &c, 1, t, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(res.error);
	assert_string_equal(res.error, "regex match limit");
	assert_int_equal(res.score, 1); /* the phrases go on */
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	free(t);
	kw_rules_free(r);

	/* Quadratic: every start position runs to the end. The time budget. */
	r = load_ok("category c { threshold 1; regex \"(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|r|"
	            "s|t|u|v|w|x|y|z| )+bluebird\" 1; }\n");
	t = malloc(1 << 20);
	assert_non_null(t);
	for (size_t i = 0; i < (1 << 20) - 1; i++)
		t[i] = i % 7 == 6 ? ' ' : (char)('a' + i % 26);
	t[(1 << 20) - 1] = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	scan_str(r, &c, 1, t, &res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(res.error);
	assert_string_equal(res.error, "regex time limit");
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > 10)
		fail_msg("the time limit took %.1f s", secs);
	free(t);
	kw_rules_free(r);

	/* "$" is the end of the text, not of a slice or window: a run of a's
	 * followed by more text is a long backtrack (the match limit), never
	 * a match; and in "az" repeated, "z$" matches once, at the very end,
	 * wherever the slices and windows end. */
	r = load_ok("category c { threshold 1; regex \"(a+)+$\" 1; }\n");
	t = repeat("a", 200000, &len);
	t[len - 1] = '!';
	scan_str(r, &c, 1, t, &res);
	assert_int_equal(res.score, 0);
	assert_non_null(res.error);
	assert_string_equal(res.error, "regex match limit");
	free(t);
	kw_rules_free(r);
	r = load_ok("category c { threshold 1; regex \"z$\" 1; }\n");
	t = repeat("az", 100000, &len);
	scan_str(r, &c, 1, t, &res);
	assert_null(res.error);
	assert_int_equal(res.score, 1);
	free(t);
	kw_rules_free(r);

	/* A pattern with a deep stack on ordinary text: no error. */
	r = load_ok("category c { threshold 1; regex \"(\\\\w+\\\\s+)*bluebird\" 1; }\n");
	t = malloc(4000);
	assert_non_null(t);
	for (size_t i = 0; i < 3999; i++)
		t[i] = i % 7 == 6 ? ' ' : 'w';
	strcpy(t + 3999 - 9, " bluebird");
	scan_str(r, &c, 1, t, &res);
	assert_null(res.error);
	assert_true(res.score >= 1);
	free(t);
	kw_rules_free(r);
}

static void test_regex_text_forms(void **state)
{
	(void)state;
	/* Hiragana in a pattern read as katakana; caseless; a bare word
	 * keeps its backslashes. */
	struct kw_rules *r = load_ok("category c {\n"
	                             "\tthreshold 1;\n"
	                             "\tregex \"ひみつ\\\\d\" 1;\n"
	                             "\tregex Project\\s+X 10;\n"
	                             "}\n");
	unsigned c = 0;
	struct kw_result res;
	size_t len;
	char *t = kw_normalize_string("ﾋﾐﾂ1 and PROJECT\u3000x", strlen("ﾋﾐﾂ1 and PROJECT\u3000x"),
	                              &len);
	scan_all_splits(r, &c, 1, t, &res);
	assert_int_equal(res.score, 11);
	free(t);
	kw_rules_free(r);
}

static void sha256_hex(const char *s, char *hex)
{
	unsigned char md[32];
	unsigned n;
	assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

static void test_digest_and_changed(void **state)
{
	(void)state;
	const char *text = "category c { threshold 1; phrase x 1; }\n";
	struct kw_rules *r = load_ok(text);
	char hex[65];
	sha256_hex(text, hex);
	assert_string_equal(kw_rules_digest(r), hex);
	assert_false(kw_rules_changed(r));

	/* Same size, another mtime. */
	char path[128];
	snprintf(path, sizeof(path), "%s/test.rules", tmpdir);
	struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 5},
	                         {.tv_sec = 1000000000, .tv_nsec = 5}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_true(kw_rules_changed(r));
	kw_rules_free(r);

	r = load_ok(text);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	kw_rules_free(r);
	/* Only the nanoseconds differ. */
	r = kw_rules_load(path, stderr, NULL);
	assert_non_null(r);
	ts[1].tv_nsec = 6;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_true(kw_rules_changed(r));
	kw_rules_free(r);

	/* Replaced by rename (another inode), and removed. */
	r = load_ok(text);
	write_rules("new.rules", text);
	char newpath[128];
	snprintf(newpath, sizeof(newpath), "%s/new.rules", tmpdir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	struct timespec same[2] = {st.st_atim, st.st_mtim};
	assert_int_equal(utimensat(AT_FDCWD, newpath, same, 0), 0);
	assert_int_equal(rename(newpath, path), 0);
	assert_true(kw_rules_changed(r));
	kw_rules_free(r);
	r = load_ok(text);
	assert_int_equal(unlink(path), 0);
	assert_true(kw_rules_changed(r));
	kw_rules_free(r);
}

/* The normalizer feeding the matcher, as in the module. */
static void pipeline(const struct kw_rules *r, const unsigned *cats, size_t ncats, const char *text,
                     size_t step, struct kw_result *res)
{
	struct kw_scan *s = kw_scan_new(r, cats, ncats);
	struct kw_norm *n = kw_norm_new(kw_scan_sink(s));
	size_t len = strlen(text);
	for (size_t i = 0; i < len; i += step)
		assert_int_equal(kw_norm_write(n, text + i, len - i < step ? len - i : step), 0);
	assert_int_equal(kw_norm_finish(n), 0);
	kw_norm_free(n);
	kw_scan_finish(s, res);
	kw_scan_free(s);
}

static void test_sample_rules(void **state)
{
	(void)state;
	struct kw_rules_stats st;
	struct kw_rules *r = kw_rules_load(SAMPLE_RULES, stderr, &st);
	assert_non_null(r);
	assert_int_equal(st.categories, 1);
	assert_int_equal(st.phrases, 8);
	int id = kw_rules_category_id(r, "confidential");
	assert_int_equal(id, 0);
	unsigned cats[] = {(unsigned)id};
	const char *blocked[] = {
	        "これはひみつです",
	        "これはヒミツです",
	        "これはﾋﾐﾂです",
	        "ひ\u200Bみ\u2060つ",
	        "ﾋ\u00ADﾐﾂ",
	        "ひミツ",
	        "秘密の資料",
	        "極秘資料",
	        "社外秘",
	        "【部外秘】",
	        "Confidential",
	        "CONFIDENTIAL",
	        "ｃｏｎｆｉｄｅｎｔｉａｌ",
	        "strictly\nconfidential",
	        "TOP   SECRET",
	        "Top\tSecret",
	        "for Internal\nUse  Only",
	};
	struct kw_result res;
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		for (size_t step = 1; step <= 7; step += 3) {
			pipeline(r, cats, 1, blocked[i], step, &res);
			if (res.category != id)
				fail_msg("\"%s\" (writes of %zu) not blocked", blocked[i], step);
			assert_int_equal(res.threshold, 1);
			assert_true(strncmp(res.matched, "keywords.rules:", 15) == 0);
		}
	const char *clean[] = {"ひみ つ",    "秘書",         "secret",
	                       "top-secret", "internal use", "confidentia l"};
	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		pipeline(r, cats, 1, clean[i], 3, &res);
		if (res.category != -1)
			fail_msg("\"%s\" blocked", clean[i]);
	}
	kw_rules_free(r);
}

struct job {
	const struct kw_rules *r;
	int found;
};

static void *scan_thread(void *arg)
{
	struct job *j = arg;
	unsigned c = 0;
	for (int i = 0; i < 200; i++) {
		struct kw_result res;
		struct kw_scan *s = kw_scan_new(j->r, &c, 1);
		kw_scan_write(s, "xx secret xx", 12);
		kw_scan_write(s, " 12345 yy", 9);
		kw_scan_finish(s, &res);
		kw_scan_free(s);
		j->found += res.category == 0 && res.score == 2;
	}
	return NULL;
}

static void test_concurrent_scans(void **state)
{
	(void)state;
	struct kw_rules *r =
	        load_ok("category c { threshold 2; phrase secret 1; regex \\d+ 1; }\n");
	/* Scans held open at once each take their own scratch. */
	unsigned c = 0;
	struct kw_scan *s[5];
	for (int i = 0; i < 5; i++) {
		s[i] = kw_scan_new(r, &c, 1);
		kw_scan_write(s[i], "secr", 4);
	}
	for (int i = 0; i < 5; i++) {
		struct kw_result res;
		kw_scan_write(s[i], "et 1", 4);
		kw_scan_finish(s[i], &res);
		assert_int_equal(res.score, 2);
		kw_scan_free(s[i]);
	}
	/* A scan freed unfinished. */
	struct kw_scan *u = kw_scan_new(r, &c, 1);
	kw_scan_write(u, "secret", 6);
	kw_scan_free(u);

	pthread_t t[4];
	struct job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){.r = r};
		assert_int_equal(pthread_create(&t[i], NULL, scan_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(jobs[i].found, 200);
	}
	kw_rules_free(r);
}

static void test_regex_only_rules(void **state)
{
	(void)state;
	struct kw_rules *r = load_ok("category c { threshold 1; regex 秘\\s*密 1; }\n");
	unsigned c = 0;
	struct kw_result res;
	scan_all_splits(r, &c, 1, "秘 密 and 秘密", &res);
	assert_int_equal(res.score, 2);
	kw_rules_free(r);
}

/* Occurrences of needle in hay, overlapping ones too. */
static long count_in(const char *hay, size_t hn, const char *needle, size_t nn)
{
	long c = 0;
	for (size_t i = 0; i + nn <= hn; i++)
		c += memcmp(hay + i, needle, nn) == 0;
	return c;
}

/* The phrases (with their weights) as a category of a rules file; then
 * each text, normalized, scanned from a copy at each of the 64 positions
 * past a 64-byte boundary, in one write and in two: the score must be what
 * counting the normalized phrases in the text gives. */
static void check_alignments(const char *const *phrases, const long *weights, size_t np,
                             const char *const *texts, size_t nt)
{
	char rules[4096];
	size_t rl = (size_t)snprintf(rules, sizeof(rules), "category c {\n\tthreshold 1000000;\n");
	for (size_t i = 0; i < np; i++)
		rl += (size_t)snprintf(rules + rl, sizeof(rules) - rl, "\tphrase \"%s\" %ld;\n",
		                       phrases[i], weights[i]);
	snprintf(rules + rl, sizeof(rules) - rl, "}\n");
	struct kw_rules *r = load_ok(rules);
	unsigned c = 0;
	for (size_t k = 0; k < nt; k++) {
		size_t len;
		char *t = kw_normalize_string(texts[k], strlen(texts[k]), &len);
		long want = 0;
		for (size_t i = 0; i < np; i++) {
			size_t pl;
			char *ph = kw_normalize_string(phrases[i], strlen(phrases[i]), &pl);
			want += weights[i] * count_in(t, len, ph, pl);
			free(ph);
		}
		assert_true(want > 0);
		char *buf = aligned_alloc(64, (len + 128) / 64 * 64);
		assert_non_null(buf);
		for (int a = 0; a < 64; a++) {
			memcpy(buf + a, t, len);
			for (size_t split = 0; split <= len; split += len / 2 + 1) {
				struct kw_scan *s = kw_scan_new(r, &c, 1);
				kw_scan_write(s, buf + a, split);
				kw_scan_write(s, buf + a + split, len - split);
				struct kw_result res;
				kw_scan_finish(s, &res);
				kw_scan_free(s);
				if (res.score != want || res.error != NULL)
					fail_msg("text %zu at alignment %d, split at %zu: score "
					         "%ld, "
					         "want %ld",
					         k, a, split, res.score, want);
			}
		}
		free(buf);
		free(t);
	}
	kw_rules_free(r);
}

/* Vectorscan 5.4.9's AVX-512 code, which matched phrases before kw_match,
 * missed literals that lie at some distances from a 64-byte boundary when
 * the database held certain other literals (with the two one-byte
 * literals "@" and "`", a match in the last bytes of a buffer of 64 or
 * more, at 63 of the 64 alignments). The texts put every phrase before, at
 * and after the 64-byte mark; the last set is one fuzz_kw_rules found. */
static void test_phrases_every_alignment(void **state)
{
	(void)state;
	static const char *const fill =
	        "zzzz the quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet, "
	        "consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore "
	        "magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris "
	        "nisi ut aliquip ex ea commodo consequat.";
	static const char *const sets[][5] = {
	        {"@", "`"},
	        {"[", "{"},
	        {"ヒミツ", "himi :\xef\xbf\xbdu"},
	        {"秘密", "ひみつ", "top secret", "]", "}"},
	};
	static const long weights[] = {1, 10, 100, 1000, 10000};
	static const char *const fuzzed[] = {
	        /* Found by fuzz_kw_rules: ヒミツ missed at 9 alignments. */
	        "ld 1; regex \"a+()+b\" 1; } aaaaaaaaaaaaaaaaaaary bt { thresh"
	        "\xe3\x83\x92\xe3\x83\x9f\xe3\x83\x84\xbd\xef\xbf\xbd\xe3\x83\x84",
	};
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		size_t np = 0;
		while (np < 5 && sets[s][np] != NULL)
			np++;
		/* Each phrase after 0..130 bytes of filler, then 0 or 3 more. */
		char *texts[2 * 5 * 14 + 1];
		size_t nt = 0;
		static const size_t before[] = {0,  1,  2,  31, 32,  33,  62,
		                                63, 64, 65, 66, 100, 127, 130};
		for (size_t i = 0; i < np; i++)
			for (size_t b = 0; b < sizeof(before) / sizeof(before[0]); b++)
				for (size_t after = 0; after <= 3; after += 3) {
					char *t = malloc(512);
					assert_non_null(t);
					snprintf(t, 512, "%.*s%s%.*s", (int)before[b], fill,
					         sets[s][i], (int)after, fill);
					texts[nt++] = t;
				}
		if (s == 2)
			texts[nt++] = strdup(fuzzed[0]);
		check_alignments(sets[s], weights, np, (const char *const *)texts, nt);
		for (size_t i = 0; i < nt; i++)
			free(texts[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_more_errors),
	        cmocka_unit_test(test_phrases_every_split),
	        cmocka_unit_test(test_phrases_every_alignment),
	        cmocka_unit_test(test_overlaps_and_negative),
	        cmocka_unit_test(test_thresholds_and_categories),
	        cmocka_unit_test(test_regex_windows),
	        cmocka_unit_test(test_regex_limits),
	        cmocka_unit_test(test_regex_text_forms),
	        cmocka_unit_test(test_digest_and_changed),
	        cmocka_unit_test(test_sample_rules),
	        cmocka_unit_test(test_concurrent_scans),
	        cmocka_unit_test(test_regex_only_rules),
	};
	if (access(SAMPLE_RULES, R_OK) != 0) {
		fprintf(stderr, "test_kw_rules: %s not found: run from the top of the tree\n",
		        SAMPLE_RULES);
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
