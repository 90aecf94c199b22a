/*
 * conn: the life of a connection.
 *
 * Reading is driven by the transaction: conn_process() hands the input
 * buffer to the transaction until it needs more bytes. Memory stays bounded
 * on both sides: the bufferevent stops reading when its input holds a whole
 * head's worth of bytes, and the connection stops reading while more than
 * TXN_OUTPUT_HIGH bytes of reply wait for a slow client.
 *
 * One timer per connection guards what the connection is waiting for:
 *   idle between requests          keepalive_timeout, then close quietly
 *   head and HTTP headers          header_timeout from the request's first
 *                                  byte (a deadline: trickling does not
 *                                  extend it), then 408 and close
 *   body, or a full output buffer  body_timeout of silence, then 408 if the
 *                                  reply has not started, else close
 */
#include "conn.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "txn.h"

#define CONN_MAGIC 0x434f4e31u

/* Output below which a paused connection reads again. */
#define OUTPUT_LOW (64 * 1024)

struct conn {
	unsigned magic;
	struct server *srv;
	struct bufferevent *bev;
	struct event *timer;
	TAILQ_ENTRY(conn) link;
	struct txn *txn;
	bool closing;       /* flushing the last reply */
	bool paused;        /* output above TXN_OUTPUT_HIGH */
	bool eof;           /* the client will send nothing more */
	bool head_deadline; /* header_timeout armed for the current request */
	char peer[64];
};

static void conn_process(struct conn *c);

static void conn_free(struct conn *c)
{
	assert(c->magic == CONN_MAGIC);
	struct server *s = c->srv;
	TAILQ_REMOVE(&s->conns, c, link);
	txn_free(c->txn);
	bufferevent_free(c->bev);
	event_free(c->timer);
	c->magic = 0;
	free(c);
	metrics_connection(-1);
	server_conn_closed(s);
}

static void arm(struct conn *c, unsigned long long ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
}

/* Stops reading and closes once the output is written (bounded in time). */
static void conn_finish(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(out) == 0) {
		conn_free(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	arm(c, c->srv->gen->conf->body_timeout_ms);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	if (c->paused) {
		c->paused = false;
		if (!c->eof)
			bufferevent_enable(bev, EV_READ);
		conn_process(c);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !c->closing) {
		/* A half-close: answer what was sent, then close. */
		c->eof = true;
		conn_process(c);
		return;
	}
	conn_free(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (!c->closing && c->txn != NULL && txn_timeout(c->txn, bufferevent_get_output(c->bev))) {
		conn_finish(c);
		return;
	}
	conn_free(c);
}

static void pause_reading(struct conn *c)
{
	c->paused = true;
	bufferevent_disable(c->bev, EV_READ);
	arm(c, c->srv->gen->conf->body_timeout_ms);
}

static void conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct conf *conf = c->srv->gen->conf;

	while (!c->closing) {
		if (evbuffer_get_length(out) > TXN_OUTPUT_HIGH) {
			pause_reading(c);
			return;
		}
		if (c->txn == NULL) {
			if (evbuffer_get_length(in) == 0) {
				if (c->eof || c->srv->stopping)
					conn_finish(c);
				else
					arm(c, conf->keepalive_timeout_ms);
				return;
			}
			struct txn_peer peer = {.address = c->peer};
			c->txn = txn_new(c->srv->gen, &peer);
			c->head_deadline = false;
		}
		size_t in0 = evbuffer_get_length(in), out0 = evbuffer_get_length(out);
		enum txn_result r = txn_step(c->txn, in, out);
		txn_account(c->txn, in0 - evbuffer_get_length(in), evbuffer_get_length(out) - out0);
		if (r == TXN_MORE) {
			if (evbuffer_get_length(out) > TXN_OUTPUT_HIGH) {
				pause_reading(c);
			} else if (c->eof) {
				conn_finish(c);
			} else if (txn_phase(c->txn) == TXN_PHASE_BODY) {
				arm(c, conf->body_timeout_ms);
			} else if (!c->head_deadline) {
				c->head_deadline = true;
				arm(c, conf->header_timeout_ms);
			}
			return;
		}
		txn_free(c->txn);
		c->txn = NULL;
		if (r == TXN_CLOSE || c->srv->stopping) {
			conn_finish(c);
			return;
		}
	}
}

void conn_new(struct server *s, evutil_socket_t fd, const struct sockaddr *peer, int peerlen)
{
	const struct conf *conf = s->gen->conf;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	(void)peerlen;
	c->magic = CONN_MAGIC;
	c->srv = s;
	netaddr_host(peer, c->peer, sizeof(c->peer));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(s->base, timer_cb, c);
	if (c->bev == NULL || c->timer == NULL) {
		log_error("out of memory for a connection");
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return;
	}
	/* Read at most a head, its HTTP headers and some body ahead of need. */
	size_t read_high = conf->max_icap_header + 2 * conf->max_http_header + 64 * 1024;
	bufferevent_setwatermark(c->bev, EV_READ, 0, read_high);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUTPUT_LOW, 0);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->nconns++;
	metrics_connection(1);
	arm(c, conf->keepalive_timeout_ms);
}

void conn_close_idle(struct server *s)
{
	struct conn *c, *next;
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->txn == NULL && !c->closing &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
			conn_finish(c);
	}
}

void conn_close_all(struct server *s)
{
	while (!TAILQ_EMPTY(&s->conns))
		conn_free(TAILQ_FIRST(&s->conns));
}
