/*
 * blockpage: the 403 page and the ICAP headers that icapd sends when a
 * module blocks a message. A template is parsed once into pieces (a literal
 * run of the template followed by at most one placeholder) kept in a single
 * allocation with the text; rendering walks the pieces, HTML-escaping each
 * value on the way, and never allocates beyond the evbuffers it fills. The
 * UTF-8 decoder here is shared by the template check and the escaper, so
 * that the page a browser gets is always valid UTF-8.
 */
#include "blockpage.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum blockpage_var {
	BP_VAR_URL,
	BP_VAR_REASON,
	BP_VAR_MODULE,
	BP_VAR_SERVICE,
	BP_VAR_TIME,
	BP_VAR_ID,
	BP_VAR_COUNT,
	BP_VAR_NONE = -1,
};

static const char *const var_names[BP_VAR_COUNT] = {
        [BP_VAR_URL] = "url",         [BP_VAR_REASON] = "reason", [BP_VAR_MODULE] = "module",
        [BP_VAR_SERVICE] = "service", [BP_VAR_TIME] = "time",     [BP_VAR_ID] = "id",
};

/* text[off..off+len) is copied as is, then placeholder var (if not NONE) is filled. */
struct blockpage_piece {
	uint32_t off, len;
	int32_t var;
};

struct blockpage {
	size_t npieces;
	struct blockpage_piece *pieces; /* these and text live in the same allocation */
	const char *text;
};

/* How many errors one template may report before the rest are summed up. */
#define MAX_ERRORS 20

/* The built-in template: conf/blockpage.html, byte for byte (a unit test checks). */
static const char default_template[] =
        "<!DOCTYPE html>\n"
        "<!--\n"
        "  icapd block page: what a browser shows when icapd blocks a download, a\n"
        "  site or a page. Edit freely; check the result with \"icapd -t\".\n"
        "  Placeholders are a name in double braces: url, reason, module, service,\n"
        "  time, id. Every value is HTML-escaped, so they may go in text or in quoted\n"
        "  attributes. Any other name in double braces is an error. The page is sent\n"
        "  with a Content-Security-Policy that allows inline styles only: scripts,\n"
        "  images, fonts and other external resources will not load. At most 64 KiB.\n"
        "-->\n"
        "<html lang=\"en\">\n"
        "<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"robots\" content=\"noindex, nofollow\">\n"
        "<title>Blocked: {{reason}}</title>\n"
        "<style>\n"
        "body { margin: 0; padding: 2rem 1rem; background: #f4f4f5; color: #18181b;\n"
        "  font: 16px/1.5 system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif; }\n"
        "main { max-width: 40rem; margin: 0 auto; padding: 1.5rem 2rem; background: #fff;\n"
        "  border-top: 6px solid #b91c1c; border-radius: 6px; box-shadow: 0 1px 3px "
        "rgba(0,0,0,.15); }\n"
        "h1 { margin: 0 0 .5rem; font-size: 1.5rem; color: #b91c1c; }\n"
        "p { margin: .5rem 0 1rem; }\n"
        "dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; "
        "}\n"
        "dt { font-weight: 600; color: #52525b; }\n"
        "dd { margin: 0; overflow-wrap: anywhere; word-break: break-word; }\n"
        ".url { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: "
        ".9rem; }\n"
        "footer { margin-top: 1.5rem; font-size: .85rem; color: #71717a; }\n"
        "</style>\n"
        "</head>\n"
        "<body>\n"
        "<main>\n"
        "<h1>Access blocked</h1>\n"
        "<p>The content you asked for was blocked by the network's content filter.</p>\n"
        "<dl>\n"
        "<dt>Address</dt><dd class=\"url\">{{url}}</dd>\n"
        "<dt>Reason</dt><dd>{{reason}}</dd>\n"
        "<dt>Filter</dt><dd>{{module}} ({{service}})</dd>\n"
        "<dt>Time</dt><dd>{{time}}</dd>\n"
        "<dt>Reference</dt><dd>{{id}}</dd>\n"
        "</dl>\n"
        "<footer>If you think this is a mistake, tell your network administrator and\n"
        "quote the reference above.</footer>\n"
        "</main>\n"
        "</body>\n"
        "</html>\n";

/* ---------------------------------------------------------------- UTF-8 */

#define UTF8_INVALID UINT32_MAX

/*
 * Decodes the character at s[0..n), n >= 1. Returns its length in bytes and
 * sets *cp; for an invalid sequence, sets *cp to UTF8_INVALID and returns
 * the length of its maximal invalid subpart (at least 1), which is what is
 * replaced by one U+FFFD (Unicode 3.9, "U+FFFD Substitution of Maximal
 * Subparts").
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		*cp = UTF8_INVALID; /* a continuation byte, C0, C1 or F5..FF */
		return 1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*cp = UTF8_INVALID;
			return i;
		}
		v = v << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return need + 1;
}

/* Characters dropped from the page: controls, bidi overrides and isolates. */
static bool html_dropped(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* ---------------------------------------------------------------- HTML escaping */

/* A small staging buffer, so that escaping does not add to the evbuffer byte by byte. */
struct stage {
	struct evbuffer *out;
	size_t len;
	long total;
	bool failed;
	char buf[512];
};

static void stage_flush(struct stage *st)
{
	if (st->len > 0 && !st->failed && evbuffer_add(st->out, st->buf, st->len) != 0)
		st->failed = true;
	st->total += (long)st->len;
	st->len = 0;
}

static void stage_add(struct stage *st, const void *p, size_t n)
{
	if (st->len + n > sizeof(st->buf))
		stage_flush(st);
	memcpy(st->buf + st->len, p, n);
	st->len += n;
}

/*
 * Escapes in[0..len) into out as blockpage_escape_html describes, using at
 * most max_in input bytes: when the input is longer, it is cut before the
 * first character that does not fit and "…" is appended.
 */
static long escape_html(const char *in, size_t len, size_t max_in, struct evbuffer *out)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	static const char ellipsis[] = "\xe2\x80\xa6";    /* U+2026 */
	const unsigned char *s = (const unsigned char *)in;
	struct stage st = {.out = out};
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		if (i + n > max_in) {
			stage_add(&st, ellipsis, 3);
			break;
		}
		if (cp == UTF8_INVALID) {
			stage_add(&st, replacement, 3);
		} else if (html_dropped(cp)) {
			/* nothing */
		} else if (cp == '&') {
			stage_add(&st, "&amp;", 5);
		} else if (cp == '<') {
			stage_add(&st, "&lt;", 4);
		} else if (cp == '>') {
			stage_add(&st, "&gt;", 4);
		} else if (cp == '"') {
			stage_add(&st, "&quot;", 6);
		} else if (cp == '\'') {
			stage_add(&st, "&#39;", 5);
		} else if (cp == '`') {
			stage_add(&st, "&#96;", 5);
		} else {
			stage_add(&st, s + i, n);
		}
		i += n;
	}
	stage_flush(&st);
	return st.failed ? -1 : st.total;
}

long blockpage_escape_html(const char *in, size_t len, struct evbuffer *out)
{
	return escape_html(in, len, SIZE_MAX, out);
}

/* ---------------------------------------------------------------- templates */

/* Reports one error as "name:line: ..."; counts them and prints at most MAX_ERRORS. */
static void report(FILE *errors, unsigned *nerrors, const char *name, unsigned line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(FILE *errors, unsigned *nerrors, const char *name, unsigned line,
                   const char *fmt, ...)
{
	va_list ap;

	(*nerrors)++;
	if (errors == NULL || *nerrors > MAX_ERRORS)
		return;
	fprintf(errors, "%s:%u: ", name, line);
	va_start(ap, fmt);
	vfprintf(errors, fmt, ap);
	va_end(ap);
	fputc('\n', errors);
}

/* The placeholder named name[0..len), or BP_VAR_NONE. */
static int var_lookup(const char *name, size_t len)
{
	for (int v = 0; v < BP_VAR_COUNT; v++)
		if (strlen(var_names[v]) == len && memcmp(var_names[v], name, len) == 0)
			return v;
	return BP_VAR_NONE;
}

/*
 * Checks that text[0..len) has no NUL byte and is valid UTF-8, one error per
 * line at most.
 */
static void check_bytes(const char *text, size_t len, const char *name, FILE *errors,
                        unsigned *nerrors)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned line = 1, reported_line = 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		if ((cp == UTF8_INVALID || cp == 0) && reported_line != line) {
			report(errors, nerrors, name, line, "%s",
			       cp == 0 ? "NUL byte in template" : "invalid UTF-8");
			reported_line = line;
		}
		if (cp == '\n')
			line++;
		i += n;
	}
}

struct blockpage *blockpage_parse(const char *text, size_t len, const char *name, FILE *errors)
{
	unsigned nerrors = 0;
	size_t opens = 0;

	if (name == NULL)
		name = "blockpage";
	if (len == 0 || len > BLOCKPAGE_TEMPLATE_MAX) {
		if (errors != NULL) {
			if (len == 0)
				fprintf(errors, "%s: empty template\n", name);
			else
				fprintf(errors, "%s: template larger than %d bytes\n", name,
				        BLOCKPAGE_TEMPLATE_MAX);
		}
		return NULL;
	}
	check_bytes(text, len, name, errors, &nerrors);

	for (size_t i = 0; i + 1 < len; i++)
		if (text[i] == '{' && text[i + 1] == '{')
			opens++;

	/* One allocation: the object, at most opens + 1 pieces, the text. */
	size_t pieces_size = (opens + 1) * sizeof(struct blockpage_piece);
	struct blockpage *bp = malloc(sizeof(*bp) + pieces_size + len);
	if (bp == NULL) {
		if (errors != NULL)
			fprintf(errors, "%s: out of memory\n", name);
		return NULL;
	}
	bp->pieces = (struct blockpage_piece *)(bp + 1);
	char *copy = (char *)bp->pieces + pieces_size;
	memcpy(copy, text, len);
	bp->text = copy;
	bp->npieces = 0;

	unsigned line = 1;
	size_t lit = 0; /* start of the current literal run */
	for (size_t i = 0; i < len;) {
		if (text[i] == '\n') {
			line++;
			i++;
			continue;
		}
		if (!(text[i] == '{' && i + 1 < len && text[i + 1] == '{')) {
			i++;
			continue;
		}
		/* "{{": the name runs to "}}" on the same line. */
		size_t start = i + 2, end = start;
		while (end < len && text[end] != '\n' &&
		       !(text[end] == '}' && end + 1 < len && text[end + 1] == '}'))
			end++;
		if (end >= len || text[end] != '}') {
			report(errors, &nerrors, name, line, "unterminated \"{{\"");
			i = start;
			continue;
		}
		int var = var_lookup(text + start, end - start);
		if (var == BP_VAR_NONE) {
			size_t shown = end - start > 40 ? 40 : end - start;
			report(errors, &nerrors, name, line,
			       "unknown placeholder \"{{%.*s}}\" (known: url, reason, module, "
			       "service, time, id)",
			       (int)shown, text + start);
		} else {
			bp->pieces[bp->npieces++] = (struct blockpage_piece){
			        .off = (uint32_t)lit, .len = (uint32_t)(i - lit), .var = var};
		}
		i = end + 2;
		lit = i;
	}
	bp->pieces[bp->npieces++] = (struct blockpage_piece){
	        .off = (uint32_t)lit, .len = (uint32_t)(len - lit), .var = BP_VAR_NONE};

	if (nerrors > 0) {
		if (errors != NULL && nerrors > MAX_ERRORS)
			fprintf(errors, "%s: %u more errors\n", name, nerrors - MAX_ERRORS);
		free(bp);
		return NULL;
	}
	return bp;
}

struct blockpage *blockpage_load(const char *path, FILE *errors)
{
	FILE *f = fopen(path, "rbe"); /* "e": close-on-exec (glibc, musl, BSDs) */
	if (f == NULL) {
		if (errors != NULL)
			fprintf(errors, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	/* One byte more than allowed, to tell "at the limit" from "over it". */
	char *buf = malloc(BLOCKPAGE_TEMPLATE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		if (errors != NULL)
			fprintf(errors, "%s: out of memory\n", path);
		return NULL;
	}
	size_t len = fread(buf, 1, BLOCKPAGE_TEMPLATE_MAX + 1, f);
	int failed = ferror(f);
	int saved = errno;
	fclose(f);
	if (failed) {
		if (errors != NULL)
			fprintf(errors, "%s: %s\n", path, strerror(saved));
		free(buf);
		return NULL;
	}
	struct blockpage *bp = blockpage_parse(buf, len, path, errors);
	free(buf);
	return bp;
}

struct blockpage *blockpage_default(void)
{
	return blockpage_parse(default_template, sizeof(default_template) - 1, "(built-in)", NULL);
}

void blockpage_free(struct blockpage *bp)
{
	free(bp); /* pieces and text share its allocation */
}

/* ---------------------------------------------------------------- HTTP response */

/* The HTTP response head; body_len is ignored when html is false (no body). */
static int write_head(struct evbuffer *h, int http_minor, bool html, size_t body_len)
{
	int r = evbuffer_add_printf(h, "HTTP/1.%d 403 Forbidden\r\n", http_minor == 0 ? 0 : 1);
	if (r >= 0 && html)
		r = evbuffer_add_printf(h,
		                        "Content-Type: text/html; charset=utf-8\r\n"
		                        "Content-Length: %zu\r\n",
		                        body_len);
	else if (r >= 0)
		r = evbuffer_add_printf(h, "Content-Length: 0\r\n");
	if (r >= 0)
		r = evbuffer_add_printf(
		        h,
		        "Cache-Control: no-store\r\n"
		        "Pragma: no-cache\r\n"
		        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
		        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
		        "X-Content-Type-Options: nosniff\r\n"
		        "Connection: close\r\n"
		        "\r\n");
	return r < 0 ? -1 : 0;
}

static const char *var_value(const struct blockpage_vars *vars, int var)
{
	if (vars == NULL)
		return NULL;
	switch (var) {
	case BP_VAR_URL:
		return vars->url;
	case BP_VAR_REASON:
		return vars->reason;
	case BP_VAR_MODULE:
		return vars->module;
	case BP_VAR_SERVICE:
		return vars->service;
	case BP_VAR_TIME:
		return vars->time;
	case BP_VAR_ID:
		return vars->id;
	}
	return NULL;
}

int blockpage_render_http(const struct blockpage *bp, const struct blockpage_vars *vars,
                          int http_minor, struct evbuffer *out_headers, struct evbuffer *out_body)
{
	size_t before = evbuffer_get_length(out_body);

	for (size_t i = 0; i < bp->npieces; i++) {
		const struct blockpage_piece *p = &bp->pieces[i];
		if (p->len > 0 && evbuffer_add(out_body, bp->text + p->off, p->len) != 0)
			return -1;
		if (p->var == BP_VAR_NONE)
			continue;
		const char *v = var_value(vars, p->var);
		if (v != NULL && escape_html(v, strlen(v), BLOCKPAGE_VALUE_MAX, out_body) < 0)
			return -1;
	}
	return write_head(out_headers, http_minor, true, evbuffer_get_length(out_body) - before);
}

int blockpage_render_bodyless(int http_minor, struct evbuffer *out_headers)
{
	return write_head(out_headers, http_minor, false, 0);
}

/* ---------------------------------------------------------------- ICAP headers */

/*
 * One header field being made safe: pieces (a byte, or %XX) are added while
 * they fit in BLOCKPAGE_HEADER_VALUE_MAX; cut remembers the last piece
 * boundary that leaves room for "...".
 */
struct hfield {
	size_t len, cut;
	bool truncated;
	char buf[BLOCKPAGE_HEADER_VALUE_MAX + 1];
};

static void hfield_piece(struct hfield *f, const char *p, size_t n)
{
	if (f->truncated)
		return;
	if (f->len + n > BLOCKPAGE_HEADER_VALUE_MAX) {
		f->truncated = true;
		return;
	}
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	if (f->len <= BLOCKPAGE_HEADER_VALUE_MAX - 3)
		f->cut = f->len;
}

/* Adds s; in_param turns ';' into '_' (for Threat=). */
static void hfield_add(struct hfield *f, const char *s, bool in_param)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && !f->truncated; p++) {
		unsigned char c = *p;
		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == ' ' && f->len == 0)
			continue; /* leading spaces */
		if (c >= 0x80) {
			char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
			hfield_piece(f, enc, 3);
		} else {
			char ch = (c == ';' && in_param) ? '_' : (char)c;
			hfield_piece(f, &ch, 1);
		}
	}
}

/* Ends the field: the "..." if cut, trailing spaces trimmed, "-" if empty. */
static const char *hfield_end(struct hfield *f)
{
	if (f->truncated)
		f->len = f->cut;
	while (f->len > 0 && f->buf[f->len - 1] == ' ')
		f->len--;
	if (f->truncated) {
		memcpy(f->buf + f->len, "...", 3);
		f->len += 3;
	}
	if (f->len == 0)
		f->buf[f->len++] = '-';
	f->buf[f->len] = '\0';
	return f->buf;
}

static bool set(const char *s)
{
	return s != NULL && *s != '\0';
}

int blockpage_icap_headers(struct evbuffer *out, const struct blockpage_verdict *v)
{
	struct hfield f = {0};
	int r = 0;

	if (set(v->threat)) {
		hfield_add(&f, v->threat, true);
		r = evbuffer_add_printf(out,
		                        "X-Infection-Found: Type=0; Resolution=2; Threat=%s;\r\n",
		                        hfield_end(&f));
		f = (struct hfield){0};
		hfield_add(&f, v->threat, false);
		if (r >= 0)
			r = evbuffer_add_printf(out, "X-Virus-ID: %s\r\n", hfield_end(&f));
	}

	struct hfield object = {0}, name = {0};
	if (v->object != NULL)
		hfield_add(&object, v->object, false);
	if (set(v->threat)) {
		hfield_add(&name, v->threat, false);
	} else if (set(v->module) || set(v->category)) {
		if (set(v->module))
			hfield_add(&name, v->module, false);
		if (set(v->module) && set(v->category))
			hfield_piece(&name, "/", 1);
		if (set(v->category))
			hfield_add(&name, v->category, false);
	} else {
		hfield_add(&name, "blocked", false);
	}
	if (r >= 0)
		r = evbuffer_add_printf(out,
		                        "X-Violations-Found: 1\r\n\t%s\r\n\t%s\r\n\t0\r\n\t0\r\n",
		                        hfield_end(&object), hfield_end(&name));
	return r < 0 ? -1 : 0;
}
