/*
 * blockpage: what icapd answers when a module blocks a message. The ICAP
 * reply is a 200 whose encapsulated HTTP response is a 403 page made from an
 * HTML template (conf/blockpage.html, or a built-in copy of it), plus the
 * X-Infection-Found / X-Virus-ID / X-Violations-Found ICAP headers that Squid
 * can log. Every value that reaches the page is HTML-escaped and made valid
 * UTF-8; every value that reaches a header loses its control bytes, so that
 * a URL, virus name or category can neither inject markup nor split a header.
 *
 * A template is parsed once, when a configuration generation is built, into
 * literal pieces and placeholder ids; after that it is read-only, so any
 * number of threads may render from it at once. Rendering allocates nothing
 * but the evbuffer space it writes.
 */
#ifndef ICAPD_BLOCKPAGE_H
#define ICAPD_BLOCKPAGE_H

#include <event2/buffer.h>
#include <stddef.h>
#include <stdio.h>

/* A template larger than this is refused at load time. */
#define BLOCKPAGE_TEMPLATE_MAX (64 * 1024)

/* Input bytes of one value shown on the page; longer ones end in "…". */
#define BLOCKPAGE_VALUE_MAX 2048

/* Output bytes of one ICAP header field; longer ones end in "...". */
#define BLOCKPAGE_HEADER_VALUE_MAX 512

/* A parsed template. */
struct blockpage;

/*
 * What the page says. Each field fills the placeholder of the same name in
 * the template: {{url}}, {{reason}}, {{module}}, {{service}}, {{time}},
 * {{id}}. Any field may be NULL, which renders as nothing. The strings are
 * NUL-terminated, arbitrary bytes (they come from the peer or from a module),
 * and need not be valid UTF-8.
 */
struct blockpage_vars {
	const char *url;     /* what was blocked */
	const char *reason;  /* "Virus found: Eicar-Test-Signature", "Category: malware" */
	const char *module;  /* clamav, urlfilter, keyword */
	const char *service; /* the ICAP service, e.g. /respmod */
	const char *time;    /* when, already formatted */
	const char *id;      /* transaction id, for the administrator */
};

/*
 * What the ICAP headers say about a block. threat is a virus name (from
 * clamav), NULL for a policy block. module is the module that blocked,
 * category the list or rule category (never the matched words). object is
 * the file name or URL the violation was found in; NULL writes "-".
 */
struct blockpage_verdict {
	const char *threat;
	const char *module;
	const char *category;
	const char *object;
};

/*
 * Parses a template from text[0..len); name is what error messages call it
 * (a file path). A template is HTML with placeholders written {{name}} (no
 * spaces); "{{" always opens one. Errors are written to errors (if not NULL)
 * as "name:line: message", every one of them, and make it return NULL:
 * an unknown placeholder, an unterminated "{{", a NUL byte, invalid UTF-8,
 * an empty template or one larger than BLOCKPAGE_TEMPLATE_MAX. Also NULL
 * when out of memory.
 */
struct blockpage *blockpage_parse(const char *text, size_t len, const char *name, FILE *errors);

/* Reads and parses the template file at path; see blockpage_parse. */
struct blockpage *blockpage_load(const char *path, FILE *errors);

/*
 * The built-in template, a copy of conf/blockpage.html, used when no file is
 * configured or the configured one cannot be loaded. NULL only when out of
 * memory. Free it with blockpage_free like any other.
 */
struct blockpage *blockpage_default(void);

/* Frees bp; NULL is ignored. */
void blockpage_free(struct blockpage *bp);

/*
 * Appends the encapsulated HTTP response to out_headers (the head, ending
 * with its empty line) and out_body (the page). The head is:
 *
 *   HTTP/1.1 403 Forbidden                (HTTP/1.0 if http_minor is 0)
 *   Content-Type: text/html; charset=utf-8
 *   Content-Length: <bytes appended to out_body>
 *   Cache-Control: no-store
 *   Pragma: no-cache
 *   Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline';
 *     base-uri 'none'; form-action 'none'; frame-ancestors 'none'   (one line)
 *   X-Content-Type-Options: nosniff
 *   Connection: close
 *
 * Each value in vars is written as blockpage_escape_html does, cut after
 * BLOCKPAGE_VALUE_MAX input bytes (at a character boundary) with "…". For a
 * HEAD request the caller renders the page and does not send out_body.
 * Returns 0, or -1 if an evbuffer could not grow (the buffers then hold a
 * partial result that must not be sent).
 */
int blockpage_render_http(const struct blockpage *bp, const struct blockpage_vars *vars,
                          int http_minor, struct evbuffer *out_headers, struct evbuffer *out_body);

/*
 * Appends a 403 head without a body, for CONNECT (a tunnel has no page to
 * show): the head above with Content-Length: 0 and no Content-Type. Returns
 * 0, or -1 if out_headers could not grow.
 */
int blockpage_render_bodyless(int http_minor, struct evbuffer *out_headers);

/*
 * Appends the ICAP response headers of a block, each ending in CRLF (the
 * caller adds Encapsulated and the empty line):
 *
 *   X-Infection-Found: Type=0; Resolution=2; Threat=<threat>;
 *   X-Virus-ID: <threat>
 *   X-Violations-Found: 1 CRLF TAB <object> CRLF TAB <name> CRLF TAB 0 CRLF TAB 0
 *
 * The first two only when v->threat is set: Type=0 is "infection found",
 * Resolution=2 "blocked, not repaired" (the draft-stecher-icap-subid values
 * that c-icap and Symantec use). X-Violations-Found is always written: a
 * count of 1, then four folded lines: the file name or URL (object, "-" when
 * NULL), the violation name, problem id 0 and resolution id 0, as c-icap
 * writes them. The violation name is the threat if set, else
 * "<module>/<category>", "<module>" or "<category>", else "blocked".
 *
 * Every field is made safe for a header: control bytes (CR, LF, TAB, NUL,
 * DEL and the rest below 0x20) are dropped, bytes of 0x80 and above are
 * written as %XX, surrounding spaces trimmed, an empty result written as
 * "-", and it is cut at BLOCKPAGE_HEADER_VALUE_MAX bytes ending in "...".
 * In Threat= a ';' is written as '_', since ';' ends the parameter.
 * Returns 0, or -1 if out could not grow.
 */
int blockpage_icap_headers(struct evbuffer *out, const struct blockpage_verdict *v);

/*
 * Appends in[0..len) to out as HTML text that is safe in element content
 * and in quoted attribute values, and is valid UTF-8:
 *   & < > " ' `   become  &amp; &lt; &gt; &quot; &#39; &#96;
 *   control characters (U+0000-U+001F, U+007F-U+009F) and the bidirectional
 *   overrides and isolates (U+202A-U+202E, U+2066-U+2069) are dropped,
 *   each invalid UTF-8 sequence (overlong, surrogate, above U+10FFFF,
 *   truncated; one per maximal invalid subpart) becomes U+FFFD.
 * Everything else is copied. Returns the number of bytes appended, or -1 if
 * out could not grow.
 */
long blockpage_escape_html(const char *in, size_t len, struct evbuffer *out);

#endif
