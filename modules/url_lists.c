/*
 * url_lists: category lists in UT1 / Shallalist layout (see url_lists.h).
 *
 * Loading reads each list file once, in 1 MiB reads that also feed the
 * digest, and writes each usable line straight into the index's arena in
 * canonical form (url_index.h): no copy of a file is ever held, and the
 * index is built at its final size at the end, so a load peaks at about
 * the index's own size.
 *
 * Canonical form: domains lines go through url_canon_host and urls lines
 * through url_canon_url, as looked-up URLs do, so that both meet in one
 * spelling; most lines are plain names already, which a fast path
 * (url_lists_line.c) checks and copies. A leading "www." is then dropped
 * when a name remains: lookups walk the host's suffixes, so www.example.com
 * and example.com meet whichever of the two the list or the URL spells.
 *
 * Line rules: '#' starts a comment at the start of a line or after
 * whitespace (a '#' inside a URL is its fragment); other whitespace inside
 * an entry is an error; lines over LINE_MAX_LEN bytes are errors. Errors
 * are reported with file and line (at most WARN_MAX a file, then a count)
 * and the line skipped. The same entry twice in one category is kept once,
 * silently (real lists have many). A UTF-8 byte-order mark is ignored.
 *
 * The digest covers, in load order, each file's relative name, contents
 * and length (and the aliases), so it changes with any byte of a list but
 * not with where the root is. The snapshot for url_lists_changed holds
 * the root, every folder under it (a list file appearing in an ignored
 * folder changes that folder) and every list file, each fstat'ed when it
 * was opened: a change during the load shows at the next check.
 *
 * A folder that is a symbolic link to another category's folder (a way to
 * keep the old name of a renamed category) is an alias: its name finds the
 * same category id, and its files are not loaded twice.
 */
#include "url_lists_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_LEN   4096      /* bytes of a line, without its newline */
#define READ_CHUNK     (1 << 20) /* bytes a read() asks for */
#define WARN_MAX       100       /* lines reported for one file; the rest are counted */
#define DIRS_MAX       65536     /* folders looked at under the root */
#define RE_MATCH_LIMIT 100000    /* pcre2 match limit: backtracking bounded */
#define RE_DEPTH_LIMIT 1000      /* and depth (interpreter only; JIT has its stack) */

static const char *const kind_name[LIST_KINDS] = {"domains", "urls", "expressions"};

/* What a load needs besides the lists it builds. */
struct load {
	struct url_lists *l;
	const char *root;
	FILE *warnings, *errors;
	EVP_MD_CTX *md;
	char *buf;
	struct url_canon *canon; /* scratch for urls lines */
	size_t skipped;
	bool failed;
	/* The file being read */
	unsigned cat;
	enum list_kind kind;
	const char *rel;
	size_t file_warnings;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return s;
}

static void load_warn(struct load *ld, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void load_warn(struct load *ld, unsigned line, const char *fmt, ...)
{
	ld->skipped++;
	if (ld->warnings == NULL || ld->file_warnings++ >= WARN_MAX)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(ld->warnings, "%s:%u: ", ld->rel, line);
	vfprintf(ld->warnings, fmt, ap);
	fputc('\n', ld->warnings);
	va_end(ap);
}

static void load_error(struct load *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void load_error(struct load *ld, const char *fmt, ...)
{
	ld->failed = true;
	if (ld->errors == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(ld->errors, fmt, ap);
	fputc('\n', ld->errors);
	va_end(ap);
}

/* Digest */

static void dig(struct load *ld, const void *p, size_t n)
{
	if (EVP_DigestUpdate(ld->md, p, n) != 1)
		abort();
}

/* A name, length first, so that no two sequences of names dig alike. */
static void dig_str(struct load *ld, const char *s)
{
	unsigned long long n = strlen(s);
	dig(ld, &n, sizeof(n));
	dig(ld, s, n);
}

/* Snapshots */

static void snap_add(struct url_lists *l, char *path, const struct stat *st)
{
	if (l->nsnap == l->capsnap) {
		l->capsnap = l->capsnap ? l->capsnap * 2 : 16;
		l->snap = xrealloc(l->snap, l->capsnap * sizeof(*l->snap));
	}
	struct list_snap *s = &l->snap[l->nsnap++];
	s->path = path;
	s->dev = (unsigned long long)st->st_dev;
	s->ino = (unsigned long long)st->st_ino;
	s->size = (unsigned long long)st->st_size;
	s->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	l->bytes += strlen(path) + 1;
}

bool url_lists_changed(const struct url_lists *l)
{
	for (size_t i = 0; i < l->nsnap; i++) {
		const struct list_snap *s = &l->snap[i];
		struct stat st;
		if (stat(s->path, &st) < 0)
			return true;
		long long mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		if (s->dev != (unsigned long long)st.st_dev ||
		    s->ino != (unsigned long long)st.st_ino ||
		    s->size != (unsigned long long)st.st_size || s->mtime_ns != mtime)
			return true;
	}
	return false;
}

/* Lines */

static void domain_line(struct load *ld, const char *s, size_t n, unsigned line)
{
	char *out = url_index_text(&ld->l->idx, URL_CANON_HOST_MAX);
	if (out == NULL) {
		load_error(ld, "%s/%s: the lists pass 4 GiB", ld->root, ld->rel);
		return;
	}
	int r = url_lists_host_fast(s, n, out, true);
	if (r < 0)
		r = url_canon_host(s, n, out, URL_CANON_HOST_MAX);
	if (r <= 0) {
		load_warn(ld, line, "not a valid host name");
		return;
	}
	url_index_add(&ld->l->idx, false, ld->cat, line, url_lists_strip_www(out, (size_t)r));
}

static void url_line(struct load *ld, const char *s, size_t n, unsigned line)
{
	char *out = url_index_text(&ld->l->idx, URL_CANON_HOST_MAX + URL_CANON_PATH_MAX);
	if (out == NULL) {
		load_error(ld, "%s/%s: the lists pass 4 GiB", ld->root, ld->rel);
		return;
	}
	if (n >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2; /* as in domains; the entry matches subdomains anyway */
		n -= 2;
	}
	int r = url_lists_url_fast(s, n, out);
	if (r < 0) {
		struct url_canon *c = ld->canon;
		if (url_canon_url(s, n, c) < 0) {
			load_warn(ld, line, "not a valid URL");
			return;
		}
		if (c->truncated) {
			load_warn(ld, line, "path too long");
			return;
		}
		memcpy(out, c->host, c->host_len);
		size_t o = c->host_len;
		if (c->host_kind == URL_HOST_NAME)
			o = url_lists_strip_www(out, o);
		memcpy(out + o, c->path, c->path_len);
		r = (int)(o + c->path_len);
	}
	url_index_add(&ld->l->idx, true, ld->cat, line, (size_t)r);
}

#ifdef WITH_PCRE2
static void expr_line(struct load *ld, const char *s, size_t n, unsigned line)
{
	int err;
	PCRE2_SIZE at;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)s, n, PCRE2_CASELESS, &err, &at, NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			strcpy((char *)msg, "unknown error");
		load_warn(ld, line, "bad expression at offset %zu: %s", (size_t)at, (char *)msg);
		return;
	}
	/* Without JIT (not built in, or no executable memory) the interpreter
	 * does the same, more slowly. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	struct list_category *cat = &ld->l->cat[ld->cat];
	if ((cat->nexpr & (cat->nexpr - 1)) == 0)
		cat->expr =
		        xrealloc(cat->expr, (cat->nexpr ? cat->nexpr * 2 : 1) * sizeof(*cat->expr));
	cat->expr[cat->nexpr++] = (struct list_expr){.code = code, .line = line};
	size_t size = 0, jit = 0;
	pcre2_pattern_info(code, PCRE2_INFO_SIZE, &size);
	if (pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit) != 0)
		jit = 0;
	ld->l->bytes += size + jit + sizeof(struct list_expr);
	ld->l->nexpr++;
}
#endif

/* One line (without its newline) of the file being read. */
static void line(struct load *ld, char *s, size_t n, unsigned lineno)
{
	if (lineno == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3; /* a byte-order mark, from a Windows editor */
		n -= 3;
	}
	while (n > 0 && url_lists_is_space(s[n - 1]))
		n--;
	while (n > 0 && url_lists_is_space(*s)) {
		s++;
		n--;
	}
	if (n == 0 || *s == '#')
		return;
	if (ld->kind == LIST_EXPRESSIONS) {
		/* Spaces and '#' belong to the expression. */
#ifdef WITH_PCRE2
		expr_line(ld, s, n, lineno);
#endif
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!url_lists_is_space(s[i]))
			continue;
		size_t j = i;
		while (j < n && url_lists_is_space(s[j]))
			j++;
		if (j < n && s[j] != '#') {
			load_warn(ld, lineno, "whitespace inside the entry");
			return;
		}
		n = i;
		break;
	}
	if (ld->kind == LIST_DOMAINS)
		domain_line(ld, s, n, lineno);
	else
		url_line(ld, s, n, lineno);
}

/*
 * Reads fd to the end, feeding the digest and calling line() for every
 * line; a last line without its newline counts. Returns -1 on a read error.
 */
static int read_lines(struct load *ld, int fd, unsigned long long *total)
{
	char *buf = ld->buf;
	size_t have = 0;       /* bytes of an unfinished line at the start of buf */
	bool skipping = false; /* in a line reported too long, not counted yet */
	unsigned lineno = 0;
	*total = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, READ_CHUNK);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		dig(ld, buf + have, (size_t)r);
		*total += (unsigned long long)r;
		size_t end = have + (size_t)r, start = 0;
		char *nl;
		while (!ld->failed && (nl = memchr(buf + start, '\n', end - start)) != NULL) {
			size_t len = (size_t)(nl - (buf + start));
			lineno++;
			if (skipping)
				skipping = false;
			else if (len > LINE_MAX_LEN)
				load_warn(ld, lineno, "line too long (over %d bytes)",
				          LINE_MAX_LEN);
			else
				line(ld, buf + start, len, lineno);
			start = (size_t)(nl - buf) + 1;
		}
		if (ld->failed)
			return 0;
		size_t rest = end - start;
		if (r == 0) {
			if (rest > 0 && !skipping) {
				lineno++;
				if (rest > LINE_MAX_LEN)
					load_warn(ld, lineno, "line too long (over %d bytes)",
					          LINE_MAX_LEN);
				else
					line(ld, buf + start, rest, lineno);
			}
			return 0;
		}
		if (skipping) {
			have = 0;
		} else if (rest > LINE_MAX_LEN) {
			load_warn(ld, lineno + 1, "line too long (over %d bytes)", LINE_MAX_LEN);
			skipping = true;
			have = 0;
		} else {
			memmove(buf, buf + start, rest);
			have = rest;
		}
	}
}

static void load_file(struct load *ld, unsigned id, enum list_kind kind)
{
	struct url_lists *l = ld->l;
	struct list_category *cat = &l->cat[id];
	char *path = xasprintf("%s/%s", ld->root, cat->file[kind]);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		load_error(ld, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return;
	}
	snap_add(l, path, &st);
	ld->cat = id;
	ld->kind = kind;
	ld->rel = cat->file[kind];
	ld->file_warnings = 0;
#ifndef WITH_PCRE2
	if (kind == LIST_EXPRESSIONS && ld->warnings != NULL)
		fprintf(ld->warnings, "%s: ignored: icapd was built without PCRE2\n", ld->rel);
#endif
	/* Entries take about what their lines do, plus a few bytes each. */
	if (kind != LIST_EXPRESSIONS &&
	    url_index_reserve(&l->idx, (size_t)st.st_size + (size_t)st.st_size / 2 + 4096) < 0) {
		load_error(ld, "%s: the lists pass 4 GiB", path);
		close(fd);
		return;
	}
	dig_str(ld, ld->rel);
	unsigned long long total;
	if (read_lines(ld, fd, &total) < 0)
		load_error(ld, "%s: %s", path, strerror(errno));
	dig(ld, &total, sizeof(total));
	close(fd);
	if (ld->warnings != NULL && ld->file_warnings > WARN_MAX)
		fprintf(ld->warnings, "%s: %zu more lines skipped, not shown\n", ld->rel,
		        ld->file_warnings - WARN_MAX);
}

/* Categories */

struct folder {
	char *name;
	struct stat st;
	bool link;
	bool has[LIST_KINDS];
};

/* Same folder together, the real one (not a link) first, then by name. */
static int folder_by_inode(const void *a, const void *b)
{
	const struct folder *x = a, *y = b;
	if (x->st.st_dev != y->st.st_dev)
		return x->st.st_dev < y->st.st_dev ? -1 : 1;
	if (x->st.st_ino != y->st.st_ino)
		return x->st.st_ino < y->st.st_ino ? -1 : 1;
	if (x->link != y->link)
		return x->link ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int folder_by_name(const void *a, const void *b)
{
	return strcmp(((const struct folder *)a)->name, ((const struct folder *)b)->name);
}

static int alias_by_name(const void *a, const void *b)
{
	return strcmp(((const struct list_alias *)a)->name, ((const struct list_alias *)b)->name);
}

/* The folders under the root, each stat'ed (and snapshot); NULL on error. */
static struct folder *scan_root(struct load *ld, size_t *count)
{
	DIR *d = opendir(ld->root);
	if (d == NULL) {
		load_error(ld, "%s: %s", ld->root, strerror(errno));
		return NULL;
	}
	struct folder *f = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == DIRS_MAX) {
			if (ld->warnings != NULL)
				fprintf(ld->warnings,
				        "%s: more than %d entries, the rest ignored\n", ld->root,
				        DIRS_MAX);
			break;
		}
		char *path = xasprintf("%s/%s", ld->root, de->d_name);
		struct stat st, lst;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode) || lstat(path, &lst) < 0) {
			free(path);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			f = xrealloc(f, cap * sizeof(*f));
		}
		struct folder *e = &f[n++];
		e->name = xasprintf("%s", de->d_name);
		e->st = st;
		e->link = S_ISLNK(lst.st_mode);
		for (int k = 0; k < LIST_KINDS; k++) {
			char *fp = xasprintf("%s/%s", path, kind_name[k]);
			struct stat fst;
			e->has[k] = stat(fp, &fst) == 0 && S_ISREG(fst.st_mode);
			free(fp);
		}
		snap_add(ld->l, path, &st);
	}
	closedir(d);
	*count = n;
	return f ? f : xmalloc(sizeof(*f));
}

static int category_by_name(const struct url_lists *l, const char *name)
{
	size_t lo = 0, hi = l->ncat;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->cat[mid].name);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Picks the categories (ids by name) and the aliases among the folders. */
static void make_categories(struct load *ld, struct folder *f, size_t n)
{
	struct url_lists *l = ld->l;
	qsort(f, n, sizeof(*f), folder_by_inode);
	struct folder *canon = xmalloc(n * sizeof(*canon) + 1);
	size_t ncanon = 0;
	for (size_t i = 0; i < n; i++) {
		if (!f[i].has[LIST_DOMAINS] && !f[i].has[LIST_URLS] && !f[i].has[LIST_EXPRESSIONS])
			continue;
		if (i > 0 && f[i].st.st_dev == f[i - 1].st.st_dev &&
		    f[i].st.st_ino == f[i - 1].st.st_ino)
			continue; /* an alias, below */
		canon[ncanon++] = f[i];
	}
	qsort(canon, ncanon, sizeof(*canon), folder_by_name);
	if (ncanon > URL_LISTS_MAX_CATEGORIES) {
		if (ld->warnings != NULL)
			fprintf(ld->warnings, "%s: more than %d categories: %s and after ignored\n",
			        ld->root, URL_LISTS_MAX_CATEGORIES,
			        canon[URL_LISTS_MAX_CATEGORIES].name);
		ncanon = URL_LISTS_MAX_CATEGORIES;
	}
	l->cat = xmalloc(ncanon * sizeof(*l->cat) + 1);
	l->ncat = ncanon;
	for (size_t i = 0; i < ncanon; i++) {
		struct list_category *c = &l->cat[i];
		memset(c, 0, sizeof(*c));
		c->name = xasprintf("%s", canon[i].name);
		for (int k = 0; k < LIST_KINDS; k++) {
			c->file[k] = xasprintf("%s/%s", c->name, kind_name[k]);
			c->has[k] = canon[i].has[k];
			l->bytes += strlen(c->file[k]) + 1;
		}
		l->bytes += sizeof(*c) + strlen(c->name) + 1;
	}
	/* Aliases: the later folders of a group of the same inode. */
	l->alias = xmalloc(n * sizeof(*l->alias) + 1);
	for (size_t i = 1; i < n; i++) {
		if (f[i].st.st_dev != f[i - 1].st.st_dev || f[i].st.st_ino != f[i - 1].st.st_ino)
			continue;
		size_t g = i;
		while (g > 0 && f[g - 1].st.st_dev == f[i].st.st_dev &&
		       f[g - 1].st.st_ino == f[i].st.st_ino)
			g--;
		int id = category_by_name(l, f[g].name);
		if (id < 0)
			continue;
		l->alias[l->nalias].name = xasprintf("%s", f[i].name);
		l->alias[l->nalias++].id = (unsigned)id;
		l->bytes += sizeof(struct list_alias) + strlen(f[i].name) + 1;
	}
	qsort(l->alias, l->nalias, sizeof(*l->alias), alias_by_name);
	free(canon);
}

/* Loading */

struct url_lists *url_lists_load(const char *dir, FILE *warnings, FILE *errors,
                                 struct url_lists_stats *stats)
{
	struct url_lists *l = calloc(1, sizeof(*l));
	if (l == NULL)
		abort();
	url_index_init(&l->idx);
	struct load ld = {.l = l, .root = dir, .warnings = warnings, .errors = errors};
	ld.md = EVP_MD_CTX_new();
	if (ld.md == NULL || EVP_DigestInit_ex(ld.md, EVP_sha256(), NULL) != 1)
		abort();

	struct stat st;
	if (stat(dir, &st) < 0) {
		load_error(&ld, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		load_error(&ld, "%s: not a folder", dir);
		goto out;
	}
	snap_add(l, xasprintf("%s", dir), &st);
	size_t nf = 0;
	struct folder *f = scan_root(&ld, &nf);
	if (f == NULL)
		goto out;
	make_categories(&ld, f, nf);
	for (size_t i = 0; i < nf; i++)
		free(f[i].name);
	free(f);

	for (size_t i = 0; i < l->nalias; i++) {
		dig_str(&ld, l->alias[i].name);
		dig_str(&ld, l->cat[l->alias[i].id].name);
	}
	ld.buf = xmalloc(READ_CHUNK + LINE_MAX_LEN + 1);
	ld.canon = xmalloc(sizeof(*ld.canon));
	for (unsigned id = 0; id < l->ncat && !ld.failed; id++) {
		dig_str(&ld, l->cat[id].name);
		for (int k = 0; k < LIST_KINDS && !ld.failed; k++)
			if (l->cat[id].has[k])
				load_file(&ld, id, (enum list_kind)k);
	}
	free(ld.buf);
	free(ld.canon);
	if (ld.failed)
		goto out;

	url_index_build(&l->idx);
#ifdef WITH_PCRE2
	if (l->nexpr > 0) {
		l->mctx = pcre2_match_context_create(NULL);
		if (l->mctx == NULL)
			abort();
		pcre2_set_match_limit(l->mctx, RE_MATCH_LIMIT);
		pcre2_set_depth_limit(l->mctx, RE_DEPTH_LIMIT);
	}
#endif
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned sumlen = 0;
	if (EVP_DigestFinal_ex(ld.md, sum, &sumlen) != 1 || sumlen != 32)
		abort();
	for (unsigned i = 0; i < sumlen; i++)
		snprintf(l->digest + 2 * i, 3, "%02x", sum[i]);
	l->bytes += sizeof(*l) + l->capsnap * sizeof(*l->snap);
out:
	EVP_MD_CTX_free(ld.md);
	if (ld.failed) {
		url_lists_free(l);
		return NULL;
	}
	if (stats != NULL) {
		stats->categories = l->ncat;
		stats->domains = l->idx.domains;
		stats->urls = l->idx.urls;
		stats->expressions = l->nexpr;
		stats->skipped = ld.skipped;
		stats->bytes = l->bytes + url_index_bytes(&l->idx);
	}
	return l;
}

void url_lists_free(struct url_lists *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->ncat; i++) {
		struct list_category *c = &l->cat[i];
#ifdef WITH_PCRE2
		for (size_t j = 0; j < c->nexpr; j++)
			pcre2_code_free(c->expr[j].code);
#endif
		free(c->expr);
		for (int k = 0; k < LIST_KINDS; k++)
			free(c->file[k]);
		free(c->name);
	}
	free(l->cat);
#ifdef WITH_PCRE2
	pcre2_match_context_free(l->mctx);
#endif
	for (size_t i = 0; i < l->nalias; i++)
		free(l->alias[i].name);
	free(l->alias);
	for (size_t i = 0; i < l->nsnap; i++)
		free(l->snap[i].path);
	free(l->snap);
	url_index_free(&l->idx);
	free(l);
}

size_t url_lists_ncategories(const struct url_lists *l)
{
	return l->ncat;
}

const char *url_lists_category_name(const struct url_lists *l, unsigned id)
{
	return id < l->ncat ? l->cat[id].name : NULL;
}

int url_lists_category_id(const struct url_lists *l, const char *name)
{
	int id = category_by_name(l, name);
	if (id >= 0)
		return id;
	struct list_alias key = {.name = (char *)name};
	const struct list_alias *a =
	        l->nalias ? bsearch(&key, l->alias, l->nalias, sizeof(*a), alias_by_name) : NULL;
	return a ? (int)a->id : -1;
}

const char *url_lists_digest(const struct url_lists *l)
{
	return l->digest;
}
