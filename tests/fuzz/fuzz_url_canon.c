/*
 * Fuzz target for url_canon.c, the URL canonicalizer the URL lists are
 * matched in. The data goes whole to url_canon_url and url_canon_host, and
 * split at NUL bytes into method, target and Host to url_canon_request
 * (with defaults for the parts it lacks). Every input is an exact-size heap
 * copy, so that AddressSanitizer sees a read past the length given.
 *
 * Checked on every success: the host is non-empty, lower-case and made of
 * name bytes (or an IPv4 dotted quad, or bracketed IPv6), with no empty
 * label; the path starts with '/', is printable ASCII without '#' and
 * within its bound, and query_off points at a '?'; the port is at most
 * 65535; the host suffixes are proper dot-separated tails, an address has
 * only itself. Canonicalizing the output again ("host/path", unless the
 * path was truncated or shows a decoded "%3F") gives the same host, kind
 * and path (idempotence); a
 * canonical host from url_canon_host is a fixed point of url_canon_host and
 * the host of url_canon_url("host/"). On failure the host is "". The URL
 * lists' fast paths for plain lines (url_lists_host_fast,
 * url_lists_url_fast) must give what the full canonicalizer gives whenever
 * they accept a line. Violations abort.
 */
#include "fuzz_util.h"
#include "url_canon.h"
#include "url_lists_impl.h"

static bool host_byte(char ch, enum url_host_kind kind)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
	       ch == '.' || (kind == URL_HOST_IPV6 && (ch == ':' || ch == '[' || ch == ']'));
}

static void check_host(const char *h, size_t n, enum url_host_kind kind)
{
	CHECK(n > 0 && n < URL_CANON_HOST_MAX);
	CHECK(strlen(h) == n);
	for (size_t k = 0; k < n; k++)
		CHECK(host_byte(h[k], kind));
	if (kind == URL_HOST_NAME) {
		CHECK(n <= 253);
		CHECK(h[0] != '.' && h[n - 1] != '.');
		CHECK(strstr(h, "..") == NULL);
	} else if (kind == URL_HOST_IPV6) {
		CHECK(h[0] == '[' && h[n - 1] == ']');
	} else {
		unsigned dots = 0;
		for (size_t k = 0; k < n; k++) {
			CHECK((h[k] >= '0' && h[k] <= '9') || h[k] == '.');
			dots += h[k] == '.';
		}
		CHECK(dots == 3);
	}
}

static void check_result(const struct url_canon *c)
{
	check_host(c->host, c->host_len, c->host_kind);
	CHECK(c->port <= 65535);
	CHECK(c->path_len >= 1 && c->path_len < URL_CANON_PATH_MAX);
	CHECK(strlen(c->path) == c->path_len);
	CHECK(c->path[0] == '/');
	for (size_t k = 0; k < c->path_len; k++)
		CHECK(c->path[k] > 0x20 && c->path[k] < 0x7f && c->path[k] != '#');
	CHECK(c->query_off <= c->path_len);
	if (c->query_off < c->path_len)
		CHECK(c->path[c->query_off] == '?');

	/* Suffixes: the host, then each tail after a dot; an address has one. */
	size_t len, prev = c->host_len + 1;
	const char *s;
	size_t i = 0;
	for (; (s = url_canon_host_suffix(c, i, &len)) != NULL; i++) {
		CHECK(i < 128);
		CHECK(len > 0 && len < prev && s + len == c->host + c->host_len);
		CHECK(i == 0 ? s == c->host : s[-1] == '.');
		prev = len;
	}
	CHECK(i >= 1);
	if (c->host_kind != URL_HOST_NAME)
		CHECK(i == 1);
}

static int canon_exact(const char *in, size_t n, struct url_canon *c)
{
	char *p = fz_copy(in, n);
	int rc = url_canon_url(p, n, c);
	free(p);
	CHECK(rc == 0 || rc == -1);
	if (rc < 0)
		CHECK(c->host[0] == 0 && c->host_len == 0);
	return rc;
}

/*
 * The output, canonicalized again as "host/path", must give itself. Not
 * when the path was cut, nor when it holds a '?' before the query: that is
 * a "%3F" decoded, which the output shows as '?' (as Safe Browsing does,
 * see url_canon.h), and which the second time starts the query, so that a
 * dot segment before it resolves then ("/.%3Fx" gives "/.?x", which gives
 * "/?x").
 */
static void check_idempotent(const struct url_canon *c)
{
	static struct url_canon again;
	static char buf[URL_CANON_HOST_MAX + URL_CANON_PATH_MAX];
	if (c->truncated || memchr(c->path, '?', c->query_off) != NULL)
		return;
	memcpy(buf, c->host, c->host_len);
	memcpy(buf + c->host_len, c->path, c->path_len);
	CHECK(canon_exact(buf, c->host_len + c->path_len, &again) == 0);
	CHECK(strcmp(again.host, c->host) == 0);
	CHECK(again.host_kind == c->host_kind);
	CHECK(strcmp(again.path, c->path) == 0);
	CHECK(!again.truncated);
}

static void fuzz_url(const uint8_t *data, size_t size)
{
	static struct url_canon c;
	if (canon_exact((const char *)data, size, &c) == 0) {
		check_result(&c);
		check_idempotent(&c);
	}

	/* A plain "urls" line: the fast path must agree with the full one. */
	static char fast[URL_CANON_HOST_MAX + URL_CANON_PATH_MAX];
	char *p = fz_copy(data, size);
	int r = url_lists_url_fast(p, size, fast);
	free(p);
	if (r >= 0) {
		CHECK(canon_exact((const char *)data, size, &c) == 0);
		CHECK(!c.truncated);
		size_t o = c.host_len;
		static char want[URL_CANON_HOST_MAX + URL_CANON_PATH_MAX];
		memcpy(want, c.host, c.host_len);
		if (c.host_kind == URL_HOST_NAME)
			o = url_lists_strip_www(want, o);
		memcpy(want + o, c.path, c.path_len);
		CHECK((size_t)r == o + c.path_len && memcmp(fast, want, (size_t)r) == 0);
	}
}

static void fuzz_host(const uint8_t *data, size_t size, uint64_t h)
{
	char out[URL_CANON_HOST_MAX], again[URL_CANON_HOST_MAX];
	size_t cap = h % 8 == 0 ? 1 + (size_t)(h >> 8) % URL_CANON_HOST_MAX : sizeof(out);
	char *p = fz_copy(data, size);
	int n = url_canon_host(p, size, out, cap);
	free(p);
	CHECK(n >= -1);

	/* The lists' fast path for a plain "domains" line. */
	char fast[URL_CANON_HOST_MAX];
	p = fz_copy(data, size);
	int fn = size <= 1024 ? url_lists_host_fast(p, size, fast, true) : -1;
	free(p);
	if (fn >= 0 && cap == sizeof(out))
		CHECK(n == fn && memcmp(out, fast, (size_t)n) == 0);
	if (n < 0)
		return;
	CHECK((size_t)n < cap);

	enum url_host_kind kind = out[0] == '[' ? URL_HOST_IPV6 : URL_HOST_NAME;
	/* A dotted quad is an address; check_host accepts it as a name too. */
	check_host(out, (size_t)n, kind);

	/* A fixed point of url_canon_host... */
	p = fz_copy(out, (size_t)n);
	CHECK(url_canon_host(p, (size_t)n, again, sizeof(again)) == n);
	CHECK(memcmp(again, out, (size_t)n + 1) == 0);
	free(p);
	/* ... and what url_canon_url makes of the same host. */
	static struct url_canon c;
	memcpy(again, out, (size_t)n);
	again[n] = '/';
	CHECK(canon_exact(again, (size_t)n + 1, &c) == 0);
	CHECK(c.host_len == (size_t)n && memcmp(c.host, out, (size_t)n) == 0);
	CHECK(c.path_len == 1 && c.path[0] == '/');
}

static void fuzz_request(const uint8_t *data, size_t size, uint64_t h)
{
	static const char *const methods[] = {"GET", "CONNECT", "POST", "OPTIONS"};
	static const char *const hosts[] = {"example.com", "Example.COM:8080", "[::1]:80",
	                                    "x@good.example", ""};
	size_t off[3], len[3];
	fz_split(data, size, 3, off, len);
	bool has_nul = memchr(data, 0, size) != NULL;

	const char *m = methods[h % 4];
	size_t ml = strlen(m);
	const char *t = (const char *)data, *host = hosts[(h >> 4) % 5];
	size_t tl = size, hl = strlen(host);
	if (has_nul) {
		m = (const char *)data + off[0], ml = len[0];
		t = (const char *)data + off[1], tl = len[1];
		host = (const char *)data + off[2], hl = len[2];
	}
	char *mc = fz_copy(m, ml), *tc = fz_copy(t, tl), *hc = fz_copy(host, hl);
	static struct url_canon c;
	int rc = url_canon_request(mc, ml, tc, tl, hc, hl, &c);
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		check_result(&c);
		check_idempotent(&c);
		if (ml == 7 && memcmp(m, "CONNECT", 7) == 0)
			CHECK(c.path_len == 1);
	} else {
		CHECK(c.host[0] == 0 && c.host_len == 0);
	}
	free(mc);
	free(tc);
	free(hc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = fz_hash(data, size);
	if (size > 8192) /* paths are cut at 4 KiB: longer adds nothing */
		return 0;
	fuzz_url(data, size);
	fuzz_host(data, size, h);
	fuzz_request(data, size, h);
	return 0;
}
