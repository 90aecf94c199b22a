/*
 * Unit tests for url_lists.c (and url_index.c): list folders are written
 * into a fresh temporary directory by each test, loaded, and asked about
 * URLs canonicalized by url_canon_url, as icapd will. Warnings are caught
 * in memory streams and compared exactly ("cat/file:line: why"). A test
 * that fails leaves its folder in /tmp (url_lists_test.*) to look at.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "url_lists.h"

struct fixture {
	char root[64];
	struct url_lists *l;
	struct url_lists_stats st;
	char *warn, *err; /* what the last load reported */
	size_t warn_len, err_len;
	char out[4096]; /* the last lookup, as text */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->root, "/tmp/url_lists_test.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	*state = f;
	return 0;
}

static void rm_tree(const char *path)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	url_lists_free(f->l);
	free(f->warn);
	free(f->err);
	rm_tree(f->root);
	free(f);
	return 0;
}

/* Writes root/cat/file with n bytes of data (creating cat). */
static void put_n(struct fixture *f, const char *cat, const char *file, const char *data, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", f->root, cat);
	if (mkdir(path, 0755) < 0)
		assert_int_equal(errno, EEXIST);
	if (file == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s", f->root, cat, file);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

static void put(struct fixture *f, const char *cat, const char *file, const char *data)
{
	put_n(f, cat, file, data, data ? strlen(data) : 0);
}

/* Loads root (again); true if lists came back. */
static bool load(struct fixture *f)
{
	url_lists_free(f->l);
	free(f->warn);
	free(f->err);
	FILE *w = open_memstream(&f->warn, &f->warn_len);
	FILE *e = open_memstream(&f->err, &f->err_len);
	assert_non_null(w);
	assert_non_null(e);
	memset(&f->st, 0xa5, sizeof(f->st));
	f->l = url_lists_load(f->root, w, e, &f->st);
	fclose(w);
	fclose(e);
	return f->l != NULL;
}

/* The matches for url as "cat file:line" items joined with ", ", or "-". */
static const char *look_max(struct fixture *f, const char *url, size_t max)
{
	struct url_canon *c = malloc(sizeof(*c));
	assert_non_null(c);
	if (url_canon_url(url, strlen(url), c) < 0) {
		free(c);
		fail_msg("url_canon_url refuses %s", url);
	}
	struct url_match m[URL_LISTS_MAX_CATEGORIES];
	size_t n = url_lists_lookup(f->l, c, m, max);
	free(c);
	size_t o = 0;
	f->out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = url_lists_category_name(f->l, m[i].category);
		assert_non_null(name);
		assert_memory_equal(m[i].file, name, strlen(name));
		assert_int_equal(m[i].file[strlen(name)], '/');
		o += (size_t)snprintf(f->out + o, sizeof(f->out) - o, "%s%s:%u", i ? ", " : "",
		                      m[i].file, m[i].line);
	}
	return n ? f->out : "-";
}

static const char *look(struct fixture *f, const char *url)
{
	return look_max(f, url, URL_LISTS_MAX_CATEGORIES);
}

/* Domains */

static void test_domain_line_forms(void **state)
{
	struct fixture *f = *state;
	put(f, "cat", "domains",
	    "# a comment\n"             /* 1 */
	    "\n"                        /* 2 */
	    "   example.com   \n"       /* 3 */
	    "UPPER.Example.ORG\n"       /* 4 */
	    "*.wild.net\n"              /* 5 */
	    ".dot.net\n"                /* 6 */
	    "trailing.com.\n"           /* 7 */
	    "www.wwwsite.com\n"         /* 8 */
	    "\ttabbed.com\t\n"          /* 9 */
	    "commented.com # was bad\n" /* 10 */
	    "3279556363\n"              /* 11: 195.122.15.11 */
	    "b\xc3\xbc"
	    "cher.de\n"               /* 12: xn--bcher-kva.de */
	    "www.com\n"               /* 13: not "com" */
	    "  # indented comment\n"  /* 14 */
	    "xn--caf-dma.fr\n"        /* 15 */
	    "under_score.org\n"       /* 16 */
	    "..many..dots...info..\n" /* 17 */
	    "WWW.Shout.COM.\n");      /* 18 */
	assert_true(load(f));
	assert_string_equal(f->warn, "");
	assert_int_equal(f->st.domains, 15);
	assert_int_equal(f->st.skipped, 0);
	assert_string_equal(look(f, "http://example.com/"), "cat/domains:3");
	assert_string_equal(look(f, "http://upper.example.org/x"), "cat/domains:4");
	assert_string_equal(look(f, "http://wild.net/"), "cat/domains:5");
	assert_string_equal(look(f, "http://a.wild.net/"), "cat/domains:5");
	assert_string_equal(look(f, "http://dot.net/"), "cat/domains:6");
	assert_string_equal(look(f, "http://trailing.com/"), "cat/domains:7");
	assert_string_equal(look(f, "http://wwwsite.com/"), "cat/domains:8");
	assert_string_equal(look(f, "http://www.wwwsite.com/"), "cat/domains:8");
	assert_string_equal(look(f, "http://mail.wwwsite.com/"), "cat/domains:8");
	assert_string_equal(look(f, "http://tabbed.com/"), "cat/domains:9");
	assert_string_equal(look(f, "http://commented.com/"), "cat/domains:10");
	assert_string_equal(look(f, "http://195.122.15.11/"), "cat/domains:11");
	assert_string_equal(look(f, "http://0xc3.0x7a.0x0f.0xb/"), "cat/domains:11");
	assert_string_equal(look(f, "http://xn--bcher-kva.de/"), "cat/domains:12");
	assert_string_equal(look(f, "http://B%C3%9CCHER.de/"), "cat/domains:12");
	assert_string_equal(look(f, "http://www.com/"), "cat/domains:13");
	assert_string_equal(look(f, "http://other.com/"), "-");
	assert_string_equal(look(f, "http://caf\xc3\xa9.fr/"), "cat/domains:15");
	assert_string_equal(look(f, "http://under_score.org/"), "cat/domains:16");
	assert_string_equal(look(f, "http://many.dots.info/"), "cat/domains:17");
	assert_string_equal(look(f, "http://shout.com/"), "cat/domains:18");
}

static void test_domain_subdomains(void **state)
{
	struct fixture *f = *state;
	put(f, "cat", "domains", "example.com\nsub.other.org\n");
	assert_true(load(f));
	assert_string_equal(look(f, "http://example.com/"), "cat/domains:1");
	assert_string_equal(look(f, "http://a.example.com/"), "cat/domains:1");
	assert_string_equal(look(f, "http://a.b.c.example.com:8080/x?y#z"), "cat/domains:1");
	assert_string_equal(look(f, "http://EXAMPLE.COM./"), "cat/domains:1");
	assert_string_equal(look(f, "http://notexample.com/"), "-");
	assert_string_equal(look(f, "http://example.com.evil.net/"), "-");
	assert_string_equal(look(f, "http://example.co/"), "-");
	assert_string_equal(look(f, "http://com/"), "-");
	assert_string_equal(look(f, "http://sub.other.org/"), "cat/domains:2");
	assert_string_equal(look(f, "http://x.sub.other.org/"), "cat/domains:2");
	assert_string_equal(look(f, "http://other.org/"), "-");
	assert_string_equal(look(f, "http://www.other.org/"), "-");
	/* The host decides, not the path or the user-info. */
	assert_string_equal(look(f, "http://good.net/example.com"), "-");
	assert_string_equal(look(f, "http://example.com@good.net/"), "-");
	assert_string_equal(look(f, "http://good.net@example.com/"), "cat/domains:1");
}

static void test_malformed_lines(void **state)
{
	struct fixture *f = *state;
	put(f, "bad", "domains",
	    "good.com\n"        /* 1 */
	    "two words.com\n"   /* 2 */
	    "inv@lid.com\n"     /* 3 */
	    "ok.org\n"          /* 4 */
	    "1.2.3.4.5\n"       /* 5 */
	    "a/b.com\n"         /* 6 */
	    "...\n"             /* 7 */
	    "*.\n"              /* 8 */
	    "[::1\n"            /* 9 */
	    "also.good.net\n"); /* 10 */
	put(f, "bad", "urls",
	    "good.com/path\n"  /* 1 */
	    "mailto:x@y.com\n" /* 2 */
	    "/no/host\n"       /* 3 */
	    "a b.com/x\n");    /* 4 */
	assert_true(load(f));
	assert_string_equal(f->warn, "bad/domains:2: whitespace inside the entry\n"
	                             "bad/domains:3: not a valid host name\n"
	                             "bad/domains:5: not a valid host name\n"
	                             "bad/domains:6: not a valid host name\n"
	                             "bad/domains:7: not a valid host name\n"
	                             "bad/domains:8: not a valid host name\n"
	                             "bad/domains:9: not a valid host name\n"
	                             "bad/urls:2: not a valid URL\n"
	                             "bad/urls:3: not a valid URL\n"
	                             "bad/urls:4: whitespace inside the entry\n");
	assert_string_equal(f->err, "");
	assert_int_equal(f->st.skipped, 10);
	assert_int_equal(f->st.domains, 3);
	assert_int_equal(f->st.urls, 1);
	assert_string_equal(look(f, "http://ok.org/"), "bad/domains:4");
	assert_string_equal(look(f, "http://also.good.net/"), "bad/domains:10");
	assert_string_equal(look(f, "http://x.good.com/path"), "bad/domains:1");
}

static void test_many_warnings_bounded(void **state)
{
	struct fixture *f = *state;
	size_t cap = 200 * 16, n = 0;
	char *data = malloc(cap);
	assert_non_null(data);
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(data + n, cap - n, "bad!%d.com\n", i);
	n += (size_t)snprintf(data + n, cap - n, "fine.com\n");
	put_n(f, "c", "domains", data, n);
	free(data);
	assert_true(load(f));
	assert_int_equal(f->st.skipped, 150);
	assert_int_equal(f->st.domains, 1);
	const char *last = "c/domains:100: not a valid host name\n"
	                   "c/domains: 50 more lines skipped, not shown\n";
	assert_true(f->warn_len > strlen(last));
	assert_string_equal(f->warn + f->warn_len - strlen(last), last);
	assert_string_equal(look(f, "http://fine.com/"), "c/domains:151");
}

static void test_crlf_no_final_newline(void **state)
{
	struct fixture *f = *state;
	put(f, "crlf", "domains", "one.com\r\ntwo.com\r\n\r\n# c\r\nthree.com\r\n");
	put(f, "crlf", "urls", "one.org/a\r\ntwo.org/b/\r\n");
	put(f, "nonl", "domains",
	    "\xef\xbb\xbf"
	    "first.net\nlast.net");
	put(f, "nonl", "urls", "last.org/x");
	assert_true(load(f));
	assert_string_equal(f->warn, "");
	assert_string_equal(look(f, "http://three.com/"), "crlf/domains:5");
	assert_string_equal(look(f, "http://one.org/a"), "crlf/urls:1");
	assert_string_equal(look(f, "http://two.org/b/c"), "crlf/urls:2");
	assert_string_equal(look(f, "http://first.net/"), "nonl/domains:1");
	assert_string_equal(look(f, "http://last.net/"), "nonl/domains:2");
	assert_string_equal(look(f, "http://last.org/x"), "nonl/urls:1");
	assert_string_equal(look(f, "http://last.org/xy"), "-");
}

static void test_long_lines(void **state)
{
	struct fixture *f = *state;
	size_t cap = 64 * 1024, n = 0;
	char *data = malloc(cap);
	assert_non_null(data);
	n += (size_t)snprintf(data + n, cap - n, "before.com\n");
	memset(data + n, 'a', 5000); /* line 2: too long */
	n += 5000;
	data[n++] = '\n';
	n += (size_t)snprintf(data + n, cap - n, "after.com\n");
	memset(data + n, 'b', 4096 - 4); /* line 4: 4096 bytes, the most allowed */
	n += 4096 - 4;
	n += (size_t)snprintf(data + n, cap - n, ".com\n");
	memset(data + n, 'c', 4097); /* line 5: one too many */
	n += 4097;
	n += (size_t)snprintf(data + n, cap - n, "\nend.com\n");
	memset(data + n, 'd', 9000); /* line 7: too long, at the end without newline */
	n += 9000;
	put_n(f, "long", "domains", data, n);
	free(data);
	assert_true(load(f));
	/* Line 4 is within the line limit but its label is not a host's. */
	assert_string_equal(f->warn, "long/domains:2: line too long (over 4096 bytes)\n"
	                             "long/domains:4: not a valid host name\n"
	                             "long/domains:5: line too long (over 4096 bytes)\n"
	                             "long/domains:7: line too long (over 4096 bytes)\n");
	assert_string_equal(look(f, "http://before.com/"), "long/domains:1");
	assert_string_equal(look(f, "http://after.com/"), "long/domains:3");
	assert_string_equal(look(f, "http://end.com/"), "long/domains:6");
}

/* A file of several MiB: lines cut by the 1 MiB reads, long lines among them. */
static void test_big_file_chunks(void **state)
{
	struct fixture *f = *state;
	size_t lines = 150000, cap = lines * 32 + 3 * 20000, n = 0;
	char *data = malloc(cap);
	assert_non_null(data);
	for (size_t i = 1; i <= lines; i++) {
		if (i % 40000 == 0) { /* a 20000-byte line across a read boundary, maybe */
			memset(data + n, 'x', 20000);
			n += 20000;
			data[n++] = '\n';
			continue;
		}
		n += (size_t)snprintf(data + n, cap - n, "h%zu.example%zu.com\n", i, i % 7);
	}
	put_n(f, "big", "domains", data, n);
	free(data);
	assert_true(load(f));
	assert_string_equal(f->warn, "big/domains:40000: line too long (over 4096 bytes)\n"
	                             "big/domains:80000: line too long (over 4096 bytes)\n"
	                             "big/domains:120000: line too long (over 4096 bytes)\n");
	assert_int_equal(f->st.domains, lines - 3);
	char url[128], want[64];
	for (size_t i = 1; i <= lines; i += 997) {
		if (i % 40000 == 0)
			continue;
		snprintf(url, sizeof(url), "http://www.h%zu.example%zu.com/", i, i % 7);
		snprintf(want, sizeof(want), "big/domains:%zu", i);
		assert_string_equal(look(f, url), want);
	}
	assert_string_equal(look(f, "http://h149999.example3.com/"), "big/domains:149999");
	assert_string_equal(look(f, "http://h150001.example0.com/"), "-");
}

/* Lines the fast path takes must come out as url_canon_host would make them. */
static void test_fast_path_agrees(void **state)
{
	struct fixture *f = *state;
	static const char chars[] = "abcxyzABCXYZ0129-.._*wW";
	enum { N = 3000 };
	size_t cap = N * 48, n = 0;
	char *data = malloc(cap);
	char(*lines)[40] = malloc(N * sizeof(*lines));
	assert_non_null(data);
	assert_non_null(lines);
	uint64_t r = 88172645463325252ULL;
	for (int i = 0; i < N; i++) {
		char s[40];
		size_t k = 0;
		int len = 1 + (int)((r >> 20) % 20);
		for (int j = 0; j < len; j++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			s[k++] = chars[r % (sizeof(chars) - 1)];
		}
		/* A unique last label, so that no line is another's subdomain. */
		k += (size_t)snprintf(s + k, sizeof(s) - k, ".t%dz", i);
		s[k] = 0;
		strcpy(lines[i], s);
		n += (size_t)snprintf(data + n, cap - n, "%s\n", s);
	}
	put_n(f, "p", "domains", data, n);
	free(data);
	assert_true(load(f));
	size_t good = 0, bad = 0;
	for (int i = 0; i < N; i++) {
		char h[URL_CANON_HOST_MAX], url[300], want[32], line[32];
		int m = url_canon_host(lines[i], strlen(lines[i]), h, sizeof(h));
		snprintf(line, sizeof(line), "p/domains:%d: ", i + 1);
		if (m < 0) {
			/* reported (the first WARN_MAX of them shown) */
			assert_true(bad >= 100 || strstr(f->warn, line) != NULL);
			bad++;
			continue;
		}
		assert_null(strstr(f->warn, line));
		good++;
		snprintf(url, sizeof(url), "http://%s/", h);
		snprintf(want, sizeof(want), "p/domains:%d", i + 1);
		assert_string_equal(look(f, url), want);
	}
	assert_int_equal(f->st.skipped, bad);
	assert_int_equal(f->st.domains, good);
	assert_true(good > N / 4);
	free(lines);
}

/* URLs */

static void test_urls_prefixes(void **state)
{
	struct fixture *f = *state;
	put(f, "u", "urls",
	    "example.com/ads\n"                  /* 1 */
	    "example.com/dir/\n"                 /* 2 */
	    "example.com/page?x=1\n"             /* 3 */
	    "www.wwwurl.com/p\n"                 /* 4 */
	    "plain.org/x\n"                      /* 5 */
	    "whole.net\n"                        /* 6 */
	    "http://Scheme.COM/a/../b/%7Euser\n" /* 7 */
	    "deep.org/a/b/c/d\n"                 /* 8 */
	    "EXAMPLE.com/CaSe\n"                 /* 9 */
	    "pct.org/a%20b\n"                    /* 10 */
	    "slash.org/\n"                       /* 11 */
	    "*.star.org/p\n");                   /* 12 */
	assert_true(load(f));
	assert_string_equal(f->warn, "");
	assert_int_equal(f->st.urls, 12);
	assert_string_equal(look(f, "http://example.com/ads"), "u/urls:1");
	assert_string_equal(look(f, "http://example.com/ads/"), "u/urls:1");
	assert_string_equal(look(f, "http://example.com/ads/x/y"), "u/urls:1");
	assert_string_equal(look(f, "http://example.com/ads?q=1"), "u/urls:1");
	assert_string_equal(look(f, "http://example.com/ads#frag"), "u/urls:1");
	assert_string_equal(look(f, "http://sub.example.com/ads"), "u/urls:1");
	assert_string_equal(look(f, "http://example.com/adsense"), "-");
	assert_string_equal(look(f, "http://example.com/ad"), "-");
	assert_string_equal(look(f, "http://example.com/"), "-");
	assert_string_equal(look(f, "http://example.com/x/ads"), "-");
	assert_string_equal(look(f, "http://notexample.com/ads"), "-");
	assert_string_equal(look(f, "http://example.com/dir/"), "u/urls:2");
	assert_string_equal(look(f, "http://example.com/dir/sub/x.html"), "u/urls:2");
	assert_string_equal(look(f, "http://example.com/dir"), "-");
	assert_string_equal(look(f, "http://example.com/directory/"), "-");
	assert_string_equal(look(f, "http://example.com/page?x=1"), "u/urls:3");
	assert_string_equal(look(f, "http://example.com/page?x=2"), "-");
	assert_string_equal(look(f, "http://example.com/page"), "-");
	assert_string_equal(look(f, "http://wwwurl.com/p"), "u/urls:4");
	assert_string_equal(look(f, "http://www.wwwurl.com/p/q"), "u/urls:4");
	assert_string_equal(look(f, "http://www.plain.org/x"), "u/urls:5");
	assert_string_equal(look(f, "http://whole.net/"), "u/urls:6");
	assert_string_equal(look(f, "http://a.whole.net/any/thing?x"), "u/urls:6");
	assert_string_equal(look(f, "http://scheme.com/b/~user"), "u/urls:7");
	assert_string_equal(look(f, "https://scheme.com/b/%7euser/x"), "u/urls:7");
	assert_string_equal(look(f, "http://scheme.com/a/"), "-");
	assert_string_equal(look(f, "http://deep.org/a/b/c/d/e/f"), "u/urls:8");
	assert_string_equal(look(f, "http://deep.org/a/b/c"), "-");
	assert_string_equal(look(f, "http://deep.org/a/./b/x/../c//d"), "u/urls:8");
	assert_string_equal(look(f, "http://example.com/CaSe"), "u/urls:9");
	assert_string_equal(look(f, "http://example.com/case"), "-");
	assert_string_equal(look(f, "http://pct.org/a b"), "u/urls:10");
	assert_string_equal(look(f, "http://pct.org/a%2520b/c"), "u/urls:10");
	assert_string_equal(look(f, "http://slash.org/"), "u/urls:11");
	assert_string_equal(look(f, "http://slash.org/anything"), "u/urls:11");
	assert_string_equal(look(f, "http://star.org/p"), "u/urls:12");
	assert_string_equal(look(f, "http://a.star.org/p/q"), "u/urls:12");
}

/* A path of thousands of segments on a host with "urls" entries: only
 * prefixes as deep as the deepest entry are tried. */
static void test_urls_long_path(void **state)
{
	struct fixture *f = *state;
	put(f, "u", "urls", "big.org/a/a\n");
	assert_true(load(f));
	char *url = malloc(5000);
	assert_non_null(url);
	strcpy(url, "http://big.org/");
	for (int i = 0; i < 2000; i++)
		strcat(url, i % 2 ? "b/" : "a/");
	assert_string_equal(look(f, url), "-");
	for (size_t i = strlen("http://big.org/"); url[i] != 0; i++)
		if (url[i] == 'b')
			url[i] = 'a';
	assert_string_equal(look(f, url), "u/urls:1");
	free(url);
}

/* Addresses: every spelling meets the canonical one; no suffix walk. */
static void test_ip_hosts(void **state)
{
	struct fixture *f = *state;
	put(f, "ip", "domains", "10.0.0.1\n::1\n[2001:DB8::1]\n0x7f.1\n");
	put(f, "ip", "urls", "10.0.0.2/x\n[2001:db8::2]/y\n");
	assert_true(load(f));
	assert_string_equal(f->warn, "");
	assert_string_equal(look(f, "http://10.0.0.1/"), "ip/domains:1");
	assert_string_equal(look(f, "http://012.0.0.1:8080/"), "ip/domains:1");
	assert_string_equal(look(f, "http://167772161/"), "ip/domains:1");
	assert_string_equal(look(f, "http://0.0.1/"), "-");
	assert_string_equal(look(f, "http://[::1]/"), "ip/domains:2");
	assert_string_equal(look(f, "http://[2001:db8:0:0::1]/"), "ip/domains:3");
	assert_string_equal(look(f, "http://127.0.0.1/"), "ip/domains:4");
	assert_string_equal(look(f, "http://10.0.0.2/x/z"), "ip/urls:1");
	assert_string_equal(look(f, "http://10.0.0.2/"), "-");
	assert_string_equal(look(f, "http://[2001:db8::2]/y"), "ip/urls:2");
	/* IPv4-mapped IPv6 reaches the IPv4 host: its entries apply */
	assert_string_equal(look(f, "http://[::ffff:10.0.0.1]/"), "ip/domains:1");
	assert_string_equal(look(f, "http://[::ffff:a00:1]/"), "ip/domains:1");
	assert_string_equal(look(f, "http://[0:0:0:0:0:FFFF:0A00:0001]:443/"), "ip/domains:1");
	assert_string_equal(look(f, "http://[::ffff:a00:2]/x/z"), "ip/urls:1");
	assert_string_equal(look(f, "http://[::ffff:7f00:1]/"), "ip/domains:4");
	assert_string_equal(look(f, "http://[::10.0.0.1]/"), "-");
}

/* A mapped address in a list is its IPv4 host too. */
static void test_ip_mapped_entries(void **state)
{
	struct fixture *f = *state;
	put(f, "ip", "domains", "::ffff:192.0.2.66\n[::ffff:c000:243]\n");
	put(f, "ip", "urls", "[::ffff:192.0.2.68]/x\n");
	assert_true(load(f));
	assert_string_equal(f->warn, "");
	assert_string_equal(look(f, "http://192.0.2.66/"), "ip/domains:1");
	assert_string_equal(look(f, "http://[::ffff:c000:242]/"), "ip/domains:1");
	assert_string_equal(look(f, "http://192.0.2.67/"), "ip/domains:2");
	assert_string_equal(look(f, "http://192.0.2.68/x"), "ip/urls:1");
}

/* Lines the urls fast path takes must meet the URL they spell. */
static void test_urls_fast_path_agrees(void **state)
{
	struct fixture *f = *state;
	static const char chars[] = "aZ09-._~!$&'()*+,;=:@/%?#\\..//";
	enum { N = 2000 };
	size_t cap = N * 64, n = 0;
	char *data = malloc(cap);
	char(*lines)[48] = malloc(N * sizeof(*lines));
	assert_non_null(data);
	assert_non_null(lines);
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < N; i++) {
		char s[48];
		size_t k = (size_t)snprintf(s, sizeof(s), "%sh%d.com/", i % 3 ? "" : "WWW.", i);
		int len = (int)((r >> 20) % 16);
		for (int j = 0; j < len; j++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			s[k++] = chars[r % (sizeof(chars) - 1)];
		}
		s[k] = 0;
		strcpy(lines[i], s);
		n += (size_t)snprintf(data + n, cap - n, "%s\n", s);
	}
	put_n(f, "p", "urls", data, n);
	free(data);
	assert_true(load(f));
	assert_string_equal(f->warn, "");
	for (int i = 0; i < N; i++) {
		char url[80], want[32];
		snprintf(url, sizeof(url), "http://%s", lines[i]);
		snprintf(want, sizeof(want), "p/urls:%d", i + 1);
		assert_string_equal(look(f, url), want);
	}
	free(lines);
}

/* Expressions */

static void test_expressions(void **state)
{
	struct fixture *f = *state;
	put(f, "re", "expressions",
	    "# comment\n"                      /* 1 */
	    "casino\n"                         /* 2 */
	    "(unclosed\n"                      /* 3 */
	    "^[^/]*\\.example\\.org/secret\n"  /* 4 */
	    "^(a|a)+$\n"                       /* 5: backtracks forever */
	    "(^|[-./])porn[a-z]*([-./]|$)\n"); /* 6 */
	assert_true(load(f));
#ifdef WITH_PCRE2
	assert_non_null(strstr(f->warn, "re/expressions:3: bad expression at offset 9: "));
	assert_int_equal(f->st.expressions, 4);
	assert_int_equal(f->st.skipped, 1);
	assert_string_equal(look(f, "http://bigCASINO.net/"), "re/expressions:2");
	assert_string_equal(look(f, "http://x.net/casino/x"), "re/expressions:2");
	assert_string_equal(look(f, "http://a.EXAMPLE.org/Secret/x"), "re/expressions:4");
	assert_string_equal(look(f, "http://example.org/secret"), "-");
	assert_string_equal(look(f, "http://x.net/pornstar/"), "re/expressions:6");
	assert_string_equal(look(f, "http://x.net/a?q=porn"), "-");
	/* The match limit stops backtracking: no match, and soon. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_string_equal(look(f, "http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.net/"), "-");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 500000000L);
	assert_string_equal(look(f, "http://x.net/"), "-");
#else
	assert_string_equal(f->warn, "re/expressions: ignored: icapd was built without PCRE2\n");
	assert_int_equal(f->st.expressions, 0);
	assert_string_equal(look(f, "http://casino.net/"), "-");
#endif
}

/* Categories */

static void test_categories_order(void **state)
{
	struct fixture *f = *state;
	put(f, "zeta", "domains", "shared.com\n");
	put(f, "alpha", "domains", "x.com\nshared.com\n");
	put(f, "mid", "urls", "shared.com/path\nx.com/\n");
	put(f, "mid", "domains", "other.com\n");
	put(f, "empty", NULL, NULL);
	put(f, "readme", "usage", "not a list\n");
	put(f, "emptyfile", "domains", "");
	put(f, "beta", "expressions", "shared\n");
	assert_true(load(f));
#ifdef WITH_PCRE2
	assert_string_equal(f->warn, "");
	assert_int_equal(url_lists_ncategories(f->l), 5);
	assert_string_equal(url_lists_category_name(f->l, 1), "beta");
	assert_string_equal(look(f, "http://a.shared.com/path/x"),
	                    "alpha/domains:2, beta/expressions:1, mid/urls:1, zeta/domains:1");
	assert_string_equal(look_max(f, "http://a.shared.com/path/x", 2),
	                    "alpha/domains:2, beta/expressions:1");
#else
	assert_int_equal(url_lists_ncategories(f->l), 5);
#endif
	assert_string_equal(url_lists_category_name(f->l, 0), "alpha");
	assert_string_equal(url_lists_category_name(f->l, 2), "emptyfile");
	assert_string_equal(url_lists_category_name(f->l, 3), "mid");
	assert_string_equal(url_lists_category_name(f->l, 4), "zeta");
	assert_null(url_lists_category_name(f->l, 5));
	assert_int_equal(url_lists_category_id(f->l, "zeta"), 4);
	assert_int_equal(url_lists_category_id(f->l, "empty"), -1);
	assert_int_equal(url_lists_category_id(f->l, "readme"), -1);
	assert_int_equal(url_lists_category_id(f->l, "nosuch"), -1);
	assert_int_equal(f->st.categories, 5);
	/* mid: its domains entry comes first, then its urls. */
	assert_string_equal(look(f, "http://x.com/"), "alpha/domains:1, mid/urls:2");
	assert_string_equal(look(f, "http://other.com/"), "mid/domains:1");
	assert_string_equal(look_max(f, "http://x.com/", 0), "-");
}

static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	put(f, "a", "domains", "dup.com\nDUP.com\nwww.dup.com\n*.dup.com\nnot.dup.com\n");
	put(f, "a", "urls", "dup.org/x\nwww.dup.org/x\n");
	put(f, "b", "domains", "dup.com\n");
	assert_true(load(f));
	assert_int_equal(f->st.domains, 3);
	assert_int_equal(f->st.urls, 1);
	assert_string_equal(look(f, "http://dup.com/"), "a/domains:1, b/domains:1");
	assert_string_equal(look(f, "http://www.dup.org/x"), "a/urls:1");
	assert_string_equal(look(f, "http://not.dup.com/"), "a/domains:5, b/domains:1");
}

static void test_alias_symlink(void **state)
{
	struct fixture *f = *state;
	put(f, "aggressive", "domains", "fight.com\n");
	put(f, "other", "domains", "calm.com\n");
	char target[512], link[512];
	snprintf(target, sizeof(target), "aggressive");
	snprintf(link, sizeof(link), "%s/agressif", f->root);
	assert_int_equal(symlink(target, link), 0);
	assert_true(load(f));
	assert_int_equal(url_lists_ncategories(f->l), 2);
	assert_int_equal(url_lists_category_id(f->l, "aggressive"), 0);
	assert_int_equal(url_lists_category_id(f->l, "agressif"), 0);
	assert_int_equal(url_lists_category_id(f->l, "other"), 1);
	assert_string_equal(look(f, "http://fight.com/"), "aggressive/domains:1");
	assert_int_equal(f->st.domains, 2);
}

/* Errors, changes, digests */

static void test_missing_root(void **state)
{
	struct fixture *f = *state;
	strcat(f->root, "/nosuch");
	assert_false(load(f));
	char want[128];
	snprintf(want, sizeof(want), "%s: No such file or directory\n", f->root);
	assert_string_equal(f->err, want);
	f->root[strlen(f->root) - strlen("/nosuch")] = 0;
}

/* Loads f->root, which must fail with "path: Permission denied"; no cmocka
 * asserts here, as it may run in a child process. */
static bool load_denied(struct fixture *f, const char *path)
{
	char *err = NULL;
	size_t len = 0;
	FILE *e = open_memstream(&err, &len);
	if (e == NULL)
		return false;
	struct url_lists *l = url_lists_load(f->root, NULL, e, NULL);
	fclose(e);
	char want[600];
	snprintf(want, sizeof(want), "%s: Permission denied\n", path);
	bool ok = l == NULL && strcmp(err, want) == 0;
	if (!ok)
		fprintf(stderr, "load_denied: got %s", err);
	url_lists_free(l);
	free(err);
	return ok;
}

static void test_unreadable_file(void **state)
{
	struct fixture *f = *state;
	put(f, "c", "domains", "x.com\n");
	put(f, "c", "urls", "x.com/a\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/c/urls", f->root);
	assert_int_equal(chmod(path, 0), 0);
	if (geteuid() != 0) {
		assert_true(load_denied(f, path));
		return;
	}
	/* root reads anything: try as nobody. */
	assert_int_equal(chmod(f->root, 0755), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		_exit(load_denied(f, path) ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* File times tick with the kernel's clock (a few ms): changes wait for
 * the next tick, as a real update of the lists always does. */
static void tick(void)
{
	struct timespec ts = {.tv_nsec = 20000000L};
	nanosleep(&ts, NULL);
}

static void test_changed(void **state)
{
	struct fixture *f = *state;
	put(f, "c", "domains", "x.com\n");
	put(f, "c", "urls", "x.com/a\n");
	put(f, "e", NULL, NULL);
	assert_true(load(f));
	assert_false(url_lists_changed(f->l));

	/* A file written again with the same size: its mtime changes. */
	char path[512];
	snprintf(path, sizeof(path), "%s/c/domains", f->root);
	struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_true(url_lists_changed(f->l));
	assert_true(load(f));
	assert_false(url_lists_changed(f->l));

	/* A list file appears in an empty category folder. */
	tick();
	put(f, "e", "domains", "y.com\n");
	assert_true(url_lists_changed(f->l));
	assert_true(load(f));
	assert_false(url_lists_changed(f->l));

	/* A new category folder. */
	tick();
	snprintf(path, sizeof(path), "%s/newcat", f->root);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_true(url_lists_changed(f->l));
	assert_true(load(f));

	/* A file replaced by rename (what downloads do). */
	put(f, "c", "urls.new", "x.com/a\n");
	char from[512];
	snprintf(from, sizeof(from), "%s/c/urls.new", f->root);
	snprintf(path, sizeof(path), "%s/c/urls", f->root);
	assert_true(load(f));
	assert_false(url_lists_changed(f->l));
	tick();
	assert_int_equal(rename(from, path), 0);
	assert_true(url_lists_changed(f->l));
	assert_true(load(f));

	/* A file removed. */
	assert_int_equal(unlink(path), 0);
	assert_true(url_lists_changed(f->l));
}

static void test_digest(void **state)
{
	struct fixture *f = *state;
	put(f, "c", "domains", "x.com\n");
	assert_true(load(f));
	char d1[65];
	assert_int_equal(strlen(url_lists_digest(f->l)), 64);
	assert_int_equal(strspn(url_lists_digest(f->l), "0123456789abcdef"), 64);
	strcpy(d1, url_lists_digest(f->l));
	assert_true(load(f));
	assert_string_equal(url_lists_digest(f->l), d1);

	put(f, "c", "domains", "y.com\n");
	assert_true(load(f));
	assert_string_not_equal(url_lists_digest(f->l), d1);
	put(f, "c", "domains", "x.com\n");
	assert_true(load(f));
	assert_string_equal(url_lists_digest(f->l), d1);

	/* Only a comment added: the lists do not change, the digest does. */
	put(f, "c", "domains", "x.com\n# c\n");
	assert_true(load(f));
	assert_string_not_equal(url_lists_digest(f->l), d1);
	/* Same contents under another name. */
	put(f, "c", "domains", "x.com\n");
	char a[512], b[512];
	snprintf(a, sizeof(a), "%s/c", f->root);
	snprintf(b, sizeof(b), "%s/d", f->root);
	assert_int_equal(rename(a, b), 0);
	assert_true(load(f));
	assert_string_not_equal(url_lists_digest(f->l), d1);
}

static void test_empty_root(void **state)
{
	struct fixture *f = *state;
	put(f, "empty", NULL, NULL);
	assert_true(load(f));
	assert_int_equal(url_lists_ncategories(f->l), 0);
	assert_int_equal(f->st.domains + f->st.urls + f->st.expressions, 0);
	assert_string_equal(look(f, "http://x.com/"), "-");
	assert_true(f->st.bytes > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_domain_line_forms, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_domain_subdomains, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_malformed_lines, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_many_warnings_bounded, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_crlf_no_final_newline, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_big_file_chunks, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fast_path_agrees, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_urls_prefixes, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_urls_long_path, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ip_hosts, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ip_mapped_entries, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_urls_fast_path_agrees, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_expressions, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_categories_order, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_alias_symlink, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_missing_root, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unreadable_file, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_changed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_empty_root, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
