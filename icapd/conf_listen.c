/*
 * conf_listen: listen_tls statements and the checks across listeners.
 */
#include "conf_listen.h"

#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

static void tls_listen_clear(struct conf_tls_listen *t)
{
	free(t->addr);
	free(t->cert);
	free(t->key);
	free(t->client_ca);
	memset(t, 0, sizeof(*t));
}

int conf_listen_tls_parse(struct conf *c, char **args, size_t nargs, int line, char *err,
                          size_t errlen)
{
	struct conf_tls_listen t = {.line = line};
	int verify = -1; /* not given */

	if (nargs == 0 || netaddr_parse(args[0], NULL) < 0) {
		snprintf(err, errlen,
		         "listen_tls needs an address:port first, then cert FILE key FILE");
		return -1;
	}
	for (size_t i = 1; i < nargs; i += 2) {
		const char *k = args[i];
		char **path = strcmp(k, "cert") == 0        ? &t.cert
		              : strcmp(k, "key") == 0       ? &t.key
		              : strcmp(k, "client_ca") == 0 ? &t.client_ca
		                                            : NULL;
		if (path == NULL && strcmp(k, "verify_client") != 0) {
			snprintf(err, errlen,
			         "listen_tls: unknown option \"%s\" (cert, key, client_ca or "
			         "verify_client)",
			         k);
			goto fail;
		}
		if (i + 1 == nargs) {
			snprintf(err, errlen, "listen_tls: \"%s\" needs a value", k);
			goto fail;
		}
		const char *v = args[i + 1];
		if ((path != NULL && *path != NULL) || (path == NULL && verify != -1)) {
			snprintf(err, errlen, "listen_tls: \"%s\" is given twice", k);
			goto fail;
		}
		if (path != NULL) {
			*path = conf_path_resolve(c, v);
		} else if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
			verify = strcmp(v, "on") == 0;
		} else {
			snprintf(err, errlen, "listen_tls: verify_client \"%s\" is not on or off",
			         v);
			goto fail;
		}
	}
	if (t.cert == NULL || t.key == NULL) {
		snprintf(err, errlen, "listen_tls %s: needs cert FILE and key FILE", args[0]);
		goto fail;
	}
	if (verify == 1 && t.client_ca == NULL) {
		snprintf(err, errlen,
		         "listen_tls %s: verify_client on needs client_ca FILE (the CA that "
		         "signs client certificates)",
		         args[0]);
		goto fail;
	}
	t.verify_client = verify == -1 ? t.client_ca != NULL : verify == 1;
	t.addr = strdup(args[0]);
	struct conf_tls_listen *v = realloc(c->listen_tls, (c->nlisten_tls + 1) * sizeof(*v));
	if (t.addr == NULL || v == NULL)
		abort();
	c->listen_tls = v;
	c->listen_tls[c->nlisten_tls++] = t;
	return 0;
fail:
	tls_listen_clear(&t);
	return -1;
}

static bool same_address(const char *a, const char *b)
{
	struct netaddr x, y;
	if (netaddr_parse(a, &x) < 0 || netaddr_parse(b, &y) < 0)
		return strcmp(a, b) == 0;
	return x.len == y.len && memcmp(&x.ss, &y.ss, x.len) == 0;
}

int conf_listen_check(struct conf *c, const char *file, FILE *errors)
{
	int n = 0;

	if (c->listen.n == 0 && c->nlisten_tls == 0) {
		char **v = malloc(sizeof(*v));
		if (v == NULL || (v[0] = strdup(CONF_LISTEN_DEFAULT)) == NULL)
			abort();
		c->listen.v = v;
		c->listen.n = 1;
	}
	for (size_t i = 0; i < c->listen.n; i++)
		for (size_t k = i + 1; k < c->listen.n; k++)
			if (same_address(c->listen.v[i], c->listen.v[k])) {
				fprintf(errors, "%s: listen %s is given twice\n", file,
				        c->listen.v[k]);
				n++;
			}
	for (size_t i = 0; i < c->nlisten_tls; i++) {
		const struct conf_tls_listen *t = &c->listen_tls[i];
		for (size_t k = 0; k < c->listen.n; k++)
			if (same_address(t->addr, c->listen.v[k])) {
				fprintf(errors, "%s:%d: listen_tls %s is also a listen address\n",
				        file, t->line, t->addr);
				n++;
			}
		for (size_t k = 0; k < i; k++)
			if (same_address(t->addr, c->listen_tls[k].addr)) {
				fprintf(errors, "%s:%d: listen_tls %s is given twice\n", file,
				        t->line, t->addr);
				n++;
			}
	}
	return n;
}

void conf_listen_free(struct conf *c)
{
	for (size_t i = 0; i < c->nlisten_tls; i++)
		tls_listen_clear(&c->listen_tls[i]);
	free(c->listen_tls);
	c->listen_tls = NULL;
	c->nlisten_tls = 0;
}
