/*
 * module: the shape every scanning module has, and the static table of the
 * compiled-in ones (configure's --without-<module> leaves one out).
 *
 * A module is one file in modules/ ending in a single const struct module
 * with designated initializers; unused hooks stay NULL. It keeps no mutable
 * globals: everything it builds belongs to a generation, so the running
 * generation and one being built for a reload live side by side. Modules
 * never see sockets: the core owns I/O, framing, timeouts and limits.
 *
 * Threads: build() runs on the reload thread (or at start-up), judge_body()
 * in a scanner process (or on a scan thread with scan_isolation off), judge_headers() and
 * wants_body() on the event loop (they must be quick: microseconds). A state is immutable once
 * built and may be shared by several generations (ref/unref), which is how a reload that changes
 * only other inputs keeps the ClamAV engine.
 */
#ifndef ICAPD_MODULE_H
#define ICAPD_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf_directive.h"
#include "http_parse.h"
#include "icap_parse.h"

struct body;
struct evbuffer;

enum verdict_kind {
	VERDICT_PASS = 0, /* nothing found */
	VERDICT_BLOCK,    /* found something: block the message */
	VERDICT_ERROR,    /* could not judge (limit, encrypted, engine error): policy decides */
};

struct verdict {
	enum verdict_kind kind;
	const char *module; /* name of the module that decided */
	/* What was found or what went wrong, for the block page, the ICAP
	 * headers and the log ("Eicar-Test-Signature", "scan size limit"). */
	char reason[256];
	/* For VERDICT_BLOCK: a threat name (X-Infection-Found) rather than a
	 * policy category. */
	bool is_threat;
	/* What matched ("malware/domains:12", the rules that scored), for the
	 * access log only when log_matches is on: it can say what a user
	 * visited or wrote. */
	char detail[192];
	/* A VERDICT_ERROR that blocks whatever on_scan_error says: the body
	 * killed two scanner processes, which is what an exploit looks like. */
	bool fail_closed;
	/* A default decided (urlfilter: no listed category did), so reason
	 * names no category: "icapd --check-url" prints "-" for it. */
	bool by_default;
};

struct conf_service;

/* What a module may look at: the ICAP method, the encapsulated heads, the
 * client as the ICAP client describes it, and the service. */
struct module_msg {
	enum icap_method method;
	const struct http_head *req; /* NULL when the client sent no req-hdr */
	const struct http_head *res; /* NULL when the client sent no res-hdr */
	const char *client;          /* X-Client-IP, or NULL */
	const char *user;            /* X-Client-Username / X-Authenticated-User, or NULL */
	const struct conf_service *svc;
};

struct module {
	const char *name;

	/* The "module NAME { ... }" block: directives writing into a struct
	 * of conf_size bytes (zeroed, then defaults applied). */
	const struct conf_directive *directives;
	size_t ndirectives;
	size_t conf_size;
	/* Frees what the directives allocated in a module conf (not the struct). */
	void (*conf_free)(void *mconf);

	/*
	 * Builds the state for a generation from the module's configuration
	 * (paths in it are already absolute). old is this module's
	 * state in the running generation, or NULL: a module whose inputs did
	 * not change returns old with a new reference instead of rebuilding.
	 * Errors go to errors ("file:line: ..." where there is one); returns
	 * NULL on failure, and the reload keeps the running generation.
	 */
	void *(*build)(const void *mconf, void *old, FILE *errors);
	void (*ref)(void *state);
	void (*unref)(void *state);

	/* A short text that changes whenever this state may judge differently
	 * (signature versions, list digests, settings): part of the ISTag. */
	const char *(*version)(const void *state);

	/* True if the inputs changed on disk since build (e.g. new signatures):
	 * the server then reloads. Called on the event loop every few seconds. */
	bool (*stale)(const void *state);

	/*
	 * Whether this message's body needs judging (skip rules by type, size
	 * or host). When it returns false it may set *skip_reason (a constant
	 * string) for the log.
	 */
	bool (*wants_body)(const void *state, const struct module_msg *m, uint64_t length_hint,
	                   const char **skip_reason);

	/* Checks the settings a service gives this module (keyword_categories)
	 * against the state; errors as for build. Returns 0 or -1. */
	int (*check_service)(const void *state, const struct conf_service *svc, FILE *errors);

	/* Judges a message on its heads alone, before any body moves (on the
	 * event loop): a VERDICT_BLOCK answers at once. On a pass it may fill
	 * v->detail with the rule that allowed it (icapd --check-url). */
	void (*judge_headers)(const void *state, const struct module_msg *m, struct verdict *v);

	/* Judges a complete body (in a scanner process, or on a scan thread). */
	void (*judge_body)(const void *state, const struct module_msg *m, struct body *b,
	                   struct verdict *v);

	/* Appends the module's own gauges to /metrics (Prometheus text; names
	 * start with icapd_<module>_). */
	void (*render_metrics)(const void *state, struct evbuffer *out);
};

/* The compiled-in module called name, or NULL. */
const struct module *module_find(const char *name);

/* True for a module of the source tree, even if configure left it out. */
bool module_known(const char *name);

/* Calls fn for every compiled-in module. */
void module_foreach(void (*fn)(const struct module *m, void *arg), void *arg);

#endif
