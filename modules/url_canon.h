/*
 * url_canon: URLs reduced to the one form the URL lists are matched in,
 * following Google Safe Browsing's canonicalization, so that a listed site
 * cannot be reached by spelling its address differently:
 *
 *   - percent-decoding repeated until nothing changes (%2525 -> %25 -> %),
 *     of host, path and query each on its own: the parts are split on the
 *     bytes as given, so "%2F" does not end a host nor "%3F" a path; in
 *     the path a decoded '/' (or '\') separates segments
 *   - scheme, user-info, port (kept aside) and fragment dropped for matching
 *   - host: lower-cased; leading, trailing and repeated dots removed;
 *     internationalized names to punycode A-labels (libidn2); every IPv4
 *     form (3279880203, 0xc3.0x7a.0x0f.0xb, 0303.0172.017.013, 195.8
 *     ...: decimal, octal, hex, fewer than four parts) to a dotted quad;
 *     bracketed IPv6 to its RFC 5952 text in brackets ("[2001:db8::1]"),
 *     but IPv4-mapped IPv6 ("[::ffff:c000:201]") to the IPv4 dotted quad
 *   - '\' is '/' in the authority and path, as browsers treat it; user-info
 *     ends at the last '@' before the first '/', '\', '?' or '#', so
 *     "http://evil.example\@good.example/" is evil.example
 *   - path: "/./", "/../" and "//" resolved (also "." and ".." at the end);
 *     empty path becomes "/"; the query is kept as it is, only re-escaped
 *   - then re-escaped: bytes <= 0x20, >= 0x7f, '#' and '%' as %XX (upper
 *     case hex), so the result is printable ASCII
 *
 * A host that is not a valid name after all this (a byte other than a-z,
 * 0-9, '-', '_', '.'; more than 253 bytes; an IDN libidn2 refuses) or whose
 * last label is a number without being a valid IPv4 address ("1.2.3.256",
 * "example.123") is an error, as it is for browsers. See url_canon.c for
 * the decisions in detail.
 *
 * Pure functions: no allocation that outlives a call, safe on any thread,
 * bounded work per input byte. Decoding is a single pass that reaches the
 * same fixed point as decoding again and again (see url_canon.c), so there
 * is no round limit: URL_CANON_MAX_ROUNDS is not used by the code.
 */
#ifndef ICAPD_URL_CANON_H
#define ICAPD_URL_CANON_H

#include <stdbool.h>
#include <stddef.h>

#define URL_CANON_HOST_MAX   256  /* with the NUL; longer hosts are an error */
#define URL_CANON_PATH_MAX   4096 /* with the NUL; longer paths are cut (truncated set) */
#define URL_CANON_MAX_ROUNDS 16   /* unused: decoding has no round limit */

enum url_host_kind { URL_HOST_NAME, URL_HOST_IPV4, URL_HOST_IPV6 };

struct url_canon {
	char host[URL_CANON_HOST_MAX]; /* NUL-terminated, see above */
	size_t host_len;
	enum url_host_kind host_kind;
	unsigned port;                 /* as given, 0 when none */
	char path[URL_CANON_PATH_MAX]; /* "/" at least, with "?query" if any, no fragment */
	size_t path_len;
	size_t query_off; /* offset of '?' in path, or path_len when none */
	bool truncated;   /* the path was longer than URL_CANON_PATH_MAX - 1 (cut
	                   * there, never inside a %XX; then query_off is
	                   * path_len if the '?' was cut off) */
};

/*
 * An absolute URL ("http://user@Host.EXAMPLE:8080/a/../b?q#f"), a
 * scheme-relative one ("//host/path") or the scheme-less form of list files
 * and of the command line ("host/path", "host", "host:port/path"). Any
 * scheme with "//" is accepted; http, https, ftp, ws and wss (compared
 * case-insensitively) also without it ("http:host"). Returns 0, or -1 when
 * no usable host can be found (empty, too long, not valid after decoding,
 * an IDN that libidn2 refuses, a scheme without a host like "mailto:"), or
 * the port is not a number up to 65535. On -1, c->host is "".
 */
int url_canon_url(const char *url, size_t len, struct url_canon *c);

/*
 * The URL of an encapsulated HTTP request: an origin-form target ("/p?q")
 * with the Host header (host_len 0 when there was none: then -1), an
 * absolute-form target (Host is then ignored, as RFC 9112 says), or for
 * CONNECT the authority form "host:port", whose path is "/" (anything
 * after the authority is ignored; a missing port is 0). The method is
 * compared case-sensitively. A target starting with '/' or '\' is always
 * origin-form ("//evil.example/x" is a path on the Host). User-info in a
 * Host header is dropped like in a URL ("x@good.example" is good.example).
 */
int url_canon_request(const char *method, size_t method_len, const char *target, size_t target_len,
                      const char *host, size_t host_len, struct url_canon *c);

/*
 * One host on its own, as a "domains" list line gives it: the host rules
 * above, plus a leading "*." or "." dropped; an IPv6 address may come
 * without brackets ("::1" gives "[::1]"). A port, a path or a scheme is an
 * error. Writes a NUL-terminated result to out (cap bytes, the NUL
 * included) and returns its length, or -1.
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
