/*
 * encap: strict parsing of the Encapsulated header. Every later offset
 * calculation trusts what this accepts, so it refuses anything ambiguous:
 * repeated or misordered entities, offsets that do not start at 0 or do not
 * increase, and entities the method cannot carry.
 */
#include "encap.h"

#include <string.h>
#include <strings.h>

#include "hdr_parse.h"

enum entity { E_REQ_HDR, E_RES_HDR, E_REQ_BODY, E_RES_BODY, E_NULL_BODY, E_OPT_BODY, E_COUNT };

static const char *const entity_names[E_COUNT] = {
        "req-hdr", "res-hdr", "req-body", "res-body", "null-body", "opt-body",
};

const char *encap_body_name(enum encap_body b)
{
	switch (b) {
	case ENCAP_REQ_BODY:
		return "req-body";
	case ENCAP_RES_BODY:
		return "res-body";
	case ENCAP_OPT_BODY:
		return "opt-body";
	case ENCAP_NULL_BODY:
		break;
	}
	return "null-body";
}

/* Which entities each method may carry. */
static unsigned allowed_mask(enum icap_method m)
{
	switch (m) {
	case ICAP_METHOD_REQMOD:
		return 1u << E_REQ_HDR | 1u << E_REQ_BODY | 1u << E_NULL_BODY;
	case ICAP_METHOD_RESPMOD:
		return 1u << E_REQ_HDR | 1u << E_RES_HDR | 1u << E_RES_BODY | 1u << E_NULL_BODY;
	case ICAP_METHOD_OPTIONS:
		return 1u << E_OPT_BODY | 1u << E_NULL_BODY;
	case ICAP_METHOD_UNKNOWN:
		break;
	}
	return 0;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static size_t skip_ows(const char *v, size_t len, size_t i)
{
	while (i < len && is_ows(v[i]))
		i++;
	return i;
}

int encap_parse(const char *v, size_t len, enum icap_method m, size_t max_block, struct encap *out)
{
	size_t i = 0, off[E_COUNT];
	int order[E_COUNT], n = 0;
	unsigned seen = 0, allowed = allowed_mask(m);

	memset(out, 0, sizeof(*out));
	while (i < len) {
		size_t name = i;
		while (i < len && v[i] != '=' && !is_ows(v[i]))
			i++;
		size_t name_end = i;
		i = skip_ows(v, len, i);
		if (i >= len || v[i] != '=')
			return -1;
		/* Names are case-insensitive, as quoted literals in RFC 2616's
		 * grammar are; white space may surround '=' and ','. */
		int e;
		for (e = 0; e < E_COUNT; e++)
			if (strlen(entity_names[e]) == name_end - name &&
			    strncasecmp(v + name, entity_names[e], name_end - name) == 0)
				break;
		if (e == E_COUNT || (seen & 1u << e) || !(allowed & 1u << e))
			return -1;
		i = skip_ows(v, len, i + 1);
		size_t num = i;
		while (i < len && v[i] >= '0' && v[i] <= '9')
			i++;
		unsigned long long o;
		if (hdr_parse_uint(v + num, i - num, 1ULL << 40, &o) < 0)
			return -1;
		seen |= 1u << e;
		off[e] = (size_t)o;
		order[n++] = e;
		/* Separator: a comma; nothing after the last entity. */
		i = skip_ows(v, len, i);
		if (i < len) {
			if (v[i] != ',')
				return -1;
			i = skip_ows(v, len, i + 1);
			if (i == len)
				return -1;
		}
	}
	if (n == 0)
		return -1;
	/* Headers first in the canonical order, then exactly one body, last. */
	for (int k = 0; k < n; k++) {
		bool is_body = order[k] >= E_REQ_BODY;
		if (is_body != (k == n - 1))
			return -1;
		if (k > 0 && order[k] <= order[k - 1] && !is_body)
			return -1;
		if (k == 0 ? off[order[k]] != 0 : off[order[k]] <= off[order[k - 1]])
			return -1;
	}
	for (int k = 0; k + 1 < n; k++)
		if (off[order[k + 1]] - off[order[k]] > max_block)
			return -1;

	if (seen & 1u << E_REQ_HDR) {
		out->req_hdr_off = off[E_REQ_HDR];
		out->req_hdr_len = (seen & 1u << E_RES_HDR ? off[E_RES_HDR] : off[order[n - 1]]) -
		                   off[E_REQ_HDR];
	}
	if (seen & 1u << E_RES_HDR) {
		out->res_hdr_off = off[E_RES_HDR];
		out->res_hdr_len = off[order[n - 1]] - off[E_RES_HDR];
	}
	switch (order[n - 1]) {
	case E_REQ_BODY:
		out->body = ENCAP_REQ_BODY;
		break;
	case E_RES_BODY:
		out->body = ENCAP_RES_BODY;
		break;
	case E_OPT_BODY:
		out->body = ENCAP_OPT_BODY;
		break;
	default:
		out->body = ENCAP_NULL_BODY;
		break;
	}
	out->body_off = off[order[n - 1]];
	return 0;
}
