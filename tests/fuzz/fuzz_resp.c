/*
 * Fuzz target for resp.c, the RESP2 reply parser and command encoder. The
 * data is parsed whole and cut at points derived from it, each cut an
 * exact-size heap copy so that AddressSanitizer sees reads past it. Checked:
 * a reply's strings lie inside the bytes it took, and no reply or string
 * passes its bound; cuts are "need more" up to the byte where the answer is
 * decided and that same answer from there on (the decision point is found
 * by bisection, so the check is cheap on long inputs); the data read as a
 * stream of pipelined replies, in pieces, the way rcache reads it, gives
 * the replies that parsing it reply after reply gives. The data cut into
 * arguments and encoded as a command parses back as an array of as many
 * bulk strings. Violations abort.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#define MAX_REPLIES 64

/* Parses the first len bytes of in from an exact-size heap copy and checks
 * what a parse may return. */
static long parse_cut(const uint8_t *in, size_t len, struct resp_reply *r)
{
	char *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	if (len > 0)
		memcpy(copy, in, len);
	long n = resp_parse(copy, len, r);
	CHECK(n == RESP_NEED_MORE || n == RESP_ERROR || (n >= 3 && (size_t)n <= len));
	if (n > 0) {
		CHECK(n <= RESP_MAX_REPLY);
		CHECK(r->type >= RESP_STATUS && r->type <= RESP_ARRAY);
		if (r->type == RESP_STATUS || r->type == RESP_ERR || r->type == RESP_BULK) {
			CHECK(r->len <= RESP_MAX_STRING);
			CHECK(r->str >= copy && r->str + r->len <= copy + n);
			if (r->type != RESP_BULK)
				CHECK(memchr(r->str, '\r', r->len) == NULL &&
				      memchr(r->str, '\n', r->len) == NULL);
		} else {
			CHECK(r->str == NULL && r->len == 0);
		}
		if (r->type == RESP_ARRAY)
			CHECK(r->integer >= 0 && r->integer <= RESP_MAX_ARRAY);
	}
	free(copy);
	return n;
}

static uint64_t hash(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ULL;
	return h;
}

/* The shortest cut of in[0..len) whose answer is not "need more", given
 * that the whole one's is not. */
static size_t decision_point(const uint8_t *in, size_t len)
{
	size_t lo = 0, hi = len; /* cut lo needs more, cut hi does not */
	struct resp_reply r;
	CHECK(parse_cut(in, 0, &r) == RESP_NEED_MORE);
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (parse_cut(in, mid, &r) == RESP_NEED_MORE)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* Reads in[0..len) as rcache does, in pieces of step bytes: keep what is
 * not parsed yet and parse again from its start as each piece comes.
 * Stores each reply's length in lens; returns how many, and the last
 * answer in *last. */
static size_t read_stream(const uint8_t *in, size_t len, size_t step, size_t *lens, long *last)
{
	uint8_t *held = malloc(len ? len : 1);
	size_t nheld = 0, pos = 0, n = 0;
	CHECK(held != NULL);
	*last = RESP_NEED_MORE;
	while (pos < len && *last != RESP_ERROR && n < MAX_REPLIES) {
		size_t piece = step < len - pos ? step : len - pos;
		memcpy(held + nheld, in + pos, piece);
		nheld += piece;
		pos += piece;
		while (n < MAX_REPLIES) {
			struct resp_reply r;
			*last = parse_cut(held, nheld, &r);
			if (*last < 0)
				break;
			lens[n++] = (size_t)*last;
			memmove(held, held + *last, nheld - (size_t)*last);
			nheld -= (size_t)*last;
		}
	}
	free(held);
	return n;
}

/* The data as a command of up to 4 arguments, cut where h says. */
static void command_round_trip(const uint8_t *data, size_t size, uint64_t h)
{
	const char *argv[4];
	size_t lens[4], argc = 1 + h % 4, at = 0;
	for (size_t i = 0; i < argc; i++) {
		size_t n =
		        i + 1 == argc ? size - at : (size_t)((h >> (8 * i + 2)) % (size - at + 1));
		argv[i] = (const char *)data + at;
		lens[i] = n;
		at += n;
	}
	size_t need = resp_command(NULL, 0, argc, argv, lens);
	CHECK(need >= 4 + argc * 6 + size);
	char *out = malloc(need);
	CHECK(out != NULL);
	CHECK(resp_command(out, need, argc, argv, lens) == need);
	struct resp_reply r;
	long n = resp_parse(out, need, &r);
	bool fits = need <= RESP_MAX_REPLY;
	for (size_t i = 0; i < argc; i++)
		fits = fits && lens[i] <= RESP_MAX_STRING;
	if (fits) {
		CHECK(n == (long)need && r.type == RESP_ARRAY && r.integer == (long long)argc);
	} else {
		CHECK(n == RESP_ERROR);
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resp_reply whole, r;
	uint64_t h = hash(data, size);

	long st = parse_cut(data, size, &whole);
	if (st == RESP_NEED_MORE) {
		/* No reply needs more than RESP_MAX_REPLY bytes to be decided. */
		CHECK(size < RESP_MAX_REPLY);
		CHECK(parse_cut(data, (size_t)(h % (size + 1)), &r) == RESP_NEED_MORE);
	} else {
		size_t d = decision_point(data, size);
		if (st > 0)
			CHECK(d == (size_t)st);
		/* Every cut from the decision point on answers as the whole. */
		size_t k = d + (size_t)(h % (size - d + 1));
		CHECK(parse_cut(data, k, &r) == st);
		CHECK(parse_cut(data, d, &r) == st);
		if (st > 0) {
			CHECK(r.type == whole.type && r.len == whole.len &&
			      r.integer == whole.integer);
			/* The same reply from d - 1 bytes before is not decided. */
			CHECK(parse_cut(data, d - 1, &r) == RESP_NEED_MORE);
		}
	}

	/* Reply after reply, then the same read in pieces. */
	size_t lens[MAX_REPLIES], slens[MAX_REPLIES], n = 0, at = 0;
	long last = RESP_NEED_MORE;
	while (n < MAX_REPLIES) {
		last = parse_cut(data + at, size - at, &r);
		if (last < 0)
			break;
		lens[n++] = (size_t)last;
		at += (size_t)last;
	}
	if (n < MAX_REPLIES) {
		size_t steps[] = {1, 1 + (size_t)(h >> 32) % 61, size ? size : 1};
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			long slast;
			size_t sn = read_stream(data, size, steps[i], slens, &slast);
			CHECK(sn == n && slast == last);
			CHECK(memcmp(slens, lens, n * sizeof(lens[0])) == 0);
		}
	}

	command_round_trip(data, size, h);
	return 0;
}
