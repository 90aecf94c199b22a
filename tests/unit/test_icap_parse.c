/*
 * Unit tests for icap_parse.c: the ICAP request line and header fields
 * (RFC 3507 section 4.3). The RFC's example requests (sections 4.8.3, 4.9.3
 * and 4.10.3) are parsed verbatim. Every valid head is also parsed at each of
 * its prefixes, from exact-size heap copies so that AddressSanitizer catches
 * reads past the given length: strict prefixes must need more, and any input
 * that holds the whole head must give the same result as the head alone.
 * Malformed heads must need more until the bad byte is in view, then fail.
 * Unknown methods and versions other than 1.0 parse (the server answers 501
 * and 505); a bad version syntax or a non-icap URI is an error (400).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icap_parse.h"

/* RFC 3507 section 4.8.3, ICAP Request Modification Example 1. */
static const char rfc_ex1_head[] = "REQMOD icap://icap-server.net/server?arg=87 ICAP/1.0\r\n"
                                   "Host: icap-server.net\r\n"
                                   "Encapsulated: req-hdr=0, null-body=170\r\n"
                                   "\r\n";
static const char rfc_ex1_body[] = "GET / HTTP/1.1\r\n"
                                   "Host: www.origin-server.com\r\n"
                                   "Accept: text/html, text/plain\r\n"
                                   "Accept-Encoding: compress\r\n"
                                   "Cookie: ff39fk3jur@4ii0e02i\r\n"
                                   "If-None-Match: \"xyzzy\", \"r2d2xxxx\"\r\n"
                                   "\r\n";

/* Example 2: a POST with a chunked body. */
static const char rfc_ex2_head[] = "REQMOD icap://icap-server.net/server?arg=87 ICAP/1.0\r\n"
                                   "Host: icap-server.net\r\n"
                                   "Encapsulated: req-hdr=0, req-body=147\r\n"
                                   "\r\n";
static const char rfc_ex2_body[] = "POST /origin-resource/form.pl HTTP/1.1\r\n"
                                   "Host: www.origin-server.com\r\n"
                                   "Accept: text/html, text/plain\r\n"
                                   "Accept-Encoding: compress\r\n"
                                   "Pragma: no-cache\r\n"
                                   "\r\n"
                                   "1e\r\n"
                                   "I am posting this information.\r\n"
                                   "0\r\n"
                                   "\r\n";

/* Example 3. */
static const char rfc_ex3_head[] = "REQMOD icap://icap-server.net/content-filter ICAP/1.0\r\n"
                                   "Host: icap-server.net\r\n"
                                   "Encapsulated: req-hdr=0, null-body=119\r\n"
                                   "\r\n";
static const char rfc_ex3_body[] = "GET /naughty-content HTTP/1.1\r\n"
                                   "Host: www.naughty-site.com\r\n"
                                   "Accept: text/html, text/plain\r\n"
                                   "Accept-Encoding: compress\r\n"
                                   "\r\n";

/* Section 4.9.3, ICAP Response Modification Example 4. */
static const char rfc_ex4_head[] = "RESPMOD icap://icap.example.org/satisf ICAP/1.0\r\n"
                                   "Host: icap.example.org\r\n"
                                   "Encapsulated: req-hdr=0, res-hdr=137, res-body=296\r\n"
                                   "\r\n";
static const char rfc_ex4_body[] = "GET /origin-resource HTTP/1.1\r\n"
                                   "Host: www.origin-server.com\r\n"
                                   "Accept: text/html, text/plain, image/gif\r\n"
                                   "Accept-Encoding: gzip, compress\r\n"
                                   "\r\n"
                                   "HTTP/1.1 200 OK\r\n"
                                   "Date: Mon, 10 Jan 2000 09:52:22 GMT\r\n"
                                   "Server: Apache/1.3.6 (Unix)\r\n"
                                   "ETag: \"63840-1ab7-378d415b\"\r\n"
                                   "Content-Type: text/html\r\n"
                                   "Content-Length: 51\r\n"
                                   "\r\n"
                                   "33\r\n"
                                   "This is data that was returned by an origin server.\r\n"
                                   "0\r\n"
                                   "\r\n";

/* Section 4.10.3, ICAP OPTIONS Example 5. */
static const char rfc_ex5_head[] = "OPTIONS icap://icap.server.net/sample-service ICAP/1.0\r\n"
                                   "Host: icap.server.net\r\n"
                                   "User-Agent: BazookaDotCom-ICAP-Client-Library/2.3\r\n"
                                   "\r\n";

/* What Squid sends: a RESPMOD with a zero-byte preview of an empty body. */
static const char squid_head[] = "RESPMOD icap://127.0.0.1:1344/avscan ICAP/1.0\r\n"
                                 "Host: 127.0.0.1:1344\r\n"
                                 "Date: Mon, 27 Nov 2023 10:00:00 GMT\r\n"
                                 "Encapsulated: req-hdr=0, res-hdr=43, res-body=81\r\n"
                                 "Preview: 0\r\n"
                                 "Allow: 204, trailers\r\n"
                                 "X-Client-IP: 127.0.0.1\r\n"
                                 "\r\n";
static const char squid_body[] = "GET /x HTTP/1.1\r\n"
                                 "Host: origin.test:8080\r\n"
                                 "\r\n"
                                 "HTTP/1.1 200 OK\r\n"
                                 "Content-Length: 0\r\n"
                                 "\r\n"
                                 "0; ieof\r\n"
                                 "\r\n";

/* A parse of an exact-size heap copy; the copy lives as long as the result. */
struct parsed {
	char *buf;
	long r;
	struct icap_request req;
};

static void parse(struct parsed *p, const char *in, size_t len)
{
	p->buf = malloc(len ? len : 1);
	assert_non_null(p->buf);
	memcpy(p->buf, in, len);
	p->r = icap_parse_request(p->buf, len, &p->req);
}

static long parse_once(const char *in, size_t len)
{
	struct parsed p;
	parse(&p, in, len);
	free(p.buf);
	return p.r;
}

static void assert_span(const char *p, size_t len, const char *expect, const char *buf,
                        size_t buflen)
{
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(p, expect, len);
	/* It points into the input (only the root service "/" may not). */
	if (p < buf || p + len > buf + buflen)
		assert_string_equal(expect, "/");
}

/* Two parses of the same head, in different buffers, found the same things. */
static void assert_same_parse(const struct parsed *a, const struct parsed *b)
{
	const struct icap_request *x = &a->req, *y = &b->req;

	assert_int_equal(a->r, b->r);
	assert_int_equal(x->method, y->method);
	assert_int_equal(x->method_name - a->buf, y->method_name - b->buf);
	assert_int_equal(x->method_len, y->method_len);
	assert_int_equal(x->uri - a->buf, y->uri - b->buf);
	assert_int_equal(x->uri_len, y->uri_len);
	assert_int_equal(x->service_len, y->service_len);
	assert_memory_equal(x->service, y->service, x->service_len);
	assert_int_equal(x->version_major, y->version_major);
	assert_int_equal(x->version_minor, y->version_minor);
	assert_int_equal(x->nhdrs, y->nhdrs);
	for (size_t i = 0; i < x->nhdrs; i++) {
		assert_int_equal(x->hdrs[i].name - a->buf, y->hdrs[i].name - b->buf);
		assert_int_equal(x->hdrs[i].name_len, y->hdrs[i].name_len);
		assert_int_equal(x->hdrs[i].value - a->buf, y->hdrs[i].value - b->buf);
		assert_int_equal(x->hdrs[i].value_len, y->hdrs[i].value_len);
	}
}

/*
 * A valid head of head_len bytes at the start of in[0..total): each strict
 * prefix needs more; each longer prefix parses exactly as the head alone.
 */
static void check_prefixes(const char *in, size_t head_len, size_t total)
{
	struct parsed whole, other;

	parse(&whole, in, head_len);
	assert_int_equal(whole.r, (long)head_len);
	for (size_t k = 0; k < head_len; k++) {
		long r = parse_once(in, k);
		if (r != ICAP_PARSE_NEED_MORE)
			fail_msg("prefix of %zu bytes gave %ld, not NEED_MORE", k, r);
	}
	for (size_t k = head_len; k <= total; k++) {
		parse(&other, in, k);
		assert_same_parse(&whole, &other);
		free(other.buf);
	}
	free(whole.buf);
}

/* The head of a full message, checked at every prefix; the caller frees. */
static void parse_message(struct parsed *p, const char *head, const char *body)
{
	size_t hl = strlen(head), bl = strlen(body);
	char *msg = malloc(hl + bl + 1);

	assert_non_null(msg);
	memcpy(msg, head, hl);
	memcpy(msg + hl, body, bl);
	check_prefixes(msg, hl, hl + bl);
	parse(p, msg, hl + bl);
	free(msg);
	assert_int_equal(p->r, (long)hl);
}

static const struct hdr *field(const struct parsed *p, const char *name, const char *value)
{
	const struct hdr *h = hdr_find(p->req.hdrs, p->req.nhdrs, name);
	if (h == NULL)
		fail_msg("no %s header", name);
	assert_int_equal(h->value_len, strlen(value));
	assert_memory_equal(h->value, value, h->value_len);
	return h;
}

static void check_line(const struct parsed *p, enum icap_method m, const char *name,
                       const char *uri, const char *service, size_t nhdrs)
{
	const struct icap_request *q = &p->req;
	size_t len = (size_t)p->r;

	assert_int_equal(q->method, m);
	assert_span(q->method_name, q->method_len, name, p->buf, len);
	assert_span(q->uri, q->uri_len, uri, p->buf, len);
	assert_span(q->service, q->service_len, service, p->buf, len);
	assert_int_equal(q->version_major, 1);
	assert_int_equal(q->version_minor, 0);
	assert_int_equal(q->nhdrs, nhdrs);
}

static void test_rfc_reqmod_example1(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(strlen(rfc_ex1_body), 170);
	parse_message(&p, rfc_ex1_head, rfc_ex1_body);
	check_line(&p, ICAP_METHOD_REQMOD, "REQMOD", "icap://icap-server.net/server?arg=87",
	           "/server", 2);
	field(&p, "Host", "icap-server.net");
	field(&p, "Encapsulated", "req-hdr=0, null-body=170");
	free(p.buf);
}

static void test_rfc_reqmod_example2(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(strstr(rfc_ex2_body, "1e\r\n") - rfc_ex2_body, 147);
	parse_message(&p, rfc_ex2_head, rfc_ex2_body);
	check_line(&p, ICAP_METHOD_REQMOD, "REQMOD", "icap://icap-server.net/server?arg=87",
	           "/server", 2);
	field(&p, "Encapsulated", "req-hdr=0, req-body=147");
	free(p.buf);
}

static void test_rfc_reqmod_example3(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(strlen(rfc_ex3_body), 119);
	parse_message(&p, rfc_ex3_head, rfc_ex3_body);
	check_line(&p, ICAP_METHOD_REQMOD, "REQMOD", "icap://icap-server.net/content-filter",
	           "/content-filter", 2);
	field(&p, "Encapsulated", "req-hdr=0, null-body=119");
	free(p.buf);
}

static void test_rfc_respmod_example4(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(strstr(rfc_ex4_body, "HTTP/1.1 200") - rfc_ex4_body, 137);
	assert_int_equal(strstr(rfc_ex4_body, "33\r\n") - rfc_ex4_body, 296);
	parse_message(&p, rfc_ex4_head, rfc_ex4_body);
	check_line(&p, ICAP_METHOD_RESPMOD, "RESPMOD", "icap://icap.example.org/satisf", "/satisf",
	           2);
	field(&p, "Host", "icap.example.org");
	field(&p, "Encapsulated", "req-hdr=0, res-hdr=137, res-body=296");
	free(p.buf);
}

static void test_rfc_options_example5(void **state)
{
	struct parsed p;

	(void)state;
	parse_message(&p, rfc_ex5_head, "");
	check_line(&p, ICAP_METHOD_OPTIONS, "OPTIONS", "icap://icap.server.net/sample-service",
	           "/sample-service", 2);
	field(&p, "User-Agent", "BazookaDotCom-ICAP-Client-Library/2.3");
	assert_null(hdr_find(p.req.hdrs, p.req.nhdrs, "Encapsulated"));
	free(p.buf);
}

static void test_squid_preview(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(strstr(squid_body, "HTTP/1.1 200") - squid_body, 43);
	assert_int_equal(strstr(squid_body, "0; ieof") - squid_body, 81);
	parse_message(&p, squid_head, squid_body);
	check_line(&p, ICAP_METHOD_RESPMOD, "RESPMOD", "icap://127.0.0.1:1344/avscan", "/avscan",
	           6);
	field(&p, "Preview", "0");
	const struct hdr *allow = field(&p, "Allow", "204, trailers");
	assert_true(hdr_list_has(allow->value, allow->value_len, "204"));
	free(p.buf);
}

static void test_pipelined_requests(void **state)
{
	struct parsed p;

	(void)state;
	/* A head followed by the next request's head: only the first is used. */
	parse_message(&p, rfc_ex5_head, rfc_ex5_head);
	assert_int_equal(p.r, (long)strlen(rfc_ex5_head));
	free(p.buf);
}

/* Request line for uri, then "Host: x" and the empty line. */
static void check_service(const char *uri, const char *service)
{
	char in[512];
	struct parsed p;

	snprintf(in, sizeof(in), "OPTIONS %s ICAP/1.0\r\nHost: x\r\n\r\n", uri);
	check_prefixes(in, strlen(in), strlen(in));
	parse(&p, in, strlen(in));
	if (p.r != (long)strlen(in))
		fail_msg("URI %s refused", uri);
	assert_span(p.req.uri, p.req.uri_len, uri, p.buf, strlen(in));
	if (p.req.service_len != strlen(service) ||
	    memcmp(p.req.service, service, p.req.service_len) != 0)
		fail_msg("URI %s gave service %.*s, not %s", uri, (int)p.req.service_len,
		         p.req.service, service);
	free(p.buf);
}

static void test_service_paths(void **state)
{
	(void)state;
	check_service("icap://icap.example.org/satisf", "/satisf");
	check_service("icap://host/svc?x=1&y=2", "/svc");
	check_service("icap://host:1344/a/b/c", "/a/b/c");
	check_service("icap://host/", "/");
	check_service("icap://host", "/");
	check_service("icap://host?mode=scan", "/");
	check_service("icap://host/svc#frag", "/svc");
	check_service("icap://[::1]:1344/svc", "/svc");
	check_service("icap://user@host/svc", "/svc");
	check_service("icaps://host/secure", "/secure");
	check_service("ICAP://HOST/Svc", "/Svc");
	check_service("IcApS://h/s", "/s");
	check_service("icap://host/%7Esvc", "/%7Esvc");
}

static void test_versions(void **state)
{
	struct parsed p;
	const char *in;

	(void)state;
	/* Well-formed versions parse; the server answers 505 to all but 1.0. */
	in = "OPTIONS icap://h/s ICAP/2.0\r\n\r\n";
	check_prefixes(in, strlen(in), strlen(in));
	parse(&p, in, strlen(in));
	assert_int_equal(p.r, (long)strlen(in));
	assert_int_equal(p.req.version_major, 2);
	assert_int_equal(p.req.version_minor, 0);
	free(p.buf);

	in = "REQMOD icap://h/s ICAP/1.1\r\n\r\n";
	parse(&p, in, strlen(in));
	assert_int_equal(p.r, (long)strlen(in));
	assert_int_equal(p.req.version_major, 1);
	assert_int_equal(p.req.version_minor, 1);
	free(p.buf);

	in = "REQMOD icap://h/s ICAP/0.9\r\n\r\n";
	parse(&p, in, strlen(in));
	assert_int_equal(p.r, (long)strlen(in));
	assert_int_equal(p.req.version_major, 0);
	assert_int_equal(p.req.version_minor, 9);
	free(p.buf);
}

static void check_method(const char *line, enum icap_method m, const char *name)
{
	char in[256];
	struct parsed p;

	snprintf(in, sizeof(in), "%s icap://h/s ICAP/1.0\r\nHost: h\r\n\r\n", line);
	check_prefixes(in, strlen(in), strlen(in));
	parse(&p, in, strlen(in));
	assert_int_equal(p.r, (long)strlen(in));
	assert_int_equal(p.req.method, m);
	assert_span(p.req.method_name, p.req.method_len, name, p.buf, strlen(in));
	free(p.buf);
}

static void test_methods(void **state)
{
	(void)state;
	check_method("OPTIONS", ICAP_METHOD_OPTIONS, "OPTIONS");
	check_method("REQMOD", ICAP_METHOD_REQMOD, "REQMOD");
	check_method("RESPMOD", ICAP_METHOD_RESPMOD, "RESPMOD");
	/* Well-formed other tokens parse as unknown: the server answers 501. */
	check_method("FOO", ICAP_METHOD_UNKNOWN, "FOO");
	check_method("GET", ICAP_METHOD_UNKNOWN, "GET");
	check_method("reqmod", ICAP_METHOD_UNKNOWN, "reqmod");
	check_method("REQMODX", ICAP_METHOD_UNKNOWN, "REQMODX");
	check_method("REQMO", ICAP_METHOD_UNKNOWN, "REQMO");
	check_method("X-MY.METHOD~1", ICAP_METHOD_UNKNOWN, "X-MY.METHOD~1");

	assert_string_equal(icap_method_name(ICAP_METHOD_OPTIONS), "OPTIONS");
	assert_string_equal(icap_method_name(ICAP_METHOD_REQMOD), "REQMOD");
	assert_string_equal(icap_method_name(ICAP_METHOD_RESPMOD), "RESPMOD");
	assert_string_equal(icap_method_name(ICAP_METHOD_UNKNOWN), "UNKNOWN");
}

/*
 * A malformed head whose error is in view once err_at + 1 bytes are there:
 * shorter prefixes need more, and from there on the parser may still need
 * more (the URI is judged at the end of the line) but, once it reports an
 * error, must keep reporting it; the whole input is an error.
 */
static void check_error_at(const char *in, size_t len, size_t err_at)
{
	int seen_error = 0;

	assert_true(err_at < len);
	for (size_t k = 0; k <= len; k++) {
		long r = parse_once(in, k);
		if (k <= err_at) {
			if (r != ICAP_PARSE_NEED_MORE)
				fail_msg("\"%.*s\": prefix %zu gave %ld before the error at %zu",
				         (int)len, in, k, r, err_at);
			continue;
		}
		if (r != ICAP_PARSE_NEED_MORE && r != ICAP_PARSE_ERROR)
			fail_msg("\"%.*s\": prefix %zu parsed (%ld)", (int)len, in, k, r);
		if ((seen_error || k == len) && r != ICAP_PARSE_ERROR)
			fail_msg("\"%.*s\": prefix %zu not an error", (int)len, in, k);
		seen_error |= r == ICAP_PARSE_ERROR;
	}
}

/* The error is at the first byte of bad, after the good text ok. */
struct bad_case {
	const char *ok, *bad;
};

static void check_cases(const struct bad_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char in[512];
		snprintf(in, sizeof(in), "%s%s", c[i].ok, c[i].bad);
		check_error_at(in, strlen(in), strlen(c[i].ok));
	}
}

#define L "REQMOD icap://h/s ICAP/1.0\r\n"

static void test_bad_versions(void **state)
{
	static const struct bad_case cases[] = {
	        {"REQMOD icap://h/s ICAP/1.0", "x\r\n\r\n"},
	        {"REQMOD icap://h/s ", "HTTP/1.1\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/1", "0\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/1", "\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/1.", "\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/", "10.0\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/1.0", "0\r\n\r\n"},
	        {"REQMOD icap://h/s ", "icap/1.0\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP", " 1.0\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/", "x.0\r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/1.0", " \r\n\r\n"},
	        {"REQMOD icap://h/s ICAP/1.0", "\n\r\n"},
	        {"REQMOD icap://h/s ICAP/1.0\r", "\r\n\r\n"},
	        {"REQMOD icap://h/s ", "\r\n\r\n"},
	};
	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	/* Without any version. */
	check_error_at("REQMOD icap://h/s\r\n\r\n", 21, 17);
}

static void test_bad_uris(void **state)
{
	static const struct bad_case cases[] = {
	        {"REQMOD ", "http://h/s ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "/s ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "* ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "icap:// ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "icaps:// ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "icap:///s ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "icap://?x ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "icap:/h/s ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", "icapx://h/s ICAP/1.0\r\n\r\n"},
	        {"REQMOD ", " icap://h/s ICAP/1.0\r\n\r\n"},
	        {"REQMOD icap://h/", "\x01s ICAP/1.0\r\n\r\n"},
	        {"REQMOD icap://h/", "\x7fs ICAP/1.0\r\n\r\n"},
	        {"REQMOD icap://h/", "\xc3\xa9 ICAP/1.0\r\n\r\n"},
	        {"REQMOD icap://h/s", "\tICAP/1.0\r\n\r\n"},
	        {"REQMOD icap://h/s", "\r\n\r\n"},
	};
	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	static const char nul[] = "REQMOD icap://h/\0s ICAP/1.0\r\n\r\n";
	check_error_at(nul, sizeof(nul) - 1, 16);
}

static void test_bad_methods(void **state)
{
	static const struct bad_case cases[] = {
	        {"", " REQMOD icap://h/s ICAP/1.0\r\n\r\n"},
	        {"", "\r\nREQMOD icap://h/s ICAP/1.0\r\n\r\n"},
	        {"", "\nREQMOD icap://h/s ICAP/1.0\r\n\r\n"},
	        {"REQMOD", "\ticap://h/s ICAP/1.0\r\n\r\n"},
	        {"RE", "\x01MOD icap://h/s ICAP/1.0\r\n\r\n"},
	        {"RE", "(MOD icap://h/s ICAP/1.0\r\n\r\n"},
	        {"RE", "/MOD icap://h/s ICAP/1.0\r\n\r\n"},
	        {"REQMOD", "\r\n\r\n"},
	        {"", "\xc3\xa9 icap://h/s ICAP/1.0\r\n\r\n"},
	};
	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	static const char nul[] = "REQ\0MOD icap://h/s ICAP/1.0\r\n\r\n";
	check_error_at(nul, sizeof(nul) - 1, 3);
}

static void test_bad_header_fields(void **state)
{
	static const struct bad_case cases[] = {
	        {L "Host", " : h\r\n\r\n"},
	        {L "Host", "\t: h\r\n\r\n"},
	        {L "Host: h", "\n\r\n"},
	        {L "Host: h\r\n", "\n"},
	        {L "Host: h\r", "x\r\n\r\n"},
	        {L "Host: h\r\n", " folded\r\n\r\n"},
	        {L "Host: h\r\n", "\tfolded\r\n\r\n"},
	        {L "Host: h", "\x01\r\n\r\n"},
	        {L "Host: h", "\x7f\r\n\r\n"},
	        {L "", ": h\r\n\r\n"},
	        {L "Ho", "(st: h\r\n\r\n"},
	        {L "Host", "\r\n\r\n"},
	        {L "Encapsulated: null-body=0\r\nX-Y", "\r\n\r\n"},
	};
	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
	static const char nul[] = L "Host: h\0\r\n\r\n";
	check_error_at(nul, sizeof(nul) - 1, strlen(L "Host: h"));
}

/* L followed by n fields and the empty line. */
static char *many_fields(size_t n, size_t *len)
{
	size_t cap = strlen(L) + n * 16 + 3;
	char *b = malloc(cap);

	assert_non_null(b);
	size_t o = (size_t)snprintf(b, cap, "%s", L);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(b + o, cap - o, "X-%03zu: v\r\n", i);
	o += (size_t)snprintf(b + o, cap - o, "\r\n");
	*len = o;
	return b;
}

static void test_too_many_headers(void **state)
{
	size_t len;
	char *b;
	struct parsed p;

	(void)state;
	b = many_fields(ICAP_MAX_HEADERS, &len);
	check_prefixes(b, len, len);
	parse(&p, b, len);
	assert_int_equal(p.r, (long)len);
	assert_int_equal(p.req.nhdrs, ICAP_MAX_HEADERS);
	free(p.buf);
	free(b);

	b = many_fields(ICAP_MAX_HEADERS + 1, &len);
	/* The count is known once the head is complete. */
	check_error_at(b, len, len - 1);
	free(b);
}

static void test_duplicate_encapsulated_visible(void **state)
{
	const char *in = L "Encapsulated: req-hdr=0, null-body=10\r\n"
	                   "encapsulated: req-hdr=0, null-body=20\r\n"
	                   "\r\n";
	struct parsed p;

	(void)state;
	/* The parser keeps both; the transaction refuses the request. */
	check_prefixes(in, strlen(in), strlen(in));
	parse(&p, in, strlen(in));
	assert_int_equal(p.r, (long)strlen(in));
	assert_int_equal(hdr_count(p.req.hdrs, p.req.nhdrs, "Encapsulated"), 2);
	free(p.buf);
}

static void test_request_is_reset(void **state)
{
	struct icap_request req;
	const char *in = L "Host: h\r\n\r\n";

	(void)state;
	/* Leftovers of an earlier parse do not survive a new one. */
	assert_int_equal(icap_parse_request(in, strlen(in), &req), (long)strlen(in));
	assert_int_equal(req.nhdrs, 1);
	assert_int_equal(icap_parse_request("FOO ", 4, &req), ICAP_PARSE_NEED_MORE);
	assert_int_equal(icap_parse_request("OPTIONS icap://h ICAP/1.0\r\n\r\n", 29, &req), 29);
	assert_int_equal(req.method, ICAP_METHOD_OPTIONS);
	assert_int_equal(req.nhdrs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc_reqmod_example1),
	        cmocka_unit_test(test_rfc_reqmod_example2),
	        cmocka_unit_test(test_rfc_reqmod_example3),
	        cmocka_unit_test(test_rfc_respmod_example4),
	        cmocka_unit_test(test_rfc_options_example5),
	        cmocka_unit_test(test_squid_preview),
	        cmocka_unit_test(test_pipelined_requests),
	        cmocka_unit_test(test_service_paths),
	        cmocka_unit_test(test_versions),
	        cmocka_unit_test(test_methods),
	        cmocka_unit_test(test_bad_versions),
	        cmocka_unit_test(test_bad_uris),
	        cmocka_unit_test(test_bad_methods),
	        cmocka_unit_test(test_bad_header_fields),
	        cmocka_unit_test(test_too_many_headers),
	        cmocka_unit_test(test_duplicate_encapsulated_visible),
	        cmocka_unit_test(test_request_is_reset),
	};
	return cmocka_run_group_tests_name("icap_parse", tests, NULL, NULL);
}
