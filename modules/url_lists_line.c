/*
 * url_lists_line: the canonical forms of list lines that need no
 * url_canon (see url_lists_impl.h), the fast path of loading.
 *
 * Most lines of real lists are plain lower-case names already. The checks
 * here accept only what url_canon_host / url_canon_url would return as it
 * is but for ASCII case, dots at the ends and the "*." of list lines:
 * letters, digits, inner hyphens, labels of at most 63 bytes, names of at
 * most 253, and a last label starting with a letter (every IPv4 form ends
 * in a number). Labels with "--" at their third byte (punycode "xn--") go
 * to the slow path too, as does any path with '%', '\', a query, "//" or
 * a dot segment. tests/unit/test_url_lists.c checks that both paths agree
 * on random lines.
 */
#include "url_lists_impl.h"

#include <string.h>

#define NAME_MAX_LEN 253 /* bytes of a host name, as url_canon allows */

bool url_lists_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * A plain host copied to out, lower-cased, if url_canon_host would leave it
 * as it is but for case, a leading "*." or "." (list_form) and trailing
 * dots; else -1 and the slow path decides. Labels with "--" at their third
 * byte (punycode "xn--") and names ending in a digit-led label (every IPv4
 * form) are left to the slow path.
 */
int url_lists_host_fast(const char *s, size_t n, char *out, bool list_form)
{
	if (list_form) {
		if (n >= 2 && s[0] == '*' && s[1] == '.') {
			s += 2;
			n -= 2;
		} else if (n >= 1 && s[0] == '.') {
			s++;
			n--;
		}
	}
	while (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > NAME_MAX_LEN)
		return -1;
	size_t label = 0, last = 0;
	char prev = '.';
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			/* as it is */
		} else if (c >= 'A' && c <= 'Z') {
			c = (char)(c | 0x20);
		} else if (c == '-') {
			if (label == 0 || (label == 3 && prev == '-'))
				return -1;
		} else if (c == '.') {
			if (label == 0 || prev == '-')
				return -1;
			out[i] = prev = '.';
			label = 0;
			last = i + 1;
			continue;
		} else {
			return -1;
		}
		if (++label > 63)
			return -1;
		out[i] = prev = c;
	}
	if (prev == '-' || !((s[last] | 0x20) >= 'a' && (s[last] | 0x20) <= 'z'))
		return -1;
	return (int)n;
}

/* Drops a leading "www." from a canonical name, unless what is left would
 * be a top-level domain ("www.com") or an address. */
size_t url_lists_strip_www(char *s, size_t n)
{
	if (n <= 4 || memcmp(s, "www.", 4) != 0)
		return n;
	const char *dot = memrchr(s + 4, '.', n - 4);
	if (dot == NULL || !(dot[1] >= 'a' && dot[1] <= 'z'))
		return n;
	memmove(s, s + 4, n - 4);
	return n - 4;
}

/* Path bytes url_canon_url leaves as they are, but for '?' (a query goes
 * to the slow path). */
static bool path_plain(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

/*
 * A "urls" line that url_canon_url would leave as it is but for the
 * host's case (and dots): plain host, then a path without '%', query,
 * "//" or dot segments. Writes host (without "www.") and path to out.
 */
int url_lists_url_fast(const char *s, size_t n, char *out)
{
	const char *slash = memchr(s, '/', n);
	size_t hn = slash ? (size_t)(slash - s) : n;
	int h = url_lists_host_fast(s, hn, out, false);
	if (h < 0)
		return -1;
	size_t o = url_lists_strip_www(out, (size_t)h);
	if (hn == n) {
		out[o] = '/';
		return (int)o + 1;
	}
	for (size_t i = hn; i < n; i++) {
		char c = s[i];
		if (!path_plain((unsigned char)c))
			return -1;
		if (c == '/') {
			size_t r = n - i - 1; /* bytes after the slash */
			if (r >= 1 && s[i + 1] == '/')
				return -1;
			if (r >= 1 && s[i + 1] == '.' &&
			    (r == 1 || s[i + 2] == '/' ||
			     (s[i + 2] == '.' && (r == 2 || s[i + 3] == '/'))))
				return -1;
		}
		out[o++] = c;
	}
	return (int)o;
}
