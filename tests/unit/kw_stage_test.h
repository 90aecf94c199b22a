/*
 * kw_stage_test: what the unit tests of the keyword text pipeline's stages
 * share (header only, static): a sink that gathers its input, and a runner
 * that feeds an input to a stage whole, split in two at every position and
 * one byte at a time, and checks that the output is the same each time.
 * Each piece is copied to its own heap buffer of exact size, so that
 * AddressSanitizer catches a read past what the stage was given.
 * Include after cmocka.h.
 */
#ifndef KW_STAGE_TEST_H
#define KW_STAGE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kw_text.h"

/* A sink that keeps everything; it refuses writes past stop_after bytes if
 * that is not 0. */
struct kwbuf {
	char *p;
	size_t len, cap;
	size_t writes;
	size_t stop_after;
};

static int kwbuf_write(void *arg, const char *p, size_t n)
{
	struct kwbuf *b = arg;
	assert_true(n > 0); /* kw_sink_write never passes empty writes */
	if (b->stop_after && b->len + n > b->stop_after)
		return -1;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
	b->writes++;
	return 0;
}

static struct kw_sink kwbuf_sink(struct kwbuf *b)
{
	return (struct kw_sink){kwbuf_write, b};
}

static void kwbuf_free(struct kwbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A stage seen through one interface; ctx is the test's (a label...). */
struct kw_stage_ops {
	void *(*make)(const void *ctx, struct kw_sink out);
	int (*write)(void *st, const char *p, size_t n);
	int (*finish)(void *st);
	void (*free)(void *st);
};

/* Feeds in[0..n) in pieces ending at cuts[0..ncuts) (increasing), then
 * finishes; returns write/finish's first failure (or 0) and the output. */
static int kw_run_pieces(const struct kw_stage_ops *ops, const void *ctx, const char *in, size_t n,
                         const size_t *cuts, size_t ncuts, struct kwbuf *out)
{
	memset(out, 0, sizeof(*out));
	void *st = ops->make(ctx, kwbuf_sink(out));
	int rc = 0;
	size_t at = 0;
	for (size_t k = 0; k <= ncuts && rc == 0; k++) {
		size_t end = k < ncuts ? cuts[k] : n;
		size_t len = end - at;
		char *piece = malloc(len ? len : 1);
		assert_non_null(piece);
		memcpy(piece, in + at, len);
		rc = ops->write(st, piece, len);
		free(piece);
		at = end;
	}
	if (rc == 0)
		rc = ops->finish(st);
	ops->free(st);
	return rc;
}

static void kw_expect_same(const struct kwbuf *got, const char *want, size_t want_len,
                           const char *how)
{
	if (got->len != want_len || (want_len && memcmp(got->p, want, want_len) != 0)) {
		fprintf(stderr, "output differs (%s): got %zu bytes, want %zu\n", how, got->len,
		        want_len);
		fprintf(stderr, "  got:  ");
		for (size_t i = 0; i < got->len && i < 200; i++)
			fprintf(stderr, "%02x", (unsigned char)got->p[i]);
		fprintf(stderr, "\n  want: ");
		for (size_t i = 0; i < want_len && i < 200; i++)
			fprintf(stderr, "%02x", (unsigned char)want[i]);
		fprintf(stderr, "\n");
		fail();
	}
}

/*
 * Runs in[0..n) whole, in two at every position, and a byte at a time:
 * each time the result must be want_rc and the output want[0..want_len).
 * want may be NULL: then the whole run's output is the reference.
 */
static void kw_check_splits(const struct kw_stage_ops *ops, const void *ctx, const char *in,
                            size_t n, int want_rc, const char *want, size_t want_len)
{
	struct kwbuf ref;
	int rc = kw_run_pieces(ops, ctx, in, n, NULL, 0, &ref);
	assert_int_equal(rc, want_rc);
	if (want != NULL)
		kw_expect_same(&ref, want, want_len, "whole");
	for (size_t cut = 0; cut <= n; cut++) {
		struct kwbuf got;
		rc = kw_run_pieces(ops, ctx, in, n, &cut, 1, &got);
		assert_int_equal(rc, want_rc);
		char how[48];
		snprintf(how, sizeof(how), "split at %zu", cut);
		kw_expect_same(&got, ref.p, ref.len, how);
		kwbuf_free(&got);
	}
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));
	assert_non_null(cuts);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	struct kwbuf got;
	rc = kw_run_pieces(ops, ctx, in, n, cuts, n ? n - 1 : 0, &got);
	assert_int_equal(rc, want_rc);
	kw_expect_same(&got, ref.p, ref.len, "a byte at a time");
	kwbuf_free(&got);
	free(cuts);
	kwbuf_free(&ref);
}

/* The same with a NUL-terminated input and expected output. */
__attribute__((unused)) static void kw_check_str(const struct kw_stage_ops *ops, const void *ctx,
                                                 const char *in, const char *want)
{
	kw_check_splits(ops, ctx, in, strlen(in), 0, want, strlen(want));
}

#endif
