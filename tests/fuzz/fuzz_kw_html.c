/*
 * Fuzz target for kw_html.c and kw_html_ent.c, the HTML-to-text stage of
 * the keyword module. The first two bytes of the data choose a split
 * point; the rest is the page, written whole, in two writes at that point,
 * in writes of pseudo-random sizes and a byte at a time (short pages
 * only), each write an exact-size heap copy so that AddressSanitizer sees
 * a read past it.
 *
 * Checked: the text is the same however the page was split; when the page
 * is valid UTF-8 the text is too (character references included: NUL,
 * surrogates and values past U+10FFFF must become U+FFFD); a sink that
 * refuses a write stops the stage with -1, having passed on a prefix of
 * the text. Violations abort.
 */

#include "fuzz_util.h"
#include "kw_html.h"

static int run(const char *page, size_t n, const size_t *cuts, size_t ncuts, struct fz_buf *out)
{
	struct kw_html *h = kw_html_new((struct kw_sink){fz_buf_write, out});
	CHECK(h != NULL);
	size_t at = 0;
	int rc = 0;
	for (size_t k = 0; k <= ncuts && rc == 0; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		char *piece = fz_copy(page + at, end - at);
		rc = kw_html_write(h, piece, end - at);
		free(piece);
		at = end;
	}
	if (rc == 0)
		rc = kw_html_finish(h);
	kw_html_free(h);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 32768)
		return 0;
	const char *page = (const char *)data + 2;
	size_t n = size - 2;
	size_t split = ((size_t)data[0] | (size_t)data[1] << 8) % (n + 1);
	bool utf8 = fz_valid_utf8((const unsigned char *)page, n);

	struct fz_buf whole = {0}, other = {0};
	CHECK(run(page, n, NULL, 0, &whole) == 0);
	if (utf8)
		CHECK(fz_valid_utf8((const unsigned char *)whole.p, whole.len));

	CHECK(run(page, n, &split, 1, &other) == 0);
	CHECK(fz_buf_same(&whole, &other));
	fz_buf_free(&other);

	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	CHECK(cuts != NULL);
	size_t nc = 0;
	uint64_t rng = fz_hash(data, size) | 1;
	for (size_t p = fz_next(&rng) % 8; p < n; p += 1 + fz_next(&rng) % 40)
		cuts[nc++] = p;
	CHECK(run(page, n, cuts, nc, &other) == 0);
	CHECK(fz_buf_same(&whole, &other));
	fz_buf_free(&other);
	if (n <= 1024) {
		for (nc = 0; nc + 1 < n; nc++)
			cuts[nc] = nc + 1;
		CHECK(run(page, n, cuts, nc, &other) == 0);
		CHECK(fz_buf_same(&whole, &other));
		fz_buf_free(&other);
	}
	free(cuts);

	if (whole.len > 0) {
		other.stop_after = 1 + split % whole.len;
		int rc = run(page, n, &split, 1, &other);
		if (other.stopped)
			CHECK(rc == -1);
		CHECK(other.len <= whole.len &&
		      (other.len == 0 || memcmp(other.p, whole.p, other.len) == 0));
		fz_buf_free(&other);
	}
	fz_buf_free(&whole);
	return 0;
}
