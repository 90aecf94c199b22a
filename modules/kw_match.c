/*
 * kw_match: every occurrence of many byte strings in a stream (see
 * kw_match.h), for the keyword module's phrases. It replaces Vectorscan
 * there: Vectorscan 5.4.9's AVX-512 code misses literals depending on
 * where the text lies in memory, and on normalized Japanese text (dense in
 * the bytes E3 82/E3 83 that begin every kana) its literal matcher ran at
 * a quarter of its speed on English.
 *
 * Anchors. Each string is given one anchor: a window of 8 bytes of it if
 * it has one, else of 4, at an offset o where the byte after o is not a
 * UTF-8 continuation byte (so the window starts on the last byte of a
 * character and holds the next one whole: "ツ秘" is E3 83 84 E7 A7 98, and
 * its window at offset 2 is 84 E7 A7 98). Of those windows the one that
 * should be the rarest in text is chosen, its first 4 bytes first, by a
 * crude model of bytes: a space, the lead byte E3 and the byte after it
 * (the kana block) say little, the last byte of a multi-byte character
 * and an uncommon letter say much.
 *
 * Probes. The text is probed only at positions where the next byte is not
 * a continuation byte (a third of the positions in Japanese text; found 64
 * at a time with SSE2). The filter (filter_pass) takes the 4 bytes at the
 * position (lo) and the 4 after them (hi): lo picks a 32-bit word, in
 * which bit A(lo) must be set, and bit B(lo) (set by 4-byte anchors) or
 * bit C(hi) (set by 8-byte anchors): so two kana that begin many 8-byte
 * anchors do not pass unless the two after them fit too. It is computed
 * for 64 positions at a time with AVX2 or AVX-512 gathers where the CPU
 * has them (else one position at a time). A position that passes is
 * checked against a bitmap of the anchors' hashes (without branches, 64
 * at a time), then its 8 and 4 bytes are looked up in a hash table of the
 * anchors, and each string with that anchor is compared with the text
 * around it. An occurrence of a string holds its anchor at a probed
 * position (the probe condition reads only bytes of the occurrence), so
 * it is found, once; whatever passes is compared in full, so nothing else
 * is reported: the filters only decide how much is compared. On the
 * benchmark's texts (bench_kwmatch, 1,000 phrases) one position in 200 to
 * 400 passes the filter.
 *
 * Strings with no such window (1 to 3 bytes, or a character of 4 bytes
 * and 1 or 2 after it...) are "short": tried at every position whose byte
 * begins one of them (a 256-entry table), and compared in full.
 *
 * Streaming: positions are probed up to the one after which a string
 * could still run past the end of what was written ("after" bytes before
 * it), and the bytes that a later comparison may need ("before" bytes
 * before the next position to probe, and those after it) are kept for the
 * next write. A short write is copied after them, into a block of at most
 * BLOCK bytes at a time; a long one is probed where it lies, once its
 * first bytes, copied after the kept ones, have taken the probes up to
 * where the context of each is in the write.
 * Positions are probed in order, and at each position the short strings
 * come before the anchored ones, each in the order given: the order of
 * matches does not depend on the writes.
 */

#include "kw_match.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_PATH 1
#include <immintrin.h>
#endif

#define BLOCK      65536
#define FILTER_MIN 12 /* log2 of the sizes of the filters */
#define FILTER_MAX 24
/* log2 of the filter's 32-bit words and of the confirmation's bits per
 * anchor: few probes pass by chance. */
#define FILTER_LOAD  4
#define CONFIRM_LOAD 8

struct entry {
	uint64_t key;  /* the anchor's bytes (host order); the first byte for short ones */
	uint32_t klen; /* of the anchor: 4 or 8 */
	uint32_t off;  /* of the anchor in the string */
	uint32_t len;
	uint32_t id;
	size_t text; /* offset in the arena */
	size_t order;
};

struct slot {
	uint64_t key;
	uint32_t klen;         /* 0: empty */
	uint32_t first, count; /* ents[first..first+count) */
};

struct kw_match {
	bool avx2, avx512; /* filter 64 windows at a time with AVX2, AVX-512 */
	bool has4, has8;
	unsigned fbits, cbits, sbits;
	uint32_t *filter;  /* 1 << fbits words: see filter_pass */
	uint64_t *confirm; /* 1 << cbits bits, set where an anchor hashes */
	struct slot *slots;
	struct entry *ents; /* anchored, by length, key, order */
	size_t nents;
	struct entry *shorts; /* by first byte then order */
	size_t nshorts;
	uint32_t short_at[257]; /* shorts[short_at[b]..short_at[b+1]) begin with b */
	uint8_t short_first[256];
	char *arena;
	size_t before, after;
};

struct kw_match_stream {
	const struct kw_match *m;
	kw_match_fn fn;
	void *ctx;
	unsigned char *buf;
	size_t cap, len;
	size_t next; /* index in buf of the next position to probe */
	bool finished;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (p == NULL)
		abort();
	return p;
}

static inline uint32_t load32(const unsigned char *p)
{
	uint32_t k;
	memcpy(&k, p, 4);
	return k;
}

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t k;
	memcpy(&k, p, 8);
	return k;
}

static inline bool is_cont(unsigned char b)
{
	return b >= 0x80 && b < 0xC0;
}

/* The filter, for the 4 bytes lo at a position and the 4 after them, hi:
 * a word chosen by lo, and in it bit A(lo) and either bit B(lo) (set by
 * anchors of 4 bytes) or bit C(hi) (set by anchors of 8, whose first and
 * last 4 bytes are lo and hi). The vector code computes the same. */
#define FILTER_MUL_W 0x9E3779B1u
#define FILTER_MUL_L 0x85EBCA77u
#define FILTER_MUL_H 0xC2B2AE3Du

static inline uint32_t filter_word(uint32_t lo, unsigned bits)
{
	return (lo * FILTER_MUL_W) >> (32 - bits);
}

static inline unsigned filter_bit_a(uint32_t lo)
{
	return (lo * FILTER_MUL_L) >> 27;
}

static inline unsigned filter_bit_b(uint32_t lo)
{
	return (lo * FILTER_MUL_L) >> 22 & 31;
}

static inline unsigned filter_bit_c(uint32_t hi)
{
	return (hi * FILTER_MUL_H) >> 27;
}

/* p[0..4) and, if have_hi, p[4..8) can be read. */
static inline bool filter_pass(const uint32_t *filter, unsigned bits, const unsigned char *p,
                               bool have_hi)
{
	uint32_t lo = load32(p), w = filter[filter_word(lo, bits)];
	uint32_t c = have_hi ? w >> filter_bit_c(load32(p + 4)) : 0;
	return (w >> filter_bit_a(lo) & 1) && ((w >> filter_bit_b(lo) | c) & 1);
}

/* For the confirmation and the slots: the anchor's bytes and length. */
static inline uint64_t key_hash(uint64_t k, uint32_t klen)
{
	k = (k ^ klen) * 0x9E3779B97F4A7C15ULL;
	return k ^ (k >> 31);
}

static inline bool confirmed(const struct kw_match *m, uint64_t k, uint32_t klen)
{
	uint64_t h = key_hash(k, klen) >> (64 - m->cbits);
	return m->confirm[h >> 6] >> (h & 63) & 1;
}

/* How much byte i of s tells, roughly, in bits: see the top. */
static unsigned byte_info(const unsigned char *s, size_t i)
{
	unsigned char b = s[i];
	if (b < 0x80) {
		if (b == ' ')
			return 0;
		if (b >= 'a' && b <= 'z')
			return strchr("etaoinshr", b) != NULL ? 3 : 5;
		return b >= '0' && b <= '9' ? 3 : 2;
	}
	if (b >= 0xC0)
		return b == 0xE3 ? 0 : 2;
	if (i > 0 && s[i - 1] >= 0xC0)
		return s[i - 1] == 0xE3 ? 1 : 3;
	return 6;
}

/* The anchor of s (n bytes): the window of klen bytes (8 if there is one,
 * else 4) at an offset before a non-continuation byte, the one that tells
 * most, in its first 4 bytes first (the filter sees only those); its
 * offset, or -1 if there is none. */
static long choose_anchor(const unsigned char *s, size_t n, uint32_t *klen)
{
	for (*klen = 8; *klen >= 4; *klen -= 4) {
		long best = -1;
		unsigned best_info = 0;
		for (size_t o = 0; o + *klen <= n; o++) {
			if (is_cont(s[o + 1]))
				continue;
			unsigned info = 0;
			for (size_t j = 0; j < *klen; j++)
				info += byte_info(s, o + j) * (j < 4 ? 4 : 1);
			if (best < 0 || info > best_info) {
				best = (long)o;
				best_info = info;
			}
		}
		if (best >= 0)
			return best;
	}
	return -1;
}

static int by_key(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->klen != y->klen)
		return x->klen > y->klen ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static unsigned log2_bits(size_t n, unsigned extra)
{
	unsigned b = 0;
	while (((size_t)1 << b) < n)
		b++;
	b += extra;
	return b < FILTER_MIN ? FILTER_MIN : b > FILTER_MAX ? FILTER_MAX : b;
}

struct kw_match *kw_match_build(const char *const *strs, const size_t *lens, const unsigned *ids,
                                size_t n)
{
	struct kw_match *m = xcalloc(1, sizeof(*m));
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i];
	m->arena = xmalloc(total);
	m->ents = xmalloc(n * sizeof(*m->ents));
	m->shorts = xmalloc(n * sizeof(*m->shorts));
	size_t at = 0;
	m->after = 8;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *s = (const unsigned char *)strs[i];
		memcpy(m->arena + at, s, lens[i]);
		uint32_t klen;
		long o = choose_anchor(s, lens[i], &klen);
		struct entry e = {.off = o < 0 ? 0 : (uint32_t)o,
		                  .len = (uint32_t)lens[i],
		                  .id = ids[i],
		                  .text = at,
		                  .order = i};
		at += lens[i];
		if (o < 0) {
			e.key = s[0];
			m->shorts[m->nshorts++] = e;
		} else {
			e.klen = klen;
			e.key = klen == 8 ? load64(s + o) : load32(s + o);
			m->ents[m->nents++] = e;
			if (e.off > m->before)
				m->before = e.off;
			m->has4 |= klen == 4;
			m->has8 |= klen == 8;
		}
		if (e.len - e.off > m->after)
			m->after = e.len - e.off;
	}
	qsort(m->ents, m->nents, sizeof(*m->ents), by_key);
	qsort(m->shorts, m->nshorts, sizeof(*m->shorts), by_key);

	size_t nkeys = 0;
	for (size_t i = 0; i < m->nents; i++)
		nkeys += i == 0 ||
		         by_key(&(struct entry){.key = m->ents[i].key, .klen = m->ents[i].klen},
		                &(struct entry){.key = m->ents[i - 1].key,
		                                .klen = m->ents[i - 1].klen}) != 0;
	m->fbits = log2_bits(nkeys, FILTER_LOAD);
	m->cbits = log2_bits(nkeys, CONFIRM_LOAD);
	m->sbits = log2_bits(nkeys, 1);
	m->filter = xcalloc((size_t)1 << m->fbits, sizeof(*m->filter));
	m->confirm = xcalloc((size_t)1 << (m->cbits - 6), sizeof(*m->confirm));
	m->slots = xcalloc((size_t)1 << m->sbits, sizeof(*m->slots));
	size_t smask = ((size_t)1 << m->sbits) - 1;
	for (size_t i = 0; i < m->nents;) {
		const struct entry *e = &m->ents[i];
		size_t j = i + 1;
		while (j < m->nents && m->ents[j].key == e->key && m->ents[j].klen == e->klen)
			j++;
		uint32_t lo = (uint32_t)e->key;
		m->filter[filter_word(lo, m->fbits)] |=
		        1u << filter_bit_a(lo) |
		        1u << (e->klen == 8 ? filter_bit_c((uint32_t)(e->key >> 32))
		                            : filter_bit_b(lo));
		uint64_t h = key_hash(e->key, e->klen);
		m->confirm[(h >> (64 - m->cbits)) >> 6] |= 1ULL << ((h >> (64 - m->cbits)) & 63);
		size_t x = (size_t)(h >> (64 - m->sbits));
		while (m->slots[x].klen != 0)
			x = (x + 1) & smask;
		m->slots[x] = (struct slot){.key = e->key,
		                            .klen = e->klen,
		                            .first = (uint32_t)i,
		                            .count = (uint32_t)(j - i)};
		i = j;
	}
	for (size_t i = 0, b = 0; b <= 256; b++) {
		while (i < m->nshorts && m->shorts[i].key < b)
			i++;
		m->short_at[b] = (uint32_t)i;
	}
	for (size_t i = 0; i < m->nshorts; i++)
		m->short_first[m->shorts[i].key] = 1;
#ifdef HAVE_AVX2_PATH
	__builtin_cpu_init();
	m->avx2 = __builtin_cpu_supports("avx2");
	m->avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	            __builtin_cpu_supports("avx512vbmi");
#endif
	return m;
}

void kw_match_limit_isa(struct kw_match *m, enum kw_match_isa isa)
{
	m->avx2 = m->avx2 && isa >= KW_MATCH_AVX2;
	m->avx512 = m->avx512 && isa >= KW_MATCH_AVX512;
}

void kw_match_free(struct kw_match *m)
{
	if (m == NULL)
		return;
	free(m->filter);
	free(m->confirm);
	free(m->slots);
	free(m->ents);
	free(m->shorts);
	free(m->arena);
	free(m);
}

struct kw_match_stream *kw_match_open(const struct kw_match *m, kw_match_fn fn, void *ctx)
{
	struct kw_match_stream *s = xcalloc(1, sizeof(*s));
	s->m = m;
	s->fn = fn;
	s->ctx = ctx;
	s->cap = BLOCK + 2 * (m->before + m->after + 128);
	s->buf = xmalloc(s->cap);
	return s;
}

void kw_match_close(struct kw_match_stream *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	free(s);
}

/* The strings whose anchor is the klen bytes k at t[i], in t[0..len) (t[0]
 * is the start of the text, or at least "before" bytes before i). */
static void try_key(const struct kw_match_stream *s, const unsigned char *t, size_t len, size_t i,
                    uint64_t k, uint32_t klen)
{
	const struct kw_match *m = s->m;
	if (!confirmed(m, k, klen))
		return;
	size_t smask = ((size_t)1 << m->sbits) - 1;
	for (size_t x = (size_t)(key_hash(k, klen) >> (64 - m->sbits)); m->slots[x].klen != 0;
	     x = (x + 1) & smask) {
		if (m->slots[x].key != k || m->slots[x].klen != klen)
			continue;
		const struct entry *e = m->ents + m->slots[x].first;
		for (uint32_t c = m->slots[x].count; c > 0; c--, e++) {
			/* Before the start of the text, or past what was written. */
			if (e->off > i || i - e->off + e->len > len)
				continue;
			if (memcmp(t + i - e->off, m->arena + e->text, e->len) == 0)
				s->fn(s->ctx, e->id);
		}
		return;
	}
}

/* A position whose first 4 bytes passed the filter. */
static void try_anchored(const struct kw_match_stream *s, const unsigned char *t, size_t len,
                         size_t i)
{
	const struct kw_match *m = s->m;
	if (m->has8 && i + 8 <= len)
		try_key(s, t, len, i, load64(t + i), 8);
	if (m->has4)
		try_key(s, t, len, i, load32(t + i), 4);
}

static void try_short(const struct kw_match_stream *s, const unsigned char *t, size_t len, size_t i)
{
	const struct kw_match *m = s->m;
	unsigned char b = t[i];
	for (uint32_t x = m->short_at[b]; x < m->short_at[b + 1]; x++) {
		const struct entry *e = &m->shorts[x];
		if (i + e->len <= len && memcmp(t + i, m->arena + e->text, e->len) == 0)
			s->fn(s->ctx, e->id);
	}
}

/* Bit j set: buf[i + j] is a position to probe (buf[i + j + 1] is not a
 * continuation byte). Reads buf[i + 1 .. i + 64]. */
static inline uint64_t probe_mask(const unsigned char *p)
{
#if defined(__SSE2__)
	const __m128i lim = _mm_set1_epi8((char)0xC0);
	uint64_t cont = 0;
	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 1 + 16 * k));
		cont |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmplt_epi8(v, lim)) << (16 * k);
	}
	return ~cont;
#else
	uint64_t mask = 0;
	for (int j = 0; j < 64; j++)
		mask |= (uint64_t)!is_cont(p[j + 1]) << j;
	return mask;
#endif
}

#ifdef HAVE_AVX2_PATH
/* Bit j set: the window at p + j passes the filter, j < 64. Reads
 * p[0..72). Eight windows per vector: the bytes are spread into eight
 * overlapping 4-byte lanes (lo) and the eight after them (hi), the words
 * gathered and the bits tested as filter_pass does. */
__attribute__((target("avx2"))) static uint64_t filter64_avx2(const unsigned char *p,
                                                              const uint32_t *filter, unsigned bits)
{
	const __m256i spread_lo = _mm256_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6,
	                                           4, 5, 6, 7, 5, 6, 7, 8, 6, 7, 8, 9, 7, 8, 9, 10);
	const __m256i spread_hi =
	        _mm256_setr_epi8(4, 5, 6, 7, 5, 6, 7, 8, 6, 7, 8, 9, 7, 8, 9, 10, 8, 9, 10, 11, 9,
	                         10, 11, 12, 10, 11, 12, 13, 11, 12, 13, 14);
	const __m256i mul_w = _mm256_set1_epi32((int)FILTER_MUL_W);
	const __m256i mul_l = _mm256_set1_epi32((int)FILTER_MUL_L);
	const __m256i mul_h = _mm256_set1_epi32((int)FILTER_MUL_H);
	const __m128i shift = _mm_cvtsi32_si128((int)(32 - bits));
	const __m256i b31 = _mm256_set1_epi32(31), one = _mm256_set1_epi32(1);
	uint64_t hits = 0;
	for (unsigned j = 0; j < 64; j += 8) {
		__m256i b = _mm256_broadcastsi128_si256(
		        _mm_loadu_si128((const __m128i *)(const void *)(p + j)));
		__m256i lo = _mm256_shuffle_epi8(b, spread_lo),
		        hi = _mm256_shuffle_epi8(b, spread_hi);
		__m256i idx = _mm256_srl_epi32(_mm256_mullo_epi32(lo, mul_w), shift);
		__m256i w = _mm256_i32gather_epi32((const int *)(const void *)filter, idx, 4);
		__m256i l = _mm256_mullo_epi32(lo, mul_l);
		__m256i a = _mm256_srlv_epi32(w, _mm256_srli_epi32(l, 27));
		__m256i bb = _mm256_srlv_epi32(w, _mm256_and_si256(_mm256_srli_epi32(l, 22), b31));
		__m256i c =
		        _mm256_srlv_epi32(w, _mm256_srli_epi32(_mm256_mullo_epi32(hi, mul_h), 27));
		__m256i pass = _mm256_and_si256(_mm256_and_si256(a, _mm256_or_si256(bb, c)), one);
		__m256i yes = _mm256_cmpeq_epi32(pass, one);
		hits |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(yes)) << j;
	}
	return hits;
}

/* The same with AVX-512 (VBMI spreads the bytes): sixteen windows per
 * vector. Reads p[0..112). */
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static uint64_t
filter64_avx512(const unsigned char *p, const uint32_t *filter, unsigned bits)
{
	/* Lane k of 16: bytes k..k+3 (lo), k+4..k+7 (hi). */
	static const uint8_t lo_at[64] = {0,  1,  2,  3,  1,  2,  3,  4,  2,  3,  4,  5,  3,
	                                  4,  5,  6,  4,  5,  6,  7,  5,  6,  7,  8,  6,  7,
	                                  8,  9,  7,  8,  9,  10, 8,  9,  10, 11, 9,  10, 11,
	                                  12, 10, 11, 12, 13, 11, 12, 13, 14, 12, 13, 14, 15,
	                                  13, 14, 15, 16, 14, 15, 16, 17, 15, 16, 17, 18};
	static const uint8_t hi_at[64] = {4,  5,  6,  7,  5,  6,  7,  8,  6,  7,  8,  9,  7,
	                                  8,  9,  10, 8,  9,  10, 11, 9,  10, 11, 12, 10, 11,
	                                  12, 13, 11, 12, 13, 14, 12, 13, 14, 15, 13, 14, 15,
	                                  16, 14, 15, 16, 17, 15, 16, 17, 18, 16, 17, 18, 19,
	                                  17, 18, 19, 20, 18, 19, 20, 21, 19, 20, 21, 22};
	const __m512i spread_lo = _mm512_loadu_si512((const void *)lo_at);
	const __m512i spread_hi = _mm512_loadu_si512((const void *)hi_at);
	const __m512i mul_w = _mm512_set1_epi32((int)FILTER_MUL_W);
	const __m512i mul_l = _mm512_set1_epi32((int)FILTER_MUL_L);
	const __m512i mul_h = _mm512_set1_epi32((int)FILTER_MUL_H);
	const __m128i shift = _mm_cvtsi32_si128((int)(32 - bits));
	const __m512i b31 = _mm512_set1_epi32(31), one = _mm512_set1_epi32(1);
	uint64_t hits = 0;
	for (unsigned j = 0; j < 64; j += 16) {
		__m512i b = _mm512_loadu_si512((const void *)(p + j));
		__m512i lo = _mm512_permutexvar_epi8(spread_lo, b);
		__m512i hi = _mm512_permutexvar_epi8(spread_hi, b);
		__m512i idx = _mm512_srl_epi32(_mm512_mullo_epi32(lo, mul_w), shift);
		__m512i w = _mm512_i32gather_epi32(idx, (const void *)filter, 4);
		__m512i l = _mm512_mullo_epi32(lo, mul_l);
		__m512i a = _mm512_srlv_epi32(w, _mm512_srli_epi32(l, 27));
		__m512i bb = _mm512_srlv_epi32(w, _mm512_and_si512(_mm512_srli_epi32(l, 22), b31));
		__m512i c =
		        _mm512_srlv_epi32(w, _mm512_srli_epi32(_mm512_mullo_epi32(hi, mul_h), 27));
		__m512i pass = _mm512_and_si512(a, _mm512_or_si512(bb, c));
		hits |= (uint64_t)_mm512_test_epi32_mask(pass, one) << j;
	}
	return hits;
}
#endif

/* Probes buf[i..stop): 64 positions at a time while buf holds 64 bytes more
 * (the AVX-512 filter reads 112), and
 * falls back to one position at a time near the end of what was written. */
static void probe(const struct kw_match_stream *s, const unsigned char *t, size_t len, size_t i,
                  size_t stop)
{
	const struct kw_match *m = s->m;
	const uint32_t *filter = m->filter;
	unsigned fb = m->fbits;
	bool shorts = m->nshorts > 0, anchored = m->nents > 0;
	for (; i + 64 <= stop && i + 128 <= len; i += 64) {
		uint64_t hits = 0, sh = 0;
		if (anchored) {
			uint64_t mask = probe_mask(t + i);
#ifdef HAVE_AVX2_PATH
			if (m->avx512)
				hits = filter64_avx512(t + i, filter, fb) & mask;
			else if (m->avx2)
				hits = filter64_avx2(t + i, filter, fb) & mask;
			else
#endif
			{
				for (; mask != 0; mask &= mask - 1) {
					unsigned j = (unsigned)__builtin_ctzll(mask);
					hits |= (uint64_t)filter_pass(filter, fb, t + i + j, true)
					        << j;
				}
			}
		}
		if (shorts)
			for (unsigned j = 0; j < 64; j++)
				sh |= (uint64_t)m->short_first[t[i + j]] << j;
		/* The confirmation, without branches. */
		uint64_t conf = 0;
		for (uint64_t x = hits; x != 0; x &= x - 1) {
			unsigned j = (unsigned)__builtin_ctzll(x);
			unsigned c8 = confirmed(m, load64(t + i + j), 8) & m->has8;
			unsigned c4 = confirmed(m, load32(t + i + j), 4) & m->has4;
			conf |= (uint64_t)(c8 | c4) << j;
		}
		hits = conf;
		for (uint64_t all = hits | sh; all != 0; all &= all - 1) {
			unsigned j = (unsigned)__builtin_ctzll(all);
			if (sh >> j & 1)
				try_short(s, t, len, i + j);
			if (hits >> j & 1)
				try_anchored(s, t, len, i + j);
		}
	}
	for (; i < stop; i++) {
		if (shorts && m->short_first[t[i]])
			try_short(s, t, len, i);
		if (anchored && i + 4 <= len && !is_cont(t[i + 1]) &&
		    filter_pass(filter, fb, t + i, i + 8 <= len))
			try_anchored(s, t, len, i);
	}
}

/* Probes what can be probed; drops what no later comparison needs. */
static void advance(struct kw_match_stream *s, bool final)
{
	const struct kw_match *m = s->m;
	size_t stop = final ? s->len : s->len > m->after ? s->len - m->after : 0;
	if (stop > s->next) {
		probe(s, s->buf, s->len, s->next, stop);
		s->next = stop;
	}
	size_t drop = s->next > m->before ? s->next - m->before : 0;
	if (drop > 0) {
		memmove(s->buf, s->buf + drop, s->len - drop);
		s->len -= drop;
		s->next -= drop;
	}
}

void kw_match_write(struct kw_match_stream *s, const char *p, size_t n)
{
	const struct kw_match *m = s->m;
	const unsigned char *u = (const unsigned char *)p;
	size_t stitch = m->before + m->after + 128;
	if (s->finished)
		return;
	if (n >= 4 * stitch) {
		/* The first bytes with what was kept, until the positions left to
		 * probe have all their context in u; those in place; what the
		 * next write needs kept. */
		memcpy(s->buf + s->len, u, stitch);
		s->len += stitch;
		advance(s, false);
		size_t from = s->next + stitch - s->len; /* the next position, in u */
		size_t stop = n - m->after;
		probe(s, u, n, from, stop);
		memcpy(s->buf, u + stop - m->before, n - (stop - m->before));
		s->len = n - (stop - m->before);
		s->next = m->before;
		return;
	}
	while (n > 0) {
		size_t k = s->cap - s->len;
		if (k > n)
			k = n;
		memcpy(s->buf + s->len, u, k);
		s->len += k;
		u += k;
		n -= k;
		advance(s, false);
	}
}

void kw_match_finish(struct kw_match_stream *s)
{
	if (s->finished)
		return;
	advance(s, true);
	s->finished = true;
}
