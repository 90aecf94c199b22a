/*
 * Unit tests for resp.c, the RESP2 reply parser and command encoder. Every
 * reply is given to the parser cut at every byte, each cut in a heap buffer
 * of its exact size so that AddressSanitizer catches a read past it: every
 * cut short of the reply must say "need more", the whole one must say how
 * many bytes the reply took, whatever follows. Each malformed input must be
 * "need more" up to the byte that shows it is wrong and an error from there
 * on. A stream of pipelined replies is read as rcache reads it (keep the
 * unparsed bytes, parse again when more come), with the stream cut at every
 * byte and in pieces of every size up to 9.
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

#include "resp.h"

struct good {
	const char *in;
	size_t len; /* 0: strlen(in) */
	enum resp_type type;
	const char *str; /* STATUS, ERR, BULK */
	size_t str_len;  /* 0: strlen(str) */
	long long integer;
};

#define BIN "$5\r\na\0\r\nb\r\n"

static const struct good goods[] = {
        {"+OK\r\n", 0, RESP_STATUS, "OK", 0, 0},
        {"+PONG\r\n", 0, RESP_STATUS, "PONG", 0, 0},
        {"+\r\n", 0, RESP_STATUS, "", 0, 0},
        {"-ERR unknown command 'FOO'\r\n", 0, RESP_ERR, "ERR unknown command 'FOO'", 0, 0},
        {"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", 0, RESP_ERR,
         "WRONGTYPE Operation against a key holding the wrong kind of value", 0, 0},
        {"-WRONGPASS invalid username-password pair or user is disabled.\r\n", 0, RESP_ERR,
         "WRONGPASS invalid username-password pair or user is disabled.", 0, 0},
        {":0\r\n", 0, RESP_INT, NULL, 0, 0},
        {":-1\r\n", 0, RESP_INT, NULL, 0, -1},
        {":3600\r\n", 0, RESP_INT, NULL, 0, 3600},
        {":9223372036854775807\r\n", 0, RESP_INT, NULL, 0, INT64_MAX},
        {":-9223372036854775808\r\n", 0, RESP_INT, NULL, 0, INT64_MIN},
        {"$0\r\n\r\n", 0, RESP_BULK, "", 0, 0},
        {"$3\r\nabc\r\n", 0, RESP_BULK, "abc", 0, 0},
        {BIN, sizeof(BIN) - 1, RESP_BULK, "a\0\r\nb", 5, 0},
        {"$-1\r\n", 0, RESP_NIL, NULL, 0, 0},
        {"*-1\r\n", 0, RESP_NIL, NULL, 0, 0},
        {"*0\r\n", 0, RESP_ARRAY, NULL, 0, 0},
        {"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", 0, RESP_ARRAY, NULL, 0, 3},
        {"*2\r\n*1\r\n+x\r\n*0\r\n", 0, RESP_ARRAY, NULL, 0, 2},
        {"*2\r\n*2\r\n-e\r\n*-1\r\n+y\r\n", 0, RESP_ARRAY, NULL, 0, 2},
        {"*1\r\n*1\r\n*1\r\n*1\r\n:7\r\n", 0, RESP_ARRAY, NULL, 0, 1},
        {"*1\r\n*1\r\n*1\r\n*1\r\n*0\r\n", 0, RESP_ARRAY, NULL, 0, 1},
};

/* Parses the first len bytes of in from an exact-size heap copy. */
static long parse_cut(const char *in, size_t len, struct resp_reply *r)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, in, len);
	long n = resp_parse(copy, len, r);
	if (n > 0 && (r->type == RESP_STATUS || r->type == RESP_ERR || r->type == RESP_BULK)) {
		assert_true(r->str >= copy && r->str + r->len <= copy + n);
		r->str = in + (r->str - copy); /* still valid once the copy is gone */
	}
	free(copy);
	return n;
}

/* in[0..len) is one reply: every cut is need-more, the whole takes len
 * bytes, and so does the whole followed by anything. */
static void check_reply(const char *in, size_t len, struct resp_reply *r)
{
	for (size_t k = 0; k < len; k++) {
		struct resp_reply x;
		if (parse_cut(in, k, &x) != RESP_NEED_MORE)
			fail_msg("%.*s cut at %zu: not need-more", (int)len, in, k);
	}
	assert_int_equal(parse_cut(in, len, r), (long)len);
	char *more = malloc(len + 8);
	assert_non_null(more);
	memcpy(more, in, len);
	memcpy(more + len, "+OK\r\n$-", 7);
	for (size_t extra = 1; extra <= 7; extra++) {
		struct resp_reply x;
		assert_int_equal(parse_cut(more, len + extra, &x), (long)len);
		assert_int_equal(x.type, r->type);
	}
	free(more);
}

static void test_good_replies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		size_t len = g->len ? g->len : strlen(g->in);
		struct resp_reply r;
		check_reply(g->in, len, &r);
		assert_int_equal(r.type, g->type);
		if (g->str != NULL) {
			size_t sl = g->str_len ? g->str_len : strlen(g->str);
			assert_int_equal(r.len, sl);
			assert_memory_equal(r.str, g->str, sl);
		} else {
			assert_null(r.str);
			assert_int_equal(r.len, 0);
		}
		assert_true(r.integer == g->integer);
	}
}

/* Writes "*2", a bulk string of RESP_MAX_STRING bytes, and one as long as
 * makes the reply RESP_MAX_REPLY + over bytes, to buf; returns the bytes
 * written (all but the second string and its CRLF when over > 0). */
static int two_bulks(char *buf, size_t over)
{
	int n = sprintf(buf, "*2\r\n$%d\r\n", RESP_MAX_STRING);
	memset(buf + n, 'a', RESP_MAX_STRING);
	n += RESP_MAX_STRING;
	size_t second = RESP_MAX_REPLY + over - (size_t)n - 2 - 7 - 2;
	assert_true(second >= 1000 && second <= 9999); /* 4 digits: "$nnnn\r\n" is 7 bytes */
	n += sprintf(buf + n, "\r\n$%zu\r\n", second);
	if (over > 0)
		return n;
	memset(buf + n, 'b', second);
	n += (int)second;
	n += sprintf(buf + n, "\r\n");
	return n;
}

/* Strings and arrays at their bounds are accepted. */
static void test_bounds_reached(void **state)
{
	static char buf[RESP_MAX_REPLY + 64];
	struct resp_reply r;
	(void)state;

	int n = sprintf(buf, "$%d\r\n", RESP_MAX_STRING);
	memset(buf + n, 'v', RESP_MAX_STRING);
	memcpy(buf + n + RESP_MAX_STRING, "\r\n", 2);
	check_reply(buf, (size_t)n + RESP_MAX_STRING + 2, &r);
	assert_int_equal(r.type, RESP_BULK);
	assert_int_equal(r.len, RESP_MAX_STRING);

	buf[0] = '-';
	memset(buf + 1, 'e', RESP_MAX_STRING);
	memcpy(buf + 1 + RESP_MAX_STRING, "\r\n", 2);
	check_reply(buf, RESP_MAX_STRING + 3, &r);
	assert_int_equal(r.type, RESP_ERR);
	assert_int_equal(r.len, RESP_MAX_STRING);

	n = sprintf(buf, "*%d\r\n", RESP_MAX_ARRAY);
	for (int i = 0; i < RESP_MAX_ARRAY; i++)
		n += sprintf(buf + n, ":%d\r\n", i);
	check_reply(buf, (size_t)n, &r);
	assert_int_equal(r.type, RESP_ARRAY);
	assert_int_equal(r.integer, RESP_MAX_ARRAY);

	/* Two bulk strings that make a reply of exactly RESP_MAX_REPLY bytes. */
	n = two_bulks(buf, 0);
	assert_int_equal(n, RESP_MAX_REPLY);
	check_reply(buf, (size_t)n, &r);
	assert_int_equal(r.type, RESP_ARRAY);
}

struct bad {
	const char *in;
	size_t len;    /* 0: strlen(in) */
	size_t decide; /* the shortest cut that is an error */
};

static const struct bad bads[] = {
        {"x", 0, 1},
        {"\r\n", 0, 1},
        {"_\r\n", 0, 1},    /* RESP3 null */
        {",1.5\r\n", 0, 1}, /* RESP3 double */
        {"%1\r\n", 0, 1},   /* RESP3 map */
        {">2\r\n", 0, 1},   /* RESP3 push */
        {"PONG\r\n", 0, 1}, /* inline */
        {"+OK\n", 0, 4},
        {"+OK\rX", 0, 5},
        {"+O\nK\r\n", 0, 3},
        {"-ERR\r\r\n", 0, 6},
        {":\r\n", 0, 3},
        {":-\r\n", 0, 4},
        {":+1\r\n", 0, 5},
        {":12a\r\n", 0, 6},
        {": 1\r\n", 0, 5},
        {":9223372036854775808\r\n", 0, 22},
        {":-9223372036854775809\r\n", 0, 23},
        {":123456789012345678901\r\n", 0, 22}, /* a number line over 20 bytes */
        {"$\r\n", 0, 3},
        {"$-2\r\n", 0, 5},
        {"$-0\r\n", 0, 5},
        {"$+3\r\nabc\r\n", 0, 5},
        {"$3 \r\nabc\r\n", 0, 5},
        {"$4097\r\n", 0, 7},
        {"$10485760\r\n", 0, 11},
        {"$99999999999999999999\r\n", 0, 23},
        {"$3\r\nabcd\r\n", 0, 8},
        {"$3\r\nabc\n\r\n", 0, 8},
        {"$3\r\nabc\rx", 0, 9},
        {"$0\r\nx", 0, 5},
        {"*65\r\n", 0, 5},
        {"*-2\r\n", 0, 5},
        {"*1\r\nx", 0, 5},
        {"*2\r\n:1\r\n$9999\r\n", 0, 15},
        {"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", 0, 20}, /* nested 5 deep */
        {"*1\r\n*2\r\n:1\r\n_\r\n", 0, 13},
};

static void test_bad_replies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		size_t len = b->len ? b->len : strlen(b->in);
		for (size_t k = 0; k <= len; k++) {
			struct resp_reply r;
			long want = k < b->decide ? RESP_NEED_MORE : RESP_ERROR;
			long got = parse_cut(b->in, k, &r);
			if (got != want)
				fail_msg("bad #%zu (%s) cut at %zu: %ld, not %ld", i, b->in, k, got,
				         want);
		}
	}
}

/* Bounds passed: the error comes as soon as the bytes seen prove it. */
static void test_bounds_passed(void **state)
{
	static char buf[RESP_MAX_REPLY + 64];
	struct resp_reply r;
	(void)state;

	/* A simple string or error one byte too long, with no CRLF yet. */
	buf[0] = '+';
	memset(buf + 1, 's', RESP_MAX_STRING + 1);
	assert_int_equal(resp_parse(buf, RESP_MAX_STRING + 1, &r), RESP_NEED_MORE);
	assert_int_equal(resp_parse(buf, RESP_MAX_STRING + 2, &r), RESP_ERROR);
	buf[0] = '-';
	assert_int_equal(resp_parse(buf, RESP_MAX_STRING + 2, &r), RESP_ERROR);

	/* A whole reply over RESP_MAX_REPLY: the array's second string cannot
	 * fit, which its length line says. */
	int n = two_bulks(buf, 1);
	assert_int_equal(resp_parse(buf, (size_t)n - 1, &r), RESP_NEED_MORE);
	assert_int_equal(resp_parse(buf, (size_t)n, &r), RESP_ERROR);

	/* Two long errors: the second line is refused at the byte where its
	 * CRLF could no longer end within RESP_MAX_REPLY. */
	n = sprintf(buf, "*2\r\n-");
	memset(buf + n, 'e', RESP_MAX_STRING);
	n += RESP_MAX_STRING;
	n += sprintf(buf + n, "\r\n-");
	memset(buf + n, 'e', sizeof(buf) - (size_t)n);
	assert_int_equal(resp_parse(buf, RESP_MAX_REPLY - 2, &r), RESP_NEED_MORE);
	assert_int_equal(resp_parse(buf, RESP_MAX_REPLY - 1, &r), RESP_ERROR);
}

/* Reads stream[0..len), cut in pieces (the first `first` bytes, then `step`
 * at a time), as rcache does: keep what is not parsed yet, parse again from
 * its start when a piece comes. Returns the replies read into out (types),
 * their lengths into lens; *status is the last parse result. */
static size_t read_stream(const char *stream, size_t len, size_t first, size_t step,
                          enum resp_type *out, size_t *lens, size_t max, long *status)
{
	char *held = malloc(len + 1);
	size_t nheld = 0, pos = 0, nout = 0;
	bool first_piece = true;
	assert_non_null(held);
	*status = RESP_NEED_MORE;
	while (pos < len) {
		size_t piece = first_piece ? first : step;
		first_piece = false;
		if (piece > len - pos)
			piece = len - pos;
		memcpy(held + nheld, stream + pos, piece);
		nheld += piece;
		pos += piece;
		for (;;) {
			struct resp_reply r;
			long n = parse_cut(held, nheld, &r);
			*status = n;
			if (n == RESP_ERROR) {
				free(held);
				return nout;
			}
			if (n == RESP_NEED_MORE)
				break;
			assert_true(nout < max);
			out[nout] = r.type;
			lens[nout++] = (size_t)n;
			memmove(held, held + n, nheld - (size_t)n);
			nheld -= (size_t)n;
		}
	}
	free(held);
	return nout;
}

static void test_pipelined_stream(void **state)
{
	enum { N = sizeof(goods) / sizeof(goods[0]) };
	char stream[2048];
	size_t len = 0;
	(void)state;
	for (size_t i = 0; i < N; i++) {
		size_t l = goods[i].len ? goods[i].len : strlen(goods[i].in);
		memcpy(stream + len, goods[i].in, l);
		len += l;
	}
	enum resp_type types[N];
	size_t lens[N];
	long st;
	for (size_t first = 0; first <= len; first++) {
		for (size_t step = 1; step <= 9; step++) {
			if (step > 1 && first % 17 != 0)
				continue; /* every cut once; the piece sizes at some */
			size_t n = read_stream(stream, len, first, step, types, lens, N, &st);
			assert_int_equal(n, N);
			assert_int_equal(st, RESP_NEED_MORE);
			for (size_t i = 0; i < N; i++) {
				assert_int_equal(types[i], goods[i].type);
				assert_int_equal(lens[i],
				                 goods[i].len ? goods[i].len : strlen(goods[i].in));
			}
		}
	}
	/* A bad reply in the stream stops it there, however it is cut. */
	memcpy(stream + len, "$9999\r\n+OK\r\n", 12);
	for (size_t first = 0; first <= len + 12; first++) {
		size_t n = read_stream(stream, len + 12, first, 1, types, lens, N, &st);
		assert_int_equal(n, N);
		assert_int_equal(st, RESP_ERROR);
	}
}

/* A 10 MB value: refused at its length line, before any of it is read. */
static void test_huge_bulk(void **state)
{
	const char *head = "$10485760\r\n";
	struct resp_reply r;
	(void)state;
	char *buf = malloc(64 * 1024);
	assert_non_null(buf);
	memcpy(buf, head, strlen(head));
	memset(buf + strlen(head), 'x', 64 * 1024 - strlen(head));
	assert_int_equal(resp_parse(buf, strlen(head) - 1, &r), RESP_NEED_MORE);
	assert_int_equal(resp_parse(buf, strlen(head), &r), RESP_ERROR);
	assert_int_equal(resp_parse(buf, 64 * 1024, &r), RESP_ERROR);
	free(buf);
}

static void test_command(void **state)
{
	const char *argv[] = {"SET", "icapd:v1:ab", "v\0\r\nx", "EX", "3600"};
	const size_t lens[] = {3, 11, 5, 2, 4};
	const char want[] = "*5\r\n$3\r\nSET\r\n$11\r\nicapd:v1:ab\r\n$5\r\nv\0\r\nx\r\n"
	                    "$2\r\nEX\r\n$4\r\n3600\r\n";
	char out[128];
	struct resp_reply r;
	(void)state;

	size_t n = resp_command(out, sizeof(out), 5, argv, lens);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(out, want, n);
	/* A command is an array of bulk strings: the parser reads it back. */
	assert_int_equal(resp_parse(out, n, &r), (long)n);
	assert_int_equal(r.type, RESP_ARRAY);
	assert_int_equal(r.integer, 5);

	/* Too small: the length needed, and nothing written. */
	memset(out, '#', sizeof(out));
	assert_int_equal(resp_command(out, n - 1, 5, argv, lens), n);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');
	/* Exactly the size: written, nothing past it. */
	assert_int_equal(resp_command(out, n, 5, argv, lens), n);
	assert_memory_equal(out, want, n);
	assert_int_equal(out[n], '#');

	const char *ping[] = {"PING"};
	const size_t plen[] = {4};
	assert_int_equal(resp_command(out, sizeof(out), 1, ping, plen), 14);
	assert_memory_equal(out, "*1\r\n$4\r\nPING\r\n", 14);
	assert_int_equal(resp_command(out, sizeof(out), 0, NULL, NULL), 4);
	assert_memory_equal(out, "*0\r\n", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_replies),     cmocka_unit_test(test_bounds_reached),
	        cmocka_unit_test(test_bad_replies),      cmocka_unit_test(test_bounds_passed),
	        cmocka_unit_test(test_pipelined_stream), cmocka_unit_test(test_huge_bulk),
	        cmocka_unit_test(test_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
