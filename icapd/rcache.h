/*
 * rcache: the shared second tier of the verdict cache, in Redis. Several
 * icapd servers that share one Redis learn from each other's scans: a miss
 * in the local cache asks Redis before scanning, and a new verdict is
 * written to both. Everything runs on the event loop (one connection, a
 * bufferevent, plain or TLS, speaking RESP2 through resp.h) and nothing
 * waits on Redis for long: a lookup that takes more than timeout_ms, meets
 * an error, or finds Redis down is a miss, and the transaction scans as if
 * there were no second tier. Every call must be made on the loop's thread.
 *
 * Whoever can write to Redis must not be able to whitelist malware: each
 * value carries an HMAC-SHA-256, under a secret the icapd servers share, of
 * the cache key and the verdict; a value that does not verify (forged,
 * corrupted, or copied from another key) is ignored and counted.
 *
 * Value layout (version 1), stored under prefix + hex(key):
 *
 *   byte 0       version, 0x01
 *   byte 1       kind: 0 pass (CACHE_PASS), 1 block (CACHE_BLOCK)
 *   byte 2       is_threat: 0 or 1
 *   byte 3       m, the length of the module name (0..15)
 *   byte 4       r, the length of the reason (0..127)
 *   5 .. 5+m     module name, no NUL
 *   5+m .. 5+m+r reason, no NUL
 *   then 32      HMAC-SHA-256(secret, key[32] || bytes 0 .. 5+m+r)
 *
 * Anything else (another length, version, kind, an embedded NUL) is ignored
 * like a bad MAC. A reply that is not RESP2, or longer than RESP_MAX_REPLY
 * (a bulk string over RESP_MAX_STRING), drops the connection, as an error.
 *
 * With tls set, the connection is TLS 1.2 or later and the server's
 * certificate is always verified (rcache_tls.h): against tls_ca or the
 * system's CAs, for tls_server_name or else host (an IP address is checked
 * as one). tls_cert and tls_key, together, are a client certificate (for
 * Redis's tls-auth-clients). The files are read once, by rcache_new.
 */
#ifndef ICAPD_RCACHE_H
#define ICAPD_RCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

struct event_base;
struct rcache;
struct rcache_req;

#define RCACHE_SECRET_MIN 16 /* bytes a secret must have at least */

struct rcache_config {
	const char *host;            /* an IP address (a name is resolved, blocking, at connect) */
	int port;                    /* 0: 6379 */
	const char *user;            /* ACL user for AUTH, or NULL (AUTH with the password alone) */
	const char *password;        /* NULL: no AUTH */
	const unsigned char *secret; /* HMAC key, at least RCACHE_SECRET_MIN bytes */
	size_t secret_len;
	const char *prefix;          /* of every Redis key; NULL: "icapd:v1:" */
	unsigned timeout_ms;         /* a lookup slower than this is a miss; 0: 50 */
	unsigned ttl_s;              /* EX of every SET; 0: 3600 */
	unsigned connect_timeout_ms; /* connect (and AUTH) must finish in this; 0: 1000 */
	unsigned retry_min_ms;       /* first reconnect delay, doubled each failure; 0: 1000 */
	unsigned retry_max_ms;       /* longest reconnect delay; 0: 30000 */
	unsigned max_inflight;       /* requests sent and not answered by Redis; 0: 10000 */
	bool tls;                    /* TLS (then the fields below apply) */
	const char *tls_ca;   /* PEM bundle of CAs for the server's certificate; NULL: system's */
	const char *tls_cert; /* client certificate chain, PEM, or NULL */
	const char *tls_key;  /* its private key, PEM; given with tls_cert only */
	const char *tls_server_name; /* SNI and the name verified; NULL: host */
};

struct rcache_stats {
	uint64_t hits;     /* gets answered found */
	uint64_t misses;   /* gets answered not found, for any reason (all below included) */
	uint64_t errors;   /* error replies, lost connections, failed connects, bad replies */
	uint64_t timeouts; /* gets answered not found because Redis took over timeout_ms */
	uint64_t bad_mac;  /* values that did not parse or verify, ignored */
	uint64_t busy;     /* gets answered at once: max_inflight requests were out */
	uint64_t puts;     /* SETs sent */
	uint64_t inflight; /* requests sent and not yet answered by Redis, now */
	bool up;           /* connected (and authenticated), now */
};

/*
 * Returns a second tier on the loop base that starts connecting to Redis at
 * once (and keeps trying, with backoff, while it cannot). The strings and
 * the secret of cfg are copied; the TLS files are read now. Returns NULL
 * (with an error logged) when the configuration is unusable (no host, a
 * secret shorter than RCACHE_SECRET_MIN, a TLS file that cannot be used).
 */
struct rcache *rcache_new(struct event_base *base, const struct rcache_config *cfg);

/*
 * Frees rc and closes its connection. Gets still pending are dropped: their
 * callbacks never fire, so whoever still waits on one must cancel it first
 * or be gone. Must not be called from inside an rcache callback. NULL is
 * allowed.
 */
void rcache_free(struct rcache *rc);

/*
 * Looks key up. cb(arg, found, v) fires exactly once, later, from the loop
 * (never from inside rcache_get): found is true only if Redis held a value
 * for key that verifies, and then *v (valid during the call only) is the
 * verdict; otherwise v is NULL. It fires within about timeout_ms, and on
 * the next turn of the loop when Redis is down or max_inflight requests are
 * out. cb may call rcache_get, rcache_put and rcache_cancel (of other
 * requests), not rcache_free. Returns a handle for rcache_cancel, valid
 * until cb starts or the cancel; never NULL (it aborts if memory runs out).
 */
struct rcache_req *rcache_get(struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                              void (*cb)(void *arg, bool found, const struct cache_verdict *v),
                              void *arg);

/* The caller of the get that returned req went away: cb will not fire.
 * req must not have fired yet; it is invalid afterwards. */
void rcache_cancel(struct rcache_req *req);

/*
 * Stores v under key with a time to live of ttl_s, fire and forget: never
 * blocks, never reports. Only CACHE_PASS and CACHE_BLOCK verdicts are sent;
 * others are refused, as cache_put does. Nothing is sent while Redis is
 * down or max_inflight requests are out.
 */
void rcache_put(struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                const struct cache_verdict *v);

/* Copies the counters and the state of rc to *st. */
void rcache_stats(const struct rcache *rc, struct rcache_stats *st);

#endif
