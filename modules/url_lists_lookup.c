/*
 * url_lists_lookup: which categories list a URL (see url_lists.h).
 *
 * Sources are tried in the order a match keeps: the host and each of its
 * suffixes in "domains" (their slots fetched together, see url_index.h),
 * then "urls" entries, only on suffixes that some "urls" entry has as its
 * host, then expressions, only for categories not found yet. Work is
 * bounded by the URL's length: at most two probes per path segment, and
 * none longer than the longest entry.
 *
 * Expressions run with the match context's limits; a match stopped by a
 * limit counts as no match (and in limit_hits).
 */
#include "url_lists_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hit {
	uint16_t cat;
	uint16_t kind;
	uint32_t line;
};

/* The categories found so far: one hit each, the first. */
struct hits {
	const struct url_lists *l;
	uint64_t seen[(URL_LISTS_MAX_CATEGORIES + 63) / 64];
	size_t n;
	struct hit hit[URL_LISTS_MAX_CATEGORIES];
};

static void add_hit(struct hits *h, unsigned cat, enum list_kind kind, unsigned line)
{
	uint64_t bit = 1ULL << (cat % 64);
	if (cat >= h->l->ncat || (h->seen[cat / 64] & bit))
		return;
	h->seen[cat / 64] |= bit;
	h->hit[h->n++] = (struct hit){(uint16_t)cat, (uint16_t)kind, line};
}

/* For url_index_find: every entry of the key, as other categories may
 * follow one already found. */
static bool on_entry(void *arg, unsigned cat, bool url, unsigned line)
{
	add_hit(arg, cat, url ? LIST_URLS : LIST_DOMAINS, line);
	return false;
}

/*
 * The "urls" entries of host (a suffix of the URL's): the URL's path cut at
 * each '/' (before and after it) and at the query, then whole; shortest
 * first, and none longer or with more '/' than the longest entry.
 */
static void find_urls(struct hits *h, const struct url_canon *c, const char *host, size_t hn)
{
	const struct url_index *x = &h->l->idx;
	char key[URL_CANON_HOST_MAX + URL_CANON_PATH_MAX];
	if (hn >= URL_CANON_HOST_MAX || c->path_len >= URL_CANON_PATH_MAX)
		return;
	memcpy(key, host, hn);
	memcpy(key + hn, c->path, c->path_len);
	size_t q = c->query_off <= c->path_len ? c->query_off : c->path_len;
	size_t slashes = 0, tried = 0;
#define TRY(len)                                                                                   \
	do {                                                                                       \
		size_t len_ = (len);                                                               \
		if (hn + len_ > x->url_max_len)                                                    \
			return;                                                                    \
		if (len_ > tried) {                                                                \
			url_index_find(x, key, hn + len_, on_entry, h);                            \
			tried = len_;                                                              \
		}                                                                                  \
	} while (0)
	for (size_t k = 0; k < q; k++) {
		if (c->path[k] != '/')
			continue;
		if (k > 0)
			TRY(k);
		if (++slashes > x->url_max_slashes)
			return;
		TRY(k + 1);
	}
	if (q > 0)
		TRY(q);
	if (q < c->path_len)
		TRY(c->path_len);
#undef TRY
}

#ifdef WITH_PCRE2
static void find_expressions(struct hits *h, const struct url_canon *c)
{
	const struct url_lists *l = h->l;
	char subject[URL_CANON_HOST_MAX + URL_CANON_PATH_MAX];
	size_t hn = c->host_len < URL_CANON_HOST_MAX ? c->host_len : URL_CANON_HOST_MAX - 1;
	size_t pn = c->path_len < URL_CANON_PATH_MAX ? c->path_len : URL_CANON_PATH_MAX - 1;
	memcpy(subject, c->host, hn);
	memcpy(subject + hn, c->path, pn);
	pcre2_match_data *md = NULL;
	for (unsigned id = 0; id < l->ncat; id++) {
		const struct list_category *cat = &l->cat[id];
		if (cat->nexpr == 0 || (h->seen[id / 64] & (1ULL << (id % 64))))
			continue;
		if (md == NULL) {
			md = pcre2_match_data_create(1, NULL);
			if (md == NULL)
				abort();
		}
		for (size_t i = 0; i < cat->nexpr; i++) {
			int rc = pcre2_match(cat->expr[i].code, (PCRE2_SPTR)subject, hn + pn, 0, 0,
			                     md, l->mctx);
			if (rc >= 0) {
				add_hit(h, id, LIST_EXPRESSIONS, cat->expr[i].line);
				break;
			}
			if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
			    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
				atomic_fetch_add_explicit((atomic_ulong *)&l->limit_hits, 1,
				                          memory_order_relaxed);
		}
	}
	pcre2_match_data_free(md);
}
#endif

size_t url_lists_lookup(const struct url_lists *l, const struct url_canon *c, struct url_match *out,
                        size_t max)
{
	if (l == NULL || c == NULL || c->host_len == 0 || l->ncat == 0)
		return 0;
	struct hits h;
	h.l = l;
	h.n = 0;
	memset(h.seen, 0, sizeof(h.seen));
	const char *s;
	size_t sn, nk = 0;
	struct url_index_key k[URL_INDEX_KEYS];
	for (size_t i = 0; (s = url_canon_host_suffix(c, i, &sn)) != NULL; i++) {
		k[nk++] = (struct url_index_key){s, sn};
		if (nk == URL_INDEX_KEYS) {
			url_index_find_keys(&l->idx, k, nk, on_entry, &h);
			nk = 0;
		}
	}
	url_index_find_keys(&l->idx, k, nk, on_entry, &h);
	if (l->idx.urls > 0) {
		for (size_t i = 0; (s = url_canon_host_suffix(c, i, &sn)) != NULL; i++)
			if (url_index_has_host(&l->idx, s, sn))
				find_urls(&h, c, s, sn);
	}
#ifdef WITH_PCRE2
	if (l->nexpr > 0 && h.n < l->ncat)
		find_expressions(&h, c);
#endif
	/* In category order: few hits, insertion sort. */
	for (size_t i = 1; i < h.n; i++) {
		struct hit t = h.hit[i];
		size_t j = i;
		for (; j > 0 && h.hit[j - 1].cat > t.cat; j--)
			h.hit[j] = h.hit[j - 1];
		h.hit[j] = t;
	}
	size_t n = h.n < max ? h.n : max;
	for (size_t i = 0; i < n; i++) {
		out[i].category = h.hit[i].cat;
		out[i].file = l->cat[h.hit[i].cat].file[h.hit[i].kind];
		out[i].line = h.hit[i].line;
	}
	return n;
}
