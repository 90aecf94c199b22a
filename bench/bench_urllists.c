/*
 * bench_urllists: url_lists at the size of UT1's adult category.
 *
 *   make bench-urllists [BENCH_ARGS="[-n entries] [folder]"]
 *
 * Writes a synthetic "domains" list (5,000,000 entries by default: random
 * labels, 2 to 4 labels, one in ten with "www.", one in twenty in mixed
 * case, a few duplicates as real lists have) into folder/bench/ (default:
 * a temporary folder under /tmp), loads it, and reports the load time,
 * the memory the index holds (its own accounting, and the growth of the
 * process's resident memory), the peak during the load, then the cost of
 * a lookup for URLs that are listed and URLs that are not: the lookup
 * alone (URLs canonicalized beforehand, in batches of random hosts from the
 * whole list, so that the index is not cache-resident), url_canon_url
 * alone, and both. Each lookup phase stops after 2,000,000 lookups or 2 s.
 * The files it wrote are removed at the end, or when it is interrupted.
 *
 * Names are a function of their index (a hash of it), so a listed host
 * can be picked at random without keeping the list in memory. A few of
 * the "not listed" URLs are found all the same: a suffix of their random
 * name happens to be a listed (short, two-label) name.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "url_canon.h"
#include "url_lists.h"

#define DEFAULT_ENTRIES 5000000
#define BATCH           1024
#define PHASE_MAX       2000000
#define PHASE_NS        2000000000LL
#define MISS_BASE       (1ULL << 40) /* indexes of names not in the list */

/* What to remove if interrupted (^C, a timeout's SIGTERM): set before the
 * signals are caught, then only read. */
static char rm_file[600], rm_cat[512], rm_tmp[64];

static void cleanup(void)
{
	unlink(rm_file);
	rmdir(rm_cat);
	if (rm_tmp[0] != 0)
		rmdir(rm_tmp);
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The canonical name number i; *line gets it as the list spells it. */
static size_t gen_name(uint64_t i, char *name, char *line)
{
	static const char *const tld[] = {"com", "com", "com",  "com",   "net", "org", "fr",
	                                  "de",  "ru",  "info", "co.uk", "xxx", "io",  "nl"};
	static const char letters[] = "abcdefghijklmnopqrstuvwxyzaeiouaeioustrnl";
	uint64_t r = splitmix(i);
	size_t n = 0;
	int labels = 1 + (int)(r % 3); /* before the TLD */
	r = splitmix(r);
	for (int l = 0; l < labels; l++) {
		int len = 4 + (int)(r % 10);
		r = splitmix(r);
		for (int k = 0; k < len; k++) {
			uint64_t c = r % 64;
			r = r >> 6 | (c << 58);
			char ch = c < 41   ? letters[c]
			          : c < 60 ? letters[c - 41]
			                   : (char)('0' + c - 54);
			if (k > 0 && k < len - 1 && (r & 0x3f) == 0)
				ch = '-';
			name[n++] = ch;
		}
		r = splitmix(r);
		name[n++] = '.';
	}
	const char *t = tld[r % (sizeof(tld) / sizeof(tld[0]))];
	memcpy(name + n, t, strlen(t) + 1);
	n += strlen(t);
	if (line != NULL) {
		size_t o = 0;
		r = splitmix(r);
		if (r % 10 == 0) {
			memcpy(line, "www.", 4);
			o = 4;
		}
		for (size_t k = 0; k < n; k++)
			line[o++] = (r % 20 == 1 && (k & 1) && name[k] >= 'a' && name[k] <= 'z')
			                    ? (char)(name[k] & ~0x20)
			                    : name[k];
		line[o] = 0;
	}
	return n;
}

static long status_kb(const char *field)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char buf[256];
	long v = -1;
	size_t fl = strlen(field);
	while (fp != NULL && fgets(buf, sizeof(buf), fp) != NULL)
		if (strncmp(buf, field, fl) == 0 && buf[fl] == ':')
			v = atol(buf + fl + 1);
	if (fp != NULL)
		fclose(fp);
	return v;
}

static void reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "5", 1) < 0)
			perror("clear_refs");
		close(fd);
	}
}

/* A URL for name number i, with some subdomain and path. */
static int make_url(char *url, size_t cap, uint64_t i, uint64_t r)
{
	char name[128];
	gen_name(i, name, NULL);
	static const char *const sub[] = {"", "", "www.", "cdn.", "m.", "img.static."};
	static const char *const path[] = {"/", "/index.html", "/video/12345/watch?v=abc",
	                                   "/a/b/c/d.php?id=7&x=y", "/search?q=cats"};
	return snprintf(url, cap, "http://%s%s%s", sub[r % 6], name, path[(r >> 8) % 5]);
}

struct result {
	size_t lookups, found;
	long long ns;
};

enum mode { LOOKUP, CANON, BOTH };

static struct result phase(const struct url_lists *l, size_t entries, bool hits, enum mode mode,
                           struct url_canon *batch, char (*urls)[256], uint64_t seed)
{
	struct result res = {0};
	struct url_match m[8];
	while (res.lookups < PHASE_MAX && res.ns < PHASE_NS) {
		for (size_t b = 0; b < BATCH; b++) {
			uint64_t r = splitmix(seed++);
			uint64_t i = hits ? r % entries : MISS_BASE + r % entries;
			make_url(urls[b], sizeof(urls[b]), i, r >> 32);
		}
		if (mode == LOOKUP)
			for (size_t b = 0; b < BATCH; b++)
				if (url_canon_url(urls[b], strlen(urls[b]), &batch[b]) < 0)
					abort();
		long long t0 = now_ns();
		for (size_t b = 0; b < BATCH; b++) {
			if (mode == LOOKUP) {
				res.found += url_lists_lookup(l, &batch[b], m, 8) > 0;
			} else {
				if (url_canon_url(urls[b], strlen(urls[b]), &batch[0]) < 0)
					abort();
				if (mode == BOTH)
					res.found += url_lists_lookup(l, &batch[0], m, 8) > 0;
			}
		}
		res.ns += now_ns() - t0;
		res.lookups += BATCH;
	}
	return res;
}

static void report(const char *what, struct result r, bool show_found)
{
	printf("  %-28s %9.0f /s  %7.0f ns", what, r.lookups * 1e9 / (double)r.ns,
	       (double)r.ns / (double)r.lookups);
	if (show_found)
		printf("   found %zu of %zu", r.found, r.lookups);
	printf("\n");
}

int main(int argc, char **argv)
{
	size_t entries = DEFAULT_ENTRIES;
	const char *folder = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			entries = strtoul(argv[++i], NULL, 10);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: bench_urllists [-n entries] [folder]\n");
			return 2;
		} else
			folder = argv[i];
	}
	char tmp[] = "/tmp/bench_urllists.XXXXXX";
	if (folder == NULL) {
		if (mkdtemp(tmp) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		folder = tmp;
	}
	char *cat = rm_cat, *file = rm_file;
	snprintf(cat, sizeof(rm_cat), "%s/bench", folder);
	snprintf(file, sizeof(rm_file), "%s/domains", cat);
	if (folder == tmp)
		snprintf(rm_tmp, sizeof(rm_tmp), "%s", tmp);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (mkdir(cat, 0755) < 0 && errno != EEXIST) {
		perror(cat);
		return 1;
	}

	long long t0 = now_ns();
	FILE *fp = fopen(file, "w");
	if (fp == NULL) {
		perror(file);
		cleanup();
		return 1;
	}
	static char fbuf[1 << 20];
	setvbuf(fp, fbuf, _IOFBF, sizeof(fbuf));
	char name[128], line[160];
	size_t bytes = 0;
	fprintf(fp, "# synthetic list for bench_urllists\n");
	for (size_t i = 0; i < entries; i++) {
		gen_name(i, name, line);
		bytes += (size_t)fprintf(fp, "%s\n", line);
	}
	if (fclose(fp) != 0) {
		perror(file);
		cleanup();
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("list: %zu lines, %.1f MB (%.1f bytes a line), written in %.2f s\n", entries,
	       bytes / 1e6, (double)bytes / (double)entries, (now_ns() - t0) / 1e9);

	long rss0 = status_kb("VmRSS");
	reset_peak();
	struct url_lists_stats st;
	t0 = now_ns();
	struct url_lists *l = url_lists_load(folder, stderr, stderr, &st);
	long long load_ns = now_ns() - t0;
	long rss1 = status_kb("VmRSS"), hwm = status_kb("VmHWM");
	if (l == NULL) {
		cleanup();
		return 1;
	}
	size_t kept = st.domains + st.urls;
	printf("load: %.2f s, %zu entries kept (%zu duplicates), %zu skipped\n", load_ns / 1e9,
	       kept, entries - kept - st.skipped, st.skipped);
	printf("memory: %.1f MB by its own accounting = %.1f bytes an entry\n", st.bytes / 1e6,
	       (double)st.bytes / (double)kept);
	printf("        %.1f MB more resident = %.1f bytes an entry; peak during the load %.1f MB "
	       "over the start\n",
	       (rss1 - rss0) / 1e3, (rss1 - rss0) * 1024.0 / (double)kept, (hwm - rss0) / 1e3);

	struct url_canon *batch = malloc(BATCH * sizeof(*batch));
	char(*urls)[256] = malloc(BATCH * sizeof(*urls));
	if (batch == NULL || urls == NULL)
		abort();
	printf("lookups (a URL of 2-5 labels, 0-4 path segments; random hosts of the list):\n");
	report("url_lists_lookup, listed", phase(l, entries, true, LOOKUP, batch, urls, 1), true);
	report("url_lists_lookup, not listed", phase(l, entries, false, LOOKUP, batch, urls, 2),
	       true);
	report("url_canon_url alone", phase(l, entries, true, CANON, batch, urls, 3), false);
	report("canon + lookup, listed", phase(l, entries, true, BOTH, batch, urls, 4), true);
	report("canon + lookup, not listed", phase(l, entries, false, BOTH, batch, urls, 5), true);
	free(batch);
	free(urls);

	t0 = now_ns();
	url_lists_free(l);
	printf("free: %.2f s\n", (now_ns() - t0) / 1e9);
	cleanup();
	return 0;
}
