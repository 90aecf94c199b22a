/*
 * bench_rcache: the shared tier against a real redis-server on loopback,
 * over TCP and over TLS. It starts its own redis-server (a plain and a TLS
 * port, certificates made with the openssl command in a temporary folder),
 * stores one verdict, then measures
 *   - latency: gets one at a time, each waiting for its answer (median and
 *     99th percentile, microseconds);
 *   - throughput: gets kept 200 outstanding, as many as fit in the time;
 * and, without Redis, resp_parse over a buffer of pipelined GET replies.
 * Every get must be a hit. Arguments: [seconds per throughput run, 2].
 * Built with -DBENCH_NO_TLS it measures TCP only (for an rcache without
 * TLS).
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rcache.h"
#ifndef BENCH_NO_TLS
#include "resp.h"
#endif

#define LATENCY_GETS 5000
#define WINDOW       200

static const unsigned char secret[] = "0123456789abcdef-bench-secret";

struct run {
	struct event_base *base;
	struct rcache *rc;
	unsigned char key[CACHE_KEY_LEN];
	uint64_t answered, found, outstanding;
	bool refill; /* throughput: each answer sends another get */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("free_port");
		exit(1);
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static void on_answer(void *arg, bool found, const struct cache_verdict *v)
{
	struct run *r = arg;
	(void)v;
	r->answered++;
	r->found += found;
	r->outstanding--;
	if (r->refill) {
		r->outstanding++;
		rcache_get(r->rc, r->key, on_answer, r);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool wait_up(struct run *r)
{
	struct rcache_stats st;
	for (uint64_t end = now_ns() + 5000000000u; now_ns() < end;) {
		event_base_loop(r->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		rcache_stats(r->rc, &st);
		if (st.up)
			return true;
		usleep(1000);
	}
	return false;
}

static void measure(const char *what, const struct rcache_config *cfg, double seconds)
{
	struct run r = {.base = event_base_new()};
	struct cache_verdict v;
	static uint64_t lat[LATENCY_GETS];
	memset(r.key, 0x5a, sizeof(r.key));
	r.rc = rcache_new(r.base, cfg);
	if (r.rc == NULL || !wait_up(&r)) {
		fprintf(stderr, "%s: Redis not up\n", what);
		exit(1);
	}
	cache_verdict_set(&v, CACHE_PASS, false, "clamav", "");
	rcache_put(r.rc, r.key, &v);

	for (int i = 0; i < LATENCY_GETS; i++) {
		uint64_t t0 = now_ns(), before = r.answered;
		r.outstanding++;
		rcache_get(r.rc, r.key, on_answer, &r);
		while (r.answered == before)
			event_base_loop(r.base, EVLOOP_ONCE);
		lat[i] = now_ns() - t0;
	}
	qsort(lat, LATENCY_GETS, sizeof(lat[0]), cmp_u64);
	uint64_t hits = r.found;

	r.answered = r.found = 0;
	r.refill = true;
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
	for (int i = 0; i < WINDOW; i++) {
		r.outstanding++;
		rcache_get(r.rc, r.key, on_answer, &r);
	}
	while (now_ns() < end)
		event_base_loop(r.base, EVLOOP_ONCE);
	uint64_t n = r.answered, found = r.found;
	double took = (double)(now_ns() - t0) / 1e9;
	r.refill = false;
	while (r.outstanding > 0)
		event_base_loop(r.base, EVLOOP_ONCE);
	printf("%-4s latency: median %6.1f us, p99 %6.1f us (%d gets, %llu hits); "
	       "throughput: %8.0f gets/s (%d outstanding, %llu gets, %llu hits)\n",
	       what, (double)lat[LATENCY_GETS / 2] / 1e3,
	       (double)lat[LATENCY_GETS * 99 / 100] / 1e3, LATENCY_GETS, (unsigned long long)hits,
	       (double)n / took, WINDOW, (unsigned long long)n, (unsigned long long)found);
	if (hits != LATENCY_GETS || found != n) {
		fprintf(stderr, "%s: not every get was a hit\n", what);
		exit(1);
	}
	rcache_free(r.rc);
	event_base_free(r.base);
}

#ifndef BENCH_NO_TLS
/* resp_parse over a buffer of pipelined replies like those to our GETs. */
static void measure_parser(void)
{
	enum { N = 10000, VLEN = 90 };
	static char buf[N * (VLEN + 8)];
	size_t len = 0;
	for (int i = 0; i < N; i++) {
		len += (size_t)sprintf(buf + len, "$%d\r\n", VLEN);
		memset(buf + len, 'v', VLEN);
		len += VLEN;
		memcpy(buf + len, "\r\n", 2);
		len += 2;
	}
	uint64_t replies = 0, t0 = now_ns();
	for (int round = 0; round < 200; round++) {
		for (size_t at = 0; at < len;) {
			struct resp_reply r;
			long n = resp_parse(buf + at, len - at, &r);
			if (n <= 0 || r.type != RESP_BULK)
				abort();
			at += (size_t)n;
			replies++;
		}
	}
	double took = (double)(now_ns() - t0) / 1e9;
	printf("resp_parse: %.1f M replies/s, %.0f MB/s (%d-byte bulk strings)\n",
	       (double)replies / took / 1e6, 200.0 * (double)len / took / 1e6, VLEN);
}
#endif

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2;
	char dir[] = "/tmp/bench_rcache.XXXXXX", cmd[2048], port[16], tls_port[16];
	char cert[128], key[128], ca[128];
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-days 2 -subj /CN=bench -addext subjectAltName=IP:127.0.0.1 -keyout key.pem "
	         "-out cert.pem >openssl.log 2>&1",
	         dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl failed: see %s/openssl.log\n", dir);
		return 1;
	}
	int p = free_port(), tp = free_port();
	snprintf(port, sizeof(port), "%d", p);
	snprintf(tls_port, sizeof(tls_port), "%d", tp);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
	signal(SIGPIPE, SIG_IGN);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "redis.log",
		       "--tls-port", tls_port, "--tls-cert-file", cert, "--tls-key-file", key,
		       "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", (char *)NULL);
		_exit(127);
	}
	struct rcache_config cfg = {
	        .host = "127.0.0.1",
	        .port = p,
	        .secret = secret,
	        .secret_len = sizeof(secret) - 1,
	        .timeout_ms = 1000,
	};
	usleep(200000);
	measure("TCP", &cfg, seconds);
#ifndef BENCH_NO_TLS
	cfg.port = tp;
	cfg.tls = true;
	cfg.tls_ca = ca;
	measure("TLS", &cfg, seconds);
	measure_parser();
#endif
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
