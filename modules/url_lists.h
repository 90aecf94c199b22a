/*
 * url_lists: category lists in the layout administrators download (UT1's
 * "blacklists" from Université Toulouse 1, the older Shallalist): one folder
 * per category under a root, each holding some of
 *
 *   domains      one host per line; it matches itself and every subdomain
 *   urls         host/path per line (no scheme); it matches that host and
 *                its subdomains, with a path equal to the entry's or going
 *                on from it at a '/' or '?' boundary
 *   expressions  PCRE2 regular expressions, matched against "host/path"
 *                of the canonical URL (case-insensitive)
 *
 * Lines are forgiving: '#' comments, blank lines, stray whitespace, CRLF,
 * upper case, a leading "*." or ".", trailing dots, "www." (dropped, so
 * www.example.com and example.com are the same entry). A line that cannot
 * be used is reported as "file:line: why" and skipped, never fatal for the
 * rest.
 *
 * Loaded lists are immutable and compact: one index for all categories,
 * built when a generation is built (on the reload thread), shared by every
 * thread without locks. Lookups cost a few hash probes per host suffix and
 * path prefix.
 */
#ifndef ICAPD_URL_LISTS_H
#define ICAPD_URL_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "url_canon.h"

#define URL_LISTS_MAX_CATEGORIES 1024

struct url_lists;

struct url_lists_stats {
	size_t categories;
	size_t domains, urls, expressions; /* entries kept */
	size_t skipped;                    /* lines reported and skipped */
	size_t bytes;                      /* memory the index holds */
};

/* Where an entry came from: "adult/domains" (relative to the root), line. */
struct url_match {
	unsigned category; /* id, see url_lists_category_name */
	const char *file;  /* owned by the lists */
	unsigned line;
};

/*
 * Loads every category folder under dir (a folder with none of the three
 * files is ignored; a category name is the folder's name). Skipped lines
 * are reported to warnings as "cat/file:line: why". Returns NULL, with the
 * reason on errors, only when dir or a list file cannot be read at all.
 * stats may be NULL.
 */
struct url_lists *url_lists_load(const char *dir, FILE *warnings, FILE *errors,
                                 struct url_lists_stats *stats);

void url_lists_free(struct url_lists *l);

size_t url_lists_ncategories(const struct url_lists *l);
const char *url_lists_category_name(const struct url_lists *l, unsigned id);
/* The id of the category called name, or -1. */
int url_lists_category_id(const struct url_lists *l, const char *name);

/*
 * The categories that list the URL c: at most one match per category (the
 * first source found: domains, then urls, then expressions), in category
 * id order, up to max. Returns how many were written.
 */
size_t url_lists_lookup(const struct url_lists *l, const struct url_canon *c, struct url_match *out,
                        size_t max);

/* Hex SHA-256 of every list file's name and contents, for the ISTag. */
const char *url_lists_digest(const struct url_lists *l);

/* True if a list file or folder changed on disk since the load (stat). */
bool url_lists_changed(const struct url_lists *l);

#endif
