/*
 * resp: the Redis protocol (RESP2) as rcache speaks it. Commands go out as
 * arrays of bulk strings; replies come back as simple strings, errors,
 * integers, bulk strings, nil, or (only in cases we treat as errors)
 * arrays. Like hdr_parse, the reply parser allocates nothing and keeps no
 * state: it looks at the bytes received so far, and says "need more" (call
 * again from the start once more have come), "error", or how many bytes
 * the first reply took; the strings it returns point into the caller's
 * buffer.
 *
 * Everything is bounded, so that a Redis (or whoever answers in its place)
 * cannot make us hold more than RESP_MAX_REPLY bytes of one reply: a bulk
 * string longer than RESP_MAX_STRING is an error as soon as its length line
 * is read, not once its bytes have come. Our values are under 200 bytes.
 */
#ifndef ICAPD_RESP_H
#define ICAPD_RESP_H

#include <stddef.h>

#define RESP_ERROR     (-1L)
#define RESP_NEED_MORE (-2L)

#define RESP_MAX_STRING 4096 /* bulk string, or the text of a simple string or error */
#define RESP_MAX_ARRAY  64   /* elements of one array */
#define RESP_MAX_DEPTH  4    /* arrays within arrays */
#define RESP_MAX_REPLY  8192 /* bytes of one whole reply */

enum resp_type {
	RESP_STATUS = 1, /* +OK: a simple string */
	RESP_ERR,        /* -ERR ...: an error */
	RESP_INT,        /* :42 */
	RESP_BULK,       /* $3 abc: a bulk string */
	RESP_NIL,        /* $-1 or *-1: no value */
	RESP_ARRAY,      /* *n ...: its elements are checked, not returned */
};

struct resp_reply {
	enum resp_type type;
	const char *str; /* STATUS, ERR, BULK: the bytes, in the buffer given (no NUL) */
	size_t len;
	long long integer; /* INT: the value; ARRAY: how many elements */
};

/*
 * Parses the first reply in buf[0..len). Returns the bytes it takes and
 * fills *r, or RESP_NEED_MORE when buf holds only the start of a reply
 * (nothing in it is wrong so far), or RESP_ERROR for anything that is not
 * RESP2 as Redis writes it (a bare LF, a bad number, an unknown type byte,
 * RESP3) or exceeds a bound above. For any input, the answer for
 * buf[0..k) is RESP_NEED_MORE for every k up to the length where it is
 * decided, and the same for every k beyond.
 */
long resp_parse(const char *buf, size_t len, struct resp_reply *r);

/*
 * Encodes the command argv[0..argc) (argv[i] has lens[i] bytes, any bytes)
 * as an array of bulk strings into out. Returns the length of the encoding,
 * which is written only if it fits in cap bytes (as snprintf; no NUL).
 */
size_t resp_command(char *out, size_t cap, size_t argc, const char *const argv[],
                    const size_t lens[]);

#endif
