/*
 * kw_charset: text in any charset a page or form arrives in, to UTF-8.
 * The charset is decided from, in order: a byte order mark; the HTTP
 * Content-Type charset; a <meta charset> or <meta http-equiv> tag in the
 * first 1 KiB; detection (valid UTF-8; ISO-2022-JP by its escapes; EUC-JP
 * versus Shift_JIS by their byte patterns; else Windows-1252). When that
 * first KiB is all ASCII, detection waits for the first byte that is not
 * (the ASCII passes on meanwhile) and looks at the KiB from there, so a
 * page whose head is all markup is still told apart. Shift_JIS and its
 * aliases mean Windows-31J (CP932), the table Japanese pages are really
 * written in, and EUC-JP its EUC twin (glibc's EUC-JP-MS). Conversion is
 * iconv (glibc), streaming, stateful ISO-2022-JP included (read here, as
 * Windows mailers write it); invalid sequences become U+FFFD and
 * conversion goes on, so a stray byte cannot hide the rest of a page.
 */
#ifndef ICAPD_KW_CHARSET_H
#define ICAPD_KW_CHARSET_H

#include <stddef.h>

#include "kw_text.h"

/* Bytes looked at for a BOM, a <meta> tag and detection. */
#define KW_CHARSET_SNIFF 1024

struct kw_charset;

/*
 * A converter writing UTF-8 to out. http_charset is the charset parameter
 * of Content-Type (NULL if none; unknown names are ignored); sniff_html
 * allows looking for a <meta> tag. It holds the first KW_CHARSET_SNIFF
 * bytes until it has decided.
 */
struct kw_charset *kw_charset_new(const char *http_charset, size_t http_charset_len, int sniff_html,
                                  struct kw_sink out);
int kw_charset_write(struct kw_charset *c, const char *p, size_t n);
int kw_charset_finish(struct kw_charset *c);
/* The charset used, once decided, else NULL: "UTF-8", "CP932", "EUC-JP-MS",
 * "ISO-2022-JP", "WINDOWS-1252", "UTF-16LE", "UTF-16BE", or another label
 * iconv took, in upper case. */
const char *kw_charset_name(const struct kw_charset *c);
void kw_charset_free(struct kw_charset *c);
struct kw_sink kw_charset_sink(struct kw_charset *c);

/* The code point of byte b in Windows-1252 as browsers read it (0x81, 0x8D,
 * 0x8F, 0x90 and 0x9D are C1 controls), for HTML's &#128;..&#159;. */
unsigned kw_charset_cp1252(unsigned char b);

#endif
