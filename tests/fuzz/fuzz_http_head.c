/*
 * Fuzz target for http_parse.c, the encapsulated HTTP header blocks
 * (req-hdr and res-hdr): the data goes whole, as an exact-size heap copy,
 * to http_parse_request_block and http_parse_response_block, and so does a
 * cut of it at a point derived from the data.
 *
 * Checked for an accepted block: it ends with its only empty line (the
 * block length comes from Encapsulated, so a block that ends early or runs
 * on is refused, and no cut of it other than the whole is accepted, except
 * one that also ends with an empty line); the start line's parts and every
 * field lie inside the block, names are tokens, values hold no CR, LF or
 * NUL and no outer white space; status 100-999 and HTTP/1.x; at most
 * HTTP_MAX_HEADERS fields kept, truncated only when that many were.
 *
 * For a request, what the modules make of it: http_request_host (which
 * clamav's exempt hosts and the host log use) and url_canon_request (which
 * the URL filter uses) must name the same site. The host from
 * http_request_host, with its port and a trailing dot dropped as clamav
 * does, and canonicalized, is either not a valid host or the one
 * url_canon_request found: otherwise one module could judge a request by a
 * different host than another (an exempt host in the user-info, say).
 * Violations abort.
 */
#include "fuzz_util.h"
#include "http_parse.h"
#include "url_canon.h"

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;
	return a >= b && n <= len && a - b <= len - n;
}

static void check_fields(const struct http_head *h, const char *buf, size_t len)
{
	CHECK(h->nhdrs <= HTTP_MAX_HEADERS);
	if (h->truncated)
		CHECK(h->nhdrs == HTTP_MAX_HEADERS);
	for (size_t i = 0; i < h->nhdrs; i++) {
		const struct hdr *f = &h->hdrs[i];
		CHECK(f->name_len > 0 && inside(f->name, f->name_len, buf, len));
		CHECK(inside(f->value, f->value_len, buf, len));
		CHECK(f->name > buf && f->name[-1] == '\n');
		for (size_t k = 0; k < f->name_len; k++)
			CHECK(hdr_is_tchar((unsigned char)f->name[k]));
		for (size_t k = 0; k < f->value_len; k++)
			CHECK(f->value[k] != '\r' && f->value[k] != '\n' && f->value[k] != 0);
		if (f->value_len > 0) {
			CHECK(f->value[0] != ' ' && f->value[0] != '\t');
			char last = f->value[f->value_len - 1];
			CHECK(last != ' ' && last != '\t');
		}
		if (i > 0)
			CHECK(f->name > h->hdrs[i - 1].value + h->hdrs[i - 1].value_len);
	}
}

/* Ends with CRLF CRLF, and that is the first empty line. */
static bool one_empty_line_at_end(const char *b, size_t n)
{
	if (n < 4 || memcmp(b + n - 4, "\r\n\r\n", 4) != 0)
		return false;
	return memmem(b, n, "\r\n\r\n", 4) == b + n - 4;
}

/* What clamav's host_exempt compares: the host without port or final dot. */
static int exempt_view(const char *host, size_t len, char *out)
{
	if (host[0] == '[') {
		const char *rb = memchr(host, ']', len);
		if (rb != NULL)
			len = (size_t)(rb - host) + 1;
	} else {
		const char *colon = memchr(host, ':', len);
		if (colon != NULL)
			len = (size_t)(colon - host);
	}
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0)
		return -1;
	char *c = fz_copy(host, len);
	int n = url_canon_host(c, len, out, URL_CANON_HOST_MAX);
	free(c);
	return n;
}

/* scheme "://": a target both read as absolute-form. */
static bool scheme_slashes(const char *t, size_t n)
{
	size_t i = 0;
	while (i < n && ((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z'))
		i++;
	while (i > 0 && i < n &&
	       (((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
	        t[i] == '+' || t[i] == '-' || t[i] == '.'))
		i++;
	return i > 0 && n - i >= 3 && memcmp(t + i, "://", 3) == 0;
}

static void same_site(const struct http_head *h)
{
	const char *host = NULL;
	size_t n = http_request_host(h, &host);
	if (n == 0)
		return;
	/* Only the target forms both read alike: a target such as
	 * "host:80/x" is a URL to url_canon_request but not absolute-form to
	 * http_request_host, which takes the Host header then. */
	const char *t = h->target;
	size_t tl = h->target_len;
	bool connect = h->method_len == 7 && memcmp(h->method, "CONNECT", 7) == 0;
	if (!connect && t[0] != '/' && t[0] != '\\' && !(tl == 1 && t[0] == '*') &&
	    !scheme_slashes(t, tl))
		return;

	const struct hdr *hh = hdr_find(h->hdrs, h->nhdrs, "Host");
	static struct url_canon c;
	if (url_canon_request(h->method, h->method_len, h->target, h->target_len,
	                      hh ? hh->value : NULL, hh ? hh->value_len : 0, &c) < 0)
		return;
	char view[URL_CANON_HOST_MAX];
	int vn = exempt_view(host, n, view);
	if (vn < 0)
		return;
	CHECK((size_t)vn == c.host_len && memcmp(view, c.host, c.host_len) == 0);
}

static int request(const char *b, size_t n, bool whole)
{
	static struct http_head h;
	char *c = fz_copy(b, n);
	int r = http_parse_request_block(c, n, &h);
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(one_empty_line_at_end(c, n));
		CHECK(h.method == c && h.method_len > 0);
		for (size_t k = 0; k < h.method_len; k++)
			CHECK(hdr_is_tchar((unsigned char)c[k]));
		CHECK(c[h.method_len] == ' ' && h.target == c + h.method_len + 1);
		CHECK(h.target_len > 0 && inside(h.target, h.target_len, c, n));
		for (size_t k = 0; k < h.target_len; k++)
			CHECK((unsigned char)h.target[k] > 0x20 && h.target[k] != 0x7f);
		CHECK(memcmp(h.target + h.target_len, " HTTP/1.", 8) == 0);
		CHECK(h.version_minor == h.target[h.target_len + 8] - '0');
		CHECK(h.status == 0);
		check_fields(&h, c, n);
		const char *host = NULL;
		size_t hl = http_request_host(&h, &host);
		if (hl > 0)
			CHECK(inside(host, hl, c, n));
		if (whole)
			same_site(&h);
	}
	free(c);
	return r;
}

static int response(const char *b, size_t n)
{
	static struct http_head h;
	char *c = fz_copy(b, n);
	int r = http_parse_response_block(c, n, &h);
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(one_empty_line_at_end(c, n));
		CHECK(memcmp(c, "HTTP/1.", 7) == 0 && h.version_minor == c[7] - '0');
		CHECK(h.status >= 100 && h.status <= 999);
		CHECK(h.method == NULL && h.target == NULL);
		check_fields(&h, c, n);
	}
	free(c);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	uint64_t h = fz_hash(data, size);
	int rq = request(d, size, true), rs = response(d, size);

	/* A cut is accepted only if it too ends with its one empty line. */
	if (size > 0) {
		size_t k = (size_t)(h % size);
		bool ends = one_empty_line_at_end(d, k);
		int cq = request(d, k, false), cs = response(d, k);
		if (!ends)
			CHECK(cq == -1 && cs == -1);
		if (rq == 0 || rs == 0)
			CHECK(!ends); /* an earlier empty line would end the block */
	}
	return 0;
}
