/*
 * scanner_pool: the server's side of a generation's scanner processes.
 *
 * With scan_isolation on (the default), the body modules never run in the
 * server: each generation gets a zygote (scanner_zygote.c) that keeps
 * scan_threads sandboxed scanner processes (scanner_worker.c) alive, and
 * the pool hands each scan to an idle one as descriptors (scanner_proto.h),
 * on the event loop, without threads. A scanner that dies mid-scan, or is
 * busy past scan_timeout (then it is killed), costs its scan one attempt:
 * the scan goes again to another scanner, and a body that two scanners were
 * lost on fails closed (VERDICT_ERROR with fail_closed: never a pass). The
 * zygote replaces lost scanners at once; a lost zygote is forked again.
 *
 * Scans wait in a FIFO while every scanner is busy; it holds at most one
 * scan per connection, as the scan threads' queue does.
 */
#ifndef ICAPD_SCANNER_POOL_H
#define ICAPD_SCANNER_POOL_H

#include <event2/event.h>
#include <stdbool.h>

struct generation;
struct scan;
struct scanner_pool;
struct scanner_pools;

struct scanner_pools_config {
	/* After scans finished: work held back while the pool was saturated
	 * may go on. */
	void (*drained)(void *arg);
	/* True when a zygote may be forked now: no other thread runs (a
	 * reload's build). When false, the fork is tried again shortly. */
	bool (*can_fork)(void *arg);
	void *arg;
};

/* The server's set of pools (one per generation that has one). */
struct scanner_pools *scanner_pools_new(struct event_base *base,
                                        const struct scanner_pools_config *cfg);

/*
 * Starts g's scanners (g->conf's scan_threads, scan_timeout), forking its
 * zygote now: call when no other thread runs. The pool belongs to g and is
 * freed with it (scanner_pool_free). Returns 0, or -1 if the zygote could
 * not be forked (logged).
 */
int scanner_pools_attach(struct scanner_pools *ps, struct generation *g);

/*
 * Ends every scan still queued or running in any pool with an error
 * verdict (fail_closed), calling their done hooks: for shutting down.
 */
void scanner_pools_fail_all(struct scanner_pools *ps);

/* Scans queued or running in any pool. */
unsigned scanner_pools_in_flight(const struct scanner_pools *ps);

/* Frees the set; the pools left belong to their generations. */
void scanner_pools_free(struct scanner_pools *ps);

/* Queues the scan s (of the pool's generation); s->job.done(&s->job) follows
 * on the loop with s->verdict set. */
void scanner_pool_submit(struct scanner_pool *p, struct scan *s);

/* True while the scans waiting for a scanner, plus `coming` more about to
 * be, are two for each scanner. */
bool scanner_pool_saturated(const struct scanner_pool *p, unsigned coming);

/* Stops the zygote and its scanners; the pool must be idle (its
 * generation is being freed, and every scan holds a reference). */
void scanner_pool_free(struct scanner_pool *p);

#endif
