/*
 * vcache: verdicts by content, on the event loop. In front of the scan
 * threads it answers a body whose verdict is known (the cache, keyed by the
 * body's SHA-256, the service's ISTag and the headers that change how the
 * body is read), and makes identical bodies that arrive at the same time
 * wait for one scan instead of starting their own.
 */
#ifndef ICAPD_VCACHE_H
#define ICAPD_VCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"
#include "module.h"

struct vcache;

struct rcache;

/*
 * A transaction waiting for a verdict on its content: from another one's
 * scan, or from the shared tier. done(arg, v) gives the verdict, or v NULL:
 * nobody has it, scan it yourself, then call vcache_end(key).
 */
struct vcache_waiter {
	struct vcache_waiter *next, *prev;
	void (*done)(void *arg, const struct verdict *v);
	void *arg;
	unsigned char key[32];
};

enum vcache_result {
	VCACHE_HIT,  /* *v holds the verdict */
	VCACHE_ASK,  /* w asked the shared tier; w->done follows */
	VCACHE_WAIT, /* w is queued behind a scan or a lookup in flight; w->done follows */
	VCACHE_SCAN, /* the caller scans, then calls vcache_end(key) */
};

/* rc: the shared tier (Redis), or NULL. The vcache does not own it. */
struct vcache *vcache_new(size_t memory, uint64_t ttl_ms, struct rcache *rc);
void vcache_free(struct vcache *vc);

/* The key of a body: its SHA-256, the service's ISTag, and the fields of
 * its HTTP head h (may be NULL) that change how it is read. */
void vcache_key(unsigned char key[32], const unsigned char sha[32], const char *istag,
                const struct http_head *h);

enum vcache_result vcache_begin(struct vcache *vc, const unsigned char key[32],
                                struct vcache_waiter *w, struct verdict *v);

/* The scan of key ended with v: caches it (passes and blocks only, never
 * an error) and hands it to every waiter. */
void vcache_end(struct vcache *vc, const unsigned char key[32], const struct verdict *v);

/* A waiting transaction went away. */
void vcache_cancel(struct vcache *vc, struct vcache_waiter *w);

/* Appends icapd_cache_* counters to /metrics. */
struct evbuffer;
void vcache_render_metrics(struct vcache *vc, struct evbuffer *out);

#endif
