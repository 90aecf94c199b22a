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

#include "cache.h"
#include "clock.h"
#include "rcache.h"

#define INFLIGHT_BUCKETS 1024

struct inflight {
	unsigned char key[32];
	struct vcache_waiter waiters; /* list head */
	struct inflight *next;
	struct vcache *vc;
	struct rcache_req *ask; /* the shared tier's answer is awaited */
};

struct vcache {
	struct cache *cache;
	struct rcache *rc;
	struct inflight *buckets[INFLIGHT_BUCKETS];
	uint64_t coalesced; /* transactions that waited for another's scan */
};

struct vcache *vcache_new(size_t memory, uint64_t ttl_ms, struct rcache *rc)
{
	struct vcache *vc = calloc(1, sizeof(*vc));
	if (vc == NULL || (vc->cache = cache_new(memory, ttl_ms)) == NULL)
		abort();
	vc->rc = rc;
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
			if (e->ask != NULL)
				rcache_cancel(e->ask);
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

static void from_cached(const struct cache_verdict *c, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->kind = c->kind == CACHE_BLOCK ? VERDICT_BLOCK : VERDICT_PASS;
	v->is_threat = c->is_threat;
	/* Module names are static strings of the module table. */
	const struct module *m = module_find(c->module);
	v->module = m ? m->name : NULL;
	snprintf(v->reason, sizeof(v->reason), "%s", c->reason);
}

static void enqueue(struct inflight *e, struct vcache_waiter *w)
{
	struct vcache_waiter *head = &e->waiters;
	memcpy(w->key, e->key, 32);
	w->next = head;
	w->prev = head->prev;
	head->prev->next = w;
	head->prev = w;
}

static struct vcache_waiter *dequeue(struct inflight *e)
{
	struct vcache_waiter *w = e->waiters.next;
	if (w == &e->waiters)
		return NULL;
	w->prev->next = w->next;
	w->next->prev = w->prev;
	w->next = w->prev = NULL;
	return w;
}

static void remove_entry(struct vcache *vc, struct inflight *e)
{
	struct inflight **p = slot(vc, e->key);
	if (*p == e)
		*p = e->next;
	free(e);
}

/* Hands v to every waiter of e and drops e. A done() may free its waiter or
 * start a new entry for the same key: e leaves the table first. */
static void deliver(struct vcache *vc, struct inflight *e, const struct verdict *v)
{
	struct inflight **p = slot(vc, e->key);
	if (*p == e)
		*p = e->next;
	struct vcache_waiter *w;
	while ((w = dequeue(e)) != NULL)
		w->done(w->arg, v);
	free(e);
}

/* The shared tier answered for e. */
static void asked(void *arg, bool found, const struct cache_verdict *c)
{
	struct inflight *e = arg;
	struct vcache *vc = e->vc;
	e->ask = NULL;
	if (found) {
		struct verdict v;
		from_cached(c, &v);
		cache_put(vc->cache, e->key, c, clock_ms());
		deliver(vc, e, &v);
		return;
	}
	/* Nobody has it: the first still waiting scans; the others wait on. */
	struct vcache_waiter *w = dequeue(e);
	if (w == NULL) {
		remove_entry(vc, e);
		return;
	}
	w->done(w->arg, NULL);
}

enum vcache_result vcache_begin(struct vcache *vc, const unsigned char key[32],
                                struct vcache_waiter *w, struct verdict *v)
{
	struct cache_verdict c;
	if (cache_get(vc->cache, key, clock_ms(), &c)) {
		from_cached(&c, v);
		return VCACHE_HIT;
	}
	struct inflight **p = slot(vc, key);
	if (*p != NULL) {
		enqueue(*p, w);
		vc->coalesced++;
		return VCACHE_WAIT;
	}
	struct inflight *e = calloc(1, sizeof(*e));
	if (e == NULL)
		abort();
	memcpy(e->key, key, 32);
	e->vc = vc;
	e->waiters.next = e->waiters.prev = &e->waiters;
	*p = e;
	if (vc->rc == NULL)
		return VCACHE_SCAN;
	enqueue(e, w);
	e->ask = rcache_get(vc->rc, key, asked, e);
	return VCACHE_ASK;
}

void vcache_end(struct vcache *vc, const unsigned char key[32], const struct verdict *v)
{
	if (v->kind == VERDICT_PASS || v->kind == VERDICT_BLOCK) {
		struct cache_verdict c;
		to_cached(v, &c);
		cache_put(vc->cache, key, &c, clock_ms());
		if (vc->rc != NULL)
			rcache_put(vc->rc, key, &c);
	}
	struct inflight *e = *slot(vc, key);
	if (e != NULL)
		deliver(vc, e, v);
}

void vcache_cancel(struct vcache *vc, struct vcache_waiter *w)
{
	if (w->next == NULL)
		return;
	w->prev->next = w->next;
	w->next->prev = w->prev;
	w->next = w->prev = NULL;
	/* The last one waiting on a lookup: nobody needs the answer. */
	struct inflight *e = *slot(vc, w->key);
	if (e != NULL && e->ask != NULL && e->waiters.next == &e->waiters) {
		rcache_cancel(e->ask);
		remove_entry(vc, e);
	}
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
	if (vc->rc == NULL)
		return;
	struct rcache_stats r;
	rcache_stats(vc->rc, &r);
	evbuffer_add_printf(
	        out,
	        "# HELP icapd_cache_redis_hits_total Verdicts found in the shared tier.\n"
	        "# TYPE icapd_cache_redis_hits_total counter\n"
	        "icapd_cache_redis_hits_total %llu\n"
	        "# HELP icapd_cache_redis_misses_total Lookups in the shared tier that "
	        "found nothing usable (timeouts and bad entries included).\n"
	        "# TYPE icapd_cache_redis_misses_total counter\n"
	        "icapd_cache_redis_misses_total %llu\n"
	        "# HELP icapd_cache_redis_timeouts_total Lookups slower than "
	        "redis_timeout.\n"
	        "# TYPE icapd_cache_redis_timeouts_total counter\n"
	        "icapd_cache_redis_timeouts_total %llu\n"
	        "# HELP icapd_cache_redis_errors_total Error replies, lost and failed "
	        "connections.\n"
	        "# TYPE icapd_cache_redis_errors_total counter\n"
	        "icapd_cache_redis_errors_total %llu\n"
	        "# HELP icapd_cache_redis_bad_entries_total Entries ignored because "
	        "their signature did not verify.\n"
	        "# TYPE icapd_cache_redis_bad_entries_total counter\n"
	        "icapd_cache_redis_bad_entries_total %llu\n"
	        "# HELP icapd_cache_redis_up 1 while connected to Redis.\n"
	        "# TYPE icapd_cache_redis_up gauge\n"
	        "icapd_cache_redis_up %d\n",
	        (unsigned long long)r.hits, (unsigned long long)r.misses,
	        (unsigned long long)r.timeouts, (unsigned long long)r.errors,
	        (unsigned long long)r.bad_mac, r.up ? 1 : 0);
}
