/*
 * icap_parse: the ICAP request line and header fields (RFC 3507 section 4.3),
 * parsed in place without allocation. The caller retries with more bytes on
 * ICAP_NEED_MORE; what the request means (service, Encapsulated, Preview) is
 * judged by the transaction, not here.
 */
#ifndef ICAPD_ICAP_PARSE_H
#define ICAPD_ICAP_PARSE_H

#include "hdr_parse.h"

/* ICAP heads come from proxies and carry a dozen fields; more is refused. */
#define ICAP_MAX_HEADERS 128

enum icap_method {
	ICAP_METHOD_UNKNOWN = 0,
	ICAP_METHOD_OPTIONS,
	ICAP_METHOD_REQMOD,
	ICAP_METHOD_RESPMOD,
};

/* Outcomes of icap_parse_request besides a byte count. */
#define ICAP_PARSE_ERROR     (-1L) /* malformed: 400 */
#define ICAP_PARSE_NEED_MORE (-2L)

struct icap_request {
	enum icap_method method; /* ICAP_METHOD_UNKNOWN for a well-formed other token: 501 */
	const char *method_name;
	size_t method_len;
	const char *uri; /* the whole request-URI */
	size_t uri_len;
	const char *service; /* path of the URI without query, always starting with '/' */
	size_t service_len;
	int version_major, version_minor; /* anything but 1.0 earns a 505 */
	struct hdr hdrs[ICAP_MAX_HEADERS];
	size_t nhdrs;
};

/*
 * Parses "METHOD icap://host[:port]/service[?query] ICAP/x.y" CRLF, the
 * header fields and the empty line. Returns the length of the head, or
 * ICAP_PARSE_NEED_MORE, or ICAP_PARSE_ERROR for anything malformed (also a
 * version that is not "ICAP/digit.digit", a URI that is not icap:// or
 * icaps://, or more than ICAP_MAX_HEADERS fields).
 */
long icap_parse_request(const char *buf, size_t len, struct icap_request *req);

const char *icap_method_name(enum icap_method m);

#endif
