/*
 * hdr_parse: the header-field grammar shared by the ICAP head and the
 * encapsulated HTTP header blocks. Like picohttpparser it allocates nothing:
 * fields point into the caller's buffer, and a parse of an incomplete buffer
 * says "need more" so the caller can retry from the start with more bytes.
 */
#ifndef ICAPD_HDR_PARSE_H
#define ICAPD_HDR_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define HDR_ERROR     (-1L)
#define HDR_NEED_MORE (-2L)

struct hdr {
	const char *name;
	size_t name_len;
	const char *value; /* without leading and trailing white space */
	size_t value_len;
};

/*
 * Parses header fields from buf up to and including the empty line that ends
 * them. Stores at most *nhdrs fields (the first ones) and sets *nhdrs to the
 * number of fields there were, which exceeds the room given when some were
 * not stored. Returns the bytes consumed, HDR_NEED_MORE if buf ends before
 * the empty line, or HDR_ERROR on a malformed line, a folded line, or a bare
 * CR or LF.
 */
long hdr_parse_fields(const char *buf, size_t len, struct hdr *hdrs, size_t *nhdrs);

/* First field named name (case-insensitive), or NULL. */
const struct hdr *hdr_find(const struct hdr *hdrs, size_t n, const char *name);

/* Number of fields named name: callers reject duplicates of singletons. */
size_t hdr_count(const struct hdr *hdrs, size_t n, const char *name);

/* True if the comma-separated list in value holds token (case-insensitive). */
bool hdr_list_has(const char *value, size_t len, const char *token);

/*
 * Parses a decimal number of at most max. Returns 0 on success, -1 if the
 * text is empty, holds anything but digits, or exceeds max.
 */
int hdr_parse_uint(const char *s, size_t len, unsigned long long max, unsigned long long *out);

/* True for the characters RFC 9110 allows in a token. */
bool hdr_is_tchar(unsigned char c);

#endif
