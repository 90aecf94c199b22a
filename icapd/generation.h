/*
 * generation: everything one configuration produces (services, and later
 * module states, compiled lists and engines), built whole, then swapped in
 * with one pointer. Each transaction holds a reference to the generation it
 * started under, so a reload never changes the rules under a request in
 * flight; the old generation is freed by its last user.
 */
#ifndef ICAPD_GENERATION_H
#define ICAPD_GENERATION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

#define GENERATION_MAGIC 0x47454e31u

struct module;
struct scanner_pool;
struct tls_contexts;

/* One module's state in a generation (shared with others when unchanged). */
struct gen_module {
	const struct module *module;
	void *state;
};

/* A service's chain, resolved to module states. */
struct gen_chain {
	const struct gen_module **mods;
	size_t n;
};

struct generation {
	unsigned magic;
	atomic_uint refs;
	uint64_t serial;
	struct conf *conf;
	struct gen_module *mods; /* every module a chain uses */
	size_t nmods;
	struct gen_chain *chains; /* parallel to conf->services */
	struct blockpage *blockpage;
	struct tls_contexts *tls; /* one per conf->listen_tls (tls.h) */
	/* Its scanner processes, once it is in service with scan_isolation on
	 * (scanner_pool.h); NULL otherwise. Freed with the generation. */
	struct scanner_pool *scanners;
};

/* Command-line settings that override the file, kept across reloads. */
struct generation_overrides {
	const char *listen; /* -l */
	const char *admin;  /* -a */
};

/*
 * Builds a generation from the file at path. Module states of old (the
 * running generation, or NULL) whose inputs did not change are reused, not
 * rebuilt. Errors go to errors with file:line; returns NULL if there were
 * any. Safe to call off the event loop.
 */
struct generation *generation_build(const char *path, const struct generation_overrides *ov,
                                    const struct generation *old, uint64_t serial, FILE *errors);

/* The chain of the service svc (which belongs to g->conf). */
const struct gen_chain *generation_chain(const struct generation *g,
                                         const struct conf_service *svc);

/* True if any module's inputs changed on disk since g was built. */
bool generation_stale(const struct generation *g);

/* True if every module state of old is also one of g's (nothing would be
 * freed with old but its configuration). */
bool generation_holds_all(const struct generation *g, const struct generation *old);

struct generation *generation_ref(struct generation *g);
void generation_unref(struct generation *g);

#endif
