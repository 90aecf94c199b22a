/*
 * conn: the life of a connection.
 *
 * The connection does its own socket I/O on two evbuffers rather than using
 * a bufferevent: libevent 2.1 reads at most 4 KiB per call, which costs a
 * read and a write system call per 4 KiB of echoed body. Here reads grow to
 * READ_MAX while the socket keeps them full, and replies are written at once
 * when a transaction step produced them, without a trip through the loop.
 *
 * Reading is driven by the transaction: conn_process() hands the input
 * buffer to the transaction until it needs more bytes. Memory stays bounded
 * on both sides: reading stops while the input holds a whole head's worth of
 * bytes, and while more than TXN_OUTPUT_HIGH bytes of reply wait for a slow
 * client.
 *
 * One timer per connection guards what the connection is waiting for:
 *   idle between requests          keepalive_timeout, then close quietly
 *   head and HTTP headers          header_timeout from the request's first
 *                                  byte (a deadline: trickling does not
 *                                  extend it), then 408 and close
 *   body, or a full output buffer  body_timeout of silence, then 408 if the
 *                                  reply has not started, else close
 *   TLS handshake                  header_timeout from the accept, then close
 *
 * TLS (listen_tls) runs in this same loop rather than in bufferevent_openssl:
 * readv becomes SSL_read_ex into the same reserved space and evbuffer_write
 * becomes SSL_write_ex from the front of the same output, so TLS reads grow
 * like plain ones, replies go out at once, and the water marks, timers and
 * backpressure are one code for both. bufferevent_openssl would have meant
 * either two I/O paths here or moving plain connections back onto
 * bufferevents (4 KiB reads, and writes a loop trip later). What TLS adds:
 * OpenSSL may hold decrypted bytes that the socket no longer signals
 * (tls_more: the read event is then activated by hand); a read may need the
 * socket writable, or a write need it readable (handshake, key update); and
 * small pieces of output are gathered into one record.
 *
 * Backpressure: while the scans are saturated, a connection that would
 * store more of a body leaves it in the socket (and so at the proxy and the
 * origin, not in the spool) and waits in the server's scan_waiters, first
 * come first served. When scans finish, the waiters at the front get a
 * turn, one per free scan: they read their bodies through, and each turn
 * counts as a scan in flight, so that no one else fills that room first.
 * (Waking every waiter let the loop run them in descriptor order, and the
 * same few connections took every free scan: with 1 MiB bodies on 32
 * connections, 19 got no reply in 8 s.) A turn not used up within TURN_MS,
 * a body that trickles, is taken back, so that it cannot hold scans idle.
 */
#include "conn.h"

#include <assert.h>
#include <errno.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "netaddr.h"
#include "tls.h"
#include "txn.h"
#include "workq.h"

#define CONN_MAGIC 0x434f4e31u

#define TURN_MS 200

/* Output below which a paused connection reads again. */
#define OUTPUT_LOW (64 * 1024)

/* Reads start small (idle keep-alive connections are many) and double up to
 * READ_MAX while they come back full. */
#define READ_MIN (16 * 1024)
#define READ_MAX (256 * 1024)

/* The largest TLS record: smaller pieces of output are gathered up to it. */
#define TLS_RECORD (16 * 1024)

struct conn {
	unsigned magic;
	struct server *srv;
	evutil_socket_t fd;
	struct evbuffer *in, *out;
	struct event *rev, *wev, *timer;
	bool reading, writing; /* rev, wev added */
	size_t read_size;
	size_t read_high; /* input held before reading pauses */
	TAILQ_ENTRY(conn) link;
	struct txn *txn;
	bool closing;       /* flushing the last reply */
	bool paused;        /* output above TXN_OUTPUT_HIGH */
	bool eof;           /* the client will send nothing more */
	bool head_deadline; /* header_timeout armed for the current request */
	bool scan_wait;     /* in srv->scan_waiters, not reading its body */
	bool scan_turn;     /* reading its body through, counted in srv->scan_turns */
	uint64_t turn_ms;   /* when the turn was given */
	TAILQ_ENTRY(conn) wait_link;
	char peer[64];

	SSL *ssl;                  /* NULL: plain TCP */
	bool tls_more;             /* OpenSSL may hold bytes the socket will not signal */
	bool tls_read_wants_write; /* the last SSL_read waits for the socket to drain */
	bool tls_write_wants_read; /* the last SSL_write waits for bytes from the peer */
	bool tls_failed;           /* fatal TLS error: no close_notify */
};

static void conn_process(struct conn *c);
static void turn_end(struct conn *c);

static void conn_free(struct conn *c)
{
	assert(c->magic == CONN_MAGIC);
	struct server *s = c->srv;
	if (c->scan_wait)
		TAILQ_REMOVE(&s->scan_waiters, c, wait_link);
	bool had_turn = c->scan_turn;
	if (had_turn)
		turn_end(c);
	TAILQ_REMOVE(&s->conns, c, link);
	txn_free(c->txn);
	event_free(c->rev);
	event_free(c->wev);
	event_free(c->timer);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	tls_free(c->ssl, !c->tls_failed);
	evutil_closesocket(c->fd);
	c->magic = 0;
	free(c);
	metrics_connection(-1);
	if (had_turn)
		conn_resume_scan_waiters(s);
	server_conn_closed(s);
}

static void arm(struct conn *c, unsigned long long ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
}

/* Adds or removes the read and write events to match the state. (A
 * connection in scan_wait leaves its bytes in the socket: with its read
 * event left on, the event would fire again and again until the scan
 * threads have room.) */
static void update_events(struct conn *c)
{
	bool want_read = (!c->closing && !c->eof && !c->paused && !c->scan_wait &&
	                  evbuffer_get_length(c->in) < c->read_high) ||
	                 c->tls_write_wants_read;
	bool want_write = evbuffer_get_length(c->out) > 0 || c->tls_read_wants_write;

	if (want_read != c->reading) {
		if (want_read)
			event_add(c->rev, NULL);
		else
			event_del(c->rev);
		c->reading = want_read;
	}
	if (want_write != c->writing) {
		if (want_write)
			event_add(c->wev, NULL);
		else
			event_del(c->wev);
		c->writing = want_write;
	}
	if (want_read && c->tls_more)
		event_active(c->rev, EV_READ, 1);
}

/* evbuffer_write for TLS: encrypts from the front of the output. Pieces
 * under a record (a reply head, a chunk header) are pulled up into one, or
 * each would cost a record and a system call. Returns bytes written, or -1
 * with errno (EAGAIN: wait for the event update_events asks for). */
static int tls_write_some(struct conn *c)
{
	struct evbuffer_iovec v;
	size_t total = evbuffer_get_length(c->out), put = 0;
	if (evbuffer_peek(c->out, -1, NULL, &v, 1) < 1)
		return 0;
	/* A retry after WANT_WRITE passes at least the bytes of the first try:
	 * the front only grows (or is pulled up) until it is drained. */
	size_t len = v.iov_len;
	const void *p = v.iov_base;
	if (len < TLS_RECORD && total > len) {
		len = total < TLS_RECORD ? total : TLS_RECORD;
		p = evbuffer_pullup(c->out, (ev_ssize_t)len);
	}
	switch (tls_write(c->ssl, p, len, &put)) {
	case TLS_IO_OK:
		evbuffer_drain(c->out, put);
		return (int)put;
	case TLS_IO_WANT_READ:
		c->tls_write_wants_read = true;
		/* fall through */
	case TLS_IO_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	default:
		c->tls_failed = true;
		errno = EPIPE;
		return -1;
	}
}

/* Writes what the socket takes now. Returns -1 if the connection failed. */
static int flush(struct conn *c)
{
	while (evbuffer_get_length(c->out) > 0) {
		int n = c->ssl ? tls_write_some(c) : evbuffer_write(c->out, c->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			return -1;
		}
		if (n == 0)
			break;
	}
	return 0;
}

/* Stops reading and closes once the output is written (bounded in time). */
static void conn_finish(struct conn *c)
{
	c->closing = true;
	if (flush(c) < 0 || evbuffer_get_length(c->out) == 0) {
		conn_free(c);
		return;
	}
	update_events(c);
	arm(c, c->srv->gen->conf->body_timeout_ms);
}

/* readv for TLS: decrypts into iov until it is full or OpenSSL needs the
 * socket. Returns like readv (errno EAGAIN: wait for the event that
 * update_events asks for); sets c->eof itself when bytes came before it. */
static ssize_t tls_readv(struct conn *c, const struct iovec *iov, int niov)
{
	size_t total = 0;
	enum tls_io r = TLS_IO_OK;

	c->tls_more = false;
	for (int k = 0; k < niov && r == TLS_IO_OK; k++) {
		for (size_t off = 0; off < iov[k].iov_len;) {
			size_t n = 0;
			r = tls_read(c->ssl, (char *)iov[k].iov_base + off, iov[k].iov_len - off,
			             &n);
			if (r != TLS_IO_OK)
				break;
			off += n;
			total += n;
		}
	}
	switch (r) {
	case TLS_IO_OK:
		c->tls_more = true; /* filled: more may wait inside OpenSSL */
		return (ssize_t)total;
	case TLS_IO_EOF:
		if (total > 0)
			c->eof = true;
		return (ssize_t)total;
	case TLS_IO_WANT_WRITE:
		c->tls_read_wants_write = true;
		/* fall through */
	case TLS_IO_WANT_READ:
		if (total > 0)
			return (ssize_t)total;
		errno = EAGAIN;
		return -1;
	default:
		if (!SSL_is_init_finished(c->ssl)) {
			char why[256];
			log_info("TLS handshake with %s failed: %s", c->peer,
			         tls_why(c->ssl, why, sizeof(why)));
		}
		c->tls_failed = true;
		errno = EPROTO;
		return -1;
	}
}

/* Reads what the socket has, up to read_high in the input. Returns -1 on a
 * failed connection; sets c->eof at the end of the stream. */
static int read_some(struct conn *c)
{
	for (int round = 0; round < 4; round++) {
		size_t have = evbuffer_get_length(c->in);
		if (have >= c->read_high)
			return 0;
		size_t want =
		        c->read_high - have < c->read_size ? c->read_high - have : c->read_size;
		struct evbuffer_iovec v[2];
		int nv = evbuffer_reserve_space(c->in, (ev_ssize_t)want, v, 2);
		if (nv <= 0)
			return -1;
		struct iovec iov[2];
		for (int k = 0; k < nv; k++) {
			iov[k].iov_base = v[k].iov_base;
			iov[k].iov_len = v[k].iov_len;
		}
		ssize_t n = c->ssl ? tls_readv(c, iov, nv) : readv(c->fd, iov, nv);
		if (n <= 0) {
			evbuffer_commit_space(c->in, v, 0);
			if (n == 0) {
				c->eof = true;
				return 0;
			}
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		}
		size_t left = (size_t)n;
		int used = 0;
		for (; used < nv && left > 0; used++) {
			if (v[used].iov_len > left)
				v[used].iov_len = left;
			left -= v[used].iov_len;
		}
		evbuffer_commit_space(c->in, v, used);
		if ((size_t)n < want)
			return 0;
		if (c->read_size < READ_MAX)
			c->read_size *= 2;
	}
	return 0;
}

static void write_cb(evutil_socket_t fd, short what, void *arg);

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->tls_write_wants_read) {
		c->tls_write_wants_read = false;
		write_cb(fd, what, arg);
		return;
	}
	/* Backpressure (see the top of the file). */
	if (c->txn != NULL && txn_storing(c->txn) && !c->scan_turn &&
	    server_scans_saturated(c->srv)) {
		c->scan_wait = true;
		TAILQ_INSERT_TAIL(&c->srv->scan_waiters, c, wait_link);
		metrics_backpressure();
		update_events(c);
		return;
	}
	if (read_some(c) < 0) {
		conn_free(c);
		return;
	}
	/* The handshake runs under the deadline conn_new set. */
	if (c->ssl != NULL && !c->eof && !SSL_is_init_finished(c->ssl)) {
		update_events(c);
		return;
	}
	conn_process(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->tls_read_wants_write) {
		c->tls_read_wants_write = false;
		read_cb(fd, what, arg);
		return;
	}
	if (flush(c) < 0) {
		conn_free(c);
		return;
	}
	if (c->closing) {
		if (evbuffer_get_length(c->out) == 0)
			conn_free(c);
		return;
	}
	if (c->paused && evbuffer_get_length(c->out) <= OUTPUT_LOW) {
		c->paused = false;
		conn_process(c);
		return;
	}
	update_events(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (!c->closing && c->txn != NULL && txn_timeout(c->txn, c->out)) {
		conn_finish(c);
		return;
	}
	conn_free(c);
}

/* The transaction's scan ended: let it reply. */
static void conn_wake(void *arg)
{
	conn_process(arg);
}

static void turn_end(struct conn *c)
{
	c->scan_turn = false;
	c->srv->scan_turns--;
}

/* After a step: a turn or a wait ends with the body being stored (its scan
 * is in flight then, or the transaction ended). */
static void turn_check(struct conn *c)
{
	if (c->txn != NULL && txn_storing(c->txn))
		return;
	if (c->scan_wait) {
		c->scan_wait = false;
		TAILQ_REMOVE(&c->srv->scan_waiters, c, wait_link);
	}
	if (c->scan_turn) {
		turn_end(c);
		conn_resume_scan_waiters(c->srv);
	}
}

/* Takes back the turns held longer than TURN_MS. */
static void turn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct conn *c;
	uint64_t now = clock_ms();
	(void)fd;
	(void)what;
	TAILQ_FOREACH(c, &s->conns, link)
	{
		if (c->scan_turn && now - c->turn_ms >= TURN_MS)
			turn_end(c);
	}
	conn_resume_scan_waiters(s);
}

/* Runs transactions on the input until one waits; then writes and waits. */
static void conn_process(struct conn *c)
{
	const struct conf *conf = c->srv->gen->conf;

	while (!c->closing) {
		if (evbuffer_get_length(c->out) > TXN_OUTPUT_HIGH) {
			if (flush(c) < 0) {
				conn_free(c);
				return;
			}
			if (evbuffer_get_length(c->out) > TXN_OUTPUT_HIGH) {
				c->paused = true;
				arm(c, conf->body_timeout_ms);
				break;
			}
		}
		if (c->txn == NULL) {
			if (evbuffer_get_length(c->in) == 0) {
				if (c->eof || c->srv->stopping) {
					conn_finish(c);
					return;
				}
				arm(c, conf->keepalive_timeout_ms);
				break;
			}
			struct txn_peer peer = {
			        .address = c->peer,
			        .workq = c->srv->workq,
			        .vcache = c->srv->vcache,
			        .wake = conn_wake,
			        .wake_arg = c,
			};
			c->txn = txn_new(c->srv->gen, &peer);
			c->head_deadline = false;
		}
		size_t in0 = evbuffer_get_length(c->in), out0 = evbuffer_get_length(c->out);
		enum txn_result r = txn_step(c->txn, c->in, c->out);
		txn_account(c->txn, in0 - evbuffer_get_length(c->in),
		            evbuffer_get_length(c->out) - out0);
		if (r == TXN_MORE) {
			if (evbuffer_get_length(c->out) > TXN_OUTPUT_HIGH)
				continue; /* flush, or pause */
			/* A client that half-closed after a whole request
			 * (nc does) still gets its verdict. */
			if (c->eof && txn_phase(c->txn) != TXN_PHASE_WAIT) {
				conn_finish(c);
				return;
			}
			if (txn_phase(c->txn) == TXN_PHASE_WAIT) {
				/* A scan is bounded by the modules' own limits. */
				evtimer_del(c->timer);
			} else if (txn_phase(c->txn) == TXN_PHASE_BODY) {
				arm(c, conf->body_timeout_ms);
			} else if (!c->head_deadline) {
				c->head_deadline = true;
				arm(c, conf->header_timeout_ms);
			}
			break;
		}
		txn_free(c->txn);
		c->txn = NULL;
		if (r == TXN_CLOSE || c->srv->stopping) {
			conn_finish(c);
			return;
		}
	}
	if (flush(c) < 0) {
		conn_free(c);
		return;
	}
	turn_check(c);
	update_events(c);
}

void conn_new(struct server *s, evutil_socket_t fd, const struct sockaddr *peer, int peerlen,
              SSL *ssl)
{
	const struct conf *conf = s->gen->conf;
	struct conn *c = calloc(1, sizeof(*c));
	(void)peerlen;
	if (c == NULL) {
		tls_free(ssl, false);
		evutil_closesocket(fd);
		return;
	}
	c->magic = CONN_MAGIC;
	c->srv = s;
	c->fd = fd;
	c->ssl = ssl;
	netaddr_host(peer, c->peer, sizeof(c->peer));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evutil_make_socket_nonblocking(fd);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, read_cb, c);
	c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
	c->timer = evtimer_new(s->base, timer_cb, c);
	if (!c->in || !c->out || !c->rev || !c->wev || !c->timer) {
		log_error("out of memory for a connection");
		if (c->in)
			evbuffer_free(c->in);
		if (c->out)
			evbuffer_free(c->out);
		if (c->rev)
			event_free(c->rev);
		if (c->wev)
			event_free(c->wev);
		if (c->timer)
			event_free(c->timer);
		tls_free(ssl, false);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	/* Read at most a head, its HTTP headers and some body ahead of need. */
	c->read_high = conf->max_icap_header + 2 * conf->max_http_header + 64 * 1024;
	c->read_size = READ_MIN;
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->nconns++;
	metrics_connection(1);
	update_events(c);
	/* A handshake is the first bytes of a request: header_timeout, from now. */
	arm(c, ssl != NULL ? conf->header_timeout_ms : conf->keepalive_timeout_ms);
}

void conn_resume_scan_waiters(void *arg)
{
	struct server *s = arg;
	struct conn *c;
	while ((c = TAILQ_FIRST(&s->scan_waiters)) != NULL && !server_scans_saturated(s)) {
		TAILQ_REMOVE(&s->scan_waiters, c, wait_link);
		c->scan_wait = false;
		c->scan_turn = true;
		c->turn_ms = clock_ms();
		s->scan_turns++;
		update_events(c);
	}
	if (s->scan_turns == 0)
		return;
	if (s->turn_timer == NULL &&
	    (s->turn_timer = evtimer_new(s->base, turn_timer_cb, s)) == NULL)
		return; /* the turns end with their bodies */
	if (!evtimer_pending(s->turn_timer, NULL)) {
		struct timeval tv = {0, TURN_MS * 1000};
		evtimer_add(s->turn_timer, &tv);
	}
}

void conn_close_idle(struct server *s)
{
	struct conn *c, *next;
	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->txn != NULL || c->closing || evbuffer_get_length(c->in) > 0)
			continue;
		/* A request already in the socket is in flight too: serve it. */
		if (read_some(c) < 0)
			conn_free(c);
		else if (evbuffer_get_length(c->in) > 0)
			conn_process(c);
		else
			conn_finish(c);
	}
}

void conn_close_all(struct server *s)
{
	while (!TAILQ_EMPTY(&s->conns))
		conn_free(TAILQ_FIRST(&s->conns));
}
