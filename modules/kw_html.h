/*
 * kw_html: HTML (UTF-8) to the text a reader sees, streaming. Tags are
 * removed: inline ones (b, i, u, s, em, strong, span, font, a, small, big,
 * sub, sup, mark, wbr, ruby's rt/rp...) with nothing in their place, so that
 * 秘<b>密</b> still reads 秘密; others with a space. Comments and
 * declarations are removed with nothing.
 * Character references are decoded (&#31192; &#x79D8; and the named
 * entities of HTML, at least the common ones and all Latin-1 names).
 * Script and style contents are kept for scoring (text hides there too),
 * as are CDATA sections.
 * Attribute values are dropped except title and alt, which are text.
 */
#ifndef ICAPD_KW_HTML_H
#define ICAPD_KW_HTML_H

#include "kw_text.h"

struct kw_html;

struct kw_html *kw_html_new(struct kw_sink out);
int kw_html_write(struct kw_html *h, const char *p, size_t n);
int kw_html_finish(struct kw_html *h);
void kw_html_free(struct kw_html *h);
struct kw_sink kw_html_sink(struct kw_html *h);

#endif
