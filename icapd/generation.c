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

#include "blockpage.h"
#include "module.h"
#include "netaddr.h"
#include "scanner_pool.h"
#include "tls.h"

/*
 * ISTag: a quoted 26-byte hash of what decides the service's verdicts: its
 * methods, its chain, each module's version (signatures, lists, settings),
 * its on_scan_error choice and the keyword categories it applies.
 */
static void compute_istag(struct conf_service *s, const struct gen_chain *chain)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	char settings[48];

	if (md == NULL)
		abort();
	snprintf(settings, sizeof(settings), "%u/%llu", s->methods, s->on_scan_error);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, "icapd-istag-1", 14);
	EVP_DigestUpdate(md, settings, strlen(settings) + 1);
	for (size_t i = 0; i < s->keyword_categories.n; i++)
		EVP_DigestUpdate(md, s->keyword_categories.v[i],
		                 strlen(s->keyword_categories.v[i]) + 1);
	for (size_t i = 0; i < chain->n; i++) {
		const struct gen_module *gm = chain->mods[i];
		const char *v = gm->module->version ? gm->module->version(gm->state) : "";
		EVP_DigestUpdate(md, gm->module->name, strlen(gm->module->name) + 1);
		EVP_DigestUpdate(md, v, strlen(v) + 1);
	}
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

static void *old_state(const struct generation *old, const struct module *m)
{
	for (size_t i = 0; old != NULL && i < old->nmods; i++)
		if (old->mods[i].module == m)
			return old->mods[i].state;
	return NULL;
}

static struct gen_module *find_mod(struct generation *g, const struct module *m)
{
	for (size_t i = 0; i < g->nmods; i++)
		if (g->mods[i].module == m)
			return &g->mods[i];
	return NULL;
}

/* Builds the state of every module a chain names, then resolves chains. */
static int build_modules(struct generation *g, const struct generation *old, FILE *errors)
{
	struct conf *c = g->conf;
	int failed = 0;

	g->chains = calloc(c->nservices ? c->nservices : 1, sizeof(*g->chains));
	/* Room for every chain entry: chains point into mods, which must not move. */
	size_t most = 1;
	for (size_t i = 0; i < c->nservices; i++)
		most += c->services[i].chain.n;
	g->mods = calloc(most, sizeof(*g->mods));
	if (g->chains == NULL || g->mods == NULL)
		abort();
	for (size_t i = 0; i < c->nservices; i++) {
		struct conf_service *s = &c->services[i];
		struct gen_chain *ch = &g->chains[i];
		ch->mods = calloc(s->chain.n ? s->chain.n : 1, sizeof(*ch->mods));
		if (ch->mods == NULL)
			abort();
		for (size_t k = 0; k < s->chain.n; k++) {
			const struct module *m = module_find(s->chain.v[k]);
			struct gen_module *gm = find_mod(g, m);
			if (gm == NULL) {
				gm = &g->mods[g->nmods];
				gm->module = m;
				gm->state = m->build(conf_module_get(c, m)->mconf,
				                     old_state(old, m), errors);
				if (gm->state == NULL) {
					fprintf(errors, "module %s: not loaded\n", m->name);
					failed = 1;
					continue;
				}
				g->nmods++;
			}
			ch->mods[ch->n++] = gm;
			if (m->check_service != NULL && m->check_service(gm->state, s, errors) < 0)
				failed = 1;
		}
		if (!failed)
			compute_istag(s, ch);
	}
	return failed ? -1 : 0;
}

const struct gen_chain *generation_chain(const struct generation *g, const struct conf_service *svc)
{
	return &g->chains[svc - g->conf->services];
}

bool generation_stale(const struct generation *g)
{
	for (size_t i = 0; i < g->nmods; i++) {
		const struct gen_module *gm = &g->mods[i];
		if (gm->module->stale != NULL && gm->module->stale(gm->state))
			return true;
	}
	return false;
}

static void generation_free(struct generation *g)
{
	scanner_pool_free(g->scanners);
	for (size_t i = 0; i < g->nmods; i++)
		g->mods[i].module->unref(g->mods[i].state);
	free(g->mods);
	for (size_t i = 0; g->chains != NULL && i < g->conf->nservices; i++)
		free(g->chains[i].mods);
	free(g->chains);
	blockpage_free(g->blockpage);
	tls_contexts_free(g->tls);
	conf_free(g->conf);
	g->magic = 0;
	free(g);
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
		if (c->listen.n == 0) /* a file with listen_tls alone */
			c->listen.v = malloc(sizeof(char *));
		if (c->listen.v == NULL)
			abort();
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
                                    const struct generation *old, uint64_t serial, FILE *errors)
{
	struct conf *c = conf_load(path, errors);
	if (c == NULL)
		return NULL;
	if (apply_overrides(c, ov, errors) < 0) {
		conf_free(c);
		return NULL;
	}
	struct generation *g = calloc(1, sizeof(*g));
	if (g == NULL)
		abort();
	g->magic = GENERATION_MAGIC;
	atomic_init(&g->refs, 1);
	g->serial = serial;
	g->conf = c;
	g->blockpage = c->block_page ? blockpage_load(c->block_page, errors) : blockpage_default();
	/* Certificates and keys are read here: at start-up (as root, before the
	 * drop of privileges), by -t, and on each reload (as "user"; old's
	 * contexts stay for files it may not read). */
	g->tls = tls_contexts_build(c, old, errors);
	if (g->blockpage == NULL || g->tls == NULL || build_modules(g, old, errors) < 0) {
		generation_free(g);
		return NULL;
	}
	return g;
}

struct generation *generation_ref(struct generation *g)
{
	assert(g->magic == GENERATION_MAGIC);
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	return g;
}

bool generation_holds_all(const struct generation *g, const struct generation *old)
{
	for (size_t i = 0; i < old->nmods; i++) {
		bool found = false;
		for (size_t j = 0; j < g->nmods && !found; j++)
			found = g->mods[j].state == old->mods[i].state;
		if (!found)
			return false;
	}
	return true;
}

void generation_unref(struct generation *g)
{
	if (g == NULL)
		return;
	assert(g->magic == GENERATION_MAGIC);
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1)
		return;
	generation_free(g);
}
