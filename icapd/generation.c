/*
 * generation: building, reference counting and freeing configuration
 * generations. A service's ISTag is derived here from what decides its
 * verdicts (its methods and chain), so it changes exactly when they may.
 */
#include "generation.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

/* ISTag: a quoted, 26-byte hash of the service's verdict-deciding settings. */
static void compute_istag(struct conf_service *s)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	char methods[16];

	if (md == NULL)
		abort();
	snprintf(methods, sizeof(methods), "%u", s->methods);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, "icapd-istag-1", 14);
	EVP_DigestUpdate(md, methods, strlen(methods) + 1);
	for (size_t i = 0; i < s->chain.n; i++)
		EVP_DigestUpdate(md, s->chain.v[i], strlen(s->chain.v[i]) + 1);
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);

	char *p = s->istag;
	*p++ = '"';
	*p++ = 'i';
	for (unsigned i = 0; i < 12; i++, p += 2)
		sprintf(p, "%02x", h[i]);
	*p++ = '"';
	*p = 0;
}

static int apply_overrides(struct conf *c, const struct generation_overrides *ov, FILE *errors)
{
	if (ov == NULL)
		return 0;
	if (ov->listen != NULL) {
		if (netaddr_parse(ov->listen, NULL) < 0) {
			fprintf(errors, "-l %s: not an address:port\n", ov->listen);
			return -1;
		}
		for (size_t i = 0; i < c->listen.n; i++)
			free(c->listen.v[i]);
		c->listen.n = 1;
		c->listen.v[0] = strdup(ov->listen);
	}
	if (ov->admin != NULL) {
		if (netaddr_parse(ov->admin, NULL) < 0) {
			fprintf(errors, "-a %s: not an address:port\n", ov->admin);
			return -1;
		}
		free(c->admin_listen);
		c->admin_listen = strdup(ov->admin);
	}
	return 0;
}

struct generation *generation_build(const char *path, const struct generation_overrides *ov,
                                    uint64_t serial, FILE *errors)
{
	struct conf *c = conf_load(path, errors);
	if (c == NULL)
		return NULL;
	if (apply_overrides(c, ov, errors) < 0) {
		conf_free(c);
		return NULL;
	}
	for (size_t i = 0; i < c->nservices; i++)
		compute_istag(&c->services[i]);

	struct generation *g = calloc(1, sizeof(*g));
	if (g == NULL)
		abort();
	g->magic = GENERATION_MAGIC;
	atomic_init(&g->refs, 1);
	g->serial = serial;
	g->conf = c;
	return g;
}

struct generation *generation_ref(struct generation *g)
{
	assert(g->magic == GENERATION_MAGIC);
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

void generation_unref(struct generation *g)
{
	if (g == NULL)
		return;
	assert(g->magic == GENERATION_MAGIC);
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	conf_free(g->conf);
	g->magic = 0;
	free(g);
}
