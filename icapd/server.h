/*
 * server: the process-wide state the event loop works on: the current
 * generation, the listeners, the open connections, and whether we are
 * stopping. There is one per process; it is passed explicitly, not global.
 */
#ifndef ICAPD_SERVER_H
#define ICAPD_SERVER_H

#include <event2/event.h>
#include <event2/listener.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "generation.h"

struct conn;
struct listener;

struct server {
	struct event_base *base;
	struct generation *gen; /* current; transactions hold their own reference */
	char *conf_path;        /* absolute */
	struct generation_overrides overrides;
	uint64_t next_serial;
	bool daemon;

	struct listener *listeners; /* ICAP, plain and TLS (listener.c) */
	size_t nlisteners;
	bool accepting; /* false while at the connection limit */
	struct admin *admin;
	struct workq *workq;            /* the scan threads (scan_isolation off), or NULL */
	struct scanner_pools *scanners; /* scanner processes (scan_isolation on), or NULL */
	struct vcache *vcache;          /* verdicts by content (NULL: cache memory 0) */
	struct rcache *rcache;          /* its shared tier in Redis, or NULL */
	struct event *watch;            /* looks for changed signatures and lists */
	struct event *sigev[4];         /* HUP, TERM, INT, USR1 */

	TAILQ_HEAD(, conn) conns;
	size_t nconns;
	/* Backpressure (conn.c): connections waiting to read their bodies,
	 * first come first served, and how many hold a turn to read. */
	TAILQ_HEAD(, conn) scan_waiters;
	unsigned scan_turns;
	struct event *turn_timer; /* takes back turns not used in time */

	bool stopping;
	struct event *stop_deadline;
	struct reload *reload;
};

/* Called by conn when a connection is gone: frees a slot under the limit. */
void server_conn_closed(struct server *s);

/* True while the scans in flight, plus the connections that hold a turn
 * to finish their bodies, fill the scan threads or the current
 * generation's scanner processes: time to stop reading new bodies. */
bool server_scans_saturated(const struct server *s);

/* Enables or disables accepting as the connection count allows. */
void server_update_accepting(struct server *s);

#endif
