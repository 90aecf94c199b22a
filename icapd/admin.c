/*
 * admin: libevent's evhttp serves the admin endpoints; they are small, rare
 * and answered from counters, so they share the ICAP event loop.
 */
#include "admin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "module.h"
#include "netaddr.h"
#include "vcache.h"

struct admin {
	struct evhttp *http;
	char *addr;
	struct server *srv;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *type,
                       struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *body = evbuffer_new();

	if (body == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		evbuffer_add_printf(body, "only GET\n");
		reply_text(req, 405, "Method Not Allowed", "text/plain", body);
	} else if (path != NULL && strcmp(path, "/metrics") == 0) {
		metrics_render(body);
		if (a->srv->vcache != NULL)
			vcache_render_metrics(a->srv->vcache, body);
		const struct generation *g = a->srv->gen;
		for (size_t i = 0; i < g->nmods; i++)
			if (g->mods[i].module->render_metrics != NULL)
				g->mods[i].module->render_metrics(g->mods[i].state, body);
		reply_text(req, 200, "OK", "text/plain; version=0.0.4", body);
	} else if (path != NULL && strcmp(path, "/healthz") == 0) {
		bool ok = !a->srv->stopping;
		evbuffer_add_printf(body, ok ? "ok\n" : "stopping\n");
		reply_text(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "text/plain",
		           body);
	} else {
		evbuffer_add_printf(body, "not found; try /metrics or /healthz\n");
		reply_text(req, 404, "Not Found", "text/plain", body);
	}
	evbuffer_free(body);
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
	a->http = evhttp_new(s->base);
	struct evconnlistener *l = evconnlistener_new_bind(
	        s->base, NULL, NULL,
	        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, 128,
	        (struct sockaddr *)&na.ss, (int)na.len);
	if (a->http == NULL || l == NULL || evhttp_bind_listener(a->http, l) == NULL) {
		log_error("admin_listen %s: %s", addr, strerror(errno));
		if (l != NULL)
			evconnlistener_free(l);
		if (a->http != NULL)
			evhttp_free(a->http);
		free(a->addr);
		free(a);
		return -1;
	}
	evhttp_set_timeout(a->http, 10);
	evhttp_set_max_headers_size(a->http, 8192);
	evhttp_set_max_body_size(a->http, 1024);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(a->http, handle, a);
	s->admin = a;
	log_info("admin listener on %s", addr);
	return 0;
}

void admin_close(struct server *s)
{
	struct admin *a = s->admin;
	if (a == NULL)
		return;
	evhttp_free(a->http);
	free(a->addr);
	free(a);
	s->admin = NULL;
}

const char *admin_address(const struct server *s)
{
	return s->admin ? s->admin->addr : NULL;
}
