/*
 * kw_decode: Content-Encoding undone as the body streams in. Each coding is
 * one stage with its own library state (ISA-L's igzip for gzip and deflate,
 * libbrotlidec, libzstd) and a 64 KiB output block; stage 0 undoes the
 * coding applied last and feeds stage 1, and so on, the last one feeding
 * the caller's sink. Output is produced as input comes, in blocks, so
 * memory is bounded whatever the input: per stage, ISA-L's state (85 KiB,
 * the 32 KiB window inside), brotli's window (16 MiB at most, the format's
 * limit; large windows are not enabled) or zstd's, capped at 8 MiB as RFC
 * 9659 allows HTTP decoders to do.
 *
 * gzip and deflate use ISA-L rather than zlib, being about twice as fast:
 * ISA-L inflates the deflate data and checks the trailer (CRC-32 and ISIZE,
 * or Adler-32), but the gzip and zlib headers are read here, taking what
 * zlib takes (method 8, no reserved flag, the header CRC when there is one,
 * no preset dictionary), since ISA-L's own header reading goes wrong on a
 * header CRC that comes in pieces. ISA-L may read a few bytes past the end
 * of a stream into its bit buffer; they are handed back, so that a gzip
 * member following a zlib stream is still seen.
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
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
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

/* Where in a gzip member header (RFC 1952 2.3) a gzip stage is; GZ_BODY
 * also for zlib and raw deflate, whose header is two bytes or none. */
enum { GZ_FIXED, GZ_XLEN, GZ_EXTRA, GZ_NAME, GZ_COMMENT, GZ_HCRC, GZ_BODY };

struct stage {
	enum kw_coding coding;
	int state;
	struct inflate_state *inf; /* ISA-L, gzip and deflate; made on first use */
	int gz_part;
	unsigned gz_pos; /* bytes of the part read */
	unsigned char gz_flags;
	unsigned gz_xlen;
	uint32_t gz_crc;       /* CRC-32 of the header so far, for FHCRC */
	unsigned char back[8]; /* bytes ISA-L read past the end, handed back */
	size_t back_len;
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

/* Starts ISA-L on a deflate stream; flag says what follows it and is checked
 * (ISAL_DEFLATE: nothing, raw; ISAL_ZLIB_NO_HDR_VER: Adler-32;
 * ISAL_GZIP_NO_HDR_VER: CRC-32 and ISIZE). The wrappers' headers are read
 * here, not by ISA-L: its check of a gzip header CRC fails when the header
 * comes in pieces. */
static void inflate_start(struct stage *s, uint32_t flag)
{
	/* Zeroed as well as initialized: cheap, and nothing of an earlier
	 * stream (a previous gzip member) can carry over. */
	if (s->inf == NULL && (s->inf = malloc(sizeof(*s->inf))) == NULL)
		abort();
	memset(s->inf, 0, sizeof(*s->inf));
	isal_inflate_init(s->inf);
	s->inf->crc_flag = flag;
	s->inf->hist_bits = 0; /* the format's 32 KiB */
	/* A corrupt stream may refer back past its own start. zlib refuses
	 * that at once ("invalid distance too far back"); ISA-L 2.30 copies
	 * whatever its history holds and reports the stream corrupt only
	 * later, and that differed from run to run (fuzz_kw_decode). A history
	 * of zeros makes those bytes zeros: the same however the body comes. */
	static const uint8_t zeros[ISAL_DEF_HIST_SIZE];
	if (isal_inflate_set_dict(s->inf, (uint8_t *)zeros, sizeof(zeros)) != COMP_OK)
		abort();
	s->gz_part = GZ_BODY;
	s->state = ST_RUN;
}

/* The next part of a gzip member header that is present (RFC 1952 2.3). */
static void gz_next(struct stage *s)
{
	s->gz_pos = 0;
	for (;;) {
		switch (++s->gz_part) {
		case GZ_XLEN:
			if (s->gz_flags & 0x04)
				return;
			break;
		case GZ_EXTRA:
			if ((s->gz_flags & 0x04) && s->gz_xlen > 0)
				return;
			break;
		case GZ_NAME:
			if (s->gz_flags & 0x08)
				return;
			break;
		case GZ_COMMENT:
			if (s->gz_flags & 0x10)
				return;
			break;
		case GZ_HCRC:
			if (s->gz_flags & 0x02)
				return;
			break;
		default:
			inflate_start(s, ISAL_GZIP_NO_HDR_VER);
			return;
		}
	}
}

/* Reads a gzip member header, ID1 ID2 already seen, from p[0..n): how many
 * bytes it took, or -1 if it is not one zlib would take (method, reserved
 * flags, header CRC). */
static long gz_header(struct stage *s, const unsigned char *p, size_t n)
{
	size_t k = 0;
	while (k < n && s->gz_part != GZ_BODY) {
		int part = s->gz_part;
		size_t take = 1;
		unsigned char c = p[k];
		switch (part) {
		case GZ_FIXED: /* ID1 ID2 CM FLG MTIME(4) XFL OS */
			if (s->gz_pos == 2 && c != 8)
				return -1;
			if (s->gz_pos == 3) {
				if (c & 0xe0)
					return -1;
				s->gz_flags = c;
			}
			if (++s->gz_pos == 10)
				gz_next(s);
			break;
		case GZ_XLEN:
			s->gz_xlen |= (unsigned)c << (8 * s->gz_pos);
			if (++s->gz_pos == 2)
				gz_next(s);
			break;
		case GZ_EXTRA:
			take = n - k < s->gz_xlen - s->gz_pos ? n - k : s->gz_xlen - s->gz_pos;
			s->gz_pos += (unsigned)take;
			if (s->gz_pos == s->gz_xlen)
				gz_next(s);
			break;
		case GZ_NAME:
		case GZ_COMMENT: {
			const unsigned char *z = memchr(p + k, 0, n - k);
			take = z ? (size_t)(z - (p + k)) + 1 : n - k;
			if (z)
				gz_next(s);
			break;
		}
		default: /* GZ_HCRC: the low 16 bits of the CRC-32 of all before */
			if (c != ((s->gz_crc >> (8 * s->gz_pos)) & 0xff))
				return -1;
			if (++s->gz_pos == 2)
				gz_next(s);
			break;
		}
		if (part != GZ_HCRC)
			s->gz_crc = crc32_gzip_refl(s->gz_crc, p + k, take);
		k += take;
	}
	return (long)k;
}

/* Runs ISA-L over p[0..n), emitting every block, until the input is used
 * up (and no output is pending) or the stream ends; *used says how far. */
static int inflate_run(struct kw_decode *d, int i, const unsigned char *p, size_t n, size_t *used)
{
	struct stage *s = &d->st[i];
	struct inflate_state *st = s->inf;
	size_t start_n = n;
	for (;;) {
		uint32_t chunk = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		st->next_in = (uint8_t *)p;
		st->avail_in = chunk;
		st->next_out = s->buf;
		st->avail_out = DECODE_BLOCK;
		int rc = isal_inflate(st);
		size_t u = chunk - st->avail_in;
		p += u;
		n -= u;
		took(d, i, u);
		size_t got = DECODE_BLOCK - st->avail_out;
		if (emit(d, i, s->buf, got) < 0)
			return -1;
		if (rc != ISAL_DECOMP_OK && rc != ISAL_END_INPUT && rc != ISAL_OUT_OVERFLOW)
			return corrupt(d, i); /* also a bad CRC, ISIZE or Adler-32 */
		if (st->block_state == ISAL_BLOCK_FINISH) {
			/* ISA-L may have read a few bytes past the end into
			 * its bit buffer: they are handed back, to be seen
			 * again as what follows the stream. */
			int bits = st->read_in_length;
			size_t back = bits > 0 ? (size_t)bits / 8 : 0;
			uint64_t v = bits > 0 ? st->read_in >> (bits % 8) : 0;
			if (back > sizeof(s->back))
				back = sizeof(s->back);
			for (size_t k = 0; k < back; k++)
				s->back[k] = (unsigned char)(v >> (8 * k));
			s->back_len = back;
			if (i == 0)
				d->in_total -= back; /* counted again when seen again */
			s->state = s->coding == KW_CODING_GZIP ? ST_GAP : ST_END;
			break;
		}
		if (n == 0 && got < DECODE_BLOCK)
			break;
		if (u == 0 && got == 0)
			return corrupt(d, i); /* no progress: not seen, but never loop */
	}
	*used = start_n - n;
	return 0;
}

static int inflate_input(struct kw_decode *d, int i, const unsigned char *p, size_t n);

/* After inflate_run: the bytes ISA-L handed back come before the rest. */
static int inflate_back(struct kw_decode *d, int i)
{
	struct stage *s = &d->st[i];
	if (s->back_len == 0)
		return 0;
	unsigned char b[sizeof(s->back)];
	size_t n = s->back_len;
	memcpy(b, s->back, n);
	s->back_len = 0;
	return inflate_input(d, i, b, n);
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
			if (s->coding == KW_CODING_GZIP && two[0] == 0x1f && two[1] == 0x8b) {
				took(d, i, 2);
				s->state = ST_RUN;
				s->gz_part = GZ_FIXED;
				s->gz_pos = 2;
				s->gz_flags = 0;
				s->gz_xlen = 0;
				s->gz_crc = crc32_gzip_refl(0, two, 2);
			} else if (zlib_header(two[0], two[1])) {
				took(d, i, 2);
				if (two[1] & 0x20) /* a preset dictionary: none to give */
					return corrupt(d, i);
				inflate_start(s, ISAL_ZLIB_NO_HDR_VER);
			} else if (s->coding == KW_CODING_DEFLATE) {
				/* raw: the two bytes are deflate data (all taken) */
				inflate_start(s, ISAL_DEFLATE);
				if (inflate_run(d, i, two, 2, &used) < 0 || inflate_back(d, i) < 0)
					return -1;
			} else {
				took(d, i, 2);
				return corrupt(d, i); /* gzip: neither gzip nor zlib */
			}
			break;
		}
		case ST_RUN:
			if (s->gz_part != GZ_BODY) {
				long k = gz_header(s, p, n);
				if (k < 0)
					return corrupt(d, i);
				took(d, i, (size_t)k);
				p += k;
				n -= (size_t)k;
				break;
			}
			if (inflate_run(d, i, p, n, &used) < 0)
				return -1;
			p += used;
			n -= used;
			if (inflate_back(d, i) < 0)
				return -1;
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
		free(s->inf);
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
