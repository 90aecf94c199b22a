/*
 * kw_match: the keyword module's phrase matcher. Every occurrence of each
 * of a set of byte strings (the normalized phrases) in a stream of text,
 * overlapping ones too, whatever the text's cuts into writes; matches are
 * reported by the id given with the string, in an order that depends only
 * on the text (by the position of the string's anchor, see kw_match.c),
 * never on how it was cut or where it lies in memory.
 *
 * A built matcher is immutable and shared by all scan threads; a stream is
 * one text's matching, on one thread. A stream keeps a copy of the text it
 * has not finished with: a block of up to 64 KiB plus twice the longest
 * string.
 */
#ifndef ICAPD_KW_MATCH_H
#define ICAPD_KW_MATCH_H

#include <stddef.h>

struct kw_match;
struct kw_match_stream;

/* Called for each occurrence of the string of that id. */
typedef void (*kw_match_fn)(void *ctx, unsigned id);

/* The n strings strs[i] of lens[i] bytes (at least 1), reported as ids[i];
 * strings may repeat (each occurrence is then reported once per id). */
struct kw_match *kw_match_build(const char *const *strs, const size_t *lens, const unsigned *ids,
                                size_t n);
void kw_match_free(struct kw_match *m);

/* For tests: the vector code m may use, at most (built: the best the CPU
 * has); before any stream is opened. */
enum kw_match_isa { KW_MATCH_SCALAR, KW_MATCH_AVX2, KW_MATCH_AVX512 };
void kw_match_limit_isa(struct kw_match *m, enum kw_match_isa isa);

struct kw_match_stream *kw_match_open(const struct kw_match *m, kw_match_fn fn, void *ctx);
void kw_match_write(struct kw_match_stream *s, const char *p, size_t n);
/* The end of the text: reports what was held back; no write after it. */
void kw_match_finish(struct kw_match_stream *s);
void kw_match_close(struct kw_match_stream *s);

#endif
