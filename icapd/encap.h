/*
 * encap: the Encapsulated header (RFC 3507 section 4.4.1), which says where
 * the encapsulated HTTP header blocks end and the body begins.
 */
#ifndef ICAPD_ENCAP_H
#define ICAPD_ENCAP_H

#include <stddef.h>

#include "icap_parse.h"

enum encap_body {
	ENCAP_NULL_BODY = 0,
	ENCAP_REQ_BODY,
	ENCAP_RES_BODY,
	ENCAP_OPT_BODY,
};

struct encap {
	/* Header blocks as offset and length; length 0 when absent. */
	size_t req_hdr_off, req_hdr_len;
	size_t res_hdr_off, res_hdr_len;
	enum encap_body body;
	size_t body_off; /* where the body (or, for null-body, the message) ends */
};

/*
 * Parses the value of an Encapsulated header for method m. The entities must
 * come in the order req-hdr, res-hdr, then exactly one of req-body, res-body,
 * null-body, opt-body; they must be the ones m allows; the first offset must
 * be 0 and offsets must increase strictly; each header block must be at most
 * max_block bytes. Returns 0, or -1 with out unspecified.
 */
int encap_parse(const char *value, size_t len, enum icap_method m, size_t max_block,
                struct encap *out);

/* The "name=off" text for a body kind, for replies. */
const char *encap_body_name(enum encap_body b);

#endif
