/*
 * Unit tests for url_policy.c: the policy file and the decision per
 * request. Errors must come out as exact "file:line: message" lines, all of
 * a file's mistakes in one run. Each construct is checked at its edges:
 * CIDR prefixes (IPv4, IPv6, IPv4-mapped clients, host bits), user names
 * (ASCII case only), days and hours (ranges, lists, windows wrapping past
 * midnight and past the end of the week, the end of a window excluded),
 * rule order (an allow list beats a block list by coming first), "default"
 * against falling through to the next policy, and the bundled
 * conf/urlfilter.policy, with its commented-out example uncommented too.
 * Times are built with timegm and evaluated with TZ set here, so the
 * machine's time zone does not matter.
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
#include <unistd.h>

#include "url_policy.h"

/* ---------------------------------------------------------------- helpers */

/* Categories the tests know; a category's id is 100 + its index. */
static const char *const all_cats[] = {"malware", "phishing",     "games", "social_networks",
                                       "adult",   "school_sites", NULL};
enum { MALWARE = 100, PHISHING, GAMES, SOCIAL, ADULT, SCHOOL };

static int cat_id(void *arg, const char *name)
{
	const char *const *names = arg != NULL ? arg : all_cats;
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], name) == 0)
			return 100 + i;
	return -1;
}

static char *tmp_write(const char *text)
{
	char *path = strdup("/tmp/test_url_policy.XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

/* Loads text from a temporary file; *errors (if not NULL) gets what was
 * reported, with the file name replaced by "F". */
static struct url_policy *load_cats(const char *text, void *cats, char **errors)
{
	char *path = tmp_write(text);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	struct url_policy *p = url_policy_load(path, cat_id, cats, f);
	fclose(f);
	unlink(path);
	/* Every line must start with the path as given. */
	size_t plen = strlen(path);
	char *out = malloc(len + 1), *o = out;
	assert_non_null(out);
	for (char *line = buf; *line != 0;) {
		assert_memory_equal(line, path, plen);
		*o++ = 'F';
		char *nl = strchr(line + plen, '\n');
		assert_non_null(nl);
		memcpy(o, line + plen, (size_t)(nl + 1 - line - plen));
		o += nl + 1 - line - plen;
		line = nl + 1;
	}
	*o = 0;
	free(buf);
	free(path);
	if (errors != NULL)
		*errors = out;
	else
		free(out);
	return p;
}

static struct url_policy *load_ok(const char *text)
{
	char *errors;
	struct url_policy *p = load_cats(text, NULL, &errors);
	assert_string_equal(errors, "");
	assert_non_null(p);
	free(errors);
	return p;
}

static void expect_errors(const char *text, const char *expected)
{
	char *errors;
	struct url_policy *p = load_cats(text, NULL, &errors);
	assert_string_equal(errors, expected);
	assert_null(p);
	free(errors);
}

static time_t at(int year, int mon, int mday, int hour, int min)
{
	struct tm tm = {.tm_year = year - 1900,
	                .tm_mon = mon - 1,
	                .tm_mday = mday,
	                .tm_hour = hour,
	                .tm_min = min};
	return timegm(&tm);
}

/* January 2024 starts on a Monday. */
#define MON(h, m)  at(2024, 1, 1, h, m)
#define TUE(h, m)  at(2024, 1, 2, h, m)
#define WED(h, m)  at(2024, 1, 3, h, m)
#define THU(h, m)  at(2024, 1, 4, h, m)
#define FRI(h, m)  at(2024, 1, 5, h, m)
#define SAT(h, m)  at(2024, 1, 6, h, m)
#define SUN(h, m)  at(2024, 1, 7, h, m)
#define MON2(h, m) at(2024, 1, 8, h, m)

static struct url_match matches[8];

/* Decides for a URL listed in the categories given (-1 ends the list). */
static struct url_decision decide_at(const struct url_policy *p, const char *addr, const char *user,
                                     time_t now, ...)
{
	va_list ap;
	size_t n = 0;
	va_start(ap, now);
	for (int c; (c = va_arg(ap, int)) >= 0;)
		matches[n++] = (struct url_match){.category = (unsigned)c, .file = "x", .line = 1};
	va_end(ap);
	struct url_client cl = {.address = addr, .user = user, .now = now};
	struct url_decision d;
	memset(&d, 0x5a, sizeof(d)); /* decide must fill every field */
	url_policy_decide(p, &cl, matches, n, &d);
	return d;
}

/* Whether the file blocks games for the client (at a fixed time). */
static bool blocks(const struct url_policy *p, const char *addr, const char *user)
{
	return decide_at(p, addr, user, WED(12, 0), GAMES, -1).block;
}

/* Whether time window body ("days ...; hours ...;") holds t. */
static bool in_window(const char *body, time_t t)
{
	char text[512];
	snprintf(text, sizeof(text), "time t { %s }\npolicy p { during t; default block; }\n",
	         body);
	struct url_policy *p = load_ok(text);
	bool in = decide_at(p, NULL, NULL, t, -1).block;
	url_policy_free(p);
	return in;
}

static int setup_utc(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

/* ---------------------------------------------------------------- errors */

static void test_errors_many(void **state)
{
	(void)state;
	expect_errors("group staff {\n"
	              "\taddress 10.0.0.1/8 192.0.2.300;\n"
	              "\tuser alice;\n"
	              "}\n"
	              "time lessons { days mon-fry; hours 08:00-12:60; }\n"
	              "policy p {\n"
	              "\tfor staff nobody;\n"
	              "\tblock games nosuch;\n"
	              "\tdefault allow;\n"
	              "\tallow school_sites;\n"
	              "}\n",
	              "F:2: \"10.0.0.1/8\" has host bits set: the network is 10.0.0.0/8\n"
	              "F:2: \"192.0.2.300\" is not an IP address or network (like 192.0.2.7, "
	              "10.1.0.0/16 or 2001:db8::/32)\n"
	              "F:5: unknown day \"mon-fry\" (days are mon, tue, wed, thu, fri, sat, sun; "
	              "a range is like mon-fri)\n"
	              "F:5: bad hours \"08:00-12:60\": expected HH:MM-HH:MM, like 08:00-12:30 or "
	              "22:00-06:00\n"
	              "F:8: unknown category \"nosuch\"\n"
	              "F:10: \"allow\" after \"default\" (line 9) is never used\n"
	              "F:7: unknown group \"nobody\"\n");
}

static void test_errors_syntax(void **state)
{
	(void)state;
	expect_errors(
	        "group a { address 10.0.0.0/8 }\n"
	        "}\n"
	        "acl x;\n"
	        "group;\n"
	        "group b c { user x; }\n"
	        "policy p { default allow; ; }\n"
	        "policy q {\n"
	        "\tblock malware;\n",
	        "F:1: \"address\": missing \";\"\n"
	        "F:2: unexpected \"}\"\n"
	        "F:3: unknown statement \"acl\" (expected \"group\", \"time\" or \"policy\")\n"
	        "F:4: expected \"group NAME {\"\n"
	        "F:5: expected \"group NAME {\"\n"
	        "F:6: expected a directive\n"
	        "F:9: missing \"}\" to close policy q (opened at line 7)\n");
	/* An unterminated string is reported once, and the next statement read. */
	expect_errors("group a {\n\tuser \"bob;\n\taddress 10.0.0.0/8;\n}\npolicy p { for x; "
	              "default allow; }\n",
	              "F:2: unterminated string\n"
	              "F:5: unknown group \"x\"\n");
	expect_errors("policy p {\n\tdefault allow;\n\tbogus x;\n}\ngroup g { for x; }\n"
	              "time t { user x; }\n",
	              "F:3: unknown directive \"bogus\" (a policy holds \"for\", \"during\", "
	              "\"allow\", \"block\" and \"default\")\n"
	              "F:5: unknown directive \"for\" (a group holds \"address\" and \"user\")\n"
	              "F:6: unknown directive \"user\" (a time holds \"days\" and \"hours\")\n");
	expect_errors("group g { user a; }\ngroup g2 { user b }", "F:2: \"user\": missing \";\"\n");
}

static void test_errors_names(void **state)
{
	(void)state;
	expect_errors("group g { user a; }\n"
	              "group g { user b; }\n"
	              "time t { days sat; }\n"
	              "time t { hours 1:00-2:00; }\n"
	              "policy p { default block; }\n"
	              "policy p { default allow; }\n"
	              "group \"bad name\" { user c; }\n"
	              "policy x { during t nope; for g; for g; default maybe; }\n"
	              "policy y { block malware; default allow; default block; }\n"
	              "group empty { }\n"
	              "time none { }\n"
	              "policy nothing { for g; }\n"
	              "time d { days mon; days tue; hours 08:00-08:00 24:00-01:00 9-10; }\n"
	              "group u { user \"\"; address; }\n"
	              "policy z { allow; block; default; }\n",
	              "F:2: group g is defined twice (first at line 1)\n"
	              "F:4: time t is defined twice (first at line 3)\n"
	              "F:6: policy p is defined twice (first at line 5)\n"
	              "F:7: group name \"bad name\" may hold only letters, digits, \"_\", \"-\" "
	              "and \".\"\n"
	              "F:8: \"for\" is set twice (first at line 8)\n"
	              "F:8: \"default\" takes allow or block\n"
	              "F:9: \"default\" after \"default\" (line 9) is never used\n"
	              "F:10: group empty is empty: give it \"address\" or \"user\"\n"
	              "F:11: time none is empty: give it \"days\" or \"hours\"\n"
	              "F:12: policy nothing has no rules (\"allow\", \"block\" or \"default\")\n"
	              "F:13: \"days\" is set twice (first at line 13)\n"
	              "F:13: hours \"08:00-08:00\" is an empty window\n"
	              "F:13: bad hours \"24:00-01:00\": expected HH:MM-HH:MM, like 08:00-12:30 "
	              "or 22:00-06:00\n"
	              "F:13: bad hours \"9-10\": expected HH:MM-HH:MM, like 08:00-12:30 or "
	              "22:00-06:00\n"
	              "F:14: empty user name\n"
	              "F:14: \"address\" needs at least one value\n"
	              "F:15: \"allow\" needs at least one value\n"
	              "F:15: \"block\" needs at least one value\n"
	              "F:15: \"default\" takes allow or block\n"
	              "F:8: unknown time \"nope\"\n");
}

static void test_errors_addresses(void **state)
{
	(void)state;
	expect_errors(
	        "group a {\n"
	        "\taddress 10.0.0.0/33 10.0.0.0/ 10.0.0.0/-1 10.0.0.0/8x 2001:db8::/129;\n"
	        "\taddress 2001:db8::1/32 10.1.2.129/25 ::ffff:10.0.0.1/104 1.2.3 fe80::1%eth0;\n"
	        "\taddress 10.0.0.0/008 0.0.0.0/0 ::/0 192.0.2.7/32 10.1.2.128/25 host.example;\n"
	        "}\n",
	        "F:2: \"10.0.0.0/33\": the prefix length must be 0 to 32\n"
	        "F:2: \"10.0.0.0/\": the prefix length must be 0 to 32\n"
	        "F:2: \"10.0.0.0/-1\": the prefix length must be 0 to 32\n"
	        "F:2: \"10.0.0.0/8x\": the prefix length must be 0 to 32\n"
	        "F:2: \"2001:db8::/129\": the prefix length must be 0 to 128\n"
	        "F:3: \"2001:db8::1/32\" has host bits set: the network is 2001:db8::/32\n"
	        "F:3: \"10.1.2.129/25\" has host bits set: the network is 10.1.2.128/25\n"
	        "F:3: \"::ffff:10.0.0.1/104\" has host bits set: the network is "
	        "::ffff:10.0.0.0/104\n"
	        "F:3: \"1.2.3\" is not an IP address or network (like 192.0.2.7, 10.1.0.0/16 or "
	        "2001:db8::/32)\n"
	        "F:3: \"fe80::1%eth0\" is not an IP address or network (like 192.0.2.7, "
	        "10.1.0.0/16 or 2001:db8::/32)\n"
	        "F:4: \"host.example\" is not an IP address or network (like 192.0.2.7, "
	        "10.1.0.0/16 or 2001:db8::/32)\n");
}

static void test_errors_file(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_null(url_policy_load("/nonexistent/urlfilter.policy", cat_id, NULL, f));
	fclose(f);
	assert_string_equal(
	        buf, "/nonexistent/urlfilter.policy: cannot open: No such file or directory\n");
	free(buf);
}

/* ---------------------------------------------------------------- who */

static void test_cidr_v4(void **state)
{
	(void)state;
	struct url_policy *p =
	        load_ok("group net { address 10.1.0.0/16 192.0.2.7 10.2.3.128/25; }\n"
	                "policy p { for net; block games; }\n");
	assert_true(blocks(p, "10.1.0.0", NULL));
	assert_true(blocks(p, "10.1.255.255", NULL));
	assert_false(blocks(p, "10.2.0.1", NULL));
	assert_false(blocks(p, "10.0.255.255", NULL));
	assert_true(blocks(p, "192.0.2.7", NULL));
	assert_false(blocks(p, "192.0.2.8", NULL));
	assert_true(blocks(p, "10.2.3.128", NULL));
	assert_true(blocks(p, "10.2.3.255", NULL));
	assert_false(blocks(p, "10.2.3.127", NULL));
	/* IPv4-mapped IPv6 clients are IPv4 clients. */
	assert_true(blocks(p, "::ffff:10.1.2.3", NULL));
	assert_true(blocks(p, "::FFFF:192.0.2.7", NULL));
	assert_true(blocks(p, "::ffff:a01:203", NULL));
	assert_false(blocks(p, "::ffff:10.2.0.1", NULL));
	assert_false(blocks(p, "::10.1.2.3", NULL)); /* IPv4-compatible is not mapped */
	/* Blanks around the header value are fine; anything else is no address. */
	assert_true(blocks(p, " 10.1.2.3\t", NULL));
	assert_false(blocks(p, "10.1.2.3 x", NULL));
	assert_false(blocks(p, "10.1.2.3x", NULL));
	assert_false(blocks(p, "10.1.2", NULL));
	assert_false(blocks(p, "010.1.2.3", NULL));
	assert_false(blocks(p, "", NULL));
	assert_false(blocks(p, NULL, NULL));
	assert_false(blocks(p, "10.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20", NULL));
	assert_true(url_policy_uses_address(p));
	assert_false(url_policy_uses_user(p));
	url_policy_free(p);

	p = load_ok("group any4 { address 0.0.0.0/0; }\npolicy p { for any4; block games; }\n");
	assert_true(blocks(p, "1.2.3.4", NULL));
	assert_true(blocks(p, "::ffff:1.2.3.4", NULL));
	assert_false(blocks(p, "2001:db8::1", NULL));
	assert_false(blocks(p, "::1", NULL));
	url_policy_free(p);
}

static void test_cidr_v6(void **state)
{
	(void)state;
	struct url_policy *p = load_ok("group net {\n"
	                               "\taddress 2001:db8::/32 2001:db9::5 2001:dba:0:2::/63;\n"
	                               "}\n"
	                               "policy p { for net; block games; }\n");
	assert_true(blocks(p, "2001:db8::", NULL));
	assert_true(blocks(p, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", NULL));
	assert_true(blocks(p, "2001:DB8:1:0::5", NULL));
	assert_false(blocks(p, "2001:db7:ffff::1", NULL));
	assert_false(blocks(p, "2001:db9::4", NULL));
	assert_true(blocks(p, "2001:db9::5", NULL));
	assert_true(blocks(p, "2001:db9:0::0:5", NULL));
	assert_false(blocks(p, "2001:db9::6", NULL));
	/* /63: 2 and 3 in the fourth group; 1 and 4 are out. */
	assert_true(blocks(p, "2001:dba:0:2::1", NULL));
	assert_true(blocks(p, "2001:dba:0:3:ffff::1", NULL));
	assert_false(blocks(p, "2001:dba:0:1:ffff::1", NULL));
	assert_false(blocks(p, "2001:dba:0:4::", NULL));
	assert_false(blocks(p, "10.1.2.3", NULL));
	assert_false(blocks(p, "fe80::1%eth0", NULL));
	url_policy_free(p);

	/* ::/0 covers every address, IPv4 clients included (as mapped). */
	p = load_ok("group any { address ::/0; }\npolicy p { for any; block games; }\n");
	assert_true(blocks(p, "::", NULL));
	assert_true(blocks(p, "2001:db8::1", NULL));
	assert_true(blocks(p, "10.1.2.3", NULL));
	assert_false(blocks(p, "nonsense", NULL));
	url_policy_free(p);

	p = load_ok("group m { address ::ffff:10.0.0.0/104; }\npolicy p { for m; block games; }\n");
	assert_true(blocks(p, "10.9.9.9", NULL));
	assert_true(blocks(p, "::ffff:10.9.9.9", NULL));
	assert_false(blocks(p, "11.0.0.0", NULL));
	url_policy_free(p);
}

static void test_users(void **state)
{
	(void)state;
	struct url_policy *p = load_ok("group staff { user alice \"Bob Smith\"; user ÉLODIE; }\n"
	                               "policy p { for staff; block games; }\n");
	assert_true(blocks(p, NULL, "alice"));
	assert_true(blocks(p, NULL, "ALICE"));
	assert_true(blocks(p, "10.0.0.1", "aLiCe"));
	assert_false(blocks(p, NULL, "alic"));
	assert_false(blocks(p, NULL, "alicex"));
	assert_false(blocks(p, NULL, "alice "));
	assert_false(blocks(p, NULL, "DOMAIN\\alice"));
	assert_true(blocks(p, NULL, "bob smith"));
	assert_false(blocks(p, NULL, "Bob  Smith"));
	/* ASCII case only: É and é are different bytes. */
	assert_true(blocks(p, NULL, "ÉLODIE"));
	assert_true(blocks(p, NULL, "Élodie"));
	assert_false(blocks(p, NULL, "élodie"));
	assert_false(blocks(p, NULL, ""));
	assert_false(blocks(p, NULL, NULL));
	assert_false(url_policy_uses_address(p));
	assert_true(url_policy_uses_user(p));
	url_policy_free(p);

	/* Many names, in no order and mixed case (they are sorted and
	 * binary-searched): each is found in any case, no other name is. */
	char text[16384], *o = text;
	o += sprintf(o, "group many {\n");
	for (int i = 0; i < 300; i++)
		o += sprintf(o, "\tuser %s%d;\n",
		             i % 3 == 0   ? "User"
		             : i % 3 == 1 ? "uSER_"
		                          : "x",
		             (i * 7919) % 300);
	sprintf(o, "}\npolicy p { for many; block games; }\n");
	p = load_ok(text);
	for (int i = 0; i < 300; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%s%d",
		         i % 3 == 0   ? "USER"
		         : i % 3 == 1 ? "User_"
		                      : "X",
		         (i * 7919) % 300);
		assert_true(blocks(p, NULL, name));
		strcat(name, "z");
		assert_false(blocks(p, NULL, name));
	}
	assert_false(blocks(p, NULL, "user"));
	assert_false(blocks(p, NULL, "x"));
	assert_false(blocks(p, NULL, "x300"));
	url_policy_free(p);
}

static void test_groups(void **state)
{
	(void)state;
	/* A group matches by address or by user; "for" takes any of its groups;
	 * a group may be defined after the policy that names it. */
	struct url_policy *p = load_ok("policy p { for mixed other; block games; }\n"
	                               "group mixed { address 10.0.0.0/8; user carol; }\n"
	                               "group other { user dave; }\n"
	                               "group unused { address 192.0.2.0/24; }\n");
	assert_true(blocks(p, "10.0.0.1", NULL));
	assert_true(blocks(p, "192.0.2.1", "carol"));
	assert_true(blocks(p, "10.0.0.1", "erin"));
	assert_true(blocks(p, NULL, "dave"));
	assert_false(blocks(p, "192.0.2.1", "erin"));
	assert_false(blocks(p, NULL, NULL));
	assert_true(url_policy_uses_address(p));
	assert_true(url_policy_uses_user(p));
	url_policy_free(p);

	p = load_ok("policy everyone { block games; }\n");
	assert_true(blocks(p, NULL, NULL));
	assert_false(url_policy_uses_address(p));
	assert_false(url_policy_uses_user(p));
	url_policy_free(p);
}

/* ---------------------------------------------------------------- when */

static void test_days(void **state)
{
	(void)state;
	const char *wk = "days mon-fri;";
	assert_true(in_window(wk, MON(0, 0)));
	assert_true(in_window(wk, WED(12, 0)));
	assert_true(in_window(wk, FRI(23, 59)));
	assert_false(in_window(wk, SAT(0, 0)));
	assert_false(in_window(wk, SUN(23, 59)));

	const char *we = "days sat,sun;";
	assert_true(in_window(we, SAT(0, 0)));
	assert_true(in_window(we, SUN(23, 59)));
	assert_false(in_window(we, MON2(0, 0)));
	assert_false(in_window(we, FRI(23, 59)));

	/* A range wraps through the end of the week. */
	const char *wrap = "days fri-mon;";
	assert_true(in_window(wrap, FRI(0, 0)));
	assert_true(in_window(wrap, SAT(5, 0)));
	assert_true(in_window(wrap, SUN(5, 0)));
	assert_true(in_window(wrap, MON(5, 0)));
	assert_false(in_window(wrap, TUE(5, 0)));
	assert_false(in_window(wrap, THU(23, 59)));

	const char *list = "days Tue THU sat-sat;";
	assert_true(in_window(list, TUE(1, 0)));
	assert_false(in_window(list, WED(1, 0)));
	assert_true(in_window(list, THU(1, 0)));
	assert_true(in_window(list, SAT(1, 0)));
	assert_false(in_window(list, SUN(1, 0)));

	const char *commas = "days mon, wed,,;";
	assert_true(in_window(commas, MON(1, 0)));
	assert_false(in_window(commas, TUE(1, 0)));
	assert_true(in_window(commas, WED(1, 0)));

	for (time_t t = MON(12, 0); t < MON2(12, 0); t += 86400) {
		assert_true(in_window("days sun-sat;", t));
		assert_true(in_window("days mon-sun;", t));
	}
}

static void test_hours(void **state)
{
	(void)state;
	const char *two = "hours 08:00-12:00 13:00-16:30;";
	assert_false(in_window(two, WED(7, 59)));
	assert_true(in_window(two, WED(8, 0)));
	assert_true(in_window(two, WED(11, 59)));
	assert_true(in_window(two, WED(11, 59) + 59));
	assert_false(in_window(two, WED(12, 0)));
	assert_false(in_window(two, WED(12, 30)));
	assert_true(in_window(two, WED(13, 0)));
	assert_true(in_window(two, SUN(16, 29)));
	assert_false(in_window(two, SUN(16, 30)));

	const char *late = "hours 8:00-24:00;";
	assert_true(in_window(late, WED(8, 0)));
	assert_true(in_window(late, WED(23, 59)));
	assert_false(in_window(late, THU(0, 0)));
	assert_false(in_window(late, WED(7, 59)));

	const char *whole = "days mon; hours 00:00-24:00;";
	assert_true(in_window(whole, MON(0, 0)));
	assert_true(in_window(whole, MON(23, 59)));
	assert_false(in_window(whole, TUE(0, 0)));
	assert_false(in_window(whole, SUN(23, 59)));
}

/* A window past midnight belongs to the day it starts on. */
static void test_hours_wrapping(void **state)
{
	(void)state;
	const char *fri = "days fri; hours 22:00-06:00;";
	assert_false(in_window(fri, FRI(21, 59)));
	assert_true(in_window(fri, FRI(22, 0)));
	assert_true(in_window(fri, FRI(23, 59)));
	assert_true(in_window(fri, SAT(0, 0)));
	assert_true(in_window(fri, SAT(5, 59)));
	assert_false(in_window(fri, SAT(6, 0)));
	assert_false(in_window(fri, FRI(5, 0))); /* Thursday's night is not in */
	assert_false(in_window(fri, SAT(22, 0)));
	assert_false(in_window(fri, THU(23, 0)));

	/* Through the end of the week: Sunday night into Monday. */
	const char *sun = "days sun; hours 22:00-06:00;";
	assert_true(in_window(sun, SUN(23, 0)));
	assert_true(in_window(sun, MON2(1, 0)));
	assert_true(in_window(sun, MON(1, 0)));
	assert_false(in_window(sun, SUN(1, 0)));
	assert_false(in_window(sun, SAT(23, 0)));
	assert_false(in_window(sun, MON(23, 0)));

	const char *sat = "days sat; hours 23:00-01:00;";
	assert_true(in_window(sat, SUN(0, 30)));
	assert_false(in_window(sat, SUN(1, 0)));
	assert_false(in_window(sat, SAT(0, 30)));

	const char *nightly = "hours 22:00-06:00 12:00-13:00;";
	assert_true(in_window(nightly, MON(3, 0)));
	assert_true(in_window(nightly, MON(12, 0)));
	assert_false(in_window(nightly, MON(13, 0)));
	assert_false(in_window(nightly, MON(21, 59)));
	assert_true(in_window(nightly, MON(22, 0)));
}

/* The window is local time: the machine's zone is whatever TZ says. */
static void test_local_time(void **state)
{
	(void)state;
	setenv("TZ", "XYZ-2", 1); /* UTC+2, no summer time */
	tzset();
	const char *fri = "days fri; hours 08:00-09:00;";
	assert_true(in_window(fri, FRI(6, 30)));
	assert_false(in_window(fri, FRI(8, 30)));
	assert_true(in_window("days fri; hours 00:00-02:00;", THU(23, 0)));
	assert_false(in_window("days thu;", THU(23, 0)));
	setenv("TZ", "UTC", 1);
	tzset();
	assert_false(in_window(fri, FRI(6, 30)));
	assert_true(in_window("days thu;", THU(23, 0)));
}

static void test_during_several(void **state)
{
	(void)state;
	struct url_policy *p = load_ok("time a { days mon; }\n"
	                               "time b { days tue; hours 10:00-11:00; }\n"
	                               "group g { user pupil; }\n"
	                               "policy p { during a b; for g; block games; }\n");
	assert_true(decide_at(p, NULL, "pupil", MON(9, 0), GAMES, -1).block);
	assert_true(decide_at(p, NULL, "pupil", TUE(10, 30), GAMES, -1).block);
	assert_false(decide_at(p, NULL, "pupil", TUE(9, 30), GAMES, -1).block);
	assert_false(decide_at(p, NULL, "pupil", WED(10, 30), GAMES, -1).block);
	assert_false(decide_at(p, NULL, "teacher", MON(9, 0), GAMES, -1).block);
	url_policy_free(p);
}

/* ---------------------------------------------------------------- what */

static void test_first_match(void **state)
{
	(void)state;
	struct url_policy *p = load_ok("policy p {\n"
	                               "\tallow school_sites;\n"
	                               "\tblock games school_sites adult;\n"
	                               "\tdefault allow;\n"
	                               "}\n");
	/* Listed as a school site and a game: the allow rule comes first. */
	struct url_decision d = decide_at(p, NULL, NULL, WED(9, 0), GAMES, SCHOOL, -1);
	assert_false(d.block);
	assert_int_equal(d.category, SCHOOL);
	assert_ptr_equal(d.match, &matches[1]);
	assert_string_equal(d.policy, "p");
	assert_int_equal(d.line, 2);
	/* Several of a rule's categories: the rule's order picks the one named. */
	d = decide_at(p, NULL, NULL, WED(9, 0), ADULT, MALWARE, GAMES, -1);
	assert_true(d.block);
	assert_int_equal(d.category, GAMES);
	assert_ptr_equal(d.match, &matches[2]);
	assert_int_equal(d.line, 3);
	/* No listed category: the default. */
	d = decide_at(p, NULL, NULL, WED(9, 0), MALWARE, -1);
	assert_false(d.block);
	assert_int_equal(d.category, -1);
	assert_null(d.match);
	assert_string_equal(d.policy, "p");
	assert_int_equal(d.line, 4);
	d = decide_at(p, NULL, NULL, WED(9, 0), -1);
	assert_false(d.block);
	assert_int_equal(d.line, 4);
	url_policy_free(p);

	/* The other way round, the block list wins. */
	p = load_ok("policy p {\n\tblock games;\n\tallow school_sites;\n\tdefault block;\n}\n");
	d = decide_at(p, NULL, NULL, WED(9, 0), GAMES, SCHOOL, -1);
	assert_true(d.block);
	assert_int_equal(d.category, GAMES);
	assert_int_equal(d.line, 2);
	d = decide_at(p, NULL, NULL, WED(9, 0), SCHOOL, -1);
	assert_false(d.block);
	assert_int_equal(d.category, SCHOOL);
	assert_int_equal(d.line, 3);
	d = decide_at(p, NULL, NULL, WED(9, 0), -1);
	assert_true(d.block);
	assert_int_equal(d.category, -1);
	assert_int_equal(d.line, 4);
	url_policy_free(p);
}

static void test_default_and_fallthrough(void **state)
{
	(void)state;
	const char *text = "group pupils { address 10.2.0.0/16; }\n"
	                   "policy strict {\n"
	                   "\tfor pupils;\n"
	                   "\tblock games;\n"
	                   "%s"
	                   "}\n"
	                   "policy everyone {\n"
	                   "\tblock malware;\n"
	                   "\tdefault allow;\n"
	                   "}\n";
	char buf[512];
	snprintf(buf, sizeof(buf), text, "");
	struct url_policy *p = load_ok(buf);
	struct url_decision d = decide_at(p, "10.2.0.9", NULL, WED(9, 0), GAMES, -1);
	assert_true(d.block);
	assert_string_equal(d.policy, "strict");
	assert_int_equal(d.line, 4);
	/* strict has no default: what it does not decide goes on to everyone. */
	d = decide_at(p, "10.2.0.9", NULL, WED(9, 0), MALWARE, -1);
	assert_true(d.block);
	assert_string_equal(d.policy, "everyone");
	assert_int_equal(d.line, 7);
	assert_int_equal(d.category, MALWARE);
	d = decide_at(p, "10.2.0.9", NULL, WED(9, 0), -1);
	assert_false(d.block);
	assert_string_equal(d.policy, "everyone");
	assert_int_equal(d.line, 8);
	d = decide_at(p, "10.3.0.9", NULL, WED(9, 0), GAMES, -1);
	assert_false(d.block);
	assert_string_equal(d.policy, "everyone");
	assert_int_equal(d.line, 8);
	url_policy_free(p);

	/* With a default, strict decides everything for pupils. */
	snprintf(buf, sizeof(buf), text, "\tdefault allow;\n");
	p = load_ok(buf);
	d = decide_at(p, "10.2.0.9", NULL, WED(9, 0), MALWARE, -1);
	assert_false(d.block);
	assert_string_equal(d.policy, "strict");
	assert_int_equal(d.line, 5);
	assert_int_equal(d.category, -1);
	d = decide_at(p, "10.3.0.9", NULL, WED(9, 0), MALWARE, -1);
	assert_true(d.block);
	assert_string_equal(d.policy, "everyone");
	assert_int_equal(d.line, 8);
	url_policy_free(p);
}

static void test_no_policy(void **state)
{
	(void)state;
	/* No policy at all, a policy that does not apply, one that decides
	 * nothing: allowed, by no policy. */
	const char *texts[] = {"", "# only a comment\n",
	                       "group g { user x; }\npolicy p { for g; default block; }\n",
	                       "policy p { block games; }\n"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct url_policy *p = load_ok(texts[i]);
		struct url_decision d = decide_at(p, "10.0.0.1", "y", WED(9, 0), MALWARE, -1);
		assert_false(d.block);
		assert_int_equal(d.category, -1);
		assert_null(d.match);
		assert_null(d.policy);
		assert_int_equal(d.line, 0);
		url_policy_free(p);
	}
	struct url_decision d = decide_at(NULL, NULL, NULL, 0, GAMES, -1);
	assert_false(d.block);
	assert_null(d.policy);
	assert_int_equal(d.line, 0);
}

/* ---------------------------------------------------------------- the sample */

static char *read_sample(void)
{
	const char *path = "conf/urlfilter.policy";
	FILE *f = fopen(path, "r");
	if (f == NULL)
		f = fopen("../../conf/urlfilter.policy", "r");
	assert_non_null(f);
	static char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strdup(buf);
}

static void test_sample(void **state)
{
	(void)state;
	static const char *const known[] = {"malware", "phishing", NULL};
	char *text = read_sample();
	char *errors;
	struct url_policy *p = load_cats(text, (void *)known, &errors);
	assert_string_equal(errors, "");
	assert_non_null(p);
	free(errors);
	const char *addrs[] = {NULL, "10.2.0.1", "2001:db8::1", "garbage"};
	const char *users[] = {NULL, "guest", "alice"};
	for (size_t a = 0; a < 4; a++)
		for (size_t u = 0; u < 3; u++)
			for (time_t t = MON(3, 0); t < MON2(3, 0); t += 5 * 3600) {
				struct url_decision d =
				        decide_at(p, addrs[a], users[u], t, 100, -1);
				assert_true(d.block);
				assert_int_equal(d.category, 100);
				assert_string_equal(d.policy, "everyone");
				assert_true(decide_at(p, addrs[a], users[u], t, 101, -1).block);
				assert_false(decide_at(p, addrs[a], users[u], t, -1).block);
			}
	assert_false(url_policy_uses_address(p));
	assert_false(url_policy_uses_user(p));
	url_policy_free(p);

	/* The commented-out example must work as shown once uncommented: from
	 * "# group|time|policy NAME {" through "# }". */
	char *ex = malloc(strlen(text) + 1), *o = ex;
	assert_non_null(ex);
	bool in_block = false;
	for (char *line = text; *line != 0;) {
		size_t n = strcspn(line, "\n");
		char kind[16], name[64], brace[2];
		if (!in_block && line[0] == '#' &&
		    sscanf(line + 1, " %15[a-z] %63[a-z_] %1[{]", kind, name, brace) == 3 &&
		    (strcmp(kind, "group") == 0 || strcmp(kind, "time") == 0 ||
		     strcmp(kind, "policy") == 0))
			in_block = true;
		if (in_block) {
			in_block = strncmp(line, "# }", 3) != 0;
			line += 1 + (line[1] == ' ');
			n = strcspn(line, "\n");
		}
		memcpy(o, line, n + (line[n] == '\n'));
		o += n + (line[n] == '\n');
		line += n + (line[n] == '\n');
	}
	*o = 0;
	p = load_cats(ex, NULL, &errors);
	assert_string_equal(errors, "");
	assert_non_null(p);
	free(errors);
	assert_true(url_policy_uses_address(p));
	assert_true(url_policy_uses_user(p));
	struct url_decision d = decide_at(p, "10.2.3.4", NULL, TUE(9, 0), GAMES, -1);
	assert_true(d.block);
	assert_string_equal(d.policy, "pupils_in_lessons");
	d = decide_at(p, NULL, "Guest", TUE(9, 0), GAMES, SCHOOL, -1);
	assert_false(d.block);
	assert_int_equal(d.category, SCHOOL);
	assert_string_equal(d.policy, "pupils_in_lessons");
	d = decide_at(p, "10.2.3.4", NULL, TUE(9, 0), MALWARE, -1);
	assert_true(d.block);
	assert_string_equal(d.policy, "everyone");
	assert_false(decide_at(p, "10.2.3.4", NULL, TUE(12, 30), GAMES, -1).block);
	assert_false(decide_at(p, "10.2.3.4", NULL, SAT(9, 0), GAMES, -1).block);
	assert_false(decide_at(p, "10.3.3.4", NULL, TUE(9, 0), GAMES, -1).block);
	assert_true(decide_at(p, "10.3.3.4", NULL, TUE(9, 0), PHISHING, -1).block);
	url_policy_free(p);
	free(ex);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_errors_many),  cmocka_unit_test(test_errors_syntax),
	        cmocka_unit_test(test_errors_names), cmocka_unit_test(test_errors_addresses),
	        cmocka_unit_test(test_errors_file),  cmocka_unit_test(test_cidr_v4),
	        cmocka_unit_test(test_cidr_v6),      cmocka_unit_test(test_users),
	        cmocka_unit_test(test_groups),       cmocka_unit_test(test_days),
	        cmocka_unit_test(test_hours),        cmocka_unit_test(test_hours_wrapping),
	        cmocka_unit_test(test_local_time),   cmocka_unit_test(test_during_several),
	        cmocka_unit_test(test_first_match),  cmocka_unit_test(test_default_and_fallthrough),
	        cmocka_unit_test(test_no_policy),    cmocka_unit_test(test_sample),
	};
	return cmocka_run_group_tests(tests, setup_utc, NULL);
}
