/*
 * icap_parse: the ICAP request head. The request line is checked byte by
 * byte so that a split anywhere gives "need more" until the error or the end
 * is in view; header fields are left to hdr_parse.
 */
#include "icap_parse.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum icap_method method;
} methods[] = {
        {"OPTIONS", ICAP_METHOD_OPTIONS},
        {"REQMOD", ICAP_METHOD_REQMOD},
        {"RESPMOD", ICAP_METHOD_RESPMOD},
};

const char *icap_method_name(enum icap_method m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].method == m)
			return methods[i].name;
	return "UNKNOWN";
}

static bool is_uri_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Finds the service path in an icap:// or icaps:// URI; 0 if it is not one. */
static int split_uri(struct icap_request *req)
{
	const char *u = req->uri;
	size_t n = req->uri_len, i;

	if (n > 7 && strncasecmp(u, "icap://", 7) == 0)
		i = 7;
	else if (n > 8 && strncasecmp(u, "icaps://", 8) == 0)
		i = 8;
	else
		return 0;
	size_t host = i;
	while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#')
		i++;
	if (i == host)
		return 0;
	size_t path = i;
	while (i < n && u[i] != '?' && u[i] != '#')
		i++;
	if (path == i) {
		/* "icap://host" names the root service "/". */
		req->service = "/";
		req->service_len = 1;
	} else {
		req->service = u + path;
		req->service_len = i - path;
	}
	return 1;
}

long icap_parse_request(const char *buf, size_t len, struct icap_request *req)
{
	size_t i = 0;

	memset(req, 0, sizeof(*req));
	/* Method: a token. */
	while (i < len && hdr_is_tchar((unsigned char)buf[i]))
		i++;
	if (i >= len)
		return ICAP_PARSE_NEED_MORE;
	if (i == 0 || buf[i] != ' ')
		return ICAP_PARSE_ERROR;
	req->method_name = buf;
	req->method_len = i;
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		if (strlen(methods[m].name) == i && memcmp(buf, methods[m].name, i) == 0)
			req->method = methods[m].method;
	i++;

	/* Request-URI. */
	size_t uri = i;
	while (i < len && is_uri_char((unsigned char)buf[i]))
		i++;
	if (i >= len)
		return ICAP_PARSE_NEED_MORE;
	if (i == uri || buf[i] != ' ')
		return ICAP_PARSE_ERROR;
	req->uri = buf + uri;
	req->uri_len = i - uri;
	i++;

	/* "ICAP/" DIGIT "." DIGIT CRLF */
	static const char proto[] = "ICAP/d.d\r\n";
	for (size_t k = 0; k < sizeof(proto) - 1; k++, i++) {
		if (i >= len)
			return ICAP_PARSE_NEED_MORE;
		unsigned char c = (unsigned char)buf[i];
		if (proto[k] == 'd') {
			if (c < '0' || c > '9')
				return ICAP_PARSE_ERROR;
			if (k == 5)
				req->version_major = c - '0';
			else
				req->version_minor = c - '0';
		} else if (c != (unsigned char)proto[k]) {
			return ICAP_PARSE_ERROR;
		}
	}
	if (!split_uri(req))
		return ICAP_PARSE_ERROR;

	size_t n = ICAP_MAX_HEADERS;
	long r = hdr_parse_fields(buf + i, len - i, req->hdrs, &n);
	if (r < 0)
		return r;
	if (n > ICAP_MAX_HEADERS)
		return ICAP_PARSE_ERROR;
	req->nhdrs = n;
	return (long)i + r;
}
