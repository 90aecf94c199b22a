/*
 * Fuzz target for kw_decode.c, Content-Encoding undone as the body
 * streams (gzip, deflate zlib-wrapped or raw, br, zstd, stacked). Data
 * layout: byte 0 says how many codings (0 to KW_CODINGS_MAX) and byte 1
 * which (two bits each); bytes 2-3 give max_output (1 to 2 MiB, small
 * more often), byte 4 max_ratio, bytes 5-6 a split point; the rest is the
 * encoded body. The body is also parsed as a Content-Encoding value.
 *
 * The body is decoded whole, in two writes at the split point and in
 * writes of pseudo-random sizes, each an exact-size heap copy so that
 * AddressSanitizer sees a read past it. Checked: the output never exceeds
 * max_output; a success, and its output, is the same however the body was
 * split, and so is a failure, with outputs that are prefixes of each other
 * (see same()); a success has no error, a failure has one; a sink that refuses a write stops the
 * decoder with -1 and no error of its own. kw_coding_parse gives -1 or at most KW_CODINGS_MAX
 * codings, never identity. Violations abort.
 */

#include "fuzz_util.h"
#include "kw_decode.h"

struct params {
	enum kw_coding c[KW_CODINGS_MAX];
	int n;
	struct kw_decode_limits lim;
};

struct outcome {
	int rc;
	struct fz_buf out;
	char err[128];
	int limited;
};

static void run(const struct params *pr, const char *body, size_t n, const size_t *cuts,
                size_t ncuts, struct outcome *o)
{
	struct kw_decode *d =
	        kw_decode_new(pr->c, pr->n, &pr->lim, (struct kw_sink){fz_buf_write, &o->out});
	CHECK(d != NULL);
	size_t at = 0;
	int rc = 0;
	for (size_t k = 0; k <= ncuts && rc == 0; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		char *piece = fz_copy(body + at, end - at);
		rc = kw_decode_write(d, piece, end - at);
		CHECK(rc == 0 || rc == -1);
		free(piece);
		at = end;
	}
	if (rc == 0)
		rc = kw_decode_finish(d);
	CHECK(rc == 0 || rc == -1);
	o->rc = rc;
	const char *e = kw_decode_error(d);
	o->limited = kw_decode_limited(d);
	o->err[0] = 0;
	if (e != NULL) {
		CHECK(strlen(e) > 0 && strlen(e) < sizeof(o->err));
		strcpy(o->err, e);
	}
	if (rc == 0)
		CHECK(e == NULL && !o->limited);
	else if (!o->out.stopped)
		CHECK(e != NULL);
	else
		CHECK(e == NULL);
	if (o->limited)
		CHECK(e != NULL);
	kw_decode_free(d);
	if (pr->n > 0)
		CHECK(o->out.len <= pr->lim.max_output);
}

/*
 * A success is the same however the body was split. A failure is a failure
 * either way, but where a stream is corrupt, how much a library decoded
 * before it noticed depends on the pieces (brotli flushes what it has when
 * it needs more input, not when it meets bad data), and with stacked codings
 * a later stage or a limit may stop first: then the two outputs are
 * prefixes of one stream. Two size limits pass on exactly max_output.
 */
static void same(const struct outcome *a, const struct outcome *b)
{
	CHECK(a->rc == b->rc);
	if (a->rc == 0) {
		CHECK(fz_buf_same(&a->out, &b->out));
		return;
	}
	size_t n = a->out.len < b->out.len ? a->out.len : b->out.len;
	CHECK(n == 0 || memcmp(a->out.p, b->out.p, n) == 0);
	if (strncmp(a->err, "decoded size", 12) == 0 && strcmp(a->err, b->err) == 0)
		CHECK(fz_buf_same(&a->out, &b->out));
}

static void coding_parse(const char *v, size_t n)
{
	enum kw_coding out[KW_CODINGS_MAX];
	char *c = fz_copy(v, n);
	int r = kw_coding_parse(c, n, out);
	free(c);
	CHECK(r >= -1 && r <= KW_CODINGS_MAX);
	for (int i = 0; i < r; i++)
		CHECK(out[i] >= KW_CODING_GZIP && out[i] <= KW_CODING_ZSTD);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 7 || size > 65536)
		return 0;
	static const enum kw_coding kinds[] = {KW_CODING_GZIP, KW_CODING_DEFLATE, KW_CODING_BR,
	                                       KW_CODING_ZSTD};
	struct params pr;
	pr.n = data[0] % (KW_CODINGS_MAX + 1);
	for (int i = 0; i < pr.n; i++)
		pr.c[i] = kinds[(data[1] >> (2 * i)) & 3];
	unsigned m = (unsigned)data[2] << 8 | data[3];
	/* Mostly small, sometimes past the 1 MiB where the ratio starts. */
	pr.lim.max_output = m >= 0xf000 ? (uint64_t)(m - 0xf000 + 1) * 512 : 1 + m % 16384;
	pr.lim.max_ratio = data[4] % 4 == 0 ? 0 : 2 + data[4] / 4;
	const char *body = (const char *)data + 7;
	size_t n = size - 7;
	size_t split = ((size_t)data[5] | (size_t)data[6] << 8) % (n + 1);

	coding_parse(body, n);

	struct outcome whole = {0}, other = {0};
	run(&pr, body, n, NULL, 0, &whole);
	run(&pr, body, n, &split, 1, &other);
	same(&whole, &other);
	fz_buf_free(&other.out);

	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	CHECK(cuts != NULL);
	size_t nc = 0;
	uint64_t rng = fz_hash(data, size) | 1;
	for (size_t p = fz_next(&rng) % 4; p < n; p += 1 + fz_next(&rng) % 64)
		cuts[nc++] = p;
	memset(&other, 0, sizeof(other));
	run(&pr, body, n, cuts, nc, &other);
	same(&whole, &other);
	fz_buf_free(&other.out);
	free(cuts);

	/* A sink that refuses part way. */
	if (whole.out.len > 0) {
		memset(&other, 0, sizeof(other));
		other.out.stop_after = 1 + split % whole.out.len;
		run(&pr, body, n, &split, 1, &other);
		if (other.out.stopped)
			CHECK(other.rc == -1);
		CHECK(other.out.len <= whole.out.len &&
		      (other.out.len == 0 || memcmp(other.out.p, whole.out.p, other.out.len) == 0));
		fz_buf_free(&other.out);
	}
	fz_buf_free(&whole.out);
	return 0;
}
