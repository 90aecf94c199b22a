/*
 * http_parse: the HTTP request and response header blocks that an ICAP
 * message encapsulates, parsed in place without allocation. The block length
 * is known from the Encapsulated header, so the parse must use exactly all of
 * it: a block that ends early or runs on is malformed.
 */
#ifndef ICAPD_HTTP_PARSE_H
#define ICAPD_HTTP_PARSE_H

#include "hdr_parse.h"

#define HTTP_MAX_HEADERS 128

struct http_head {
	/* Request line, for a req-hdr block. */
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	/* Status line, for a res-hdr block. */
	int status;
	int version_minor;
	struct hdr hdrs[HTTP_MAX_HEADERS];
	size_t nhdrs;
	/*
	 * The block had more than HTTP_MAX_HEADERS fields: all were checked,
	 * only the first were stored. The block's size is the bound (HTTP sets
	 * no limit on the count); a module that judges on headers must not
	 * trust a lookup that found nothing in a truncated list.
	 */
	bool truncated;
};

/* Parse a whole req-hdr block of len bytes. Returns 0, or -1 if malformed. */
int http_parse_request_block(const char *buf, size_t len, struct http_head *h);

/* Parse a whole res-hdr block of len bytes. Returns 0, or -1 if malformed. */
int http_parse_response_block(const char *buf, size_t len, struct http_head *h);

/*
 * The host a request is for: the authority of an absolute target, else the
 * Host header, either read as url_canon reads an authority (up to '/', '\\',
 * '?' or '#'; user-info up to the last '@' dropped), so that the modules
 * agree on the host. Stores host[:port] in *host (pointing into the block)
 * and returns its length, 0 if there is none.
 */
size_t http_request_host(const struct http_head *h, const char **host);

#endif
