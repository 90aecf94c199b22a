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
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

#define GENERATION_MAGIC 0x47454e31u

struct generation {
	unsigned magic;
	atomic_uint refs;
	uint64_t serial;
	struct conf *conf;
};

/* Command-line settings that override the file, kept across reloads. */
struct generation_overrides {
	const char *listen; /* -l */
	const char *admin;  /* -a */
};

/*
 * Builds a generation from the file at path. Errors go to errors with
 * file:line; returns NULL if there were any. Safe to call off the event loop.
 */
struct generation *generation_build(const char *path, const struct generation_overrides *ov,
                                    uint64_t serial, FILE *errors);

struct generation *generation_ref(struct generation *g);
void generation_unref(struct generation *g);

#endif
