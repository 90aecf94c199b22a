/*
 * bench_urlcanon: nanoseconds per url_canon_url() call on a few kinds of
 * URL (typical, percent-encoded, numeric IPv4, IDN), and per
 * url_canon_request() for an origin-form target with a Host header.
 *
 *   make bench-urlcanon [BENCH_ARGS=iterations]   (default 2000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "url_canon.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const char *const urls[] = {
	        "http://www.shop.example.com/catalog/item.php?id=12345&lang=en",
	        "https://cdn.example.org/static/js/app.min.js?v=3f2a9c",
	        "http://Www.Example.COM/a/./b/../c/%7Euser/%2e%2e/index.html?q=1",
	        "http://0xc3.0177.11/path/to/some/file.html",
	        "http://b\xc3\xbc"
	        "cher.example/katalog/seite.html",
	};
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	struct url_canon c;
	volatile size_t sink = 0;

	if (n <= 0)
		n = 1;
	for (size_t u = 0; u < sizeof(urls) / sizeof(urls[0]); u++) {
		size_t len = strlen(urls[u]);
		long iters = strchr(urls[u], '\xc3') ? n / 20 + 1 : n; /* libidn2 is slow */
		double t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			if (url_canon_url(urls[u], len, &c) != 0)
				return 1;
			sink += c.path_len;
		}
		double ns = (now_ns() - t0) / (double)iters;
		printf("url_canon_url      %3zu bytes %8.1f ns  %s -> %s%s\n", len, ns, urls[u],
		       c.host, c.path);
	}
	static const char target[] = "/catalog/item.php?id=12345&lang=en";
	static const char host[] = "www.shop.example.com";
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (url_canon_request("GET", 3, target, sizeof(target) - 1, host, sizeof(host) - 1,
		                      &c) != 0)
			return 1;
		sink += c.path_len;
	}
	printf("url_canon_request  origin-form + Host %8.1f ns\n", (now_ns() - t0) / (double)n);
	return sink == 0;
}
