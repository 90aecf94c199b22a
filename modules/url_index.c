/*
 * url_index: the compact string index behind url_lists (see url_index.h).
 *
 * Texts are compared with strncmp, never past their NUL: a stored text
 * may be shorter than the key and end the arena.
 *
 * Linear probing at a load of at most 0.6: a miss reads a few neighbouring
 * slots, mostly in one cache line, and compares their tags; the arena is
 * read only when a tag matches. Slots index with the multiply-shift
 * reduction of the 64-bit hash, so the table is sized to the entries
 * (n * 5/3), not to a power of two. Every table has empty slots, so every
 * probe ends.
 *
 * The arena grows with realloc: for lists of any size glibc serves it with
 * mmap and grows it with mremap, without copying, and the caller reserves a
 * file's size up front, so the arena is rarely moved at all. After the
 * build its spare room is given back.
 */
#include "url_index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ARENA_MAX     ((size_t)UINT32_MAX)
#define URL_BIT       0x8000u
#define BATCH         16 /* entries hashed (and their slots prefetched) ahead of inserts */
#define TABLE_SIZE(n) ((n) + (n)*2 / 3 + 8)

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

/* The hash: 8 bytes at a time through a 64x64->128-bit multiply, folded. */

static inline uint64_t mix(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hash(const char *s, size_t n, uint64_t seed)
{
	uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
	uint64_t w;
	while (n > 8) {
		memcpy(&w, s, 8);
		h = mix(w ^ 0xa0761d6478bd642fULL, h ^ 0xe7037ed1a0b428dbULL);
		s += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, s, n);
	return mix(w ^ 0x8ebc6af09c88c6e3ULL, h ^ 0x589965cc75374cc3ULL);
}

static inline size_t slot_of(uint64_t h, size_t size)
{
	return (size_t)(((unsigned __int128)h * size) >> 64);
}

static inline unsigned meta_cat(const char *e)
{
	uint16_t c;
	memcpy(&c, e, sizeof(c));
	return c;
}

static inline unsigned meta_line(const char *e)
{
	uint32_t l;
	memcpy(&l, e + 2, sizeof(l));
	return l;
}

void url_index_init(struct url_index *x)
{
	memset(x, 0, sizeof(*x));
	x->cap = 4096;
	x->arena = xrealloc(NULL, x->cap);
	x->arena[0] = '\0';
	x->len = 1;
	if (getrandom(&x->seed, sizeof(x->seed), GRND_NONBLOCK) != sizeof(x->seed)) {
		/* No entropy yet (early boot): still different from run to run. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x->seed = mix((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)x,
		              (uint64_t)ts.tv_sec ^ 0x2d358dccaa6c78a5ULL);
	}
}

void url_index_free(struct url_index *x)
{
	free(x->arena);
	free(x->keys.slot);
	free(x->hosts.slot);
	memset(x, 0, sizeof(*x));
}

static int grow(struct url_index *x, size_t need, bool exact)
{
	if (need > ARENA_MAX)
		return -1;
	if (need <= x->cap)
		return 0;
	size_t cap = exact ? need : x->cap * 2;
	if (cap < need)
		cap = need;
	if (cap > ARENA_MAX)
		cap = ARENA_MAX;
	x->arena = xrealloc(x->arena, cap);
	x->cap = cap;
	return 0;
}

int url_index_reserve(struct url_index *x, size_t more)
{
	if (more > ARENA_MAX)
		return -1;
	return grow(x, x->len + more, true);
}

char *url_index_text(struct url_index *x, size_t max)
{
	if (grow(x, x->len + URL_INDEX_META + max + 1, false) < 0)
		return NULL;
	return x->arena + x->len + URL_INDEX_META;
}

void url_index_add(struct url_index *x, bool url, unsigned cat, unsigned line, size_t n)
{
	char *e = x->arena + x->len;
	uint16_t c = (uint16_t)(cat | (url ? URL_BIT : 0));
	uint32_t l = line;
	memcpy(e, &c, sizeof(c));
	memcpy(e + 2, &l, sizeof(l));
	e[URL_INDEX_META + n] = '\0';
	x->len += URL_INDEX_META + n + 1;
	x->added++;
	if (url)
		x->added_urls++;
}

/* Building */

struct pending {
	uint32_t off, n;
	uint64_t h;
};

/* Inserts one entry into keys; false if its category has it already. */
static bool insert_key(struct url_index *x, const struct pending *p)
{
	struct url_index_table *t = &x->keys;
	const char *e = x->arena + p->off;
	uint32_t tag = (uint32_t)p->h;
	size_t i = slot_of(p->h, t->size);
	for (;;) {
		struct url_index_slot *s = &t->slot[i];
		if (s->off == 0) {
			s->off = p->off;
			s->tag = tag;
			return true;
		}
		if (s->tag == tag) {
			const char *o = x->arena + s->off;
			if (meta_cat(o) == meta_cat(e) &&
			    strcmp(o + URL_INDEX_META, e + URL_INDEX_META) == 0)
				return false;
		}
		if (++i == t->size)
			i = 0;
	}
}

/* The host of a "urls" entry (text up to its first '/') into hosts, once. */
static void insert_host(struct url_index *x, uint32_t off, size_t len)
{
	struct url_index_table *t = &x->hosts;
	const char *text = x->arena + off + URL_INDEX_META;
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : len;
	size_t slashes = 0;
	for (const char *p = slash; p != NULL; p = strchr(p + 1, '/'))
		slashes++;
	if (len > x->url_max_len)
		x->url_max_len = len;
	if (slashes > x->url_max_slashes)
		x->url_max_slashes = slashes;
	uint64_t h = hash(text, n, x->seed);
	uint32_t tag = (uint32_t)h;
	size_t i = slot_of(h, t->size);
	for (;;) {
		struct url_index_slot *s = &t->slot[i];
		if (s->off == 0) {
			s->off = off;
			s->tag = tag;
			return;
		}
		if (s->tag == tag) {
			const char *o = x->arena + s->off + URL_INDEX_META;
			if (strncmp(o, text, n) == 0 && o[n] == '/')
				return;
		}
		if (++i == t->size)
			i = 0;
	}
}

void url_index_build(struct url_index *x)
{
	free(x->keys.slot);
	free(x->hosts.slot);
	x->keys.size = TABLE_SIZE(x->added);
	x->keys.slot = xcalloc(x->keys.size, sizeof(struct url_index_slot));
	x->hosts.size = TABLE_SIZE(x->added_urls);
	x->hosts.slot = xcalloc(x->hosts.size, sizeof(struct url_index_slot));
	x->domains = x->urls = x->dups = 0;
	x->url_max_len = x->url_max_slashes = 0;

	/* The table is far larger than the caches: hash a batch of entries and
	 * prefetch their slots, then insert them, in arena order (so that of
	 * two equal entries the first stays). */
	struct pending batch[BATCH];
	size_t off = 1;
	while (off < x->len) {
		size_t nb = 0;
		while (nb < BATCH && off < x->len) {
			const char *e = x->arena + off;
			size_t n = strlen(e + URL_INDEX_META);
			struct pending *p = &batch[nb++];
			p->off = (uint32_t)off;
			p->n = (uint32_t)n;
			p->h = hash(e + URL_INDEX_META, n, x->seed);
			__builtin_prefetch(&x->keys.slot[slot_of(p->h, x->keys.size)], 1);
			off += URL_INDEX_META + n + 1;
		}
		for (size_t i = 0; i < nb; i++) {
			bool url = meta_cat(x->arena + batch[i].off) & URL_BIT;
			if (!insert_key(x, &batch[i])) {
				x->dups++;
			} else if (url) {
				x->urls++;
				insert_host(x, batch[i].off, batch[i].n);
			} else {
				x->domains++;
			}
		}
	}
	if (x->cap > x->len) {
		x->arena = xrealloc(x->arena, x->len);
		x->cap = x->len;
	}
}

size_t url_index_bytes(const struct url_index *x)
{
	return x->cap + (x->keys.size + x->hosts.size) * sizeof(struct url_index_slot);
}

/* Lookups */

static void find(const struct url_index *x, const char *key, size_t n, uint64_t h, url_index_fn *fn,
                 void *arg)
{
	const struct url_index_table *t = &x->keys;
	uint32_t tag = (uint32_t)h;
	size_t i = slot_of(h, t->size);
	for (;;) {
		const struct url_index_slot *s = &t->slot[i];
		if (s->off == 0)
			return;
		if (s->tag == tag) {
			const char *e = x->arena + s->off;
			if (strncmp(e + URL_INDEX_META, key, n) == 0 &&
			    e[URL_INDEX_META + n] == '\0') {
				unsigned c = meta_cat(e);
				if (fn(arg, c & ~URL_BIT, c & URL_BIT, meta_line(e)))
					return;
			}
		}
		if (++i == t->size)
			i = 0;
	}
}

void url_index_find(const struct url_index *x, const char *key, size_t n, url_index_fn *fn,
                    void *arg)
{
	if (x->keys.size > 0)
		find(x, key, n, hash(key, n, x->seed), fn, arg);
}

void url_index_find_keys(const struct url_index *x, const struct url_index_key *k, size_t nk,
                         url_index_fn *fn, void *arg)
{
	uint64_t h[URL_INDEX_KEYS];
	if (x->keys.size == 0 || nk > URL_INDEX_KEYS)
		return;
	for (size_t i = 0; i < nk; i++) {
		h[i] = hash(k[i].s, k[i].n, x->seed);
		__builtin_prefetch(&x->keys.slot[slot_of(h[i], x->keys.size)]);
	}
	for (size_t i = 0; i < nk; i++)
		find(x, k[i].s, k[i].n, h[i], fn, arg);
}

bool url_index_has_host(const struct url_index *x, const char *host, size_t n)
{
	const struct url_index_table *t = &x->hosts;
	if (t->size == 0 || x->urls == 0)
		return false;
	uint64_t h = hash(host, n, x->seed);
	uint32_t tag = (uint32_t)h;
	size_t i = slot_of(h, t->size);
	for (;;) {
		const struct url_index_slot *s = &t->slot[i];
		if (s->off == 0)
			return false;
		if (s->tag == tag) {
			const char *e = x->arena + s->off + URL_INDEX_META;
			if (strncmp(e, host, n) == 0 && e[n] == '/')
				return true;
		}
		if (++i == t->size)
			i = 0;
	}
}
