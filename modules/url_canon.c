/*
 * url_canon: URLs reduced to the form the URL lists match (see url_canon.h),
 * after Google Safe Browsing's rules, resolved the way a browser (the WHATWG
 * URL standard) would resolve them where the two differ, because the
 * question is always "which site would this request reach".
 *
 * Key decisions:
 *
 *   - Structure first, decoding second. Scheme, authority, path, query and
 *     fragment are split on the bytes as given (as a browser and a server
 *     split them); each part is then percent-decoded on its own. So "%2F" in
 *     a host does not end it (the host becomes invalid: -1), "%3F" in a path
 *     is not the query (query_off stays at the real '?', though the output
 *     shows a '?' as Safe Browsing's does), and "%23" is never a fragment.
 *     Within the path, decoded '/' and '.' do count ("..%2F", "%2e%2e/" are
 *     resolved), as servers that decode before resolving would see them.
 *
 *   - Percent-decoding is one pass that reaches the fixed point: each output
 *     byte is appended, and while the last three bytes are a valid "%XX"
 *     they are replaced by the byte they encode. Valid escapes never
 *     overlap, so this gives exactly what decoding again and again until
 *     nothing changes gives ("%252e" -> '.', "%%32%35" -> '%'), in linear
 *     time and without a round limit. Tab, CR and LF are skipped wherever
 *     they are in the input (not when decoded from "%09", "%0D", "%0A").
 *
 *   - '\' is '/' in the authority and path (not in the query), as browsers
 *     treat it for http, https and ftp; so is a '\' decoded in the path
 *     ("%5C..%5C" climbs on servers that take '\' as a separator, and the
 *     result stays the same when canonicalized again). The authority ends
 *     at the first '/', '\', '?' or '#', and user-info ends at the last '@'
 *     before that: so "http://evil.com\@good.com/" goes to evil.com (path
 *     "/@good.com") and "http://good.com@evil.com/" to evil.com, as in a
 *     browser; a Host header is read the same way. After a special scheme
 *     (http, https, ftp, ws, wss) any run of '/' and '\' is skipped
 *     ("http:\\host", "http:host"); "//host" and "\\host" are
 *     scheme-relative. "name:123..." with a scheme that is not special and
 *     no "//" is a scheme-less "host:port" ("localhost:8080/x").
 *
 *   - Hosts: decoded, then the full-width dots U+3002, U+FF0E and U+FF61 are
 *     dots; ASCII lower-cased; leading, trailing and repeated dots removed;
 *     a host with non-ASCII bytes goes through libidn2 with UTS #46
 *     non-transitional processing and NFC (what current browsers do: "faß.de"
 *     is xn--fa-hia.de, not fass.de), retried with transitional processing
 *     when that refuses the name (a ZWJ out of context, say), so that a
 *     name older clients reach is not rejected. The result may only hold
 *     a-z, 0-9, '-', '_' (real hosts use it) and '.', at most 253 bytes.
 *     Safe Browsing keeps other bytes escaped in hosts ("%20x.com"); here
 *     they are an error, since no browser sends such a host.
 *
 *   - IPv6 between brackets (found after decoding) through inet_pton and
 *     inet_ntop: RFC 5952 text, lower case; zone ids ("%25eth0") are
 *     refused, as browsers refuse them. IPv4-mapped addresses
 *     ("[::ffff:1.2.3.4]", "[::ffff:102:304]") are the IPv4 host they
 *     reach ("1.2.3.4"), or they would slip past IPv4 list entries.
 *
 *   - IPv4 as the WHATWG host parser decides: when the last label is a
 *     number (digits, or "0x" and hex digits), the host is an IPv4 address
 *     of 1 to 4 parts, each decimal, octal (leading 0) or hex (0x), the last
 *     filling the remaining bytes. One that does not parse (a part out of
 *     range, "09", more than 4 parts, "example.123") is an error, not a
 *     name: browsers refuse such URLs, and no DNS name ends in a number.
 *
 *   - Paths: "." and ".." segments resolved (also as the last segment, as
 *     RFC 3986 and browsers do; never above the root), empty segments
 *     dropped; the query is only decoded and re-escaped. Decoding and
 *     resolving happen in c->path itself: a decoded path of more than
 *     URL_CANON_PATH_MAX - 1 bytes is cut there (truncated), even if a later
 *     ".." would have shortened it. A NUL byte is an error in a host (as any
 *     control byte) and "%00" in a path.
 */
#include "url_canon.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decoded host bytes before IDN (UTF-8 is longer than its A-labels). */
#define HOST_WORK    1024
#define NAME_MAX_LEN 253
#define PATH_CAP     (URL_CANON_PATH_MAX - 1)
#define NONE         ((size_t)-1)

static bool is_skipped(unsigned char ch)
{
	return ch == '\t' || ch == '\r' || ch == '\n';
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static unsigned char lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch | 0x20) : ch;
}

/* Leading and trailing C0 controls and spaces off [*i, *end). */
static void trim(const char *s, size_t *i, size_t *end)
{
	while (*i < *end && (unsigned char)s[*i] <= 0x20)
		(*i)++;
	while (*end > *i && (unsigned char)s[*end - 1] <= 0x20)
		(*end)--;
}

/*
 * buf[0..n) has just had a byte appended: while the last three bytes are
 * "%XX", they become the byte they encode (the one-pass fixed point
 * described above). Returns the new length.
 */
static size_t decode_tail(char *buf, size_t n)
{
	while (n >= 3 && buf[n - 3] == '%') {
		int hi = hex_value((unsigned char)buf[n - 2]);
		int lo = hex_value((unsigned char)buf[n - 1]);
		if (hi < 0 || lo < 0)
			break;
		buf[n - 3] = (char)(hi << 4 | lo);
		n -= 2;
	}
	return n;
}

/* ------------------------------------------------------------------ hosts */

/* Writes the decimal value v (< 1000) at p; returns the bytes written. */
static size_t put_u8(char *p, unsigned v)
{
	size_t n = 0;
	if (v >= 100)
		p[n++] = (char)('0' + v / 100);
	if (v >= 10)
		p[n++] = (char)('0' + v / 10 % 10);
	p[n++] = (char)('0' + v % 10);
	return n;
}

/* True when the last label is a number, so that the host must be IPv4. */
static bool ends_in_number(const char *h, size_t n)
{
	size_t s = n;
	while (s > 0 && h[s - 1] != '.')
		s--;
	const char *l = h + s;
	size_t ll = n - s, k = 0;
	if (ll == 0)
		return false;
	if (ll >= 2 && l[0] == '0' && l[1] == 'x') {
		for (k = 2; k < ll; k++)
			if (hex_value((unsigned char)l[k]) < 0)
				return false;
		return true;
	}
	for (; k < ll; k++)
		if (l[k] < '0' || l[k] > '9')
			return false;
	return true;
}

/* One part of an IPv4 host; values past 2^32 are kept as 2^32. */
static int ipv4_part(const char *p, size_t n, uint64_t *v)
{
	unsigned base = 10;
	if (n >= 2 && p[0] == '0' && p[1] == 'x') {
		base = 16;
		p += 2;
		n -= 2;
	} else if (n >= 2 && p[0] == '0') {
		base = 8;
		p++;
		n--;
	}
	uint64_t x = 0;
	for (size_t k = 0; k < n; k++) {
		int d = hex_value((unsigned char)p[k]);
		if (d < 0 || (unsigned)d >= base)
			return -1;
		x = x * base + (unsigned)d;
		if (x > UINT32_MAX)
			x = (uint64_t)UINT32_MAX + 1;
	}
	*v = x;
	return 0;
}

/* h[0..n) (lower case, clean dots) as an IPv4 address into out; or -1. */
static int host_ipv4(const char *h, size_t n, char *out)
{
	uint64_t part[4];
	size_t np = 0, s = 0;
	for (size_t k = 0; k <= n; k++) {
		if (k < n && h[k] != '.')
			continue;
		if (np == 4 || ipv4_part(h + s, k - s, &part[np]) < 0)
			return -1;
		np++;
		s = k + 1;
	}
	uint64_t addr = 0;
	for (size_t k = 0; k + 1 < np; k++) {
		if (part[k] > 255)
			return -1;
		addr |= part[k] << (8 * (3 - k));
	}
	if (part[np - 1] >= (uint64_t)1 << (8 * (5 - np)))
		return -1;
	addr |= part[np - 1];
	size_t o = 0;
	for (int k = 3; k >= 0; k--) {
		o += put_u8(out + o, (unsigned)(addr >> (8 * k)) & 0xff);
		if (k > 0)
			out[o++] = '.';
	}
	out[o] = 0;
	return (int)o;
}

/*
 * An IPv6 address (without brackets) to "[RFC 5952 text]" in out and kind
 * IPV6; or -1. An IPv4-mapped one (::ffff:a.b.c.d, any spelling) is the
 * IPv4 host it reaches (a proxy connects to a.b.c.d): its dotted quad, kind
 * IPV4, so that IPv4 list entries meet it. IPv4-compatible addresses
 * (::a.b.c.d, deprecated) stay IPv6: a socket does not reach IPv4 with them.
 */
static int host_ipv6(const char *a, size_t n, char *out, enum url_host_kind *kind)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr bin;
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, a, n);
	tmp[n] = 0;
	if (inet_pton(AF_INET6, tmp, &bin) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&bin)) {
		*kind = URL_HOST_IPV4;
		if (inet_ntop(AF_INET, bin.s6_addr + 12, out, INET_ADDRSTRLEN) == NULL)
			return -1;
		return (int)strlen(out);
	}
	*kind = URL_HOST_IPV6;
	if (inet_ntop(AF_INET6, &bin, tmp, sizeof(tmp)) == NULL)
		return -1;
	size_t m = strlen(tmp);
	out[0] = '[';
	memcpy(out + 1, tmp, m);
	out[m + 1] = ']';
	out[m + 2] = 0;
	return (int)m + 2;
}

/* Lower-cases ASCII and removes leading, trailing and repeated dots. */
static size_t host_dots(char *h, size_t n)
{
	size_t o = 0;
	for (size_t k = 0; k < n; k++) {
		char ch = h[k];
		if (ch == '.' && (o == 0 || h[o - 1] == '.'))
			continue;
		h[o++] = (char)lower((unsigned char)ch);
	}
	if (o > 0 && h[o - 1] == '.')
		o--;
	return o;
}

/* U+3002, U+FF0E and U+FF61 (ideographic, full-width, half-width dots) to '.'. */
static size_t host_wide_dots(char *h, size_t n)
{
	size_t o = 0;
	for (size_t k = 0; k < n; k++) {
		const unsigned char *u = (const unsigned char *)h + k;
		if (k + 2 < n && ((u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x82) ||
		                  (u[0] == 0xef && u[1] == 0xbc && u[2] == 0x8e) ||
		                  (u[0] == 0xef && u[1] == 0xbd && u[2] == 0xa1))) {
			h[o++] = '.';
			k += 2;
			continue;
		}
		h[o++] = h[k];
	}
	return o;
}

/* The NUL-terminated UTF-8 name in h (cap bytes) to A-labels, in place. */
static int host_idn(char *h, size_t cap)
{
	char *ace = NULL;
	int rc = idn2_to_ascii_8z(h, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK && rc != IDN2_MALLOC)
		rc = idn2_to_ascii_8z(h, &ace, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
	if (rc == IDN2_MALLOC)
		abort();
	if (rc != IDN2_OK)
		return -1;
	size_t m = strlen(ace);
	if (m >= cap) {
		idn2_free(ace);
		return -1;
	}
	memcpy(h, ace, m + 1);
	idn2_free(ace);
	return (int)m;
}

static bool name_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
	       ch == '.';
}

/*
 * The common case quickly: a host of ASCII letters, digits, '-', '_' and
 * dots only, lower-cased and cleaned into out in one pass. Returns what
 * canon_host returns, or -2 when the host needs the general path.
 */
static int host_plain(const char *in, size_t len, char *out, enum url_host_kind *kind)
{
	size_t o = 0;
	for (size_t k = 0; k < len; k++) {
		unsigned char ch = (unsigned char)in[k];
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '_') {
			/* as it is */
		} else if (ch >= 'A' && ch <= 'Z') {
			ch |= 0x20;
		} else if (ch == '.') {
			if (o == 0 || out[o - 1] == '.')
				continue;
		} else {
			return -2;
		}
		if (o > NAME_MAX_LEN)
			return -2; /* too long for a name, maybe not for a number */
		out[o++] = (char)ch;
	}
	if (o > 0 && out[o - 1] == '.')
		o--;
	if (o == 0 || o > NAME_MAX_LEN)
		return -2;
	out[o] = 0;
	if (ends_in_number(out, o)) {
		char tmp[URL_CANON_HOST_MAX];
		memcpy(tmp, out, o);
		*kind = URL_HOST_IPV4;
		return host_ipv4(tmp, o, out);
	}
	*kind = URL_HOST_NAME;
	return (int)o;
}

/*
 * The host rules on the raw in[0..len) (percent-encoded, tab/CR/LF
 * ignored): the canonical host into out (URL_CANON_HOST_MAX bytes) and its
 * kind. bare_v6 also takes an IPv6 address without brackets. Returns the
 * length or -1.
 */
static int canon_host(const char *in, size_t len, bool bare_v6, char *out, enum url_host_kind *kind)
{
	char h[HOST_WORK + 1];
	size_t n = 0;
	bool ascii = true;

	int r = host_plain(in, len, out, kind);
	if (r != -2)
		return r;
	for (size_t k = 0; k < len; k++) {
		unsigned char ch = (unsigned char)in[k];
		if (is_skipped(ch))
			continue;
		if (n == HOST_WORK)
			return -1;
		h[n++] = (char)ch;
		if (n >= 3 && h[n - 3] == '%')
			n = decode_tail(h, n);
		if (h[n - 1] == '.' && (n == 1 || h[n - 2] == '.'))
			n--; /* early, so that runs of dots do not fill h */
	}
	if (n == 0)
		return -1;
	if (h[0] == '[' || (bare_v6 && memchr(h, ':', n) != NULL)) {
		if (h[0] != '[')
			return host_ipv6(h, n, out, kind);
		if (n < 2 || h[n - 1] != ']')
			return -1;
		return host_ipv6(h + 1, n - 2, out, kind);
	}
	for (size_t k = 0; k < n; k++) {
		unsigned char ch = (unsigned char)h[k];
		if (ch < 0x20 || ch == 0x7f)
			return -1; /* also keeps NULs away from idn2 */
		if (ch >= 0x80)
			ascii = false;
	}
	if (!ascii)
		n = host_wide_dots(h, n);
	n = host_dots(h, n);
	if (!ascii && n > 0) {
		h[n] = 0;
		int m = host_idn(h, sizeof(h));
		if (m < 0)
			return -1;
		n = host_dots(h, (size_t)m);
	}
	if (n == 0)
		return -1;
	for (size_t k = 0; k < n; k++)
		if (!name_char((unsigned char)h[k]))
			return -1;
	if (ends_in_number(h, n)) {
		*kind = URL_HOST_IPV4;
		return host_ipv4(h, n, out);
	}
	if (n > NAME_MAX_LEN)
		return -1;
	*kind = URL_HOST_NAME;
	memcpy(out, h, n);
	out[n] = 0;
	return (int)n;
}

/* ------------------------------------------------------------- authority */

/*
 * "[user-info@]host[:port]" from s[a] up to the first '/', '\', '?' or '#'
 * (or end), where *aend is set, into c->host, host_len, host_kind and
 * port. User-info ends at the last '@'; the host at the first ':' after it
 * outside brackets. Returns 0 or -1.
 */
static int canon_authority(const char *s, size_t a, size_t end, size_t *aend, struct url_canon *c)
{
	size_t k, he = NONE;
	bool bracket = false;

	for (k = a; k < end; k++) {
		char ch = s[k];
		if (ch == '/' || ch == '\\' || ch == '?' || ch == '#')
			break;
		if (ch == '@') {
			a = k + 1;
			he = NONE;
			bracket = false;
		} else if (ch == '[') {
			bracket = true;
		} else if (ch == ']') {
			bracket = false;
		} else if (ch == ':' && !bracket && he == NONE) {
			he = k;
		}
	}
	*aend = k;
	if (he == NONE)
		he = k;
	unsigned port = 0;
	for (size_t p = he + 1; p < k; p++) {
		unsigned char ch = (unsigned char)s[p];
		if (is_skipped(ch))
			continue;
		if (ch < '0' || ch > '9')
			return -1;
		port = port * 10 + (ch - '0');
		if (port > 65535)
			return -1;
	}
	int n = canon_host(s + a, he - a, false, c->host, &c->host_kind);
	if (n < 0)
		return -1;
	c->host_len = (size_t)n;
	c->port = port;
	return 0;
}

/* ------------------------------------------------------------------ paths */

/*
 * In the path being decoded and resolved in b[0..*len), the segment that
 * starts at *seg (after its '/') and ends at end (where its '/' is, or at
 * *len at the end of the path) is complete: "." is dropped, ".." also drops
 * the segment before it, never the root. Returns false for other segments.
 */
static bool path_dots(char *b, size_t *len, size_t *seg, size_t end)
{
	size_t sl = end - *seg;
	const char *s = b + *seg;
	if (sl == 0 || sl > 2 || s[0] != '.' || (sl == 2 && s[1] != '.'))
		return false;
	*len = *seg;
	if (sl == 2 && *seg > 1) {
		size_t q = *seg - 2;
		while (b[q] != '/')
			q--;
		*len = *seg = q + 1;
	}
	return true;
}

static bool needs_escape(unsigned char ch)
{
	return ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '%';
}

/*
 * Re-escapes c->path[0..len) in place, cut to what fits, and sets
 * path_len, query_off and truncated.
 */
static void path_escape(struct url_canon *c, size_t len, size_t q, bool full)
{
	static const char hex[] = "0123456789ABCDEF";
	char *b = c->path;
	size_t out = 0, qout = NONE, k;

	for (k = 0; k < len; k++) {
		size_t w = needs_escape((unsigned char)b[k]) ? 3 : 1;
		if (out + w > PATH_CAP) {
			full = true;
			break;
		}
		if (k == q)
			qout = out;
		out += w;
	}
	if (out != k) {
		size_t d = out;
		while (k-- > 0) {
			unsigned char ch = (unsigned char)b[k];
			if (needs_escape(ch)) {
				d -= 3;
				b[d] = '%';
				b[d + 1] = hex[ch >> 4];
				b[d + 2] = hex[ch & 15];
			} else {
				b[--d] = (char)ch;
			}
		}
	}
	b[out] = 0;
	c->path_len = out;
	c->query_off = qout == NONE ? out : qout;
	c->truncated = full;
}

/*
 * The path, query and fragment in s[i..end), where s[i] is '/', '\', '?',
 * '#' or i == end, into c->path.
 */
static void canon_path(const char *s, size_t i, size_t end, struct url_canon *c)
{
	char *b = c->path;
	size_t len = 1, seg = 1, q = NONE;
	bool full = false;

	b[0] = '/';
	if (i < end && (s[i] == '/' || s[i] == '\\'))
		i++;
	for (; i < end; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '?' || ch == '#')
			break;
		if (is_skipped(ch))
			continue;
		if (len == PATH_CAP) {
			full = true;
			break;
		}
		b[len++] = (char)ch;
		if (len >= 3 && b[len - 3] == '%') {
			len = decode_tail(b, len);
			ch = (unsigned char)b[len - 1];
		}
		if (ch == '\\')
			b[len - 1] = '/';
		else if (ch != '/')
			continue;
		if (len - 1 == seg)
			len--; /* an empty segment: "//" */
		else if (!path_dots(b, &len, &seg, len - 1))
			seg = len;
	}
	if (!full)
		path_dots(b, &len, &seg, len);
	if (!full && i < end && s[i] == '?') {
		if (len == PATH_CAP) {
			full = true;
		} else {
			q = len;
			b[len++] = '?';
		}
		for (i++; !full && i < end; i++) {
			unsigned char ch = (unsigned char)s[i];
			if (ch == '#')
				break;
			if (is_skipped(ch))
				continue;
			if (len == PATH_CAP) {
				full = true;
				break;
			}
			b[len++] = (char)ch;
			if (len >= 3 && b[len - 3] == '%')
				len = decode_tail(b, len);
		}
	}
	path_escape(c, len, q, full);
}

/* ------------------------------------------------------------------- URLs */

static bool special_scheme(const char *s, size_t n)
{
	static const char *const names[] = {"http", "https", "ftp", "ws", "wss"};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0)
			return true;
	return false;
}

/* The next byte at or after i that is not tab, CR or LF, or end. */
static size_t next_byte(const char *s, size_t i, size_t end)
{
	while (i < end && is_skipped((unsigned char)s[i]))
		i++;
	return i;
}

/* After i, skips a run of '/' and '\' (and tab/CR/LF); *count gets its length. */
static size_t skip_slashes(const char *s, size_t i, size_t end, size_t *count)
{
	*count = 0;
	for (i = next_byte(s, i, end); i < end && (s[i] == '/' || s[i] == '\\');
	     i = next_byte(s, i + 1, end))
		(*count)++;
	return i;
}

/* Where the authority of the URL s[i..end) starts, or -1 if it has none. */
static int find_authority(const char *s, size_t i, size_t end, size_t *a)
{
	char scheme[8];
	size_t sl = 0, j, slashes;
	bool is_scheme = false;

	for (j = i; j < end; j++) {
		unsigned char ch = (unsigned char)s[j];
		if (is_skipped(ch))
			continue;
		if (ch == ':') {
			is_scheme = sl > 0;
			break;
		}
		bool alpha = (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z';
		bool other = (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.';
		if (!alpha && !(sl > 0 && other))
			break;
		if (sl < sizeof(scheme))
			scheme[sl] = (char)lower(ch);
		sl++;
	}
	if (is_scheme) {
		size_t k = skip_slashes(s, j + 1, end, &slashes);
		if (sl <= sizeof(scheme) && special_scheme(scheme, sl)) {
			*a = k;
			return 0;
		}
		size_t n = next_byte(s, j + 1, end);
		size_t n2 = n < end ? next_byte(s, n + 1, end) : end;
		if (n2 < end && s[n] == '/' && s[n2] == '/') {
			*a = n2 + 1;
			return 0;
		}
		if (n < end && s[n] >= '0' && s[n] <= '9') {
			*a = i; /* "host:port" */
			return 0;
		}
		return -1; /* "mailto:", "javascript:": no host */
	}
	size_t k = skip_slashes(s, i, end, &slashes);
	if (slashes == 1)
		return -1; /* a path without a host */
	*a = k;
	return 0;
}

static int fail(struct url_canon *c)
{
	c->host[0] = 0;
	c->host_len = 0;
	return -1;
}

int url_canon_url(const char *url, size_t len, struct url_canon *c)
{
	size_t i = 0, end = len, a;

	trim(url, &i, &end);
	if (i == end || find_authority(url, i, end, &a) < 0)
		return fail(c);
	size_t aend;
	if (canon_authority(url, a, end, &aend, c) < 0)
		return fail(c);
	canon_path(url, aend, end, c);
	return 0;
}

int url_canon_request(const char *method, size_t method_len, const char *target, size_t target_len,
                      const char *host, size_t host_len, struct url_canon *c)
{
	size_t i = 0, end = target_len;

	trim(target, &i, &end);
	if (i == end)
		return fail(c);
	if (method_len == 7 && memcmp(method, "CONNECT", 7) == 0) {
		if (canon_authority(target, i, end, &i, c) < 0)
			return fail(c);
		canon_path("", 0, 0, c);
		return 0;
	}
	bool origin = target[i] == '/' || target[i] == '\\';
	bool asterisk = end - i == 1 && target[i] == '*';
	if (!origin && !asterisk)
		return url_canon_url(target + i, end - i, c);

	size_t hi = 0, hend = host_len;
	trim(host, &hi, &hend);
	if (hi == hend || canon_authority(host, hi, hend, &hi, c) < 0)
		return fail(c);
	if (asterisk)
		canon_path("", 0, 0, c);
	else
		canon_path(target, i, end, c);
	return 0;
}

int url_canon_host(const char *in, size_t len, char *out, size_t cap)
{
	char h[URL_CANON_HOST_MAX];
	enum url_host_kind kind;
	size_t i = 0, end = len;

	trim(in, &i, &end);
	if (end - i >= 2 && in[i] == '*' && in[i + 1] == '.')
		i += 2;
	if (i == end)
		return -1;
	int n = canon_host(in + i, end - i, true, h, &kind);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	memcpy(out, h, (size_t)n + 1);
	return n;
}

const char *url_canon_host_suffix(const struct url_canon *c, size_t i, size_t *len)
{
	const char *p = c->host, *end = c->host + c->host_len;

	if (c->host_len == 0 || (i > 0 && c->host_kind != URL_HOST_NAME))
		return NULL;
	for (; i > 0; i--) {
		p = memchr(p, '.', (size_t)(end - p));
		if (p == NULL)
			return NULL;
		p++;
	}
	*len = (size_t)(end - p);
	return p;
}
