/*
 * multipart: delimiter search over a body in memory (or mapped from the
 * spool). A delimiter is CRLF "--" boundary at the start of a line (the
 * first may stand at the very start); after it, "--" ends the entity and
 * anything else up to CRLF (transport padding) starts a part's headers.
 */
#include "multipart.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "hdr_parse.h"

static bool bchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

size_t multipart_boundary(const char *v, size_t len, char *out)
{
	if (len < 10 || strncasecmp(v, "multipart/", 10) != 0)
		return 0;
	for (size_t i = 10; i + 9 <= len; i++) {
		if (v[i] != ';')
			continue;
		size_t k = i + 1;
		while (k < len && (v[k] == ' ' || v[k] == '\t'))
			k++;
		if (len - k < 9 || strncasecmp(v + k, "boundary=", 9) != 0)
			continue;
		k += 9;
		bool quoted = k < len && v[k] == '"';
		k += quoted;
		size_t n = 0;
		while (k + n < len && n <= MULTIPART_BOUNDARY_MAX &&
		       (quoted ? v[k + n] != '"'
		               : v[k + n] != ';' && v[k + n] != ' ' && v[k + n] != '\t')) {
			if (!bchar((unsigned char)v[k + n]))
				return 0;
			n++;
		}
		if (n == 0 || n > MULTIPART_BOUNDARY_MAX)
			return 0;
		memcpy(out, v + k, n);
		out[n] = 0;
		return n;
	}
	return 0;
}

/*
 * True if "--" b stands at d and is a delimiter: followed by "--" (the close
 * delimiter), by blanks and CRLF, or by the end of a body cut short. Exactly
 * RFC 2046: "--B" followed by anything else is content, so a file cannot be
 * split where the server that receives the form would not split it.
 */
static bool is_delim(const char *d, const char *end, const char *b, size_t blen)
{
	if ((size_t)(end - d) < 2 + blen || d[0] != '-' || d[1] != '-' ||
	    memcmp(d + 2, b, blen) != 0)
		return false;
	const char *p = d + 2 + blen;
	if (end - p >= 2 && p[0] == '-' && p[1] == '-')
		return true;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p == end || (end - p >= 2 && p[0] == '\r' && p[1] == '\n') ||
	       (end - p == 1 && p[0] == '\r');
}

/* The next delimiter at or after from: returns the offset of its "--". */
static const char *find_delim(const char *body, size_t n, size_t from, const char *b, size_t blen)
{
	const char *p = body + from, *end = body + n;
	if (from == 0 && is_delim(body, end, b, blen))
		return body;
	for (;;) {
		const char *d = memmem(p, (size_t)(end - p), "\r\n--", 4);
		if (d == NULL)
			return NULL;
		if (is_delim(d + 2, end, b, blen))
			return d + 2;
		p = d + 2;
	}
}

int multipart_each(const char *body, size_t n, const char *b, size_t blen, size_t max_parts,
                   int (*fn)(void *arg, const struct multipart_part *p), void *arg)
{
	const char *d = find_delim(body, n, 0, b, blen);
	int count = 0;

	if (d == NULL)
		return -1;
	while ((size_t)count < max_parts) {
		size_t after = (size_t)(d - body) + 2 + blen;
		if (n - after >= 2 && body[after] == '-' && body[after + 1] == '-')
			break; /* close delimiter */
		const char *eol = memmem(body + after, n - after, "\r\n", 2);
		if (eol == NULL)
			break;
		size_t head = (size_t)(eol - body) + 2;
		const char *hend = (n - head >= 2 && body[head] == '\r' && body[head + 1] == '\n')
		                           ? body + head
		                           : memmem(body + head, n - head, "\r\n\r\n", 4);
		struct multipart_part p = {.head_off = head};
		if (hend == NULL) {
			/* Cut inside the part's headers: no content. */
			p.head_len = n - head;
			p.off = n;
		} else {
			bool empty = hend == body + head;
			p.head_len = (size_t)(hend - body) - head + (empty ? 0 : 2);
			p.off = (size_t)(hend - body) + (empty ? 2 : 4);
		}
		const char *next = p.off < n ? find_delim(body, n, p.off, b, blen) : NULL;
		/* The CRLF before a delimiter belongs to it, not to the content. */
		p.len = next ? (size_t)(next - body) - 2 - p.off : n - p.off;
		count++;
		if (fn(arg, &p) != 0 || next == NULL)
			break;
		d = next;
	}
	return count;
}
