/*
 * url_index: the compact string index behind url_lists (internal to it).
 *
 * Every entry of every category's "domains" and "urls" lives in one arena,
 * as [category:2][line:4][canonical text][NUL]; the category's top bit says
 * "urls". An open-addressing table of 8-byte slots (arena offset, 32 bits of
 * the hash) finds them: about 7 + length + 13 bytes an entry in all. The
 * table is built once, after the last entry is added, at its final size
 * (no rehash, so no second table at any time), which is also when
 * duplicates within a category are dropped. A second, small table holds
 * the hosts of the "urls" entries, so that a lookup tries path prefixes
 * only on hosts that have some.
 *
 * The hash is seeded at random for each index: lists come from the
 * administrator, but lookups come from the internet, and with a secret
 * seed nobody can aim many hosts at one chain of the table.
 */
#ifndef ICAPD_URL_INDEX_H
#define ICAPD_URL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define URL_INDEX_META 6 /* bytes before an entry's text */

struct url_index_slot {
	uint32_t off; /* 0: empty (the arena's byte 0 is never an entry) */
	uint32_t tag; /* low bits of the hash */
};

struct url_index_table {
	struct url_index_slot *slot;
	size_t size;
};

struct url_index {
	char *arena;
	size_t len, cap;
	size_t added, added_urls;   /* entries added, duplicates too */
	size_t domains, urls, dups; /* after url_index_build */
	/* The longest "urls" entry and the most '/' in one: longer prefixes of
	 * a URL cannot match, so a lookup need not try them. */
	size_t url_max_len, url_max_slashes;
	struct url_index_table keys, hosts;
	uint64_t seed;
};

void url_index_init(struct url_index *x);
void url_index_free(struct url_index *x);

/*
 * Makes room for more bytes of entries (text plus URL_INDEX_META + 1 each)
 * without growing later, when the caller knows roughly how much comes (a
 * file's size). Returns -1 if the arena would pass 4 GiB.
 */
int url_index_reserve(struct url_index *x, size_t more);

/*
 * Adding an entry: url_index_text gives where to write its text, up to max
 * bytes (-1 beyond 4 GiB); url_index_add then records the n bytes written
 * there. Nothing is added if url_index_add is not called.
 */
char *url_index_text(struct url_index *x, size_t max);
void url_index_add(struct url_index *x, bool url, unsigned cat, unsigned line, size_t n);

/* Builds the tables, drops duplicates, frees the arena's spare room. */
void url_index_build(struct url_index *x);

size_t url_index_bytes(const struct url_index *x);

/*
 * Calls fn for every entry whose text is key[0..n), in no particular order,
 * until fn returns true.
 */
typedef bool url_index_fn(void *arg, unsigned cat, bool url, unsigned line);
void url_index_find(const struct url_index *x, const char *key, size_t n, url_index_fn *fn,
                    void *arg);

/*
 * url_index_find for several keys, in their order, with their slots
 * fetched from memory together rather than one after the other (a host's
 * suffixes: most probes miss the caches). At most URL_INDEX_KEYS keys.
 */
#define URL_INDEX_KEYS 16
struct url_index_key {
	const char *s;
	size_t n;
};
void url_index_find_keys(const struct url_index *x, const struct url_index_key *k, size_t nk,
                         url_index_fn *fn, void *arg);

/* True if some "urls" entry has exactly this host. */
bool url_index_has_host(const struct url_index *x, const char *host, size_t n);

#endif
