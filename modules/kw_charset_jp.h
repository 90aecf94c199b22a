/*
 * kw_charset_jp: CP932 and EUC-JP-MS to UTF-8 by lookup tables that are
 * built once per process from glibc iconv itself, so that the output is
 * exactly iconv's (kw_charset.c's rules: an invalid sequence is U+FFFD and
 * one byte skipped) at several times its speed.
 */
#ifndef ICAPD_KW_CHARSET_JP_H
#define ICAPD_KW_CHARSET_JP_H

#include <stddef.h>

/* Longest sequence of either charset (EUC-JP's JIS X 0212: 8F xx xx). */
#define KW_JP_SEQ_MAX 3

struct kw_jp_table;

/* The table for iconv charset name ("CP932" or "EUC-JP-MS"), built on the
 * first call (a few milliseconds); NULL for another name, or if iconv did
 * something the tables cannot express (then iconv is to be used). */
const struct kw_jp_table *kw_jp_table(const char *name);

/*
 * Converts p[0..n) into out, which has room for 3 * n + 1 bytes; *out_len gets
 * what was written. Stops before a sequence cut short at the end of p (at
 * most KW_JP_SEQ_MAX - 1 bytes, which iconv would wait on) and returns the
 * bytes used: the rest is for the caller to carry into the next call, or,
 * at the end of the text, to replace with one U+FFFD.
 */
size_t kw_jp_convert(const struct kw_jp_table *t, const unsigned char *p, size_t n, char *out,
                     size_t *out_len);

#endif
