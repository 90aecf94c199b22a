/*
 * kw_normalize: the streaming normalizer of the keyword module (see
 * kw_normalize.h): NFKC with case folding and default ignorables removed
 * (utf8proc's NFKC_Casefold: COMPOSE|COMPAT|CASEFOLD|IGNORE, plus STABLE so
 * that composition exclusions are respected, as NFKC requires; marks are
 * kept), hiragana folded onto katakana, white space and control runs to one
 * space, invalid UTF-8 to U+FFFD (one per maximal invalid subpart, as
 * Unicode recommends).
 *
 * Streaming: the text is cut into segments that normalize independently.
 * A segment starts at a "boundary" code point, one whose decomposition
 * begins with a starter (combining class 0) that never composes with what
 * precedes it, so neither reordering nor composition can reach across; it
 * goes on with the following non-boundary code points (combining marks,
 * half-width voiced marks, Hangul vowel and final jamo...). The last
 * segment of a write is held back, since a mark may follow in the next
 * one (ﾋ then ﾟ, か then U+3099). Ignorables are dropped as they are
 * decoded, which is what the full algorithm does too (so "e", U+200B,
 * U+0301 still gives "é"). A segment is cut after KW_NORM_SEGMENT_MAX code
 * points, so that thousands of combining marks are flushed in bounded
 * pieces; where the cuts fall depends only on the text, so the output is
 * the same however the input is split.
 *
 * Speed: utf8proc works through UTF-32 buffers and, in utf8proc_map, two
 * passes and a malloc per call. Most segments are a single code point,
 * whose result is looked up: two tables over the BMP, built once
 * (pthread_once) from utf8proc itself, give for each code point its flags
 * (boundary, ignorable, white space, "result is not one BMP code point")
 * and its one-code-point result, already folded (A -> a, ｶ -> カ, が -> ガ,
 * U+3000 -> space). ASCII runs are copied through the same table a byte at
 * a time; only segments of several code points (a letter and its marks) or
 * with a longer result (㈱ -> (株)) go through utf8proc, into a buffer
 * reused across calls.
 */

#include "kw_normalize.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Code points per segment before it is cut (Unicode's stream-safe text
 * format allows 30 non-starters in a row; this is more than enough). */
#define KW_NORM_SEGMENT_MAX 64
#define OUT_CAP             16384

#define DECOMPOSE_OPTS                                                                             \
	(UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE | UTF8PROC_STABLE)
#define COMPOSE_OPTS (UTF8PROC_COMPOSE | UTF8PROC_STABLE)

enum {
	F_BOUNDARY = 1, /* a segment starts here */
	F_IGNORE = 2,   /* default ignorable: dropped */
	F_MULTI = 4,    /* alone, it does not give one BMP code point: slow path */
	F_SPACE = 8,    /* white space or control (as an output code point) */
	F_SECOND = 16,  /* a starter that composes with the one before (init only) */
	F_RUN = 32,     /* a boundary, not ignorable, whose result is one code point
	                 * of 3 UTF-8 bytes, not a space (kanji, kana): fast path */
};

/* Built once by table_init, read-only afterwards. */
static uint8_t norm_flags[0x10000];
static uint16_t norm_single[0x10000];
static int32_t astral_seconds[64];
static size_t nastral_seconds;
static pthread_once_t norm_once = PTHREAD_ONCE_INIT;

struct kw_norm {
	struct kw_sink out;
	bool failed;
	bool last_space; /* the last byte written was a space */
	unsigned nutf8;  /* bytes of an incomplete UTF-8 sequence held back */
	uint8_t utf8[4];
	unsigned nseg; /* the segment held back */
	int32_t seg[KW_NORM_SEGMENT_MAX];
	int32_t *buf; /* the slow path's work buffer */
	size_t bufcap;
	size_t nout;
	char outbuf[OUT_CAP];
};

static int ccc(int32_t c)
{
	return utf8proc_get_property(c)->combining_class;
}

static bool is_second(int32_t c)
{
	if (c < 0x10000)
		return norm_flags[c] & F_SECOND;
	for (size_t i = 0; i < nastral_seconds; i++)
		if (astral_seconds[i] == c)
			return true;
	return false;
}

static bool is_space_cat(int32_t c)
{
	utf8proc_category_t cat = utf8proc_category(c);
	return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
	       cat == UTF8PROC_CATEGORY_ZP || cat == UTF8PROC_CATEGORY_CC;
}

static int32_t kana_fold(int32_t c)
{
	return (c >= 0x3041 && c <= 0x3096) || (c >= 0x309D && c <= 0x309E) ? c + 0x60 : c;
}

/* Decomposes one code point into dst (room for cap); returns the count,
 * which may exceed cap (then nothing useful was written). */
static size_t decompose(int32_t c, int32_t *dst, size_t cap)
{
	utf8proc_ssize_t r =
	        utf8proc_decompose_char(c, dst, (utf8proc_ssize_t)cap, DECOMPOSE_OPTS, NULL);
	return r < 0 ? 0 : (size_t)r; /* c is always a valid code point here */
}

/* buf[0..n) decomposed: folds kana, puts marks in canonical order (as
 * utf8proc_decompose does), composes; returns the new length. Folding comes
 * before composing so that わ + U+3099 composes like ワ + U+3099 (ヷ). */
static size_t fold_and_compose(int32_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = kana_fold(buf[i]);
	for (size_t pos = 0; pos + 1 < n;) {
		int c1 = ccc(buf[pos]), c2 = ccc(buf[pos + 1]);
		if (c1 > c2 && c2 > 0) {
			int32_t t = buf[pos];
			buf[pos] = buf[pos + 1];
			buf[pos + 1] = t;
			pos = pos > 0 ? pos - 1 : pos + 1;
		} else
			pos++;
	}
	utf8proc_ssize_t r = utf8proc_normalize_utf32(buf, (utf8proc_ssize_t)n, COMPOSE_OPTS);
	return r < 0 ? n : (size_t)r;
}

/* Flags of a code point, from its decomposition: ignorable if empty, a
 * boundary if it starts with a starter that composes with nothing before. */
static uint8_t classify(int32_t c, int32_t *dec, size_t cap, size_t *ndec)
{
	size_t n = decompose(c, dec, cap);
	*ndec = n;
	if (n == 0)
		return F_IGNORE;
	if (n > cap)
		return F_MULTI;
	return ccc(dec[0]) == 0 && !is_second(dec[0]) ? F_BOUNDARY : 0;
}

static void table_init(void)
{
	int32_t dec[64];
	/* Starters that compose with a preceding starter: the non-first code
	 * points of canonical decompositions with class 0, and Hangul vowels
	 * and final consonants (composed by rule, not by table). */
	for (int32_t c = 0; c < 0x110000; c++) {
		const utf8proc_property_t *p = utf8proc_get_property(c);
		if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0)
			continue;
		utf8proc_ssize_t n = utf8proc_decompose_char(c, dec, 64, UTF8PROC_DECOMPOSE, NULL);
		for (utf8proc_ssize_t i = 1; i < n && n <= 64; i++) {
			if (ccc(dec[i]) != 0)
				continue;
			if (dec[i] < 0x10000)
				norm_flags[dec[i]] |= F_SECOND;
			else if (!is_second(dec[i]) && nastral_seconds < 64)
				astral_seconds[nastral_seconds++] = dec[i];
			else if (!is_second(dec[i]))
				abort(); /* a newer Unicode: raise the bound */
		}
	}
	for (int32_t c = 0x1161; c <= 0x1175; c++)
		norm_flags[c] |= F_SECOND;
	for (int32_t c = 0x11A8; c <= 0x11C2; c++)
		norm_flags[c] |= F_SECOND;

	for (int32_t c = 0; c < 0x10000; c++) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue; /* never decoded */
		size_t n;
		uint8_t f = classify(c, dec, 64, &n);
		if (is_space_cat(c))
			f |= F_SPACE;
		if (n > 0 && n <= 64) {
			n = fold_and_compose(dec, n);
			if (n == 1 && dec[0] < 0x10000)
				norm_single[c] = is_space_cat(dec[0]) ? 0x20 : (uint16_t)dec[0];
			else
				f |= F_MULTI;
		} else
			f |= F_MULTI;
		if ((f & (F_BOUNDARY | F_IGNORE | F_MULTI | F_SPACE)) == F_BOUNDARY && c >= 0x800 &&
		    norm_single[c] >= 0x800 && !is_space_cat(norm_single[c]))
			f |= F_RUN;
		norm_flags[c] = (uint8_t)(f | (norm_flags[c] & F_SECOND));
	}
}

static void flush_out(struct kw_norm *n)
{
	if (n->nout > 0 && !n->failed && kw_sink_write(&n->out, n->outbuf, n->nout) < 0)
		n->failed = true;
	n->nout = 0;
}

/* Writes one output code point (never an ignorable); white space
 * collapses. */
static inline void emit(struct kw_norm *n, int32_t c, bool space)
{
	if (n->nout + 4 > OUT_CAP)
		flush_out(n);
	char *o = n->outbuf + n->nout;
	if (space) {
		if (!n->last_space) {
			o[0] = ' ';
			n->nout++;
		}
		n->last_space = true;
		return;
	}
	n->last_space = false;
	if (c < 0x80) {
		o[0] = (char)c;
		n->nout += 1;
	} else if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		n->nout += 2;
	} else if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		n->nout += 3;
	} else {
		o[0] = (char)(0xF0 | (c >> 18));
		o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[3] = (char)(0x80 | (c & 0x3F));
		n->nout += 4;
	}
}

static inline void emit_single(struct kw_norm *n, uint16_t d)
{
	emit(n, d, d == 0x20);
}

/* A segment of several code points, or one whose result is not a single
 * BMP code point: through utf8proc. */
static void flush_slow(struct kw_norm *n)
{
	size_t w = 0;
	for (unsigned i = 0; i < n->nseg; i++) {
		for (;;) {
			size_t r = decompose(n->seg[i], n->buf + w, n->bufcap - w);
			if (r <= n->bufcap - w) {
				w += r;
				break;
			}
			n->bufcap = 2 * n->bufcap + r;
			n->buf = realloc(n->buf, n->bufcap * sizeof(*n->buf));
			if (n->buf == NULL)
				abort();
		}
	}
	w = fold_and_compose(n->buf, w);
	for (size_t i = 0; i < w; i++) {
		int32_t c = n->buf[i];
		emit(n, c, c < 0x10000 ? (norm_flags[c] & F_SPACE) != 0 : is_space_cat(c));
	}
}

static inline void flush_seg(struct kw_norm *n)
{
	if (n->nseg == 1 && n->seg[0] < 0x10000 && !(norm_flags[n->seg[0]] & F_MULTI))
		emit_single(n, norm_single[n->seg[0]]);
	else if (n->nseg > 0)
		flush_slow(n);
	n->nseg = 0;
}

static inline void push_cp(struct kw_norm *n, int32_t c)
{
	uint8_t f;
	if (c < 0x10000)
		f = norm_flags[c];
	else {
		int32_t dec[64];
		size_t nd;
		f = classify(c, dec, 64, &nd);
	}
	if (f & F_IGNORE)
		return;
	if ((f & F_BOUNDARY) || n->nseg == KW_NORM_SEGMENT_MAX)
		flush_seg(n);
	n->seg[n->nseg++] = c;
}

/*
 * Decodes one code point from s[0..avail) (avail >= 1): returns the bytes
 * used, with *c = U+FFFD for a maximal invalid subpart, or 0 if s holds only
 * the valid beginning of a sequence (more bytes needed).
 */
static size_t utf8_decode(const uint8_t *s, size_t avail, int32_t *c)
{
	uint8_t b = s[0];
	size_t need;
	uint8_t lo = 0x80, hi = 0xBF;
	int32_t v;
	if (b < 0x80) {
		*c = b;
		return 1;
	} else if (b >= 0xC2 && b <= 0xDF) {
		need = 1;
		v = b & 0x1F;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 2;
		v = b & 0x0F;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 3;
		v = b & 0x07;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	} else {
		*c = 0xFFFD;
		return 1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= avail)
			return 0;
		if (s[i] < lo || s[i] > hi) {
			*c = 0xFFFD;
			return i;
		}
		lo = 0x80, hi = 0xBF;
		v = (v << 6) | (s[i] & 0x3F);
	}
	*c = v;
	return need + 1;
}

/* ASCII s[0..len) followed by more ASCII: each byte is its own segment. */
static void ascii_run(struct kw_norm *n, const uint8_t *s, size_t len)
{
	while (len > 0) {
		if (n->nout == OUT_CAP)
			flush_out(n);
		size_t room = OUT_CAP - n->nout, k = len < room ? len : room;
		char *o = n->outbuf + n->nout;
		size_t w = 0, sp = n->last_space;
		/* Plain integers: with a bool, the compiler's flag-setting code made
		 * a chain from one byte to the next (a third slower). */
		for (size_t i = 0; i < k; i++) {
			char d = (char)norm_single[s[i]];
			size_t is_sp = d == ' ';
			o[w] = d;
			w += 1 - (is_sp & sp);
			sp = is_sp;
		}
		n->last_space = sp != 0;
		n->nout += w;
		s += k;
		len -= k;
	}
}

/*
 * A run of 3-byte code points flagged F_RUN after a held-back one of them:
 * each is a segment of its own, so the one held back is written as it is
 * looked up and the next one held back instead, which is what flush_seg
 * and push_cp would do, without their tests. Returns where it stopped.
 */
static inline __attribute__((always_inline)) const uint8_t *
run3(struct kw_norm *n, const uint8_t *s, const uint8_t *end)
{
	int32_t held = n->seg[0];
	char *o = n->outbuf + n->nout;
	size_t room = (OUT_CAP - n->nout) / 3;
	while (room > 0 && end - s >= 3 && (s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 &&
	       (s[2] & 0xC0) == 0x80) {
		int32_t c = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		if (c < 0x800 || !(norm_flags[c] & F_RUN))
			break; /* (surrogates have no flags) */
		unsigned d = norm_single[held];
		o[0] = (char)(0xE0 | (d >> 12));
		o[1] = (char)(0x80 | ((d >> 6) & 0x3F));
		o[2] = (char)(0x80 | (d & 0x3F));
		o += 3;
		room--;
		held = c;
		s += 3;
	}
	size_t w = (size_t)(o - (n->outbuf + n->nout));
	if (w > 0) {
		n->nout += w;
		n->last_space = false;
		n->seg[0] = held;
	}
	return s;
}

/* Completes a sequence held back from the previous write; returns where
 * the rest of the input starts. */
static const uint8_t *finish_partial(struct kw_norm *n, const uint8_t *s, const uint8_t *end)
{
	uint8_t tmp[4];
	size_t have = n->nutf8, take = 4 - have;
	if (take > (size_t)(end - s))
		take = (size_t)(end - s);
	memcpy(tmp, n->utf8, have);
	memcpy(tmp + have, s, take);
	int32_t c;
	size_t k = utf8_decode(tmp, have + take, &c);
	if (k == 0) {
		memcpy(n->utf8 + have, s, take);
		n->nutf8 += (unsigned)take;
		return end;
	}
	n->nutf8 = 0;
	push_cp(n, c);
	return s + (k - have); /* k >= have: what was held back is a valid beginning */
}

int kw_norm_write(struct kw_norm *n, const char *p, size_t len)
{
	if (n->failed)
		return -1;
	const uint8_t *s = (const uint8_t *)p, *end = s + len;
	if (n->nutf8 > 0 && s < end)
		s = finish_partial(n, s, end);
	while (s < end) {
		if (*s < 0x80) {
			/* The last byte of the run may still take a combining mark. */
			const uint8_t *q = s;
			while (q + 1 < end && q[1] < 0x80)
				q++;
			flush_seg(n);
			ascii_run(n, s, (size_t)(q - s));
			n->seg[0] = *q;
			n->nseg = 1;
			s = q + 1;
			continue;
		}
		int32_t c;
		if ((s[0] & 0xF0) == 0xE0 && end - s >= 3 && (s[1] & 0xC0) == 0x80 &&
		    (s[2] & 0xC0) == 0x80) {
			/* The common case in Japanese text, decoded inline. */
			c = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
			if (c >= 0x800 && (c < 0xD800 || c > 0xDFFF)) {
				s += 3;
				if ((norm_flags[c] & (F_BOUNDARY | F_IGNORE)) == F_BOUNDARY) {
					flush_seg(n);
					n->seg[0] = c;
					n->nseg = 1;
					if (norm_flags[c] & F_RUN)
						s = run3(n, s, end);
				} else
					push_cp(n, c);
				continue;
			}
		}
		size_t k = utf8_decode(s, (size_t)(end - s), &c);
		if (k == 0) {
			n->nutf8 = (unsigned)(end - s);
			memcpy(n->utf8, s, n->nutf8);
			break;
		}
		s += k;
		push_cp(n, c);
	}
	flush_out(n);
	return n->failed ? -1 : 0;
}

int kw_norm_finish(struct kw_norm *n)
{
	if (n->nutf8 > 0) {
		n->nutf8 = 0;
		push_cp(n, 0xFFFD);
	}
	flush_seg(n);
	flush_out(n);
	return n->failed ? -1 : 0;
}

struct kw_norm *kw_norm_new(struct kw_sink out)
{
	pthread_once(&norm_once, table_init);
	struct kw_norm *n = calloc(1, sizeof(*n));
	if (n == NULL)
		abort();
	n->out = out;
	n->bufcap = KW_NORM_SEGMENT_MAX * 4;
	n->buf = malloc(n->bufcap * sizeof(*n->buf));
	if (n->buf == NULL)
		abort();
	return n;
}

void kw_norm_free(struct kw_norm *n)
{
	if (n == NULL)
		return;
	free(n->buf);
	free(n);
}

static int norm_sink_write(void *arg, const char *p, size_t len)
{
	return kw_norm_write(arg, p, len);
}

struct kw_sink kw_norm_sink(struct kw_norm *n)
{
	return (struct kw_sink){.write = norm_sink_write, .arg = n};
}

struct strbuf {
	char *p;
	size_t n, cap;
};

static int strbuf_write(void *arg, const char *p, size_t len)
{
	struct strbuf *b = arg;
	if (b->n + len + 1 > b->cap) {
		b->cap = 2 * (b->n + len + 1);
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->n, p, len);
	b->n += len;
	return 0;
}

char *kw_normalize_string(const char *s, size_t len, size_t *out_len)
{
	struct strbuf b = {.cap = len + 16};
	b.p = malloc(b.cap);
	if (b.p == NULL)
		abort();
	struct kw_norm *n = kw_norm_new((struct kw_sink){.write = strbuf_write, .arg = &b});
	kw_norm_write(n, s, len);
	kw_norm_finish(n);
	kw_norm_free(n);
	b.p[b.n] = 0;
	if (out_len != NULL)
		*out_len = b.n;
	return b.p;
}
