/*
 * workq: the scan threads. Blocking work (libclamav, large rule sets) runs
 * here, never on the event loop; each job's completion comes back to the
 * loop as an event. The queue holds at most one job per connection (a
 * connection waits for its verdict before it reads on), so it is bounded by
 * max_connections; while every thread is busy, connections wait with their
 * input unread, which is the backpressure a proxy sees.
 */
#ifndef ICAPD_WORKQ_H
#define ICAPD_WORKQ_H

#include <event2/event.h>
#include <stdbool.h>

struct workq;

struct workq_job {
	void (*run)(struct workq_job *j);  /* on a scan thread */
	void (*done)(struct workq_job *j); /* back on the event loop */
	struct workq_job *next;
};

/*
 * Starts threads (0: one per core). drained(arg), if set, runs on the loop
 * after finished jobs were handed back, so that work held back while the
 * pool was saturated can go on. Returns NULL on failure.
 */
struct workq *workq_new(struct event_base *base, unsigned threads, void (*drained)(void *),
                        void *arg);

/* True while the jobs pending, plus `coming` more about to be, are more than
 * the threads can start soon: time to stop reading new bodies. */
bool workq_saturated(const struct workq *q, unsigned coming);

void workq_submit(struct workq *q, struct workq_job *j);

/* Jobs queued or running. */
unsigned workq_pending(const struct workq *q);

unsigned workq_threads(const struct workq *q);

/* Waits for queued jobs to run, stops the threads, frees the queue. Jobs
 * whose done() has not run yet are completed first. */
void workq_free(struct workq *q);

#endif
