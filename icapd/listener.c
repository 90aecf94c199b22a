/*
 * listener: an evconnlistener per "listen" and "listen_tls" address, and
 * what happens at accept.
 *
 * Before a byte is read, the peer must be in the current generation's
 * allow_clients; otherwise the socket is reset, counted and (at most every
 * ten seconds per listener) logged. A reload changes the list for the next
 * connection.
 *
 * A TLS listener wraps each socket in an SSL made from the context of the
 * current generation that has its address, so a certificate loaded by a
 * reload serves the connections accepted after it (those already open keep
 * theirs: each SSL holds its context). The listener also keeps a reference
 * to the last context it used: a reload that moves or drops its listen_tls
 * (which takes a restart to apply, like listen) leaves it serving with the
 * certificate it had rather than none.
 */
#include "listener.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "netacl.h"
#include "netaddr.h"
#include "tls.h"

struct listener {
	struct server *srv;
	struct evconnlistener *lev;
	char *addr; /* as configured */
	bool tls;
	SSL_CTX *ctx;        /* TLS: a reference to the context in use */
	uint64_t ctx_serial; /* the generation it was taken from */
	struct listener_refusals refused;
};

void listener_refuse(evutil_socket_t fd, const struct sockaddr *sa, bool admin,
                     struct listener_refusals *r)
{
	/* A reset rather than a FIN: nothing was read, nothing will be
	 * answered, and no TIME_WAIT is left behind for a peer that may be
	 * flooding us. */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	evutil_closesocket(fd);
	metrics_connection_refused(admin);

	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (r->logged != 0 && now.tv_sec - r->logged < 10) {
		r->quiet++;
		return;
	}
	char host[64];
	netaddr_host(sa, host, sizeof(host));
	log_warn("refused a connection from %s: not in %s (%lu more refused unlogged)", host,
	         admin ? "admin_allow_clients" : "allow_clients", r->quiet);
	r->logged = now.tv_sec ? now.tv_sec : 1;
	r->quiet = 0;
}

/* Moves l to the context the current generation has for its address. */
static void refresh_ctx(struct listener *l)
{
	const struct generation *g = l->srv->gen;
	if (l->ctx_serial == g->serial)
		return;
	l->ctx_serial = g->serial;
	SSL_CTX *ctx = tls_context_find(g, l->addr);
	if (ctx == NULL || ctx == l->ctx)
		return;
	SSL_CTX_up_ref(ctx);
	SSL_CTX_free(l->ctx);
	l->ctx = ctx;
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct listener *l = arg;
	struct server *s = l->srv;
	SSL *ssl = NULL;
	(void)lev;

	if (!netacl_match(&s->gen->conf->allow_clients, sa)) {
		listener_refuse(fd, sa, false, &l->refused);
		return;
	}
	if (l->tls) {
		refresh_ctx(l);
		if ((ssl = tls_new(l->ctx, fd)) == NULL) {
			log_error("listen_tls %s: cannot start TLS on a connection", l->addr);
			evutil_closesocket(fd);
			return;
		}
	}
	conn_new(s, fd, sa, salen, ssl);
	server_update_accepting(s);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	(void)lev;
	/* EMFILE and friends: the loop keeps serving; accepting resumes with
	 * the next connection that closes. */
	log_error("accept: %s", evutil_socket_error_to_string(err));
	listener_set_accepting(l->srv, false);
}

static int open_one(struct server *s, struct listener *l, const char *addr, bool tls)
{
	struct netaddr a;
	l->srv = s;
	l->tls = tls;
	l->addr = strdup(addr);
	if (l->addr == NULL || netaddr_parse(addr, &a) < 0)
		return -1;
	if (tls) {
		l->ctx = tls_context_find(s->gen, addr);
		if (l->ctx == NULL)
			return -1;
		SSL_CTX_up_ref(l->ctx);
		l->ctx_serial = s->gen->serial;
	}
	l->lev = evconnlistener_new_bind(s->base, accept_cb, l,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                                         LEV_OPT_REUSEABLE,
	                                 1024, (struct sockaddr *)&a.ss, (int)a.len);
	if (l->lev == NULL) {
		log_error("%s %s: %s", tls ? "listen_tls" : "listen", addr, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	log_info("listening on %s%s", addr, tls ? " (TLS)" : "");
	return 0;
}

int listener_open_all(struct server *s)
{
	const struct conf *c = s->gen->conf;
	size_t n = c->listen.n + c->nlisten_tls;

	/* Allocated once: each evconnlistener points at its element. */
	s->listeners = calloc(n ? n : 1, sizeof(*s->listeners));
	if (s->listeners == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool tls = i >= c->listen.n;
		const char *addr = tls ? c->listen_tls[i - c->listen.n].addr : c->listen.v[i];
		s->nlisteners++;
		if (open_one(s, &s->listeners[i], addr, tls) < 0)
			return -1;
	}
	s->accepting = true;
	return 0;
}

void listener_close_all(struct server *s)
{
	for (size_t i = 0; i < s->nlisteners; i++) {
		struct listener *l = &s->listeners[i];
		if (l->lev != NULL)
			evconnlistener_free(l->lev);
		SSL_CTX_free(l->ctx);
		free(l->addr);
	}
	free(s->listeners);
	s->listeners = NULL;
	s->nlisteners = 0;
	s->accepting = false;
}

void listener_set_accepting(struct server *s, bool on)
{
	for (size_t i = 0; i < s->nlisteners; i++) {
		if (on)
			evconnlistener_enable(s->listeners[i].lev);
		else
			evconnlistener_disable(s->listeners[i].lev);
	}
	s->accepting = on;
}

bool listener_changed(const struct server *s, const struct conf *c)
{
	if (c->listen.n + c->nlisten_tls != s->nlisteners)
		return true;
	for (size_t i = 0; i < s->nlisteners; i++) {
		const struct listener *l = &s->listeners[i];
		bool tls = i >= c->listen.n;
		const char *addr = tls ? c->listen_tls[i - c->listen.n].addr : c->listen.v[i];
		if (l->tls != tls || strcmp(l->addr, addr) != 0)
			return true;
	}
	return false;
}
