/*
 * chunked: an incremental decoder for the chunked body of an ICAP message
 * (RFC 9112 section 7.1, with RFC 3507's "ieof" extension that ends a preview
 * holding the whole body). It never allocates and never copies data: it
 * consumes framing bytes and tells the caller how many data bytes follow, so
 * the caller can move them (for instance between evbuffers) without a copy.
 */
#ifndef ICAPD_CHUNKED_H
#define ICAPD_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what a peer may make us read before a decision. */
#define CHUNKED_MAX_LINE     4096         /* chunk-size line with extensions */
#define CHUNKED_MAX_TRAILERS 8192         /* all trailer lines together */
#define CHUNKED_MAX_SIZE     (1ULL << 48) /* one chunk */

enum chunked_status {
	CHUNKED_ERROR = -1,
	CHUNKED_NEED_MORE = 0, /* all input consumed, more framing expected */
	CHUNKED_DATA = 1,      /* stopped where chunked_pending() data bytes begin */
	CHUNKED_END = 2,       /* the last chunk and trailers were consumed */
};

struct chunked {
	int state;
	uint64_t size;      /* of the chunk being read */
	uint64_t remaining; /* data bytes of it still to come */
	size_t line_len;    /* bytes of the current size or trailer line */
	size_t trailer_len;
	unsigned digits;
	bool ieof; /* the last chunk carried the ieof extension */
	char ext[5];
	unsigned ext_len;
	bool ext_name_done;
	/*
	 * Set by a caller that forwards trailers: chunked_parse() then returns
	 * right after the last-chunk line, so that every later byte it consumes
	 * up to CHUNKED_END is trailer section (trailer lines and the final CRLF)
	 * and can be copied out as it is.
	 */
	bool stop_at_trailers;
};

void chunked_init(struct chunked *c);

/*
 * Consumes framing from in[0..len) and stores the bytes consumed in *used.
 * Returns CHUNKED_DATA when data is next (take up to chunked_pending() bytes
 * and report them with chunked_consume()), CHUNKED_END after the terminating
 * chunk (then c->ieof says whether it was "0; ieof"), CHUNKED_NEED_MORE when
 * the input ran out (or, with stop_at_trailers, right after the last-chunk
 * line), or CHUNKED_ERROR for malformed framing or a bound exceeded.
 */
enum chunked_status chunked_parse(struct chunked *c, const char *in, size_t len, size_t *used);

uint64_t chunked_pending(const struct chunked *c);

/* True between the last-chunk line and the end of the trailer section. */
bool chunked_in_trailers(const struct chunked *c);

/* Reports that n (at most chunked_pending()) data bytes were taken. */
void chunked_consume(struct chunked *c, uint64_t n);

#endif
