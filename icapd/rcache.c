/*
 * rcache: verdicts shared through Redis, on the event loop. One connection
 * (a bufferevent; over TLS, libevent's bufferevent_openssl) carries every
 * GET and SET, pipelined: commands are written as they come, and a FIFO of
 * slots, one per command written, says whom each reply is for (Redis
 * answers in order). Replies are parsed by resp.c where they lie in the
 * input buffer (made contiguous when one spans two blocks), and drained
 * once handled: no more than RESP_MAX_REPLY bytes of a reply are ever
 * held, and one that is malformed or too long drops the connection.
 *
 * Each get is a request with a timer of its own: the caller is answered by
 * whichever comes first, the reply or the timer; the request itself lives
 * until its slot is answered (or the connection goes), so that a late
 * reply never touches freed memory. When the connection goes, every slot
 * is let go at once (waiting gets are misses) and a timer retries, with a
 * delay doubling from retry_min_ms to retry_max_ms; meanwhile gets are
 * misses on the next turn of the loop and puts are dropped. A new
 * connection is usable once AUTH (if a password is set) and PING have been
 * answered, within connect_timeout_ms of the start. Values are signed
 * (rcache.h, rcache_value.c).
 */
#include "rcache.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "rcache_tls.h"
#include "rcache_value.h"
#include "resp.h"

#define RCACHE_MAGIC 0x52434143u /* "RCAC" */
#define REQ_MAGIC    0x52524551u /* "RREQ" */

#define PREFIX_MAX   64
#define NAME_MAX_LEN (PREFIX_MAX + 2 * CACHE_KEY_LEN)
#define CMD_MAX      512              /* GET and SET fit; AUTH with long words is allocated */
#define LOG_EVERY_S  60               /* at most one line a minute about bad values or errors */
#define LIT(s)       s, sizeof(s) - 1 /* a string literal and its length */

struct rcache_req {
	unsigned magic;
	struct rcache *rc;
	struct rcache_req *next, *prev; /* every request of rc */
	struct event *timer;
	void (*cb)(void *arg, bool found, const struct cache_verdict *v);
	void *arg;
	unsigned char key[CACHE_KEY_LEN];
	bool waiting; /* the caller waits: cb has not fired and no cancel came */
	bool sent;    /* a slot holds it: its reply, or the end of the connection, will come */
};

/* What the reply to a command written on the connection is for. */
enum slot_kind { SLOT_AUTH, SLOT_PING, SLOT_GET, SLOT_SET };

struct slot {
	enum slot_kind kind;
	struct rcache_req *q; /* SLOT_GET */
};

/* Logs at most once a minute, saying how many were not logged. */
struct ratelimit {
	time_t last;
	uint64_t quiet;
};

struct rcache {
	unsigned magic;
	struct event_base *base;
	char *host, *user, *password, *prefix, *server_name;
	int port;
	unsigned char *secret;
	size_t secret_len, prefix_len;
	unsigned timeout_ms, ttl_s, connect_timeout_ms, retry_min_ms, retry_max_ms;
	unsigned max_inflight;
	SSL_CTX *tls; /* NULL: plain TCP */

	struct bufferevent *bev;  /* NULL when down (retry_ev armed) */
	bool up;                  /* bev answered PING (after AUTH): gets and puts go */
	struct event *retry_ev;   /* connects again */
	struct event *connect_ev; /* gives up on a connect that takes too long */
	unsigned retry_ms;        /* the next reconnect delay */
	bool down_logged;         /* "redis down" said for this outage */

	/* Commands written on bev and not answered yet, oldest first: a ring. */
	struct slot *slots;
	size_t slots_cap, slots_head, slots_len;

	struct rcache_req reqs; /* list head */
	uint64_t inflight;      /* gets and sets written and not answered */
	struct rcache_stats st;
	struct ratelimit bad_log, err_log;
	int in_cb; /* depth of caller callbacks running */
};

static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	if (s != NULL && d == NULL)
		abort();
	return d;
}

/* (Re)arms the timer ev to fire in ms milliseconds (0: on the next turn). */
static void timer_in(struct event *ev, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

/* Copies at most len - 1 bytes of s[0..n) to buf, control characters
 * replaced, so that text from Redis cannot split a log line. */
static const char *clean(char *buf, size_t len, const char *s, size_t n)
{
	size_t i = 0;
	for (; i < n && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = 0;
	return buf;
}

/* Logs a warning unless one went out through rl in the last minute; then
 * says how many were held back meanwhile. */
static void warn_limited(struct ratelimit *rl, const char *fmt, ...)
{
	struct timespec ts;
	char line[400];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (rl->last != 0 && ts.tv_sec - rl->last < LOG_EVERY_S) {
		rl->quiet++;
		return;
	}
	rl->last = ts.tv_sec == 0 ? 1 : ts.tv_sec;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rl->quiet > 0)
		log_warn("%s (and %llu more since the last line)", line,
		         (unsigned long long)rl->quiet);
	else
		log_warn("%s", line);
	rl->quiet = 0;
}

/* ---------------------------------------------------------------- values */

/* Writes prefix + hex(key) to name (NAME_MAX_LEN bytes); returns its length. */
static size_t key_name(const struct rcache *rc, const unsigned char key[CACHE_KEY_LEN], char *name)
{
	static const char hex[] = "0123456789abcdef";
	memcpy(name, rc->prefix, rc->prefix_len);
	for (size_t i = 0; i < CACHE_KEY_LEN; i++) {
		name[rc->prefix_len + 2 * i] = hex[key[i] >> 4];
		name[rc->prefix_len + 2 * i + 1] = hex[key[i] & 15];
	}
	return rc->prefix_len + 2 * CACHE_KEY_LEN;
}

static void note_bad_value(struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                           const char *what)
{
	char name[NAME_MAX_LEN];
	size_t n = key_name(rc, key, name);
	rc->st.bad_mac++;
	warn_limited(&rc->bad_log,
	             "redis: ignored a value that does not verify (%s) at %.*s: is something "
	             "else writing to Redis?",
	             what, (int)n, name);
}

/* An error about one command (detail: n bytes, from Redis maybe). */
static void note_error(struct rcache *rc, const char *what, const char *detail, size_t n)
{
	char buf[160];
	rc->st.errors++;
	warn_limited(&rc->err_log, "redis: %s: %s", what, clean(buf, sizeof(buf), detail, n));
}

/* ---------------------------------------------------------------- requests */

/* Frees q once neither the caller nor a slot holds it. */
static void req_release(struct rcache_req *q)
{
	if (q->waiting || q->sent)
		return;
	q->prev->next = q->next;
	q->next->prev = q->prev;
	event_free(q->timer);
	q->magic = 0;
	free(q);
}

/* Answers the caller of q (which must be waiting). */
static void req_answer(struct rcache_req *q, bool found, const struct cache_verdict *v)
{
	struct rcache *rc = q->rc;
	assert(q->waiting);
	q->waiting = false;
	evtimer_del(q->timer);
	if (found)
		rc->st.hits++;
	else
		rc->st.misses++;
	rc->in_cb++;
	q->cb(q->arg, found, v);
	rc->in_cb--;
}

static void req_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rcache_req *q = arg;
	(void)fd, (void)what;
	assert(q->magic == REQ_MAGIC);
	if (q->waiting) {
		if (q->sent)
			q->rc->st.timeouts++;
		req_answer(q, false, NULL);
	}
	req_release(q);
}

/* ---------------------------------------------------------------- slots */

static void slot_push(struct rcache *rc, enum slot_kind kind, struct rcache_req *q)
{
	if (rc->slots_len == rc->slots_cap) {
		size_t cap = rc->slots_cap ? rc->slots_cap * 2 : 16;
		struct slot *s = malloc(cap * sizeof(*s));
		if (s == NULL)
			abort();
		for (size_t i = 0; i < rc->slots_len; i++)
			s[i] = rc->slots[(rc->slots_head + i) % rc->slots_cap];
		free(rc->slots);
		rc->slots = s;
		rc->slots_cap = cap;
		rc->slots_head = 0;
	}
	struct slot *s = &rc->slots[(rc->slots_head + rc->slots_len) % rc->slots_cap];
	s->kind = kind;
	s->q = q;
	rc->slots_len++;
}

static struct slot slot_pop(struct rcache *rc)
{
	assert(rc->slots_len > 0);
	struct slot s = rc->slots[rc->slots_head];
	rc->slots_head = (rc->slots_head + 1) % rc->slots_cap;
	rc->slots_len--;
	return s;
}

/* The connection is gone: lets every slot go. Gets whose caller still
 * waits are misses now (callbacks run; they find rc down). */
static void slots_flush(struct rcache *rc)
{
	while (rc->slots_len > 0) {
		struct slot s = slot_pop(rc);
		if (s.kind == SLOT_SET)
			rc->inflight--;
		if (s.kind != SLOT_GET)
			continue;
		s.q->sent = false;
		rc->inflight--;
		if (s.q->waiting)
			req_answer(s.q, false, NULL);
		req_release(s.q);
	}
}

/* Writes the command argv[0..argc) on the connection, its reply to go to a
 * slot of kind (q: the get). Returns false if it could not be queued. */
static bool cmd_write(struct rcache *rc, enum slot_kind kind, struct rcache_req *q, size_t argc,
                      const char *const argv[], const size_t lens[])
{
	char stack[CMD_MAX], *buf = stack;
	size_t n = resp_command(buf, sizeof(stack), argc, argv, lens);
	if (n > sizeof(stack)) {
		if ((buf = malloc(n)) == NULL)
			abort();
		resp_command(buf, n, argc, argv, lens);
	}
	bool ok = bufferevent_write(rc->bev, buf, n) == 0;
	if (kind == SLOT_AUTH)
		OPENSSL_cleanse(buf, n);
	if (buf != stack)
		free(buf);
	if (ok)
		slot_push(rc, kind, q);
	return ok;
}

/* ---------------------------------------------------------------- connection */

/* The connection (if any) is gone or never came, for the reason why: marks
 * rc down, says so once per outage, and arms the retry timer. */
static void conn_failed(struct rcache *rc, const char *why)
{
	char buf[200];
	rc->st.errors++;
	rc->up = false;
	evtimer_del(rc->connect_ev);
	if (!rc->down_logged) {
		log_warn("redis down: %s:%d%s: %s; retrying in %u ms, backing off to %u ms",
		         rc->host, rc->port, rc->tls ? " (TLS)" : "",
		         clean(buf, sizeof(buf), why, strlen(why)), rc->retry_ms, rc->retry_max_ms);
		rc->down_logged = true;
	}
	timer_in(rc->retry_ev, rc->retry_ms);
	rc->retry_ms = rc->retry_ms > rc->retry_max_ms / 2 ? rc->retry_max_ms : rc->retry_ms * 2;
}

/* Closes the connection for the reason why (counted and logged as a
 * failure) and lets its slots go. May run callbacks of gets. */
static void conn_drop(struct rcache *rc, const char *why)
{
	struct bufferevent *bev = rc->bev;
	assert(bev != NULL);
	rc->bev = NULL;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_free(bev); /* deferred by libevent if inside bev's callback */
	conn_failed(rc, why);
	slots_flush(rc);
}

/* The reply r to AUTH or PING is not the one wanted: the connection goes. */
static void hello_failed(struct rcache *rc, const char *cmd, const struct resp_reply *r)
{
	char why[200], text[160];
	if (r->type == RESP_ERR)
		snprintf(why, sizeof(why), "%s: %s", cmd,
		         clean(text, sizeof(text), r->str, r->len));
	else
		snprintf(why, sizeof(why), "unexpected reply to %s", cmd);
	conn_drop(rc, why);
}

static bool is_status(const struct resp_reply *r, const char *s)
{
	return r->type == RESP_STATUS && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

/* The reply to a GET. */
static void get_reply(struct rcache *rc, struct rcache_req *q, const struct resp_reply *r)
{
	struct cache_verdict v;
	bool found = false;
	assert(q->magic == REQ_MAGIC && q->sent);
	q->sent = false;
	rc->inflight--;
	if (!q->waiting) {
		/* Late (the caller had its miss) or cancelled: nothing to do. */
	} else if (r->type == RESP_BULK) {
		const char *bad = rcache_value_decode(rc->secret, rc->secret_len, q->key,
		                                      (const unsigned char *)r->str, r->len, &v);
		if (bad != NULL)
			note_bad_value(rc, q->key, bad);
		found = bad == NULL;
	} else if (r->type == RESP_ERR) {
		note_error(rc, "GET", r->str, r->len);
	} else if (r->type != RESP_NIL) {
		note_error(rc, "GET", LIT("unexpected reply type"));
	}
	if (q->waiting)
		req_answer(q, found, found ? &v : NULL);
	req_release(q);
}

/* Hands the reply r to whom its slot s says. May drop the connection. */
static void on_reply(struct rcache *rc, struct slot s, const struct resp_reply *r)
{
	switch (s.kind) {
	case SLOT_AUTH:
		if (!is_status(r, "OK"))
			hello_failed(rc, "AUTH", r);
		break;
	case SLOT_PING:
		if (!is_status(r, "PONG")) {
			hello_failed(rc, "PING", r);
			break;
		}
		rc->up = true;
		rc->retry_ms = rc->retry_min_ms;
		evtimer_del(rc->connect_ev);
		log_info("redis up: %s:%d%s", rc->host, rc->port, rc->tls ? " (TLS)" : "");
		rc->down_logged = false;
		break;
	case SLOT_GET:
		get_reply(rc, s.q, r);
		break;
	case SLOT_SET:
		rc->inflight--;
		if (r->type == RESP_ERR)
			note_error(rc, "SET", r->str, r->len);
		else if (r->type != RESP_STATUS)
			note_error(rc, "SET", LIT("unexpected reply type"));
		break;
	}
}

/* Parses and hands out every whole reply in bev's input. A reply is parsed
 * where it lies when it fits in the first block of the buffer, else from a
 * pulled-up copy of at most RESP_MAX_REPLY bytes; it is drained only once
 * handled, since r points into it. */
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct rcache *rc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	assert(rc->magic == RCACHE_MAGIC && bev == rc->bev);
	while (rc->bev == bev) {
		size_t have = evbuffer_get_length(in);
		struct evbuffer_iovec v;
		struct resp_reply r;
		if (have == 0 || evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		long n = resp_parse(v.iov_base, v.iov_len, &r);
		if (n == RESP_NEED_MORE && v.iov_len < have) {
			size_t m = have < RESP_MAX_REPLY ? have : RESP_MAX_REPLY;
			const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)m);
			if (p == NULL)
				abort(); /* m <= have: only memory can run out */
			n = resp_parse((const char *)p, m, &r);
		}
		if (n == RESP_NEED_MORE)
			return;
		if (n == RESP_ERROR) {
			char why[120];
			snprintf(why, sizeof(why),
			         "a reply not RESP2, or with a string over %d bytes",
			         RESP_MAX_STRING);
			conn_drop(rc, why);
			return;
		}
		if (rc->slots_len == 0) {
			conn_drop(rc, "a reply to no command");
			return;
		}
		on_reply(rc, slot_pop(rc), &r);
		if (rc->bev == bev)
			evbuffer_drain(in, (size_t)n);
	}
}

/* Sends AUTH (when a password is set) and PING, pipelined; the connection
 * is up when PONG comes. */
static void hello(struct rcache *rc)
{
	bool ok = true;
	if (rc->password != NULL) {
		const char *argv[] = {"AUTH", rc->user ? rc->user : rc->password, rc->password};
		const size_t lens[] = {4, strlen(argv[1]), strlen(rc->password)};
		ok = cmd_write(rc, SLOT_AUTH, NULL, rc->user ? 3 : 2, argv, lens);
	}
	const char *ping[] = {"PING"};
	const size_t plen[] = {4};
	if (!ok || !cmd_write(rc, SLOT_PING, NULL, 1, ping, plen))
		conn_drop(rc, "cannot write AUTH or PING");
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct rcache *rc = arg;
	int err = (what & BEV_EVENT_ERROR) ? EVUTIL_SOCKET_ERROR() : 0;
	char why[240];
	assert(rc->magic == RCACHE_MAGIC && bev == rc->bev);
	if (what & BEV_EVENT_CONNECTED) {
		hello(rc);
		return;
	}
	why[0] = 0;
	if (rc->tls != NULL)
		rcache_tls_why(bev, err, why, sizeof(why));
	else if (err != 0)
		snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(err));
	if (why[0] == 0)
		snprintf(why, sizeof(why), "%s",
		         (what & BEV_EVENT_EOF) ? "connection closed" : "connection lost");
	conn_drop(rc, why);
}

/* Writes the address of rc's Redis to *ss and returns its length: parsed
 * when host is an IP address (no lookup), else looked up, blocking. On
 * failure returns -1 with the reason in why. */
static int redis_addr(const struct rcache *rc, struct sockaddr_storage *ss, char *why, size_t len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, rc->host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)rc->port);
		return (int)sizeof(*in4);
	}
	if (inet_pton(AF_INET6, rc->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)rc->port);
		return (int)sizeof(*in6);
	}
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM},
	                       *ai = NULL;
	char port[16];
	snprintf(port, sizeof(port), "%d", rc->port);
	int e = evutil_getaddrinfo(rc->host, port, &hints, &ai);
	if (e != 0 || ai->ai_addrlen > sizeof(*ss)) {
		snprintf(why, len, "cannot resolve the host: %s",
		         e ? evutil_gai_strerror(e) : "address too long");
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return -1;
	}
	int n = (int)ai->ai_addrlen;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	evutil_freeaddrinfo(ai);
	return n;
}

/* Opens a connection (it completes later, in event_cb). */
static void conn_start(struct rcache *rc)
{
	const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	struct sockaddr_storage ss;
	char why[240];
	struct bufferevent *bev;

	assert(rc->bev == NULL && rc->slots_len == 0);
	int sslen = redis_addr(rc, &ss, why, sizeof(why));
	if (sslen < 0) {
		conn_failed(rc, why);
		return;
	}
	if (rc->tls != NULL) {
		SSL *ssl = rcache_tls_ssl(rc->tls, rc->server_name);
		if (ssl == NULL)
			abort(); /* only memory can run out: rcache_new made one */
		bev = bufferevent_openssl_socket_new(rc->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                     opts);
		if (bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else {
		bev = bufferevent_socket_new(rc->base, -1, opts);
	}
	if (bev == NULL)
		abort();
	bufferevent_setcb(bev, read_cb, NULL, event_cb, rc);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	rc->bev = bev;
	int r = bufferevent_socket_connect(bev, (struct sockaddr *)&ss, sslen);
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot connect: %s",
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_drop(rc, why);
		return;
	}
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	timer_in(rc->connect_ev, rc->connect_timeout_ms);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rcache *rc = arg;
	(void)fd, (void)what;
	assert(rc->magic == RCACHE_MAGIC);
	if (rc->bev == NULL)
		conn_start(rc);
}

static void connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rcache *rc = arg;
	(void)fd, (void)what;
	assert(rc->magic == RCACHE_MAGIC);
	if (rc->bev == NULL || rc->up)
		return;
	conn_drop(rc, rc->tls ? "no answer to connect, TLS handshake, AUTH or PING in time"
	                      : "no answer to connect, AUTH or PING in time");
}

/* ---------------------------------------------------------------- calls */

struct rcache_req *rcache_get(struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                              void (*cb)(void *arg, bool found, const struct cache_verdict *v),
                              void *arg)
{
	assert(rc->magic == RCACHE_MAGIC);
	struct rcache_req *q = calloc(1, sizeof(*q));
	if (q == NULL || (q->timer = evtimer_new(rc->base, req_timer_cb, q)) == NULL)
		abort();
	q->magic = REQ_MAGIC;
	q->rc = rc;
	q->cb = cb;
	q->arg = arg;
	memcpy(q->key, key, CACHE_KEY_LEN);
	q->waiting = true;
	q->next = &rc->reqs;
	q->prev = rc->reqs.prev;
	rc->reqs.prev->next = q;
	rc->reqs.prev = q;

	unsigned ms = 0; /* a miss on the next turn of the loop */
	if (rc->up && rc->inflight >= rc->max_inflight) {
		rc->st.busy++;
	} else if (rc->up) {
		char name[NAME_MAX_LEN];
		const char *argv[] = {"GET", name};
		const size_t lens[] = {3, key_name(rc, key, name)};
		if (cmd_write(rc, SLOT_GET, q, 2, argv, lens)) {
			q->sent = true;
			rc->inflight++;
			ms = rc->timeout_ms;
		} else {
			note_error(rc, "GET", LIT("cannot queue the command"));
		}
	}
	timer_in(q->timer, ms);
	return q;
}

void rcache_cancel(struct rcache_req *q)
{
	assert(q->magic == REQ_MAGIC && q->waiting);
	q->waiting = false;
	evtimer_del(q->timer);
	req_release(q);
}

void rcache_put(struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                const struct cache_verdict *v)
{
	assert(rc->magic == RCACHE_MAGIC);
	unsigned char val[RCACHE_VALUE_MAX];
	char name[NAME_MAX_LEN], ttl[16];
	if (!rc->up || rc->inflight >= rc->max_inflight)
		return;
	size_t len = rcache_value_encode(rc->secret, rc->secret_len, key, v, val);
	if (len == 0)
		return;
	snprintf(ttl, sizeof(ttl), "%u", rc->ttl_s);
	const char *argv[] = {"SET", name, (const char *)val, "EX", ttl};
	const size_t lens[] = {3, key_name(rc, key, name), len, 2, strlen(ttl)};
	if (!cmd_write(rc, SLOT_SET, NULL, 5, argv, lens)) {
		note_error(rc, "SET", LIT("cannot queue the command"));
		return;
	}
	rc->inflight++;
	rc->st.puts++;
}

/* ---------------------------------------------------------------- life */

struct rcache *rcache_new(struct event_base *base, const struct rcache_config *cfg)
{
	if (cfg->host == NULL || *cfg->host == 0) {
		log_error("redis: no host given");
		return NULL;
	}
	if (cfg->secret == NULL || cfg->secret_len < RCACHE_SECRET_MIN ||
	    cfg->secret_len > INT_MAX) {
		log_error("redis: the shared secret must have at least %d bytes",
		          RCACHE_SECRET_MIN);
		return NULL;
	}
	const char *prefix = cfg->prefix ? cfg->prefix : "icapd:v1:";
	if (strlen(prefix) > PREFIX_MAX) {
		log_error("redis: key prefix longer than %d bytes", PREFIX_MAX);
		return NULL;
	}
	const char *server_name = cfg->tls_server_name ? cfg->tls_server_name : cfg->host;
	if (cfg->tls && (*server_name == 0 || strlen(server_name) > 253)) {
		log_error("redis: bad TLS server name \"%s\"", server_name);
		return NULL;
	}
	SSL_CTX *tls = NULL;
	if (cfg->tls && (tls = rcache_tls_ctx(cfg)) == NULL)
		return NULL;
	SSL *probe = tls ? rcache_tls_ssl(tls, server_name) : NULL;
	if (tls != NULL && probe == NULL) {
		log_error("redis: TLS server name \"%s\" not usable", server_name);
		SSL_CTX_free(tls);
		return NULL;
	}
	SSL_free(probe); /* conn_start makes one per connection */
	struct rcache *rc = calloc(1, sizeof(*rc));
	if (rc == NULL || (rc->secret = malloc(cfg->secret_len)) == NULL)
		abort();
	rc->magic = RCACHE_MAGIC;
	rc->base = base;
	rc->tls = tls;
	rc->host = dup_or_null(cfg->host);
	rc->user = dup_or_null(cfg->user);
	rc->password = dup_or_null(cfg->password);
	rc->prefix = dup_or_null(prefix);
	rc->prefix_len = strlen(prefix);
	rc->server_name = dup_or_null(server_name);
	rc->port = cfg->port ? cfg->port : 6379;
	memcpy(rc->secret, cfg->secret, cfg->secret_len);
	rc->secret_len = cfg->secret_len;
	rc->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 50;
	rc->ttl_s = cfg->ttl_s ? cfg->ttl_s : 3600;
	rc->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 1000;
	rc->retry_min_ms = cfg->retry_min_ms ? cfg->retry_min_ms : 1000;
	rc->retry_max_ms = cfg->retry_max_ms ? cfg->retry_max_ms : 30000;
	if (rc->retry_max_ms < rc->retry_min_ms)
		rc->retry_max_ms = rc->retry_min_ms;
	rc->retry_ms = rc->retry_min_ms;
	rc->max_inflight = cfg->max_inflight ? cfg->max_inflight : 10000;
	rc->reqs.next = rc->reqs.prev = &rc->reqs;
	rc->retry_ev = evtimer_new(base, retry_cb, rc);
	rc->connect_ev = evtimer_new(base, connect_timeout_cb, rc);
	if (rc->retry_ev == NULL || rc->connect_ev == NULL)
		abort();
	conn_start(rc);
	return rc;
}

void rcache_free(struct rcache *rc)
{
	if (rc == NULL)
		return;
	assert(rc->magic == RCACHE_MAGIC && rc->in_cb == 0);
	/* No callback fires from here on: requests in slots are freed as the
	 * slots go, the others now. */
	for (struct rcache_req *q = rc->reqs.next, *next; q != &rc->reqs; q = next) {
		next = q->next;
		q->waiting = false;
		req_release(q);
	}
	if (rc->bev != NULL) {
		bufferevent_setcb(rc->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(rc->bev);
		rc->bev = NULL;
		rc->up = false;
	}
	slots_flush(rc);
	assert(rc->reqs.next == &rc->reqs && rc->inflight == 0);
	event_free(rc->retry_ev);
	event_free(rc->connect_ev);
	SSL_CTX_free(rc->tls);
	free(rc->slots);
	free(rc->host);
	free(rc->user);
	if (rc->password != NULL)
		OPENSSL_cleanse(rc->password, strlen(rc->password));
	free(rc->password);
	free(rc->prefix);
	free(rc->server_name);
	OPENSSL_cleanse(rc->secret, rc->secret_len);
	free(rc->secret);
	rc->magic = 0;
	free(rc);
}

void rcache_stats(const struct rcache *rc, struct rcache_stats *st)
{
	assert(rc->magic == RCACHE_MAGIC);
	*st = rc->st;
	st->inflight = rc->inflight;
	st->up = rc->up;
}
