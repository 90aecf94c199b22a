/*
 * kw_html: HTML to its text, one byte at a time through a state machine
 * after HTML's tokenizer (simplified: no parse errors, no tree), so that
 * input split anywhere reads as input given whole. What the machine holds
 * between writes is small and bounded: a tag name (8 bytes kept, longer
 * ones are not ones we know), an attribute name (5), a character
 * reference (32 bytes), counters.
 *
 *   - text passes through (found with a word-at-a-time scan for '<' and
 *     '&'); bytes are not looked at otherwise, UTF-8 needs no care here
 *   - a tag is dropped; unless it is an inline one (kw_html.h) a space
 *     stands in its place (never two in a row), so that block boundaries
 *     stay word boundaries. Quoted attribute values may hold '>'.
 *   - title and alt values are text, between spaces, references decoded
 *   - comments (<!-- -->, with HTML's endings "<!-->", "--!>"), <!DOCTYPE>,
 *     <?...> and other bogus comments are dropped with nothing in their
 *     place, so that 秘<!---->密 still reads 秘密
 *   - <![CDATA[ ... ]]> is text (SVG and MathML have it; elsewhere browsers
 *     drop it, but text that hides there is still worth scanning)
 *   - script, style and xmp contents are raw text up to their end tag;
 *     title and textarea too, with references decoded
 *   - a '<' not followed by a tag ("a < b") is text
 *   - character references: decimal and hex (0, surrogates and values
 *     past U+10FFFF read U+FFFD, 128..159 as Windows-1252 as browsers do,
 *     the ';' may be missing), named ones of kw_html_ent.c, the legacy
 *     ones without ';' too ("&copy 2024"; in attribute values not before
 *     '=' or an alphanumeric, as browsers); anything else is left as is.
 *
 * Output is gathered in a 16 KiB block and passed on at the end of each
 * write (long runs of text go straight through).
 */
#include "kw_html.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kw_charset.h"
#include "kw_html_ent.h"

#define OBUF_SIZE  (16 * 1024)
#define DIRECT_MIN 2048
#define NAME_KEEP  8 /* "textarea" */
#define ATTR_KEEP  5 /* "title" */
#define ENT_MAX    32

enum {
	H_TEXT,
	H_LT,             /* after '<' */
	H_ENDTAG_OPEN,    /* after "</" */
	H_TAGNAME,        /* in a tag's name */
	H_ATTRS,          /* in a tag, before an attribute name */
	H_ATTRNAME,       /* in an attribute name */
	H_AFTER_ATTRNAME, /* white space after it */
	H_BEFORE_VAL,     /* after '=' */
	H_VAL_DQ,         /* in "value" */
	H_VAL_SQ,         /* in 'value' */
	H_VAL_UQ,         /* in value */
	H_BANG,           /* after "<!": "--" or "[CDATA[" to come? */
	H_COMMENT,        /* in <!-- --> */
	H_BOGUS,          /* <!DOCTYPE ...>, <?...>, </ 3>: up to '>' */
	H_CDATA,          /* in <![CDATA[ ]]> */
	H_RAW,            /* in script, style, xmp, title, textarea */
	H_RAW_LT,         /* '<' there: its end tag? */
	H_ENT,            /* in a character reference */
};

enum { RAW_NONE, RAW_SCRIPT, RAW_STYLE, RAW_XMP, RAW_TITLE, RAW_TEXTAREA };

static const char *const raw_names[] = {"", "script", "style", "xmp", "title", "textarea"};

/* Tags that matter, sorted for a binary search: inline ones, raw text ones.
 * Names are zero-padded to 8 bytes and compared as big-endian words. */
static const struct {
	char name[NAME_KEEP];
	unsigned char inl;
	unsigned char raw;
} tags[] = {
        {"a", 1, 0},
        {"abbr", 1, 0},
        {"acronym", 1, 0},
        {"b", 1, 0},
        {"bdi", 1, 0},
        {"bdo", 1, 0},
        {"big", 1, 0},
        {"blink", 1, 0},
        {"cite", 1, 0},
        {"code", 1, 0},
        {"data", 1, 0},
        {"del", 1, 0},
        {"dfn", 1, 0},
        {"em", 1, 0},
        {"font", 1, 0},
        {"i", 1, 0},
        {"ins", 1, 0},
        {"kbd", 1, 0},
        {"label", 1, 0},
        {"mark", 1, 0},
        {"nobr", 1, 0},
        {"q", 1, 0},
        {"rb", 1, 0},
        {"rp", 1, 0},
        {"rt", 1, 0},
        {"rtc", 1, 0},
        {"ruby", 1, 0},
        {"s", 1, 0},
        {"samp", 1, 0},
        {"script", 0, RAW_SCRIPT},
        {"small", 1, 0},
        {"span", 1, 0},
        {"strike", 1, 0},
        {"strong", 1, 0},
        {"style", 0, RAW_STYLE},
        {"sub", 1, 0},
        {"sup", 1, 0},
        {"textarea", 0, RAW_TEXTAREA},
        {"time", 1, 0},
        {"title", 0, RAW_TITLE},
        {"tt", 1, 0},
        {"u", 1, 0},
        {"var", 1, 0},
        {"wbr", 1, 0},
        {"xmp", 0, RAW_XMP},
};

static uint64_t be64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* Byte classes for the loops over tag contents. */
enum { C_SPACE = 1, C_SLASH = 2, C_GT = 4, C_EQ = 8 };

static const unsigned char cls[256] = {
        [' '] = C_SPACE,  ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\r'] = C_SPACE,
        ['\f'] = C_SPACE, ['/'] = C_SLASH,  ['>'] = C_GT,     ['='] = C_EQ,
};

struct kw_html {
	struct kw_sink out;
	int state;
	int stopped;
	/* the tag being read */
	int endtag;
	size_t name_len; /* past NAME_KEEP: a name we do not know */
	char name[NAME_KEEP];
	size_t attr_len;
	char attr[ATTR_KEEP];
	int keep; /* this attribute's value is text */
	/* markup declarations */
	size_t bang; /* bytes of "--" or "[CDATA[" matched */
	int bang_cdata;
	unsigned dashes; /* '-' just before, in a comment */
	int excl;        /* "--!" just before */
	size_t brackets; /* ']' held back in CDATA, 2 at most */
	/* raw text */
	int raw;
	size_t raw_match; /* bytes of "/name" matched after '<' */
	/* a character reference */
	int ent_ret;
	int ent_attr;
	int ent_num, ent_hex;
	uint32_t ent_val;
	size_t ent_digits;
	size_t ent_len;
	char ent[ENT_MAX];
	char last; /* the last byte written */
	size_t olen;
	char obuf[OBUF_SIZE];
};

/* ---------------------------------------------------------------- output */

static void flush(struct kw_html *h)
{
	if (h->olen == 0 || h->stopped)
		return;
	size_t n = h->olen;
	h->olen = 0;
	if (kw_sink_write(&h->out, h->obuf, n) < 0)
		h->stopped = 1;
}

static void out(struct kw_html *h, const void *p, size_t n)
{
	if (n == 0)
		return;
	h->last = ((const char *)p)[n - 1];
	if (n >= DIRECT_MIN) {
		flush(h);
		if (!h->stopped && kw_sink_write(&h->out, p, n) < 0)
			h->stopped = 1;
		return;
	}
	if (n > OBUF_SIZE - h->olen)
		flush(h);
	memcpy(h->obuf + h->olen, p, n);
	h->olen += n;
}

static void out_space(struct kw_html *h)
{
	if (h->last != ' ')
		out(h, " ", 1);
}

static void out_cp(struct kw_html *h, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	out(h, b, n);
}

/* ---------------------------------------------------------------- helpers */

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static int is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static char lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

/* The first a or b in p[i..n), or n; eight bytes at a time. */
static size_t find2(const unsigned char *p, size_t i, size_t n, unsigned char a, unsigned char b)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	const uint64_t ma = ones * a, mb = ones * b;
	while (i + 8 <= n) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		uint64_t x = w ^ ma, y = w ^ mb;
		/* A high bit for each zero byte of x or y; above the lowest
		 * such byte, borrows may set others, never below it. */
		uint64_t t = (((x - ones) & ~x) | ((y - ones) & ~y)) & highs;
		if (t) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return i + (size_t)__builtin_ctzll(t) / 8;
#else
			break;
#endif
		}
		i += 8;
	}
	while (i < n && p[i] != a && p[i] != b)
		i++;
	return i;
}

/* ---------------------------------------------------------------- references */

static void ent_begin(struct kw_html *h, int ret, int attr)
{
	h->ent_ret = ret;
	h->ent_attr = attr;
	h->ent_num = h->ent_hex = 0;
	h->ent_val = 0;
	h->ent_digits = 0;
	h->ent_len = 0;
	h->state = H_ENT;
}

static uint32_t numeric_cp(uint32_t v)
{
	if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0xfffd;
	if (v >= 0x80 && v < 0xa0)
		return kw_charset_cp1252((unsigned char)v);
	return v;
}

/* The reference ended without ';' before ch (-1: the end of input). */
static void ent_close(struct kw_html *h, int ch)
{
	h->state = h->ent_ret;
	if (h->ent_num && h->ent_digits > 0) {
		out_cp(h, numeric_cp(h->ent_val));
		return;
	}
	unsigned cp = 0;
	size_t k = h->ent_num ? 0 : kw_html_ent_legacy(h->ent, h->ent_len, &cp);
	if (k > 0 && h->ent_attr && (k < h->ent_len || ch == '=' || (ch >= 0 && is_alnum(ch))))
		k = 0;
	if (k > 0)
		out_cp(h, cp);
	else
		out(h, "&", 1);
	out(h, h->ent + k, h->ent_len - k);
}

/* One byte of a reference: 1 if taken, 0 if it ended the reference and is
 * to be read again in the state the reference returned to. */
static int ent_feed(struct kw_html *h, unsigned char ch)
{
	if (h->ent_num) {
		if (h->ent_len == 1 && (ch == 'x' || ch == 'X')) {
			h->ent_hex = 1;
			h->ent[h->ent_len++] = (char)ch;
			return 1;
		}
		int d = -1;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (h->ent_hex && (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
			d = (ch | 0x20) - 'a' + 10;
		if (d >= 0) {
			uint32_t v = h->ent_val * (h->ent_hex ? 16 : 10) + (uint32_t)d;
			h->ent_val = v > 0x110000 ? 0x110000 : v;
			h->ent_digits++;
			return 1;
		}
		if (ch == ';' && h->ent_digits > 0) {
			h->state = h->ent_ret;
			out_cp(h, numeric_cp(h->ent_val));
			return 1;
		}
		ent_close(h, ch);
		return 0;
	}
	if (is_alnum(ch)) {
		if (h->ent_len < ENT_MAX) {
			h->ent[h->ent_len++] = (char)ch;
			return 1;
		}
		ent_close(h, ch);
		return 0;
	}
	if (ch == '#' && h->ent_len == 0) {
		h->ent_num = 1;
		h->ent[h->ent_len++] = '#';
		return 1;
	}
	if (ch == ';' && h->ent_len > 0) {
		unsigned cp = kw_html_ent(h->ent, h->ent_len);
		if (cp != 0) {
			h->state = h->ent_ret;
			out_cp(h, cp);
			return 1;
		}
	}
	ent_close(h, ch);
	return 0;
}

/* ---------------------------------------------------------------- tags */

static void tag_end(struct kw_html *h)
{
	int inl = 0, raw = RAW_NONE;
	if (h->name_len <= NAME_KEEP) {
		/* A binary search without branches to mispredict: tags come
		 * every few dozen bytes. */
		uint64_t k = be64(h->name);
		size_t base = 0, len = sizeof(tags) / sizeof(tags[0]);
		while (len > 1) {
			size_t half = len / 2;
			base = be64(tags[base + half].name) <= k ? base + half : base;
			len -= half;
		}
		if (be64(tags[base].name) == k) {
			inl = tags[base].inl;
			raw = tags[base].raw;
		}
	}
	if (!h->endtag && raw != RAW_NONE) {
		h->raw = raw;
		h->state = H_RAW;
	} else {
		h->state = H_TEXT;
	}
	if (!inl)
		out_space(h);
}

static void val_begin(struct kw_html *h, int state)
{
	h->keep = !h->endtag && ((h->attr_len == 5 && memcmp(h->attr, "title", 5) == 0) ||
	                         (h->attr_len == 3 && memcmp(h->attr, "alt", 3) == 0));
	if (h->keep)
		out_space(h);
	h->state = state;
}

static void val_end(struct kw_html *h)
{
	if (h->keep)
		out_space(h);
	h->keep = 0;
	h->state = H_ATTRS;
}

/* Appends p[0..n) to a name kept up to keep bytes, in lower case; the
 * length stops at keep + 1, which says "longer". */
static void name_add(char *name, size_t *len, size_t keep, const unsigned char *p, size_t n)
{
	size_t l = *len;
	for (size_t k = 0; k < n && l <= keep; k++, l++)
		if (l < keep)
			name[l] = lower(p[k]);
	*len = l;
}

/* ---------------------------------------------------------------- the machine */

/* Takes p[i..n) in the current state; returns how far it got (a state
 * change without taking a byte returns i: the byte is read again). */
static inline __attribute__((always_inline)) size_t step(struct kw_html *h, const unsigned char *p,
                                                         size_t i, size_t n)
{
	unsigned char ch = p[i];
	size_t j;
	switch (h->state) {
	case H_TEXT:
		j = find2(p, i, n, '<', '&');
		out(h, p + i, j - i);
		if (j == n)
			return n;
		if (p[j] == '&') {
			ent_begin(h, H_TEXT, 0);
			return j + 1;
		}
		h->state = H_LT;
		if (j + 1 == n || !is_alpha(p[j + 1]))
			return j + 1;
		/* The common case, a start tag, without a round through H_LT. */
		h->endtag = 0;
		h->name_len = 0;
		memset(h->name, 0, sizeof(h->name));
		i = j + 1;
		goto tagname;
	case H_LT:
		if (ch == '!') {
			h->state = H_BANG;
			h->bang = 0;
			return i + 1;
		}
		if (ch == '/') {
			h->state = H_ENDTAG_OPEN;
			return i + 1;
		}
		if (ch == '?') {
			h->state = H_BOGUS;
			return i + 1;
		}
		if (is_alpha(ch)) {
			h->endtag = 0;
			h->name_len = 0;
			memset(h->name, 0, sizeof(h->name));
			goto tagname;
		}
		out(h, "<", 1);
		h->state = H_TEXT;
		return i;
	case H_ENDTAG_OPEN:
		if (is_alpha(ch)) {
			h->endtag = 1;
			h->name_len = 0;
			memset(h->name, 0, sizeof(h->name));
			goto tagname;
		}
		h->state = ch == '>' ? H_TEXT : H_BOGUS; /* "</>" is nothing */
		return i + 1;
	case H_TAGNAME:
	tagname:
		h->state = H_TAGNAME;
		for (j = i; j < n && !(cls[p[j]] & (C_SPACE | C_SLASH | C_GT)); j++)
			;
		name_add(h->name, &h->name_len, NAME_KEEP, p + i, j - i);
		if (j == n)
			return n;
		if (p[j] == '>') {
			tag_end(h);
			return j + 1;
		}
		i = j + 1;
		goto attrs;
	case H_ATTRS:
	attrs:
		h->state = H_ATTRS;
		for (j = i; j < n && (cls[p[j]] & (C_SPACE | C_SLASH)); j++)
			;
		if (j == n)
			return n;
		if (p[j] == '>') {
			tag_end(h);
			return j + 1;
		}
		h->attr_len = 0;
		i = j;
		goto attrname;
	case H_ATTRNAME:
	attrname:
		h->state = H_ATTRNAME;
		/* The first byte is part of the name, even an '='. */
		j = i + (h->attr_len == 0 && p[i] == '=');
		for (; j < n && !(cls[p[j]] & (C_SPACE | C_SLASH | C_GT | C_EQ)); j++)
			;
		name_add(h->attr, &h->attr_len, ATTR_KEEP, p + i, j - i);
		if (j == n)
			return n;
		switch (p[j]) {
		case '/':
			i = j + 1;
			goto attrs;
		case '=':
			i = j + 1;
			goto before_val;
		case '>':
			tag_end(h);
			return j + 1;
		default:
			h->state = H_AFTER_ATTRNAME;
			return j + 1;
		}
	case H_AFTER_ATTRNAME:
		if (is_space(ch))
			return i + 1;
		if (ch == '/')
			h->state = H_ATTRS;
		else if (ch == '=')
			h->state = H_BEFORE_VAL;
		else if (ch == '>')
			tag_end(h);
		else {
			h->attr_len = 0;
			goto attrname;
		}
		return i + 1;
	case H_BEFORE_VAL:
	before_val:
		h->state = H_BEFORE_VAL;
		for (j = i; j < n && (cls[p[j]] & C_SPACE); j++)
			;
		if (j == n)
			return n;
		if (p[j] == '"' || p[j] == '\'') {
			val_begin(h, p[j] == '"' ? H_VAL_DQ : H_VAL_SQ);
			i = j + 1;
			goto quoted;
		}
		if (p[j] == '>') {
			tag_end(h);
			return j + 1;
		}
		val_begin(h, H_VAL_UQ);
		return j;
	case H_VAL_DQ:
	case H_VAL_SQ:
	quoted : {
		unsigned char q = h->state == H_VAL_DQ ? '"' : '\'';
		if (!h->keep) {
			const unsigned char *e = i < n ? memchr(p + i, q, n - i) : NULL;
			if (e == NULL)
				return n;
			val_end(h);
			i = (size_t)(e - p) + 1;
			goto attrs;
		}
		j = find2(p, i, n, q, '&');
		out(h, p + i, j - i);
		if (j == n)
			return n;
		if (p[j] == '&') {
			ent_begin(h, h->state, 1);
			return j + 1;
		}
		val_end(h);
		i = j + 1;
		goto attrs;
	}
	case H_VAL_UQ:
		if (is_space(ch)) {
			val_end(h);
		} else if (ch == '>') {
			val_end(h);
			tag_end(h);
		} else if (h->keep) {
			if (ch == '&')
				ent_begin(h, H_VAL_UQ, 1);
			else
				out(h, &ch, 1);
		}
		return i + 1;
	case H_BANG:
		if (h->bang == 0 && (ch == '-' || ch == '[')) {
			h->bang_cdata = ch == '[';
			h->bang = 1;
			return i + 1;
		}
		if (h->bang > 0 && !h->bang_cdata && ch == '-') {
			h->state = H_COMMENT;
			h->dashes = 2; /* so that "<!-->" and "<!--->" end at once */
			h->excl = 0;
			return i + 1;
		}
		if (h->bang > 0 && h->bang_cdata && ch == "[CDATA["[h->bang]) {
			if (++h->bang == 7) {
				h->state = H_CDATA;
				h->brackets = 0;
			}
			return i + 1;
		}
		h->state = H_BOGUS;
		return i;
	case H_COMMENT:
		j = find2(p, i, n, '-', '>');
		if (j > i) {
			h->excl = j - i == 1 && ch == '!' && h->dashes >= 2;
			h->dashes = 0;
		}
		if (j == n)
			return n;
		if (p[j] == '-') {
			h->dashes++;
			h->excl = 0;
		} else if (h->dashes >= 2 || h->excl) {
			h->state = H_TEXT;
		} else {
			h->dashes = 0;
			h->excl = 0;
		}
		return j + 1;
	case H_BOGUS: {
		const unsigned char *e = memchr(p + i, '>', n - i);
		if (e == NULL)
			return n;
		h->state = H_TEXT;
		return (size_t)(e - p) + 1;
	}
	case H_CDATA:
		if (ch == ']') {
			if (h->brackets == 2)
				out(h, "]", 1);
			else
				h->brackets++;
			return i + 1;
		}
		if (ch == '>' && h->brackets == 2) {
			h->brackets = 0;
			h->state = H_TEXT;
			return i + 1;
		}
		out(h, "]]", h->brackets);
		h->brackets = 0;
		j = find2(p, i, n, ']', ']');
		out(h, p + i, j - i);
		return j;
	case H_RAW: {
		int rc = h->raw >= RAW_TITLE; /* title and textarea: references too */
		j = find2(p, i, n, '<', rc ? '&' : '<');
		out(h, p + i, j - i);
		if (j == n)
			return n;
		if (p[j] == '<') {
			h->state = H_RAW_LT;
			h->raw_match = 0;
		} else {
			ent_begin(h, H_RAW, 0);
		}
		return j + 1;
	}
	case H_RAW_LT: {
		const char *t = raw_names[h->raw];
		size_t tl = strlen(t);
		if (h->raw_match <= tl) {
			char want = h->raw_match == 0 ? '/' : t[h->raw_match - 1];
			if (lower(ch) == want) {
				h->raw_match++;
				return i + 1;
			}
		} else if (is_space(ch) || ch == '/' || ch == '>') {
			h->endtag = 1;
			memset(h->name, 0, sizeof(h->name));
			memcpy(h->name, t, tl);
			h->name_len = tl;
			h->state = H_ATTRS;
			return i;
		}
		/* Not the end tag: what was held is text. */
		out(h, "<", 1);
		if (h->raw_match > 0) {
			out(h, "/", 1);
			out(h, t, h->raw_match - 1);
		}
		h->state = H_RAW;
		return i;
	}
	case H_ENT:
		return ent_feed(h, ch) ? i + 1 : i;
	default:
		abort();
	}
}

struct kw_html *kw_html_new(struct kw_sink out_sink)
{
	struct kw_html *h = calloc(1, sizeof(*h));
	if (h == NULL)
		abort();
	h->out = out_sink;
	h->state = H_TEXT;
	h->last = ' '; /* no space needed before the first word */
	return h;
}

int kw_html_write(struct kw_html *h, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i = 0;
	while (i < n && !h->stopped)
		i = step(h, u, i, n);
	flush(h);
	return h->stopped ? -1 : 0;
}

int kw_html_finish(struct kw_html *h)
{
	if (h->state == H_ENT)
		ent_close(h, -1);
	switch (h->state) {
	case H_LT:
		out(h, "<", 1);
		break;
	case H_ENDTAG_OPEN:
		out(h, "</", 2);
		break;
	case H_RAW_LT:
		out(h, "<", 1);
		if (h->raw_match > 0) {
			out(h, "/", 1);
			out(h, raw_names[h->raw], h->raw_match - 1);
		}
		break;
	case H_CDATA:
		out(h, "]]", h->brackets);
		break;
	default:
		break;
	}
	h->state = H_TEXT;
	flush(h);
	return h->stopped ? -1 : 0;
}

void kw_html_free(struct kw_html *h)
{
	free(h);
}

static int html_sink_write(void *arg, const char *p, size_t n)
{
	return kw_html_write(arg, p, n);
}

struct kw_sink kw_html_sink(struct kw_html *h)
{
	return (struct kw_sink){html_sink_write, h};
}
