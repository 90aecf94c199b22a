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
 *
 * The way txn.c echoes a body is checked too: with stop_at_trailers set,
 * decoding (whole and a byte at a time) must give the same outcome, stop
 * once, right after the last-chunk line, with chunked_in_trailers() true
 * from there to the end, and the bytes taken while in the trailers must be
 * exactly the rest of the input up to the end: a trailer section of CRLF
 * lines ending with an empty one, which txn.c copies out as it is. After a
 * preview that ends without ieof, txn.c starts a fresh decoder on what
 * follows: so does this target, and the second decoding must also agree
 * however it is split.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "fuzz_util.h"

struct outcome {
	enum chunked_status status; /* END, ERROR, or NEED_MORE when the input ran out */
	size_t consumed;
	bool ieof;
	uint8_t *data;
	size_t data_len;
};

/* A small deterministic generator for piece and take sizes. */
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
		size_t plen = first_piece ? first : step ? step : (size_t)(fz_next(&rng) % 64);
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
				size_t lim = take_max ? take_max : 1 + (size_t)(fz_next(&rng) % 16);
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

/*
 * Decodes in[0..len) with stop_at_trailers, in pieces of step bytes, as
 * txn.c does when it echoes a body; checks where it stops and what it takes
 * as trailers.
 */
static void decode_trailers(const uint8_t *in, size_t len, size_t step, struct outcome *o)
{
	struct chunked c;
	size_t pos = 0, tr_start = SIZE_MAX, tr_len = 0;
	bool stopped = false;

	chunked_init(&c);
	c.stop_at_trailers = true;
	o->status = CHUNKED_NEED_MORE;
	o->ieof = false;
	o->data_len = 0;
	o->data = malloc(len ? len : 1);
	CHECK(o->data != NULL);
	for (size_t start = 0; start < len || len == 0; start += step) {
		size_t end = start + step < len ? start + step : len;
		uint8_t *piece = malloc(end - start ? end - start : 1);
		CHECK(piece != NULL);
		memcpy(piece, in + start, end - start);
		while (true) {
			bool was = chunked_in_trailers(&c);
			size_t used = (size_t)-1;
			enum chunked_status st = chunked_parse(
			        &c, (const char *)piece + (pos - start), end - pos, &used);
			CHECK(used <= end - pos);
			if (was) {
				CHECK(tr_start != SIZE_MAX && tr_start + tr_len == pos);
				tr_len += used;
			}
			pos += used;
			if (!was && chunked_in_trailers(&c)) {
				/* Stopped right after the last-chunk line, once. */
				CHECK(st == CHUNKED_NEED_MORE && !stopped);
				CHECK(pos >= 3 && memcmp(in + pos - 2, "\r\n", 2) == 0);
				stopped = true;
				tr_start = pos;
				if (pos < end)
					continue;
				break;
			}
			if (st == CHUNKED_DATA) {
				if (pos == end)
					break;
				size_t take = end - pos;
				if (take > chunked_pending(&c))
					take = (size_t)chunked_pending(&c);
				memcpy(o->data + o->data_len, piece + (pos - start), take);
				o->data_len += take;
				chunked_consume(&c, take);
				pos += take;
				continue;
			}
			if (st == CHUNKED_NEED_MORE) {
				CHECK(pos == end);
				break;
			}
			o->status = st;
			o->consumed = pos;
			o->ieof = c.ieof;
			if (st == CHUNKED_END) {
				CHECK(!chunked_in_trailers(&c));
				/* The trailer section: CRLF lines, the last one empty. */
				CHECK(stopped && tr_start + tr_len == pos && tr_len >= 2);
				const uint8_t *t = in + tr_start;
				CHECK(memcmp(t + tr_len - 2, "\r\n", 2) == 0);
				CHECK(tr_len == 2 ||
				      (tr_len >= 4 && memcmp(t + tr_len - 4, "\r\n\r\n", 4) == 0));
				for (size_t k = 0; k < tr_len; k++)
					CHECK(t[k] != '\n' || (k > 0 && t[k - 1] == '\r'));
			}
			free(piece);
			return;
		}
		free(piece);
		if (len == 0)
			break;
	}
	o->consumed = pos;
	o->ieof = c.ieof;
	CHECK(chunked_in_trailers(&c) == stopped);
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

	/* As txn.c echoes a body: stopping at the trailers changes nothing. */
	decode_trailers(data, size, size ? size : 1, &other);
	same(&whole, &other);
	free(other.data);
	decode_trailers(data, size, 1, &other);
	same(&whole, &other);
	free(other.data);

	if (whole.status == CHUNKED_END && !whole.ieof && whole.consumed < size) {
		/* A preview without ieof: the rest is a new chunked body. */
		const uint8_t *rest = data + whole.consumed;
		size_t rlen = size - whole.consumed;
		struct outcome r1, r2;
		decode(rest, rlen, rlen, rlen, SIZE_MAX, 0, &r1);
		decode(rest, rlen, 1, 1, 1, 0, &r2);
		same(&r1, &r2);
		free(r2.data);
		decode(rest, rlen, (size_t)(h % 5), 0, 0, h, &r2);
		same(&r1, &r2);
		free(r1.data);
		free(r2.data);
	}

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
