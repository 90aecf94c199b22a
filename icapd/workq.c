/*
 * workq: a fixed pool of threads around one mutex-protected FIFO. Finished
 * jobs go on a second list and a user event wakes the loop, which calls
 * their done() hooks in the order they finished.
 */
#include "workq.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct workq_job *head, *tail; /* waiting to run */
	struct workq_job *done_head, *done_tail;
	struct event *done_ev;
	pthread_t *threads;
	unsigned nthreads;
	unsigned pending; /* queued or running, done() not yet called */
	bool stopping;
	void (*drained)(void *);
	void *drained_arg;
};

static void push(struct workq_job **head, struct workq_job **tail, struct workq_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static void *worker(void *arg)
{
	struct workq *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (q->head == NULL && !q->stopping)
			pthread_cond_wait(&q->wake, &q->lock);
		if (q->head == NULL)
			break;
		struct workq_job *j = q->head;
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);
		j->run(j);
		pthread_mutex_lock(&q->lock);
		push(&q->done_head, &q->done_tail, j);
		event_active(q->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void run_done(struct workq *q)
{
	pthread_mutex_lock(&q->lock);
	struct workq_job *j = q->done_head;
	q->done_head = q->done_tail = NULL;
	pthread_mutex_unlock(&q->lock);
	while (j != NULL) {
		struct workq_job *next = j->next;
		q->pending--;
		j->done(j);
		j = next;
	}
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workq *q = arg;
	(void)fd;
	(void)what;
	run_done(q);
	if (q->drained != NULL)
		q->drained(q->drained_arg);
}

bool workq_saturated(const struct workq *q, unsigned coming)
{
	return q->pending + coming >= 2 * q->nthreads;
}

struct workq *workq_new(struct event_base *base, unsigned threads, void (*drained)(void *),
                        void *arg)
{
	struct workq *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->drained = drained;
	q->drained_arg = arg;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	q->done_ev = event_new(base, -1, 0, done_cb, q);
	q->threads = calloc(threads, sizeof(*q->threads));
	if (q->done_ev == NULL || q->threads == NULL) {
		workq_free(q);
		return NULL;
	}
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&q->threads[i], NULL, worker, q) != 0) {
			log_error("cannot start scan thread %u", i);
			break;
		}
		q->nthreads++;
	}
	if (q->nthreads == 0) {
		workq_free(q);
		return NULL;
	}
	return q;
}

void workq_submit(struct workq *q, struct workq_job *j)
{
	pthread_mutex_lock(&q->lock);
	push(&q->head, &q->tail, j);
	q->pending++;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
}

unsigned workq_pending(const struct workq *q)
{
	return q->pending;
}

unsigned workq_threads(const struct workq *q)
{
	return q->nthreads;
}

void workq_free(struct workq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->wake);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	if (q->done_ev != NULL)
		run_done(q);
	if (q->done_ev != NULL)
		event_free(q->done_ev);
	free(q->threads);
	pthread_cond_destroy(&q->wake);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
