/*
 * Unit tests for rcache.c, the shared tier in Redis, against a real
 * redis-server: each test starts its own on a free loopback port, in a
 * temporary directory, with no persistence, and kills it at the end. The
 * test drives the libevent loop itself (EVLOOP_ONCE, with a 5 ms ticker so
 * that no turn blocks for long) up to a deadline, and checks what came back
 * and the counters of rcache_stats. A second, blocking connection (plain
 * TCP, RESP through resp.h) reads and writes raw values, to check the
 * layout and to play the part of whoever can write to Redis without the
 * secret. Slow Redis is a redis-server stopped with SIGSTOP; a Redis outage
 * is SIGKILL, then a new redis-server on the same port.
 *
 * TLS: the group setup makes a throwaway CA, a server certificate for
 * 127.0.0.1 and redis.test, a client certificate, and a second CA with a
 * server certificate of its own (not trusted), with the openssl command;
 * TLS tests start redis-server with a TLS port beside the plain one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifndef __SANITIZE_ADDRESS__
#include <malloc.h>
#endif

#include "rcache.h"
#include "resp.h"

#define PASSWORD     "t3st-pass word"
#define TIMEOUT_MS   50
#define SLACK_MS     100 /* scheduling slack allowed on top of a deadline */
#define NO_REDIS_MSG "redis-server not found: apt-get install redis-server"
#define HUGE_VALUE   (10 * 1024 * 1024)

static const unsigned char secret[] = "0123456789abcdef-test-secret";
static const char *redis_bin;
static char certs[64]; /* the folder of the test certificates */

/* Which certificate a TLS redis-server shows, and what it asks of clients. */
enum srv_tls { NO_TLS, TLS_GOOD, TLS_UNTRUSTED, TLS_CLIENT_CERT };

struct redis_srv {
	pid_t pid;
	int port;     /* plain TCP, for the test's own connection */
	int tls_port; /* for rcache when tls != NO_TLS */
	enum srv_tls tls;
	const char *password;
	char dir[64];
};

struct fixture {
	struct redis_srv srv;
	struct event_base *base;
	struct event *tick;
	struct rcache *rc;
	char ca[96], cert[96], key[96]; /* paths in certs */
};

/* What one get's callback reported. */
struct answer {
	int calls;
	bool found;
	struct cache_verdict v;
	uint64_t at_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A TCP port on 127.0.0.1 that nothing listens on (just now). */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* A reply read by the test's own connection. */
struct reply {
	enum resp_type type;
	long long integer;
	size_t len;
	char *str; /* STATUS, ERR, BULK: malloc'd, NUL added */
};

static void reply_free(struct reply *r)
{
	if (r != NULL)
		free(r->str);
	free(r);
}

/* Writes the command argv[0..argc) on fd and reads its reply; NULL if the
 * connection fails. */
static struct reply *sync_cmd(int fd, size_t argc, const char *const argv[], const size_t lens[])
{
	size_t n = resp_command(NULL, 0, argc, argv, lens);
	char *buf = malloc(n > RESP_MAX_REPLY ? n : RESP_MAX_REPLY);
	assert_non_null(buf);
	resp_command(buf, n, argc, argv, lens);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, n - off);
		if (w <= 0) {
			free(buf);
			return NULL;
		}
		off += (size_t)w;
	}
	size_t have = 0;
	long used;
	struct resp_reply rr;
	while ((used = resp_parse(buf, have, &rr)) == RESP_NEED_MORE) {
		ssize_t got = read(fd, buf + have, RESP_MAX_REPLY - have);
		if (got <= 0) {
			free(buf);
			return NULL;
		}
		have += (size_t)got;
	}
	assert_true(used > 0);
	struct reply *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->type = rr.type;
	r->integer = rr.integer;
	if (rr.str != NULL) {
		r->str = malloc(rr.len + 1);
		assert_non_null(r->str);
		memcpy(r->str, rr.str, rr.len);
		r->str[rr.len] = 0;
		r->len = rr.len;
	}
	free(buf);
	return r;
}

/* sync_cmd for up to 3 arguments: cmd, key, and val (val_len bytes) if not
 * NULL. */
static struct reply *sync_cmd3(int fd, const char *cmd, const char *key, const void *val,
                               size_t val_len)
{
	const char *argv[] = {cmd, key, val};
	const size_t lens[] = {strlen(cmd), key ? strlen(key) : 0, val_len};
	return sync_cmd(fd, key == NULL ? 1 : val == NULL ? 2 : 3, argv, lens);
}

/* A blocking connection to s's plain port, authenticated if s has a
 * password; -1 if it cannot be had. */
static int redis_sync(const struct redis_srv *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	struct timeval tv = {5, 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	if (s->password != NULL) {
		struct reply *r = sync_cmd3(fd, "AUTH", s->password, NULL, 0);
		bool ok = r != NULL && r->type == RESP_STATUS;
		reply_free(r);
		if (!ok) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Starts redis-server on s->port (and s->tls_port with s->tls; s->dir
 * exists) and waits until it answers. */
static void redis_start(struct redis_srv *s)
{
	char port[16], tls_port[16], log[96], cert[96], key[96], ca[96];
	const char *argv[40];
	int n = 0;
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	const char *base[] = {"--port",       port,   "--bind",    "127.0.0.1", "--save",      "",
	                      "--dir",        s->dir, "--logfile", log,         "--daemonize", "no",
	                      "--appendonly", "no"};
	argv[n++] = redis_bin;
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		argv[n++] = base[i];
	if (s->password != NULL) {
		argv[n++] = "--requirepass";
		argv[n++] = s->password;
	}
	if (s->tls != NO_TLS) {
		const char *who = s->tls == TLS_UNTRUSTED ? "evil" : "server";
		snprintf(tls_port, sizeof(tls_port), "%d", s->tls_port);
		snprintf(cert, sizeof(cert), "%s/%s.crt", certs, who);
		snprintf(key, sizeof(key), "%s/%s.key", certs, who);
		snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
		const char *t[] = {"--tls-port",         tls_port,
		                   "--tls-cert-file",    cert,
		                   "--tls-key-file",     key,
		                   "--tls-ca-cert-file", ca,
		                   "--tls-auth-clients", s->tls == TLS_CLIENT_CERT ? "yes" : "no"};
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			argv[n++] = t[i];
	}
	argv[n] = NULL;
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
		execv(redis_bin, (char **)argv);
		_exit(127);
	}
	for (uint64_t end = now_ms() + 5000; now_ms() < end; sleep_ms(10)) {
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid)
			fail_msg("redis-server exited at start (status %d); see %s", status, log);
		int fd = redis_sync(s);
		if (fd < 0)
			continue;
		struct reply *r = sync_cmd3(fd, "PING", NULL, NULL, 0);
		bool ok = r != NULL && r->type == RESP_STATUS;
		reply_free(r);
		close(fd);
		if (ok)
			return;
	}
	fail_msg("redis-server on port %d did not answer in 5 s", s->port);
}

static void redis_kill(struct redis_srv *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

/* Runs cmd [key [val]] on a fresh blocking connection and returns its
 * reply (see sync_cmd3). */
static struct reply *redis_cmd(const struct redis_srv *s, const char *cmd, const char *key,
                               const void *val, size_t val_len)
{
	int fd = redis_sync(s);
	assert_true(fd >= 0);
	struct reply *r = sync_cmd3(fd, cmd, key, val, val_len);
	close(fd);
	assert_non_null(r);
	return r;
}

/* SET name to size bytes of 'x' through s's plain port, streamed, so that
 * the test itself never holds the value. */
static void plant_huge(const struct redis_srv *s, const char *name, size_t size)
{
	char head[256], chunk[65536];
	int fd = redis_sync(s);
	assert_true(fd >= 0);
	int n = snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n",
	                 strlen(name), name, size);
	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(write(fd, head, (size_t)n), n);
	for (size_t left = size; left > 0;) {
		ssize_t w = write(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk));
		assert_true(w > 0);
		left -= (size_t)w;
	}
	assert_int_equal(write(fd, "\r\n", 2), 2);
	assert_int_equal(read(fd, head, sizeof(head)), 5);
	assert_memory_equal(head, "+OK\r\n", 5);
	close(fd);
}

#ifdef __SANITIZE_ADDRESS__
/* From ASan's runtime (sanitizer/allocator_interface.h, which gcc lacks). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes of heap in use now (the sanitizer's count under ASan). */
static size_t heap_now(void)
{
#ifdef __SANITIZE_ADDRESS__
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#endif
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

/* rcache's configuration for f's Redis: over TLS (to the TLS port,
 * trusting the test CA, no client certificate) if it has TLS. */
static struct rcache_config config_of(const struct fixture *f)
{
	bool tls = f->srv.tls != NO_TLS;
	struct rcache_config cfg = {
	        .host = "127.0.0.1",
	        .port = tls ? f->srv.tls_port : f->srv.port,
	        .password = f->srv.password,
	        .secret = secret,
	        .secret_len = sizeof(secret) - 1,
	        .timeout_ms = TIMEOUT_MS,
	        .tls = tls,
	        .tls_ca = tls ? f->ca : NULL,
	};
	return cfg;
}

/* Turns the loop until cond(f, arg) holds or ms pass; returns cond. */
static bool run_until(struct fixture *f, bool (*cond)(struct fixture *, const void *),
                      const void *arg, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	while (!cond(f, arg) && now_ms() < end)
		event_base_loop(f->base, EVLOOP_ONCE);
	return cond(f, arg);
}

static bool never(struct fixture *f, const void *arg)
{
	(void)f, (void)arg;
	return false;
}

static bool answered(struct fixture *f, const void *arg)
{
	(void)f;
	return ((const struct answer *)arg)->calls > 0;
}

static bool up_is(struct fixture *f, const void *arg)
{
	struct rcache_stats st;
	rcache_stats(f->rc, &st);
	return st.up == *(const bool *)arg;
}

static bool idle(struct fixture *f, const void *arg)
{
	struct rcache_stats st;
	(void)arg;
	rcache_stats(f->rc, &st);
	return st.inflight == 0;
}

static void run_for(struct fixture *f, unsigned ms)
{
	run_until(f, never, NULL, ms);
}

static bool wait_up(struct fixture *f, bool up, unsigned ms)
{
	return run_until(f, up_is, &up, ms);
}

static void on_answer(void *arg, bool found, const struct cache_verdict *v)
{
	struct answer *a = arg;
	a->calls++;
	a->found = found;
	a->at_ms = now_ms();
	if (found)
		a->v = *v;
	else
		assert_null(v);
}

/* Gets key, waits for the answer (at most ms), and returns when it came,
 * in ms after the call. */
static uint64_t get_wait(struct fixture *f, const unsigned char *key, struct answer *a, unsigned ms)
{
	memset(a, 0, sizeof(*a));
	uint64_t t0 = now_ms();
	assert_non_null(rcache_get(f->rc, key, on_answer, a));
	assert_int_equal(a->calls, 0); /* never from inside rcache_get */
	assert_true(run_until(f, answered, a, ms));
	return a->at_ms - t0;
}

static void key_of(unsigned i, unsigned char key[CACHE_KEY_LEN])
{
	char text[32];
	int n = snprintf(text, sizeof(text), "body %u", i);
	assert_int_equal(EVP_Digest(text, (size_t)n, key, NULL, EVP_sha256(), NULL), 1);
}

static void key_name(const unsigned char key[CACHE_KEY_LEN], char *name)
{
	int n = sprintf(name, "icapd:v1:");
	for (int i = 0; i < CACHE_KEY_LEN; i++)
		n += sprintf(name + n, "%02x", key[i]);
}

static struct rcache_stats stats(struct fixture *f)
{
	struct rcache_stats st;
	rcache_stats(f->rc, &st);
	return st;
}

/* Replaces f->rc with one made from cfg. */
static void reopen(struct fixture *f, const struct rcache_config *cfg)
{
	rcache_free(f->rc);
	f->rc = rcache_new(f->base, cfg);
	assert_non_null(f->rc);
}

static void assert_same_verdict(const struct cache_verdict *a, const struct cache_verdict *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->is_threat, b->is_threat);
	assert_string_equal(a->module, b->module);
	assert_string_equal(a->reason, b->reason);
}

/* ---------------------------------------------------------------- fixtures */

static int setup_with(void **state, const char *password, enum srv_tls tls)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->srv.dir, sizeof(f->srv.dir), "/tmp/test_rcache.XXXXXX");
	assert_non_null(mkdtemp(f->srv.dir));
	snprintf(f->ca, sizeof(f->ca), "%s/ca.crt", certs);
	snprintf(f->cert, sizeof(f->cert), "%s/client.crt", certs);
	snprintf(f->key, sizeof(f->key), "%s/client.key", certs);
	f->srv.port = free_port();
	f->srv.tls_port = tls != NO_TLS ? free_port() : 0;
	f->srv.tls = tls;
	f->srv.password = password;
	redis_start(&f->srv);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->tick = event_new(f->base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 5000};
	event_add(f->tick, &tv);
	struct rcache_config cfg = config_of(f);
	f->rc = rcache_new(f->base, &cfg);
	assert_non_null(f->rc);
	*state = f;
	if (password == NULL && (tls == NO_TLS || tls == TLS_GOOD))
		assert_true(wait_up(f, true, 2000));
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL, NO_TLS);
}

static int setup_auth(void **state)
{
	return setup_with(state, PASSWORD, NO_TLS);
}

static int setup_tls(void **state)
{
	return setup_with(state, NULL, TLS_GOOD);
}

static int setup_tls_auth(void **state)
{
	return setup_with(state, PASSWORD, TLS_GOOD);
}

static int setup_tls_untrusted(void **state)
{
	return setup_with(state, NULL, TLS_UNTRUSTED);
}

static int setup_tls_client_cert(void **state)
{
	return setup_with(state, NULL, TLS_CLIENT_CERT);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	rcache_free(f->rc);
	event_free(f->tick);
	event_base_free(f->base);
	redis_kill(&f->srv);
	char log[96];
	snprintf(log, sizeof(log), "%s/redis.log", f->srv.dir);
	unlink(log);
	rmdir(f->srv.dir);
	free(f);
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_put_then_get(void **state)
{
	struct fixture *f = *state;
	unsigned char k1[32], k2[32];
	struct cache_verdict pass, block;
	struct answer a;
	key_of(1, k1);
	key_of(2, k2);
	cache_verdict_set(&pass, CACHE_PASS, false, "clamav", "");
	cache_verdict_set(&block, CACHE_BLOCK, true, "clamav", "Eicar-Test-Signature");
	rcache_put(f->rc, k1, &pass);
	rcache_put(f->rc, k2, &block);

	/* Same connection, in order: the GETs see the SETs. */
	get_wait(f, k1, &a, 1000);
	assert_true(a.found);
	assert_same_verdict(&a.v, &pass);
	get_wait(f, k2, &a, 1000);
	assert_true(a.found);
	assert_same_verdict(&a.v, &block);

	struct rcache_stats st = stats(f);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 0);
	assert_int_equal(st.puts, 2);
	assert_int_equal(st.errors + st.bad_mac + st.timeouts + st.busy, 0);
	assert_true(st.up);
}

static void test_get_absent(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32];
	struct answer a;
	key_of(3, k);
	assert_true(get_wait(f, k, &a, 1000) <= TIMEOUT_MS);
	assert_false(a.found);
	assert_true(run_until(f, idle, NULL, 500));
	assert_int_equal(a.calls, 1);
	struct rcache_stats st = stats(f);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits + st.errors + st.bad_mac + st.timeouts, 0);
}

/* The bytes in Redis are those that rcache.h documents, with the TTL asked. */
static void test_value_layout(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], mac[32];
	char name[128];
	struct cache_verdict v;
	key_of(4, k);
	key_name(k, name);
	cache_verdict_set(&v, CACHE_BLOCK, true, "keyword", "confidential");
	rcache_put(f->rc, k, &v);
	assert_true(run_until(f, idle, NULL, 1000));

	struct reply *r = redis_cmd(&f->srv, "GET", name, NULL, 0);
	assert_int_equal(r->type, RESP_BULK);
	const unsigned char *p = (const unsigned char *)r->str;
	assert_int_equal(r->len, 5 + 7 + 12 + 32);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], CACHE_BLOCK);
	assert_int_equal(p[2], 1);
	assert_int_equal(p[3], 7);
	assert_int_equal(p[4], 12);
	assert_memory_equal(p + 5, "keywordconfidential", 19);
	unsigned char msg[32 + 24];
	memcpy(msg, k, 32);
	memcpy(msg + 32, p, 24);
	assert_non_null(
	        HMAC(EVP_sha256(), secret, sizeof(secret) - 1, msg, sizeof(msg), mac, NULL));
	assert_memory_equal(p + 24, mac, 32);
	reply_free(r);

	r = redis_cmd(&f->srv, "TTL", name, NULL, 0);
	assert_int_equal(r->type, RESP_INT);
	assert_true(r->integer > 3590 && r->integer <= 3600);
	reply_free(r);
}

/* Whoever can write to Redis must not be able to whitelist malware: values
 * signed with another secret, altered, cut or made up are ignored. */
static void test_forged_values_ignored(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32];
	char name[128];
	struct cache_verdict v;
	struct answer a;
	key_of(5, k);
	key_name(k, name);
	cache_verdict_set(&v, CACHE_BLOCK, true, "clamav", "Win.Test.EICAR_HDB-1");
	rcache_put(f->rc, k, &v);
	assert_true(run_until(f, idle, NULL, 1000));
	struct reply *r = redis_cmd(&f->srv, "GET", name, NULL, 0);
	assert_int_equal(r->type, RESP_BULK);
	unsigned char good[256];
	size_t len = r->len;
	memcpy(good, r->str, len);
	good[len] = 'x'; /* for the value one byte too long */
	reply_free(r);

	/* The right layout, a pass, signed with another secret. */
	unsigned char forged[5 + 6 + 32] = {1, CACHE_PASS, 0, 6, 0, 'c', 'l', 'a', 'm', 'a', 'v'};
	unsigned char msg[32 + 11];
	memcpy(msg, k, 32);
	memcpy(msg + 32, forged, 11);
	assert_non_null(HMAC(EVP_sha256(), "another secret, 32 bytes long...", 32, msg, sizeof(msg),
	                     forged + 11, NULL));
	/* The genuine block turned into a pass, MAC kept. */
	unsigned char flipped[256];
	memcpy(flipped, good, len);
	flipped[1] = CACHE_PASS;
	unsigned char junk[200];
	memset(junk, 0xff, sizeof(junk));
	struct {
		const void *p;
		size_t n;
	} bad[] = {
	        {forged, sizeof(forged)},
	        {flipped, len},
	        {good, len - 1},
	        {good, len + 1},
	        {"", 0},
	        {"x", 1},
	        {junk, sizeof(junk)},
	        {good + 1, len - 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = redis_cmd(&f->srv, "SET", name, bad[i].p, bad[i].n);
		reply_free(r);
		get_wait(f, k, &a, 1000);
		assert_false(a.found);
		assert_int_equal(stats(f).bad_mac, i + 1);
	}
	struct rcache_stats st = stats(f);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.errors, 0);
	assert_true(st.up);

	/* The genuine value put back verifies again. */
	r = redis_cmd(&f->srv, "SET", name, good, len);
	reply_free(r);
	get_wait(f, k, &a, 1000);
	assert_true(a.found);
	assert_same_verdict(&a.v, &v);
}

/* A value with a good MAC, but made for another key, is ignored. */
static void test_swapped_key_ignored(void **state)
{
	struct fixture *f = *state;
	unsigned char ka[32], kb[32];
	char na[128], nb[128];
	struct cache_verdict pass;
	struct answer a;
	key_of(6, ka);
	key_of(7, kb);
	key_name(ka, na);
	key_name(kb, nb);
	cache_verdict_set(&pass, CACHE_PASS, false, "clamav", "");
	rcache_put(f->rc, ka, &pass);
	assert_true(run_until(f, idle, NULL, 1000));
	struct reply *r = redis_cmd(&f->srv, "GET", na, NULL, 0);
	assert_int_equal(r->type, RESP_BULK);
	reply_free(redis_cmd(&f->srv, "SET", nb, r->str, r->len));
	reply_free(r);

	get_wait(f, kb, &a, 1000);
	assert_false(a.found);
	assert_int_equal(stats(f).bad_mac, 1);
	get_wait(f, ka, &a, 1000);
	assert_true(a.found);
	assert_int_equal(stats(f).hits, 1);
}

/* An error reply (a list where a string should be) is a miss, counted as an
 * error; the connection stays up and serves the next get. */
static void test_error_reply(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], k2[32];
	char name[128];
	struct cache_verdict v;
	struct answer a;
	key_of(8, k);
	key_of(9, k2);
	key_name(k, name);
	reply_free(redis_cmd(&f->srv, "RPUSH", name, "x", 1));
	get_wait(f, k, &a, 1000);
	assert_false(a.found);
	struct rcache_stats st = stats(f);
	assert_int_equal(st.errors, 1);
	assert_true(st.up);
	cache_verdict_set(&v, CACHE_PASS, false, "echo", "");
	rcache_put(f->rc, k2, &v);
	get_wait(f, k2, &a, 1000);
	assert_true(a.found);
}

/* Only passes and blocks are sent; strings without a NUL are cut. */
static void test_put_kinds_and_truncation(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], k2[32];
	struct cache_verdict v;
	struct answer a;
	key_of(10, k);
	key_of(11, k2);
	cache_verdict_set(&v, 2, false, "clamav", "scan error");
	rcache_put(f->rc, k, &v);
	assert_int_equal(stats(f).puts, 0);
	get_wait(f, k, &a, 1000);
	assert_false(a.found);

	memset(&v, 0, sizeof(v));
	v.kind = CACHE_BLOCK;
	memset(v.module, 'm', sizeof(v.module));
	memset(v.reason, 'r', sizeof(v.reason));
	rcache_put(f->rc, k2, &v);
	get_wait(f, k2, &a, 1000);
	assert_true(a.found);
	assert_int_equal(strlen(a.v.module), sizeof(v.module) - 1);
	assert_int_equal(strlen(a.v.reason), sizeof(v.reason) - 1);
	assert_int_equal(a.v.reason[0], 'r');
}

static void test_auth(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32];
	struct cache_verdict v;
	struct answer a;
	key_of(12, k);
	assert_true(wait_up(f, true, 2000));
	cache_verdict_set(&v, CACHE_BLOCK, false, "urlfilter", "gambling");
	rcache_put(f->rc, k, &v);
	get_wait(f, k, &a, 1000);
	assert_true(a.found);
	assert_same_verdict(&a.v, &v);

	/* AUTH user password: requirepass is the password of "default". */
	struct rcache_config cfg = config_of(f);
	cfg.user = "default";
	reopen(f, &cfg);
	assert_true(wait_up(f, true, 2000));
	get_wait(f, k, &a, 1000);
	assert_true(a.found);
}

/* A wrong password, or none, leaves the tier down: gets are misses at once. */
static void test_auth_wrong(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	unsigned char k[32];
	struct answer a;
	key_of(13, k);
	const char *users[] = {NULL, NULL, "nobody"};
	const char *passwords[] = {"wrong", NULL, PASSWORD};
	for (int i = 0; i < 3; i++) {
		cfg.user = users[i];
		cfg.password = passwords[i];
		reopen(f, &cfg);
		run_for(f, 300);
		struct rcache_stats st = stats(f);
		assert_false(st.up);
		assert_true(st.errors >= 1);
		assert_true(get_wait(f, k, &a, 1000) <= 20);
		assert_false(a.found);
		assert_int_equal(stats(f).timeouts, 0);
	}
}

/* Redis killed: gets end within the timeout, the tier goes down, gets are
 * then misses at once; a new Redis on the port is found again on retry. */
static void test_redis_restart(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32];
	struct cache_verdict v;
	struct answer a, a2;
	key_of(14, k);
	cache_verdict_set(&v, CACHE_PASS, false, "clamav", "");
	rcache_put(f->rc, k, &v);
	get_wait(f, k, &a, 1000);
	assert_true(a.found);

	redis_kill(&f->srv);
	memset(&a2, 0, sizeof(a2));
	uint64_t t0 = now_ms();
	rcache_get(f->rc, k, on_answer, &a2);
	assert_true(run_until(f, answered, &a2, 2000));
	assert_false(a2.found);
	assert_true(a2.at_ms - t0 <= TIMEOUT_MS + SLACK_MS);
	assert_true(wait_up(f, false, 500));
	assert_true(get_wait(f, k, &a, 1000) <= 20);
	assert_false(a.found);
	assert_true(stats(f).errors >= 1);

	redis_start(&f->srv); /* empty: no persistence */
	t0 = now_ms();
	assert_true(wait_up(f, true, 1000 + 1000 + SLACK_MS));
	print_message("reconnected %llu ms after the restart\n",
	              (unsigned long long)(now_ms() - t0));
	rcache_put(f->rc, k, &v);
	get_wait(f, k, &a, 1000);
	assert_true(a.found);
	assert_true(run_until(f, idle, NULL, 500));
}

/* A Redis that does not answer: the get is a miss after timeout_ms, and the
 * late reply, when it comes, is ignored. */
static void test_slow_redis(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32];
	struct cache_verdict v;
	struct answer a;
	key_of(15, k);
	cache_verdict_set(&v, CACHE_PASS, false, "clamav", "");
	rcache_put(f->rc, k, &v);
	get_wait(f, k, &a, 1000);
	assert_true(a.found);

	kill(f->srv.pid, SIGSTOP);
	uint64_t took = get_wait(f, k, &a, 1000);
	assert_false(a.found);
	assert_true(took >= TIMEOUT_MS - 2 && took <= TIMEOUT_MS + SLACK_MS);
	struct rcache_stats st = stats(f);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.inflight, 1);
	run_for(f, 250);
	kill(f->srv.pid, SIGCONT);
	assert_true(run_until(f, idle, NULL, 1000));
	assert_int_equal(a.calls, 1);
	st = stats(f);
	assert_true(st.up);
	assert_int_equal(st.hits, 1);
	get_wait(f, k, &a, 1000);
	assert_true(a.found);
}

/* A cancelled get never calls back: sent, stuck on a stopped Redis, or
 * answered at once while down. */
static void test_cancel(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32];
	struct answer a = {0};
	key_of(16, k);
	rcache_cancel(rcache_get(f->rc, k, on_answer, &a));
	assert_true(run_until(f, idle, NULL, 1000));
	run_for(f, TIMEOUT_MS + 20);

	kill(f->srv.pid, SIGSTOP);
	struct rcache_req *q = rcache_get(f->rc, k, on_answer, &a);
	run_for(f, 20);
	rcache_cancel(q);
	run_for(f, TIMEOUT_MS + 20);
	kill(f->srv.pid, SIGCONT);
	assert_true(run_until(f, idle, NULL, 1000));

	redis_kill(&f->srv);
	assert_true(wait_up(f, false, 1000));
	rcache_cancel(rcache_get(f->rc, k, on_answer, &a));
	run_for(f, 30);
	assert_int_equal(a.calls, 0);
	struct rcache_stats st = stats(f);
	assert_int_equal(st.hits + st.misses + st.timeouts, 0);
}

/* Beyond max_inflight requests out, gets are misses at once. */
static void test_inflight_cap(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	unsigned char k[32];
	struct answer a[6];
	cfg.max_inflight = 4;
	reopen(f, &cfg);
	assert_true(wait_up(f, true, 2000));
	key_of(17, k);
	memset(a, 0, sizeof(a));
	kill(f->srv.pid, SIGSTOP);
	uint64_t t0 = now_ms();
	for (int i = 0; i < 6; i++)
		rcache_get(f->rc, k, on_answer, &a[i]);
	assert_true(run_until(f, answered, &a[5], 1000));
	assert_true(a[4].calls == 1 && a[4].at_ms - t0 < TIMEOUT_MS);
	struct rcache_stats st = stats(f);
	assert_int_equal(st.busy, 2);
	assert_int_equal(st.inflight, 4);
	for (int i = 0; i < 4; i++)
		assert_true(run_until(f, answered, &a[i], 1000));
	assert_int_equal(stats(f).timeouts, 4);
	kill(f->srv.pid, SIGCONT);
	assert_true(run_until(f, idle, NULL, 1000));
}

/* rcache_free with gets out: no callback, nothing leaks (ASan). */
static void test_free_with_pending(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32];
	struct answer a = {0};
	key_of(18, k);
	kill(f->srv.pid, SIGSTOP);
	for (int i = 0; i < 3; i++)
		rcache_get(f->rc, k, on_answer, &a);
	run_for(f, 10);
	rcache_free(f->rc);
	f->rc = NULL;
	run_for(f, TIMEOUT_MS + 20);
	assert_int_equal(a.calls, 0);
	kill(f->srv.pid, SIGCONT);
}

/* A callback may start another get (and put) from inside. */
struct chain {
	struct fixture *f;
	unsigned char k[32];
	struct answer inner;
	int calls;
};

static void chain_cb(void *arg, bool found, const struct cache_verdict *v)
{
	struct chain *c = arg;
	(void)v;
	c->calls++;
	assert_false(found);
	struct cache_verdict pass;
	cache_verdict_set(&pass, CACHE_PASS, false, "echo", "");
	rcache_put(c->f->rc, c->k, &pass);
	rcache_get(c->f->rc, c->k, on_answer, &c->inner);
}

static void test_reentrant_callback(void **state)
{
	struct fixture *f = *state;
	struct chain c = {.f = f};
	key_of(19, c.k);
	rcache_get(f->rc, c.k, chain_cb, &c);
	assert_true(run_until(f, answered, &c.inner, 1000));
	assert_int_equal(c.calls, 1);
	assert_true(c.inner.found);
}

/* No Redis at first: the tier is down, and gets are misses at once. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	unsigned char k[32];
	struct answer a;
	key_of(20, k);
	cfg.port = free_port();
	reopen(f, &cfg);
	run_for(f, 50);
	struct rcache_stats st = stats(f);
	assert_false(st.up);
	assert_int_equal(st.errors, 1);
	assert_true(get_wait(f, k, &a, 1000) <= 20);
	assert_false(a.found);
}

/* A Redis that accepts the connection but never answers PING: given up
 * after connect_timeout_ms, then found again once it answers. */
static void test_connect_timeout(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	cfg.connect_timeout_ms = 200;
	cfg.retry_min_ms = 100;
	cfg.retry_max_ms = 400;
	kill(f->srv.pid, SIGSTOP);
	reopen(f, &cfg);
	run_for(f, 100);
	assert_int_equal(stats(f).errors, 0); /* still waiting for PONG */
	run_for(f, 150);
	struct rcache_stats st = stats(f);
	assert_false(st.up);
	assert_int_equal(st.errors, 1);
	kill(f->srv.pid, SIGCONT);
	assert_true(wait_up(f, true, 200 + 400 + 200 + SLACK_MS));
}

/* Gets key and checks that it is a miss that cost a connection: the reply
 * was refused, the connection dropped (and later made again). Returns the
 * most heap the process held while the reply was coming, over what it held
 * before the get. */
static size_t get_dropped(struct fixture *f, const unsigned char *key)
{
	struct answer a = {0};
	struct rcache_stats st0 = stats(f);
	size_t before = heap_now(), most = before;
	assert_non_null(rcache_get(f->rc, key, on_answer, &a));
	for (uint64_t end = now_ms() + 3000; a.calls == 0 && now_ms() < end;) {
		event_base_loop(f->base, EVLOOP_ONCE);
		size_t h = heap_now();
		most = h > most ? h : most;
	}
	assert_int_equal(a.calls, 1);
	assert_false(a.found);
	struct rcache_stats st = stats(f);
	assert_false(st.up);
	assert_int_equal(st.errors, st0.errors + 1);
	assert_int_equal(st.bad_mac, st0.bad_mac);
	assert_int_equal(st.inflight, 0);
	return most - before;
}

/* A 10 MB value where a verdict should be: refused at its length line, so
 * that the heap does not grow by anything like its size; the get is a miss
 * at once (not a timeout), the error counted, and the connection, dropped,
 * comes back. Over TLS as over TCP. */
static void test_huge_value(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	unsigned char k[32];
	char name[128];
	struct cache_verdict v;
	struct answer a;
	cfg.retry_min_ms = 100;
	cfg.timeout_ms = 2000; /* the miss must come from the drop, however slow the machine */
	reopen(f, &cfg);
	assert_true(wait_up(f, true, 2000));
	key_of(21, k);
	key_name(k, name);
	for (int i = 0; i < 3; i++) {
		plant_huge(&f->srv, name, HUGE_VALUE);
		size_t grew = get_dropped(f, k);
		print_message("heap grew by at most %zu bytes while the reply came\n", grew);
		assert_true(grew < HUGE_VALUE / 10);
		assert_int_equal(stats(f).timeouts, 0);
		assert_true(wait_up(f, true, 100 + 1000));
	}
	cache_verdict_set(&v, CACHE_PASS, false, "clamav", "");
	rcache_put(f->rc, k, &v);
	get_wait(f, k, &a, 3000);
	assert_true(a.found);
	assert_int_equal(stats(f).hits, 1);
}

/* Over TLS, with the test CA: puts and gets as over TCP; the bytes in Redis
 * are the same. */
static void test_tls_put_get(void **state)
{
	struct fixture *f = *state;
	unsigned char k1[32], k2[32];
	char name[128];
	struct cache_verdict pass, block;
	struct answer a;
	key_of(30, k1);
	key_of(31, k2);
	cache_verdict_set(&pass, CACHE_PASS, false, "clamav", "");
	cache_verdict_set(&block, CACHE_BLOCK, true, "clamav", "Eicar-Test-Signature");
	rcache_put(f->rc, k1, &pass);
	rcache_put(f->rc, k2, &block);
	get_wait(f, k1, &a, 1000);
	assert_true(a.found);
	assert_same_verdict(&a.v, &pass);
	get_wait(f, k2, &a, 1000);
	assert_true(a.found);
	assert_same_verdict(&a.v, &block);
	key_name(k2, name);
	struct reply *r = redis_cmd(&f->srv, "GET", name, NULL, 0);
	assert_int_equal(r->type, RESP_BULK);
	assert_int_equal(r->len, 5 + 6 + 20 + 32);
	assert_memory_equal(r->str + 5, "clamavEicar-Test-Signature", 26);
	reply_free(r);
	struct rcache_stats st = stats(f);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.errors + st.bad_mac + st.timeouts + st.busy, 0);
}

/* The tier stays down (gets are misses at once) with cfg; the failure is
 * counted. */
static void assert_stays_down(struct fixture *f, const struct rcache_config *cfg)
{
	unsigned char k[32];
	struct answer a;
	key_of(32, k);
	reopen(f, cfg);
	run_for(f, 300);
	struct rcache_stats st = stats(f);
	assert_false(st.up);
	assert_true(st.errors >= 1);
	assert_true(get_wait(f, k, &a, 1000) <= 20);
	assert_false(a.found);
	assert_int_equal(stats(f).timeouts, 0);
}

/* A server certificate from a CA not trusted: no connection. Trusting that
 * CA instead lets it in: what failed was the chain. */
static void test_tls_untrusted(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	char evil_ca[96];
	assert_stays_down(f, &cfg);
	snprintf(evil_ca, sizeof(evil_ca), "%s/evilca.crt", certs);
	cfg.tls_ca = evil_ca;
	reopen(f, &cfg);
	assert_true(wait_up(f, true, 2000));
}

/* The certificate must name the server: 127.0.0.1 by default (an IP
 * address, checked as one), or tls_server_name (a DNS name, also sent as
 * SNI). The system's CAs do not know the test CA. */
static void test_tls_server_name(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	cfg.tls_server_name = "redis.test";
	reopen(f, &cfg);
	assert_true(wait_up(f, true, 2000));
	cfg.tls_server_name = "127.0.0.1";
	reopen(f, &cfg);
	assert_true(wait_up(f, true, 2000));
	cfg.tls_server_name = "other.test";
	assert_stays_down(f, &cfg);
	cfg.tls_server_name = "sub.redis.test";
	assert_stays_down(f, &cfg);
	cfg.tls_server_name = "127.0.0.2";
	assert_stays_down(f, &cfg);
	cfg.tls_server_name = NULL;
	cfg.tls_ca = NULL;
	assert_stays_down(f, &cfg);
}

/* A Redis with tls-auth-clients: no way in without a client certificate,
 * in with ours. */
static void test_tls_client_cert(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	unsigned char k[32];
	struct cache_verdict v;
	struct answer a;
	assert_stays_down(f, &cfg);
	cfg.tls_cert = f->cert;
	cfg.tls_key = f->key;
	reopen(f, &cfg);
	assert_true(wait_up(f, true, 2000));
	key_of(33, k);
	cache_verdict_set(&v, CACHE_BLOCK, true, "clamav", "Eicar");
	rcache_put(f->rc, k, &v);
	get_wait(f, k, &a, 1000);
	assert_true(a.found);
	assert_same_verdict(&a.v, &v);
}

/* TLS to a port that speaks plain RESP, and plain TCP to a TLS port: both
 * fail (within connect_timeout_ms), neither hangs or crashes. */
static void test_tls_mismatch(void **state)
{
	struct fixture *f = *state;
	struct rcache_config cfg = config_of(f);
	cfg.connect_timeout_ms = 200;
	cfg.port = f->srv.port;
	assert_stays_down(f, &cfg);
	cfg.port = f->srv.tls_port;
	cfg.tls = false;
	assert_stays_down(f, &cfg);
}

/* TLS files that cannot be used: rcache_new says so and returns NULL. */
static void test_tls_bad_files(void **state)
{
	struct event_base *base = event_base_new();
	char ca[96], cert[96], key[96], other_key[96];
	struct rcache_config cfg = {
	        .host = "127.0.0.1",
	        .secret = secret,
	        .secret_len = sizeof(secret) - 1,
	        .tls = true,
	};
	(void)state;
	snprintf(ca, sizeof(ca), "%s/ca.crt", certs);
	snprintf(cert, sizeof(cert), "%s/client.crt", certs);
	snprintf(key, sizeof(key), "%s/client.key", certs);
	snprintf(other_key, sizeof(other_key), "%s/server.key", certs);

	cfg.tls_ca = "/nonexistent/ca.crt";
	assert_null(rcache_new(base, &cfg));
	cfg.tls_ca = key; /* not a certificate */
	assert_null(rcache_new(base, &cfg));
	cfg.tls_ca = ca;
	cfg.tls_cert = cert; /* without its key */
	assert_null(rcache_new(base, &cfg));
	cfg.tls_key = other_key; /* not its key */
	assert_null(rcache_new(base, &cfg));
	cfg.tls_cert = NULL;
	cfg.tls_key = key;
	assert_null(rcache_new(base, &cfg));
	cfg.tls_cert = cert;
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	const char *bad_names[] = {"", long_name};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		cfg.tls_server_name = bad_names[i];
		assert_null(rcache_new(base, &cfg));
	}
	cfg.tls_server_name = NULL;
	struct rcache *rc = rcache_new(base, &cfg);
	assert_non_null(rc); /* no Redis there: it just keeps trying */
	rcache_free(rc);
	event_base_free(base);
}

static void test_config_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct rcache_config cfg = {.host = "127.0.0.1", .secret = secret, .secret_len = 15};
	(void)state;
	assert_null(rcache_new(base, &cfg));
	cfg.secret_len = 16;
	cfg.host = NULL;
	assert_null(rcache_new(base, &cfg));
	cfg.host = "127.0.0.1";
	cfg.prefix = "a-prefix-that-is-much-longer-than-sixty-four-bytes-which-is-the-limit";
	assert_null(rcache_new(base, &cfg));
	event_base_free(base);
}

/* Makes the test certificates in certs (see the top of the file). */
static int make_certs(void)
{
	char cmd[2048];
	snprintf(certs, sizeof(certs), "/tmp/test_rcache_certs.XXXXXX");
	if (mkdtemp(certs) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd),
	         "cd %s && exec >openssl.log 2>&1 && set -e\n"
	         "printf 'subjectAltName=IP:127.0.0.1,DNS:redis.test\\n' >server.ext\n"
	         "printf 'extendedKeyUsage=clientAuth\\n' >client.ext\n"
	         "key='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
	         "for ca in ca evilca; do\n"
	         "  openssl req -x509 $key -days 2 -subj /CN=$ca -keyout $ca.key -out $ca.crt\n"
	         "done\n"
	         "mk() {\n"
	         "  openssl req -new $key -subj /CN=$1 -keyout $1.key -out $1.csr\n"
	         "  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial \\\n"
	         "    -days 2 -extfile $3 -out $1.crt\n"
	         "}\n"
	         "mk server ca server.ext\n"
	         "mk client ca client.ext\n"
	         "mk evil evilca server.ext\n",
	         certs);
	if (system(cmd) != 0) {
		print_error("cannot make test certificates: see %s/openssl.log\n", certs);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certs);
	return system(cmd) == 0 ? 0 : -1;
}

/* Finds redis-server, or fails the whole run with how to install it;
 * makes the test certificates. */
static int group_setup(void **state)
{
	static const char *const where[] = {"/usr/bin/redis-server", "/usr/sbin/redis-server",
	                                    "/usr/local/bin/redis-server"};
	(void)state;
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			redis_bin = where[i];
	if (redis_bin == NULL) {
		print_error("%s\n", NO_REDIS_MSG);
		return -1;
	}
	signal(SIGPIPE, SIG_IGN); /* as icapd does: writes to a dead Redis */
	return make_certs();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_put_then_get, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_get_absent, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_value_layout, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_forged_values_ignored, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_swapped_key_ignored, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_error_reply, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_put_kinds_and_truncation, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_auth, setup_auth, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_wrong, setup_auth, teardown),
	        cmocka_unit_test_setup_teardown(test_redis_restart, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_slow_redis, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_inflight_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_free_with_pending, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_reentrant_callback, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
	        cmocka_unit_test(test_config_refused),
	        cmocka_unit_test_setup_teardown(test_huge_value, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_huge_value, setup_tls, teardown),
	        cmocka_unit_test_setup_teardown(test_tls_put_get, setup_tls, teardown),
	        cmocka_unit_test_setup_teardown(test_auth, setup_tls_auth, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_wrong, setup_tls_auth, teardown),
	        cmocka_unit_test_setup_teardown(test_tls_untrusted, setup_tls_untrusted, teardown),
	        cmocka_unit_test_setup_teardown(test_tls_server_name, setup_tls, teardown),
	        cmocka_unit_test_setup_teardown(test_tls_client_cert, setup_tls_client_cert,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_tls_mismatch, setup_tls, teardown),
	        cmocka_unit_test(test_tls_bad_files),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
