/*
 * main: command line, start-up, signals, and the event loop.
 *
 * Start-up order: read and check the configuration (every error reported),
 * open the logs, bind the listeners (so a taken port fails loudly, before
 * going to the background), detach unless -f, drop root for the "user" of
 * the configuration (everything that needed root is done by then: the
 * listeners are bound, the TLS keys and the Redis secret read, the logs
 * open), start the scan threads (after the fork: threads do not survive
 * it), and run the loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <malloc.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "conn.h"
#include "generation.h"
#include "listener.h"
#include "log.h"
#include "netaddr.h"
#include "privdrop.h"
#include "reload.h"
#include "check_url_cli.h"
#include "scan_cli.h"
#include "server.h"
#include "rcache.h"
#include "vcache.h"
#include "scanner_pool.h"
#include "workq.h"

#ifndef ICAPD_SYSCONFDIR
#define ICAPD_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF ICAPD_SYSCONFDIR "/icapd/icapd.conf"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: icapd [-f] [-t] [-c FILE] [-l ADDR:PORT] [-a ADDR:PORT]\n"
	        "       icapd --scan FILE [-c FILE] [--service /respmod] [--header 'N: v']...\n"
	        "       icapd --check-url URL [-c FILE] [--service /reqmod] [--client ADDR]\n"
	        "             [--user NAME]\n"
	        "  -c FILE       configuration file (default " DEFAULT_CONF ")\n"
	        "  -f            stay in the foreground (for systemd and make run)\n"
	        "  -t            check the configuration, report every error, exit\n"
	        "  -l ADDR:PORT  listen here instead of the file's \"listen\"\n"
	        "  -a ADDR:PORT  admin listener (/metrics, /healthz) here\n"
	        "  -V            version\n"
	        "  -h            this help and the list of directives\n"
	        "  --scan FILE   run a service's modules on FILE as a message body; prints\n"
	        "                \"clean\" (exit 0) or \"block MODULE REASON\" (exit 1); 2: error\n"
	        "  --check-url URL  judge URL (host:port: a CONNECT) as a service's URL\n"
	        "                filter would for that client; prints \"block CATEGORY\n"
	        "                LIST-FILE:LINE ...\" or \"block - (default ...)\" (exit 1),\n"
	        "                \"allow (RULE)\" (exit 0) or \"error: ...\" (exit 2)\n"
	        "Signals: HUP reloads the configuration, TERM stops gracefully,\n"
	        "USR1 reopens log files.\n\n");
}

void server_update_accepting(struct server *s)
{
	bool want = !s->stopping && s->nconns < s->gen->conf->max_connections;
	if (want != s->accepting)
		listener_set_accepting(s, want);
}

bool server_scans_saturated(const struct server *s)
{
	if (s->gen->scanners != NULL)
		return scanner_pool_saturated(s->gen->scanners, s->scan_turns);
	return s->workq != NULL && workq_saturated(s->workq, s->scan_turns);
}

void server_conn_closed(struct server *s)
{
	s->nconns--;
	if (s->stopping) {
		if (s->nconns == 0)
			event_base_loopexit(s->base, NULL);
		return;
	}
	server_update_accepting(s);
}

static void stop_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	log_warn("shutdown: %zu connections still busy after shutdown_timeout; closing them",
	         s->nconns);
	event_base_loopexit(s->base, NULL);
}

static void server_stop(struct server *s)
{
	if (s->stopping) {
		log_warn("second stop signal: exiting now");
		event_base_loopexit(s->base, NULL);
		return;
	}
	log_info("stopping: no new connections, %zu open", s->nconns);
	s->stopping = true;
	listener_close_all(s);
	conn_close_idle(s);
	if (s->nconns == 0) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	unsigned long long ms = s->gen->conf->shutdown_timeout_ms;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	s->stop_deadline = evtimer_new(s->base, stop_deadline_cb, s);
	evtimer_add(s->stop_deadline, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	(void)what;
	switch (sig) {
	case SIGHUP:
		if (!s->stopping)
			reload_start(s);
		break;
	case SIGUSR1:
		log_reopen();
		break;
	default:
		server_stop(s);
		break;
	}
}

/* New signatures or lists on disk: reload, as SIGHUP would. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	(void)fd;
	(void)what;
	if (!s->stopping && generation_stale(s->gen)) {
		log_info("module inputs changed on disk");
		reload_start(s);
	}
}

/* The shared verdict tier of cache { redis ...; }: connects in the
 * background; the secret that signs entries comes from its own file. Read
 * once, at start-up, like the TLS files (the SSL_CTX is built here, by
 * rcache_new): a reload does not change the cache block. */
static struct rcache *open_redis(struct event_base *base, const struct conf *c)
{
	struct netaddr na;
	char host[64];
	unsigned char secret[4096];
	size_t n = 0;

	if (netaddr_parse(c->redis, &na) < 0)
		return NULL;
	netaddr_host((struct sockaddr *)&na.ss, host, sizeof(host));
	FILE *f = fopen(c->redis_secret_file, "rb");
	if (f != NULL) {
		n = fread(secret, 1, sizeof(secret), f);
		fclose(f);
	}
	if (n < RCACHE_SECRET_MIN) {
		log_error("redis_secret_file %s: cannot read %d bytes or more",
		          c->redis_secret_file, RCACHE_SECRET_MIN);
		return NULL;
	}
	struct rcache_config rc = {
	        .host = host,
	        .port = ntohs(na.ss.ss_family == AF_INET6
	                              ? ((struct sockaddr_in6 *)&na.ss)->sin6_port
	                              : ((struct sockaddr_in *)&na.ss)->sin_port),
	        .password = c->redis_password,
	        .secret = secret,
	        .secret_len = n,
	        .timeout_ms = (unsigned)c->redis_timeout_ms,
	        .ttl_s = c->cache_ttl_ms >= 1000 ? (unsigned)(c->cache_ttl_ms / 1000) : 1,
	        .tls = c->redis_tls,
	        .tls_ca = c->redis_tls_ca,
	        .tls_cert = c->redis_tls_cert,
	        .tls_key = c->redis_tls_key,
	        .tls_server_name = c->redis_tls_server_name,
	};
	struct rcache *r = rcache_new(base, &rc);
	OPENSSL_cleanse(secret, sizeof(secret));
	return r;
}

static int check_config(const char *path, const struct generation_overrides *ov)
{
	struct generation *g = generation_build(path, ov, NULL, 0, stderr);
	if (g == NULL)
		return 1;
	printf("%s: configuration ok (%zu services)\n", g->conf->path, g->conf->nservices);
	generation_unref(g);
	return 0;
}

static int detach(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	FILE *f = freopen("/dev/null", "r", stdin);
	f = f ? freopen("/dev/null", "w", stdout) : NULL;
	f = f ? freopen("/dev/null", "w", stderr) : NULL;
	return f ? 0 : -1;
}

/* Everything main set up, in the order it can go; also after a failed
 * start, where parts are missing. */
static void server_free(struct server *s)
{
	conn_close_all(s);
	if (s->turn_timer != NULL)
		event_free(s->turn_timer);
	workq_free(s->workq);
	if (s->scanners != NULL)
		scanner_pools_fail_all(s->scanners);
	vcache_free(s->vcache);
	rcache_free(s->rcache);
	if (s->watch != NULL)
		event_free(s->watch);
	reload_cleanup(s);
	listener_close_all(s);
	admin_close(s);
	for (int i = 0; i < 4; i++)
		if (s->sigev[i] != NULL)
			event_free(s->sigev[i]);
	if (s->stop_deadline != NULL)
		event_free(s->stop_deadline);
	generation_unref(s->gen);
	scanner_pools_free(s->scanners);
	free(s->conf_path);
	if (s->base != NULL)
		event_base_free(s->base);
	libevent_global_shutdown();
}

static bool no_build_running(void *arg)
{
	return !reload_building(arg);
}

/* The scanner processes of the first generation, or the scan threads. */
static int start_scanning(struct server *s)
{
	if (!s->gen->conf->scan_isolation) {
		s->workq = workq_new(s->base, (unsigned)s->gen->conf->scan_threads,
		                     conn_resume_scan_waiters, s);
		if (s->workq == NULL) {
			log_error("cannot start the scan threads");
			return -1;
		}
		return 0;
	}
	struct scanner_pools_config cfg = {
	        .drained = conn_resume_scan_waiters,
	        .can_fork = no_build_running,
	        .arg = s,
	};
	s->scanners = scanner_pools_new(s->base, &cfg);
	return scanner_pools_attach(s->scanners, s->gen);
}

/*
 * Bodies move through the heap in blocks of 16 KiB to 1 MiB. glibc serves
 * blocks over 128 KiB with fresh mmap()s and gives them back on free, so
 * every large body paid for page faults and zeroed pages again: 40 % of
 * the CPU of a cached 1 MiB verdict. Keeping such blocks in the heap
 * (and trimming it only past 64 MiB free) costs memory that the peak
 * load needed anyway. GLIBC_TUNABLES still overrides this.
 */
static void tune_malloc(void)
{
	if (getenv("GLIBC_TUNABLES") != NULL)
		return;
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

int main(int argc, char **argv)
{
	struct server s = {0};
	const char *conf_path = DEFAULT_CONF;
	bool foreground = false, test_only = false;
	int opt;

	static const struct option longopts[] = {
	        {"scan", required_argument, NULL, 'S'},
	        {"service", required_argument, NULL, 's'},
	        {"header", required_argument, NULL, 'H'},
	        {"check-url", required_argument, NULL, 'U'},
	        {"client", required_argument, NULL, 'C'},
	        {"user", required_argument, NULL, 'u'},
	        {NULL, 0, NULL, 0},
	};
	const char *scan_file = NULL, *service = NULL;
	const char *check_url = NULL, *client = NULL, *user = NULL;
	char *headers[64];
	size_t nheaders = 0;

	while ((opt = getopt_long(argc, argv, "c:fl:a:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'l':
			s.overrides.listen = optarg;
			break;
		case 'a':
			s.overrides.admin = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'V':
			printf("icapd %s (libevent %s, %s)\n", ICAPD_VERSION, event_get_version(),
			       OpenSSL_version(OPENSSL_VERSION));
			return 0;
		case 'S':
			scan_file = optarg;
			break;
		case 's':
			service = optarg;
			break;
		case 'U':
			check_url = optarg;
			break;
		case 'C':
			client = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'H':
			if (nheaders == sizeof(headers) / sizeof(headers[0])) {
				fprintf(stderr, "icapd: too many --header options\n");
				return 2;
			}
			headers[nheaders++] = optarg;
			break;
		case 'h':
			usage(stdout);
			conf_print_directives(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (test_only)
		return check_config(conf_path, &s.overrides);
	if (scan_file != NULL)
		return scan_cli(conf_path, service ? service : "/respmod", scan_file, headers,
		                nheaders);
	if (check_url != NULL)
		return check_url_cli(conf_path, service ? service : "/reqmod", check_url, client,
		                     user);

	int status = 1;
	signal(SIGPIPE, SIG_IGN);
	tune_malloc();
	s.gen = generation_build(conf_path, &s.overrides, NULL, 1, stderr);
	if (s.gen == NULL)
		goto out;
	/* Absolute, so reloads work after chdir; a copy, as generations come and go. */
	s.conf_path = strdup(s.gen->conf->path);
	if (s.conf_path == NULL)
		goto out;
	s.next_serial = 2;
	s.daemon = !foreground;
	TAILQ_INIT(&s.conns);
	TAILQ_INIT(&s.scan_waiters);
	if (log_open(s.gen->conf, false) < 0)
		goto out;

	evthread_use_pthreads();
	s.base = event_base_new();
	if (s.base == NULL) {
		log_error("cannot create the event loop");
		goto out;
	}
	if (s.gen->conf->redis != NULL && (s.rcache = open_redis(s.base, s.gen->conf)) == NULL)
		goto out;
	if (s.gen->conf->cache_memory > 0 || s.rcache != NULL)
		s.vcache =
		        vcache_new(s.gen->conf->cache_memory, s.gen->conf->cache_ttl_ms, s.rcache);
	/* Before the listeners: a client that sees the port open may signal. */
	int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};
	for (int i = 0; i < 4; i++) {
		s.sigev[i] = evsignal_new(s.base, sigs[i], signal_cb, &s);
		evsignal_add(s.sigev[i], NULL);
	}
	if (listener_open_all(&s) < 0)
		goto out;
	if (s.gen->conf->admin_listen != NULL && admin_open(&s, s.gen->conf->admin_listen) < 0)
		goto out;
	if (!foreground) {
		if (detach() < 0) {
			log_error("cannot detach: %s", strerror(errno));
			goto out;
		}
		log_open(s.gen->conf, true);
	}
	if (privdrop_start(s.gen->conf) < 0)
		goto out;
	/* After the fork of detach() and the drop: threads do not survive a
	 * fork, and scanner processes are to run as the user. */
	if (start_scanning(&s) < 0)
		goto out;

	s.watch = event_new(s.base, -1, EV_PERSIST, watch_cb, &s);
	if (s.gen->conf->watch_interval_ms > 0) {
		unsigned long long ms = s.gen->conf->watch_interval_ms;
		struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
		evtimer_add(s.watch, &tv);
	}
	log_info("icapd %s started, %zu services, scans in %s", ICAPD_VERSION,
	         s.gen->conf->nservices, s.scanners != NULL ? "scanner processes" : "threads");
	event_base_dispatch(s.base);

	log_info("stopped");
	status = 0;
out:
	server_free(&s);
	return status;
}
