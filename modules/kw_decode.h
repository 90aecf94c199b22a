/*
 * kw_decode: the Content-Encoding of a body undone as it streams (gzip,
 * x-gzip, deflate (zlib-wrapped or raw, as servers send both), br, zstd;
 * several stacked, "gzip, br", undone last first), with bounds on the
 * decoded size and on the expansion ratio: a decompression bomb is stopped
 * and reported, not followed.
 */
#ifndef ICAPD_KW_DECODE_H
#define ICAPD_KW_DECODE_H

#include <stdint.h>

#include "kw_text.h"

#define KW_CODINGS_MAX 4

enum kw_coding {
	KW_CODING_IDENTITY,
	KW_CODING_GZIP,
	KW_CODING_DEFLATE,
	KW_CODING_BR,
	KW_CODING_ZSTD
};

/*
 * Parses a Content-Encoding value ("gzip", "x-gzip, br", "identity") into
 * out in the order they were applied. Returns how many (identity is left
 * out, so 0 means nothing to undo), or -1 for an unknown coding or more than
 * KW_CODINGS_MAX.
 */
int kw_coding_parse(const char *value, size_t len, enum kw_coding out[KW_CODINGS_MAX]);

/* Held by every stage's output, not only the last's; 0 means no limit. */
struct kw_decode_limits {
	uint64_t max_output; /* decoded bytes at most */
	unsigned max_ratio;  /* decoded / encoded at most, checked past 1 MiB of output */
};

struct kw_decode;

/* A decoder for codings (as parsed, n from 0 to KW_CODINGS_MAX) writing to
 * out; with n == 0 the bytes pass through, unlimited. */
struct kw_decode *kw_decode_new(const enum kw_coding *codings, int n,
                                const struct kw_decode_limits *lim, struct kw_sink out);

/* Feeds encoded bytes; 0, or -1 (see kw_decode_error; also when out stopped).
 * Past a limit, the bytes up to max_output have been written to out. */
int kw_decode_write(struct kw_decode *d, const char *p, size_t n);

/* The end of the input: -1 if the stream was cut short or is corrupt. */
int kw_decode_finish(struct kw_decode *d);

/* Why the decoder stopped, for the log: "decompression bomb (ratio over
 * 100)", "decoded size over 64 MiB", "corrupt gzip stream"...; NULL if it
 * did not, or if the sink after it stopped it. */
const char *kw_decode_error(const struct kw_decode *d);

/* True when the stop was a limit (bomb, size), not corrupt data. */
int kw_decode_limited(const struct kw_decode *d);

void kw_decode_free(struct kw_decode *d);

/* A kw_sink that feeds d. */
struct kw_sink kw_decode_sink(struct kw_decode *d);

#endif
