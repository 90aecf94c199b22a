/*
 * Unit tests for url_canon.c, the other entry points and robustness: HTTP
 * request forms (origin-form with a Host header, absolute-form, CONNECT's
 * authority-form, OPTIONS *), "domains" list lines, host suffixes; every
 * prefix of a few URLs and thousands of random mutations through all entry
 * points (no crash under ASan/UBSan, well-formed and idempotent results);
 * and a loose guard on the time per URL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "url_canon.h"
#include "url_canon_check.h"

struct req_case {
	const char *method, *target, *host; /* host NULL: none */
	const char *want_host;              /* NULL: -1 expected */
	unsigned port;
	const char *path;
};

static void test_requests(void **state)
{
	(void)state;
	static const struct req_case t[] = {
	        /* origin-form with Host */
	        {"GET", "/a/../b?x", "Shop.EXAMPLE", "shop.example", 0, "/b?x"},
	        {"GET", "/", "shop.example:8080", "shop.example", 8080, "/"},
	        {"GET", "/", " shop.example. ", "shop.example", 0, "/"},
	        {"GET", "/", "[::1]:8080", "[::1]", 8080, "/"},
	        {"GET", "/", "[2001:DB8::0:1]", "[2001:db8::1]", 0, "/"},
	        {"GET", "/", "0x7f.1", "127.0.0.1", 0, "/"},
	        {"GET", "/", "[::ffff:c000:242]:8080", "192.0.2.66", 8080, "/"},
	        {"GET", "/",
	         "b\xc3\xbc"
	         "cher.example",
	         "xn--bcher-kva.example", 0, "/"},
	        {"GET", "/", "x@shop.example", "shop.example", 0, "/"},
	        {"POST", "/%2e%2e/x#f", "shop.example", "shop.example", 0, "/x"},
	        {"GET", "//evil.example/x", "good.example", "good.example", 0, "/evil.example/x"},
	        {"GET", "\\\\evil.example\\x", "good.example", "good.example", 0,
	         "/evil.example/x"},
	        {"GET", " /x ", "shop.example", "shop.example", 0, "/x"},
	        {"OPTIONS", "*", "shop.example", "shop.example", 0, "/"},
	        {"GET", "/", NULL, NULL, 0, NULL},
	        {"GET", "/", "", NULL, 0, NULL},
	        {"GET", "/", "   ", NULL, 0, NULL},
	        {"GET", "/", "shop.example:bad", NULL, 0, NULL},
	        {"GET", "/", "shop.example:70000", NULL, 0, NULL},
	        {"GET", "/", "shop example", NULL, 0, NULL},
	        {"OPTIONS", "*", NULL, NULL, 0, NULL},
	        /* absolute-form: Host ignored */
	        {"GET", "http://a.example/x", "b.example", "a.example", 0, "/x"},
	        {"GET", "http://a.example:8080/x", NULL, "a.example", 8080, "/x"},
	        {"GET", "http://[::ffff:192.0.2.66]/x", "b.example", "192.0.2.66", 0, "/x"},
	        {"GET", "HTTPS://user@A.example/", "b.example", "a.example", 0, "/"},
	        {"GET", "http://", "b.example", NULL, 0, NULL},
	        {"GET", "", "b.example", NULL, 0, NULL},
	        /* CONNECT: authority-form, path "/" */
	        {"CONNECT", "shop.example:443", NULL, "shop.example", 443, "/"},
	        {"CONNECT", "SHOP.example.:443", "other.example", "shop.example", 443, "/"},
	        {"CONNECT", "[2001:db8::1]:443", NULL, "[2001:db8::1]", 443, "/"},
	        {"CONNECT", "[::1]:443", NULL, "[::1]", 443, "/"},
	        {"CONNECT", "195.8323083:443", NULL, "195.127.0.11", 443, "/"},
	        /* IPv4-mapped IPv6 is the IPv4 host the proxy connects to */
	        {"CONNECT", "[::ffff:c000:242]:443", NULL, "192.0.2.66", 443, "/"},
	        {"CONNECT", "[::FFFF:192.0.2.66]:443", NULL, "192.0.2.66", 443, "/"},
	        {"CONNECT",
	         "b\xc3\xbc"
	         "cher.example:443",
	         NULL, "xn--bcher-kva.example", 443, "/"},
	        {"CONNECT", "shop.example", NULL, "shop.example", 0, "/"},
	        {"CONNECT", "shop.example:443/ignored", NULL, "shop.example", 443, "/"},
	        {"CONNECT", "shop.example:99999", NULL, NULL, 0, NULL},
	        {"CONNECT", "shop.example:x", NULL, NULL, 0, NULL},
	        {"CONNECT", "[::1:443", NULL, NULL, 0, NULL},
	        {"CONNECT", "", "shop.example", NULL, 0, NULL},
	        {"CONNECT", "/x", "shop.example", NULL, 0, NULL},
	        /* the method compares case-sensitively: "connect" is not CONNECT */
	        {"connect", "/x", "shop.example", "shop.example", 0, "/x"},
	        {"CONNECTX", "/x", "shop.example", "shop.example", 0, "/x"},
	};
	struct url_canon c;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t ml = strlen(t[i].method), tl = strlen(t[i].target);
		size_t hl = t[i].host ? strlen(t[i].host) : 0;
		char *m = dup_exact(t[i].method, ml), *tg = dup_exact(t[i].target, tl);
		char *h = dup_exact(t[i].host ? t[i].host : "", hl);
		int rc = url_canon_request(m, ml, tg, tl, h, hl, &c);
		free(m);
		free(tg);
		free(h);
		if (t[i].want_host == NULL) {
			if (rc != -1)
				print_error("case %zu %s %s: got %s\n", i, t[i].method, t[i].target,
				            c.host);
			assert_int_equal(rc, -1);
			continue;
		}
		if (rc != 0)
			print_error("case %zu %s %s: -1\n", i, t[i].method, t[i].target);
		assert_int_equal(rc, 0);
		assert_string_equal(c.host, t[i].want_host);
		assert_int_equal(c.port, t[i].port);
		assert_string_equal(c.path, t[i].path);
		check_well_formed(&c);
	}
}

/* List lines for "domains" files. */
static void test_host_lines(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out; /* out NULL: -1 */
	} t[] = {
	        {"Shop.EXAMPLE", "shop.example"},
	        {"*.shop.example", "shop.example"},
	        {".shop.example", "shop.example"},
	        {"..shop.example..", "shop.example"},
	        {"shop.example.", "shop.example"},
	        {"  shop.example \r", "shop.example"},
	        {"\tshop.example\r\n", "shop.example"},
	        {"www.shop.example", "www.shop.example"},
	        {"b\xc3\xbc"
	         "cher.example",
	         "xn--bcher-kva.example"},
	        {"*.\xe4\xbe\x8b\xe3\x81\x88\xe3\x80\x82\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
	         "xn--r8jz45g.xn--zckzah"},
	        {"10.0.0.1", "10.0.0.1"},
	        {"0x0a000001", "10.0.0.1"},
	        {"012.0.0.1", "10.0.0.1"},
	        {"::1", "[::1]"},
	        {"[::1]", "[::1]"},
	        {"2001:DB8::1", "[2001:db8::1]"},
	        {"::ffff:10.0.0.1", "10.0.0.1"},
	        {"[::ffff:a00:1]", "10.0.0.1"},
	        {"sub_domain.example", "sub_domain.example"},
	        {"shop%2eexample", "shop.example"},
	        {"", NULL},
	        {"   ", NULL},
	        {"*", NULL},
	        {"*.", NULL},
	        {"*.*.shop.example", NULL},
	        {"shop.example/", NULL},
	        {"shop.example/path", NULL},
	        {"shop.example:80", NULL},
	        {"http://shop.example", NULL},
	        {"shop example", NULL},
	        {"#comment", NULL},
	        {"256.0.0.1", NULL},
	        {"::g", NULL},
	};
	char out[URL_CANON_HOST_MAX];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].in);
		char *in = dup_exact(t[i].in, n);
		int rc = url_canon_host(in, n, out, sizeof(out));
		free(in);
		if (t[i].out == NULL) {
			if (rc != -1)
				print_error("\"%s\": got %s\n", t[i].in, out);
			assert_int_equal(rc, -1);
			continue;
		}
		if (rc < 0)
			print_error("\"%s\": -1\n", t[i].in);
		assert_int_equal(rc, (int)strlen(t[i].out));
		assert_string_equal(out, t[i].out);
	}
	/* the output capacity counts the NUL */
	char small[13];
	assert_int_equal(url_canon_host(LIT("Shop.Example"), small, 13), 12);
	assert_string_equal(small, "shop.example");
	assert_int_equal(url_canon_host(LIT("Shop.Example"), small, 12), -1);
	assert_int_equal(url_canon_host(LIT("Shop.Example"), small, 0), -1);
}

static void test_host_suffixes(void **state)
{
	(void)state;
	struct url_canon c;
	size_t len = 99;
	const char *s;

	assert_int_equal(canon_exact(LIT("http://A.b.Example.com./x"), &c), 0);
	static const char *const want[] = {"a.b.example.com", "b.example.com", "example.com",
	                                   "com"};
	for (size_t i = 0; i < 4; i++) {
		s = url_canon_host_suffix(&c, i, &len);
		assert_non_null(s);
		assert_int_equal(len, strlen(want[i]));
		assert_memory_equal(s, want[i], len);
		assert_int_equal(s[len], 0);
	}
	assert_null(url_canon_host_suffix(&c, 4, &len));
	assert_null(url_canon_host_suffix(&c, 1000, &len));

	assert_int_equal(canon_exact(LIT("localhost"), &c), 0);
	s = url_canon_host_suffix(&c, 0, &len);
	assert_non_null(s);
	assert_int_equal(len, 9);
	assert_null(url_canon_host_suffix(&c, 1, &len));

	/* addresses are only themselves */
	assert_int_equal(canon_exact(LIT("http://10.1.2.3/"), &c), 0);
	assert_int_equal(c.host_kind, URL_HOST_IPV4);
	s = url_canon_host_suffix(&c, 0, &len);
	assert_non_null(s);
	assert_int_equal(len, 8);
	assert_null(url_canon_host_suffix(&c, 1, &len));
	assert_int_equal(canon_exact(LIT("http://[2001:db8::1]/"), &c), 0);
	assert_int_equal(c.host_kind, URL_HOST_IPV6);
	s = url_canon_host_suffix(&c, 0, &len);
	assert_non_null(s);
	assert_int_equal(len, 13);
	assert_null(url_canon_host_suffix(&c, 1, &len));
	assert_int_equal(canon_exact(LIT("http://[::ffff:10.1.2.3]/"), &c), 0);
	assert_int_equal(c.host_kind, URL_HOST_IPV4);
	assert_string_equal(c.host, "10.1.2.3");
	assert_null(url_canon_host_suffix(&c, 1, &len));
	assert_int_equal(canon_exact(LIT("http://shop.example/"), &c), 0);
	assert_int_equal(c.host_kind, URL_HOST_NAME);
}

/* Every prefix of a few URLs, through all three entry points. */
static void test_every_prefix(void **state)
{
	(void)state;
	static const char *const urls[] = {
	        "  hTTp://user:p%40ss@Www.%62\xc3\xbc"
	        "cher.Example.:8080/a/./b/../%2e%2e/c%252F"
	        "d\\e?q=1/../x&%41#frag  ",
	        "http://[2001:DB8::FFFF:192.0.2.1]:443/x%00y?z",
	        "//0x7F.0.0.01/%%%25%32%35/..",
	        "\xe4\xbe\x8b\xe3\x81\x88\xe3\x80\x82\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/\t/",
	        "http:\\\\evil.example\\@good.example/",
	        "shop.example:65535?%3F#",
	};
	struct url_canon c;
	char out[URL_CANON_HOST_MAX];
	for (size_t u = 0; u < sizeof(urls) / sizeof(urls[0]); u++) {
		size_t n = strlen(urls[u]);
		for (size_t k = 0; k <= n; k++) {
			char *p = dup_exact(urls[u], k);
			if (url_canon_url(p, k, &c) == 0) {
				check_well_formed(&c);
				if (!c.truncated)
					check_idempotent(&c);
			}
			if (url_canon_request("CONNECT", 7, p, k, NULL, 0, &c) == 0)
				check_well_formed(&c);
			if (url_canon_request("GET", 3, "/", 1, p, k, &c) == 0)
				check_well_formed(&c);
			if (url_canon_request("GET", 3, p, k, "h", 1, &c) == 0)
				check_well_formed(&c);
			int rc = url_canon_host(p, k, out, sizeof(out));
			assert_true(rc == -1 || (rc > 0 && (size_t)rc == strlen(out)));
			free(p);
		}
	}
}

/* Random mutations of URLs: no crash, well-formed results, idempotent. */
static void test_random_mutations(void **state)
{
	(void)state;
	static const char *const seeds[] = {
	        "http://user@Shop.Example:81/a/b/../c?d=e#f",
	        "http://0xc3.0177.11/%2e%2e/x",
	        "http://[::ffff:1.2.3.4]/",
	        "b\xc3\xbc"
	        "cher.example/%25%32%35",
	        "http://\xe4\xbe\x8b\xe3\x81\x88\xef\xbc\x8e\xe3\x83\x86\xe3\x82\xb9/a\\b",
	};
	static const char alphabet[] = "%./\\?#@:[]0x2eEfF5CaA \t\x80\xc3\xbc\xe3\x80\x82";
	uint64_t x = 0x9e3779b97f4a7c15u;
	char buf[128];
	char out[URL_CANON_HOST_MAX];
	struct url_canon *c = malloc(sizeof(*c));
	assert_non_null(c);
	for (int iter = 0; iter < 20000; iter++) {
		const char *s = seeds[iter % 5];
		size_t n = strlen(s);
		memcpy(buf, s, n);
		int edits = 1 + iter % 4;
		for (int e = 0; e < edits; e++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			size_t pos = (size_t)(x >> 8) % (n + 1);
			char ch = alphabet[(x >> 40) % (sizeof(alphabet) - 1)];
			switch ((x >> 56) % 3) {
			case 0: /* replace */
				if (pos < n)
					buf[pos] = ch;
				break;
			case 1: /* insert */
				if (n < sizeof(buf)) {
					memmove(buf + pos + 1, buf + pos, n - pos);
					buf[pos] = ch;
					n++;
				}
				break;
			default: /* delete */
				if (pos < n) {
					memmove(buf + pos, buf + pos + 1, n - pos - 1);
					n--;
				}
			}
		}
		char *p = dup_exact(buf, n);
		if (url_canon_url(p, n, c) == 0) {
			check_well_formed(c);
			check_idempotent(c);
		}
		int rc = url_canon_host(p, n, out, sizeof(out));
		if (rc >= 0) {
			/* a canonical host is its own canonical form */
			char again[URL_CANON_HOST_MAX];
			assert_int_equal(url_canon_host(out, (size_t)rc, again, sizeof(again)), rc);
			assert_string_equal(again, out);
		}
		free(p);
	}
	free(c);
}

/* Not a benchmark, a guard: a typical URL must stay far below 1 us. */
static void test_speed(void **state)
{
	(void)state;
	static const char url[] = "http://www.shop.example.com/catalog/item.php?id=12345&lang=en";
	struct url_canon c;
	struct timespec t0, t1;
	int n = 20000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++)
		assert_int_equal(url_canon_url(url, sizeof(url) - 1, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
	/* generous: this is the sanitizer build */
	assert_true(ns < 20000);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_requests),         cmocka_unit_test(test_host_lines),
	        cmocka_unit_test(test_host_suffixes),    cmocka_unit_test(test_every_prefix),
	        cmocka_unit_test(test_random_mutations), cmocka_unit_test(test_speed),
	};
	return cmocka_run_group_tests_name("url_canon_request", tests, NULL, NULL);
}
