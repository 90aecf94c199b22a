/*
 * kw_html_ent: the named character references kw_html decodes. Internal to
 * kw_html.c.
 */
#ifndef ICAPD_KW_HTML_ENT_H
#define ICAPD_KW_HTML_ENT_H

#include <stddef.h>

/* The longest name in the table. */
#define KW_HTML_ENT_NAME_MAX 8

/* The code point of the entity name[0..len) (without '&' and ';'), or 0. */
unsigned kw_html_ent(const char *name, size_t len);

/*
 * For a reference without ';': the length of the longest prefix of
 * name[0..len) that browsers decode without one (the Latin-1 names and
 * amp, lt, gt, quot, AMP, LT, GT, QUOT, COPY, REG: "&copy2024" reads
 * ©2024), with its code point in *cp; 0 if none.
 */
size_t kw_html_ent_legacy(const char *name, size_t len, unsigned *cp);

#endif
