/*
 * reload: build off the loop, swap on the loop. After the drop of
 * privileges the build runs as "user": files it cannot read fail the
 * reload with a hint saying so (privdrop.c), and the old generation keeps
 * serving.
 */
#include "reload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "scanner_pool.h"
#include "privdrop.h"

struct reload {
	pthread_t thread;
	struct event *done; /* activated by the builder thread */
	bool running, again;
	struct server *srv;
	uint64_t serial;
	struct generation *result;
	char *errors; /* what the build reported */
};

static void *build(void *arg)
{
	struct reload *r = arg;
	size_t len = 0;
	FILE *errs = open_memstream(&r->errors, &len);
	if (errs == NULL) {
		r->result = NULL;
	} else {
		r->result = generation_build(r->srv->conf_path, &r->srv->overrides, r->srv->gen,
		                             r->serial, errs);
		/* As whoever icapd runs as now: a spool_dir it cannot write to
		 * would fail every large body, so it fails the reload instead. */
		char err[512];
		if (r->result != NULL &&
		    privdrop_check_spool(r->result->conf->spool_dir, err, sizeof(err)) < 0) {
			fprintf(errs, "%s: %s\n", r->result->conf->path, err);
			generation_unref(r->result);
			r->result = NULL;
		}
		fclose(errs);
	}
	event_active(r->done, EV_READ, 0);
	return NULL;
}

static void log_build_errors(const char *errors)
{
	const char *p = errors;
	while (p != NULL && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		log_error("%.*s", (int)n, p);
		p = nl ? nl + 1 : NULL;
	}
}

static void swap_in(struct server *s, struct generation *g)
{
	const struct conf *c = g->conf;

	if (log_open(c, s->daemon) < 0) {
		log_error("reload: logs could not be opened; keeping the running configuration");
		generation_unref(g);
		metrics_reload(false);
		return;
	}
	const struct conf_user *ou = &s->gen->conf->user, *nu = &c->user;
	if ((ou->name == NULL) != (nu->name == NULL) ||
	    (ou->name != NULL && (ou->uid != nu->uid || ou->gid != nu->gid)))
		log_warn("reload: \"user\" changed; it takes effect after a restart");
	if (listener_changed(s, c))
		log_warn("reload: \"listen\" or \"listen_tls\" addresses changed; they take effect "
		         "after a restart");
	const char *old_admin = admin_address(s);
	if ((old_admin == NULL) != (c->admin_listen == NULL) ||
	    (old_admin != NULL && strcmp(old_admin, c->admin_listen) != 0)) {
		admin_close(s);
		if (c->admin_listen != NULL && admin_open(s, c->admin_listen) < 0)
			log_error("reload: admin listener not started");
	}
	if (g->conf->scan_isolation != (s->scanners != NULL))
		log_warn("reload: scan_isolation changed; it takes effect after a restart");
	struct generation *old = s->gen;
	s->gen = g;
	generation_unref(old);
	/* Its scanners, before the first scan needs them (the build thread is
	 * joined: nothing else runs as the zygote forks), and after the old
	 * generation is let go: if nothing holds it, the zygote inherits no
	 * page of its engine. */
	if (s->scanners != NULL)
		scanner_pools_attach(s->scanners, g);
	server_update_accepting(s);
	metrics_reload(true);
	log_info("reloaded %s (generation %llu)", c->path, (unsigned long long)g->serial);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reload *r = arg;
	(void)fd;
	(void)what;
	pthread_join(r->thread, NULL);
	r->running = false;
	if (r->result != NULL) {
		swap_in(r->srv, r->result);
	} else {
		log_build_errors(r->errors);
		privdrop_reload_hint(r->errors);
		log_error("reload failed; the running configuration stays in force");
		metrics_reload(false);
	}
	r->result = NULL;
	free(r->errors);
	r->errors = NULL;
	if (r->again && !r->srv->stopping) {
		r->again = false;
		reload_start(r->srv);
	}
}

void reload_start(struct server *s)
{
	struct reload *r = s->reload;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return;
		r->srv = s;
		r->done = event_new(s->base, -1, 0, done_cb, r);
		s->reload = r;
	}
	if (r->running) {
		r->again = true;
		return;
	}
	log_info("reloading %s", s->conf_path);
	r->serial = s->next_serial++;
	r->running = true;
	if (pthread_create(&r->thread, NULL, build, r) != 0) {
		r->running = false;
		log_error("reload: cannot start a thread");
		metrics_reload(false);
	}
}

bool reload_building(const struct server *s)
{
	return s->reload != NULL && s->reload->running;
}

void reload_cleanup(struct server *s)
{
	struct reload *r = s->reload;
	if (r == NULL)
		return;
	if (r->running) {
		pthread_join(r->thread, NULL);
		generation_unref(r->result);
		free(r->errors);
	}
	event_free(r->done);
	free(r);
	s->reload = NULL;
}
