/*
 * Fuzz target for kw_rules.c and kw_scan.c: a keyword rules file, loaded
 * and compiled, then text scored against it. The data is split at the
 * first NUL into the rules file (read by kw_rules_load from a memfd by its
 * /proc/self/fd path) and the text, which defaults to the rules file
 * itself, so that phrases meet their own words. Compiling costs
 * milliseconds (Vectorscan, PCRE2 JIT): files over 2 KiB or with more than
 * 24 phrase and regex rules are not loaded.
 *
 * Checked: the rules load exactly when no error was reported, and every
 * message names the file; a category name finds its id; every scan result
 * is consistent (a category only when its score reaches its threshold,
 * thresholds of at least 1, "matched" made of "NAME:LINE" tokens with
 * lines of the file). The text, normalized as the module does, is scanned
 * whole, in two writes at a point derived from the data, and a byte at a
 * time (short texts): the result is the same each time. Scanning all
 * categories agrees with scanning each alone: the first that reaches its
 * threshold wins, else the highest score is reported. The text scanned
 * from a copy at an offset past a 64-byte boundary derived from the data
 * gives the same result too (Vectorscan, which matched phrases before
 * kw_match, missed literals depending on it). Results that carry an error
 * (a regex limit) are not compared. LeakSanitizer checks that failed
 * loads free what they built. Violations abort.
 */

#include "fuzz_util.h"
#include "kw_normalize.h"
#include "kw_rules.h"

#define MAX_FILE  2048
#define MAX_RULES 24

static size_t count(const uint8_t *d, size_t n, const char *w)
{
	size_t c = 0, wl = strlen(w);
	for (const uint8_t *p = d; (p = memmem(p, n - (size_t)(p - d), w, wl)) != NULL; p += wl)
		c++;
	return c;
}

static void check_messages(const char *msgs, size_t len, const char *path)
{
	size_t pl = strlen(path);
	CHECK(len == 0 || msgs[len - 1] == '\n');
	for (const char *p = msgs; p < msgs + len;) {
		const char *e = memchr(p, '\n', (size_t)(msgs + len - p));
		CHECK(e != NULL && (size_t)(e - p) > pl && memcmp(p, path, pl) == 0 &&
		      p[pl] == ':');
		p = e + 1;
	}
}

static void check_result(const struct kw_result *res, const unsigned *cats, size_t ncats,
                         const char *name, size_t lines)
{
	if (ncats == 0) {
		CHECK(res->category == -1 && res->score == 0 && res->threshold == 0);
		return;
	}
	CHECK(res->threshold >= 1);
	if (res->category >= 0) {
		bool listed = false;
		for (size_t i = 0; i < ncats; i++)
			listed = listed || cats[i] == (unsigned)res->category;
		CHECK(listed && res->score >= res->threshold);
	} else {
		CHECK(res->score < res->threshold);
	}
	/* "name:line name:line ...", lines of the file, each once. */
	size_t nl = strlen(name), ml = strlen(res->matched);
	CHECK(ml < sizeof(res->matched));
	for (const char *p = res->matched; *p;) {
		CHECK(strncmp(p, name, nl) == 0 && p[nl] == ':');
		char *end;
		long line = strtol(p + nl + 1, &end, 10);
		CHECK(line >= 1 && (size_t)line <= lines);
		CHECK(*end == 0 || (*end == ' ' && end[1] != 0));
		p = *end ? end + 1 : end;
	}
}

/* Scans text[0..n) in writes ending at cuts[0..ncuts), each write an
 * exact-size heap copy, or with align >= 0 a copy that starts align bytes
 * past a 64-byte boundary. */
static void scan(const struct kw_rules *r, const unsigned *cats, size_t ncats, const char *text,
                 size_t n, const size_t *cuts, size_t ncuts, int align, struct kw_result *res)
{
	struct kw_scan *s = kw_scan_new(r, cats, ncats);
	CHECK(s != NULL);
	size_t at = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		char *buf = align < 0
		                    ? fz_copy(text + at, end - at)
		                    : aligned_alloc(64, (end - at + (size_t)align + 64) / 64 * 64);
		CHECK(buf != NULL);
		char *piece = align < 0 ? buf : buf + align;
		if (align >= 0 && end > at)
			memcpy(piece, text + at, end - at);
		CHECK(kw_scan_write(s, piece, end - at) == 0);
		free(buf);
		at = end;
	}
	kw_scan_finish(s, res);
	kw_scan_free(s);
}

static bool same(const struct kw_result *a, const struct kw_result *b)
{
	return a->category == b->category && a->score == b->score && a->threshold == b->threshold &&
	       strcmp(a->matched, b->matched) == 0;
}

/* Two scans that must agree (unless a regex limit stopped one). */
static void agree(const struct kw_result *a, const struct kw_result *b)
{
	CHECK(a->error != NULL || b->error != NULL || same(a, b));
}

/* All categories at once agree with each alone: the first to reach its
 * threshold wins, else the highest score (the first on a tie). */
static bool all_vs_alone(const struct kw_rules *r, const unsigned *cats, size_t ncats,
                         const char *text, size_t n, int align, const struct kw_result *whole,
                         const char *name, size_t lines)
{
	int first = -1;
	long best = 0, best_threshold = 0;
	for (size_t i = 0; i < ncats; i++) {
		struct kw_result one;
		scan(r, &cats[i], 1, text, n, NULL, 0, align, &one);
		check_result(&one, &cats[i], 1, name, lines);
		if (one.error != NULL)
			return true;
		if (first < 0 && one.score >= one.threshold)
			first = (int)cats[i];
		if (i == 0 || one.score > best)
			best = one.score, best_threshold = one.threshold;
	}
	return whole->category == first &&
	       (first >= 0 || (whole->score == best && whole->threshold == best_threshold));
}

static void scans(const struct kw_rules *r, const char *name, size_t lines, const char *text,
                  size_t n, uint64_t h)
{
	size_t ncats = kw_rules_ncategories(r);
	unsigned cats[KW_MAX_CATEGORIES];
	CHECK(ncats <= KW_MAX_CATEGORIES);
	for (size_t i = 0; i < ncats; i++)
		cats[i] = (unsigned)(ncats - 1 - i); /* not in id order */

	struct kw_result whole, other;
	/* No categories (an empty file): nothing to score. */
	scan(r, NULL, 0, text, n, NULL, 0, -1, &other);
	check_result(&other, NULL, 0, name, lines);
	if (ncats == 0)
		return;
	scan(r, cats, ncats, text, n, NULL, 0, -1, &whole);
	check_result(&whole, cats, ncats, name, lines);
	if (whole.error != NULL)
		return;

	size_t split = (size_t)(h % (n + 1));
	scan(r, cats, ncats, text, n, &split, 1, -1, &other);
	check_result(&other, cats, ncats, name, lines);
	agree(&whole, &other);
	scan(r, cats, ncats, text, n, NULL, 0, (int)((h >> 32) % 64), &other);
	agree(&whole, &other);
	if (n <= 512) {
		size_t cuts[512];
		for (size_t i = 0; i + 1 < n; i++)
			cuts[i] = i + 1;
		scan(r, cats, ncats, text, n, cuts, n ? n - 1 : 0, -1, &other);
		agree(&whole, &other);
	}
	CHECK(all_vs_alone(r, cats, ncats, text, n, -1, &whole, name, lines));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_memfile mf;
	size_t off[2], len[2];
	fz_split(data, size, 2, off, len);
	if (len[0] > MAX_FILE ||
	    count(data, len[0], "phrase") + count(data, len[0], "regex") > MAX_RULES)
		return 0;
	const char *path = fz_memfile_set(&mf, "fuzz.rules", data, len[0]);
	const char *name = strrchr(path, '/') + 1;
	size_t lines = 1;
	for (size_t i = 0; i < len[0]; i++)
		lines += data[i] == '\n';

	char *msgs = NULL;
	size_t mlen = 0;
	FILE *err = open_memstream(&msgs, &mlen);
	CHECK(err != NULL);
	struct kw_rules_stats st;
	struct kw_rules *r = kw_rules_load(path, err, &st);
	fclose(err);
	check_messages(msgs, mlen, path);
	CHECK((r != NULL) == (mlen == 0));
	free(msgs);
	if (r == NULL)
		return 0;

	CHECK(st.categories == kw_rules_ncategories(r));
	CHECK(st.phrases + st.regexes >= st.categories && st.regexes <= KW_MAX_REGEXES);
	for (size_t i = 0; i < st.categories; i++) {
		const char *cn = kw_rules_category_name(r, (unsigned)i);
		CHECK(cn != NULL && kw_rules_category_id(r, cn) == (int)i);
	}
	CHECK(kw_rules_category_name(r, (unsigned)st.categories) == NULL);
	CHECK(strlen(kw_rules_digest(r)) == 64);
	CHECK(!kw_rules_changed(r));

	/* The text, normalized as the module does. */
	bool has_text = memchr(data, 0, size) != NULL;
	const char *raw = (const char *)data + (has_text ? off[1] : 0);
	size_t rawlen = has_text ? len[1] : len[0];
	size_t n;
	char *copy = fz_copy(raw, rawlen);
	char *text = kw_normalize_string(copy, rawlen, &n);
	free(copy);
	scans(r, name, lines, text, n, fz_hash(data, size));
	free(text);
	kw_rules_free(r);
	return 0;
}
