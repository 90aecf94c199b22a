/*
 * kw_decode: Content-Encoding undone as the body streams in. Each coding is
 * one stage with its own library state (zlib for gzip and deflate,
 * libbrotlidec, libzstd) and a 64 KiB output block; stage 0 undoes the
 * coding applied last and feeds stage 1, and so on, the last one feeding
 * the caller's sink. Output is produced as input comes, in blocks, so
 * memory is bounded whatever the input: per stage, zlib's state (about
 * 40 KiB, the 32 KiB window inside), brotli's window (16 MiB at most, the
 * format's limit; large windows are not enabled) or zstd's, capped at
 * 8 MiB as RFC 9659 allows HTTP decoders to do.
 *
 * gzip and deflate use zlib, which reads the gzip and zlib wrappers and
 * checks their trailers itself. ISA-L inflates about three times faster,
 * but the Debian 12 version (2.30) decoded a corrupt stream's references
 * before its start differently depending on how the input was split, and
 * read history outside the output it had written (fuzz_kw_decode); zlib
 * refuses such a stream at the first bad distance.
 *
 * Every stage's output (not only the last's) is held to the limits, so that
 * a bomb cannot hide inside another coding whose own output is small (empty
 * gzip members by the million inside br): the decoded size against
 * max_output, and the size against max_ratio times the encoded bytes read
 * so far, once past 1 MiB. A limit stops the stage after passing on the
 * bytes up to max_output, so that what was decoded can still be scanned.
 *
 * Leniencies, as browsers have them: "deflate" is zlib-wrapped or raw
 * (decided on the first two bytes), "gzip" also takes a zlib stream, gzip
 * members may follow each other, and bytes after the end of a gzip, deflate
 * or br stream are ignored (servers pad). zstd frames follow each other
 * natively; anything else after them is corrupt.
 */

#include "kw_decode.h"

#include <brotli/decode.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define DECODE_BLOCK    (64 * 1024)
#define RATIO_FLOOR     (1024 * 1024) /* max_ratio applies past this much output */
#define ZSTD_WINDOW_LOG 23            /* 8 MiB */

enum {
	ST_START, /* no input yet (deflate: not sure yet whether it is zlib-wrapped) */
	ST_RUN,   /* inside a stream */
	ST_GAP,   /* gzip: after a member, a new one may start */
	ST_END,   /* after the end: further input is ignored */
};

struct stage {
	enum kw_coding coding;
	int state;
	z_stream *z; /* gzip and deflate; made on first use */
	BrotliDecoderState *br;
	ZSTD_DCtx *zs;
	size_t zs_hint;        /* ZSTD_decompressStream's last return: 0 at a frame's end */
	unsigned char hold[2]; /* first bytes of a deflate stream or a gzip member */
	size_t hold_len;
	uint64_t out_total;
	unsigned char *buf; /* DECODE_BLOCK */
};

struct kw_decode {
	struct stage st[KW_CODINGS_MAX]; /* st[0] undoes the coding applied last */
	int n;
	struct kw_decode_limits lim;
	struct kw_sink out;
	uint64_t in_total; /* encoded bytes taken by st[0] */
	int stopped;
	int limited;
	const char *what; /* set with err */
	char err[96];
};

static const char *coding_name(enum kw_coding c)
{
	switch (c) {
	case KW_CODING_GZIP:
		return "gzip";
	case KW_CODING_DEFLATE:
		return "deflate";
	case KW_CODING_BR:
		return "brotli";
	case KW_CODING_ZSTD:
		return "zstd";
	default:
		return "identity";
	}
}

int kw_coding_parse(const char *value, size_t len, enum kw_coding out[KW_CODINGS_MAX])
{
	static const struct {
		const char *name;
		enum kw_coding coding;
	} names[] = {
	        {"gzip", KW_CODING_GZIP},       {"x-gzip", KW_CODING_GZIP},
	        {"deflate", KW_CODING_DEFLATE}, {"br", KW_CODING_BR},
	        {"zstd", KW_CODING_ZSTD},       {"identity", KW_CODING_IDENTITY},
	};
	int n = 0;
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && value[i] != ',')
			i++;
		size_t end = i;
		i++; /* past the comma */
		while (start < end && (value[start] == ' ' || value[start] == '\t'))
			start++;
		while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
			end--;
		if (start == end)
			continue; /* empty list elements are allowed */
		size_t k;
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (strlen(names[k].name) == end - start &&
			    strncasecmp(names[k].name, value + start, end - start) == 0)
				break;
		if (k == sizeof(names) / sizeof(names[0]))
			return -1;
		if (names[k].coding == KW_CODING_IDENTITY)
			continue;
		if (n == KW_CODINGS_MAX)
			return -1;
		out[n++] = names[k].coding;
	}
	return n;
}

/* Records why decoding stopped; the first reason wins. */
static int fail(struct kw_decode *d, int limited, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct kw_decode *d, int limited, const char *fmt, ...)
{
	if (!d->stopped) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->err, sizeof(d->err), fmt, ap);
		va_end(ap);
		d->what = d->err;
		d->limited = limited;
		d->stopped = 1;
	}
	return -1;
}

static int corrupt(struct kw_decode *d, int i)
{
	return fail(d, 0, "corrupt %s stream", coding_name(d->st[i].coding));
}

static int stage_input(struct kw_decode *d, int i, const unsigned char *p, size_t n);

/* Stage i produced p[0..n): limits, then the next stage or the sink. */
static int emit(struct kw_decode *d, int i, const unsigned char *p, size_t n)
{
	struct stage *s = &d->st[i];
	if (n == 0)
		return 0;
	int over = 0;
	if (d->lim.max_output && n > d->lim.max_output - s->out_total) {
		n = (size_t)(d->lim.max_output - s->out_total);
		over = 1;
	}
	s->out_total += n;
	if (d->lim.max_ratio && s->out_total > RATIO_FLOOR &&
	    d->in_total <= UINT64_MAX / d->lim.max_ratio &&
	    s->out_total > d->in_total * d->lim.max_ratio)
		return fail(d, 1, "decompression bomb (ratio over %u)", d->lim.max_ratio);
	int rc;
	if (i + 1 < d->n)
		rc = stage_input(d, i + 1, p, n);
	else
		rc = kw_sink_write(&d->out, (const char *)p, n);
	if (rc < 0) {
		d->stopped = 1; /* the sink's or a later stage's reason stands */
		return -1;
	}
	if (over) {
		uint64_t m = d->lim.max_output;
		if (m % (1024 * 1024) == 0)
			return fail(d, 1, "decoded size over %llu MiB",
			            (unsigned long long)(m / (1024 * 1024)));
		return fail(d, 1, "decoded size over %llu bytes", (unsigned long long)m);
	}
	return 0;
}

static void took(struct kw_decode *d, int i, size_t n)
{
	if (i == 0)
		d->in_total += n;
}

/* Is b0 b1 a zlib header (deflate method, window <= 32 KiB, check bits)? */
static int zlib_header(unsigned char b0, unsigned char b1)
{
	return (b0 & 0x0f) == 8 && (b0 >> 4) <= 7 && ((unsigned)b0 * 256 + b1) % 31 == 0;
}

/* Starts zlib on a stream: window_bits as inflateInit2 takes them (-15
 * raw deflate, 15 zlib-wrapped, 31 gzip). */
static void inflate_start(struct stage *s, int window_bits)
{
	if (s->z == NULL) {
		if ((s->z = calloc(1, sizeof(*s->z))) == NULL ||
		    inflateInit2(s->z, window_bits) != Z_OK)
			abort();
	} else if (inflateReset2(s->z, window_bits) != Z_OK) {
		abort();
	}
	s->state = ST_RUN;
}

/* Runs zlib over p[0..n), emitting every block, until the input is used up
 * (and no output is pending) or the stream ends; *used says how far (zlib
 * stops exactly at the end of a stream, its trailer included). */
static int inflate_run(struct kw_decode *d, int i, const unsigned char *p, size_t n, size_t *used)
{
	struct stage *s = &d->st[i];
	z_stream *z = s->z;
	size_t start_n = n;
	for (;;) {
		uInt chunk = n > UINT_MAX ? UINT_MAX : (uInt)n;
		z->next_in = (Bytef *)p;
		z->avail_in = chunk;
		z->next_out = s->buf;
		z->avail_out = DECODE_BLOCK;
		int rc = inflate(z, Z_NO_FLUSH);
		size_t u = chunk - z->avail_in;
		p += u;
		n -= u;
		took(d, i, u);
		size_t got = DECODE_BLOCK - z->avail_out;
		if (emit(d, i, s->buf, got) < 0)
			return -1;
		if (rc == Z_STREAM_END) {
			s->state = s->coding == KW_CODING_GZIP ? ST_GAP : ST_END;
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return corrupt(d, i); /* also a bad check value, a preset dictionary */
		if (n == 0 && got < DECODE_BLOCK)
			break;
		if (u == 0 && got == 0)
			return corrupt(d, i); /* no progress: not seen, but never loop */
	}
	*used = start_n - n;
	return 0;
}

static int inflate_input(struct kw_decode *d, int i, const unsigned char *p, size_t n)
{
	struct stage *s = &d->st[i];
	while (n > 0) {
		size_t used;
		switch (s->state) {
		case ST_START:
		case ST_GAP: {
			/* The first two bytes decide: zlib or raw deflate, gzip
			 * or zlib; after a gzip member, whether another one
			 * follows or padding. */
			s->hold[s->hold_len++] = *p++;
			n--;
			int gap = s->state == ST_GAP;
			if (s->hold_len < 2 && !(gap && s->hold[0] != 0x1f))
				break;
			unsigned char two[2] = {s->hold[0], s->hold[1]};
			size_t held = s->hold_len;
			s->hold_len = 0;
			if (gap && (two[0] != 0x1f || two[1] != 0x8b)) {
				took(d, i, held);
				s->state = ST_END;
				break;
			}
			int bits;
			if (s->coding == KW_CODING_GZIP && two[0] == 0x1f && two[1] == 0x8b)
				bits = 31;
			else if (zlib_header(two[0], two[1]))
				bits = 15;
			else if (s->coding == KW_CODING_DEFLATE)
				bits = -15; /* raw: the two bytes are deflate data */
			else {
				took(d, i, 2);
				return corrupt(d, i); /* gzip: neither gzip nor zlib */
			}
			inflate_start(s, bits);
			/* No stream ends inside these two bytes (the
			 * shortest deflate stream is 10 bits long). */
			if (inflate_run(d, i, two, 2, &used) < 0)
				return -1;
			break;
		}
		case ST_RUN:
			if (inflate_run(d, i, p, n, &used) < 0)
				return -1;
			p += used;
			n -= used;
			break;
		default: /* ST_END: padding after the stream */
			took(d, i, n);
			return 0;
		}
	}
	return 0;
}

static int br_input(struct kw_decode *d, int i, const unsigned char *p, size_t n)
{
	struct stage *s = &d->st[i];
	if (s->state == ST_END) {
		took(d, i, n);
		return 0;
	}
	s->state = ST_RUN;
	size_t avail_in = n;
	const uint8_t *next_in = p;
	for (;;) {
		size_t avail_out = DECODE_BLOCK;
		uint8_t *next_out = s->buf;
		size_t before = avail_in;
		BrotliDecoderResult r = BrotliDecoderDecompressStream(s->br, &avail_in, &next_in,
		                                                      &avail_out, &next_out, NULL);
		took(d, i, before - avail_in);
		if (emit(d, i, s->buf, DECODE_BLOCK - avail_out) < 0)
			return -1;
		if (r == BROTLI_DECODER_RESULT_SUCCESS) {
			s->state = ST_END;
			took(d, i, avail_in);
			return 0;
		}
		if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
			return 0;
		if (r != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT)
			return corrupt(d, i);
	}
}

static int zstd_input(struct kw_decode *d, int i, const unsigned char *p, size_t n)
{
	struct stage *s = &d->st[i];
	s->state = ST_RUN;
	ZSTD_inBuffer in = {p, n, 0};
	for (;;) {
		ZSTD_outBuffer out = {s->buf, DECODE_BLOCK, 0};
		size_t before = in.pos;
		size_t r = ZSTD_decompressStream(s->zs, &out, &in);
		took(d, i, in.pos - before);
		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
				return fail(d, 0, "zstd window over %d MiB",
				            1 << (ZSTD_WINDOW_LOG - 20));
			return corrupt(d, i);
		}
		s->zs_hint = r;
		if (emit(d, i, s->buf, out.pos) < 0)
			return -1;
		if (in.pos == in.size && out.pos < out.size)
			return 0;
	}
}

static int stage_input(struct kw_decode *d, int i, const unsigned char *p, size_t n)
{
	if (d->stopped)
		return -1;
	switch (d->st[i].coding) {
	case KW_CODING_GZIP:
	case KW_CODING_DEFLATE:
		return inflate_input(d, i, p, n);
	case KW_CODING_BR:
		return br_input(d, i, p, n);
	case KW_CODING_ZSTD:
		return zstd_input(d, i, p, n);
	default:
		abort();
	}
}

struct kw_decode *kw_decode_new(const enum kw_coding *codings, int n,
                                const struct kw_decode_limits *lim, struct kw_sink out)
{
	if (n < 0 || n > KW_CODINGS_MAX)
		abort();
	struct kw_decode *d = calloc(1, sizeof(*d));
	if (d == NULL)
		abort();
	d->n = n;
	d->lim = *lim;
	d->out = out;
	for (int i = 0; i < n; i++) {
		struct stage *s = &d->st[i];
		s->coding = codings[n - 1 - i];
		s->state = ST_START;
		s->buf = malloc(DECODE_BLOCK);
		if (s->buf == NULL)
			abort();
		if (s->coding == KW_CODING_BR) {
			s->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
			if (s->br == NULL)
				abort();
		} else if (s->coding == KW_CODING_ZSTD) {
			s->zs = ZSTD_createDCtx();
			if (s->zs == NULL)
				abort();
			ZSTD_DCtx_setParameter(s->zs, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG);
		} else if (s->coding != KW_CODING_GZIP && s->coding != KW_CODING_DEFLATE) {
			abort();
		}
	}
	return d;
}

int kw_decode_write(struct kw_decode *d, const char *p, size_t n)
{
	if (d->stopped)
		return -1;
	if (n == 0)
		return 0;
	if (d->n == 0) {
		if (kw_sink_write(&d->out, p, n) < 0) {
			d->stopped = 1;
			return -1;
		}
		return 0;
	}
	return stage_input(d, 0, (const unsigned char *)p, n);
}

int kw_decode_finish(struct kw_decode *d)
{
	if (d->stopped)
		return -1;
	for (int i = 0; i < d->n; i++) {
		struct stage *s = &d->st[i];
		int cut;
		switch (s->coding) {
		case KW_CODING_GZIP:
		case KW_CODING_DEFLATE:
			cut = s->state == ST_RUN || (s->state == ST_START && s->hold_len > 0);
			break;
		case KW_CODING_BR:
			cut = s->state == ST_RUN;
			break;
		default:
			cut = s->state == ST_RUN && s->zs_hint != 0;
			break;
		}
		if (cut)
			return fail(d, 0, "truncated %s stream", coding_name(s->coding));
	}
	return 0;
}

const char *kw_decode_error(const struct kw_decode *d)
{
	return d->what;
}

int kw_decode_limited(const struct kw_decode *d)
{
	return d->limited;
}

void kw_decode_free(struct kw_decode *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->n; i++) {
		struct stage *s = &d->st[i];
		if (s->z != NULL) {
			inflateEnd(s->z);
			free(s->z);
		}
		if (s->br)
			BrotliDecoderDestroyInstance(s->br);
		if (s->zs)
			ZSTD_freeDCtx(s->zs);
		free(s->buf);
	}
	free(d);
}

static int decode_sink_write(void *arg, const char *p, size_t n)
{
	return kw_decode_write(arg, p, n);
}

struct kw_sink kw_decode_sink(struct kw_decode *d)
{
	return (struct kw_sink){decode_sink_write, d};
}
