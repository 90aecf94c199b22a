/*
 * Unit tests for url_canon.c, URLs: tables written from the Safe Browsing
 * canonicalization rules and of the ways a listed site can be spelled
 * differently (nested percent-encoding, encoded dots and slashes, user-info
 * and backslash tricks, every IPv4 form, IPv6 forms, IDN with full-width
 * dots), NUL bytes, garbage, hosts and paths past the maximum. Every
 * successful result is checked for form and canonicalized again, which
 * must give it back unchanged. Request forms, list lines, host suffixes
 * and random inputs are in test_url_canon_request.c.
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

#include "url_canon.h"
#include "url_canon_check.h"

struct url_case {
	const char *in;
	size_t len;       /* 0: strlen(in) */
	const char *host; /* NULL: -1 expected */
	unsigned port;
	const char *path;
};

static void run_cases(const struct url_case *t, size_t n)
{
	struct url_canon cs, *c = &cs;
	for (size_t i = 0; i < n; i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		int rc = canon_exact(t[i].in, len, c);
		if (t[i].host == NULL) {
			if (rc != -1)
				print_error("case %zu \"%s\": got %s %s, expected -1\n", i, t[i].in,
				            c->host, c->path);
			assert_int_equal(rc, -1);
			continue;
		}
		if (rc != 0)
			print_error("case %zu \"%s\": -1\n", i, t[i].in);
		assert_int_equal(rc, 0);
		if (strcmp(c->host, t[i].host) != 0 || strcmp(c->path, t[i].path) != 0 ||
		    c->port != t[i].port)
			print_error("case %zu \"%s\": got %s :%u %s\n", i, t[i].in, c->host,
			            c->port, c->path);
		assert_string_equal(c->host, t[i].host);
		assert_string_equal(c->path, t[i].path);
		assert_int_equal(c->port, t[i].port);
		assert_false(c->truncated);
		check_well_formed(c);
		check_idempotent(c);
	}
}

#define RUN(t) run_cases(t, sizeof(t) / sizeof(t[0]))

/* The Safe Browsing rules, one case (or a few) per rule. */
static void test_safe_browsing_rules(void **state)
{
	(void)state;
	static const struct url_case t[] = {
	        /* fragments dropped, at the first '#' */
	        {"http://shop.example/item#reviews", 0, "shop.example", 0, "/item"},
	        {"http://shop.example/item#a#b", 0, "shop.example", 0, "/item"},
	        {"http://shop.example/#", 0, "shop.example", 0, "/"},
	        {"http://shop.example/a?b=1#c", 0, "shop.example", 0, "/a?b=1"},
	        {"http://shop.example#top", 0, "shop.example", 0, "/"},
	        /* tab, CR, LF removed; their escapes kept */
	        {"http://shop.example/ca\tta\rlo\ng", 0, "shop.example", 0, "/catalog"},
	        {"http://sh\top.exa\nmple/", 0, "shop.example", 0, "/"},
	        {"ht\ttp://shop.example/", 0, "shop.example", 0, "/"},
	        {"http://shop.example/%09%0d%0A", 0, "shop.example", 0, "/%09%0D%0A"},
	        /* surrounding whitespace */
	        {"  http://shop.example/x  ", 0, "shop.example", 0, "/x"},
	        {"\r\n\thttp://shop.example/x\r\n", 0, "shop.example", 0, "/x"},
	        /* repeated percent-decoding, then re-escaping */
	        {"http://h.example/%25%34%31", 0, "h.example", 0, "/A"},
	        {"http://h.example/%2541%2542", 0, "h.example", 0, "/AB"},
	        {"http://h.example/%25252525252541", 0, "h.example", 0, "/A"},
	        {"http://h.example/x%25%32%35y", 0, "h.example", 0, "/x%25y"},
	        {"http://h.example/%25%32%35%25%32%35", 0, "h.example", 0, "/%25%25"},
	        {"http://h.example/%%%25%32%35z%%", 0, "h.example", 0, "/%25%25%25z%25%25"},
	        {"http://h.example/%257Eu%2521v%2540w%2523x%2524y%25z%255E1%2526", 0, "h.example",
	         0, "/~u!v@w%23x$y%25z^1&"},
	        {"http://h.example/%c3%a9t%C3%A9", 0, "h.example", 0, "/%C3%A9t%C3%A9"},
	        {"http://h.example/\xc3\xa9", 0, "h.example", 0, "/%C3%A9"},
	        {"http://h.example/a b%7f", 0, "h.example", 0, "/a%20b%7F"},
	        {"http://h.example/%20%20%20/x", 0, "h.example", 0, "/%20%20%20/x"},
	        {"http://h.example/%2\t5%4\n1", 0, "h.example", 0, "/%25A"},
	        {"http://h.example/q?%2\r5%4\n1", 0, "h.example", 0, "/q?%25A"},
	        {"http://shop%2\te.example/", 0, "shop.example", 0, "/"},
	        {"http://h.example/a%23b", 0, "h.example", 0, "/a%23b"},
	        {"http://h.example/%", 0, "h.example", 0, "/%25"},
	        {"http://h.example/%g1%4", 0, "h.example", 0, "/%25g1%254"},
	        {"http://%31%30%2e%30%2E%30%2e%31/%2E%61%62/%77%77%77", 0, "10.0.0.1", 0,
	         "/.ab/www"},
	        /* host: dots and case */
	        {"http://WWW.Shop.EXAMPLE/Path", 0, "www.shop.example", 0, "/Path"},
	        {"http://www.shop.example.../", 0, "www.shop.example", 0, "/"},
	        {"http://...www..shop...example./", 0, "www.shop.example", 0, "/"},
	        /* path: dot segments and slashes; the query untouched */
	        {"http://h.example/a/b/../c", 0, "h.example", 0, "/a/c"},
	        {"http://h.example/a/./b/.", 0, "h.example", 0, "/a/b/"},
	        {"http://h.example/a/b/..", 0, "h.example", 0, "/a/"},
	        {"http://h.example/..", 0, "h.example", 0, "/"},
	        {"http://h.example/.", 0, "h.example", 0, "/"},
	        {"http://h.example/../../../etc/x", 0, "h.example", 0, "/etc/x"},
	        {"http://h.example/a/.../..x/x..", 0, "h.example", 0, "/a/.../..x/x.."},
	        {"http://h.example//a///b//", 0, "h.example", 0, "/a/b/"},
	        {"http://h.example//two?more//slashes", 0, "h.example", 0, "/two?more//slashes"},
	        {"http://h.example/q?a/../b/./c", 0, "h.example", 0, "/q?a/../b/./c"},
	        {"http://h.example/q?", 0, "h.example", 0, "/q?"},
	        {"http://h.example/q?r?", 0, "h.example", 0, "/q?r?"},
	        {"http://h.example/q?r?s", 0, "h.example", 0, "/q?r?s"},
	        {"http://h.example/q;", 0, "h.example", 0, "/q;"},
	        {"http://h.example/q?r;", 0, "h.example", 0, "/q?r;"},
	        {"http://h.example?x", 0, "h.example", 0, "/?x"},
	        {"http://h.example", 0, "h.example", 0, "/"},
	        /* scheme-less, as list files write them */
	        {"h.example/", 0, "h.example", 0, "/"},
	        {"h.example", 0, "h.example", 0, "/"},
	        {"H.Example/a/../b?c", 0, "h.example", 0, "/b?c"},
	        /* ports kept aside */
	        {"http://h.example:1234/", 0, "h.example", 1234, "/"},
	        {"https://h.example:443/x", 0, "h.example", 443, "/x"},
	};
	RUN(t);
}

/* Dots and slashes spelled with escapes, nested escapes, backslashes. */
static void test_encoded_dots_and_slashes(void **state)
{
	(void)state;
	static const struct url_case t[] = {
	        {"http://h.example/a/%2e%2e/b", 0, "h.example", 0, "/b"},
	        {"http://h.example/a/%2E./b", 0, "h.example", 0, "/b"},
	        {"http://h.example/a/.%2e/b", 0, "h.example", 0, "/b"},
	        {"http://h.example/a/%252e%252e/b", 0, "h.example", 0, "/b"},
	        {"http://h.example/a/%25252e%25252E/b", 0, "h.example", 0, "/b"},
	        {"http://h.example/a/%2e/b", 0, "h.example", 0, "/a/b"},
	        {"http://h.example/a%2fb", 0, "h.example", 0, "/a/b"},
	        {"http://h.example/a%2f..%2fb", 0, "h.example", 0, "/b"},
	        {"http://h.example/a%252F..%252Fb", 0, "h.example", 0, "/b"},
	        {"http://h.example/a%2F%2F%2Fb", 0, "h.example", 0, "/a/b"},
	        {"http://h.example/a\\..\\b", 0, "h.example", 0, "/b"},
	        {"http://h.example/a%5c..%5cb", 0, "h.example", 0, "/b"},
	        {"http://h.example/a%255C..%255Cb", 0, "h.example", 0, "/b"},
	        {"http://h.example/%2e%2e/%2e%2e/x", 0, "h.example", 0, "/x"},
	        {"http://h.example/a/%2e%2e", 0, "h.example", 0, "/"},
	        {"http://h.example/a/b/%2e%2e%2f%2E%2E%2Fc", 0, "h.example", 0, "/c"},
	        {"http://h.example/a/b%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fc", 0, "h.example", 0, "/c"},
	        {"http://h.example/a?x\\y", 0, "h.example", 0, "/a?x\\y"},
	        {"http://h.example/a?%2e%2e/x", 0, "h.example", 0, "/a?../x"},
	        /* encoded dots in hosts */
	        {"http://www%2eshop%2Eexample/", 0, "www.shop.example", 0, "/"},
	        {"http://www%252eshop%25252eexample/", 0, "www.shop.example", 0, "/"},
	        {"http://%77%77%77.Shop.example/", 0, "www.shop.example", 0, "/"},
	        {"http://shop.example%2e%2e/", 0, "shop.example", 0, "/"},
	        {"http://shop.example%2F.evil.example/", 0, NULL, 0, NULL},
	        {"http://shop.example%252F.evil.example/", 0, NULL, 0, NULL},
	        {"http://shop%3a80.example/", 0, NULL, 0, NULL},
	};
	RUN(t);
}

/* Which host a browser goes to when user-info, '@' and '\' are mixed. */
static void test_userinfo_and_backslash(void **state)
{
	(void)state;
	static const struct url_case t[] = {
	        {"http://user:pw@shop.example/", 0, "shop.example", 0, "/"},
	        {"http://good.example@evil.example/", 0, "evil.example", 0, "/"},
	        {"http://good.example:443@evil.example/", 0, "evil.example", 0, "/"},
	        {"http://a@b@evil.example/x", 0, "evil.example", 0, "/x"},
	        {"http://@evil.example/", 0, "evil.example", 0, "/"},
	        {"http://evil.example\\@good.example/", 0, "evil.example", 0, "/@good.example/"},
	        {"http://evil.example/@good.example/", 0, "evil.example", 0, "/@good.example/"},
	        {"http://evil.example?@good.example/", 0, "evil.example", 0, "/?@good.example/"},
	        {"http://evil.example#@good.example/", 0, "evil.example", 0, "/"},
	        {"http://good.example%40evil.example/", 0, NULL, 0, NULL},
	        {"http://user@/", 0, NULL, 0, NULL},
	        {"http://user:pw@:80/", 0, NULL, 0, NULL},
	        /* scheme-relative and slash-tolerant forms */
	        {"//shop.example/x", 0, "shop.example", 0, "/x"},
	        {"\\\\shop.example\\x", 0, "shop.example", 0, "/x"},
	        {"///shop.example/x", 0, "shop.example", 0, "/x"},
	        {"http:shop.example/x", 0, "shop.example", 0, "/x"},
	        {"http:/shop.example/x", 0, "shop.example", 0, "/x"},
	        {"http:\\\\shop.example\\x", 0, "shop.example", 0, "/x"},
	        {"http:///shop.example/x", 0, "shop.example", 0, "/x"},
	        {"HTTP://shop.example/", 0, "shop.example", 0, "/"},
	        {"HtTpS://shop.example/", 0, "shop.example", 0, "/"},
	        {"ftp://shop.example/pub/f.txt", 0, "shop.example", 0, "/pub/f.txt"},
	        {"FTP://anonymous@shop.example:21/", 0, "shop.example", 21, "/"},
	        {"wss://shop.example/s", 0, "shop.example", 0, "/s"},
	        {"foo+bar.baz://shop.example/x", 0, "shop.example", 0, "/x"},
	        {"localhost:3128", 0, "localhost", 3128, "/"},
	        {"shop.example:8080/a", 0, "shop.example", 8080, "/a"},
	        {"user@shop.example/a", 0, "shop.example", 0, "/a"},
	        /* ports */
	        {"http://shop.example:/x", 0, "shop.example", 0, "/x"},
	        {"http://shop.example:0080/", 0, "shop.example", 80, "/"},
	        {"http://shop.example:8\t0/", 0, "shop.example", 80, "/"},
	        {"http://shop.example:65535/", 0, "shop.example", 65535, "/"},
	        {"http://shop.example:65536/", 0, NULL, 0, NULL},
	        {"http://shop.example:99999999999999999999999/", 0, NULL, 0, NULL},
	        {"http://shop.example:8a/", 0, NULL, 0, NULL},
	        {"http://shop.example:-1/", 0, NULL, 0, NULL},
	        {"http://shop.example:80:80/", 0, NULL, 0, NULL},
	        {"http://shop.example: 80/", 0, NULL, 0, NULL},
	        {"http://shop.example:%38%30/", 0, NULL, 0, NULL},
	};
	RUN(t);
}

static void test_host_rules(void **state)
{
	(void)state;
	static const struct url_case t[] = {
	        {"http://sub_domain.shop.example/", 0, "sub_domain.shop.example", 0, "/"},
	        {"http://x-y.example/", 0, "x-y.example", 0, "/"},
	        {"http://xn--BCHER-kva.Example/", 0, "xn--bcher-kva.example", 0, "/"},
	        {"http://123.example/", 0, "123.example", 0, "/"},
	        {"http://1.2.3.4a/", 0, "1.2.3.4a", 0, "/"},
	        {"http://1.2.3.0xg/", 0, "1.2.3.0xg", 0, "/"},
	        {"http://shop .example/", 0, NULL, 0, NULL},
	        {"http://%20shop.example/", 0, NULL, 0, NULL},
	        {"http://shop.example%20/", 0, NULL, 0, NULL},
	        {"http://sh*p.example/", 0, NULL, 0, NULL},
	        {"http://shop%23.example/", 0, NULL, 0, NULL},
	        {"http://shop%00.example/", 0, NULL, 0, NULL},
	        {"http://shop%0a.example/", 0, NULL, 0, NULL},
	        {"http://shop\x01.example/", 0, NULL, 0, NULL},
	        {"http://shop\x7f.example/", 0, NULL, 0, NULL},
	        {"http://shop.example<>/", 0, NULL, 0, NULL},
	        {"http://example.123/", 0, NULL, 0, NULL},
	        {"http://example.0x1/", 0, NULL, 0, NULL},
	};
	RUN(t);
}

static void test_ipv4_forms(void **state)
{
	(void)state;
	static const struct url_case t[] = {
	        {"http://195.127.0.11/blah", 0, "195.127.0.11", 0, "/blah"},
	        {"http://3279880203/blah", 0, "195.127.0.11", 0, "/blah"},
	        {"http://0xC37F000B/", 0, "195.127.0.11", 0, "/"},
	        {"http://0XC37F000B/", 0, "195.127.0.11", 0, "/"},
	        {"http://030337600013/", 0, "195.127.0.11", 0, "/"},
	        {"http://0303.0177.0.013/", 0, "195.127.0.11", 0, "/"},
	        {"http://0xc3.0x7f.0x0.0xb/", 0, "195.127.0.11", 0, "/"},
	        {"http://195.8323083/", 0, "195.127.0.11", 0, "/"},
	        {"http://195.127.11/", 0, "195.127.0.11", 0, "/"},
	        {"http://0xc3.0177.11/", 0, "195.127.0.11", 0, "/"},
	        {"http://0303.0x7f000b/", 0, "195.127.0.11", 0, "/"},
	        {"http://195.0x7f.0.013/", 0, "195.127.0.11", 0, "/"},
	        {"http://195.127.0.11./", 0, "195.127.0.11", 0, "/"},
	        {"http://195.127.0.11../", 0, "195.127.0.11", 0, "/"},
	        {"http://.195..127.0.11/", 0, "195.127.0.11", 0, "/"},
	        {"http://%31%39%35.127.0.11/", 0, "195.127.0.11", 0, "/"},
	        {"http://%2531%2539%2535.127.0.11/", 0, "195.127.0.11", 0, "/"},
	        {"http://0x00000000000000000000C37F000B/", 0, "195.127.0.11", 0, "/"},
	        {"http://000000000000000000000000000301/", 0, "0.0.0.193", 0, "/"},
	        {"http://user@195.127.0.11:8080/", 0, "195.127.0.11", 8080, "/"},
	        {"http://0/", 0, "0.0.0.0", 0, "/"},
	        {"http://0x/", 0, "0.0.0.0", 0, "/"},
	        {"http://0x.0x.0x.0x/", 0, "0.0.0.0", 0, "/"},
	        {"http://4294967295/", 0, "255.255.255.255", 0, "/"},
	        {"http://1.16777215/", 0, "1.255.255.255", 0, "/"},
	        {"http://1.2.65535/", 0, "1.2.255.255", 0, "/"},
	        {"http://127.1/", 0, "127.0.0.1", 0, "/"},
	        {"127.0.0.1/x", 0, "127.0.0.1", 0, "/x"},
	        {"http://\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97\xef\xbc\x8e\xef\xbc\x90\xef\xbc\x8e"
	         "\xef\xbc\x90\xef\xbc\x8e\xef\xbc\x91/",
	         0, "127.0.0.1", 0, "/"},
	        /* out of range or malformed: an error, as in browsers */
	        {"http://4294967296/", 0, NULL, 0, NULL},
	        {"http://99999999999999999999999/", 0, NULL, 0, NULL},
	        {"http://256.1.1.1/", 0, NULL, 0, NULL},
	        {"http://1.2.3.256/", 0, NULL, 0, NULL},
	        {"http://1.2.65536/", 0, NULL, 0, NULL},
	        {"http://1.16777216/", 0, NULL, 0, NULL},
	        {"http://1.2.3.4.5/", 0, NULL, 0, NULL},
	        {"http://09.1.1.1/", 0, NULL, 0, NULL},
	        {"http://1.1.1.08/", 0, NULL, 0, NULL},
	        {"http://0x1g.1.1.1/", 0, NULL, 0, NULL},
	        {"http://0x100.1.1.1/", 0, NULL, 0, NULL},
	        {"http://0400.1.1.1/", 0, NULL, 0, NULL},
	};
	RUN(t);
}

static void test_ipv6_forms(void **state)
{
	(void)state;
	static const struct url_case t[] = {
	        {"http://[2001:DB8:0:0:0:0:0:1]/", 0, "[2001:db8::1]", 0, "/"},
	        {"http://[2001:db8::1]:8443/x", 0, "[2001:db8::1]", 8443, "/x"},
	        {"http://[0:0:0:0:0:0:0:1]/", 0, "[::1]", 0, "/"},
	        {"http://[::1]/", 0, "[::1]", 0, "/"},
	        {"http://[::]/", 0, "[::]", 0, "/"},
	        {"http://[2001:0db8:0000:0000:0000:ff00:0042:8329]/", 0, "[2001:db8::ff00:42:8329]",
	         0, "/"},
	        {"http://[2001:db8:0:0:1:0:0:1]/", 0, "[2001:db8::1:0:0:1]", 0, "/"},
	        {"http://[2001:db8:0:1:1:1:1:1]/", 0, "[2001:db8:0:1:1:1:1:1]", 0, "/"},
	        /* IPv4-mapped: the IPv4 host a proxy connects to, in every spelling */
	        {"http://[::FFFF:192.0.2.1]/", 0, "192.0.2.1", 0, "/"},
	        {"http://[::ffff:c000:0201]/", 0, "192.0.2.1", 0, "/"},
	        {"http://[0:0:0:0:0:ffff:c000:201]:8080/x", 0, "192.0.2.1", 8080, "/x"},
	        {"http://[0000::FFFF:192.0.2.1]/", 0, "192.0.2.1", 0, "/"},
	        {"http://[%3A%3Affff%3Ac000%3A201]/", 0, "192.0.2.1", 0, "/"},
	        {"http://[::ffff:0.0.0.0]/", 0, "0.0.0.0", 0, "/"},
	        {"http://[::ffff:ffff:ffff]/", 0, "255.255.255.255", 0, "/"},
	        /* not mapped: IPv4-compatible (deprecated, no IPv4 socket reaches
	         * it), NAT64, a near miss of the mapped prefix */
	        {"http://[::192.0.2.1]/", 0, "[::192.0.2.1]", 0, "/"},
	        {"http://[64:ff9b::192.0.2.1]/", 0, "[64:ff9b::c000:201]", 0, "/"},
	        {"http://[::fffe:c000:201]/", 0, "[::fffe:c000:201]", 0, "/"},
	        {"http://[::1:ffff:c000:201]/", 0, "[::1:ffff:c000:201]", 0, "/"},
	        {"http://user:pw@[::1]:80/a/../b", 0, "[::1]", 80, "/b"},
	        {"[::1]:8080/x", 0, "[::1]", 8080, "/x"},
	        {"http://[%3A%3A1]/", 0, "[::1]", 0, "/"},
	        {"http://[::1/", 0, NULL, 0, NULL},
	        {"http://::1/", 0, NULL, 0, NULL},
	        {"http://[::1]x/", 0, NULL, 0, NULL},
	        {"http://[::1]:x/", 0, NULL, 0, NULL},
	        {"http://[::1]:99999/", 0, NULL, 0, NULL},
	        {"http://[::g]/", 0, NULL, 0, NULL},
	        {"http://[1:2:3:4:5:6:7:8:9]/", 0, NULL, 0, NULL},
	        {"http://[fe80::1%25eth0]/", 0, NULL, 0, NULL},
	        {"http://[1.2.3.4]/", 0, NULL, 0, NULL},
	        {"http://[]/", 0, NULL, 0, NULL},
	        {"http://[/", 0, NULL, 0, NULL},
	        {"http://]/", 0, NULL, 0, NULL},
	};
	RUN(t);
}

static void test_idn(void **state)
{
	(void)state;
	static const struct url_case t[] = {
	        {"http://b\xc3\xbc"
	         "cher.example/",
	         0, "xn--bcher-kva.example", 0, "/"},
	        {"http://B\xc3\x9c"
	         "CHER.example/",
	         0, "xn--bcher-kva.example", 0, "/"},
	        {"http://b%C3%BCcher.example/", 0, "xn--bcher-kva.example", 0, "/"},
	        {"http://b%25C3%25BCcher.example/", 0, "xn--bcher-kva.example", 0, "/"},
	        {"http://.b\xc3\xbc"
	         "cher..example./",
	         0, "xn--bcher-kva.example", 0, "/"},
	        {"b\xc3\xbc"
	         "cher.example/x",
	         0, "xn--bcher-kva.example", 0, "/x"},
	        /* Japanese, with ASCII and full-width dots */
	        {"http://\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/", 0,
	         "xn--r8jz45g.xn--zckzah", 0, "/"},
	        {"http://\xe4\xbe\x8b\xe3\x81\x88\xe3\x80\x82\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/",
	         0, "xn--r8jz45g.xn--zckzah", 0, "/"},
	        {"http://\xe4\xbe\x8b\xe3\x81\x88\xef\xbc\x8e\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/",
	         0, "xn--r8jz45g.xn--zckzah", 0, "/"},
	        {"http://\xe4\xbe\x8b\xe3\x81\x88\xef\xbd\xa1\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/",
	         0, "xn--r8jz45g.xn--zckzah", 0, "/"},
	        {"http://%E4%BE%8B%E3%81%88%E3%80%82%E3%83%86%E3%82%B9%E3%83%88/", 0,
	         "xn--r8jz45g.xn--zckzah", 0, "/"},
	        {"http://\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e.jp/", 0, "xn--wgv71a119e.jp", 0, "/"},
	        {"http://www.\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x80\x82jp\xe3\x80\x82/", 0,
	         "www.xn--wgv71a119e.jp", 0, "/"},
	        /* full-width Latin letters map to ASCII */
	        {"http://\xef\xbd\x85\xef\xbd\x98\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x90\xef\xbd\x8c"
	         "\xef\xbd\x85\xef\xbc\x8e\xef\xbd\x83\xef\xbd\x8f\xef\xbd\x8d/",
	         0, "example.com", 0, "/"},
	        /* non-transitional: sharp s kept; a ZWJ only by the transitional fallback */
	        {"http://fa\xc3\x9f.de/", 0, "xn--fa-hia.de", 0, "/"},
	        {"http://a\xe2\x80\x8d"
	         "b.example/",
	         0, "ab.example", 0, "/"},
	        {"http://\xc3\xbc_x.example/", 0, "xn--_x-wka.example", 0, "/"},
	        {"http://\xff.example/", 0, NULL, 0, NULL},
	        {"http://%ff.example/", 0, NULL, 0, NULL},
	        {"http://\x01\x80.example/", 0, NULL, 0, NULL},
	        {"http://\xc3\xbc!.example/", 0, NULL, 0, NULL},
	        {"http://xn--zz.\xc3\xbc/", 0, NULL, 0, NULL},
	};
	RUN(t);
}

static void test_lengths(void **state)
{
	(void)state;
	struct url_canon cs, *c = &cs;
	char url[8000];

	/* 253 bytes of name: 3 labels of 63 + "." + 61; one more is too long */
	char name[300];
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	memcpy(url, "http://", 7);
	memcpy(url + 7, name, 253);
	url[7 + 253] = '/';
	assert_int_equal(canon_exact(url, 7 + 254, c), 0);
	assert_int_equal(c->host_len, 253);
	memcpy(url + 7, name, 254);
	url[7 + 254] = '/';
	assert_int_equal(canon_exact(url, 7 + 255, c), -1);
	/* a long label is accepted (browsers do), a huge host is not */
	assert_int_equal(
	        canon_exact(
	                LIT("http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                    "aaaaaaaaaaaa.example/"),
	                c),
	        0);
	memset(url + 7, 'a', 5000);
	assert_int_equal(canon_exact(url, 7 + 5000, c), -1);
	/* dots removed before the limit applies, also encoded ones */
	memset(url + 7, '.', 3000);
	memcpy(url + 3007, "shop.example...", 15);
	assert_int_equal(canon_exact(url, 3022, c), 0);
	assert_string_equal(c->host, "shop.example");
	for (size_t k = 0; k < 1000; k++)
		memcpy(url + 7 + 3 * k, "%2e", 3);
	memcpy(url + 3007, "shop.%2E%2e.example.%2e", 23);
	assert_int_equal(canon_exact(url, 3030, c), 0);
	assert_string_equal(c->host, "shop.example");
	/* but not other bytes that IDN could remove */
	for (size_t k = 0; k < 1000; k++)
		memcpy(url + 7 + 2 * k, "\xc2\xad", 2); /* soft hyphen, mapped to nothing */
	memcpy(url + 2007, "shop.example", 12);
	assert_int_equal(canon_exact(url, 2019, c), -1);
	assert_int_equal(canon_exact(LIT("http://\xc2\xadshop.example/"), c), 0);
	assert_string_equal(c->host, "shop.example");
}

static void test_truncated_paths(void **state)
{
	(void)state;
	struct url_canon *c = malloc(sizeof(*c));
	size_t n = 20000;
	char *url = malloc(n);
	assert_non_null(c);
	assert_non_null(url);
	memcpy(url, "http://h.example/", 17);

	/* exactly the maximum fits */
	memset(url + 17, 'a', URL_CANON_PATH_MAX - 2);
	assert_int_equal(canon_exact(url, 17 + URL_CANON_PATH_MAX - 2, c), 0);
	assert_int_equal(c->path_len, URL_CANON_PATH_MAX - 1);
	assert_false(c->truncated);
	/* one more is cut */
	memset(url + 17, 'a', URL_CANON_PATH_MAX - 1);
	assert_int_equal(canon_exact(url, 17 + URL_CANON_PATH_MAX - 1, c), 0);
	assert_int_equal(c->path_len, URL_CANON_PATH_MAX - 1);
	assert_true(c->truncated);
	assert_int_equal(c->query_off, c->path_len);
	check_well_formed(c);
	/* much more is cut, in constant space */
	memset(url + 17, 'b', n - 17);
	assert_int_equal(canon_exact(url, n, c), 0);
	assert_int_equal(c->path_len, URL_CANON_PATH_MAX - 1);
	assert_true(c->truncated);
	/* escapes are never cut in the middle */
	for (size_t k = 17; k + 3 <= n; k += 3)
		memcpy(url + k, "%20", 3);
	assert_int_equal(canon_exact(url, n - (n - 17) % 3, c), 0);
	assert_true(c->truncated);
	assert_int_equal(c->path_len, 1 + 3 * ((URL_CANON_PATH_MAX - 2) / 3));
	check_well_formed(c);
	/* the query is cut too; query_off stays where the '?' is */
	memcpy(url + 17, "a?", 2);
	memset(url + 19, 'q', n - 19);
	assert_int_equal(canon_exact(url, n, c), 0);
	assert_true(c->truncated);
	assert_int_equal(c->query_off, 2);
	assert_int_equal(c->path_len, URL_CANON_PATH_MAX - 1);
	/* a long path that ".." keeps short is not cut */
	size_t k = 17;
	while (k + 5 < n - 10) {
		memcpy(url + k, "x/../", 5);
		k += 5;
	}
	memcpy(url + k, "end", 3);
	assert_int_equal(canon_exact(url, k + 3, c), 0);
	assert_string_equal(c->path, "/end");
	assert_false(c->truncated);
	/* nor are many "//", "./" or "%2e/" */
	k = 17;
	while (k + 4 < n - 10) {
		memcpy(url + k, "%2e/", 4);
		k += 4;
	}
	memcpy(url + k, "end", 3);
	assert_int_equal(canon_exact(url, k + 3, c), 0);
	assert_string_equal(c->path, "/end");
	assert_false(c->truncated);
	/* the '?' exactly at the limit */
	memset(url + 17, 'a', URL_CANON_PATH_MAX - 2);
	memcpy(url + 17 + URL_CANON_PATH_MAX - 2, "?q", 2);
	assert_int_equal(canon_exact(url, 17 + URL_CANON_PATH_MAX, c), 0);
	assert_true(c->truncated);
	assert_int_equal(c->path_len, URL_CANON_PATH_MAX - 1);
	assert_int_equal(c->query_off, c->path_len);
	free(url);
	free(c);
}

static void test_query_off(void **state)
{
	(void)state;
	struct url_canon c;
	assert_int_equal(canon_exact(LIT("http://h.example/a/b?c/../d"), &c), 0);
	assert_int_equal(c.query_off, 4);
	assert_int_equal(canon_exact(LIT("http://h.example/a b?c"), &c), 0);
	assert_string_equal(c.path, "/a%20b?c");
	assert_int_equal(c.query_off, 6);
	assert_int_equal(canon_exact(LIT("http://h.example/a"), &c), 0);
	assert_int_equal(c.query_off, c.path_len);
	assert_int_equal(canon_exact(LIT("http://h.example?"), &c), 0);
	assert_string_equal(c.path, "/?");
	assert_int_equal(c.query_off, 1);
	/* an encoded '?' is part of the path, as a server sees it */
	assert_int_equal(canon_exact(LIT("http://h.example/a%3Fb/../c?d"), &c), 0);
	assert_string_equal(c.path, "/c?d");
	assert_int_equal(canon_exact(LIT("http://h.example/a%3Fb"), &c), 0);
	assert_string_equal(c.path, "/a?b");
	assert_int_equal(c.query_off, c.path_len);
	assert_int_equal(canon_exact(LIT("http://h.example/a%3Fb?c"), &c), 0);
	assert_string_equal(c.path, "/a?b?c");
	assert_int_equal(c.query_off, 4);
	assert_false(c.truncated);
}

/* NUL bytes: an error in a host, "%00" in a path, trimmed at the ends. */
static void test_nul_bytes(void **state)
{
	(void)state;
	struct url_canon c;
	assert_int_equal(canon_exact(LIT("http://sh\0op.example/"), &c), -1);
	assert_int_equal(canon_exact(LIT("http://shop.example\0/"), &c), -1);
	assert_int_equal(canon_exact(LIT("http://shop.example:8\0/"), &c), -1);
	assert_int_equal(canon_exact(LIT("http\0://shop.example/"), &c), -1);
	assert_int_equal(canon_exact(LIT("http://shop.example/a\0b"), &c), 0);
	assert_string_equal(c.path, "/a%00b");
	assert_int_equal(canon_exact(LIT("http://shop.example/a?\0b"), &c), 0);
	assert_string_equal(c.path, "/a?%00b");
	assert_int_equal(canon_exact(LIT("\0http://shop.example/a\0"), &c), 0);
	assert_string_equal(c.host, "shop.example");
	assert_string_equal(c.path, "/a");
	assert_int_equal(canon_exact(LIT("\0"), &c), -1);
}

static void test_garbage(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "",
	        " ",
	        "\t\r\n",
	        ".",
	        "...",
	        "..",
	        "/",
	        "/path/only",
	        "\\path",
	        "?",
	        "?q",
	        "#",
	        "#frag",
	        "@",
	        ":",
	        ":80",
	        "[",
	        "]",
	        "%",
	        "%2e",
	        "%2e%2e%2e",
	        "%00",
	        "http://",
	        "https://",
	        "http:",
	        "http:///",
	        "http:////",
	        "http://?",
	        "http://#",
	        "http://.",
	        "http://.../",
	        "http://:80/",
	        "http://@/",
	        "http://@:80",
	        "//",
	        "///",
	        "\\\\",
	        "foo://",
	        "foo:///x",
	        "mailto:user@shop.example",
	        "javascript:alert(1)",
	        "data:text/html,<b>",
	        "file:///etc/passwd",
	        "shop.example:port/",
	        "http://shop.example:port/",
	        "http://shop..example:123456/",
	};
	struct url_canon c;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = canon_exact(bad[i], strlen(bad[i]), &c);
		if (rc != -1)
			print_error("\"%s\": got %s %s\n", bad[i], c.host, c.path);
		assert_int_equal(rc, -1);
		assert_int_equal(c.host_len, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_safe_browsing_rules),
	        cmocka_unit_test(test_encoded_dots_and_slashes),
	        cmocka_unit_test(test_userinfo_and_backslash),
	        cmocka_unit_test(test_host_rules),
	        cmocka_unit_test(test_ipv4_forms),
	        cmocka_unit_test(test_ipv6_forms),
	        cmocka_unit_test(test_idn),
	        cmocka_unit_test(test_lengths),
	        cmocka_unit_test(test_truncated_paths),
	        cmocka_unit_test(test_query_off),
	        cmocka_unit_test(test_nul_bytes),
	        cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests_name("url_canon", tests, NULL, NULL);
}
