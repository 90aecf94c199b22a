/*
 * http_parse: start line plus header fields for encapsulated HTTP messages.
 * The start line is checked loosely enough for what proxies really relay
 * (any method token, any target without spaces or controls, HTTP/1.x), and
 * strictly enough that the block's framing cannot be misread.
 */
#include "http_parse.h"

#include <string.h>
#include <strings.h>

/* Finds the CRLF ending the start line; returns the index of CR or -1. */
static long line_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\r')
			return buf[i + 1] == '\n' ? (long)i : -1;
		if (buf[i] == '\n' || buf[i] == 0)
			return -1;
	}
	return -1;
}

static int parse_fields(const char *buf, size_t len, size_t at, struct http_head *h)
{
	size_t n = HTTP_MAX_HEADERS;
	long r = hdr_parse_fields(buf + at, len - at, h->hdrs, &n);
	if (r < 0 || (size_t)r != len - at)
		return -1;
	h->truncated = n > HTTP_MAX_HEADERS;
	h->nhdrs = h->truncated ? HTTP_MAX_HEADERS : n;
	return 0;
}

static int parse_version(const char *v, size_t n, struct http_head *h)
{
	if (n != 8 || memcmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9')
		return -1;
	h->version_minor = v[7] - '0';
	return 0;
}

int http_parse_request_block(const char *buf, size_t len, struct http_head *h)
{
	memset(h, 0, sizeof(*h));
	long eol = line_end(buf, len);
	if (eol <= 0)
		return -1;
	size_t i = 0, e = (size_t)eol;
	while (i < e && hdr_is_tchar((unsigned char)buf[i]))
		i++;
	if (i == 0 || i >= e || buf[i] != ' ')
		return -1;
	h->method = buf;
	h->method_len = i++;
	size_t t = i;
	while (i < e && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f)
		i++;
	if (i == t || i >= e || buf[i] != ' ')
		return -1;
	h->target = buf + t;
	h->target_len = i - t;
	if (parse_version(buf + i + 1, e - i - 1, h) < 0)
		return -1;
	return parse_fields(buf, len, e + 2, h);
}

int http_parse_response_block(const char *buf, size_t len, struct http_head *h)
{
	memset(h, 0, sizeof(*h));
	long eol = line_end(buf, len);
	if (eol < 12)
		return -1;
	size_t e = (size_t)eol;
	if (parse_version(buf, 8, h) < 0 || buf[8] != ' ')
		return -1;
	for (int k = 9; k < 12; k++) {
		if (buf[k] < '0' || buf[k] > '9')
			return -1;
		h->status = h->status * 10 + (buf[k] - '0');
	}
	if (h->status < 100 || (e > 12 && buf[12] != ' '))
		return -1;
	for (size_t k = 12; k < e; k++)
		if ((unsigned char)buf[k] < 0x20 && buf[k] != '\t')
			return -1;
	return parse_fields(buf, len, e + 2, h);
}

/*
 * Length of the scheme if target is in absolute form (scheme "://" ...),
 * else 0: "://" further on, as in "/r?to=http://x/", does not make it one.
 */
static size_t absolute_scheme(const char *t, size_t n)
{
	size_t i = 0;

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	while (i < n && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
	                 (i > 0 && ((t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' ||
	                            t[i] == '.'))))
		i++;
	if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return 0;
	return i;
}

/*
 * The host[:port] of the authority a[0..n), the way url_canon reads one
 * (so that every module judges a request by the same host): it ends at the
 * first '/', '\\', '?' or '#', and user-info ends at the last '@' before
 * that ("http://u@exempt.example:1@evil.example/" is evil.example).
 */
static size_t authority_host(const char *a, size_t n, const char **host)
{
	size_t start = 0, k;
	for (k = 0; k < n; k++) {
		if (a[k] == '/' || a[k] == '\\' || a[k] == '?' || a[k] == '#')
			break;
		if (a[k] == '@')
			start = k + 1;
	}
	*host = a + start;
	return k - start;
}

size_t http_request_host(const struct http_head *h, const char **host)
{
	const char *t = h->target;
	size_t n = h->target_len;

	/* CONNECT: authority form, even if it holds "://" (as url_canon reads
	 * it); else absolute form: scheme "://" authority. */
	if (h->method_len == 7 && memcmp(h->method, "CONNECT", 7) == 0)
		return authority_host(t, n, host);
	size_t scheme = absolute_scheme(t, n);
	if (scheme > 0)
		return authority_host(t + scheme + 3, n - scheme - 3, host);
	/* A Host header is read like an authority too, as url_canon_request
	 * reads it. */
	const struct hdr *hh = hdr_find(h->hdrs, h->nhdrs, "Host");
	if (hh == NULL)
		return 0;
	return authority_host(hh->value, hh->value_len, host);
}
