/*
 * kw_charset_sniff: how kw_charset decides a charset from labels and bytes
 * (charset labels, <meta> prescan, detection). Internal to kw_charset.c;
 * apart so that each file stays short.
 */
#ifndef ICAPD_KW_CHARSET_SNIFF_H
#define ICAPD_KW_CHARSET_SNIFF_H

#include <stddef.h>

/* How a charset is converted. */
enum kw_cs_kind {
	KW_CS_UTF8,      /* validated, passed through */
	KW_CS_1252,      /* a table */
	KW_CS_ICONV,     /* glibc iconv, from the name */
	KW_CS_ISO2022JP, /* our own shift-state reader, then CP932 through iconv */
};

#define KW_CS_NAME_MAX 40

struct kw_cs_choice {
	enum kw_cs_kind kind;
	unsigned unit;             /* bytes skipped at an invalid sequence: 2 for UTF-16 */
	char name[KW_CS_NAME_MAX]; /* canonical name, for kw_charset_name and iconv */
};

/*
 * Resolves a charset label (HTTP or <meta>; quotes and spaces around are
 * allowed) to a choice; from_meta applies the HTML rule that a <meta> that
 * says UTF-16 means UTF-8 (the tag could be read as ASCII). Names not known
 * here are kept if glibc's iconv_open takes them. 0, or -1 if unknown.
 */
int kw_cs_resolve(const char *label, size_t len, int from_meta, struct kw_cs_choice *out);

/* The charset of a <meta charset> or <meta http-equiv> tag in p[0..n), as
 * resolved; comments are skipped. 0, or -1 if there is none. */
int kw_cs_meta(const unsigned char *p, size_t n, struct kw_cs_choice *out);

/*
 * Detection on the bytes p[0..n) (final: there are no more; otherwise an
 * incomplete sequence at the end is no evidence against a charset).
 * Returns 1 and fills out, or 0 when the bytes are all ASCII without an
 * ISO-2022-JP escape: nothing to tell charsets apart yet.
 */
int kw_cs_detect(const unsigned char *p, size_t n, int final, struct kw_cs_choice *out);

/*
 * Length of the valid UTF-8 sequence at p[0..n): > 0 when valid; 0 when
 * p[0..n) is a valid beginning cut short; -k when invalid, k being the
 * bytes to replace by one U+FFFD (the maximal subpart, as browsers do).
 * p[0] is not ASCII.
 */
int kw_cs_utf8_seq(const unsigned char *p, size_t n);

#endif
