/*
 * urlfilter: requests judged on their URL before any body moves, against
 * category lists (UT1 layout, url_lists.c) under a policy the
 * administrator edits (url_policy.c). The URL is canonicalized first
 * (url_canon.c), so a listed site cannot be reached by spelling it
 * differently; CONNECT is judged on its host:port.
 *
 * A generation's state holds the compiled lists and the policy. Lists are
 * large (UT1's adult category alone has millions of entries) and slow to
 * compile, so they have their own reference count: a reload that changes
 * only the policy shares them, and one that changes nothing hands the old
 * state back.
 *
 * judge_headers runs on the event loop: a canonicalization, a few hash
 * probes per host suffix and path prefix, and a walk of the policy's rules,
 * microseconds in all. Decisions are counted by category and action for
 * /metrics; nothing is counted per user or per client address (a metric
 * endpoint is not the place to find out who visited what).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>

#include "conf.h"
#include "hdr_parse.h"
#include "http_parse.h"
#include "lex.h"
#include "metrics.h"
#include "module.h"
#include "url_canon.h"
#include "url_lists.h"
#include "url_policy.h"

#define URLFILTER_MAGIC 0x55524c46u /* "URLF" */

/* Largest policy file read. */
#define POLICY_MAX (4u * 1024 * 1024)

/* The "module urlfilter { ... }" block. */
struct urlfilter_conf {
	char *lists;  /* folder of category folders */
	char *policy; /* policy file */
};

/* Compiled lists, shared by states whose lists did not change. */
struct shared_lists {
	atomic_uint refs;
	struct url_lists *lists;
	char *dir;
};

/* Decisions per category (the last two: no category, and its action). */
struct counts {
	atomic_ullong allow, block;
};

struct urlfilter_state {
	unsigned magic;
	atomic_uint refs;
	struct shared_lists *lists;
	struct url_policy *policy;
	char *policy_path;
	struct stat policy_stat;
	char version[24];
	size_t ncats;
	struct counts *counts; /* ncats + 1: the last for "none" */
};

#define U(f) offsetof(struct urlfilter_conf, f)

static const struct conf_directive urlfilter_directives[] = {
        {.name = "lists",
         .ctx = CTX_MODULE,
         .type = CT_PATH,
         .offset = U(lists),
         .def = "lists",
         .help = "folder of category folders with domains, urls and expressions files (UT1 "
                 "layout)"},
        {.name = "policy",
         .ctx = CTX_MODULE,
         .type = CT_PATH,
         .offset = U(policy),
         .def = "urlfilter.policy",
         .help = "who may reach which categories, and when"},
};

static void urlfilter_conf_free(void *mconf)
{
	struct urlfilter_conf *c = mconf;
	free(c->lists);
	free(c->policy);
}

static struct urlfilter_state *state_of(const void *p)
{
	struct urlfilter_state *st = (struct urlfilter_state *)p;
	if (st == NULL || st->magic != URLFILTER_MAGIC)
		abort();
	return st;
}

static void lists_unref(struct shared_lists *l)
{
	if (l == NULL || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	url_lists_free(l->lists);
	free(l->dir);
	free(l);
}

static struct shared_lists *lists_load(const char *dir, FILE *errors)
{
	struct url_lists_stats st;
	/* Skipped lines are worth seeing in "icapd -t"; they are not errors. */
	struct url_lists *ul = url_lists_load(dir, errors, errors, &st);
	if (ul == NULL)
		return NULL;
	struct shared_lists *l = calloc(1, sizeof(*l));
	if (l == NULL || (l->dir = strdup(dir)) == NULL)
		abort();
	atomic_init(&l->refs, 1);
	l->lists = ul;
	return l;
}

static int category_id(void *arg, const char *name)
{
	return url_lists_category_id(arg, name);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The version: the lists' digest and the policy file's bytes. */
static int state_version(struct urlfilter_state *st, FILE *errors)
{
	static const char hex[] = "0123456789abcdef";
	size_t len;
	char *text = lex_read_file(st->policy_path, POLICY_MAX, &len, errors);
	if (text == NULL)
		return -1;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL)
		abort();
	const char *ld = url_lists_digest(st->lists->lists);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, ld, strlen(ld) + 1);
	EVP_DigestUpdate(md, text, len);
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	free(text);
	for (size_t i = 0; i < (sizeof(st->version) - 1) / 2; i++) {
		st->version[2 * i] = hex[h[i] >> 4];
		st->version[2 * i + 1] = hex[h[i] & 15];
	}
	return 0;
}

static void urlfilter_ref(void *state)
{
	atomic_fetch_add(&state_of(state)->refs, 1);
}

static void urlfilter_unref(void *state)
{
	if (state == NULL)
		return;
	struct urlfilter_state *st = state_of(state);
	if (atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	lists_unref(st->lists);
	url_policy_free(st->policy);
	free(st->policy_path);
	free(st->counts);
	st->magic = 0;
	free(st);
}

static bool lists_unchanged(const struct shared_lists *l, const char *dir)
{
	return l != NULL && strcmp(l->dir, dir) == 0 && !url_lists_changed(l->lists);
}

static bool policy_unchanged(const struct urlfilter_state *st, const char *path)
{
	struct stat now;
	return strcmp(st->policy_path, path) == 0 && stat(path, &now) == 0 &&
	       same_file(&now, &st->policy_stat);
}

static void *urlfilter_build(const void *mconf, void *old_state, FILE *errors)
{
	const struct urlfilter_conf *c = mconf;
	struct urlfilter_state *old = old_state ? state_of(old_state) : NULL;

	if (old != NULL && lists_unchanged(old->lists, c->lists) &&
	    policy_unchanged(old, c->policy)) {
		urlfilter_ref(old);
		return old;
	}
	struct urlfilter_state *st = calloc(1, sizeof(*st));
	if (st == NULL || (st->policy_path = strdup(c->policy)) == NULL)
		abort();
	st->magic = URLFILTER_MAGIC;
	atomic_init(&st->refs, 1);
	if (old != NULL && lists_unchanged(old->lists, c->lists)) {
		st->lists = old->lists;
		atomic_fetch_add(&st->lists->refs, 1);
	} else if ((st->lists = lists_load(c->lists, errors)) == NULL) {
		urlfilter_unref(st);
		return NULL;
	}
	/* The stat first: an edit during the load shows as a change later. */
	if (stat(c->policy, &st->policy_stat) < 0) {
		fprintf(errors, "%s: cannot open: %s\n", c->policy, strerror(errno));
		urlfilter_unref(st);
		return NULL;
	}
	st->policy = url_policy_load(c->policy, category_id, st->lists->lists, errors);
	if (st->policy == NULL || state_version(st, errors) < 0) {
		urlfilter_unref(st);
		return NULL;
	}
	if (url_policy_uses_address(st->policy))
		fprintf(errors,
		        "%s: warning: groups by address need Squid's \"icap_send_client_ip on\"\n",
		        c->policy);
	if (url_policy_uses_user(st->policy))
		fprintf(errors,
		        "%s: warning: groups by user need Squid's \"icap_send_client_username on\" "
		        "(and authentication)\n",
		        c->policy);
	st->ncats = url_lists_ncategories(st->lists->lists);
	st->counts = calloc(st->ncats + 1, sizeof(*st->counts));
	if (st->counts == NULL)
		abort();
	return st;
}

static const char *urlfilter_version(const void *state)
{
	return state_of(state)->version;
}

static bool urlfilter_stale(const void *state)
{
	const struct urlfilter_state *st = state_of(state);
	return !lists_unchanged(st->lists, st->lists->dir) ||
	       !policy_unchanged(st, st->policy_path);
}

/* The URL of the message's request, canonical; false if it has none. */
static bool request_url(const struct module_msg *m, struct url_canon *c)
{
	const struct http_head *h = m->req;
	if (h == NULL)
		return false;
	const char *host = NULL;
	const struct hdr *hh = hdr_find(h->hdrs, h->nhdrs, "Host");
	size_t host_len = 0;
	if (hh != NULL) {
		host = hh->value;
		host_len = hh->value_len;
	}
	return url_canon_request(h->method, h->method_len, h->target, h->target_len, host, host_len,
	                         c) == 0;
}

static void urlfilter_judge_headers(const void *state, const struct module_msg *m,
                                    struct verdict *v)
{
	const struct urlfilter_state *st = state_of(state);
	struct url_canon c;
	struct url_match matches[64];
	size_t n = 0;

	if (request_url(m, &c))
		n = url_lists_lookup(st->lists->lists, &c, matches,
		                     sizeof(matches) / sizeof(matches[0]));
	struct url_client client = {.address = m->client, .user = m->user, .now = time(NULL)};
	struct url_decision d;
	url_policy_decide(st->policy, &client, matches, n, &d);

	size_t slot = d.category >= 0 ? (size_t)d.category : st->ncats;
	atomic_fetch_add_explicit(d.block ? &st->counts[slot].block : &st->counts[slot].allow, 1,
	                          memory_order_relaxed);
	const char *cat = d.category >= 0
	                          ? url_lists_category_name(st->lists->lists, (unsigned)d.category)
	                          : NULL;
	v->kind = d.block ? VERDICT_BLOCK : VERDICT_PASS;
	v->by_default = cat == NULL;
	snprintf(v->reason, sizeof(v->reason), "%s", cat ? cat : "default policy");
	if (d.match != NULL)
		snprintf(v->detail, sizeof(v->detail), "%s/%s:%u (policy %s, %s:%d)",
		         st->lists->dir, d.match->file, d.match->line, d.policy ? d.policy : "-",
		         st->policy_path, d.line);
	else if (d.policy != NULL)
		snprintf(v->detail, sizeof(v->detail), "default of policy %s, %s:%d", d.policy,
		         st->policy_path, d.line);
	else
		snprintf(v->detail, sizeof(v->detail), "no policy applies");
}

/* cat is a folder name: anything but '/' and NUL, so it is escaped. */
static void render_one(struct evbuffer *out, const char *cat, const struct counts *k)
{
	static const char *const action[2] = {"allow", "block"};
	unsigned long long v[2] = {atomic_load(&k->allow), atomic_load(&k->block)};
	for (int a = 0; a < 2; a++) {
		evbuffer_add_printf(out, "icapd_urlfilter_decisions_total{category=\"");
		metrics_label_value(out, cat);
		evbuffer_add_printf(out, "\",action=\"%s\"} %llu\n", action[a], v[a]);
	}
}

static void urlfilter_render_metrics(const void *state, struct evbuffer *out)
{
	const struct urlfilter_state *st = state_of(state);
	evbuffer_add_printf(out, "# HELP icapd_urlfilter_decisions_total URL decisions by the "
	                         "category that decided and the action.\n"
	                         "# TYPE icapd_urlfilter_decisions_total counter\n");
	for (size_t i = 0; i < st->ncats; i++)
		render_one(out, url_lists_category_name(st->lists->lists, (unsigned)i),
		           &st->counts[i]);
	render_one(out, "none", &st->counts[st->ncats]);
}

const struct module urlfilter_module = {
        .name = "urlfilter",
        .directives = urlfilter_directives,
        .ndirectives = sizeof(urlfilter_directives) / sizeof(urlfilter_directives[0]),
        .conf_size = sizeof(struct urlfilter_conf),
        .conf_free = urlfilter_conf_free,
        .build = urlfilter_build,
        .ref = urlfilter_ref,
        .unref = urlfilter_unref,
        .version = urlfilter_version,
        .stale = urlfilter_stale,
        .judge_headers = urlfilter_judge_headers,
        .render_metrics = urlfilter_render_metrics,
};
