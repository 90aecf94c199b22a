/*
 * Fuzz target for chunked.c, the incremental chunked-body decoder. The input
 * is decoded whole, split in two at a point derived from the data, one byte
 * at a time, and in pieces of pseudo-random sizes with the consumer taking
 * pseudo-random amounts of data at a time; every piece is an exact-size heap
 * copy so that AddressSanitizer sees reads past it. All decodings must agree
 * on the outcome, the byte where it happened, the decoded data and ieof; any
 * difference aborts. Also checked: the decoder's API invariants, that the
 * input cut where the body ended decodes the same, and that the input cut
 * just before a bad byte still needs more.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

struct outcome {
	enum chunked_status status; /* END, ERROR, or NEED_MORE when the input ran out */
	size_t consumed;
	bool ieof;
	uint8_t *data;
	size_t data_len;
};

/* A small deterministic generator for piece and take sizes. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Decodes in[0..len). Piece sizes: first, then step, or pseudo-random when
 * step is 0. Takes at most take_max data bytes per chunked_consume(), or a
 * pseudo-random amount when take_max is 0.
 */
static void decode(const uint8_t *in, size_t len, size_t first, size_t step, size_t take_max,
                   uint64_t seed, struct outcome *o)
{
	struct chunked c;
	size_t start = 0, pos = 0;
	bool first_piece = true;
	uint64_t rng = seed | 1;

	chunked_init(&c);
	o->status = CHUNKED_NEED_MORE;
	o->consumed = 0;
	o->ieof = false;
	o->data_len = 0;
	o->data = malloc(len ? len : 1);
	CHECK(o->data != NULL);

	do {
		size_t plen = first_piece ? first : step ? step : (size_t)(next(&rng) % 64);
		first_piece = false;
		if (plen > len - start)
			plen = len - start;
		size_t end = start + plen;
		uint8_t *piece = malloc(plen ? plen : 1);
		CHECK(piece != NULL);
		if (plen)
			memcpy(piece, in + start, plen);

		for (;;) {
			size_t avail = end - pos, used = (size_t)-1;
			enum chunked_status st = chunked_parse(
			        &c, (const char *)piece + (pos - start), avail, &used);
			CHECK(used <= avail);
			pos += used;
			if (st == CHUNKED_DATA) {
				uint64_t pend = chunked_pending(&c);
				CHECK(pend > 0 && pend <= CHUNKED_MAX_SIZE);
				if (pos == end)
					break;
				size_t take = end - pos;
				if (take > pend)
					take = (size_t)pend;
				size_t lim = take_max ? take_max : 1 + (size_t)(next(&rng) % 16);
				if (take > lim)
					take = lim;
				memcpy(o->data + o->data_len, piece + (pos - start), take);
				o->data_len += take;
				chunked_consume(&c, take);
				CHECK(chunked_pending(&c) == pend - take);
				pos += take;
				continue;
			}
			CHECK(chunked_pending(&c) == 0);
			/* Reporting 0 bytes taken outside data changes nothing. */
			chunked_consume(&c, 0);
			if (st == CHUNKED_NEED_MORE) {
				CHECK(pos == end);
				break;
			}
			CHECK(st == CHUNKED_END || st == CHUNKED_ERROR);
			if (st == CHUNKED_END) {
				/* Once ended, the decoder stays ended and takes nothing. */
				size_t u = (size_t)-1;
				CHECK(chunked_parse(&c, "0\r\n\r\n", 5, &u) == CHUNKED_END &&
				      u == 0);
			}
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

static void same(const struct outcome *a, const struct outcome *b)
{
	if (a->status != b->status || a->consumed != b->consumed || a->ieof != b->ieof ||
	    a->data_len != b->data_len || memcmp(a->data, b->data, a->data_len) != 0)
		__builtin_trap();
}

static uint64_t hash(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ULL;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, other;
	uint64_t h = hash(data, size);

	decode(data, size, size, size, SIZE_MAX, 0, &whole);
	CHECK(whole.data_len <= size);
	if (whole.status == CHUNKED_NEED_MORE)
		CHECK(whole.consumed == size);

	/* Split in two at a point derived from the data. */
	decode(data, size, (size_t)(h % (size + 1)), size, SIZE_MAX, 0, &other);
	same(&whole, &other);
	free(other.data);

	/* One byte at a time, taking one data byte at a time. */
	decode(data, size, 1, 1, 1, 0, &other);
	same(&whole, &other);
	free(other.data);

	/* Pseudo-random pieces and takes. */
	decode(data, size, (size_t)(h % 7), 0, 0, h, &other);
	same(&whole, &other);
	free(other.data);

	if (whole.status == CHUNKED_END) {
		/* What follows the end does not matter. */
		decode(data, whole.consumed, whole.consumed, whole.consumed, SIZE_MAX, 0, &other);
		same(&whole, &other);
		free(other.data);
	} else if (whole.status == CHUNKED_ERROR) {
		/* An error is found at the bad byte, not before it. */
		CHECK(whole.consumed < size);
		decode(data, whole.consumed, whole.consumed, whole.consumed, SIZE_MAX, 0, &other);
		CHECK(other.status == CHUNKED_NEED_MORE);
		free(other.data);
		decode(data, whole.consumed + 1, whole.consumed + 1, whole.consumed + 1, SIZE_MAX,
		       0, &other);
		CHECK(other.status == CHUNKED_ERROR && other.consumed == whole.consumed);
		free(other.data);
	}
	free(whole.data);
	return 0;
}
