/*
 * bench_url_policy: the cost of url_policy_decide per request, in the
 * worst case the linear scans allow: every policy names large groups and
 * a time window, the client is in none of them but the last policy's
 * (so every prefix and user name is compared), and the URL is in a few
 * categories that the rules list last.
 *
 *   make bench-url_policy [BENCH_ARGS="PREFIXES USERS"]   (per group; 100 100)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "url_policy.h"

#define NGROUPS   4
#define NPOLICIES 4

static int cat_id(void *arg, const char *name)
{
	(void)arg;
	return strncmp(name, "cat", 3) == 0 ? atoi(name + 3) : -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int nprefixes = argc > 1 ? atoi(argv[1]) : 100, nusers = argc > 2 ? atoi(argv[2]) : 100;
	if (nprefixes < 1 || nprefixes > 4096 || nusers < 0) {
		fprintf(stderr, "usage: bench_url_policy [PREFIXES (1-4096) [USERS]]\n");
		return 2;
	}
	char path[] = "/tmp/bench_url_policy.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		perror("mkstemp");
		return 1;
	}
	for (int g = 0; g < NGROUPS; g++) {
		/* Distinct /24s, the one the client is in last. */
		fprintf(f, "group g%d {\n\taddress", g);
		for (int i = 0; i < nprefixes; i++)
			fprintf(f, " 10.%d.%d.0/24", g * 16 + i / 256, i % 256);
		fprintf(f, " 2001:db8:%x::/48;\n\tuser nobody%d", g, g);
		for (int i = 0; i < nusers; i++)
			fprintf(f, " user%d_%d", g, i);
		fprintf(f, ";\n}\n");
	}
	fprintf(f, "time lessons { days mon-fri; hours 08:00-12:00 13:00-16:30 22:00-06:00; }\n");
	for (int p = 0; p < NPOLICIES; p++)
		fprintf(f,
		        "policy p%d {\n\tfor g%d;\n\tduring lessons;\n\tallow cat1 cat2 cat3;\n"
		        "\tblock cat4 cat5 cat6 cat7 cat8 cat9;\n%s}\n",
		        p, p, p == NPOLICIES - 1 ? "\tdefault allow;\n" : "");
	fclose(f);

	double t0 = now_s();
	struct url_policy *pol = url_policy_load(path, cat_id, NULL, stderr);
	double load = now_s() - t0;
	unlink(path);
	if (pol == NULL)
		return 1;

	/* Wednesday 2024-01-03 10:00 local: inside the window. */
	struct tm tm = {.tm_year = 124, .tm_mon = 0, .tm_mday = 3, .tm_hour = 10, .tm_isdst = -1};
	char addr[32];
	snprintf(addr, sizeof(addr), "10.%d.%d.9", 3 * 16 + (nprefixes - 1) / 256,
	         (nprefixes - 1) % 256);
	struct url_client cl = {.address = addr, .user = "nobody", .now = mktime(&tm)};
	struct url_match m[3] = {{.category = 9, .file = "cat9/domains", .line = 1},
	                         {.category = 11, .file = "cat11/domains", .line = 1},
	                         {.category = 12, .file = "cat12/domains", .line = 1}};
	struct url_decision d;
	long iters = 200000;
	t0 = now_s();
	for (long i = 0; i < iters; i++)
		url_policy_decide(pol, &cl, m, 3, &d);
	double per = (now_s() - t0) / (double)iters;
	printf("url_policy: %d groups x (%d prefixes + %d users), %d policies\n", NGROUPS,
	       nprefixes, nusers, NPOLICIES);
	printf("  load   %.2f ms\n", load * 1e3);
	printf("  decide %.0f ns (%s by %s line %d)\n", per * 1e9, d.block ? "blocked" : "allowed",
	       d.policy, d.line);

	cl.address = "192.0.2.1";
	cl.user = NULL;
	t0 = now_s();
	for (long i = 0; i < iters; i++)
		url_policy_decide(pol, &cl, m, 0, &d);
	per = (now_s() - t0) / (double)iters;
	printf("  decide %.0f ns, client in no group, URL in no category\n", per * 1e9);
	url_policy_free(pol);
	return 0;
}
