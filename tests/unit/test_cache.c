/*
 * Unit tests for cache.c, the verdict cache. Keys are derived the way the
 * server derives them (cache_key over a body's SHA-256 and a context), time
 * is passed explicitly, and the expectations are exact: which entry leaves
 * first under the memory bound, when an entry expires, what every counter of
 * cache_stats reads. Four threads then hammer a small cache on overlapping
 * keys, checking that every hit returns the verdict stored for that key and
 * that the counters add up.
 *
 * With CACHE_BENCH=1 in the environment, a micro-benchmark runs first and
 * prints the cost of cache_get (hits) and cache_put (with evictions) from 1,
 * 2 and 4 threads, for one lock and for striped locks, and of cache_key.
 * Build it with -O2 and no sanitizer for numbers worth quoting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

/* The SHA-256 of a body that is the decimal text of i. */
static void body_sha(unsigned i, unsigned char sha[32])
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%u", i);
	assert_int_equal(EVP_Digest(text, (size_t)n, sha, NULL, EVP_sha256(), NULL), 1);
}

/* The key of body i under the service context "istag-1". */
static void key_of(unsigned i, unsigned char key[CACHE_KEY_LEN])
{
	unsigned char sha[32];
	body_sha(i, sha);
	assert_true(cache_key(key, sha, "istag-1", 7));
}

/* What the tests store under body i. */
static void verdict_of(unsigned i, struct cache_verdict *v)
{
	char module[16], reason[64];
	snprintf(module, sizeof(module), "mod%u", i % 7);
	snprintf(reason, sizeof(reason), "reason for %u", i);
	cache_verdict_set(v, i % 2 ? CACHE_BLOCK : CACHE_PASS, i % 4 == 1, module, reason);
}

static void put_i(struct cache *c, unsigned i, uint64_t now)
{
	unsigned char key[CACHE_KEY_LEN];
	struct cache_verdict v;
	key_of(i, key);
	verdict_of(i, &v);
	cache_put(c, key, &v, now);
}

/* True if body i is a hit at now, and then its verdict is the one stored. */
static bool get_i(struct cache *c, unsigned i, uint64_t now)
{
	unsigned char key[CACHE_KEY_LEN];
	struct cache_verdict got, want;
	key_of(i, key);
	memset(&got, 0xa5, sizeof(got));
	if (!cache_get(c, key, now, &got))
		return false;
	verdict_of(i, &want);
	assert_memory_equal(&got, &want, sizeof(got));
	return true;
}

static struct cache_stats stats_of(const struct cache *c)
{
	struct cache_stats st;
	cache_stats(c, &st);
	return st;
}

/* A cache of exactly n entries (one stripe: small caches have one). */
static struct cache *cache_of(size_t n, uint64_t ttl)
{
	struct cache *c = cache_new(n * cache_entry_bytes(), ttl);
	assert_non_null(c);
	assert_int_equal(cache_capacity(c), n);
	return c;
}

/* ---------------------------------------------------------------- keys */

static void test_key_derivation(void **state)
{
	(void)state;
	unsigned char sha[32], sha2[32], k1[32], k2[32];
	body_sha(1, sha);
	body_sha(2, sha2);

	/* Pinned: servers sharing verdicts (the Redis tier) must agree on keys,
	 * so a change of derivation is a deliberate one. This is SHA-256 over
	 * "icapd verdict cache key 1" with its NUL, SHA-256("1"), "istag-1". */
	static const unsigned char want[32] = {
	        0x5c, 0xe8, 0x5f, 0x9a, 0xbc, 0x76, 0xf5, 0xa8, 0x34, 0x03, 0x23,
	        0x01, 0x74, 0xcb, 0xb1, 0x5f, 0xde, 0x1d, 0x52, 0x0d, 0x9f, 0xa1,
	        0x21, 0x40, 0x83, 0x86, 0xb1, 0xc7, 0x42, 0x15, 0x5b, 0xa0,
	};
	assert_true(cache_key(k1, sha, "istag-1", 7));
	assert_memory_equal(k1, want, 32);

	assert_true(cache_key(k2, sha, "istag-1", 7));
	assert_memory_equal(k1, k2, 32); /* same inputs, same key */
	assert_true(cache_key(k2, sha, "istag-2", 7));
	assert_memory_not_equal(k1, k2, 32); /* another service identity */
	assert_true(cache_key(k2, sha2, "istag-1", 7));
	assert_memory_not_equal(k1, k2, 32); /* another body */
	assert_true(cache_key(k2, sha, "istag-1", 6));
	assert_memory_not_equal(k1, k2, 32); /* a prefix of the context */
	assert_memory_not_equal(k1, sha, 32);

	/* An empty context, with or without a pointer. */
	assert_true(cache_key(k1, sha, NULL, 0));
	assert_true(cache_key(k2, sha, "", 0));
	assert_memory_equal(k1, k2, 32);

	/* Embedded NULs separate header values, and count. */
	assert_true(cache_key(k1, sha, "text/html\0gzip", 14));
	assert_true(cache_key(k2, sha, "text/html\0br", 12));
	assert_memory_not_equal(k1, k2, 32);

	/* Past CACHE_CTX_MAX, nothing is cut: the last byte still matters. */
	char big[2 * CACHE_CTX_MAX];
	memset(big, 'x', sizeof(big));
	assert_true(cache_key(k1, sha, big, sizeof(big)));
	big[sizeof(big) - 1] = 'y';
	assert_true(cache_key(k2, sha, big, sizeof(big)));
	assert_memory_not_equal(k1, k2, 32);
}

/* A new ISTag misses; the verdict under the old one stays for its service. */
static void test_context_change(void **state)
{
	(void)state;
	struct cache *c = cache_of(16, 0);
	unsigned char sha[32], old_key[32], new_key[32];
	struct cache_verdict v, got;
	body_sha(42, sha);
	assert_true(cache_key(old_key, sha, "sigs-100\0text/html", 18));
	assert_true(cache_key(new_key, sha, "sigs-101\0text/html", 18));
	cache_verdict_set(&v, CACHE_PASS, false, "clamav", "");
	cache_put(c, old_key, &v, 0);
	assert_false(cache_get(c, new_key, 1, &got));
	assert_true(cache_get(c, old_key, 1, &got));
	cache_free(c);
}

/* ---------------------------------------------------------------- values */

static void test_round_trip(void **state)
{
	(void)state;
	struct cache *c = cache_of(16, 0);
	unsigned char key[32];
	struct cache_verdict v, got;

	for (unsigned i = 0; i < 8; i++)
		put_i(c, i, 0);
	for (unsigned i = 0; i < 8; i++)
		assert_true(get_i(c, i, 1));

	/* A miss leaves *out alone. */
	key_of(100, key);
	memset(&got, 0x5a, sizeof(got));
	struct cache_verdict before = got;
	assert_false(cache_get(c, key, 1, &got));
	assert_memory_equal(&got, &before, sizeof(got));

	/* A second put replaces the verdict. */
	key_of(3, key);
	cache_verdict_set(&v, CACHE_BLOCK, true, "clamav", "Eicar-Test-Signature");
	cache_put(c, key, &v, 2);
	assert_true(cache_get(c, key, 3, &got));
	assert_int_equal(got.kind, CACHE_BLOCK);
	assert_true(got.is_threat);
	assert_string_equal(got.module, "clamav");
	assert_string_equal(got.reason, "Eicar-Test-Signature");
	assert_int_equal(stats_of(c).entries, 8);
	cache_free(c);
}

static void test_error_refused(void **state)
{
	(void)state;
	struct cache *c = cache_of(16, 0);
	unsigned char key[32];
	struct cache_verdict v, got;

	key_of(1, key);
	for (unsigned kind = 2; kind < 256; kind++) {
		cache_verdict_set(&v, (uint8_t)kind, false, "clamav", "scan timeout");
		cache_put(c, key, &v, 0);
	}
	assert_false(cache_get(c, key, 0, &got));
	assert_int_equal(stats_of(c).entries, 0);

	/* Nor does an error replace a verdict that is there. */
	put_i(c, 2, 0);
	key_of(2, key);
	cache_verdict_set(&v, 2, false, "clamav", "limit");
	cache_put(c, key, &v, 0);
	assert_true(get_i(c, 2, 0));
	cache_free(c);
}

/* Strings are cut to fit, NUL-terminated, never inside a UTF-8 character. */
static void test_truncation(void **state)
{
	(void)state;
	struct cache *c = cache_of(4, 0);
	struct cache_verdict v, got;
	unsigned char key[32];
	key_of(1, key);

	char reason[400] = "";
	for (int i = 0; i < 60; i++)
		strcat(reason, "秘密"); /* 3 bytes a character */
	cache_verdict_set(&v, CACHE_BLOCK, false, "a-module-name-far-too-long", reason);
	assert_string_equal(v.module, "a-module-name-f");
	assert_int_equal(strlen(v.reason), 126); /* 42 characters; 127 would split one */
	assert_memory_equal(v.reason, reason, 126);

	cache_verdict_set(&v, CACHE_PASS, false, NULL, NULL);
	assert_string_equal(v.module, "");
	assert_string_equal(v.reason, "");

	/* Arrays without a NUL, and not UTF-8: a plain cut at the end. */
	memset(&v, 0x80, sizeof(v));
	v.kind = CACHE_PASS;
	v.is_threat = false;
	cache_put(c, key, &v, 0);
	assert_true(cache_get(c, key, 0, &got));
	assert_int_equal(strlen(got.module), sizeof(got.module) - 1);
	assert_int_equal(strlen(got.reason), sizeof(got.reason) - 1);
	cache_free(c);
}

/* ---------------------------------------------------------------- time, memory */

static void test_ttl(void **state)
{
	(void)state;
	struct cache *c = cache_of(16, 1000);
	put_i(c, 1, 5000);
	assert_true(get_i(c, 1, 5999));
	assert_false(get_i(c, 1, 6000));
	struct cache_stats st = stats_of(c);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 0);
	assert_false(get_i(c, 1, 6001)); /* gone, not expired again */
	assert_int_equal(stats_of(c).expired, 1);

	/* A put starts the time to live again; a get does not. */
	put_i(c, 2, 0);
	put_i(c, 2, 900);
	assert_true(get_i(c, 2, 1899));
	assert_false(get_i(c, 2, 1900));

	/* Near the end of the clock, the deadline saturates. */
	put_i(c, 3, UINT64_MAX - 10);
	assert_true(get_i(c, 3, UINT64_MAX - 1));
	cache_free(c);

	/* ttl 0: no expiry at all. */
	c = cache_of(16, 0);
	put_i(c, 1, 0);
	assert_true(get_i(c, 1, UINT64_MAX - 1));
	cache_free(c);
}

/* The least recently used goes first, not the least recently inserted. */
static void test_lru_order(void **state)
{
	(void)state;
	struct cache *c = cache_of(8, 0);
	for (unsigned i = 0; i < 8; i++)
		put_i(c, i, 0);       /* oldest first: 0 1 2 3 4 5 6 7 */
	assert_true(get_i(c, 0, 1));  /* 1 2 3 4 5 6 7 0 */
	put_i(c, 8, 2);               /* 1 leaves: 2 3 4 5 6 7 0 8 */
	put_i(c, 3, 3);               /* a put refreshes too: 2 4 5 6 7 0 8 3 */
	put_i(c, 9, 4);               /* 2 leaves */
	put_i(c, 10, 5);              /* 4 leaves: 5 6 7 0 8 3 9 10 */
	assert_false(get_i(c, 1, 6)); /* (misses change no order) */
	assert_false(get_i(c, 2, 6));
	assert_false(get_i(c, 4, 6));
	static const unsigned kept[] = {5, 6, 7, 0, 8, 3, 9, 10};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_true(get_i(c, kept[i], 7));
	struct cache_stats st = stats_of(c);
	assert_int_equal(st.evictions, 3);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.entries, 8);
	/* The gets above went in old-to-new order, so it is unchanged. */
	put_i(c, 11, 8);
	assert_false(get_i(c, 5, 9));
	assert_true(get_i(c, 6, 9));
	cache_free(c);
}

/* An expired entry at the back leaves as expired, not as an eviction. */
static void test_expired_at_tail(void **state)
{
	(void)state;
	struct cache *c = cache_of(2, 10);
	put_i(c, 1, 0);  /* expires at 10 */
	put_i(c, 2, 5);  /* expires at 15 */
	put_i(c, 3, 12); /* 1 leaves, expired */
	put_i(c, 4, 13); /* 2 leaves, evicted */
	struct cache_stats st = stats_of(c);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.evictions, 1);
	assert_true(get_i(c, 3, 14));
	assert_true(get_i(c, 4, 14));
	cache_free(c);
}

/* Whatever the bound, bytes stay under it, and a full cache is full. */
static void test_memory_bound(void **state)
{
	(void)state;
	size_t e = cache_entry_bytes();
	const size_t sizes[] = {0, 1, e - 1, e, e + 1, 2 * e - 1, 10 * e + 7, 4 << 20};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct cache *c = cache_new(sizes[k], 0);
		assert_non_null(c);
		size_t cap = cache_capacity(c);
		assert_true(cap <= sizes[k] / e);
		if (sizes[k] < (1 << 20))
			assert_int_equal(cap, sizes[k] / e); /* one stripe: every entry that fits */
		else
			assert_true(cap > sizes[k] / e - 16); /* a stripe's rounding each */
		for (unsigned i = 0; i < 3 * cap + 5; i++) {
			put_i(c, i, i);
			struct cache_stats st = stats_of(c);
			assert_true(st.bytes <= sizes[k]);
			assert_true(st.entries <= cap);
			assert_int_equal(st.bytes, st.entries * e);
		}
		struct cache_stats st = stats_of(c);
		assert_int_equal(st.entries, cap);
		assert_int_equal(st.evictions, 2 * cap + 5 - (cap == 0 ? 5 : 0));
		cache_free(c);
	}
}

static void test_stats(void **state)
{
	(void)state;
	struct cache *c = cache_of(2, 100);
	struct cache_stats st = stats_of(c);
	assert_int_equal(st.hits + st.misses + st.evictions + st.expired + st.entries + st.bytes,
	                 0);

	put_i(c, 1, 0);
	put_i(c, 2, 0);
	assert_true(get_i(c, 1, 1));    /* hit */
	assert_false(get_i(c, 3, 1));   /* miss */
	put_i(c, 3, 2);                 /* 2 evicted */
	assert_false(get_i(c, 2, 3));   /* miss */
	assert_false(get_i(c, 1, 100)); /* miss, expired */
	st = stats_of(c);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, cache_entry_bytes());

	/* Clearing empties the cache and keeps the counters. */
	cache_clear(c);
	st = stats_of(c);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_false(get_i(c, 3, 4));
	put_i(c, 4, 5);
	put_i(c, 5, 5);
	put_i(c, 6, 5);
	assert_false(get_i(c, 4, 6));
	assert_true(get_i(c, 5, 6));
	assert_true(get_i(c, 6, 6));
	cache_free(c);
}

static void test_size_zero(void **state)
{
	(void)state;
	const size_t sizes[] = {0, cache_entry_bytes() - 1};
	for (size_t k = 0; k < 2; k++) {
		struct cache *c = cache_new(sizes[k], 1000);
		assert_non_null(c);
		assert_int_equal(cache_capacity(c), 0);
		put_i(c, 1, 0);
		assert_false(get_i(c, 1, 0));
		cache_clear(c);
		struct cache_stats st = stats_of(c);
		assert_int_equal(st.misses, 1);
		assert_int_equal(st.hits + st.entries + st.bytes + st.evictions, 0);
		cache_free(c);
	}
	cache_free(NULL);
}

/* Many stripes (a large cache): the same behaviour, key by key. */
static void test_striped(void **state)
{
	(void)state;
	struct cache *c = cache_new(64 << 20, 0);
	assert_non_null(c);
	size_t cap = cache_capacity(c);
	for (unsigned i = 0; i < 1000; i++)
		put_i(c, i, 0);
	for (unsigned i = 0; i < 1000; i++)
		assert_true(get_i(c, i, 1));
	assert_false(get_i(c, 1000, 1));
	struct cache_stats st = stats_of(c);
	assert_int_equal(st.entries, 1000);
	assert_int_equal(st.hits, 1000);
	assert_int_equal(st.misses, 1);
	assert_true(cap * cache_entry_bytes() <= (64 << 20));
	cache_free(c);
}

/* ---------------------------------------------------------------- threads */

#define CONC_KEYS 64

struct conc {
	struct cache *c;
	const unsigned char (*keys)[CACHE_KEY_LEN];
	const struct cache_verdict *want;
	atomic_uint_fast64_t *clock; /* shared: each operation advances it */
	double seconds;
	unsigned seed;
	/* results */
	uint64_t gets, hits, puts, wrong;
};

static double now_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned rnd(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void *conc_run(void *arg)
{
	struct conc *t = arg;
	double end = now_s(CLOCK_MONOTONIC) + t->seconds;
	for (uint64_t n = 0;; n++) {
		if ((n & 1023) == 0 && now_s(CLOCK_MONOTONIC) >= end)
			break;
		unsigned r = rnd(&t->seed), k = r % CONC_KEYS;
		uint64_t now = atomic_fetch_add(t->clock, 1) / 16;
		if ((r >> 8) % 3 == 0) {
			cache_put(t->c, t->keys[k], &t->want[k], now);
			t->puts++;
		} else {
			struct cache_verdict got;
			t->gets++;
			if (cache_get(t->c, t->keys[k], now, &got)) {
				t->hits++;
				if (memcmp(&got, &t->want[k], sizeof(got)) != 0)
					t->wrong++;
			}
		}
	}
	return NULL;
}

/* Four threads on CONC_KEYS keys in a cache of half as many entries. */
static void run_concurrent(unsigned stripes, double seconds)
{
	cache_test_stripes = stripes;
	size_t memory = CONC_KEYS / 2 * cache_entry_bytes() + 7;
	struct cache *c = cache_new(memory, 5);
	cache_test_stripes = 0;
	assert_non_null(c);
	unsigned char keys[CONC_KEYS][CACHE_KEY_LEN];
	struct cache_verdict want[CONC_KEYS];
	for (unsigned i = 0; i < CONC_KEYS; i++) {
		key_of(i, keys[i]);
		verdict_of(i, &want[i]);
	}
	atomic_uint_fast64_t clock = 0;
	struct conc t[4];
	pthread_t tid[4];
	for (unsigned i = 0; i < 4; i++) {
		t[i] = (struct conc){.c = c,
		                     .keys = (const unsigned char(*)[CACHE_KEY_LEN])keys,
		                     .want = want,
		                     .clock = &clock,
		                     .seconds = seconds,
		                     .seed = 2463534242u + i * 7919u};
		assert_int_equal(pthread_create(&tid[i], NULL, conc_run, &t[i]), 0);
	}
	uint64_t gets = 0, hits = 0, puts = 0;
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(t[i].wrong, 0);
		gets += t[i].gets;
		hits += t[i].hits;
		puts += t[i].puts;
	}
	struct cache_stats st = stats_of(c);
	assert_int_equal(st.hits, hits);
	assert_int_equal(st.misses, gets - hits);
	assert_true(hits > 0 && hits < gets && puts > 0);
	assert_true(st.evictions > 0);
	assert_true(st.expired > 0);
	assert_true(st.entries <= cache_capacity(c));
	assert_true(st.bytes <= memory);
	/* What is left is what was stored. */
	uint64_t now = atomic_load(&clock) / 16, left = 0;
	for (unsigned i = 0; i < CONC_KEYS; i++)
		left += get_i(c, i, now);
	assert_true(left <= st.entries);
	cache_free(c);
}

static void test_concurrent(void **state)
{
	(void)state;
	run_concurrent(1, 0.35);
}

static void test_concurrent_striped(void **state)
{
	(void)state;
	run_concurrent(4, 0.15);
}

/* ---------------------------------------------------------------- benchmark */

struct bench {
	struct cache *c;
	const unsigned char (*keys)[CACHE_KEY_LEN];
	unsigned nkeys; /* keys picked from 0..nkeys-1 */
	bool put;
	uint64_t ops, hits;
	unsigned seed;
};

static void *bench_run(void *arg)
{
	struct bench *b = arg;
	struct cache_verdict v;
	cache_verdict_set(&v, CACHE_PASS, false, "clamav", "");
	/* Locals: the bench structs of the threads share cache lines. */
	unsigned seed = b->seed;
	uint64_t hits = 0;
	for (uint64_t n = 0; n < b->ops; n++) {
		const unsigned char *key = b->keys[rnd(&seed) % b->nkeys];
		if (b->put)
			cache_put(b->c, key, &v, n);
		else
			hits += cache_get(b->c, key, n, &v);
	}
	b->hits = hits;
	return NULL;
}

/* Stores keys 0..n-1, the hot set that the gets look up. */
static void bench_fill(struct cache *c, unsigned char (*keys)[CACHE_KEY_LEN], unsigned n)
{
	struct cache_verdict v;
	cache_verdict_set(&v, CACHE_PASS, false, "clamav", "");
	for (unsigned i = 0; i < n; i++)
		cache_put(c, keys[i], &v, 0);
}

/* Runs ops operations on each of nthreads threads, three times; prints the
 * best round's ns per operation in CPU time (what one costs, waits for a
 * lock included) and in wall time over all threads (the inverse of the
 * throughput). The best of three filters out noise from other processes. */
static void bench_one(const char *what, struct cache *c, const unsigned char (*keys)[CACHE_KEY_LEN],
                      unsigned nkeys, bool put, unsigned nthreads, uint64_t ops)
{
	double best_cpu = 1e30, best_wall = 1e30, total = (double)ops * nthreads;
	uint64_t hits = 0;
	for (int round = 0; round < 3; round++) {
		struct bench b[8];
		pthread_t tid[8];
		double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
		for (unsigned i = 0; i < nthreads; i++) {
			b[i] = (struct bench){.c = c,
			                      .keys = keys,
			                      .nkeys = nkeys,
			                      .put = put,
			                      .ops = ops,
			                      .seed = 88172645u + i * 104729u + round};
			pthread_create(&tid[i], NULL, bench_run, &b[i]);
		}
		hits = 0;
		for (unsigned i = 0; i < nthreads; i++) {
			pthread_join(tid[i], NULL);
			hits += b[i].hits;
		}
		double wall = now_s(CLOCK_MONOTONIC) - w0;
		double cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
		best_cpu = cpu < best_cpu ? cpu : best_cpu;
		best_wall = wall < best_wall ? wall : best_wall;
	}
	printf("bench: %-28s %u thread%s  %6.1f ns/op cpu  %6.1f ns/op wall  %5.1f Mop/s", what,
	       nthreads, nthreads > 1 ? "s" : " ", best_cpu * 1e9 / total, best_wall * 1e9 / total,
	       total / best_wall / 1e6);
	if (!put)
		printf("  (%.1f%% hits)", 100.0 * (double)hits / total);
	printf("\n");
}

static void bench(void)
{
	const uint64_t ops = 1000000;
	const size_t memory = 64 << 20;
	size_t cap = memory / cache_entry_bytes();
	unsigned nkeys = (unsigned)(3 * cap);
	unsigned char(*keys)[CACHE_KEY_LEN] = malloc((size_t)nkeys * CACHE_KEY_LEN);
	if (keys == NULL)
		return;

	double t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	char ctx[64];
	memset(ctx, 'c', sizeof(ctx));
	for (unsigned i = 0; i < nkeys; i++) {
		unsigned char sha[32];
		memset(sha, 0, sizeof(sha));
		memcpy(sha, &i, sizeof(i));
		cache_key(keys[i], sha, ctx, sizeof(ctx));
	}
	printf("bench: cache_key (64-byte context)  %.1f ns/key\n",
	       (now_s(CLOCK_PROCESS_CPUTIME_ID) - t0) * 1e9 / nkeys);

	const unsigned modes[] = {1, 0}; /* one lock, then the default stripes */
	for (size_t m = 0; m < 2; m++) {
		cache_test_stripes = modes[m];
		struct cache *c = cache_new(memory, 0);
		cache_test_stripes = 0;
		if (c == NULL)
			break;
		char what[64];
		unsigned hot = (unsigned)(cache_capacity(c) / 2);
		bench_fill(c, keys, hot);
		printf("bench: %s, %zu entries of %zu bytes in %zu MiB\n",
		       modes[m] == 1 ? "one lock" : "striped locks (default)", cache_capacity(c),
		       cache_entry_bytes(), memory >> 20);
		for (unsigned th = 1; th <= 4; th *= 2) {
			snprintf(what, sizeof(what), "get, hit (%u keys)", hot);
			bench_one(what, c, (const unsigned char(*)[CACHE_KEY_LEN])keys, hot, false,
			          th, ops);
			snprintf(what, sizeof(what), "get, hit (1000 keys)");
			bench_one(what, c, (const unsigned char(*)[CACHE_KEY_LEN])keys, 1000, false,
			          th, ops);
			snprintf(what, sizeof(what), "put, mostly evicting");
			bench_one(what, c, (const unsigned char(*)[CACHE_KEY_LEN])keys, nkeys, true,
			          th, ops);
			/* Back to the hot set for the next round. */
			bench_fill(c, keys, hot);
		}
		cache_free(c);
	}
	free(keys);
}

int main(void)
{
	const char *b = getenv("CACHE_BENCH");
	if (b != NULL && strcmp(b, "1") == 0)
		bench();
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_derivation), cmocka_unit_test(test_context_change),
	        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_error_refused),
	        cmocka_unit_test(test_truncation),     cmocka_unit_test(test_ttl),
	        cmocka_unit_test(test_lru_order),      cmocka_unit_test(test_expired_at_tail),
	        cmocka_unit_test(test_memory_bound),   cmocka_unit_test(test_stats),
	        cmocka_unit_test(test_size_zero),      cmocka_unit_test(test_striped),
	        cmocka_unit_test(test_concurrent),     cmocka_unit_test(test_concurrent_striped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
