/*
 * kw_charset_sniff: the decisions of kw_charset, on bytes held in memory.
 *
 * Labels: the Japanese ones go to the tables pages are really written in:
 * Shift_JIS and all its aliases to CP932 (NEC and IBM extensions, ～ as
 * U+FF5E), EUC-JP to glibc's EUC-JP-MS (the same extensions, and the same
 * mapping as CP932, so that a word reads the same whichever of the two a
 * page used), ISO-2022-JP to our reader (kw_charset.c). ISO-8859-1 and
 * US-ASCII mean Windows-1252, as in browsers. Other names go to iconv as
 * they are, if it takes them (only letters, digits and ._:-, so that no
 * "//TRANSLIT" option rides along) and they name one of the charsets
 * browsers read (the WHATWG Encoding Standard's: ISO-8859-N, Windows-125N,
 * KOI8, GBK/GB18030, Big5, EUC-KR...). Others (UTF-7, UCS-4, ISO-2022-KR
 * and -CN, EBCDIC...) are ignored, as browsers ignore them: a page so
 * labelled does not read that way to its reader, and glibc's stateful
 * converters gave output that depended on where a body was split after an
 * invalid byte, and its UCS-4 passed code points past U+10FFFF (invalid
 * UTF-8) through.
 *
 * Detection: valid UTF-8 with at least one multi-byte sequence is UTF-8;
 * an ESC $ B, ESC $ @, ESC ( J or ESC ( I is ISO-2022-JP; else Shift_JIS
 * and EUC-JP are scored by reading the bytes both ways: a well-formed
 * double-byte character scores (more when both its bytes are high, as
 * Japanese ones mostly are and Latin-1 letters followed by ASCII are not,
 * and more again for kana, which every Japanese sentence has), an invalid
 * byte costs much, and a half-width katakana (EUC-JP read as Shift_JIS
 * produces them by the dozen) costs a little. The best score wins if it
 * is clearly positive; otherwise the bytes are Windows-1252.
 */
#include "kw_charset_sniff.h"

#include <ctype.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *label;
	const char *name;
	enum kw_cs_kind kind;
} labels[] = {
        {"utf-8", "UTF-8", KW_CS_UTF8},
        {"utf8", "UTF-8", KW_CS_UTF8},
        {"unicode-1-1-utf-8", "UTF-8", KW_CS_UTF8},
        {"shift_jis", "CP932", KW_CS_ICONV},
        {"shift-jis", "CP932", KW_CS_ICONV},
        {"sjis", "CP932", KW_CS_ICONV},
        {"x-sjis", "CP932", KW_CS_ICONV},
        {"ms_kanji", "CP932", KW_CS_ICONV},
        {"ms932", "CP932", KW_CS_ICONV},
        {"windows-31j", "CP932", KW_CS_ICONV},
        {"cp932", "CP932", KW_CS_ICONV},
        {"csshiftjis", "CP932", KW_CS_ICONV},
        {"x-ms-cp932", "CP932", KW_CS_ICONV},
        {"euc-jp", "EUC-JP-MS", KW_CS_ICONV},
        {"x-euc-jp", "EUC-JP-MS", KW_CS_ICONV},
        {"eucjp", "EUC-JP-MS", KW_CS_ICONV},
        {"cseucpkdfmtjapanese", "EUC-JP-MS", KW_CS_ICONV},
        {"iso-2022-jp", "ISO-2022-JP", KW_CS_ISO2022JP},
        {"csiso2022jp", "ISO-2022-JP", KW_CS_ISO2022JP},
        {"iso-8859-1", "WINDOWS-1252", KW_CS_1252},
        {"iso8859-1", "WINDOWS-1252", KW_CS_1252},
        {"iso_8859-1", "WINDOWS-1252", KW_CS_1252},
        {"latin1", "WINDOWS-1252", KW_CS_1252},
        {"l1", "WINDOWS-1252", KW_CS_1252},
        {"us-ascii", "WINDOWS-1252", KW_CS_1252},
        {"ascii", "WINDOWS-1252", KW_CS_1252},
        {"windows-1252", "WINDOWS-1252", KW_CS_1252},
        {"cp1252", "WINDOWS-1252", KW_CS_1252},
        {"x-cp1252", "WINDOWS-1252", KW_CS_1252},
        {"utf-16", "UTF-16LE", KW_CS_ICONV},
        {"utf-16le", "UTF-16LE", KW_CS_ICONV},
        {"utf-16be", "UTF-16BE", KW_CS_ICONV},
};

/* Names (upper case) that iconv may be asked for: exact, or a prefix and
 * one or two digits. */
static const char *const browser_names[] = {
        "KOI8-R", "KOI8-U",     "GBK",    "GB2312",      "GB18030", "CP936",
        "BIG5",   "BIG5-HKSCS", "EUC-KR", "CP949",       "UHC",     "MACINTOSH",
        "IBM866", "CP866",      "CP874",  "WINDOWS-874", "TIS-620",
};
static const char *const browser_prefixes[] = {"ISO-8859-",   "ISO8859-", "ISO_8859-",
                                               "WINDOWS-125", "CP125",    "X-CP125"};

static int browser_charset(const char *name)
{
	for (size_t i = 0; i < sizeof(browser_names) / sizeof(browser_names[0]); i++)
		if (strcmp(name, browser_names[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(browser_prefixes) / sizeof(browser_prefixes[0]); i++) {
		size_t pl = strlen(browser_prefixes[i]), nl = strlen(name);
		if (nl > pl && nl - pl <= 2 && strncmp(name, browser_prefixes[i], pl) == 0 &&
		    isdigit((unsigned char)name[pl]) && isdigit((unsigned char)name[nl - 1]))
			return 1;
	}
	return 0;
}

static void choose(struct kw_cs_choice *out, enum kw_cs_kind kind, const char *name)
{
	out->kind = kind;
	out->unit = strncmp(name, "UTF-16", 6) == 0 ? 2 : 1;
	snprintf(out->name, sizeof(out->name), "%s", name);
}

int kw_cs_resolve(const char *label, size_t len, int from_meta, struct kw_cs_choice *out)
{
	while (len > 0 && strchr(" \t\r\n\"'", label[0]) != NULL) {
		label++;
		len--;
	}
	while (len > 0 && strchr(" \t\r\n\"'", label[len - 1]) != NULL)
		len--;
	if (len == 0 || len >= KW_CS_NAME_MAX)
		return -1;
	char name[KW_CS_NAME_MAX];
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)label[i];
		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.' && ch != ':')
			return -1;
		name[i] = (char)tolower(ch);
	}
	name[len] = 0;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		if (strcmp(labels[i].label, name) != 0)
			continue;
		if (from_meta && strncmp(labels[i].name, "UTF-16", 6) == 0)
			choose(out, KW_CS_UTF8, "UTF-8");
		else
			choose(out, labels[i].kind, labels[i].name);
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		name[i] = (char)toupper((unsigned char)name[i]);
	if (!browser_charset(name))
		return -1;
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return -1;
	iconv_close(cd);
	choose(out, KW_CS_ICONV, name);
	return 0;
}

/* Does p[0..n) start with the lower-case word w, in any case? */
static int starts_nocase(const unsigned char *p, size_t n, const char *w)
{
	size_t wl = strlen(w);
	return n >= wl && strncasecmp((const char *)p, w, wl) == 0;
}

/* The charset= in one tag's text t[0..n): 0 and out filled, or -1. */
static int meta_charset(const unsigned char *t, size_t n, struct kw_cs_choice *out)
{
	for (size_t i = 0; i + 7 <= n; i++) {
		if (!starts_nocase(t + i, n - i, "charset"))
			continue;
		size_t j = i + 7;
		while (j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n'))
			j++;
		if (j == n || t[j] != '=')
			continue;
		j++;
		while (j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n' ||
		                 t[j] == '"' || t[j] == '\''))
			j++;
		size_t v = j;
		while (j < n &&
		       (isalnum(t[j]) || t[j] == '-' || t[j] == '_' || t[j] == '.' || t[j] == ':'))
			j++;
		if (kw_cs_resolve((const char *)t + v, j - v, 1, out) == 0)
			return 0;
	}
	return -1;
}

int kw_cs_meta(const unsigned char *p, size_t n, struct kw_cs_choice *out)
{
	size_t i = 0;
	while (i < n) {
		const unsigned char *lt = memchr(p + i, '<', n - i);
		if (lt == NULL)
			return -1;
		i = (size_t)(lt - p);
		if (starts_nocase(p + i, n - i, "<!--")) {
			size_t j;
			for (j = i + 4; j + 3 <= n; j++)
				if (memcmp(p + j, "-->", 3) == 0)
					break;
			if (j + 3 > n)
				return -1;
			i = j + 3;
			continue;
		}
		if (starts_nocase(p + i, n - i, "<meta") && i + 5 < n &&
		    strchr(" \t\r\n\f/", p[i + 5]) != NULL) {
			/* The tag's end: a '>' outside quotes. */
			size_t j = i + 5;
			unsigned char q = 0;
			for (; j < n; j++) {
				if (q) {
					if (p[j] == q)
						q = 0;
				} else if (p[j] == '"' || p[j] == '\'') {
					q = p[j];
				} else if (p[j] == '>') {
					break;
				}
			}
			if (j == n)
				return -1;
			if (meta_charset(p + i + 5, j - i - 5, out) == 0)
				return 0;
			i = j + 1;
			continue;
		}
		i++;
	}
	return -1;
}

int kw_cs_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char b = p[0];
	int len;
	unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f; /* nothing past U+10FFFF */
	} else {
		return -1;
	}
	for (int k = 1; k < len; k++) {
		if ((size_t)k == n)
			return 0;
		unsigned char c = p[k];
		if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xbf))
			return -k;
	}
	return len;
}

/* Valid UTF-8 with at least one multi-byte sequence? 1, 0 (no), -1 (ASCII). */
static int utf8_like(const unsigned char *p, size_t n, int final)
{
	int multi = 0;
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		int k = kw_cs_utf8_seq(p + i, n - i);
		if (k < 0 || (k == 0 && final))
			return 0;
		multi = 1; /* a valid beginning cut short counts */
		if (k == 0)
			break;
		i += (size_t)k;
	}
	return multi ? 1 : -1;
}

static int has_jis_escape(const unsigned char *p, size_t n)
{
	for (const unsigned char *e = memchr(p, 0x1b, n); e != NULL && e + 2 < p + n;
	     e = memchr(e + 1, 0x1b, (size_t)(p + n - e - 1))) {
		if ((e[1] == '$' && (e[2] == 'B' || e[2] == '@')) ||
		    (e[1] == '(' && (e[2] == 'J' || e[2] == 'I')))
			return 1;
	}
	return 0;
}

/* Scores in half points; see the top of the file. */
#define SCORE_HIGH_PAIR 2
#define SCORE_LOW_PAIR  1
#define SCORE_KANA      4
#define SCORE_INVALID   (-8)
#define SCORE_HALF_KANA (-2)
#define SCORE_ENOUGH    4

static long score_sjis(const unsigned char *p, size_t n)
{
	long s = 0;
	for (size_t i = 0; i < n;) {
		unsigned char b = p[i];
		if (b < 0x80) {
			i++;
		} else if (b >= 0xa1 && b <= 0xdf) {
			s += SCORE_HALF_KANA;
			i++;
		} else if ((b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc)) {
			if (i + 1 == n)
				break;
			unsigned char t = p[i + 1];
			if (t < 0x40 || t == 0x7f || t > 0xfc) {
				s += SCORE_INVALID;
				i++;
				continue;
			}
			s += t >= 0x80 ? SCORE_HIGH_PAIR : SCORE_LOW_PAIR;
			if ((b == 0x82 && t >= 0x9f && t <= 0xf1) ||
			    (b == 0x83 && t >= 0x40 && t <= 0x96))
				s += SCORE_KANA;
			i += 2;
		} else {
			s += SCORE_INVALID;
			i++;
		}
	}
	return s;
}

static long score_euc(const unsigned char *p, size_t n)
{
	long s = 0;
	for (size_t i = 0; i < n;) {
		unsigned char b = p[i];
		size_t len = b < 0x80 ? 1 : b == 0x8f ? 3 : 2;
		if (len == 1) {
			i++;
			continue;
		}
		if (i + len > n)
			break;
		unsigned char t = p[i + 1];
		if (b == 0x8e && t >= 0xa1 && t <= 0xdf) {
			s += SCORE_HALF_KANA;
		} else if (b >= 0xa1 && b <= 0xfe && t >= 0xa1 && t <= 0xfe) {
			s += SCORE_HIGH_PAIR;
			if (b == 0xa4 || b == 0xa5)
				s += SCORE_KANA;
		} else if (b == 0x8f && t >= 0xa1 && t <= 0xfe && p[i + 2] >= 0xa1 &&
		           p[i + 2] <= 0xfe) {
			s += SCORE_HIGH_PAIR;
		} else {
			s += SCORE_INVALID;
			len = 1;
		}
		i += len;
	}
	return s;
}

int kw_cs_detect(const unsigned char *p, size_t n, int final, struct kw_cs_choice *out)
{
	if (has_jis_escape(p, n)) {
		choose(out, KW_CS_ISO2022JP, "ISO-2022-JP");
		return 1;
	}
	int u = utf8_like(p, n, final);
	if (u < 0)
		return 0;
	if (u > 0) {
		choose(out, KW_CS_UTF8, "UTF-8");
		return 1;
	}
	long sj = score_sjis(p, n), euc = score_euc(p, n);
	if (sj >= euc && sj >= SCORE_ENOUGH)
		choose(out, KW_CS_ICONV, "CP932");
	else if (euc > sj && euc >= SCORE_ENOUGH)
		choose(out, KW_CS_ICONV, "EUC-JP-MS");
	else
		choose(out, KW_CS_1252, "WINDOWS-1252");
	return 1;
}
