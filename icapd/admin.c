/*
 * admin: a minimal HTTP/1.x server of its own for GET /metrics and
 * /healthz, on the ICAP event loop (requests are small, rare and answered
 * from counters).
 *
 * Not libevent's evhttp: evhttp accepts on its own and starts reading
 * before the program sees the peer, and admin_allow_clients must close a
 * connection from elsewhere before a byte of it is read. What a monitoring
 * scraper needs is small, and so is what a peer can reach here: one
 * request per connection (the reply says Connection: close), only the
 * request line parsed, a head of at most ADMIN_MAX_HEAD bytes, a deadline
 * for the whole exchange, GET and HEAD only, and a bounded number of
 * connections at once. After the reply the connection is closed as HTTP
 * servers do (write side first, then whatever the client still sends is
 * read and dropped for a moment), so that a request body left unread does
 * not turn the close into a reset that could destroy the reply.
 */
#include "admin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "module.h"
#include "netacl.h"
#include "netaddr.h"
#include "vcache.h"
#include "scanner_pool.h"
#include "workq.h"

#define ADMIN_MAX_HEAD  (8 * 1024)
#define ADMIN_MAX_CONNS 32
#define ADMIN_TIMEOUT_S 10 /* from the accept to the reply */
#define ADMIN_LINGER_S  2  /* after the reply, for the client to close */

struct admin_conn {
	struct admin *a;
	evutil_socket_t fd;
	struct event *rev, *wev, *timer;
	struct evbuffer *in, *out;
	bool answered; /* the reply is in out; what comes in is dropped */
	TAILQ_ENTRY(admin_conn) link;
};

struct admin {
	struct server *srv;
	struct evconnlistener *lev;
	char *addr;
	TAILQ_HEAD(, admin_conn) conns;
	size_t nconns;
	struct listener_refusals refused;
};

static void conn_close(struct admin_conn *ac)
{
	struct admin *a = ac->a;
	TAILQ_REMOVE(&a->conns, ac, link);
	a->nconns--;
	event_free(ac->rev);
	event_free(ac->wev);
	event_free(ac->timer);
	evbuffer_free(ac->in);
	evbuffer_free(ac->out);
	evutil_closesocket(ac->fd);
	free(ac);
}

/* The body of a GET on path (query removed), with its status. */
static int render(struct admin *a, const char *path, size_t len, struct evbuffer *body,
                  const char **type)
{
	*type = "text/plain";
	if (len == 8 && memcmp(path, "/metrics", 8) == 0) {
		metrics_render(body);
		/* What a stuck scan or a lost completion would leave behind. */
		evbuffer_add_printf(body,
		                    "# HELP icapd_scans_in_flight Bodies queued for or in the "
		                    "scanner processes (or scan threads).\n"
		                    "# TYPE icapd_scans_in_flight gauge\n"
		                    "icapd_scans_in_flight %u\n",
		                    a->srv->scanners != NULL
		                            ? scanner_pools_in_flight(a->srv->scanners)
		                            : workq_pending(a->srv->workq));
		if (a->srv->vcache != NULL)
			vcache_render_metrics(a->srv->vcache, body);
		const struct generation *g = a->srv->gen;
		for (size_t i = 0; i < g->nmods; i++)
			if (g->mods[i].module->render_metrics != NULL)
				g->mods[i].module->render_metrics(g->mods[i].state, body);
		*type = "text/plain; version=0.0.4";
		return 200;
	}
	if (len == 8 && memcmp(path, "/healthz", 8) == 0) {
		bool ok = !a->srv->stopping;
		evbuffer_add_printf(body, ok ? "ok\n" : "stopping\n");
		return ok ? 200 : 503;
	}
	evbuffer_add_printf(body, "not found; try /metrics or /healthz\n");
	return 404;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "HTTP Version Not Supported";
	}
}

/* Answers the request whose line is line[0..len) (no CR LF), or status
 * when the head was already found bad (0: not yet judged). */
static void answer(struct admin_conn *ac, const char *line, size_t len, int status)
{
	struct evbuffer *body = evbuffer_new();
	if (body == NULL)
		abort();
	const char *type = "text/plain";
	bool head = false;
	/* METHOD SP target SP HTTP/1.x, with single spaces. */
	const char *sp1 = status ? NULL : memchr(line, ' ', len);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
	if (status == 0 && (sp2 == NULL || sp2 == sp1 + 1 || sp1 == line ||
	                    memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - line)) != NULL)) {
		status = 400;
	} else if (status == 0) {
		size_t ml = (size_t)(sp1 - line), vl = len - (size_t)(sp2 + 1 - line);
		const char *target = sp1 + 1, *version = sp2 + 1;
		size_t tl = (size_t)(sp2 - target);
		const char *q = memchr(target, '?', tl);
		if (vl < 5 || memcmp(version, "HTTP/", 5) != 0)
			status = 400;
		else if (vl != 8 || (memcmp(version, "HTTP/1.0", 8) != 0 &&
		                     memcmp(version, "HTTP/1.1", 8) != 0))
			status = 505;
		else if (ml == 4 && memcmp(line, "HEAD", 4) == 0)
			head = true;
		else if (ml != 3 || memcmp(line, "GET", 3) != 0)
			status = 405;
		if (status == 0)
			status = render(ac->a, target, q ? (size_t)(q - target) : tl, body, &type);
	}
	if (status != 200 && status != 503 && status != 404)
		evbuffer_add_printf(body, "%d %s\n", status, reason(status));

	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(ac->out,
	                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n"
	                    "Content-Length: %zu\r\nDate: %s\r\n%sConnection: close\r\n\r\n",
	                    status, reason(status), type, evbuffer_get_length(body), date,
	                    status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head)
		evbuffer_add_buffer(ac->out, body);
	evbuffer_free(body);
	ac->answered = true;
	struct timeval tv = {ADMIN_LINGER_S, 0};
	evtimer_add(ac->timer, &tv);
	event_add(ac->wev, NULL);
}

/* Looks for the end of the head in ac->in; answers once it is there. */
static void parse(struct admin_conn *ac)
{
	size_t have = evbuffer_get_length(ac->in);
	size_t look = have < ADMIN_MAX_HEAD ? have : ADMIN_MAX_HEAD;
	const char *p = (const char *)evbuffer_pullup(ac->in, (ev_ssize_t)look);
	const char *end = NULL;
	/* The head ends at an empty line: CR LF CR LF, or bare LF LF. */
	for (size_t i = 0; p != NULL && i + 1 < look && end == NULL; i++)
		if (p[i] == '\n' &&
		    (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < look && p[i + 2] == '\n')))
			end = p + i;
	if (end == NULL) {
		if (have >= ADMIN_MAX_HEAD)
			answer(ac, NULL, 0, 431);
		return;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p) + 1);
	size_t len = (size_t)(nl - p);
	if (len > 0 && p[len - 1] == '\r')
		len--;
	answer(ac, p, len, 0);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *ac = arg;
	(void)what;
	if (ac->answered) {
		/* Drop what follows the head (a body, junk) until the client closes. */
		char sink[4096];
		ssize_t n = recv(fd, sink, sizeof(sink), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(ac);
		return;
	}
	int n = evbuffer_read(ac->in, fd, 4096);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(ac);
		return;
	}
	parse(ac);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *ac = arg;
	(void)what;
	int n = evbuffer_write(ac->out, fd);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		conn_close(ac);
		return;
	}
	if (evbuffer_get_length(ac->out) == 0) {
		event_del(ac->wev);
		shutdown(fd, SHUT_WR);
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_close(arg);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct admin *a = arg;
	struct event_base *base = evconnlistener_get_base(lev);
	(void)salen;

	if (!netacl_match(&a->srv->gen->conf->admin_allow_clients, sa)) {
		listener_refuse(fd, sa, true, &a->refused);
		return;
	}
	struct admin_conn *ac = a->nconns < ADMIN_MAX_CONNS ? calloc(1, sizeof(*ac)) : NULL;
	if (ac == NULL) {
		evutil_closesocket(fd);
		return;
	}
	ac->a = a;
	ac->fd = fd;
	ac->rev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, ac);
	ac->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, write_cb, ac);
	ac->timer = evtimer_new(base, timer_cb, ac);
	ac->in = evbuffer_new();
	ac->out = evbuffer_new();
	if (!ac->rev || !ac->wev || !ac->timer || !ac->in || !ac->out)
		abort();
	TAILQ_INSERT_TAIL(&a->conns, ac, link);
	a->nconns++;
	struct timeval tv = {ADMIN_TIMEOUT_S, 0};
	evtimer_add(ac->timer, &tv);
	event_add(ac->rev, NULL);
}

int admin_open(struct server *s, const char *addr)
{
	struct netaddr na;
	if (netaddr_parse(addr, &na) < 0)
		return -1;
	struct admin *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -1;
	a->srv = s;
	a->addr = strdup(addr);
	TAILQ_INIT(&a->conns);
	a->lev = evconnlistener_new_bind(s->base, accept_cb, a,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                                         LEV_OPT_REUSEABLE,
	                                 128, (struct sockaddr *)&na.ss, (int)na.len);
	if (a->lev == NULL || a->addr == NULL) {
		log_error("admin_listen %s: %s", addr, strerror(errno));
		if (a->lev != NULL)
			evconnlistener_free(a->lev);
		free(a->addr);
		free(a);
		return -1;
	}
	s->admin = a;
	log_info("admin listener on %s", addr);
	return 0;
}

void admin_close(struct server *s)
{
	struct admin *a = s->admin;
	if (a == NULL)
		return;
	while (!TAILQ_EMPTY(&a->conns))
		conn_close(TAILQ_FIRST(&a->conns));
	evconnlistener_free(a->lev);
	free(a->addr);
	free(a);
	s->admin = NULL;
}

const char *admin_address(const struct server *s)
{
	return s->admin ? s->admin->addr : NULL;
}
