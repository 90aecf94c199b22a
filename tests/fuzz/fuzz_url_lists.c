/*
 * Fuzz target for url_lists.c, url_lists_line.c, url_lists_lookup.c and
 * url_index.c: list files loaded from a folder, then looked up. The data
 * is split at NUL bytes into a "domains" file, a "urls" file, an
 * "expressions" file (cut to its first 8 lines: each is a PCRE2 compile)
 * and lines of URLs to look up; the three files go into the category
 * folder "cat" of a temporary root made once per process, next to a fixed
 * category "other" and a symbolic link "alias" to "cat".
 *
 * Checked: the load succeeds (files that can be read are never fatal);
 * every warning is one "cat/KIND:LINE: why" line; the stats add up; the
 * lists have not changed on disk right after the load; "alias" finds
 * cat's id. Every usable line is found again: a domains line that
 * url_canon_host accepts, looked up as "host/", and a urls line that
 * url_canon_url accepts (path not truncated), looked up as itself, must
 * both match "cat" (from its domains or urls file). Every lookup (those
 * and the URL lines) gives matches in increasing category order, each
 * naming its category's list file and a line of it; a lookup with room for
 * one match gives the first. Violations abort.
 */
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "url_canon.h"
#include "url_lists_impl.h"

#define MAX_EXPR_LINES 8
#define LINE_MAX_LEN   4096 /* as url_lists.c */

static char root[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_root(void)
{
	if (root[0] != 0)
		nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void put_file(const char *rel, const void *d, size_t n)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(n == 0 || write(fd, d, n) == (ssize_t)n);
	close(fd);
}

static void make_root(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/fuzz_url_lists.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(root) != NULL);
	atexit(rm_root);
	char path[128];
	snprintf(path, sizeof(path), "%s/cat", root);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/other", root);
	CHECK(mkdir(path, 0700) == 0);
	snprintf(path, sizeof(path), "%s/alias", root);
	CHECK(symlink("cat", path) == 0);
	static const char other[] = "example.org\nads.example.com\n";
	put_file("other/domains", other, sizeof(other) - 1);
}

static size_t count_lines(const char *d, size_t n)
{
	size_t lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += d[i] == '\n';
	return lines + (n > 0 && d[n - 1] != '\n');
}

/* Warnings: "cat/KIND:LINE: why" lines (or the count of the rest). */
static void check_warnings(const char *w, size_t len, const size_t lines[3])
{
	static const char *const kinds[] = {"cat/domains:", "cat/urls:", "cat/expressions:"};
	CHECK(len == 0 || w[len - 1] == '\n');
	for (const char *p = w; p < w + len;) {
		const char *e = memchr(p, '\n', (size_t)(w + len - p));
		size_t k;
		for (k = 0; k < 3; k++)
			if (strncmp(p, kinds[k], strlen(kinds[k])) == 0)
				break;
		if (k == 3) {
			/* "cat/KIND: N more lines skipped, not shown" */
			CHECK(strncmp(p, "cat/", 4) == 0 &&
			      memmem(p, (size_t)(e - p), "more lines", 10));
		} else {
			char *end;
			long line = strtol(p + strlen(kinds[k]), &end, 10);
			CHECK(line >= 1 && (size_t)line <= lines[k] && end[0] == ':');
		}
		p = e + 1;
	}
}

struct ctx {
	const struct url_lists *l;
	int cat, other;
	size_t lines[3]; /* of cat's files */
};

/* One lookup, checked; returns whether cat matched, from which file. */
static const char *lookup(const struct ctx *x, const struct url_canon *c)
{
	struct url_match m[4], one[1];
	size_t n = url_lists_lookup(x->l, c, m, 4);
	CHECK(n <= 2);
	const char *from = NULL;
	for (size_t i = 0; i < n; i++) {
		CHECK(i == 0 || m[i].category > m[i - 1].category);
		CHECK(m[i].category < url_lists_ncategories(x->l));
		const char *name = url_lists_category_name(x->l, m[i].category);
		size_t nl = strlen(name);
		CHECK(m[i].file != NULL && strncmp(m[i].file, name, nl) == 0 &&
		      m[i].file[nl] == '/');
		const char *kind = m[i].file + nl + 1;
		CHECK(strcmp(kind, "domains") == 0 || strcmp(kind, "urls") == 0 ||
		      strcmp(kind, "expressions") == 0);
		CHECK(m[i].line >= 1);
		if ((int)m[i].category == x->cat) {
			size_t k = kind[0] == 'd' ? 0 : kind[0] == 'u' ? 1 : 2;
			CHECK(m[i].line <= x->lines[k]);
			from = kind;
		} else {
			CHECK((int)m[i].category == x->other && strcmp(kind, "domains") == 0 &&
			      m[i].line <= 2);
		}
	}
	size_t n1 = url_lists_lookup(x->l, c, one, 1);
	CHECK(n1 == (n > 0));
	if (n1)
		CHECK(one[0].category == m[0].category && one[0].line == m[0].line);
	return from;
}

/*
 * Each line of a list file as the loader sees it: trimmed, comments and
 * blank lines skipped, an entry cut at white space before '#'; entries
 * with inner white space or too long are left out (they are skipped).
 * Calls fn with each entry.
 */
static void each_entry(const char *d, size_t n,
                       void (*fn)(const struct ctx *, const char *, size_t), const struct ctx *x)
{
	size_t lineno = 0;
	for (size_t at = 0; at < n;) {
		const char *nl = memchr(d + at, '\n', n - at);
		size_t end = nl ? (size_t)(nl - d) : n;
		const char *s = d + at;
		size_t len = end - at;
		at = end + 1;
		lineno++;
		if (len > LINE_MAX_LEN)
			continue;
		if (lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3, len -= 3;
		while (len > 0 && url_lists_is_space(s[len - 1]))
			len--;
		while (len > 0 && url_lists_is_space(*s))
			s++, len--;
		if (len == 0 || *s == '#')
			continue;
		bool inner = false;
		for (size_t i = 0; i < len; i++) {
			if (!url_lists_is_space(s[i]))
				continue;
			size_t j = i;
			while (j < len && url_lists_is_space(s[j]))
				j++;
			inner = j < len && s[j] != '#';
			len = i;
			break;
		}
		if (!inner)
			fn(x, s, len);
	}
}

static void domain_found(const struct ctx *x, const char *s, size_t n)
{
	char host[URL_CANON_HOST_MAX + 1];
	char *p = fz_copy(s, n);
	int hn = url_canon_host(p, n, host, URL_CANON_HOST_MAX);
	free(p);
	if (hn <= 0)
		return;
	host[hn] = '/';
	static struct url_canon c;
	CHECK(url_canon_url(host, (size_t)hn + 1, &c) == 0);
	const char *from = lookup(x, &c);
	CHECK(from != NULL && strcmp(from, "domains") == 0);
}

static void url_found(const struct ctx *x, const char *s, size_t n)
{
	if (n >= 2 && s[0] == '*' && s[1] == '.')
		s += 2, n -= 2;
	char *p = fz_copy(s, n);
	static struct url_canon c;
	int rc = url_canon_url(p, n, &c);
	free(p);
	if (rc < 0 || c.truncated)
		return;
	const char *from = lookup(x, &c);
	CHECK(from != NULL && (strcmp(from, "domains") == 0 || strcmp(from, "urls") == 0));
}

static void url_line(const struct ctx *x, const char *s, size_t n)
{
	char *p = fz_copy(s, n);
	static struct url_canon c;
	if (url_canon_url(p, n, &c) == 0)
		(void)lookup(x, &c);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	if (root[0] == 0)
		make_root();
	size_t off[4], len[4];
	fz_split(data, size, 4, off, len);
	const char *part[4];
	for (int i = 0; i < 4; i++)
		part[i] = (const char *)data + off[i];
	/* Expressions: the first few lines only. */
	size_t lines = 0;
	for (size_t i = 0; i < len[2]; i++)
		if (part[2][i] == '\n' && ++lines == MAX_EXPR_LINES) {
			len[2] = i + 1;
			break;
		}
	put_file("cat/domains", part[0], len[0]);
	put_file("cat/urls", part[1], len[1]);
	put_file("cat/expressions", part[2], len[2]);

	char *warn = NULL, *errs = NULL;
	size_t wlen = 0, elen = 0;
	FILE *wf = open_memstream(&warn, &wlen), *ef = open_memstream(&errs, &elen);
	CHECK(wf != NULL && ef != NULL);
	struct url_lists_stats st;
	struct url_lists *l = url_lists_load(root, wf, ef, &st);
	fclose(wf);
	fclose(ef);
	CHECK(l != NULL && elen == 0);

	struct ctx x = {.l = l};
	for (int k = 0; k < 3; k++)
		x.lines[k] = count_lines(part[k], len[k]);
	check_warnings(warn, wlen, x.lines);
	CHECK(st.categories == 2 && url_lists_ncategories(l) == 2);
	CHECK(st.domains <= x.lines[0] + 2 && st.urls <= x.lines[1]);
	CHECK(st.expressions <= x.lines[2]);
	CHECK(st.skipped <= x.lines[0] + x.lines[1] + x.lines[2]);
	CHECK(!url_lists_changed(l));
	CHECK(strlen(url_lists_digest(l)) == 64);
	x.cat = url_lists_category_id(l, "cat");
	x.other = url_lists_category_id(l, "other");
	CHECK(x.cat >= 0 && x.other >= 0 && x.cat != x.other);
	CHECK(url_lists_category_id(l, "alias") == x.cat);
	CHECK(url_lists_category_id(l, "nosuch") == -1);

	each_entry(part[0], len[0], domain_found, &x);
	each_entry(part[1], len[1], url_found, &x);
	each_entry(part[3], len[3], url_line, &x);
	static const char *const fixed[] = {"http://www.example.org/",
	                                    "https://a.b.c.example.com/x?y", "http://[::1]/",
	                                    "http://10.1.2.3/admin"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		url_line(&x, fixed[i], strlen(fixed[i]));

	url_lists_free(l);
	free(warn);
	free(errs);
	return 0;
}
