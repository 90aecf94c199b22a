/*
 * cache: the verdict cache of cache.h. Keys are SHA-256 outputs, so their
 * bytes are already well mixed and serve directly as hash values: four of
 * them pick a lock stripe, four others a bucket within it.
 *
 * Every entry has the same size (a fixed key, a fixed verdict record), so a
 * stripe is a preallocated array of capacity entries plus a table of
 * capacity bucket heads, linked by 32-bit indices: chains for the buckets,
 * a doubly linked list from the most to the least recently used entry, a
 * free list. A lookup walks one chain (its expected length is under one,
 * the table never grows, so it never rehashes), a hit moves the entry to
 * the front of the list, and a store into a full stripe reuses the entry at
 * the back. Nothing is allocated after cache_new. The arrays come from
 * malloc and calloc, which for large sizes map pages that the kernel fills
 * only when they are first touched, so a large, mostly empty cache costs
 * little: entries are handed out in order (a high-water mark) rather than
 * threaded on a free list up front.
 *
 * Each stripe has its own mutex, list and share of the memory, and is
 * aligned to a cache line. A small cache has a single stripe and is exactly
 * LRU; a large one has up to STRIPES_MAX, each exactly LRU over its own keys:
 * the entry that leaves is the least recently used of its stripe, which,
 * SHA-256 spreading keys evenly, is always among the least recently used of
 * the whole cache. Why stripes: a hit is a handful of cache misses taken
 * under the lock (well over 100 ns in a large cache), and with one lock,
 * threads queue behind them and sleep in the kernel; measured with
 * CACHE_BENCH=1 in tests/unit/test_cache.c, 4 threads on 2 CPUs got about
 * 1.8 times the hits per second with 64 stripes that they got with one lock.
 */
#include "cache.h"

#include <assert.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAGIC 0x43414348u /* "CACH" */

#define KEY_LABEL          "icapd verdict cache key 1" /* versions the derivation */
#define STRIPES_MAX        64u
#define STRIPE_MIN_ENTRIES 4096u /* a stripe holds at least this many, or there is one */
#define NIL                0u    /* no entry: indices below are 1-based */

unsigned cache_test_stripes;

/* One verdict under one key. Links are 1-based indices into the stripe. */
struct cache_entry {
	unsigned char key[CACHE_KEY_LEN];
	uint64_t expires;    /* now_ms from which it is gone; UINT64_MAX: never */
	uint32_t prev, next; /* toward the most / the least recently used */
	uint32_t chain;      /* next in the bucket, or in the free list */
	struct cache_verdict v;
};

/* What a hit writes (the lock, the head of the list, a counter) comes first,
 * to share one cache line on common ABIs; the rest is written by puts. */
struct cache_stripe {
	_Alignas(64) pthread_mutex_t lock;
	uint32_t head; /* most recently used */
	uint32_t tail; /* least recently used: the next to go */
	uint64_t hits, misses;
	struct cache_entry *entries; /* entry i is entries[i - 1] */
	uint32_t *buckets;           /* capacity heads; the same count as entries */
	uint32_t capacity;
	uint32_t used;      /* entries handed out at least once: 1..used */
	uint32_t free_list; /* entries handed out and released since */
	uint32_t count;     /* entries held */
	uint64_t evictions, expired;
};

struct cache {
	unsigned magic;
	unsigned nstripes; /* a power of two */
	uint64_t ttl_ms;
	size_t capacity; /* over all stripes */
	struct cache_stripe *stripes;
};

/* ---------------------------------------------------------------- keys, verdicts */

/*
 * SHA-256, fetched once: with OpenSSL 3, passing EVP_sha256() makes every
 * EVP_DigestInit_ex look the implementation up again, which is most of the
 * cost of a key (about 600 ns against 250 here).
 */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static const EVP_MD *sha256_md;

static void sha256_fetch(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); /* kept for the process's life */
#endif
	if (sha256_md == NULL)
		sha256_md = EVP_sha256();
}

bool cache_key(unsigned char out[CACHE_KEY_LEN], const unsigned char sha[32], const void *ctx,
               size_t ctx_len)
{
	assert(sha != NULL && (ctx != NULL || ctx_len == 0));
	unsigned int len = 0;
	pthread_once(&sha256_once, sha256_fetch);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md != NULL && EVP_DigestInit_ex(md, sha256_md, NULL) == 1 &&
	          EVP_DigestUpdate(md, KEY_LABEL, sizeof(KEY_LABEL)) == 1 &&
	          EVP_DigestUpdate(md, sha, 32) == 1 &&
	          (ctx_len == 0 || EVP_DigestUpdate(md, ctx, ctx_len) == 1) &&
	          EVP_DigestFinal_ex(md, out, &len) == 1 && len == CACHE_KEY_LEN;
	EVP_MD_CTX_free(md);
	if (!ok)
		memset(out, 0, CACHE_KEY_LEN);
	return ok;
}

/*
 * Copies the string at src (at most srcmax bytes, up to a NUL) to dst of
 * dsize bytes, NUL-terminated. What does not fit is cut before the character
 * it would split, so valid UTF-8 stays valid.
 */
static void copy_str(char *dst, size_t dsize, const char *src, size_t srcmax)
{
	size_t n = src == NULL ? 0 : strnlen(src, srcmax);
	if (n >= dsize) {
		n = dsize - 1;
		/* src[n] is the first byte left out: a continuation byte means
		 * that its character started within the bytes kept. */
		for (int i = 0; i < 3 && n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80; i++)
			n--;
		if (((unsigned char)src[n] & 0xc0) == 0x80)
			n = dsize - 1; /* not UTF-8 after all: a plain cut */
	}
	memcpy(dst, src == NULL ? "" : src, n);
	dst[n] = '\0';
}

void cache_verdict_set(struct cache_verdict *v, uint8_t kind, bool is_threat, const char *module,
                       const char *reason)
{
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	v->is_threat = is_threat;
	copy_str(v->module, sizeof(v->module), module, SIZE_MAX);
	copy_str(v->reason, sizeof(v->reason), reason, SIZE_MAX);
}

/* ---------------------------------------------------------------- the cache */

static uint32_t load32(const unsigned char *p)
{
	uint32_t x;
	memcpy(&x, p, sizeof(x));
	return x;
}

static struct cache_stripe *stripe_of(const struct cache *c, const unsigned char *key)
{
	return &c->stripes[load32(key + 4) & (c->nstripes - 1)];
}

/* The bucket of key in s: a multiply-shift maps 32 uniform bits onto 0..capacity-1. */
static uint32_t *bucket_of(struct cache_stripe *s, const unsigned char *key)
{
	return &s->buckets[((uint64_t)load32(key) * s->capacity) >> 32];
}

static struct cache_entry *entry(struct cache_stripe *s, uint32_t i)
{
	return &s->entries[i - 1];
}

size_t cache_entry_bytes(void)
{
	return sizeof(struct cache_entry) + sizeof(uint32_t);
}

struct cache *cache_new(size_t memory_bytes, uint64_t ttl_ms)
{
	struct cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->magic = CACHE_MAGIC;
	c->ttl_ms = ttl_ms;
	size_t total = memory_bytes / cache_entry_bytes();
	unsigned n = cache_test_stripes;
	if (n == 0)
		for (n = 1; n < STRIPES_MAX && total / (2 * n) >= STRIPE_MIN_ENTRIES; n *= 2)
			;
	assert(n > 0 && (n & (n - 1)) == 0);
	size_t per = memory_bytes / n / cache_entry_bytes();
	if (per > UINT32_MAX - 1)
		per = UINT32_MAX - 1;
	c->nstripes = n;
	c->capacity = per * n;
	c->stripes = aligned_alloc(_Alignof(struct cache_stripe), n * sizeof(*c->stripes));
	if (c->stripes == NULL) {
		free(c);
		return NULL;
	}
	memset(c->stripes, 0, n * sizeof(*c->stripes));
	for (unsigned i = 0; i < n; i++) {
		struct cache_stripe *s = &c->stripes[i];
		pthread_mutex_init(&s->lock, NULL);
		s->capacity = (uint32_t)per;
		if (per == 0)
			continue;
		s->entries = malloc(per * sizeof(*s->entries));
		s->buckets = calloc(per, sizeof(*s->buckets));
		if (s->entries == NULL || s->buckets == NULL) {
			c->nstripes = i + 1;
			cache_free(c);
			return NULL;
		}
	}
	return c;
}

/* Returns the entry of key in s, or NIL. */
static uint32_t lookup(struct cache_stripe *s, const unsigned char *key)
{
	uint32_t i = *bucket_of(s, key);
	while (i != NIL && memcmp(entry(s, i)->key, key, CACHE_KEY_LEN) != 0)
		i = entry(s, i)->chain;
	return i;
}

static void lru_unlink(struct cache_stripe *s, uint32_t i)
{
	struct cache_entry *e = entry(s, i);
	if (e->prev != NIL)
		entry(s, e->prev)->next = e->next;
	else
		s->head = e->next;
	if (e->next != NIL)
		entry(s, e->next)->prev = e->prev;
	else
		s->tail = e->prev;
}

static void lru_push_front(struct cache_stripe *s, uint32_t i)
{
	struct cache_entry *e = entry(s, i);
	e->prev = NIL;
	e->next = s->head;
	if (s->head != NIL)
		entry(s, s->head)->prev = i;
	else
		s->tail = i;
	s->head = i;
}

/* Takes entry i out of its bucket and the list; it is then unused, not free. */
static void detach(struct cache_stripe *s, uint32_t i)
{
	uint32_t *p = bucket_of(s, entry(s, i)->key);
	while (*p != i)
		p = &entry(s, *p)->chain;
	*p = entry(s, i)->chain;
	lru_unlink(s, i);
	s->count--;
}

static bool expired(const struct cache_entry *e, uint64_t now_ms)
{
	return now_ms >= e->expires;
}

bool cache_get(struct cache *c, const unsigned char key[CACHE_KEY_LEN], uint64_t now_ms,
               struct cache_verdict *out)
{
	assert(c->magic == CACHE_MAGIC);
	struct cache_stripe *s = stripe_of(c, key);
	bool hit = false;
	pthread_mutex_lock(&s->lock);
	uint32_t i = s->capacity == 0 ? NIL : lookup(s, key);
	if (i != NIL && expired(entry(s, i), now_ms)) {
		detach(s, i);
		entry(s, i)->chain = s->free_list;
		s->free_list = i;
		s->expired++;
	} else if (i != NIL) {
		if (s->head != i) {
			lru_unlink(s, i);
			lru_push_front(s, i);
		}
		*out = entry(s, i)->v;
		hit = true;
	}
	if (hit)
		s->hits++;
	else
		s->misses++;
	pthread_mutex_unlock(&s->lock);
	return hit;
}

void cache_put(struct cache *c, const unsigned char key[CACHE_KEY_LEN],
               const struct cache_verdict *v, uint64_t now_ms)
{
	assert(c->magic == CACHE_MAGIC);
	if (v->kind != CACHE_PASS && v->kind != CACHE_BLOCK)
		return; /* errors, timeouts and limits are judged again next time */
	struct cache_verdict copy;
	memset(&copy, 0, sizeof(copy));
	copy.kind = v->kind;
	copy.is_threat = v->is_threat;
	copy_str(copy.module, sizeof(copy.module), v->module, sizeof(v->module));
	copy_str(copy.reason, sizeof(copy.reason), v->reason, sizeof(v->reason));
	uint64_t expires =
	        c->ttl_ms == 0 || now_ms > UINT64_MAX - c->ttl_ms ? UINT64_MAX : now_ms + c->ttl_ms;

	struct cache_stripe *s = stripe_of(c, key);
	if (s->capacity == 0)
		return;
	pthread_mutex_lock(&s->lock);
	uint32_t i = lookup(s, key);
	if (i != NIL) {
		if (s->head != i) {
			lru_unlink(s, i);
			lru_push_front(s, i);
		}
	} else {
		if (s->free_list != NIL) {
			i = s->free_list;
			s->free_list = entry(s, i)->chain;
		} else if (s->used < s->capacity) {
			i = ++s->used;
		} else {
			i = s->tail;
			if (expired(entry(s, i), now_ms))
				s->expired++;
			else
				s->evictions++;
			detach(s, i);
		}
		struct cache_entry *e = entry(s, i);
		memcpy(e->key, key, CACHE_KEY_LEN);
		uint32_t *b = bucket_of(s, key);
		e->chain = *b;
		*b = i;
		lru_push_front(s, i);
		s->count++;
	}
	entry(s, i)->expires = expires;
	entry(s, i)->v = copy;
	pthread_mutex_unlock(&s->lock);
}

void cache_clear(struct cache *c)
{
	assert(c->magic == CACHE_MAGIC);
	for (unsigned k = 0; k < c->nstripes; k++) {
		struct cache_stripe *s = &c->stripes[k];
		pthread_mutex_lock(&s->lock);
		if (s->buckets != NULL)
			memset(s->buckets, 0, s->capacity * sizeof(*s->buckets));
		s->used = s->free_list = s->head = s->tail = s->count = NIL;
		pthread_mutex_unlock(&s->lock);
	}
}

void cache_stats(const struct cache *c, struct cache_stats *st)
{
	assert(c->magic == CACHE_MAGIC);
	memset(st, 0, sizeof(*st));
	for (unsigned k = 0; k < c->nstripes; k++) {
		/* The lock is the only thing a const cache changes. */
		struct cache_stripe *s = (struct cache_stripe *)&c->stripes[k];
		pthread_mutex_lock(&s->lock);
		st->hits += s->hits;
		st->misses += s->misses;
		st->evictions += s->evictions;
		st->expired += s->expired;
		st->entries += s->count;
		pthread_mutex_unlock(&s->lock);
	}
	st->bytes = st->entries * cache_entry_bytes();
}

size_t cache_capacity(const struct cache *c)
{
	assert(c->magic == CACHE_MAGIC);
	return c->capacity;
}

void cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	assert(c->magic == CACHE_MAGIC);
	for (unsigned k = 0; k < c->nstripes; k++) {
		pthread_mutex_destroy(&c->stripes[k].lock);
		free(c->stripes[k].entries);
		free(c->stripes[k].buckets);
	}
	free(c->stripes);
	c->magic = 0;
	free(c);
}
