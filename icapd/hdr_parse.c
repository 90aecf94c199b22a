/*
 * hdr_parse: header fields as RFC 9110/9112 define them, strictly. Obsolete
 * line folding, white space before the colon, bare CR or LF and control
 * characters are refused: each is a known request-smuggling lever, and no
 * ICAP client we serve sends them.
 */
#include "hdr_parse.h"

#include <string.h>
#include <strings.h>

bool hdr_is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

long hdr_parse_fields(const char *buf, size_t len, struct hdr *hdrs, size_t *nhdrs)
{
	size_t max = *nhdrs, n = 0, i = 0;

	for (;;) {
		if (i >= len)
			return HDR_NEED_MORE;
		if (buf[i] == '\r') {
			if (i + 1 >= len)
				return HDR_NEED_MORE;
			if (buf[i + 1] != '\n')
				return HDR_ERROR;
			*nhdrs = n;
			return (long)(i + 2);
		}
		/* Field name: a token, then a colon with no space before it. */
		size_t name = i;
		while (i < len && hdr_is_tchar((unsigned char)buf[i]))
			i++;
		if (i >= len)
			return HDR_NEED_MORE;
		if (i == name || buf[i] != ':')
			return HDR_ERROR;
		size_t name_len = i - name;
		i++;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		size_t value = i;
		while (i < len && is_value_char((unsigned char)buf[i]))
			i++;
		if (i >= len)
			return HDR_NEED_MORE;
		if (buf[i] != '\r')
			return HDR_ERROR;
		if (i + 1 >= len)
			return HDR_NEED_MORE;
		if (buf[i + 1] != '\n')
			return HDR_ERROR;
		size_t end = i;
		while (end > value && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
			end--;
		/* Past max, fields are still checked and counted, not stored. */
		if (n < max) {
			hdrs[n].name = buf + name;
			hdrs[n].name_len = name_len;
			hdrs[n].value = buf + value;
			hdrs[n].value_len = end - value;
		}
		n++;
		i += 2;
	}
}

static bool name_is(const struct hdr *h, const char *name)
{
	size_t l = strlen(name);
	return h->name_len == l && strncasecmp(h->name, name, l) == 0;
}

const struct hdr *hdr_find(const struct hdr *hdrs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (name_is(&hdrs[i], name))
			return &hdrs[i];
	return NULL;
}

size_t hdr_count(const struct hdr *hdrs, size_t n, const char *name)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += name_is(&hdrs[i], name);
	return c;
}

bool hdr_list_has(const char *value, size_t len, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < len) {
		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		size_t start = i;
		while (i < len && value[i] != ',')
			i++;
		size_t end = i;
		while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
			end--;
		if (end - start == tl && strncasecmp(value + start, token, tl) == 0)
			return true;
	}
	return false;
}

int hdr_parse_uint(const char *s, size_t len, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > max / 10 || d > max - v * 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
