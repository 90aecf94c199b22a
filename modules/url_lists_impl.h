/*
 * url_lists_impl: what the files of url_lists share (internal): the loaded
 * lists, built by url_lists.c and read by url_lists_lookup.c, and the
 * canonical forms of list lines (url_lists_line.c).
 */
#ifndef ICAPD_URL_LISTS_IMPL_H
#define ICAPD_URL_LISTS_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "url_index.h"
#include "url_lists.h"

#ifdef WITH_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

enum list_kind { LIST_DOMAINS, LIST_URLS, LIST_EXPRESSIONS, LIST_KINDS };

struct list_expr {
#ifdef WITH_PCRE2
	pcre2_code *code;
#endif
	unsigned line;
};

struct list_category {
	char *name;
	char *file[LIST_KINDS]; /* "name/domains" ...: what url_match.file points to */
	bool has[LIST_KINDS];
	struct list_expr *expr;
	size_t nexpr;
};

struct list_alias {
	char *name;
	unsigned id;
};

/* What url_lists_changed compares. */
struct list_snap {
	char *path;
	unsigned long long dev, ino, size;
	long long mtime_ns;
};

struct url_lists {
	struct list_category *cat;
	size_t ncat;
	struct list_alias *alias; /* sorted by name */
	size_t nalias;
	struct url_index idx;
	size_t nexpr;
#ifdef WITH_PCRE2
	pcre2_match_context *mctx;
#endif
	atomic_ulong limit_hits; /* expression matches stopped by a limit */
	struct list_snap *snap;
	size_t nsnap, capsnap;
	size_t bytes; /* held besides the index */
	char digest[2 * 32 + 1];
};

/* Line forms (url_lists_line.c) */

bool url_lists_is_space(char c);

/*
 * A plain host copied to out, lower-cased, if url_canon_host would leave it
 * as it is but for case, a leading "*." or "." (list_form) and trailing
 * dots: returns its length, or -1 when url_canon_host must decide.
 */
int url_lists_host_fast(const char *s, size_t n, char *out, bool list_form);

/*
 * The same for a "urls" line (host, then a path that url_canon_url would
 * leave as it is): host without "www." and path to out, or -1.
 */
int url_lists_url_fast(const char *s, size_t n, char *out);

/* Drops a leading "www." from the canonical name s[0..n) when a name with
 * a dot remains; returns the new length. */
size_t url_lists_strip_www(char *s, size_t n);

#endif
