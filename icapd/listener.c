/*
 * listener: evconnlistener per "listen" address.
 */
#include "listener.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "netaddr.h"

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct server *s = arg;
	(void)l;
	conn_new(s, fd, sa, salen);
	server_update_accepting(s);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	(void)l;
	/* EMFILE and friends: the loop keeps serving; accepting resumes with
	 * the next connection that closes. */
	log_error("accept: %s", evutil_socket_error_to_string(err));
	s->accepting = false;
	for (size_t i = 0; i < s->nlisteners; i++)
		evconnlistener_disable(s->listeners[i]);
}

int listener_open_all(struct server *s)
{
	const struct conf *c = s->gen->conf;

	s->listeners = calloc(c->listen.n, sizeof(*s->listeners));
	if (s->listeners == NULL)
		return -1;
	for (size_t i = 0; i < c->listen.n; i++) {
		struct netaddr a;
		if (netaddr_parse(c->listen.v[i], &a) < 0)
			return -1;
		struct evconnlistener *l = evconnlistener_new_bind(
		        s->base, accept_cb, s,
		        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 1024,
		        (struct sockaddr *)&a.ss, (int)a.len);
		if (l == NULL) {
			log_error("listen %s: %s", c->listen.v[i], strerror(errno));
			return -1;
		}
		evconnlistener_set_error_cb(l, accept_error_cb);
		s->listeners[s->nlisteners++] = l;
		log_info("listening on %s", c->listen.v[i]);
	}
	s->bound.v = calloc(c->listen.n, sizeof(char *));
	for (size_t i = 0; s->bound.v && i < c->listen.n; i++)
		s->bound.v[s->bound.n++] = strdup(c->listen.v[i]);
	s->accepting = true;
	return 0;
}

void listener_close_all(struct server *s)
{
	for (size_t i = 0; i < s->nlisteners; i++)
		evconnlistener_free(s->listeners[i]);
	free(s->listeners);
	s->listeners = NULL;
	s->nlisteners = 0;
	s->accepting = false;
	for (size_t i = 0; i < s->bound.n; i++)
		free(s->bound.v[i]);
	free(s->bound.v);
	s->bound.v = NULL;
	s->bound.n = 0;
}

bool listener_changed(const struct server *s, const struct conf *c)
{
	if (c->listen.n != s->bound.n)
		return true;
	for (size_t i = 0; i < s->bound.n; i++)
		if (s->bound.v[i] == NULL || strcmp(s->bound.v[i], c->listen.v[i]) != 0)
			return true;
	return false;
}
