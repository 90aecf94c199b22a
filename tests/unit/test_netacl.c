/*
 * Unit tests for netacl.c: parsing networks as written in allow_clients
 * (good and bad forms, host bits, bounds) and matching peers, IPv4, IPv6
 * and IPv4-mapped IPv6, against every prefix length, compared with a
 * brute-force bit-by-bit reference on addresses at and around each
 * network's edges and on pseudo-random ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "netacl.h"

static struct sockaddr_storage v4(const char *s)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, s, &a->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *s)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	a->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, s, &a->sin6_addr), 1);
	return ss;
}

static bool match(const struct netacl *acl, struct sockaddr_storage ss)
{
	return netacl_match(acl, (struct sockaddr *)&ss);
}

static void add_ok(struct netacl *acl, const char *cidr)
{
	char err[256] = "";
	if (netacl_add(acl, cidr, err, sizeof(err)) != 0)
		fail_msg("\"%s\" refused: %s", cidr, err);
}

static void test_parse_good(void **state)
{
	(void)state;
	static const char *const good[] = {
	        "127.0.0.0/8",
	        "10.1.2.3",
	        "0.0.0.0/0",
	        "192.168.1.128/25",
	        "10.0.0.0/08",
	        "::1",
	        "::/0",
	        "fd00::/8",
	        "::1/128",
	        "2001:db8::/32",
	        "::ffff:10.0.0.0/104",
	        "255.255.255.255/32",
	        "1.2.3.4/32",
	        "8000::/1",
	};
	struct netacl acl = {0};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		add_ok(&acl, good[i]);
	assert_int_equal(acl.n, sizeof(good) / sizeof(good[0]));
	/* IPv4 is held mapped: 10.1.2.3 is ::ffff:10.1.2.3/128. */
	assert_int_equal(acl.v[1].bits, 128);
	assert_int_equal(acl.v[0].bits, 96 + 8);
	assert_int_equal(acl.v[0].addr[10], 0xff);
	assert_int_equal(acl.v[0].addr[12], 127);
	netacl_free(&acl);
	assert_null(acl.v);
	assert_int_equal(acl.n, 0);
}

static void test_parse_bad(void **state)
{
	(void)state;
	static const struct {
		const char *in, *why;
	} bad[] = {
	        {"", "is not a network"},
	        {"/8", "is not a network"},
	        {"10.0.0.0/", "is not a network"},
	        {"10.0.0.0/33", "is not a network"},
	        {"::/129", "is not a network"},
	        {"10.0.0.0/-1", "is not a network"},
	        {"10.0.0.0/+8", "is not a network"},
	        {"10.0.0.0/8x", "is not a network"},
	        {"10.0.0.0/8/8", "is not a network"},
	        {"10.0.0.0 /8", "is not a network"},
	        {"example.com", "is not a network"},
	        {"1.2.3", "is not a network"},
	        {"1.2.3.256", "is not a network"},
	        {"[::1]", "is not a network"},
	        {"fe80::1%eth0", "is not a network"},
	        {"10.0.0.0/99999999999999999999999", "is not a network"},
	        {"1111:2222:3333:4444:5555:6666:7777:8888:9999", "is not a network"},
	        {"10.1.2.3/8", "has bits set past its /8 prefix"},
	        {"127.0.0.1/31", "has bits set past its /31 prefix"},
	        {"fe80::1/10", "has bits set past its /10 prefix"},
	        {"::1/127", "has bits set past its /127 prefix"},
	        {"::ffff:10.0.0.1/120", "has bits set past its /120 prefix"},
	};
	char longer[200];
	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	struct netacl acl = {0};
	char err[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (netacl_add(&acl, bad[i].in, err, sizeof(err)) != -1)
			fail_msg("\"%s\" accepted", bad[i].in);
		if (strstr(err, bad[i].why) == NULL)
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].in, err, bad[i].why);
	}
	assert_int_equal(netacl_add(&acl, longer, err, sizeof(err)), -1);
	/* A tiny message buffer is cut, not overrun. */
	char small[8];
	assert_int_equal(netacl_add(&acl, "nope", small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(acl.n, 0);
	netacl_free(&acl);
}

static void test_match_basics(void **state)
{
	(void)state;
	struct netacl acl = {0};
	assert_false(match(&acl, v4("127.0.0.1"))); /* empty: nobody */
	add_ok(&acl, "127.0.0.0/8");
	add_ok(&acl, "::1");
	assert_true(match(&acl, v4("127.0.0.1")));
	assert_true(match(&acl, v4("127.255.255.255")));
	assert_false(match(&acl, v4("128.0.0.1")));
	assert_false(match(&acl, v4("126.255.255.255")));
	assert_true(match(&acl, v6("::1")));
	assert_false(match(&acl, v6("::2")));
	/* IPv4-mapped peers (a dual-stack listener) match IPv4 entries... */
	assert_true(match(&acl, v6("::ffff:127.0.0.1")));
	assert_true(match(&acl, v6("::ffff:127.1.2.3")));
	assert_false(match(&acl, v6("::ffff:10.0.0.1")));
	/* ...but the old IPv4-compatible form and NAT64 are other addresses. */
	assert_false(match(&acl, v6("::127.0.0.1")));
	assert_false(match(&acl, v6("64:ff9b::127.0.0.1")));

	/* Other families never match. */
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	assert_false(netacl_match(&acl, (struct sockaddr *)&un));
	netacl_free(&acl);

	/* ::/0 spans the mapped IPv4 space too; 0.0.0.0/0 only that. */
	add_ok(&acl, "::/0");
	assert_true(match(&acl, v4("192.0.2.1")));
	assert_true(match(&acl, v6("2001:db8::1")));
	netacl_free(&acl);
	add_ok(&acl, "0.0.0.0/0");
	assert_true(match(&acl, v4("192.0.2.1")));
	assert_true(match(&acl, v6("::ffff:192.0.2.1")));
	assert_false(match(&acl, v6("2001:db8::1")));
	assert_false(match(&acl, v6("::1")));
	netacl_free(&acl);

	/* An IPv6 entry over the mapped space matches IPv4 peers. */
	add_ok(&acl, "::ffff:10.0.0.0/104");
	assert_true(match(&acl, v4("10.200.0.1")));
	assert_false(match(&acl, v4("11.0.0.1")));
	netacl_free(&acl);
}

/* Bit i (from the top) of a. */
static int bit(const unsigned char *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static bool reference(const unsigned char *net, unsigned bits, const unsigned char *a)
{
	for (unsigned i = 0; i < bits; i++)
		if (bit(net, i) != bit(a, i))
			return false;
	return true;
}

/* Checks one network against addresses around its edges and random ones;
 * net16 is its address as 16 bytes (mapped for IPv4), family its form. */
static void sweep(const unsigned char net16[16], unsigned bits, int family, uint64_t *seed)
{
	char text[INET6_ADDRSTRLEN + 8], host[INET6_ADDRSTRLEN];
	inet_ntop(family, family == AF_INET ? net16 + 12 : net16, host, sizeof(host));
	snprintf(text, sizeof(text), "%s/%u", host, family == AF_INET ? bits - 96 : bits);
	struct netacl acl = {0};
	add_ok(&acl, text);
	for (int k = 0; k < 400; k++) {
		unsigned char a[16];
		memcpy(a, net16, 16);
		if (k < 128) {
			/* One bit flipped, at each position. */
			a[k / 8] ^= (unsigned char)(0x80u >> (k % 8));
		} else if (k < 256) {
			/* The last address of the network, then one bit flipped. */
			for (unsigned i = bits; i < 128; i++)
				a[i / 8] |= (unsigned char)(0x80u >> (i % 8));
			unsigned f = (unsigned)(k - 128);
			if (f < 128)
				a[f / 8] ^= (unsigned char)(0x80u >> (f % 8));
		} else {
			for (int i = 0; i < 16; i++) {
				*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
				a[i] = (unsigned char)(*seed >> 56);
			}
			if (k % 2)
				memcpy(a, net16, bits / 8); /* often inside */
		}
		bool want = reference(net16, bits, a);
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, a, 16);
		if (match(&acl, ss) != want)
			fail_msg("%s vs a v6 peer (case %d): want %d", text, k, want);
		/* The same peer as plain IPv4 when it is in the mapped space. */
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, 12) == 0) {
			memset(&ss, 0, sizeof(ss));
			((struct sockaddr_in *)&ss)->sin_family = AF_INET;
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, a + 12, 4);
			if (match(&acl, ss) != want)
				fail_msg("%s vs a v4 peer (case %d): want %d", text, k, want);
		}
	}
	netacl_free(&acl);
}

static void test_every_prefix_length(void **state)
{
	(void)state;
	uint64_t seed = 42;
	unsigned char base4[16] = {0, 0, 0,    0,    0,    0,    0,    0,
	                           0, 0, 0xff, 0xff, 0xc6, 0x33, 0x64, 0xa5};
	unsigned char base6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xa5, 0x5a, 0xff, 0x00,
	                           0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1};
	for (unsigned n = 0; n <= 128; n++) {
		unsigned char net[16];
		if (n <= 32) {
			memcpy(net, base4, 16);
			for (unsigned i = 96 + n; i < 128; i++)
				net[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
			sweep(net, 96 + n, AF_INET, &seed);
		}
		memcpy(net, base6, 16);
		for (unsigned i = n; i < 128; i++)
			net[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
		sweep(net, n, AF_INET6, &seed);
	}
}

static void test_many_entries(void **state)
{
	(void)state;
	struct netacl acl = {0};
	char s[32];
	for (int i = 0; i < 200; i++) {
		snprintf(s, sizeof(s), "10.%d.0.0/16", i);
		add_ok(&acl, s);
	}
	assert_true(match(&acl, v4("10.0.1.1")));
	assert_true(match(&acl, v4("10.199.255.255")));
	assert_false(match(&acl, v4("10.200.0.0")));
	netacl_free(&acl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_good),   cmocka_unit_test(test_parse_bad),
	        cmocka_unit_test(test_match_basics), cmocka_unit_test(test_every_prefix_length),
	        cmocka_unit_test(test_many_entries),
	};
	return cmocka_run_group_tests_name("netacl", tests, NULL, NULL);
}
