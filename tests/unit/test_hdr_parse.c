/*
 * Unit tests for hdr_parse.c: the header-field grammar shared by the ICAP head
 * and encapsulated HTTP blocks (hdr_parse_fields), and the helpers hdr_find,
 * hdr_count, hdr_list_has, hdr_parse_uint and hdr_is_tchar. Every input is
 * also parsed at each of its prefixes, each copied to a heap buffer of exact
 * size so that AddressSanitizer catches reads past the given length: a strict
 * prefix of a valid block must say "need more", and a malformed block must
 * say "need more" until the bad byte is in view and "error" from then on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hdr_parse.h"

#define MAXH 16

/* Parses in[0..len) from an exact-size heap copy, with room for max fields. */
static long parse_copy(const char *in, size_t len, struct hdr *hdrs, size_t max, size_t *n,
                       char **copy)
{
	*copy = malloc(len ? len : 1);
	assert_non_null(*copy);
	memcpy(*copy, in, len);
	*n = max;
	return hdr_parse_fields(*copy, len, hdrs, n);
}

static long parse_once(const char *in, size_t len, size_t max)
{
	struct hdr hdrs[MAXH + 2];
	size_t n;
	char *copy;
	long r = parse_copy(in, len, hdrs, max, &n, &copy);
	free(copy);
	return r;
}

/*
 * A valid block of len bytes (possibly followed by more data up to total):
 * every strict prefix needs more, and every longer input gives len.
 */
static void check_prefixes_valid(const char *in, size_t len, size_t total, size_t max)
{
	for (size_t k = 0; k < len; k++)
		assert_int_equal(parse_once(in, k, max), HDR_NEED_MORE);
	for (size_t k = len; k <= total; k++)
		assert_int_equal(parse_once(in, k, max), (long)len);
}

/*
 * A malformed block whose error is visible once err_at + 1 bytes are there:
 * shorter prefixes need more; from there on it is an error (it may be
 * reported later, but then must stay an error).
 */
static void check_error_at(const char *in, size_t len, size_t err_at, size_t max)
{
	int seen_error = 0;

	assert_true(err_at < len);
	for (size_t k = 0; k <= len; k++) {
		long r = parse_once(in, k, max);
		if (k <= err_at) {
			assert_int_equal(r, HDR_NEED_MORE);
			continue;
		}
		if (seen_error || k == len)
			assert_int_equal(r, HDR_ERROR);
		else if (r != HDR_NEED_MORE)
			assert_int_equal(r, HDR_ERROR);
		seen_error |= r == HDR_ERROR;
	}
}

static void check_error(const char *in, size_t err_at)
{
	check_error_at(in, strlen(in), err_at, MAXH);
}

static void assert_field(const struct hdr *h, const char *name, const char *value)
{
	assert_int_equal(h->name_len, strlen(name));
	assert_memory_equal(h->name, name, h->name_len);
	assert_int_equal(h->value_len, strlen(value));
	if (h->value_len)
		assert_memory_equal(h->value, value, h->value_len);
}

static void test_simple_block(void **state)
{
	const char *in = "Host: icap-server.net\r\n"
	                 "Encapsulated: req-hdr=0, null-body=170\r\n"
	                 "\r\n";
	struct hdr hdrs[MAXH];
	size_t n;
	char *copy;

	(void)state;
	long r = parse_copy(in, strlen(in), hdrs, MAXH, &n, &copy);
	assert_int_equal(r, (long)strlen(in));
	assert_int_equal(n, 2);
	assert_field(&hdrs[0], "Host", "icap-server.net");
	assert_field(&hdrs[1], "Encapsulated", "req-hdr=0, null-body=170");
	/* Fields point into the caller's buffer. */
	assert_ptr_equal(hdrs[0].name, copy);
	assert_ptr_equal(hdrs[0].value, copy + 6);
	free(copy);
	check_prefixes_valid(in, strlen(in), strlen(in), MAXH);
}

static void test_empty_block(void **state)
{
	struct hdr hdrs[1];
	size_t n = 1;

	(void)state;
	assert_int_equal(hdr_parse_fields("\r\n", 2, hdrs, &n), 2);
	assert_int_equal(n, 0);
	check_prefixes_valid("\r\n", 2, 2, MAXH);
	check_prefixes_valid("\r\n", 2, 2, 0);
}

static void test_stops_after_empty_line(void **state)
{
	const char *in = "A: b\r\n\r\nGET / HTTP/1.1\r\n";
	struct hdr hdrs[MAXH];
	size_t n;
	char *copy;

	(void)state;
	assert_int_equal(parse_copy(in, strlen(in), hdrs, MAXH, &n, &copy), 8);
	assert_int_equal(n, 1);
	free(copy);
	check_prefixes_valid(in, 8, strlen(in), MAXH);
}

static void test_value_white_space(void **state)
{
	const char *in = "A:   x y \t\r\n"
	                 "B:\r\n"
	                 "C: \t \r\n"
	                 "D:\tz\r\n"
	                 "E:in\tside\r\n"
	                 "\r\n";
	struct hdr hdrs[MAXH];
	size_t n;
	char *copy;

	(void)state;
	assert_int_equal(parse_copy(in, strlen(in), hdrs, MAXH, &n, &copy), (long)strlen(in));
	assert_int_equal(n, 5);
	assert_field(&hdrs[0], "A", "x y");
	assert_field(&hdrs[1], "B", "");
	assert_field(&hdrs[2], "C", "");
	assert_field(&hdrs[3], "D", "z");
	assert_field(&hdrs[4], "E", "in\tside");
	free(copy);
	check_prefixes_valid(in, strlen(in), strlen(in), MAXH);
}

static void test_token_names_and_obs_text(void **state)
{
	const char *in = "X-a.b_c!#$%&'*+^`|~9: v\r\n"
	                 "Y: caf\xc3\xa9 \x80\xff\r\n"
	                 "\r\n";
	struct hdr hdrs[MAXH];
	size_t n;
	char *copy;

	(void)state;
	assert_int_equal(parse_copy(in, strlen(in), hdrs, MAXH, &n, &copy), (long)strlen(in));
	assert_int_equal(n, 2);
	assert_field(&hdrs[0], "X-a.b_c!#$%&'*+^`|~9", "v");
	assert_field(&hdrs[1], "Y", "caf\xc3\xa9 \x80\xff");
	free(copy);
	check_prefixes_valid(in, strlen(in), strlen(in), MAXH);
}

static void test_bare_lf_and_cr(void **state)
{
	(void)state;
	check_error("A: b\nC: d\r\n\r\n", 4);
	check_error("A: b\r\n\n", 6);
	check_error("\n", 0);
	check_error("A\n", 1);
	check_error("A: b\rC: d\r\n\r\n", 5);
	check_error("A: b\r\n\rX", 7);
	check_error("\r\r\n", 1);
	check_error("A: b\r\r\n\r\n", 5);
}

static void test_folding_refused(void **state)
{
	(void)state;
	check_error("A: b\r\n c\r\n\r\n", 6);
	check_error("A: b\r\n\tc\r\n\r\n", 6);
	check_error(" A: b\r\n\r\n", 0);
}

static void test_bad_names(void **state)
{
	(void)state;
	check_error("A : b\r\n\r\n", 1);
	check_error("A\t: b\r\n\r\n", 1);
	check_error("A\r\n\r\n", 1);
	check_error(": b\r\n\r\n", 0);
	check_error("A@B: c\r\n\r\n", 1);
	check_error("A(B): c\r\n\r\n", 1);
	check_error("A\"B: c\r\n\r\n", 1);
	check_error("A/B: c\r\n\r\n", 1);
	check_error("A\x01: c\r\n\r\n", 1);
	check_error("\xc3\xa9: c\r\n\r\n", 0);
	check_error("A: b\r\nC D: e\r\n\r\n", 7);
}

static void test_control_chars_in_value(void **state)
{
	(void)state;
	check_error("A: b\x01\r\n\r\n", 4);
	check_error("A: b\x7f\r\n\r\n", 4);
	check_error("A: b\x1b[0m\r\n\r\n", 4);
	check_error("A: \x0b\r\n\r\n", 3);
	static const char nul[] = "A: b\0c\r\n\r\n";
	check_error_at(nul, sizeof(nul) - 1, 4, MAXH);
	static const char nul_name[] = "A\0: b\r\n\r\n";
	check_error_at(nul_name, sizeof(nul_name) - 1, 1, MAXH);
}

static void test_too_many_fields(void **state)
{
	const char *three = "A: 1\r\nB: 2\r\nC: 3\r\n\r\n";

	(void)state;
	check_prefixes_valid(three, strlen(three), strlen(three), 3);
	check_prefixes_valid(three, strlen(three), strlen(three), MAXH);
	/* A fourth field is checked and counted but not stored. */
	const char *four = "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
	check_prefixes_valid(four, strlen(four), strlen(four), 3);
	struct hdr hdrs[3];
	char *copy;
	size_t n = 3;
	assert_int_equal(parse_copy(four, strlen(four), hdrs, 3, &n, &copy), (long)strlen(four));
	assert_int_equal(n, 4);
	assert_memory_equal(hdrs[2].name, "C", 1);
	free(copy);
	/* With room for none, fields are still counted, and a bad one still refused. */
	n = 0;
	assert_int_equal(parse_copy("A: 1\r\n\r\n", 8, NULL, 0, &n, &copy), 8);
	assert_int_equal(n, 1);
	free(copy);
	check_error_at("A: 1\r\nB\r\n\r\n", 11, 7, 0);
}

static void test_find_and_count(void **state)
{
	const char *in = "Host: a\r\n"
	                 "encapsulated: null-body=0\r\n"
	                 "X: 1\r\n"
	                 "ENCAPSULATED: null-body=1\r\n"
	                 "Encapsulatedx: 2\r\n"
	                 "\r\n";
	struct hdr hdrs[MAXH];
	size_t n;
	char *copy;

	(void)state;
	assert_int_equal(parse_copy(in, strlen(in), hdrs, MAXH, &n, &copy), (long)strlen(in));
	assert_int_equal(n, 5);
	const struct hdr *h = hdr_find(hdrs, n, "Encapsulated");
	assert_ptr_equal(h, &hdrs[1]);
	assert_ptr_equal(hdr_find(hdrs, n, "HOST"), &hdrs[0]);
	assert_null(hdr_find(hdrs, n, "Preview"));
	assert_null(hdr_find(hdrs, n, "Encap"));
	assert_null(hdr_find(hdrs, 0, "Host"));
	/* Duplicates of a singleton are visible to the caller. */
	assert_int_equal(hdr_count(hdrs, n, "Encapsulated"), 2);
	assert_int_equal(hdr_count(hdrs, n, "host"), 1);
	assert_int_equal(hdr_count(hdrs, n, "Preview"), 0);
	free(copy);
}

static int list_has(const char *v, const char *tok)
{
	size_t len = strlen(v);
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, v, len);
	int r = hdr_list_has(copy, len, tok);
	free(copy);
	return r;
}

static void test_list_has(void **state)
{
	(void)state;
	assert_true(list_has("204", "204"));
	assert_true(list_has("204, trailers", "204"));
	assert_true(list_has("204, trailers", "trailers"));
	assert_true(list_has("trailers,204", "204"));
	assert_true(list_has("  204  ,\t x", "204"));
	assert_true(list_has(",,204,,", "204"));
	assert_true(list_has("Close", "close"));
	assert_true(list_has("keep-alive, CLOSE", "close"));
	assert_false(list_has("", "204"));
	assert_false(list_has(",", "204"));
	assert_false(list_has("2045", "204"));
	assert_false(list_has("20", "204"));
	assert_false(list_has("x204", "204"));
	assert_false(list_has("204x, 1204", "204"));
	assert_false(list_has("close-ish", "close"));
	assert_false(list_has("2 04", "204"));
}

static int uint_of(const char *s, unsigned long long max, unsigned long long *out)
{
	size_t len = strlen(s);
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, s, len);
	int r = hdr_parse_uint(copy, len, max, out);
	free(copy);
	return r;
}

static void test_parse_uint(void **state)
{
	unsigned long long v = 12345;

	(void)state;
	assert_int_equal(uint_of("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(uint_of("1024", 1 << 20, &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(uint_of("00012", 100, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(uint_of("100", 100, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(uint_of("18446744073709551615", ULLONG_MAX, &v), 0);
	assert_true(v == ULLONG_MAX);
	assert_int_equal(uint_of("1099511627776", 1ULL << 40, &v), 0);
	assert_true(v == 1ULL << 40);

	v = 777;
	assert_int_equal(uint_of("101", 100, &v), -1);
	assert_int_equal(uint_of("1000", 100, &v), -1);
	assert_int_equal(uint_of("1099511627777", 1ULL << 40, &v), -1);
	assert_int_equal(uint_of("18446744073709551616", ULLONG_MAX, &v), -1);
	assert_int_equal(uint_of("99999999999999999999999", ULLONG_MAX, &v), -1);
	assert_int_equal(uint_of("", 100, &v), -1);
	assert_int_equal(uint_of("+1", 100, &v), -1);
	assert_int_equal(uint_of("-1", 100, &v), -1);
	assert_int_equal(uint_of("-0", 100, &v), -1);
	assert_int_equal(uint_of(" 1", 100, &v), -1);
	assert_int_equal(uint_of("1 ", 100, &v), -1);
	assert_int_equal(uint_of("0x10", 100, &v), -1);
	assert_int_equal(uint_of("1e3", 10000, &v), -1);
	assert_int_equal(uint_of("1.0", 100, &v), -1);
	assert_int_equal(v, 777);
	/* Only len bytes are read. */
	assert_int_equal(hdr_parse_uint("12x", 2, 100, &v), 0);
	assert_int_equal(v, 12);
}

static void test_is_tchar(void **state)
{
	const char *special = "!#$%&'*+-.^_`|~";

	(void)state;
	for (int c = 0; c < 256; c++) {
		int expect = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		             (c >= 'A' && c <= 'Z') || (c != 0 && strchr(special, c) != NULL);
		if (hdr_is_tchar((unsigned char)c) != expect)
			fail_msg("hdr_is_tchar(0x%02x) != %d", c, expect);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_simple_block),
	        cmocka_unit_test(test_empty_block),
	        cmocka_unit_test(test_stops_after_empty_line),
	        cmocka_unit_test(test_value_white_space),
	        cmocka_unit_test(test_token_names_and_obs_text),
	        cmocka_unit_test(test_bare_lf_and_cr),
	        cmocka_unit_test(test_folding_refused),
	        cmocka_unit_test(test_bad_names),
	        cmocka_unit_test(test_control_chars_in_value),
	        cmocka_unit_test(test_too_many_fields),
	        cmocka_unit_test(test_find_and_count),
	        cmocka_unit_test(test_list_has),
	        cmocka_unit_test(test_parse_uint),
	        cmocka_unit_test(test_is_tchar),
	};
	return cmocka_run_group_tests_name("hdr_parse", tests, NULL, NULL);
}
