/*
 * url_canon: URLs reduced to the one form the URL lists are matched in,
 * following Google Safe Browsing's canonicalization, so that a listed site
 * cannot be reached by spelling its address differently:
 *
 *   - percent-decoding repeated until nothing changes (%2525 -> %25 -> %)
 *   - scheme, user-info, port (kept aside) and fragment dropped for matching
 *   - host: lower-cased; leading, trailing and repeated dots removed;
 *     internationalized names to punycode A-labels (libidn2); every IPv4
 *     form (3279880203, 0xc3.0x7a.0x0f.0xb, 0303.0172.017.013, 195.8
 *     ...: decimal, octal, hex, fewer than four parts) to a dotted quad;
 *     bracketed IPv6 to its RFC 5952 text in brackets ("[2001:db8::1]")
 *   - path: "/./", "/../" and "//" resolved; empty path becomes "/"
 *   - then re-escaped: bytes <= 0x20, >= 0x7f, '#' and '%' as %XX (upper
 *     case hex), so the result is printable ASCII
 *
 * Pure functions: no allocation that outlives a call, safe on any thread,
 * bounded work per input byte (the decoding loop stops when nothing
 * changes, at most URL_CANON_MAX_ROUNDS rounds).
 */
#ifndef ICAPD_URL_CANON_H
#define ICAPD_URL_CANON_H

#include <stdbool.h>
#include <stddef.h>

#define URL_CANON_HOST_MAX   256  /* with the NUL; longer hosts are an error */
#define URL_CANON_PATH_MAX   4096 /* with the NUL; longer paths are cut (truncated set) */
#define URL_CANON_MAX_ROUNDS 16   /* of percent-decoding */

enum url_host_kind { URL_HOST_NAME, URL_HOST_IPV4, URL_HOST_IPV6 };

struct url_canon {
	char host[URL_CANON_HOST_MAX]; /* NUL-terminated, see above */
	size_t host_len;
	enum url_host_kind host_kind;
	unsigned port;                 /* as given, 0 when none */
	char path[URL_CANON_PATH_MAX]; /* "/" at least, with "?query" if any, no fragment */
	size_t path_len;
	size_t query_off; /* offset of '?' in path, or path_len when none */
	bool truncated;   /* the path was longer than URL_CANON_PATH_MAX - 1 */
};

/*
 * An absolute URL ("http://user@Host.EXAMPLE:8080/a/../b?q#f"), a
 * scheme-relative one ("//host/path") or the scheme-less form of list files
 * and of the command line ("host/path", "host"). Returns 0, or -1 when no
 * usable host can be found (empty, too long, not valid after decoding, or
 * an IDN that libidn2 refuses).
 */
int url_canon_url(const char *url, size_t len, struct url_canon *c);

/*
 * The URL of an encapsulated HTTP request: an origin-form target ("/p?q")
 * with the Host header (host_len 0 when there was none: then -1), an
 * absolute-form target (Host is then ignored, as RFC 9112 says), or for
 * CONNECT the authority form "host:port", whose path is "/".
 */
int url_canon_request(const char *method, size_t method_len, const char *target, size_t target_len,
                      const char *host, size_t host_len, struct url_canon *c);

/*
 * One host on its own, as a "domains" list line gives it: the host rules
 * above, plus a leading "*." or "." dropped. Writes a NUL-terminated result
 * to out (cap bytes) and returns its length, or -1.
 */
int url_canon_host(const char *in, size_t len, char *out, size_t cap);

/*
 * The host's suffixes for a "domains" lookup, longest first: for
 * "a.b.example.com" the host itself, then "b.example.com", "example.com",
 * "com". An IP address has only itself. Call with i = 0, 1, ... until it
 * returns NULL; *len gets the length (pointers into c->host).
 */
const char *url_canon_host_suffix(const struct url_canon *c, size_t i, size_t *len);

#endif
