/*
 * multipart: the parts of a multipart body (RFC 2046 section 5.1; form
 * uploads are multipart/form-data, RFC 7578), found in place without
 * allocation. Modules use it to judge each uploaded file as it was sent: a
 * signature over a whole file does not match the form around it.
 */
#ifndef ICAPD_MULTIPART_H
#define ICAPD_MULTIPART_H

#include <stddef.h>

/* The longest boundary RFC 2046 allows. */
#define MULTIPART_BOUNDARY_MAX 70

struct multipart_part {
	size_t head_off, head_len; /* the part's header lines */
	size_t off, len;           /* its content */
};

/*
 * Finds the boundary of a Content-Type value "multipart/...; boundary=..."
 * (quoted or not). Stores it (NUL-terminated) in out, which holds
 * MULTIPART_BOUNDARY_MAX + 1 bytes. Returns its length, or 0 if the value is
 * not multipart or has no valid boundary.
 */
size_t multipart_boundary(const char *ctype, size_t len, char *out);

/*
 * Calls fn for each part of body[0..n) delimited by boundary b, at most
 * max_parts times; fn returns nonzero to stop. Returns the number of parts
 * seen, or -1 if the body does not start a multipart entity (no delimiter).
 * A body cut short yields the parts up to the cut, the last one to the end.
 */
int multipart_each(const char *body, size_t n, const char *b, size_t blen, size_t max_parts,
                   int (*fn)(void *arg, const struct multipart_part *p), void *arg);

#endif
