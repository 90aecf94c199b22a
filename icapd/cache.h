/*
 * cache: the in-memory verdict cache. It remembers, for a while, what the
 * chain of a service decided about a body, so that the same object is not
 * scanned twice under the same signatures and policy. A key is the SHA-256
 * of the body hashed together with a context (the service's identity or
 * ISTag, and the headers that change how the body is read): a new signature
 * set or policy changes the identity, so it can never be answered from a
 * stale verdict. Only pass and block verdicts are kept; a scan error, a
 * timeout or a limit outcome is never cached, least of all as clean.
 *
 * Memory is bounded: every entry costs the same number of bytes (the entry
 * and its share of the hash table), and the least recently used entries go
 * first when the bound is reached. Entries also expire after a time to live.
 * All calls but cache_free may be made from any number of threads at once.
 */
#ifndef ICAPD_CACHE_H
#define ICAPD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_KEY_LEN 32  /* bytes of a key, a SHA-256 */
#define CACHE_CTX_MAX 512 /* what a context should stay under (never truncated) */

struct cache;

/* Values of cache_verdict.kind; the same numbers as VERDICT_PASS and
 * VERDICT_BLOCK in module.h. Anything else is refused by cache_put. */
#define CACHE_PASS  0
#define CACHE_BLOCK 1

/* What is kept per key, by copy. module and reason are NUL-terminated. */
struct cache_verdict {
	uint8_t kind;     /* CACHE_PASS or CACHE_BLOCK */
	bool is_threat;   /* a block for a threat (X-Infection-Found), not a policy */
	char module[16];  /* name of the module that decided */
	char reason[128]; /* threat name or category, for the block page and the log */
};

struct cache_stats {
	uint64_t hits;      /* cache_get calls that found a live entry */
	uint64_t misses;    /* cache_get calls that did not (expired ones included) */
	uint64_t evictions; /* live entries dropped to make room */
	uint64_t expired;   /* entries dropped because their time to live had passed */
	uint64_t entries;   /* entries held now (some may have expired, unseen) */
	uint64_t bytes;     /* what they cost: entries * cache_entry_bytes() */
};

/*
 * Derives the key of a body: SHA-256 over a version label, the body's
 * 32-byte SHA-256 sha, and ctx_len bytes of ctx (ctx may be NULL when
 * ctx_len is 0). Every byte of ctx counts, however long, so that two
 * contexts never share a key. Writes the key to out and returns true;
 * returns false (out zeroed) only if OpenSSL fails (no memory): the object
 * must then neither be looked up nor stored.
 */
bool cache_key(unsigned char out[CACHE_KEY_LEN], const unsigned char sha[32], const void *ctx,
               size_t ctx_len);

/*
 * Fills *v: kind and is_threat as given, module and reason copied from the
 * NUL-terminated strings (NULL reads as ""), truncated to fit on a UTF-8
 * character boundary. A convenience for callers; cache_put truncates in the
 * same way whatever it is given.
 */
void cache_verdict_set(struct cache_verdict *v, uint8_t kind, bool is_threat, const char *module,
                       const char *reason);

/*
 * Returns an empty cache that holds at most memory_bytes of entries (0: a
 * cache that stores nothing, every lookup a miss), each for ttl_ms
 * milliseconds after it was stored (0: entries do not expire, they only
 * leave when evicted or cleared). Memory is reserved up front but touched
 * only as entries arrive. Returns NULL if it cannot be allocated.
 */
struct cache *cache_new(size_t memory_bytes, uint64_t ttl_ms);

/*
 * Looks key up at time now_ms (any monotonic clock in milliseconds, the
 * same for every call on this cache). On a hit, copies the verdict to *out,
 * marks the entry as the most recently used and returns true. Returns false
 * on a miss, leaving *out alone; an entry whose time to live has passed is
 * a miss, and is removed.
 */
bool cache_get(struct cache *c, const unsigned char key[CACHE_KEY_LEN], uint64_t now_ms,
               struct cache_verdict *out);

/*
 * Stores a copy of *v under key at time now_ms, as the most recently used
 * entry, replacing what the key held (its time to live starts again). When
 * the cache is full, the least recently used entry leaves first. A verdict
 * whose kind is not CACHE_PASS or CACHE_BLOCK (a scan error, a timeout, a
 * limit) is refused: nothing changes. Strings of *v that fill their array
 * without a NUL are truncated as cache_verdict_set does.
 */
void cache_put(struct cache *c, const unsigned char key[CACHE_KEY_LEN],
               const struct cache_verdict *v, uint64_t now_ms);

/* Removes every entry; the counters of cache_stats (hits, ...) stay. */
void cache_clear(struct cache *c);

/* Copies the counters to *st (each stripe's at a moment of its own). */
void cache_stats(const struct cache *c, struct cache_stats *st);

/* Entries the cache can hold at most. */
size_t cache_capacity(const struct cache *c);

/* The bytes one entry costs: the entry and its share of the hash table. */
size_t cache_entry_bytes(void);

/* Frees the cache; no other call may be running on it. NULL is allowed. */
void cache_free(struct cache *c);

/* For tests only: the number of lock stripes of caches made from now on, a
 * power of two (0: chosen from the capacity, the default). */
extern unsigned cache_test_stripes;

#endif
