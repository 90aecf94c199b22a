/*
 * Fuzz target for kw_normalize.c, the keyword module's streaming text
 * normalizer (NFKC case fold, kana folding, ignorables, white space, and
 * U+FFFD for invalid UTF-8). The first two bytes of the data choose a
 * split point; the rest is the text, normalized by kw_normalize_string and
 * by the streaming interface in two writes at that point, in writes of
 * pseudo-random sizes, and a byte at a time (short texts only), each write
 * an exact-size heap copy so that AddressSanitizer sees a read past it.
 *
 * Checked: every streaming output equals kw_normalize_string's; the output
 * is valid UTF-8 without control characters or two spaces in a row;
 * normalizing the output again changes nothing (phrases are normalized
 * once, when the rules are loaded, and the text once: a form that
 * normalizes to something else could never match), for texts without a
 * run of more than 30 combining marks (longer runs are cut into segments,
 * as Unicode's stream-safe format allows, so they may reorder again); a
 * sink that refuses a write stops the normalizer for good. Violations
 * abort.
 */

#include "fuzz_util.h"
#include "kw_normalize.h"

#include <utf8proc.h>

/* Normalizes text[0..n) in writes ending at cuts[0..ncuts), then finishes. */
static int run(const char *text, size_t n, const size_t *cuts, size_t ncuts, struct fz_buf *out)
{
	memset(out, 0, sizeof(*out));
	struct kw_norm *kn = kw_norm_new((struct kw_sink){fz_buf_write, out});
	CHECK(kn != NULL);
	size_t at = 0;
	int rc = 0;
	for (size_t k = 0; k <= ncuts && rc == 0; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		char *piece = fz_copy(text + at, end - at);
		rc = kw_norm_write(kn, piece, end - at);
		free(piece);
		at = end;
	}
	if (rc == 0)
		rc = kw_norm_finish(kn);
	kw_norm_free(kn);
	return rc;
}

static void check_text(const char *p, size_t n)
{
	CHECK(fz_valid_utf8((const unsigned char *)p, n));
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		CHECK(c >= 0x20 && c != 0x7f);
		CHECK(!(c == ' ' && i > 0 && p[i - 1] == ' '));
	}
}

/* True if the valid UTF-8 text has a run of more than 30 code points that
 * may join the one before (non-zero combining class, half-width voiced
 * marks, Hangul vowel and final jamo): the normalizer cuts such runs. */
static bool long_mark_run(const unsigned char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n;) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
		CHECK(k > 0);
		i += (size_t)k;
		bool joins = utf8proc_get_property(c)->combining_class != 0 || c == 0xff9e ||
		             c == 0xff9f || (c >= 0x1160 && c <= 0x11ff) ||
		             (c >= 0xd7b0 && c <= 0xd7ff);
		run = joins ? run + 1 : 0;
		if (run > 30)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 16384)
		return 0;
	const char *text = (const char *)data + 2;
	size_t n = size - 2;
	size_t split = ((size_t)data[0] | (size_t)data[1] << 8) % (n + 1);

	size_t wlen;
	char *copy = fz_copy(text, n);
	char *want = kw_normalize_string(copy, n, &wlen);
	free(copy);
	CHECK(want != NULL && strlen(want) == wlen);
	check_text(want, wlen);

	struct fz_buf got;
	CHECK(run(text, n, &split, 1, &got) == 0);
	CHECK(got.len == wlen && (wlen == 0 || memcmp(got.p, want, wlen) == 0));
	fz_buf_free(&got);

	/* Pseudo-random writes, and a byte at a time for short texts. */
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	CHECK(cuts != NULL);
	size_t nc = 0;
	uint64_t rng = fz_hash(data, size) | 1;
	for (size_t at = fz_next(&rng) % 8; at < n; at += 1 + fz_next(&rng) % 24)
		cuts[nc++] = at;
	CHECK(run(text, n, cuts, nc, &got) == 0);
	CHECK(got.len == wlen && (wlen == 0 || memcmp(got.p, want, wlen) == 0));
	fz_buf_free(&got);
	if (n <= 512) {
		for (nc = 0; nc + 1 < n; nc++)
			cuts[nc] = nc + 1;
		CHECK(run(text, n, cuts, nc, &got) == 0);
		CHECK(got.len == wlen && (wlen == 0 || memcmp(got.p, want, wlen) == 0));
		fz_buf_free(&got);
	}
	free(cuts);

	/* Idempotence. */
	if (!long_mark_run((const unsigned char *)want, wlen)) {
		size_t alen;
		char *again = kw_normalize_string(want, wlen, &alen);
		CHECK(alen == wlen && memcmp(again, want, wlen) == 0);
		free(again);
	}

	/* A sink that refuses: -1 from then on. */
	if (wlen > 0) {
		memset(&got, 0, sizeof(got));
		got.stop_after = 1 + split % wlen;
		struct kw_norm *kn = kw_norm_new((struct kw_sink){fz_buf_write, &got});
		copy = fz_copy(text, n);
		int rc = kw_norm_write(kn, copy, n);
		if (rc == 0)
			rc = kw_norm_finish(kn);
		if (got.stopped) {
			CHECK(rc == -1);
			CHECK(kw_norm_write(kn, "a", 1) == -1);
		}
		CHECK(got.len <= wlen && (got.len == 0 || memcmp(got.p, want, got.len) == 0));
		free(copy);
		kw_norm_free(kn);
		fz_buf_free(&got);
	}
	free(want);
	return 0;
}
