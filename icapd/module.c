/*
 * module: the static table of compiled-in modules. configure's
 * --without-<module> options leave entries out.
 */
#include "module.h"

#include <stddef.h>
#include <string.h>

#ifdef WITH_CLAMAV
extern const struct module clamav_module;
#endif
extern const struct module urlfilter_module;
#ifdef WITH_KEYWORD
extern const struct module keyword_module;
#endif

static const struct module *const modules[] = {
        &urlfilter_module,
#ifdef WITH_KEYWORD
        &keyword_module,
#endif
#ifdef WITH_CLAMAV
        &clamav_module,
#endif
        NULL, /* keeps the table non-empty whatever is compiled in */
};

/* Every module the source tree has, compiled in or not: for messages. */
static const char *const known[] = {"clamav", "urlfilter", "keyword"};

bool module_known(const char *name)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], name) == 0)
			return true;
	return false;
}

const struct module *module_find(const char *name)
{
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		if (modules[i] != NULL && strcmp(modules[i]->name, name) == 0)
			return modules[i];
	return NULL;
}

void module_foreach(void (*fn)(const struct module *m, void *arg), void *arg)
{
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++)
		if (modules[i] != NULL)
			fn(modules[i], arg);
}
