/*
 * rcache: verdicts shared through Redis, on the event loop. One hiredis
 * async connection carries every GET and SET. Each get is a request with a
 * timer of its own: the caller is answered by whichever comes first, the
 * reply or the timer; the request itself lives until hiredis hands it back
 * (with a reply, or with NULL when the connection goes), so that a late
 * reply never touches freed memory. When the connection goes, hiredis hands
 * back every request at once and a timer retries, with a delay doubling
 * from retry_min_ms to retry_max_ms; meanwhile gets are misses on the next
 * turn of the loop and puts are dropped. Values are signed (rcache.h).
 */
#include "rcache.h"

#include <assert.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <limits.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define RCACHE_MAGIC 0x52434143u /* "RCAC" */
#define REQ_MAGIC    0x52524551u /* "RREQ" */

#define VALUE_VERSION 1
#define HEAD_LEN      5
#define MAC_LEN       32
#define MODULE_MAX    (sizeof(((struct cache_verdict *)0)->module) - 1)
#define REASON_MAX    (sizeof(((struct cache_verdict *)0)->reason) - 1)
#define VALUE_MAX     (HEAD_LEN + MODULE_MAX + REASON_MAX + MAC_LEN)
#define PREFIX_MAX    64
#define NAME_MAX_LEN  (PREFIX_MAX + 2 * CACHE_KEY_LEN)
#define LOG_EVERY_S   60 /* at most one line a minute about bad values or errors */

struct rcache_req {
	unsigned magic;
	struct rcache *rc;
	struct rcache_req *next, *prev; /* every request of rc */
	struct event *timer;
	void (*cb)(void *arg, bool found, const struct cache_verdict *v);
	void *arg;
	unsigned char key[CACHE_KEY_LEN];
	bool waiting; /* the caller waits: cb has not fired and no cancel came */
	bool sent;    /* hiredis holds it: get_reply will come, maybe with NULL */
};

/* Logs at most once a minute, saying how many were not logged. */
struct ratelimit {
	time_t last;
	uint64_t quiet;
};

struct rcache {
	unsigned magic;
	struct event_base *base;
	char *host, *user, *password, *prefix;
	int port;
	unsigned char *secret;
	size_t secret_len, prefix_len;
	unsigned timeout_ms, ttl_s, connect_timeout_ms, retry_min_ms, retry_max_ms;
	unsigned max_inflight;

	redisAsyncContext *ac;    /* NULL when down (retry_ev armed) */
	bool up;                  /* ac answered PING (after AUTH): gets and puts go */
	struct event *retry_ev;   /* connects again */
	struct event *connect_ev; /* gives up on a connect that takes too long */
	unsigned retry_ms;        /* the next reconnect delay */
	bool down_logged;         /* "redis down" said for this outage */

	struct rcache_req reqs; /* list head */
	uint64_t inflight;      /* gets and sets that hiredis holds */
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

/* Copies at most len - 1 bytes of s (NULL reads as "") to buf, control
 * characters replaced, so that text from Redis cannot split a log line. */
static const char *clean(char *buf, size_t len, const char *s)
{
	size_t i = 0;
	for (; s != NULL && s[i] != 0 && i + 1 < len; i++)
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

/* HMAC-SHA-256 under the secret of key || the len bytes of rec (a record,
 * at most VALUE_MAX - MAC_LEN bytes) into out. Returns false if OpenSSL
 * fails. */
static bool value_mac(const struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                      const unsigned char *rec, size_t len, unsigned char out[MAC_LEN])
{
	unsigned char msg[CACHE_KEY_LEN + VALUE_MAX];
	unsigned out_len = 0;
	assert(len <= VALUE_MAX - MAC_LEN);
	memcpy(msg, key, CACHE_KEY_LEN);
	memcpy(msg + CACHE_KEY_LEN, rec, len);
	return HMAC(EVP_sha256(), rc->secret, (int)rc->secret_len, msg, CACHE_KEY_LEN + len, out,
	            &out_len) != NULL &&
	       out_len == MAC_LEN;
}

/* Encodes v for key into out (VALUE_MAX bytes). Returns the length, or 0
 * if v is not a pass or a block or OpenSSL fails. */
static size_t value_encode(const struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                           const struct cache_verdict *v, unsigned char *out)
{
	if (v->kind != CACHE_PASS && v->kind != CACHE_BLOCK)
		return 0;
	/* Strings that fill their array without a NUL are cut as cache_put cuts
	 * them: copy them terminated, then let cache_verdict_set trim. */
	char module[sizeof(v->module) + 1], reason[sizeof(v->reason) + 1];
	snprintf(module, sizeof(module), "%.*s", (int)sizeof(v->module), v->module);
	snprintf(reason, sizeof(reason), "%.*s", (int)sizeof(v->reason), v->reason);
	struct cache_verdict c;
	cache_verdict_set(&c, v->kind, v->is_threat, module, reason);

	size_t m = strlen(c.module), r = strlen(c.reason);
	out[0] = VALUE_VERSION;
	out[1] = c.kind;
	out[2] = c.is_threat ? 1 : 0;
	out[3] = (unsigned char)m;
	out[4] = (unsigned char)r;
	memcpy(out + HEAD_LEN, c.module, m);
	memcpy(out + HEAD_LEN + m, c.reason, r);
	size_t len = HEAD_LEN + m + r;
	if (!value_mac(rc, key, out, len, out + len))
		return 0;
	return len + MAC_LEN;
}

/* Decodes the len bytes of val read for key into *v. Returns NULL when it
 * parses and verifies, else what is wrong with it. */
static const char *value_decode(const struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                                const unsigned char *val, size_t len, struct cache_verdict *v)
{
	if (len < HEAD_LEN + MAC_LEN || len > VALUE_MAX)
		return "bad length";
	if (val[0] != VALUE_VERSION)
		return "unknown version";
	size_t m = val[3], r = val[4];
	if (m > MODULE_MAX || r > REASON_MAX || len != HEAD_LEN + m + r + MAC_LEN)
		return "bad length";
	unsigned char mac[MAC_LEN];
	if (!value_mac(rc, key, val, len - MAC_LEN, mac))
		return "HMAC failed";
	if (CRYPTO_memcmp(mac, val + len - MAC_LEN, MAC_LEN) != 0)
		return "bad MAC";
	/* Signed by a holder of the secret, so only a bug writes these. */
	if (val[1] > CACHE_BLOCK || val[2] > 1 || memchr(val + HEAD_LEN, 0, m + r) != NULL)
		return "bad field";
	memset(v, 0, sizeof(*v));
	v->kind = val[1];
	v->is_threat = val[2] == 1;
	memcpy(v->module, val + HEAD_LEN, m);
	memcpy(v->reason, val + HEAD_LEN + m, r);
	return NULL;
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

static void note_error(struct rcache *rc, const char *what, const char *detail)
{
	char buf[160];
	rc->st.errors++;
	warn_limited(&rc->err_log, "redis: %s: %s", what, clean(buf, sizeof(buf), detail));
}

/* ---------------------------------------------------------------- connection */

/* The connection (if any) is gone or never came, for the reason why: marks
 * rc down, says so once per outage, and arms the retry timer. The caller
 * frees (or hiredis frees) the context. */
static void conn_failed(struct rcache *rc, const char *why)
{
	char buf[160];
	rc->st.errors++;
	rc->ac = NULL;
	rc->up = false;
	evtimer_del(rc->connect_ev);
	if (!rc->down_logged) {
		log_warn("redis down: %s:%d: %s; retrying in %u ms, backing off to %u ms", rc->host,
		         rc->port, clean(buf, sizeof(buf), why), rc->retry_ms, rc->retry_max_ms);
		rc->down_logged = true;
	}
	timer_in(rc->retry_ev, rc->retry_ms);
	rc->retry_ms = rc->retry_ms > rc->retry_max_ms / 2 ? rc->retry_max_ms : rc->retry_ms * 2;
}

/* As conn_failed, if ac is still the current connection (calls about a
 * context that rc already let go are ignored). */
static void conn_lost(struct rcache *rc, const redisAsyncContext *ac, const char *why)
{
	if (rc->ac != NULL && rc->ac == ac)
		conn_failed(rc, why && *why ? why : "connection lost");
}

/* The reply to AUTH (when a password is set) or to the PING after it. An
 * OK is AUTH accepted: wait for PONG. PONG: the connection is usable. An
 * error (WRONGPASS, NOAUTH, ...) ends the connection. */
static void hello_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct rcache *rc = priv;
	redisReply *reply = r;
	assert(rc->magic == RCACHE_MAGIC);
	if (ac != rc->ac)
		return; /* a context already let go is being freed */
	if (reply == NULL) {
		conn_lost(rc, ac, ac->c.errstr);
		return;
	}
	bool status = reply->type == REDIS_REPLY_STATUS;
	if (status && strcmp(reply->str, "OK") == 0)
		return;
	if (!status || strcmp(reply->str, "PONG") != 0) {
		conn_lost(rc, ac,
		          reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		redisAsyncFree(ac); /* deferred by hiredis until this returns */
		return;
	}
	rc->up = true;
	rc->retry_ms = rc->retry_min_ms;
	evtimer_del(rc->connect_ev);
	log_info("redis up: %s:%d", rc->host, rc->port);
	rc->down_logged = false;
}

static void on_connect(const redisAsyncContext *cac, int status)
{
	struct rcache *rc = cac->data;
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	assert(rc->magic == RCACHE_MAGIC);
	if (status != REDIS_OK) {
		conn_lost(rc, ac, ac->c.errstr); /* hiredis frees ac when this returns */
		return;
	}
	/* Pipelined: AUTH (if any), then PING; UP when PONG comes. Should a
	 * command not queue, connect_ev gives up on the connection. */
	if (rc->password != NULL && rc->user != NULL)
		redisAsyncCommand(ac, hello_reply, rc, "AUTH %s %s", rc->user, rc->password);
	else if (rc->password != NULL)
		redisAsyncCommand(ac, hello_reply, rc, "AUTH %s", rc->password);
	redisAsyncCommand(ac, hello_reply, rc, "PING");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rcache *rc = ac->data;
	assert(rc->magic == RCACHE_MAGIC);
	conn_lost(rc, ac, status == REDIS_OK ? "connection closed" : ac->c.errstr);
}

/* Opens a connection (its connect completes later, in on_connect). */
static void conn_start(struct rcache *rc)
{
	char why[160];
	redisAsyncContext *ac = redisAsyncConnect(rc->host, rc->port);
	assert(rc->ac == NULL);
	if (ac == NULL || ac->err) {
		snprintf(why, sizeof(why), "%s", ac ? ac->c.errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		conn_failed(rc, why);
		return;
	}
	ac->data = rc;
	if (redisLibeventAttach(ac, rc->base) != REDIS_OK) {
		redisAsyncFree(ac);
		conn_failed(rc, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	rc->ac = ac;
	timer_in(rc->connect_ev, rc->connect_timeout_ms);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rcache *rc = arg;
	(void)fd, (void)what;
	assert(rc->magic == RCACHE_MAGIC);
	if (rc->ac == NULL)
		conn_start(rc);
}

static void connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rcache *rc = arg;
	(void)fd, (void)what;
	assert(rc->magic == RCACHE_MAGIC);
	if (rc->ac == NULL || rc->up)
		return;
	redisAsyncContext *ac = rc->ac;
	conn_failed(rc, "no answer to connect, AUTH or PING in time");
	redisAsyncFree(ac);
}

/* ---------------------------------------------------------------- requests */

/* Frees q once neither the caller nor hiredis holds it. */
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

/* The reply to a GET (NULL: the connection went before it came). */
static void get_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct rcache_req *q = priv;
	struct rcache *rc = q->rc;
	redisReply *reply = r;
	struct cache_verdict v;
	bool found = false;
	assert(q->magic == REQ_MAGIC && q->sent);
	q->sent = false;
	rc->inflight--;
	if (reply == NULL) {
		/* Counted once, by conn_failed, not once per request. */
		conn_lost(rc, ac, ac->c.errstr);
	} else if (!q->waiting) {
		/* Late (the caller had its miss) or cancelled: nothing to do. */
	} else if (reply->type == REDIS_REPLY_STRING) {
		const char *bad =
		        value_decode(rc, q->key, (const unsigned char *)reply->str, reply->len, &v);
		if (bad != NULL)
			note_bad_value(rc, q->key, bad);
		found = bad == NULL;
	} else if (reply->type != REDIS_REPLY_NIL) {
		note_error(rc, "GET",
		           reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply type");
	}
	if (q->waiting)
		req_answer(q, found, found ? &v : NULL);
	req_release(q);
}

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
		size_t n = key_name(rc, key, name);
		if (redisAsyncCommand(rc->ac, get_reply, q, "GET %b", name, n) == REDIS_OK) {
			q->sent = true;
			rc->inflight++;
			ms = rc->timeout_ms;
		} else {
			note_error(rc, "GET", "cannot queue the command");
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

static void set_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct rcache *rc = priv;
	redisReply *reply = r;
	assert(rc->magic == RCACHE_MAGIC);
	rc->inflight--;
	if (reply == NULL)
		conn_lost(rc, ac, ac->c.errstr);
	else if (reply->type != REDIS_REPLY_STATUS)
		note_error(rc, "SET",
		           reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply type");
}

void rcache_put(struct rcache *rc, const unsigned char key[CACHE_KEY_LEN],
                const struct cache_verdict *v)
{
	assert(rc->magic == RCACHE_MAGIC);
	unsigned char val[VALUE_MAX];
	char name[NAME_MAX_LEN];
	if (!rc->up || rc->inflight >= rc->max_inflight)
		return;
	size_t len = value_encode(rc, key, v, val);
	if (len == 0)
		return;
	size_t n = key_name(rc, key, name);
	if (redisAsyncCommand(rc->ac, set_reply, rc, "SET %b %b EX %u", name, n, val, len,
	                      rc->ttl_s) != REDIS_OK) {
		note_error(rc, "SET", "cannot queue the command");
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
	struct rcache *rc = calloc(1, sizeof(*rc));
	if (rc == NULL || (rc->secret = malloc(cfg->secret_len)) == NULL)
		abort();
	rc->magic = RCACHE_MAGIC;
	rc->base = base;
	rc->host = dup_or_null(cfg->host);
	rc->user = dup_or_null(cfg->user);
	rc->password = dup_or_null(cfg->password);
	rc->prefix = dup_or_null(prefix);
	rc->prefix_len = strlen(prefix);
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
	/* No callback fires from here on: requests hiredis holds come back
	 * through get_reply (NULL) as the context goes, and are freed there. */
	for (struct rcache_req *q = rc->reqs.next, *next; q != &rc->reqs; q = next) {
		next = q->next;
		q->waiting = false;
		req_release(q);
	}
	if (rc->ac != NULL) {
		redisAsyncContext *ac = rc->ac;
		rc->ac = NULL;
		rc->up = false;
		redisAsyncFree(ac);
	}
	assert(rc->reqs.next == &rc->reqs && rc->inflight == 0);
	event_free(rc->retry_ev);
	event_free(rc->connect_ev);
	free(rc->host);
	free(rc->user);
	free(rc->password);
	free(rc->prefix);
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
