/*
 * Unit tests for encap.c: the Encapsulated header (RFC 3507 section 4.4.1).
 * The RFC's example headers that an ICAP request may carry must parse to the
 * right offsets and block lengths for their method; anything ambiguous must
 * be refused: duplicate or misordered entities, a first offset other than 0,
 * offsets that do not increase, entities the method cannot carry, a missing
 * or repeated body, stray separators, signed or overflowing numbers, and
 * header blocks larger than max_block. Each value is parsed from an
 * exact-size heap copy so that AddressSanitizer catches over-reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encap.h"

#define BIG ((size_t)1 << 20)

static const enum icap_method all_methods[] = {
        ICAP_METHOD_UNKNOWN,
        ICAP_METHOD_OPTIONS,
        ICAP_METHOD_REQMOD,
        ICAP_METHOD_RESPMOD,
};

static int parse(const char *v, enum icap_method m, size_t max_block, struct encap *out)
{
	size_t len = strlen(v);
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, v, len);
	int r = encap_parse(copy, len, m, max_block, out);
	free(copy);
	return r;
}

struct expect {
	size_t req_hdr_off, req_hdr_len, res_hdr_off, res_hdr_len;
	enum encap_body body;
	size_t body_off;
};

static void check_ok(const char *v, enum icap_method m, struct expect e)
{
	struct encap out;

	if (parse(v, m, BIG, &out) != 0)
		fail_msg("\"%s\" refused for %s", v, icap_method_name(m));
	assert_int_equal(out.req_hdr_off, e.req_hdr_off);
	assert_int_equal(out.req_hdr_len, e.req_hdr_len);
	assert_int_equal(out.res_hdr_off, e.res_hdr_off);
	assert_int_equal(out.res_hdr_len, e.res_hdr_len);
	assert_int_equal(out.body, e.body);
	assert_int_equal(out.body_off, e.body_off);
}

static void check_bad(const char *v, enum icap_method m)
{
	struct encap out;

	if (parse(v, m, BIG, &out) != -1)
		fail_msg("\"%s\" accepted for %s", v, icap_method_name(m));
}

/* Refused whatever the method. */
static void check_bad_all(const char *v)
{
	for (size_t i = 0; i < sizeof(all_methods) / sizeof(all_methods[0]); i++)
		check_bad(v, all_methods[i]);
}

/* Accepted for exactly the methods in mask (1 << method). */
static void check_methods(const char *v, unsigned mask)
{
	struct encap out;

	for (size_t i = 0; i < sizeof(all_methods) / sizeof(all_methods[0]); i++) {
		enum icap_method m = all_methods[i];
		int want = mask & 1u << m ? 0 : -1;
		if (parse(v, m, BIG, &out) != want)
			fail_msg("\"%s\" %s for %s", v, want ? "accepted" : "refused",
			         icap_method_name(m));
	}
}

#define M_OPT  (1u << ICAP_METHOD_OPTIONS)
#define M_REQ  (1u << ICAP_METHOD_REQMOD)
#define M_RESP (1u << ICAP_METHOD_RESPMOD)

static void test_rfc_section_4_4_1_examples(void **state)
{
	(void)state;
	/* REQMOD request: headers at 0, the POST body at 412. */
	check_ok("req-hdr=0, req-body=412", ICAP_METHOD_REQMOD,
	         (struct expect){0, 412, 0, 0, ENCAP_REQ_BODY, 412});
	/* REQMOD request without a body: the headers are 412 bytes long. */
	check_ok("req-hdr=0, null-body=412", ICAP_METHOD_REQMOD,
	         (struct expect){0, 412, 0, 0, ENCAP_NULL_BODY, 412});
	/* RESPMOD request: request headers, response headers, response body. */
	check_ok("req-hdr=0, res-hdr=822, res-body=1655", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 822, 822, 833, ENCAP_RES_BODY, 1655});
	check_ok("req-hdr=0, res-hdr=45, res-body=100", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 45, 45, 55, ENCAP_RES_BODY, 100});
	/* "Header and body returned": in a request, only RESPMOD carries it. */
	check_ok("res-hdr=0, res-body=749", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 0, 0, 749, ENCAP_RES_BODY, 749});
	check_bad("res-hdr=0, res-body=749", ICAP_METHOD_REQMOD);
	/* OPTIONS, with and without an options body. */
	check_ok("opt-body=0", ICAP_METHOD_OPTIONS, (struct expect){0, 0, 0, 0, ENCAP_OPT_BODY, 0});
	check_ok("null-body=0", ICAP_METHOD_OPTIONS,
	         (struct expect){0, 0, 0, 0, ENCAP_NULL_BODY, 0});
}

static void test_rfc_section_4_8_and_4_9_examples(void **state)
{
	(void)state;
	/* Section 4.8.3, examples 1 to 3. */
	check_ok("req-hdr=0, null-body=170", ICAP_METHOD_REQMOD,
	         (struct expect){0, 170, 0, 0, ENCAP_NULL_BODY, 170});
	check_ok("req-hdr=0, req-body=147", ICAP_METHOD_REQMOD,
	         (struct expect){0, 147, 0, 0, ENCAP_REQ_BODY, 147});
	check_ok("req-hdr=0, null-body=119", ICAP_METHOD_REQMOD,
	         (struct expect){0, 119, 0, 0, ENCAP_NULL_BODY, 119});
	/* Section 4.9.3, example 4. */
	check_ok("req-hdr=0, res-hdr=137, res-body=296", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 137, 137, 159, ENCAP_RES_BODY, 296});
}

static void test_other_valid_forms(void **state)
{
	(void)state;
	/* Headers are optional. */
	check_ok("req-body=0", ICAP_METHOD_REQMOD, (struct expect){0, 0, 0, 0, ENCAP_REQ_BODY, 0});
	check_ok("null-body=0", ICAP_METHOD_REQMOD,
	         (struct expect){0, 0, 0, 0, ENCAP_NULL_BODY, 0});
	check_ok("res-body=0", ICAP_METHOD_RESPMOD, (struct expect){0, 0, 0, 0, ENCAP_RES_BODY, 0});
	check_ok("null-body=0", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 0, 0, 0, ENCAP_NULL_BODY, 0});
	check_ok("req-hdr=0, res-body=80", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 80, 0, 0, ENCAP_RES_BODY, 80});
	check_ok("res-hdr=0, null-body=60", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 0, 0, 60, ENCAP_NULL_BODY, 60});
	check_ok("req-hdr=0, res-hdr=10, null-body=30", ICAP_METHOD_RESPMOD,
	         (struct expect){0, 10, 10, 20, ENCAP_NULL_BODY, 30});
	/* Separators: the RFC's ", ", but also "," and several spaces. */
	check_ok("req-hdr=0,req-body=5", ICAP_METHOD_REQMOD,
	         (struct expect){0, 5, 0, 0, ENCAP_REQ_BODY, 5});
	check_ok("req-hdr=0,   req-body=5", ICAP_METHOD_REQMOD,
	         (struct expect){0, 5, 0, 0, ENCAP_REQ_BODY, 5});
	/* Leading zeros are still decimal. */
	check_ok("req-hdr=000, req-body=010", ICAP_METHOD_REQMOD,
	         (struct expect){0, 10, 0, 0, ENCAP_REQ_BODY, 10});
}

static void test_methods_and_entities(void **state)
{
	(void)state;
	check_methods("req-hdr=0, req-body=5", M_REQ);
	check_methods("req-hdr=0, null-body=5", M_REQ | M_RESP);
	check_methods("req-hdr=0, res-body=5", M_RESP);
	check_methods("res-hdr=0, res-body=5", M_RESP);
	check_methods("res-hdr=0, null-body=5", M_RESP);
	check_methods("req-body=0", M_REQ);
	check_methods("res-body=0", M_RESP);
	check_methods("opt-body=0", M_OPT);
	check_methods("null-body=0", M_OPT | M_REQ | M_RESP);
	/* res-hdr in REQMOD, req-body in RESPMOD. */
	check_methods("req-hdr=0, res-hdr=5, null-body=9", M_RESP);
	check_methods("req-hdr=0, res-hdr=5, req-body=9", 0);
	/* OPTIONS carries nothing but opt-body or null-body. */
	check_methods("req-hdr=0, null-body=5", M_REQ | M_RESP);
	check_methods("res-hdr=0, opt-body=5", 0);
	check_methods("req-hdr=0, opt-body=5", 0);
	check_methods("opt-body=0, null-body=5", 0);
}

static void test_duplicates(void **state)
{
	(void)state;
	check_bad_all("req-hdr=0, req-hdr=10, null-body=20");
	check_bad_all("req-hdr=0, res-hdr=10, res-hdr=20, res-body=30");
	check_bad_all("null-body=0, null-body=0");
	check_bad_all("req-hdr=0, null-body=10, null-body=20");
	check_bad_all("req-body=0, req-body=10");
	/* Two different bodies. */
	check_bad_all("req-hdr=0, req-body=10, null-body=20");
	check_bad_all("res-hdr=0, null-body=10, res-body=20");
	check_bad_all("req-body=0, res-body=10");
}

static void test_order(void **state)
{
	(void)state;
	check_bad_all("res-hdr=0, req-hdr=100, res-body=200");
	check_bad_all("res-body=0, res-hdr=10");
	check_bad_all("null-body=0, req-hdr=10");
	check_bad_all("req-hdr=0, req-body=10, res-hdr=20");
	check_bad_all("req-body=0, req-hdr=10");
}

static void test_offsets(void **state)
{
	(void)state;
	/* The first offset is 0. */
	check_bad_all("req-hdr=5, null-body=10");
	check_bad_all("req-hdr=1, res-hdr=10, res-body=20");
	check_bad_all("null-body=5");
	check_bad_all("opt-body=1");
	check_bad_all("req-body=7");
	/* Offsets increase strictly: no empty header block. */
	check_bad_all("req-hdr=0, null-body=0");
	check_bad_all("req-hdr=0, req-body=0");
	check_bad_all("req-hdr=0, res-hdr=0, res-body=10");
	check_bad_all("req-hdr=0, res-hdr=100, res-body=100");
	check_bad_all("req-hdr=0, res-hdr=100, res-body=50");
	check_bad_all("req-hdr=0, res-hdr=100, null-body=99");
}

static void test_separators(void **state)
{
	(void)state;
	check_bad_all("");
	check_bad_all(" ");
	check_bad_all(",");
	check_bad_all("null-body=0,");
	check_bad_all("null-body=0, ");
	check_bad_all("null-body=0,  ");
	check_bad_all(", null-body=0");
	check_bad_all("req-hdr=0,, null-body=5");
	check_bad_all("req-hdr=0, , null-body=5");
	check_bad_all("req-hdr=0 null-body=5");
	check_bad_all("req-hdr=0; null-body=5");
	check_bad_all(" null-body=0");
	check_bad_all("null-body=0\r\n");
}

/* RFC 2616's grammar, which ICAP follows: literals are case-insensitive and
 * white space may stand between words. */
static void test_lenient_case_and_white_space(void **state)
{
	static const char *const forms[] = {
	        "req-hdr=0 ,null-body=5", "req-hdr=0,\tnull-body=5",  "req-hdr = 0, null-body= 5",
	        "REQ-HDR=0, Null-Body=5", "req-hdr=0 , null-body=5 ",
	};
	struct encap e;

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_int_equal(parse(forms[i], ICAP_METHOD_REQMOD, 65536, &e), 0);
		assert_int_equal(e.req_hdr_len, 5);
		assert_int_equal(e.body, ENCAP_NULL_BODY);
		assert_int_equal(e.body_off, 5);
	}
	check_bad_all("null-body=0 0");
	check_bad_all("null -body=0");
}

static void test_missing_body(void **state)
{
	(void)state;
	check_bad_all("req-hdr=0");
	check_bad_all("res-hdr=0");
	check_bad_all("req-hdr=0, res-hdr=10");
}

static void test_names_and_numbers(void **state)
{
	(void)state;
	check_bad_all("null-body");
	check_bad_all("null-body=");
	check_bad_all("=0");
	check_bad_all("req-hdr=0, null-body=");
	check_bad_all("null-body==0");
	check_bad_all("foo-body=0");
	check_bad_all("null-bodyx=0");
	check_bad_all("null-bod=0");
	check_bad_all("req-hdr=0, x-hdr=5, null-body=10");
	/* Signs, other bases and junk. */
	check_bad_all("null-body=+0");
	check_bad_all("null-body=-0");
	check_bad_all("req-hdr=0, null-body=+5");
	check_bad_all("req-hdr=0, null-body=-5");
	check_bad_all("req-hdr=-0, null-body=5");
	check_bad_all("req-hdr=0, null-body=0x10");
	check_bad_all("req-hdr=0, null-body=1e3");
	check_bad_all("req-hdr=0, null-body=5.0");
	check_bad_all("req-hdr=0, null-body=5x");
	/* Overflow, including values that wrap to something plausible. */
	check_bad_all("req-hdr=0, null-body=99999999999999999999999");
	check_bad_all("req-hdr=0, null-body=18446744073709551616");
	check_bad_all("req-hdr=0, null-body=18446744073709551617");
	check_bad_all("req-hdr=0, res-hdr=18446744073709551615, res-body=18446744073709551616");
	check_bad_all("req-hdr=18446744073709551616, null-body=5");
	static const char nul[] = "req-hdr=0, null-body=5\0";
	struct encap out;
	assert_int_equal(encap_parse(nul, sizeof(nul), ICAP_METHOD_REQMOD, BIG, &out), -1);
}

static void test_only_len_bytes_are_read(void **state)
{
	struct encap out;
	const char *v = "req-hdr=0, null-body=170, junk";

	(void)state;
	assert_int_equal(encap_parse(v, 24, ICAP_METHOD_REQMOD, BIG, &out), 0);
	assert_int_equal(out.body_off, 170);
	assert_int_equal(encap_parse(v, 23, ICAP_METHOD_REQMOD, BIG, &out), 0);
	assert_int_equal(out.body_off, 17);
}

static void test_max_block(void **state)
{
	struct encap out;

	(void)state;
	/* A header block of exactly max_block bytes is fine; one more is not. */
	assert_int_equal(parse("req-hdr=0, null-body=100", ICAP_METHOD_REQMOD, 100, &out), 0);
	assert_int_equal(parse("req-hdr=0, null-body=101", ICAP_METHOD_REQMOD, 100, &out), -1);
	assert_int_equal(parse("req-hdr=0, req-body=101", ICAP_METHOD_REQMOD, 100, &out), -1);
	/* Each block counts on its own. */
	assert_int_equal(
	        parse("req-hdr=0, res-hdr=100, res-body=200", ICAP_METHOD_RESPMOD, 100, &out), 0);
	assert_int_equal(
	        parse("req-hdr=0, res-hdr=101, res-body=200", ICAP_METHOD_RESPMOD, 100, &out), -1);
	assert_int_equal(
	        parse("req-hdr=0, res-hdr=100, res-body=201", ICAP_METHOD_RESPMOD, 100, &out), -1);
	assert_int_equal(parse("res-hdr=0, null-body=101", ICAP_METHOD_RESPMOD, 100, &out), -1);
	/* The body has no bound here: it is chunked and streamed. */
	assert_int_equal(parse("req-body=0", ICAP_METHOD_REQMOD, 1, &out), 0);
	assert_int_equal(parse("null-body=0", ICAP_METHOD_OPTIONS, 0, &out), 0);
	assert_int_equal(parse("opt-body=0", ICAP_METHOD_OPTIONS, 0, &out), 0);
	/* Large but sane offsets. */
	assert_int_equal(parse("req-hdr=0, res-hdr=65536, res-body=131072", ICAP_METHOD_RESPMOD,
	                       65536, &out),
	                 0);
	assert_int_equal(out.res_hdr_len, 65536);
	assert_int_equal(parse("req-hdr=0, res-hdr=1000000000000, res-body=1000000000001",
	                       ICAP_METHOD_RESPMOD, BIG, &out),
	                 -1);
}

static void test_body_names(void **state)
{
	(void)state;
	assert_string_equal(encap_body_name(ENCAP_NULL_BODY), "null-body");
	assert_string_equal(encap_body_name(ENCAP_REQ_BODY), "req-body");
	assert_string_equal(encap_body_name(ENCAP_RES_BODY), "res-body");
	assert_string_equal(encap_body_name(ENCAP_OPT_BODY), "opt-body");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc_section_4_4_1_examples),
	        cmocka_unit_test(test_rfc_section_4_8_and_4_9_examples),
	        cmocka_unit_test(test_other_valid_forms),
	        cmocka_unit_test(test_methods_and_entities),
	        cmocka_unit_test(test_duplicates),
	        cmocka_unit_test(test_order),
	        cmocka_unit_test(test_offsets),
	        cmocka_unit_test(test_separators),
	        cmocka_unit_test(test_lenient_case_and_white_space),
	        cmocka_unit_test(test_missing_body),
	        cmocka_unit_test(test_names_and_numbers),
	        cmocka_unit_test(test_only_len_bytes_are_read),
	        cmocka_unit_test(test_max_block),
	        cmocka_unit_test(test_body_names),
	};
	return cmocka_run_group_tests_name("encap", tests, NULL, NULL);
}
