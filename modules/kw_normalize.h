/*
 * kw_normalize: UTF-8 text to the one form keyword rules are matched in,
 * streaming, so that a word cannot slip through by changing its width,
 * script or case:
 *
 *   - NFKC with case folding (utf8proc): full-width Latin ＨＩＭＩＴＵ and
 *     half-width katakana ﾋﾐﾂ (voiced marks composed: ｶﾞ -> ガ) meet
 *     their ordinary forms, upper case meets lower case
 *   - hiragana folded onto katakana: ひみつ, ひミツ and ヒミツ all read ヒミツ
 *   - default-ignorable characters removed (zero-width space and joiners,
 *     soft hyphen, variation selectors, BOM...)
 *   - every run of white space (and control characters) becomes one space
 *   - invalid UTF-8 becomes U+FFFD
 *
 * The same function normalizes the rules' phrases when they are loaded, so
 * an administrator writes ひみつ once, in natural form.
 */
#ifndef ICAPD_KW_NORMALIZE_H
#define ICAPD_KW_NORMALIZE_H

#include <stddef.h>

#include "kw_text.h"

struct kw_norm;

/* The output goes to out, in blocks of up to 16 KiB. The output is the
 * same however the input is split into writes: what may still combine with
 * the next write (a character and its marks, an incomplete UTF-8
 * sequence) is held back, at most 64 code points. The first call in a
 * process builds lookup tables from utf8proc (a few milliseconds). */
struct kw_norm *kw_norm_new(struct kw_sink out);
/* Returns 0, or -1 once out has stopped the pipeline (and from then on). */
int kw_norm_write(struct kw_norm *n, const char *p, size_t len);
/* Writes out what was held back (an incomplete sequence as U+FFFD). */
int kw_norm_finish(struct kw_norm *n);
void kw_norm_free(struct kw_norm *n);
struct kw_sink kw_norm_sink(struct kw_norm *n);

/* The normalized form of s[0..len), NUL-terminated, malloc'd; *out_len
 * gets its length. */
char *kw_normalize_string(const char *s, size_t len, size_t *out_len);

#endif
