/*
 * Unit tests for chunked.c, the incremental chunked-body decoder with
 * RFC 3507's "ieof" extension. Every valid input is decoded whole, split in
 * two at every position, one byte at a time, and with the consumer taking one
 * data byte at a time; the decoded data, the ieof flag, the outcome and the
 * bytes consumed must be identical in all cases. Each piece is copied to its
 * own heap buffer of exact size so that AddressSanitizer catches any read
 * past what the decoder was given. Malformed framing and exceeded bounds must
 * fail, at the same byte however the input is split.
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

#include "chunked.h"

/* What decoding a whole input produced. */
struct outcome {
	enum chunked_status status; /* END, ERROR, or NEED_MORE if the input ran out */
	size_t consumed;            /* input bytes used up to END or the bad byte */
	bool ieof;
	char *data;
	size_t data_len;
};

static void outcome_free(struct outcome *o)
{
	free(o->data);
	o->data = NULL;
}

/*
 * Decodes in[0..len) delivered in pieces: the first piece is `first` bytes,
 * every later one `step` bytes (the last may be shorter). The consumer takes
 * at most `take_max` data bytes per chunked_consume() call.
 */
static void decode(const char *in, size_t len, size_t first, size_t step, size_t take_max,
                   struct outcome *o)
{
	struct chunked c;
	size_t start = 0, pos = 0;
	bool first_piece = true;

	chunked_init(&c);
	memset(o, 0, sizeof(*o));
	o->data = malloc(len + 1);
	assert_non_null(o->data);
	o->status = CHUNKED_NEED_MORE;

	do {
		size_t plen = first_piece ? first : step;
		first_piece = false;
		if (plen > len - start)
			plen = len - start;
		size_t end = start + plen;
		char *piece = malloc(plen ? plen : 1);
		assert_non_null(piece);
		memcpy(piece, in + start, plen);

		for (;;) {
			size_t used = (size_t)-1;
			size_t avail = end - pos;
			enum chunked_status st =
			        chunked_parse(&c, piece + (pos - start), avail, &used);
			assert_true(used <= avail);
			pos += used;
			if (st == CHUNKED_DATA) {
				uint64_t pend = chunked_pending(&c);
				assert_true(pend > 0);
				if (pos == end)
					break;
				size_t take = end - pos;
				if (take > pend)
					take = (size_t)pend;
				if (take > take_max)
					take = take_max;
				memcpy(o->data + o->data_len, piece + (pos - start), take);
				o->data_len += take;
				chunked_consume(&c, take);
				assert_int_equal(chunked_pending(&c), pend - take);
				pos += take;
				continue;
			}
			if (st == CHUNKED_NEED_MORE) {
				assert_int_equal(pos, end);
				assert_int_equal(chunked_pending(&c), 0);
				break;
			}
			assert_true(st == CHUNKED_END || st == CHUNKED_ERROR);
			o->status = st;
			o->consumed = pos;
			o->ieof = c.ieof;
			free(piece);
			return;
		}
		free(piece);
		start = end;
	} while (start < len);
	o->consumed = pos;
	o->ieof = c.ieof;
}

static void assert_same(const struct outcome *a, const struct outcome *b)
{
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->ieof, b->ieof);
	assert_int_equal(a->data_len, b->data_len);
	assert_memory_equal(a->data, b->data, a->data_len);
}

/*
 * Decodes in every way described above and checks that all agree; returns the
 * whole-input outcome (the caller frees it).
 */
static struct outcome decode_all_ways(const char *in, size_t len)
{
	struct outcome whole, other;

	decode(in, len, len, len, SIZE_MAX, &whole);
	for (size_t k = 0; k <= len; k++) {
		/* Long inputs: every split near the ends, a sample in between. */
		if (len > 1024 && k > 300 && k + 300 < len && k % 37 != 0)
			continue;
		decode(in, len, k, len, SIZE_MAX, &other);
		assert_same(&whole, &other);
		outcome_free(&other);
	}
	decode(in, len, 1, 1, SIZE_MAX, &other);
	assert_same(&whole, &other);
	outcome_free(&other);
	decode(in, len, len, len, 1, &other);
	assert_same(&whole, &other);
	outcome_free(&other);
	decode(in, len, 3, 7, 2, &other);
	assert_same(&whole, &other);
	outcome_free(&other);
	return whole;
}

/* A valid body: ends at `consumed`, decodes to data, with the given ieof. */
static void check_valid_n(const char *in, size_t len, size_t consumed, const char *data,
                          size_t data_len, bool ieof)
{
	struct outcome o = decode_all_ways(in, len);
	assert_int_equal(o.status, CHUNKED_END);
	assert_int_equal(o.consumed, consumed);
	assert_int_equal(o.ieof, ieof);
	assert_int_equal(o.data_len, data_len);
	assert_memory_equal(o.data, data, data_len);
	outcome_free(&o);
}

static void check_valid(const char *in, const char *data, bool ieof)
{
	check_valid_n(in, strlen(in), strlen(in), data, strlen(data), ieof);
}

/* Malformed: fails at byte err_at, however the input is split. */
static void check_error_at_n(const char *in, size_t len, size_t err_at)
{
	struct outcome o = decode_all_ways(in, len);
	assert_int_equal(o.status, CHUNKED_ERROR);
	assert_int_equal(o.consumed, err_at);
	outcome_free(&o);
}

static void check_error_at(const char *in, size_t err_at)
{
	check_error_at_n(in, strlen(in), err_at);
}

static void check_error_n(const char *in, size_t len)
{
	struct outcome o = decode_all_ways(in, len);
	if (o.status != CHUNKED_ERROR)
		fail_msg("accepted malformed chunked body \"%.*s\"", (int)(len > 60 ? 60 : len),
		         in);
	outcome_free(&o);
}

static void check_error(const char *in)
{
	check_error_n(in, strlen(in));
}

static bool ieof_of(const char *in)
{
	struct outcome o = decode_all_ways(in, strlen(in));
	if (o.status != CHUNKED_END)
		fail_msg("\"%s\" did not decode", in);
	bool r = o.ieof;
	outcome_free(&o);
	return r;
}

/* --- valid bodies --- */

static void test_empty_body(void **state)
{
	(void)state;
	check_valid("0\r\n\r\n", "", false);
}

static void test_rfc3507_req_body(void **state)
{
	(void)state;
	/* RFC 3507 section 4.8.3, ICAP Request Modification Example 2. */
	check_valid("1e\r\n"
	            "I am posting this information.\r\n"
	            "0\r\n"
	            "\r\n",
	            "I am posting this information.", false);
	/* Its response, and the section 4.9.3 bodies. */
	check_valid("2d\r\n"
	            "I am posting this information.  ICAP powered!\r\n"
	            "0\r\n"
	            "\r\n",
	            "I am posting this information.  ICAP powered!", false);
	check_valid("33\r\n"
	            "This is data that was returned by an origin server.\r\n"
	            "0\r\n"
	            "\r\n",
	            "This is data that was returned by an origin server.", false);
	check_valid("3a\r\n"
	            "Sorry, you are not allowed to access that naughty content.\r\n"
	            "0\r\n"
	            "\r\n",
	            "Sorry, you are not allowed to access that naughty content.", false);
}

static void test_rfc3507_zero_byte_preview(void **state)
{
	(void)state;
	/* RFC 3507 section 4.5: the preview of a zero-byte origin response. */
	check_valid("0; ieof\r\n\r\n", "", true);
}

/* "200\r\n<512 bytes>\r\n200\r\n<512 bytes>\r\n" followed by last. */
static char *two_512_chunks(const char *last, size_t *len, char *payload)
{
	size_t ll = strlen(last);
	char *b = malloc(2 * (5 + 512 + 2) + ll);
	size_t n = 0;

	assert_non_null(b);
	for (int i = 0; i < 1024; i++)
		payload[i] = (char)('A' + i % 26);
	for (int k = 0; k < 2; k++) {
		memcpy(b + n, "200\r\n", 5);
		n += 5;
		memcpy(b + n, payload + 512 * k, 512);
		n += 512;
		memcpy(b + n, "\r\n", 2);
		n += 2;
	}
	memcpy(b + n, last, ll);
	*len = n + ll;
	return b;
}

static void test_rfc3507_1024_byte_previews(void **state)
{
	char payload[1024];
	size_t len;
	char *b;

	(void)state;
	/* Section 4.5: a 1024-byte preview of a 1024-byte response. */
	b = two_512_chunks("0; ieof\r\n\r\n", &len, payload);
	check_valid_n(b, len, len, payload, 1024, true);
	free(b);
	/* And of a 1025-byte response: no ieof, the rest after 100 Continue. */
	b = two_512_chunks("0\r\n\r\n", &len, payload);
	check_valid_n(b, len, len, payload, 1024, false);
	free(b);
	check_valid("1\r\nX\r\n0\r\n\r\n", "X", false);
}

static void test_hex_sizes(void **state)
{
	(void)state;
	check_valid("a\r\n0123456789\r\n0\r\n\r\n", "0123456789", false);
	check_valid("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", false);
	check_valid("00001\r\nx\r\n000\r\n\r\n", "x", false);
	check_valid("1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n", "abcdef", false);
	check_valid("10\r\n0123456789abcdef\r\n0\r\n\r\n", "0123456789abcdef", false);
}

static void test_data_may_hold_framing_bytes(void **state)
{
	(void)state;
	/* Data is opaque: CR, LF, NUL and "0\r\n\r\n" inside it are just data. */
	check_valid_n("7\r\n0\r\n\r\n\n\0\r\n0\r\n\r\n", 17, 17, "0\r\n\r\n\n\0", 7, false);
}

static void test_extensions(void **state)
{
	(void)state;
	check_valid("5;name=value\r\nhello\r\n0\r\n\r\n", "hello", false);
	check_valid("5;a;b=c;d\r\nhello\r\n0;e=f\r\n\r\n", "hello", false);
	check_valid("5 ; a = b\r\nhello\r\n0\r\n\r\n", "hello", false);
	check_valid("5\t;a\r\nhello\r\n0\r\n\r\n", "hello", false);
	check_valid("5;name=\"quoted; value\"\r\nhello\r\n0\r\n\r\n", "hello", false);
	check_valid("5;q=\"esc\\\"aped\\\\\";z\r\nhello\r\n0\r\n\r\n", "hello", false);
	check_valid("5 \r\nhello\r\n0 \r\n\r\n", "hello", false);
}

static void test_trailers(void **state)
{
	(void)state;
	check_valid("0\r\nTrailer: x\r\n\r\n", "", false);
	check_valid("3\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\n\r\n", "abc", false);
	check_valid("0; ieof\r\nA: 1\r\n\r\n", "", true);
}

static void test_stops_at_end(void **state)
{
	(void)state;
	/* What follows the body (the next request) is not consumed. */
	const char *in = "3\r\nabc\r\n0\r\n\r\nREQMOD icap://x/ ICAP/1.0\r\n";
	check_valid_n(in, strlen(in), 13, "abc", 3, false);
	in = "0; ieof\r\n\r\n0\r\n\r\n";
	check_valid_n(in, strlen(in), 11, "", 0, true);

	/* Once at the end, further calls return END and consume nothing. */
	struct chunked c;
	size_t used;
	chunked_init(&c);
	assert_int_equal(chunked_parse(&c, "0\r\n\r\n", 5, &used), CHUNKED_END);
	assert_int_equal(used, 5);
	assert_int_equal(chunked_parse(&c, "1\r\n", 3, &used), CHUNKED_END);
	assert_int_equal(used, 0);
	assert_int_equal(chunked_parse(&c, "", 0, &used), CHUNKED_END);
	assert_int_equal(used, 0);
}

static void test_api_steps(void **state)
{
	struct chunked c;
	size_t used;

	(void)state;
	chunked_init(&c);
	assert_int_equal(chunked_pending(&c), 0);
	assert_int_equal(chunked_parse(&c, "", 0, &used), CHUNKED_NEED_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(chunked_parse(&c, "5\r", 2, &used), CHUNKED_NEED_MORE);
	assert_int_equal(used, 2);
	/* The size line ends: data is next, nothing of it consumed. */
	assert_int_equal(chunked_parse(&c, "\nhello\r\n", 8, &used), CHUNKED_DATA);
	assert_int_equal(used, 1);
	assert_int_equal(chunked_pending(&c), 5);
	/* Data not taken yet: the decoder waits for it. */
	assert_int_equal(chunked_parse(&c, "hello\r\n", 7, &used), CHUNKED_DATA);
	assert_int_equal(used, 0);
	chunked_consume(&c, 2);
	assert_int_equal(chunked_pending(&c), 3);
	assert_int_equal(chunked_parse(&c, "llo\r\n", 5, &used), CHUNKED_DATA);
	assert_int_equal(used, 0);
	chunked_consume(&c, 3);
	assert_int_equal(chunked_pending(&c), 0);
	assert_int_equal(chunked_parse(&c, "\r\n0\r\n\r\n", 7, &used), CHUNKED_END);
	assert_int_equal(used, 7);
	assert_false(c.ieof);
}

static void test_consume_zero_outside_data(void **state)
{
	struct chunked c;
	size_t used;

	(void)state;
	/*
	 * A consumer that reports min(pending, available) bytes taken reports 0
	 * when nothing is pending; that must not disturb the framing state.
	 */
	chunked_init(&c);
	chunked_consume(&c, chunked_pending(&c));
	assert_int_equal(chunked_parse(&c, "2\r\n", 3, &used), CHUNKED_DATA);
	assert_int_equal(used, 3);
	chunked_consume(&c, 2);
	assert_int_equal(chunked_parse(&c, "\r\n", 2, &used), CHUNKED_NEED_MORE);
	chunked_consume(&c, chunked_pending(&c));
	assert_int_equal(chunked_parse(&c, "0\r\n\r\n", 5, &used), CHUNKED_END);
	assert_int_equal(used, 5);
	chunked_consume(&c, 0);
	assert_int_equal(chunked_parse(&c, "x", 1, &used), CHUNKED_END);
}

static void test_max_chunk_size(void **state)
{
	struct chunked c;
	size_t used;

	(void)state;
	/* Exactly CHUNKED_MAX_SIZE (2^48) is allowed. */
	assert_int_equal(CHUNKED_MAX_SIZE, 0x1000000000000ULL);
	chunked_init(&c);
	assert_int_equal(chunked_parse(&c, "1000000000000\r\n", 15, &used), CHUNKED_DATA);
	assert_int_equal(used, 15);
	assert_int_equal(chunked_pending(&c), CHUNKED_MAX_SIZE);
	chunked_consume(&c, 1000);
	assert_int_equal(chunked_pending(&c), CHUNKED_MAX_SIZE - 1000);
	chunked_init(&c);
	assert_int_equal(chunked_parse(&c, "0FFFFFFFFFFFF\r\n", 15, &used), CHUNKED_DATA);
	assert_int_equal(chunked_pending(&c), CHUNKED_MAX_SIZE - 1);
}

/* --- ieof --- */

static void test_ieof_variants(void **state)
{
	(void)state;
	assert_true(ieof_of("0; ieof\r\n\r\n"));
	assert_true(ieof_of("0;ieof\r\n\r\n"));
	assert_true(ieof_of("0 ; IEOF\r\n\r\n"));
	assert_true(ieof_of("0;\tiEoF\r\n\r\n"));
	assert_true(ieof_of("0; ieof \r\n\r\n"));
	assert_true(ieof_of("0; ieof=1\r\n\r\n"));
	assert_true(ieof_of("0; ieof = \"x;y\"\r\n\r\n"));
	assert_true(ieof_of("0; foo; ieof\r\n\r\n"));
	assert_true(ieof_of("0; foo=\"a;b\"; ieof\r\n\r\n"));
	assert_true(ieof_of("0; ieof; foo=bar\r\n\r\n"));
	assert_true(ieof_of("0; ieof ;foo\r\n\r\n"));
	assert_true(ieof_of("00; ieof\r\n\r\n"));
	assert_true(ieof_of("5\r\nhello\r\n0; ieof\r\n\r\n"));

	/* Only an extension NAMED ieof counts. */
	assert_false(ieof_of("0\r\n\r\n"));
	assert_false(ieof_of("0;\r\n\r\n"));
	assert_false(ieof_of("0; ieofx\r\n\r\n"));
	assert_false(ieof_of("0; xieof\r\n\r\n"));
	assert_false(ieof_of("0; ieo\r\n\r\n"));
	assert_false(ieof_of("0; ieo;f\r\n\r\n"));
	assert_false(ieof_of("0; x=ieof\r\n\r\n"));
	assert_false(ieof_of("0; x = ieof\r\n\r\n"));
	assert_false(ieof_of("0; x=\"ieof\"\r\n\r\n"));
	assert_false(ieof_of("0; \"ieof\"\r\n\r\n"));
	assert_false(ieof_of("0; ieof\"x\"\r\n\r\n"));
	assert_true(ieof_of("0; ieof =\"x\"\r\n\r\n"));
	/* Not even when a quoted value holds ";ieof". */
	assert_false(ieof_of("0; x=\"a;ieof;b\"\r\n\r\n"));
	assert_false(ieof_of("0; x=\"a;ieof \"\r\n\r\n"));
	assert_false(ieof_of("0; x=\"a;ieof\"\r\n\r\n"));
	assert_false(ieof_of("0; x=\"a\\\";ieof;\"\r\n\r\n"));
	assert_false(ieof_of("0; x=\"\\\\\\\";ieof;\"\r\n\r\n"));
	/* Nor in a trailer. */
	assert_false(ieof_of("0\r\nieof: 1\r\n\r\n"));
	assert_false(ieof_of("0\r\n; ieof\r\n\r\n"));
	/* Nor on a chunk that is not the last. */
	assert_false(ieof_of("5; ieof\r\nhello\r\n0\r\n\r\n"));
	assert_true(ieof_of("5; ieof\r\nhello\r\n0; ieof\r\n\r\n"));
}

/* --- malformed framing --- */

static void test_bad_size(void **state)
{
	(void)state;
	check_error_at("g\r\n", 0);
	check_error_at("0x5\r\nhello\r\n0\r\n\r\n", 1);
	check_error_at("-1\r\n", 0);
	check_error_at("+1\r\n", 0);
	check_error_at(" 1\r\nx\r\n0\r\n\r\n", 0);
	check_error_at("\r\n", 0);
	check_error_at(";ieof\r\n\r\n", 0);
	check_error_at("1 2\r\n", 2);
	check_error_at("1,\r\n", 1);
	check_error_at("5\r\nhello\r\nz\r\n", 10);
}

static void test_bare_lf_and_cr(void **state)
{
	(void)state;
	check_error_at("1\nx\r\n0\r\n\r\n", 1);
	check_error_at("1\rx\r\n0\r\n\r\n", 2);
	check_error_at("1;a\nx\r\n0\r\n\r\n", 3);
	check_error_at("0\n\r\n", 1);
	check_error_at("0\r\n\n", 3);
	check_error_at("0\r\n\rx", 4);
	check_error_at("0\r\nA: b\n\r\n", 7);
	check_error_at("0\r\nA: b\rc\r\n\r\n", 8);
}

static void test_missing_crlf_after_data(void **state)
{
	(void)state;
	check_error_at("3\r\nabcX\r\n0\r\n\r\n", 6);
	check_error_at("3\r\nabc\n0\r\n\r\n", 6);
	check_error_at("3\r\nabc\r0\r\n\r\n", 7);
	check_error_at("3\r\nabc0\r\n\r\n", 6);
	/* A size that is too small leaves data where CRLF belongs. */
	check_error_at("2\r\nabc\r\n0\r\n\r\n", 5);
}

static void test_control_chars_in_extension(void **state)
{
	(void)state;
	check_error_at("1;a\x01\r\nx\r\n0\r\n\r\n", 3);
	check_error_at("1;a\x7f\r\nx\r\n0\r\n\r\n", 3);
	char nul[] = "1;a\0b\r\nx\r\n0\r\n\r\n";
	check_error_at_n(nul, sizeof(nul) - 1, 3);
	char nul_trailer[] = "0\r\nA\0\r\n\r\n";
	check_error_at_n(nul_trailer, sizeof(nul_trailer) - 1, 4);
	/* A quoted string may not run past the end of the line. */
	check_error("1;a=\"b\r\nx\r\n0\r\n\r\n");
	check_error("0;a=\"b\\\r\n\r\n");
}

static void test_size_overflow(void **state)
{
	(void)state;
	/* 2^48 + 1 is one past CHUNKED_MAX_SIZE. */
	check_error_at("1000000000001\r\n", 12);
	check_error_at("100000000000F\r\n", 12);
	check_error_at("10000000000000\r\n", 13);
	check_error_at("1FFFFFFFFFFFF\r\n", 12);
	check_error_at("FFFFFFFFFFFFFFFFF\r\n", 12);
	check_error_at("10000000000000000\r\n", 13);
	/* 2^64 + 5 would wrap to 5 if the decoder did not check. */
	check_error("10000000000000005\r\nhello\r\n0\r\n\r\n");
}

static void test_line_too_long(void **state)
{
	size_t n = CHUNKED_MAX_LINE + 64;
	char *b = malloc(n + 32);
	size_t len;

	(void)state;
	assert_non_null(b);
	/* An extension that keeps the size line within bounds is fine. */
	memcpy(b, "1;", 2);
	memset(b + 2, 'a', CHUNKED_MAX_LINE - 3);
	len = CHUNKED_MAX_LINE - 1;
	memcpy(b + len, "\r\nx\r\n0\r\n\r\n", 10);
	check_valid_n(b, len + 10, len + 10, "x", 1, false);

	/* One longer than CHUNKED_MAX_LINE is refused before its end. */
	memset(b + 2, 'a', CHUNKED_MAX_LINE);
	len = CHUNKED_MAX_LINE + 2;
	memcpy(b + len, "\r\nx\r\n0\r\n\r\n", 10);
	check_error_at_n(b, len + 10, CHUNKED_MAX_LINE);

	/* So are endless leading zeros or white space. */
	memset(b, '0', n);
	memcpy(b + n, "1\r\nx\r\n0\r\n\r\n", 11);
	check_error_at_n(b, n + 11, CHUNKED_MAX_LINE);
	b[0] = '1';
	memset(b + 1, ' ', n);
	memcpy(b + n, "\r\nx\r\n0\r\n\r\n", 10);
	check_error_at_n(b, n + 10, CHUNKED_MAX_LINE);
	free(b);
}

/* "0\r\n" then nlines trailer lines of `each` bytes, then the final CRLF. */
static char *trailers(size_t nlines, size_t each, size_t *len)
{
	char *b = malloc(3 + nlines * (each + 2) + 2);
	size_t n = 3;

	assert_non_null(b);
	memcpy(b, "0\r\n", 3);
	for (size_t l = 0; l < nlines; l++) {
		memcpy(b + n, "X-T: ", 5);
		memset(b + n + 5, 't', each - 5);
		memcpy(b + n + each, "\r\n", 2);
		n += each + 2;
	}
	memcpy(b + n, "\r\n", 2);
	*len = n + 2;
	return b;
}

static void test_trailer_bounds(void **state)
{
	size_t len;
	char *b;

	(void)state;
	/* Well within CHUNKED_MAX_TRAILERS, in one line or several. */
	b = trailers(1, CHUNKED_MAX_TRAILERS / 2, &len);
	check_valid_n(b, len, len, "", 0, false);
	free(b);
	b = trailers(4, CHUNKED_MAX_TRAILERS / 8, &len);
	check_valid_n(b, len, len, "", 0, false);
	free(b);
	/* Beyond it, in one line or several. */
	b = trailers(1, CHUNKED_MAX_TRAILERS + 1, &len);
	check_error_n(b, len);
	free(b);
	b = trailers(3, CHUNKED_MAX_TRAILERS / 2, &len);
	check_error_n(b, len);
	free(b);
	b = trailers(CHUNKED_MAX_TRAILERS / 4, 5, &len);
	check_error_n(b, len);
	free(b);
}

static void test_truncated_needs_more(void **state)
{
	(void)state;
	const char *in[] = {
	        "",
	        "0",
	        "0\r",
	        "0\r\n",
	        "0\r\n\r",
	        "5\r\nhel",
	        "5\r\nhello",
	        "5\r\nhello\r",
	        "5\r\nhello\r\n",
	        "0; ieof",
	        "0; ieof\r\n",
	        "0\r\nA: b\r\n",
	        "0;a=\"x;y",
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct outcome o = decode_all_ways(in[i], strlen(in[i]));
		assert_int_equal(o.status, CHUNKED_NEED_MORE);
		assert_int_equal(o.consumed, strlen(in[i]));
		outcome_free(&o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_empty_body),
	        cmocka_unit_test(test_rfc3507_req_body),
	        cmocka_unit_test(test_rfc3507_zero_byte_preview),
	        cmocka_unit_test(test_rfc3507_1024_byte_previews),
	        cmocka_unit_test(test_hex_sizes),
	        cmocka_unit_test(test_data_may_hold_framing_bytes),
	        cmocka_unit_test(test_extensions),
	        cmocka_unit_test(test_trailers),
	        cmocka_unit_test(test_stops_at_end),
	        cmocka_unit_test(test_api_steps),
	        cmocka_unit_test(test_consume_zero_outside_data),
	        cmocka_unit_test(test_max_chunk_size),
	        cmocka_unit_test(test_ieof_variants),
	        cmocka_unit_test(test_bad_size),
	        cmocka_unit_test(test_bare_lf_and_cr),
	        cmocka_unit_test(test_missing_crlf_after_data),
	        cmocka_unit_test(test_control_chars_in_extension),
	        cmocka_unit_test(test_size_overflow),
	        cmocka_unit_test(test_line_too_long),
	        cmocka_unit_test(test_trailer_bounds),
	        cmocka_unit_test(test_truncated_needs_more),
	};
	return cmocka_run_group_tests_name("chunked", tests, NULL, NULL);
}
