/*
 * Fuzz target for the ICAP request head and what the transaction parses
 * after it: icap_parse_request on the data; when that gives a head with an
 * Encapsulated header, encap_parse of its value for every method, and for
 * the request's own method the encapsulated HTTP header blocks that follow
 * the head (http_parse_request_block, http_parse_response_block,
 * http_request_host). The raw data also goes straight to the HTTP block
 * parsers, encap_parse and hdr_parse_fields. Every parser gets exact-size
 * heap copies so that AddressSanitizer sees reads past the given length, and
 * the results are checked: pointers stay inside the input, a prefix of the
 * data never parses differently from what the whole data allows, accepted
 * Encapsulated values describe consistent, method-appropriate layouts, and
 * accepted HTTP blocks end with their empty line. Violations abort.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encap.h"
#include "hdr_parse.h"
#include "http_parse.h"
#include "icap_parse.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static char *copy_of(const uint8_t *d, size_t n)
{
	char *c = malloc(n ? n : 1);
	CHECK(c != NULL);
	c[0] = 0; /* defined even when empty (and GCC can see that it is) */
	if (n)
		memcpy(c, d, n);
	return c;
}

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;
	return a >= b && n <= len && a - b <= len - n;
}

static void check_fields(const struct hdr *h, size_t n, const char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		CHECK(h[i].name_len > 0 && inside(h[i].name, h[i].name_len, buf, len));
		CHECK(inside(h[i].value, h[i].value_len, buf, len));
		for (size_t k = 0; k < h[i].name_len; k++)
			CHECK(hdr_is_tchar((unsigned char)h[i].name[k]));
		for (size_t k = 0; k < h[i].value_len; k++)
			CHECK(h[i].value[k] != '\r' && h[i].value[k] != '\n' && h[i].value[k] != 0);
		if (h[i].value_len > 0) {
			CHECK(h[i].value[0] != ' ' && h[i].value[0] != '\t');
			char last = h[i].value[h[i].value_len - 1];
			CHECK(last != ' ' && last != '\t');
		}
	}
}

static bool ends_with_empty_line(const char *b, size_t n)
{
	return n >= 4 && memcmp(b + n - 4, "\r\n\r\n", 4) == 0;
}

static void http_request(const char *b, size_t n)
{
	static struct http_head h;
	char *c = copy_of((const uint8_t *)b, n);

	if (http_parse_request_block(c, n, &h) == 0) {
		CHECK(ends_with_empty_line(c, n));
		CHECK(h.method == c && h.method_len > 0);
		CHECK(h.target_len > 0 && inside(h.target, h.target_len, c, n));
		CHECK(h.version_minor >= 0 && h.version_minor <= 9);
		CHECK(h.nhdrs <= HTTP_MAX_HEADERS);
		check_fields(h.hdrs, h.nhdrs, c, n);
		const char *host = NULL;
		size_t hl = http_request_host(&h, &host);
		if (hl > 0)
			CHECK(inside(host, hl, c, n));
	}
	free(c);
}

static void http_response(const char *b, size_t n)
{
	static struct http_head h;
	char *c = copy_of((const uint8_t *)b, n);

	if (http_parse_response_block(c, n, &h) == 0) {
		CHECK(ends_with_empty_line(c, n));
		CHECK(h.status >= 100 && h.status <= 999);
		CHECK(h.version_minor >= 0 && h.version_minor <= 9);
		CHECK(h.nhdrs <= HTTP_MAX_HEADERS);
		check_fields(h.hdrs, h.nhdrs, c, n);
	}
	free(c);
}

static const enum icap_method methods[] = {
        ICAP_METHOD_UNKNOWN,
        ICAP_METHOD_OPTIONS,
        ICAP_METHOD_REQMOD,
        ICAP_METHOD_RESPMOD,
};

/* Checks what encap_parse accepted for method m. */
static void check_encap(const struct encap *e, enum icap_method m, size_t max_block)
{
	CHECK(m != ICAP_METHOD_UNKNOWN);
	CHECK(e->body_off <= (1ULL << 40));
	CHECK(e->req_hdr_len <= max_block && e->res_hdr_len <= max_block);
	if (e->req_hdr_len > 0) {
		CHECK(m != ICAP_METHOD_OPTIONS);
		CHECK(e->req_hdr_off == 0);
		CHECK(e->req_hdr_len == (e->res_hdr_len ? e->res_hdr_off : e->body_off));
	}
	if (e->res_hdr_len > 0) {
		CHECK(m == ICAP_METHOD_RESPMOD);
		CHECK(e->res_hdr_off == (e->req_hdr_len ? e->req_hdr_len : 0));
		CHECK(e->res_hdr_off + e->res_hdr_len == e->body_off);
	}
	if (e->req_hdr_len == 0 && e->res_hdr_len == 0)
		CHECK(e->body_off == 0 && e->req_hdr_off == 0 && e->res_hdr_off == 0);
	switch (m) {
	case ICAP_METHOD_OPTIONS:
		CHECK(e->body == ENCAP_OPT_BODY || e->body == ENCAP_NULL_BODY);
		CHECK(e->body_off == 0);
		break;
	case ICAP_METHOD_REQMOD:
		CHECK(e->body == ENCAP_REQ_BODY || e->body == ENCAP_NULL_BODY);
		break;
	case ICAP_METHOD_RESPMOD:
		CHECK(e->body == ENCAP_RES_BODY || e->body == ENCAP_NULL_BODY);
		break;
	case ICAP_METHOD_UNKNOWN:
		break;
	}
	const char *name = encap_body_name(e->body);
	CHECK(name != NULL && strstr(name, "-body") != NULL);
}

static void encap_all(const char *v, size_t n, size_t max_block, struct encap *ok_for, bool *ok)
{
	char *c = copy_of((const uint8_t *)v, n);

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct encap e;
		int r = encap_parse(c, n, methods[i], max_block, &e);
		CHECK(r == 0 || r == -1);
		ok[i] = r == 0;
		if (r == 0) {
			check_encap(&e, methods[i], max_block);
			ok_for[i] = e;
		}
	}
	free(c);
}

/* The head parsed; look at its fields and at what it encapsulates. */
static void after_head(const struct icap_request *req, const char *buf, size_t head, size_t size)
{
	const struct hdr *enc = hdr_find(req->hdrs, req->nhdrs, "Encapsulated");
	const struct hdr *pv = hdr_find(req->hdrs, req->nhdrs, "Preview");
	const struct hdr *al = hdr_find(req->hdrs, req->nhdrs, "Allow");
	unsigned long long v;

	CHECK(hdr_count(req->hdrs, req->nhdrs, "Encapsulated") >= (enc != NULL));
	if (pv != NULL && hdr_parse_uint(pv->value, pv->value_len, 1 << 20, &v) == 0)
		CHECK(v <= 1 << 20);
	if (al != NULL)
		(void)hdr_list_has(al->value, al->value_len, "204");
	if (enc == NULL)
		return;

	struct encap e[4];
	bool ok[4];
	encap_all(enc->value, enc->value_len, 65536, e, ok);

	size_t mi = (size_t)req->method; /* methods[] is indexed by the enum */
	if (!ok[mi])
		return;
	const char *body = buf + head;
	size_t rest = size - head;
	if (e[mi].req_hdr_len > 0 && e[mi].req_hdr_len <= rest)
		http_request(body + e[mi].req_hdr_off, e[mi].req_hdr_len);
	if (e[mi].res_hdr_len > 0 && e[mi].res_hdr_off <= rest &&
	    e[mi].res_hdr_len <= rest - e[mi].res_hdr_off)
		http_response(body + e[mi].res_hdr_off, e[mi].res_hdr_len);
}

static uint64_t hash(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ULL;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct icap_request req, preq;
	char *buf = copy_of(data, size);
	long r = icap_parse_request(buf, size, &req);

	CHECK(r == ICAP_PARSE_NEED_MORE || r == ICAP_PARSE_ERROR || (r > 0 && (size_t)r <= size));

	/* A prefix of the data must agree with what the whole data gave. */
	if (size > 0) {
		size_t k = (size_t)(hash(data, size) % size);
		char *p = copy_of(data, k);
		long pr = icap_parse_request(p, k, &preq);
		if (r == ICAP_PARSE_NEED_MORE || (r > 0 && k < (size_t)r))
			CHECK(pr == ICAP_PARSE_NEED_MORE);
		else if (r > 0)
			CHECK(pr == r && preq.nhdrs == req.nhdrs && preq.method == req.method);
		else
			CHECK(pr == ICAP_PARSE_NEED_MORE || pr == ICAP_PARSE_ERROR);
		free(p);
	}

	if (r > 0) {
		size_t head = (size_t)r;
		CHECK(head >= 4 && memcmp(buf + head - 2, "\r\n", 2) == 0);
		CHECK(req.method_name == buf && req.method_len > 0);
		if (req.method != ICAP_METHOD_UNKNOWN)
			CHECK(strlen(icap_method_name(req.method)) == req.method_len &&
			      memcmp(icap_method_name(req.method), buf, req.method_len) == 0);
		CHECK(req.uri_len > 7 && inside(req.uri, req.uri_len, buf, head));
		CHECK(req.service_len > 0 && req.service[0] == '/');
		CHECK(inside(req.service, req.service_len, buf, head) ||
		      (req.service_len == 1 && memcmp(req.service, "/", 1) == 0));
		CHECK(req.version_major >= 0 && req.version_major <= 9);
		CHECK(req.version_minor >= 0 && req.version_minor <= 9);
		CHECK(req.nhdrs <= ICAP_MAX_HEADERS);
		check_fields(req.hdrs, req.nhdrs, buf, head);
		after_head(&req, buf, head, size);
	}
	free(buf);

	/* The raw data as each of the other parsers' input. */
	http_request((const char *)data, size);
	http_response((const char *)data, size);
	struct encap e[4];
	bool ok[4];
	encap_all((const char *)data, size, (size_t)(hash(data, size) % 1024) + 1, e, ok);
	char *c = copy_of(data, size);
	struct hdr hdrs[8];
	size_t n = 8;
	long hr = hdr_parse_fields(c, size, hdrs, &n);
	CHECK(hr == HDR_ERROR || hr == HDR_NEED_MORE || (hr >= 2 && (size_t)hr <= size));
	if (hr > 0) {
		/* n counts every field; only the first 8 were stored. */
		CHECK(memcmp(c + hr - 2, "\r\n", 2) == 0);
		check_fields(hdrs, n < 8 ? n : 8, c, (size_t)hr);
	}
	free(c);
	return 0;
}
