/*
 * vcache: the cache plus a table of scans in flight, both touched only on
 * the event loop. Transactions whose body has the same key as a scan in
 * flight wait on that scan's entry; when it ends every waiter gets the same
 * verdict. A scan error is handed to the waiters (each applies its own
 * service's on_scan_error) but never cached.
 */
#include "vcache.h"

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache.h"

#define INFLIGHT_BUCKETS 1024

struct inflight {
	unsigned char key[32];
	struct vcache_waiter waiters; /* list head */
	struct inflight *next;
};

struct vcache {
	struct cache *cache;
	struct inflight *buckets[INFLIGHT_BUCKETS];
	uint64_t coalesced; /* transactions that waited for another's scan */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct vcache *vcache_new(size_t memory, uint64_t ttl_ms)
{
	struct vcache *vc = calloc(1, sizeof(*vc));
	if (vc == NULL || (vc->cache = cache_new(memory, ttl_ms)) == NULL)
		abort();
	return vc;
}

void vcache_free(struct vcache *vc)
{
	if (vc == NULL)
		return;
	for (size_t i = 0; i < INFLIGHT_BUCKETS; i++) {
		struct inflight *e = vc->buckets[i];
		while (e != NULL) {
			struct inflight *next = e->next;
			free(e);
			e = next;
		}
	}
	cache_free(vc->cache);
	free(vc);
}

void vcache_key(unsigned char key[32], const unsigned char sha[32], const char *istag,
                const struct http_head *h)
{
	/* The ISTag, then every Content-Type and Content-Encoding field whole, as
	 * sent (duplicates included: a reader may take either). Nothing is cut:
	 * contexts that differ anywhere must not share a verdict. */
	static const char *const names[] = {"Content-Type", "Content-Encoding"};
	size_t cap = strlen(istag) + 1;
	for (size_t i = 0; h != NULL && i < h->nhdrs; i++)
		cap += h->hdrs[i].value_len + 2;
	char *ctx = malloc(cap);
	if (ctx == NULL)
		abort();
	size_t n = strlen(istag) + 1;
	memcpy(ctx, istag, n);
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; h != NULL && i < h->nhdrs; i++) {
			const struct hdr *f = &h->hdrs[i];
			if (f->name_len != strlen(names[k]) ||
			    strncasecmp(f->name, names[k], f->name_len) != 0)
				continue;
			ctx[n++] = (char)('0' + k);
			memcpy(ctx + n, f->value, f->value_len);
			n += f->value_len;
			ctx[n++] = 0;
		}
	}
	bool ok = cache_key(key, sha, ctx, n);
	free(ctx);
	if (!ok)
		abort(); /* out of memory in OpenSSL */
}

static struct inflight **slot(struct vcache *vc, const unsigned char key[32])
{
	unsigned h = (unsigned)key[0] | (unsigned)key[1] << 8;
	struct inflight **p = &vc->buckets[h % INFLIGHT_BUCKETS];
	while (*p != NULL && memcmp((*p)->key, key, 32) != 0)
		p = &(*p)->next;
	return p;
}

static void to_cached(const struct verdict *v, struct cache_verdict *c)
{
	cache_verdict_set(c, v->kind == VERDICT_BLOCK ? CACHE_BLOCK : CACHE_PASS, v->is_threat,
	                  v->module ? v->module : "", v->reason);
}

enum vcache_result vcache_begin(struct vcache *vc, const unsigned char key[32],
                                struct vcache_waiter *w, struct verdict *v)
{
	struct cache_verdict c;
	if (cache_get(vc->cache, key, now_ms(), &c)) {
		memset(v, 0, sizeof(*v));
		v->kind = c.kind == CACHE_BLOCK ? VERDICT_BLOCK : VERDICT_PASS;
		v->is_threat = c.is_threat;
		/* Module names are static strings of the module table. */
		const struct module *m = module_find(c.module);
		v->module = m ? m->name : NULL;
		snprintf(v->reason, sizeof(v->reason), "%s", c.reason);
		return VCACHE_HIT;
	}
	struct inflight **p = slot(vc, key);
	if (*p == NULL) {
		struct inflight *e = calloc(1, sizeof(*e));
		if (e == NULL)
			abort();
		memcpy(e->key, key, 32);
		e->waiters.next = e->waiters.prev = &e->waiters;
		*p = e;
		return VCACHE_SCAN;
	}
	struct vcache_waiter *head = &(*p)->waiters;
	memcpy(w->key, key, 32);
	w->next = head;
	w->prev = head->prev;
	head->prev->next = w;
	head->prev = w;
	vc->coalesced++;
	return VCACHE_WAIT;
}

void vcache_end(struct vcache *vc, const unsigned char key[32], const struct verdict *v)
{
	if (v->kind == VERDICT_PASS || v->kind == VERDICT_BLOCK) {
		struct cache_verdict c;
		to_cached(v, &c);
		cache_put(vc->cache, key, &c, now_ms());
	}
	struct inflight **p = slot(vc, key);
	struct inflight *e = *p;
	if (e == NULL)
		return;
	*p = e->next;
	/* Each done() may free its waiter: take it off the list first. */
	while (e->waiters.next != &e->waiters) {
		struct vcache_waiter *w = e->waiters.next;
		w->prev->next = w->next;
		w->next->prev = w->prev;
		w->next = w->prev = NULL;
		w->done(w->arg, v);
	}
	free(e);
}

void vcache_cancel(struct vcache *vc, struct vcache_waiter *w)
{
	(void)vc;
	if (w->next == NULL)
		return;
	w->prev->next = w->next;
	w->next->prev = w->prev;
	w->next = w->prev = NULL;
}

void vcache_render_metrics(struct vcache *vc, struct evbuffer *out)
{
	struct cache_stats s;
	cache_stats(vc->cache, &s);
	evbuffer_add_printf(
	        out,
	        "# HELP icapd_cache_hits_total Verdicts answered from the cache.\n"
	        "# TYPE icapd_cache_hits_total counter\n"
	        "icapd_cache_hits_total %llu\n"
	        "# HELP icapd_cache_misses_total Bodies not found in the cache.\n"
	        "# TYPE icapd_cache_misses_total counter\n"
	        "icapd_cache_misses_total %llu\n"
	        "# HELP icapd_cache_coalesced_total Bodies that waited for a scan of the "
	        "same content already running.\n"
	        "# TYPE icapd_cache_coalesced_total counter\n"
	        "icapd_cache_coalesced_total %llu\n"
	        "# HELP icapd_cache_evictions_total Entries dropped for memory.\n"
	        "# TYPE icapd_cache_evictions_total counter\n"
	        "icapd_cache_evictions_total %llu\n"
	        "# HELP icapd_cache_entries Verdicts held.\n"
	        "# TYPE icapd_cache_entries gauge\n"
	        "icapd_cache_entries %llu\n"
	        "# HELP icapd_cache_bytes Memory the cache holds.\n"
	        "# TYPE icapd_cache_bytes gauge\n"
	        "icapd_cache_bytes %llu\n",
	        (unsigned long long)s.hits, (unsigned long long)s.misses,
	        (unsigned long long)vc->coalesced, (unsigned long long)s.evictions,
	        (unsigned long long)s.entries, (unsigned long long)s.bytes);
}
