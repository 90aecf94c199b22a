/*
 * module: the table of compiled-in modules that service chains name. The
 * full module shape (hooks to build per-generation state, judge headers and
 * bodies, report versions) arrives with the first module that judges
 * messages; until then a chain can only be empty, which passes every
 * message unchanged (the /echo behaviour).
 */
#ifndef ICAPD_MODULE_H
#define ICAPD_MODULE_H

struct module {
	const char *name;
};

/* The compiled-in module called name, or NULL. */
const struct module *module_find(const char *name);

#endif
