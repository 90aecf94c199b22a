/*
 * resp: RESP2 replies, parsed from the start of a buffer every time (the
 * caller keeps unparsed bytes and calls again when more come); a reply is
 * at most RESP_MAX_REPLY bytes, so that costs little. Arrays are walked
 * without recursion: a stack of how many elements each open array still
 * expects, RESP_MAX_DEPTH deep.
 *
 * Every decision is taken at the first byte that settles it, so that a
 * prefix of the input is either "need more" or the same answer as the
 * whole: a length line past a bound is an error before the bytes it
 * announces arrive, and a bulk string not followed by CRLF is an error at
 * the byte where CR should be.
 */
#include "resp.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NUM_MAX 20 /* text of a number line: "-9223372036854775808" */

/*
 * Finds the CRLF that ends the line whose text starts at buf[start] and may
 * have at most max bytes. Returns the index of its CR, RESP_NEED_MORE, or
 * RESP_ERROR for a CR without LF, a LF alone, a text too long, or a line
 * that would end past RESP_MAX_REPLY.
 */
static long line_end(const char *buf, size_t len, size_t start, size_t max)
{
	for (size_t i = start;; i++) {
		if (i - start > max || i + 2 > RESP_MAX_REPLY)
			return RESP_ERROR;
		if (i >= len)
			return RESP_NEED_MORE;
		if (buf[i] == '\n')
			return RESP_ERROR;
		if (buf[i] == '\r') {
			if (i + 1 >= len)
				return RESP_NEED_MORE;
			return buf[i + 1] == '\n' ? (long)i : RESP_ERROR;
		}
	}
}

/* A length line: "-1" (nil) or a decimal number of at most max. Returns 0
 * and the value in *n, or -1. */
static int parse_len(const char *s, size_t len, long long max, long long *n)
{
	if (len == 2 && s[0] == '-' && s[1] == '1') {
		*n = -1;
		return 0;
	}
	if (len == 0)
		return -1;
	long long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	*n = v;
	return 0;
}

/* An integer line: an optional '-' and digits, within int64_t. */
static int parse_int(const char *s, size_t len, long long *out)
{
	bool neg = len > 0 && s[0] == '-';
	size_t i = neg ? 1 : 0;
	uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	/* -(INT64_MAX + 1) without overflowing on the way. */
	*out = neg ? (v == 0 ? 0 : -(long long)(v - 1) - 1) : (long long)v;
	return 0;
}

long resp_parse(const char *buf, size_t len, struct resp_reply *r)
{
	unsigned left[RESP_MAX_DEPTH]; /* elements still expected by each open array */
	int depth = 0;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	do {
		struct resp_reply e = {0};
		size_t max;
		long long n = 0;

		if (pos >= len)
			return pos + 3 > RESP_MAX_REPLY ? RESP_ERROR : RESP_NEED_MORE;
		char t = buf[pos];
		if (t == '+' || t == '-')
			max = RESP_MAX_STRING;
		else if (t == ':' || t == '$' || t == '*')
			max = NUM_MAX;
		else
			return RESP_ERROR; /* RESP3 and inline replies included */
		long cr = line_end(buf, len, pos + 1, max);
		if (cr < 0)
			return cr;
		const char *text = buf + pos + 1;
		size_t tlen = (size_t)cr - pos - 1, next = (size_t)cr + 2;
		bool opened = false; /* an array whose elements follow */

		switch (t) {
		case '+':
		case '-':
			e.type = t == '+' ? RESP_STATUS : RESP_ERR;
			e.str = text;
			e.len = tlen;
			break;
		case ':':
			if (parse_int(text, tlen, &e.integer) < 0)
				return RESP_ERROR;
			e.type = RESP_INT;
			break;
		case '$':
			if (parse_len(text, tlen, RESP_MAX_STRING, &n) < 0)
				return RESP_ERROR;
			if (n < 0) {
				e.type = RESP_NIL;
				break;
			}
			if (next + (size_t)n + 2 > RESP_MAX_REPLY)
				return RESP_ERROR;
			if (len > next + (size_t)n && buf[next + n] != '\r')
				return RESP_ERROR;
			if (len > next + (size_t)n + 1 && buf[next + n + 1] != '\n')
				return RESP_ERROR;
			if (len < next + (size_t)n + 2)
				return RESP_NEED_MORE;
			e.type = RESP_BULK;
			e.str = buf + next;
			e.len = (size_t)n;
			next += (size_t)n + 2;
			break;
		default: /* '*' */
			if (parse_len(text, tlen, RESP_MAX_ARRAY, &n) < 0)
				return RESP_ERROR;
			if (n < 0) {
				e.type = RESP_NIL;
				break;
			}
			e.type = RESP_ARRAY;
			e.integer = n;
			if (n > 0) {
				if (depth == RESP_MAX_DEPTH)
					return RESP_ERROR;
				left[depth++] = (unsigned)n;
				opened = true;
			}
			break;
		}
		if (pos == 0)
			*r = e;
		pos = next;
		/* A complete element counts against the array it is in, which may
		 * complete in turn. */
		while (!opened && depth > 0 && --left[depth - 1] == 0)
			depth--;
	} while (depth > 0);
	return (long)pos;
}

/* The "*n\r\n" or "$n\r\n" line into buf (32 bytes); returns its length. */
static size_t head(char *buf, char type, size_t n)
{
	return (size_t)snprintf(buf, 32, "%c%zu\r\n", type, n);
}

size_t resp_command(char *out, size_t cap, size_t argc, const char *const argv[],
                    const size_t lens[])
{
	char h[32];
	size_t total = head(h, '*', argc);
	for (size_t i = 0; i < argc; i++)
		total += head(h, '$', lens[i]) + lens[i] + 2;
	if (total > cap)
		return total;
	size_t at = head(h, '*', argc);
	memcpy(out, h, at);
	for (size_t i = 0; i < argc; i++) {
		size_t hl = head(h, '$', lens[i]);
		memcpy(out + at, h, hl);
		at += hl;
		if (lens[i] > 0)
			memcpy(out + at, argv[i], lens[i]);
		at += lens[i];
		memcpy(out + at, "\r\n", 2);
		at += 2;
	}
	return total;
}
