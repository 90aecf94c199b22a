/*
 * Fuzz target for kw_charset.c and kw_charset_sniff.c: bytes in any
 * charset to UTF-8, streaming. Data layout: byte 0 is the length of the
 * HTTP charset label that follows (0xff: no label), byte 1 has flags (bit
 * 0: look for <meta>), bytes 2-3 a split point; the rest is the body. So a
 * label may be anything, and glibc's iconv is reached with any name it
 * takes, as a Content-Type or <meta> from the network can.
 *
 * The body is converted whole, in two writes at the split point, in
 * writes of pseudo-random sizes, and a byte at a time (short bodies only),
 * each write an exact-size heap copy so that AddressSanitizer sees a read
 * past it. Checked: the output is valid UTF-8 and the same every time, and
 * so is the charset chosen (kw_charset_name); the name is given once the
 * stream has ended; a sink that refuses a write stops the converter with
 * -1. Violations abort.
 */

#include "fuzz_util.h"
#include "kw_charset.h"

struct params {
	const char *label;
	size_t label_len;
	int sniff;
};

struct outcome {
	int rc;
	struct fz_buf out;
	char name[48];
};

static void run(const struct params *pr, const char *body, size_t n, const size_t *cuts,
                size_t ncuts, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	char *label = pr->label ? fz_copy(pr->label, pr->label_len) : NULL;
	struct kw_charset *c = kw_charset_new(label, pr->label_len, pr->sniff,
	                                      (struct kw_sink){fz_buf_write, &o->out});
	free(label); /* the label is read when the converter is made */
	CHECK(c != NULL);
	size_t at = 0;
	int rc = 0;
	for (size_t k = 0; k <= ncuts && rc == 0; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		char *piece = fz_copy(body + at, end - at);
		rc = kw_charset_write(c, piece, end - at);
		free(piece);
		at = end;
	}
	if (rc == 0)
		rc = kw_charset_finish(c);
	o->rc = rc;
	const char *name = kw_charset_name(c);
	if (rc == 0)
		CHECK(name != NULL);
	if (name != NULL) {
		CHECK(strlen(name) < sizeof(o->name));
		strcpy(o->name, name);
	}
	kw_charset_free(c);
	CHECK(fz_valid_utf8((const unsigned char *)o->out.p, o->out.len));
}

static void same(const struct outcome *a, const struct outcome *b)
{
	CHECK(a->rc == b->rc && strcmp(a->name, b->name) == 0);
	CHECK(fz_buf_same(&a->out, &b->out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4 || size > 16384)
		return 0;
	struct params pr = {NULL, 0, data[1] & 1};
	size_t at = 4;
	if (data[0] != 0xff) {
		pr.label_len = data[0] < size - at ? data[0] : size - at;
		pr.label = (const char *)data + at;
		at += pr.label_len;
	}
	const char *body = (const char *)data + at;
	size_t n = size - at;
	size_t split = ((size_t)data[2] | (size_t)data[3] << 8) % (n + 1);

	struct outcome whole, other;
	run(&pr, body, n, NULL, 0, &whole);
	CHECK(whole.rc == 0);

	run(&pr, body, n, &split, 1, &other);
	same(&whole, &other);
	fz_buf_free(&other.out);

	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	CHECK(cuts != NULL);
	size_t nc = 0;
	uint64_t rng = fz_hash(data, size) | 1;
	for (size_t p = fz_next(&rng) % 16; p < n; p += 1 + fz_next(&rng) % 300)
		cuts[nc++] = p;
	run(&pr, body, n, cuts, nc, &other);
	same(&whole, &other);
	fz_buf_free(&other.out);
	if (n <= 2048) {
		for (nc = 0; nc + 1 < n; nc++)
			cuts[nc] = nc + 1;
		run(&pr, body, n, cuts, nc, &other);
		same(&whole, &other);
		fz_buf_free(&other.out);
	}
	free(cuts);

	/* A sink that refuses part way: -1, and what came before is a prefix. */
	if (whole.out.len > 0) {
		memset(&other, 0, sizeof(other));
		other.out.stop_after = 1 + split % whole.out.len;
		char *label = pr.label ? fz_copy(pr.label, pr.label_len) : NULL;
		struct kw_charset *c = kw_charset_new(label, pr.label_len, pr.sniff,
		                                      (struct kw_sink){fz_buf_write, &other.out});
		free(label);
		char *copy = fz_copy(body, n);
		int rc = kw_charset_write(c, copy, n);
		if (rc == 0)
			rc = kw_charset_finish(c);
		if (other.out.stopped)
			CHECK(rc == -1);
		CHECK(other.out.len <= whole.out.len &&
		      (other.out.len == 0 || memcmp(other.out.p, whole.out.p, other.out.len) == 0));
		free(copy);
		kw_charset_free(c);
		fz_buf_free(&other.out);
	}
	fz_buf_free(&whole.out);
	return 0;
}
