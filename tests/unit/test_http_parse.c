/*
 * Unit tests for http_parse.c: the encapsulated HTTP request and response
 * header blocks, whose length the Encapsulated header fixes. The RFC 3507
 * example blocks (sections 4.8.3 and 4.9.3) must parse, and so must what
 * proxies really relay; a block must be used exactly, so every strict prefix
 * and every block with bytes after its empty line is refused. Each parse is
 * of an exact-size heap copy so that AddressSanitizer catches over-reads.
 * Also tests http_request_host: the authority of an absolute target, the
 * authority of CONNECT, else the Host header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

/* RFC 3507 section 4.8.3, example 1, the request (170 bytes). */
static const char rfc_ex1_req[] = "GET / HTTP/1.1\r\n"
                                  "Host: www.origin-server.com\r\n"
                                  "Accept: text/html, text/plain\r\n"
                                  "Accept-Encoding: compress\r\n"
                                  "Cookie: ff39fk3jur@4ii0e02i\r\n"
                                  "If-None-Match: \"xyzzy\", \"r2d2xxxx\"\r\n"
                                  "\r\n";
/* Its modified request in the ICAP response (231 bytes). */
static const char rfc_ex1_mod[] = "GET /modified-path HTTP/1.1\r\n"
                                  "Host: www.origin-server.com\r\n"
                                  "Via: 1.0 icap-server.net (ICAP Example ReqMod Service 1.1)\r\n"
                                  "Accept: text/html, text/plain, image/gif\r\n"
                                  "Accept-Encoding: gzip, compress\r\n"
                                  "If-None-Match: \"xyzzy\", \"r2d2xxxx\"\r\n"
                                  "\r\n";
/* Example 2, the POST request headers (147 bytes). */
static const char rfc_ex2_req[] = "POST /origin-resource/form.pl HTTP/1.1\r\n"
                                  "Host: www.origin-server.com\r\n"
                                  "Accept: text/html, text/plain\r\n"
                                  "Accept-Encoding: compress\r\n"
                                  "Pragma: no-cache\r\n"
                                  "\r\n";
/* Example 3, the request (119 bytes) and the 403 the server makes (213). */
static const char rfc_ex3_req[] = "GET /naughty-content HTTP/1.1\r\n"
                                  "Host: www.naughty-site.com\r\n"
                                  "Accept: text/html, text/plain\r\n"
                                  "Accept-Encoding: compress\r\n"
                                  "\r\n";
static const char rfc_ex3_res[] = "HTTP/1.1 403 Forbidden\r\n"
                                  "Date: Wed, 08 Nov 2000 16:02:10 GMT\r\n"
                                  "Server: Apache/1.3.12 (Unix)\r\n"
                                  "Last-Modified: Thu, 02 Nov 2000 13:51:37 GMT\r\n"
                                  "ETag: \"63600-1989-3a017169\"\r\n"
                                  "Content-Length: 58\r\n"
                                  "Content-Type: text/html\r\n"
                                  "\r\n";
/* Section 4.9.3, example 4: request (137) and response (159) headers. */
static const char rfc_ex4_req[] = "GET /origin-resource HTTP/1.1\r\n"
                                  "Host: www.origin-server.com\r\n"
                                  "Accept: text/html, text/plain, image/gif\r\n"
                                  "Accept-Encoding: gzip, compress\r\n"
                                  "\r\n";
static const char rfc_ex4_res[] = "HTTP/1.1 200 OK\r\n"
                                  "Date: Mon, 10 Jan 2000 09:52:22 GMT\r\n"
                                  "Server: Apache/1.3.6 (Unix)\r\n"
                                  "ETag: \"63840-1ab7-378d415b\"\r\n"
                                  "Content-Type: text/html\r\n"
                                  "Content-Length: 51\r\n"
                                  "\r\n";
/* Its modified response in the ICAP response (222 bytes). */
static const char rfc_ex4_mod[] = "HTTP/1.1 200 OK\r\n"
                                  "Date: Mon, 10 Jan 2000  09:55:21 GMT\r\n"
                                  "Via: 1.0 icap.example.org (ICAP Example RespMod Service 1.1)\r\n"
                                  "Server: Apache/1.3.6 (Unix)\r\n"
                                  "ETag: \"63840-1ab7-378d415b\"\r\n"
                                  "Content-Type: text/html\r\n"
                                  "Content-Length: 92\r\n"
                                  "\r\n";

typedef int (*block_fn)(const char *, size_t, struct http_head *);

struct parsed {
	char *buf;
	int r;
	struct http_head h;
};

static void parse(struct parsed *p, block_fn fn, const char *in, size_t len)
{
	p->buf = malloc(len ? len : 1);
	assert_non_null(p->buf);
	memcpy(p->buf, in, len);
	p->r = fn(p->buf, len, &p->h);
}

static int parse_once(block_fn fn, const char *in, size_t len)
{
	struct parsed p;
	parse(&p, fn, in, len);
	free(p.buf);
	return p.r;
}

/*
 * A valid block parses; each strict prefix, and the block with anything after
 * it, does not. The caller frees p->buf.
 */
static void check_block(struct parsed *p, block_fn fn, const char *in, size_t len)
{
	for (size_t k = 0; k < len; k++)
		if (parse_once(fn, in, k) != -1)
			fail_msg("prefix of %zu bytes of \"%.*s\" parsed", k, (int)len, in);
	const char *tails[] = {"\r\n", "X", "0\r\n\r\n", "\0"};
	for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
		size_t tl = t == 3 ? 1 : strlen(tails[t]);
		char *b = malloc(len + tl);
		assert_non_null(b);
		memcpy(b, in, len);
		memcpy(b + len, tails[t], tl);
		if (parse_once(fn, b, len + tl) != -1)
			fail_msg("block with a tail parsed: \"%.*s\"", (int)(len + tl), b);
		free(b);
	}
	parse(p, fn, in, len);
	if (p->r != 0)
		fail_msg("block refused: \"%.*s\"", (int)len, in);
}

static void check_bad(block_fn fn, const char *in)
{
	if (parse_once(fn, in, strlen(in)) != -1)
		fail_msg("malformed block parsed: \"%s\"", in);
}

static void assert_span(const char *p, size_t len, const char *expect)
{
	if (len != strlen(expect) || memcmp(p, expect, len) != 0)
		fail_msg("got \"%.*s\", expected \"%s\"", (int)len, p, expect);
}

static const struct hdr *field(const struct parsed *p, const char *name, const char *value)
{
	const struct hdr *h = hdr_find(p->h.hdrs, p->h.nhdrs, name);
	if (h == NULL)
		fail_msg("no %s header", name);
	assert_span(h->value, h->value_len, value);
	return h;
}

static void check_request(const char *in, const char *method, const char *target, int minor,
                          size_t nhdrs)
{
	struct parsed p;

	check_block(&p, http_parse_request_block, in, strlen(in));
	assert_span(p.h.method, p.h.method_len, method);
	assert_span(p.h.target, p.h.target_len, target);
	assert_int_equal(p.h.version_minor, minor);
	assert_int_equal(p.h.nhdrs, nhdrs);
	/* Everything points into the block. */
	assert_true(p.h.method == p.buf);
	assert_true(p.h.target > p.buf && p.h.target < p.buf + strlen(in));
	free(p.buf);
}

static void check_response(const char *in, int status, int minor, size_t nhdrs)
{
	struct parsed p;

	check_block(&p, http_parse_response_block, in, strlen(in));
	assert_int_equal(p.h.status, status);
	assert_int_equal(p.h.version_minor, minor);
	assert_int_equal(p.h.nhdrs, nhdrs);
	free(p.buf);
}

static void test_rfc_request_blocks(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(strlen(rfc_ex1_req), 170);
	assert_int_equal(strlen(rfc_ex1_mod), 231);
	assert_int_equal(strlen(rfc_ex2_req), 147);
	assert_int_equal(strlen(rfc_ex3_req), 119);
	assert_int_equal(strlen(rfc_ex4_req), 137);
	check_request(rfc_ex1_req, "GET", "/", 1, 5);
	check_request(rfc_ex1_mod, "GET", "/modified-path", 1, 5);
	check_request(rfc_ex2_req, "POST", "/origin-resource/form.pl", 1, 4);
	check_request(rfc_ex3_req, "GET", "/naughty-content", 1, 3);
	check_request(rfc_ex4_req, "GET", "/origin-resource", 1, 3);

	check_block(&p, http_parse_request_block, rfc_ex1_req, strlen(rfc_ex1_req));
	field(&p, "Cookie", "ff39fk3jur@4ii0e02i");
	field(&p, "If-None-Match", "\"xyzzy\", \"r2d2xxxx\"");
	free(p.buf);
}

static void test_rfc_response_blocks(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(strlen(rfc_ex3_res), 213);
	assert_int_equal(strlen(rfc_ex4_res), 159);
	assert_int_equal(strlen(rfc_ex4_mod), 222);
	check_response(rfc_ex3_res, 403, 1, 6);
	check_response(rfc_ex4_res, 200, 1, 5);
	check_response(rfc_ex4_mod, 200, 1, 6);

	check_block(&p, http_parse_response_block, rfc_ex4_res, strlen(rfc_ex4_res));
	field(&p, "Content-Length", "51");
	field(&p, "etag", "\"63840-1ab7-378d415b\"");
	free(p.buf);
}

static void test_request_forms(void **state)
{
	(void)state;
	check_request("GET / HTTP/1.0\r\n\r\n", "GET", "/", 0, 0);
	check_request("GET http://www.example.com/a?b=c HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
	              "GET", "http://www.example.com/a?b=c", 1, 1);
	check_request("CONNECT www.example.com:443 HTTP/1.1\r\n\r\n", "CONNECT",
	              "www.example.com:443", 1, 0);
	check_request("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS", "*", 1, 1);
	check_request("PROPFIND /dav/ HTTP/1.1\r\nDepth: 1\r\n\r\n", "PROPFIND", "/dav/", 1, 1);
	check_request("X-CUSTOM.m~1 /p HTTP/1.1\r\n\r\n", "X-CUSTOM.m~1", "/p", 1, 0);
	check_request("GET /caf\xc3\xa9?q=%20 HTTP/1.1\r\n\r\n", "GET", "/caf\xc3\xa9?q=%20", 1, 0);
	check_request("GET / HTTP/1.9\r\n\r\n", "GET", "/", 9, 0);
}

static void test_bad_request_lines(void **state)
{
	block_fn f = http_parse_request_block;

	(void)state;
	check_bad(f, "");
	check_bad(f, "\r\n");
	check_bad(f, "\r\n\r\n");
	check_bad(f, "GET / HTTP/1.1");
	check_bad(f, "GET / HTTP/1.1\r\n");
	check_bad(f, "GET / HTTP/1.1\n\r\n");
	check_bad(f, "GET / HTTP/1.1\r\n\n");
	check_bad(f, "GET / HTTP/1.1\r\r\n\r\n");
	check_bad(f, "GET / HTTP/1.1 \r\n\r\n");
	check_bad(f, "GET  / HTTP/1.1\r\n\r\n");
	check_bad(f, "GET /  HTTP/1.1\r\n\r\n");
	check_bad(f, " GET / HTTP/1.1\r\n\r\n");
	check_bad(f, "GET\t/ HTTP/1.1\r\n\r\n");
	check_bad(f, "GET /\tHTTP/1.1\r\n\r\n");
	check_bad(f, "GET HTTP/1.1\r\n\r\n");
	check_bad(f, "GET /\r\n\r\n");
	check_bad(f, "GET / \r\n\r\n");
	check_bad(f, " / HTTP/1.1\r\n\r\n");
	check_bad(f, "G(T / HTTP/1.1\r\n\r\n");
	check_bad(f, "G\xc3\xa9T / HTTP/1.1\r\n\r\n");
	check_bad(f, "GET /\x01 HTTP/1.1\r\n\r\n");
	check_bad(f, "GET /\x7f HTTP/1.1\r\n\r\n");
	check_bad(f, "GET / HTTP/2.0\r\n\r\n");
	check_bad(f, "GET / HTTP/2\r\n\r\n");
	check_bad(f, "GET / HTTP/1.10\r\n\r\n");
	check_bad(f, "GET / HTTP/1.\r\n\r\n");
	check_bad(f, "GET / HTTP/1\r\n\r\n");
	check_bad(f, "GET / HTTP/1.x\r\n\r\n");
	check_bad(f, "GET / http/1.1\r\n\r\n");
	check_bad(f, "GET / ICAP/1.0\r\n\r\n");
	check_bad(f, "GET / HTTP/1.1 extra\r\n\r\n");
	check_bad(f, "HTTP/1.1 200 OK\r\n\r\n");
	static const char nul[] = "GET /\0 HTTP/1.1\r\n\r\n";
	assert_int_equal(parse_once(f, nul, sizeof(nul) - 1), -1);
	static const char nul2[] = "GET / HTTP/1.1\0\r\n\r\n";
	assert_int_equal(parse_once(f, nul2, sizeof(nul2) - 1), -1);
}

static void test_bad_fields(void **state)
{
	block_fn fns[] = {http_parse_request_block, http_parse_response_block};
	const char *lines[] = {"GET / HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n"};
	const char *bad[] = {
	        "Host : h\r\n\r\n",       "Host\t: h\r\n\r\n",   "Host: h\n\r\n",
	        "Host: h\r\n\n",          "Host: h\rX\r\n\r\n",  "Host: h\r\n folded\r\n\r\n",
	        "Host: h\r\n\tf\r\n\r\n", "Host: h\x01\r\n\r\n", ": h\r\n\r\n",
	        "Ho st: h\r\n\r\n",       "Host\r\n\r\n",        "Host: h\r\n",
	        "Host: h\r\n\r",
	};

	(void)state;
	for (size_t f = 0; f < 2; f++)
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			char in[256];
			snprintf(in, sizeof(in), "%s%s", lines[f], bad[b]);
			check_bad(fns[f], in);
		}
}

static char *many_fields(const char *line, size_t n, size_t *len)
{
	size_t cap = strlen(line) + n * 16 + 3;
	char *b = malloc(cap);
	size_t o;

	assert_non_null(b);
	o = (size_t)snprintf(b, cap, "%s", line);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(b + o, cap - o, "X-%03zu: v\r\n", i);
	o += (size_t)snprintf(b + o, cap - o, "\r\n");
	*len = o;
	return b;
}

static void test_too_many_headers(void **state)
{
	struct parsed p;
	size_t len;
	char *b;

	(void)state;
	b = many_fields("GET / HTTP/1.1\r\n", HTTP_MAX_HEADERS, &len);
	check_block(&p, http_parse_request_block, b, len);
	assert_int_equal(p.h.nhdrs, HTTP_MAX_HEADERS);
	free(p.buf);
	free(b);
	/* More fields than are stored: still valid, marked truncated. */
	b = many_fields("GET / HTTP/1.1\r\n", HTTP_MAX_HEADERS + 1, &len);
	check_block(&p, http_parse_request_block, b, len);
	assert_int_equal(p.h.nhdrs, HTTP_MAX_HEADERS);
	assert_true(p.h.truncated);
	free(p.buf);
	free(b);

	b = many_fields("HTTP/1.1 200 OK\r\n", HTTP_MAX_HEADERS, &len);
	check_block(&p, http_parse_response_block, b, len);
	assert_int_equal(p.h.nhdrs, HTTP_MAX_HEADERS);
	free(p.buf);
	free(b);
	b = many_fields("HTTP/1.1 200 OK\r\n", HTTP_MAX_HEADERS * 4, &len);
	check_block(&p, http_parse_response_block, b, len);
	assert_int_equal(p.h.nhdrs, HTTP_MAX_HEADERS);
	assert_true(p.h.truncated);
	free(p.buf);
	free(b);
}

static void test_response_lines(void **state)
{
	(void)state;
	check_response("HTTP/1.0 404 Not Found\r\nX: y\r\n\r\n", 404, 0, 1);
	check_response("HTTP/1.1 204\r\n\r\n", 204, 1, 0);
	check_response("HTTP/1.1 200 \r\n\r\n", 200, 1, 0);
	check_response("HTTP/1.1 100 Continue\r\n\r\n", 100, 1, 0);
	check_response("HTTP/1.1 599 Whatever It Is\r\n\r\n", 599, 1, 0);
	check_response("HTTP/1.1 200 Tab\there \xc3\xa9\r\n\r\n", 200, 1, 0);
	check_response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, 1, 1);
}

static void test_bad_response_lines(void **state)
{
	block_fn f = http_parse_response_block;

	(void)state;
	check_bad(f, "");
	check_bad(f, "\r\n");
	check_bad(f, "HTTP/1.1 200 OK\r\n");
	check_bad(f, "HTTP/1.1 200 OK");
	check_bad(f, "HTTP/1.1 20 OK\r\n\r\n");
	check_bad(f, "HTTP/1.1 20\r\n\r\n");
	check_bad(f, "HTTP/1.1 2000 OK\r\n\r\n");
	check_bad(f, "HTTP/1.1 099 Low\r\n\r\n");
	check_bad(f, "HTTP/1.1 000 Zero\r\n\r\n");
	check_bad(f, "HTTP/1.1 abc OK\r\n\r\n");
	check_bad(f, "HTTP/1.1 +20 OK\r\n\r\n");
	check_bad(f, "HTTP/1.1 -20 OK\r\n\r\n");
	check_bad(f, "HTTP/1.1  200 OK\r\n\r\n");
	check_bad(f, "HTTP/1.1\t200 OK\r\n\r\n");
	check_bad(f, "HTTP/1.1 200\tOK\r\n\r\n");
	check_bad(f, "HTTP/2 200 OK\r\n\r\n");
	check_bad(f, "HTTP/2.0 200 OK\r\n\r\n");
	check_bad(f, "HTTP/1.x 200 OK\r\n\r\n");
	check_bad(f, "http/1.1 200 OK\r\n\r\n");
	check_bad(f, "ICAP/1.0 200 OK\r\n\r\n");
	check_bad(f, " HTTP/1.1 200 OK\r\n\r\n");
	check_bad(f, "HTTP/1.1 200 OK\n\r\n");
	check_bad(f, "HTTP/1.1 200 O\rK\r\n\r\n");
	check_bad(f, "HTTP/1.1 200 O\x01K\r\n\r\n");
	check_bad(f, "HTTP/1.1 200 OK\x1b\r\n\r\n");
	check_bad(f, "GET / HTTP/1.1\r\n\r\n");
	static const char nul[] = "HTTP/1.1 200 O\0K\r\n\r\n";
	assert_int_equal(parse_once(f, nul, sizeof(nul) - 1), -1);
}

/* The host of a request block, or NULL if there is none. */
static void check_host(const char *block, const char *expect)
{
	struct parsed p;
	const char *host = NULL;

	check_block(&p, http_parse_request_block, block, strlen(block));
	size_t n = http_request_host(&p.h, &host);
	if (expect == NULL) {
		if (n != 0)
			fail_msg("host \"%.*s\" found in \"%s\"", (int)n, host, block);
	} else {
		if (n == 0)
			fail_msg("no host found in \"%s\"", block);
		assert_span(host, n, expect);
		assert_true(host >= p.buf && host + n <= p.buf + strlen(block));
	}
	free(p.buf);
}

static void test_request_host(void **state)
{
	(void)state;
	check_host(rfc_ex1_req, "www.origin-server.com");
	check_host("GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n", "a.test");
	check_host("GET /x HTTP/1.1\r\nhost:   a.test:8080  \r\n\r\n", "a.test:8080");
	check_host("GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n", NULL);
	check_host("OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n", "a.test");
	/* Absolute form: the target's authority wins over Host. */
	check_host("GET http://www.example.com:8080/p?q HTTP/1.1\r\nHost: other.test\r\n\r\n",
	           "www.example.com:8080");
	check_host("GET http://www.example.com HTTP/1.1\r\n\r\n", "www.example.com");
	check_host("GET https://www.example.com?q=1 HTTP/1.1\r\n\r\n", "www.example.com");
	check_host("GET http://www.example.com#f HTTP/1.1\r\n\r\n", "www.example.com");
	check_host("GET http://user:pw@www.example.com/ HTTP/1.1\r\n\r\n", "www.example.com");
	check_host("GET http://www.example.com/a@b HTTP/1.1\r\n\r\n", "www.example.com");
	check_host("GET ftp://[::1]:21/f HTTP/1.1\r\n\r\n", "[::1]:21");
	check_host("GET HTTP://WWW.EXAMPLE.COM/ HTTP/1.1\r\n\r\n", "WWW.EXAMPLE.COM");
	check_host("GET http:/// HTTP/1.1\r\nHost: a.test\r\n\r\n", NULL);
	/* CONNECT: the authority form. */
	check_host("CONNECT www.example.com:443 HTTP/1.1\r\nHost: x.test\r\n\r\n",
	           "www.example.com:443");
	/*
	 * Origin form with "://" further on is not absolute: the host is the
	 * Host header, not something a query string names.
	 */
	check_host("GET /redirect?to=http://evil.test/ HTTP/1.1\r\nHost: good.test\r\n\r\n",
	           "good.test");
	check_host("GET /a://b HTTP/1.1\r\nHost: good.test\r\n\r\n", "good.test");
	check_host("GET /?u=http://evil.test HTTP/1.1\r\n\r\n", NULL);
	check_host("GET ://evil.test/ HTTP/1.1\r\nHost: good.test\r\n\r\n", "good.test");
	check_host("GET 1http://evil.test/ HTTP/1.1\r\nHost: good.test\r\n\r\n", "good.test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc_request_blocks),
	        cmocka_unit_test(test_rfc_response_blocks),
	        cmocka_unit_test(test_request_forms),
	        cmocka_unit_test(test_bad_request_lines),
	        cmocka_unit_test(test_bad_fields),
	        cmocka_unit_test(test_too_many_headers),
	        cmocka_unit_test(test_response_lines),
	        cmocka_unit_test(test_bad_response_lines),
	        cmocka_unit_test(test_request_host),
	};
	return cmocka_run_group_tests_name("http_parse", tests, NULL, NULL);
}
