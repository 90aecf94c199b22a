/*
 * Unit tests for blockpage.c: the 403 page and the ICAP headers of a block.
 * Every placeholder must be filled; markup, quotes and javascript: URLs in
 * any value must come out as text (the page keeps exactly the markup
 * characters of its template); invalid UTF-8 must become U+FFFD so that the
 * page is valid UTF-8; long values are cut; Content-Length must match the
 * body. CR, LF and other control bytes in a threat name, category or URL
 * must never split an ICAP header: the header text is scanned line by line
 * and every line must belong to a header we expect. Template errors must
 * name file:line, and the built-in template must equal conf/blockpage.html.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockpage.h"
#include "fuzz_util.h" /* fz_valid_utf8: an independent UTF-8 check */

/* ---------------------------------------------------------------- helpers */

/* The contents of b as a NUL-terminated heap string; *len gets its length. */
static char *buf_str(struct evbuffer *b, size_t *len)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	assert_non_null(s);
	if (n > 0)
		assert_int_equal(evbuffer_copyout(b, s, n), (ssize_t)n);
	s[n] = '\0';
	if (len != NULL)
		*len = n;
	return s;
}

/* What rendering produced, as strings. */
struct page {
	char *head, *body;
	size_t head_len, body_len;
};

static void render(const struct blockpage *bp, const struct blockpage_vars *vars, int minor,
                   struct page *p)
{
	struct evbuffer *h = evbuffer_new(), *b = evbuffer_new();
	assert_non_null(h);
	assert_non_null(b);
	assert_int_equal(blockpage_render_http(bp, vars, minor, h, b), 0);
	p->head = buf_str(h, &p->head_len);
	p->body = buf_str(b, &p->body_len);
	evbuffer_free(h);
	evbuffer_free(b);
}

static void page_free(struct page *p)
{
	free(p->head);
	free(p->body);
}

static char *escape(const char *in, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	long n = blockpage_escape_html(in, len, b);
	assert_int_equal(n, (long)evbuffer_get_length(b));
	char *s = buf_str(b, NULL);
	evbuffer_free(b);
	return s;
}

static size_t count_char(const char *s, size_t len, char c)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == c;
	return n;
}

/*
 * Loads text from a temporary file; returns what blockpage_load wrote to its
 * error stream, with the file's path written as "T", and sets *bp.
 */
static char *load_errors(const char *text, size_t len, struct blockpage **bp)
{
	char path[] = "/tmp/test_blockpage.XXXXXX", *errors;
	size_t errlen;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	FILE *err = open_memstream(&errors, &errlen);
	assert_non_null(err);
	*bp = blockpage_load(path, err);
	fclose(err);
	unlink(path);
	size_t plen = strlen(path);
	for (char *at; (at = strstr(errors, path)) != NULL;) {
		*at = 'T';
		memmove(at + 1, at + plen, strlen(at + plen) + 1);
	}
	return errors;
}

static const struct blockpage_vars sample_vars = {
        .url = "http://example.com/eicar.com",
        .reason = "Virus found: Eicar-Test-Signature",
        .module = "clamav",
        .service = "/respmod",
        .time = "2024-05-01 12:00:00 UTC",
        .id = "tx-0001",
};

/* ---------------------------------------------------------------- the page */

static void test_default_fills_every_placeholder(void **state)
{
	(void)state;
	struct blockpage *bp = blockpage_default();
	assert_non_null(bp);
	struct page p;
	render(bp, &sample_vars, 1, &p);

	assert_non_null(strstr(p.body, "<dd class=\"url\">http://example.com/eicar.com</dd>"));
	assert_non_null(strstr(p.body, "Virus found: Eicar-Test-Signature"));
	assert_non_null(
	        strstr(p.body, "<title>Blocked: Virus found: Eicar-Test-Signature</title>"));
	assert_non_null(strstr(p.body, "clamav (/respmod)"));
	assert_non_null(strstr(p.body, "2024-05-01 12:00:00 UTC"));
	assert_non_null(strstr(p.body, "tx-0001"));
	assert_null(strstr(p.body, "{{"));
	assert_null(strstr(p.body, "}}"));
	assert_null(strstr(p.body, "<script"));
	assert_true(strncmp(p.body, "<!DOCTYPE html>", 15) == 0);
	assert_true(fz_valid_utf8((const unsigned char *)p.body, p.body_len));
	page_free(&p);
	blockpage_free(bp);
}

/* The built-in copy must not drift from the file that ships in conf/. */
static void test_conf_file_equals_default(void **state)
{
	(void)state;
	const char *path = "conf/blockpage.html";
	if (access(path, R_OK) != 0)
		path = "../../conf/blockpage.html";
	if (access(path, R_OK) != 0)
		skip();
	struct blockpage *file = blockpage_load(path, stderr);
	struct blockpage *builtin = blockpage_default();
	assert_non_null(file);
	assert_non_null(builtin);
	struct page a, b;
	render(file, &sample_vars, 1, &a);
	render(builtin, &sample_vars, 1, &b);
	assert_int_equal(a.body_len, b.body_len);
	assert_memory_equal(a.body, b.body, a.body_len);
	assert_string_equal(a.head, b.head);
	page_free(&a);
	page_free(&b);
	blockpage_free(file);
	blockpage_free(builtin);
}

static const char *const xss_payloads[] = {
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "'><svg onload=alert(1)>",
        "' onmouseover='alert(1)",
        "javascript:alert(document.cookie)",
        "</dd></dl><iframe src=//evil.example/>",
        "<!--",
        "]]><![CDATA[<script>x</script>",
        "`onerror=alert(1)`",
        "&lt;script&gt;",
        "{{url}}{{id}}",
        "\x3cscript\x3e",
        "<scr\0ipt>",
        "<\xe2\x80\xaescript>",
};

/*
 * Puts each payload in every field at once: the page must hold exactly the
 * < > " ' ` of the template rendered with empty values, and no payload raw.
 * (Random bytes are the fuzz target's job.)
 */
static void test_xss_payloads_are_text(void **state)
{
	(void)state;
	struct blockpage *bp = blockpage_default();
	assert_non_null(bp);
	struct page empty;
	render(bp, &(struct blockpage_vars){0}, 1, &empty);

	for (size_t i = 0; i < sizeof(xss_payloads) / sizeof(xss_payloads[0]); i++) {
		const char *x = xss_payloads[i];
		struct blockpage_vars v = {x, x, x, x, x, x};
		struct page p;
		render(bp, &v, 1, &p);
		for (const char *c = "<>\"'`"; *c != '\0'; c++)
			assert_int_equal(count_char(p.body, p.body_len, *c),
			                 count_char(empty.body, empty.body_len, *c));
		/* (the template's own comment opens with "<!--") */
		if (strpbrk(x, "<>\"'`") != NULL && strstr(empty.body, x) == NULL &&
		    strstr(p.body, x) != NULL)
			fail_msg("payload %zu appears raw", i);
		assert_null(strstr(p.body, "<script"));
		assert_null(strstr(p.body, "<img"));
		assert_null(strstr(p.body, "<svg"));
		assert_null(strstr(p.body, "<iframe"));
		/* a value is never expanded again: "{{url}}" in it stays text */
		if (strstr(x, "{{") != NULL)
			assert_non_null(strstr(p.body, x));
		else
			assert_null(strstr(p.body, "{{"));
		assert_true(fz_valid_utf8((const unsigned char *)p.body, p.body_len));
		page_free(&p);
	}
	page_free(&empty);

	/* a javascript: URL is text: the page has no link for it to become */
	struct page p;
	render(bp, &(struct blockpage_vars){.url = "javascript:alert('x')"}, 1, &p);
	assert_non_null(strstr(p.body, "<dd class=\"url\">javascript:alert(&#39;x&#39;)</dd>"));
	assert_null(strstr(p.body, "href"));
	assert_null(strstr(p.body, "src="));
	page_free(&p);
	blockpage_free(bp);
}

static void test_escape_html_table(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
#define C(in, out) {in, sizeof(in) - 1, out}
	        C("", ""),
	        C("plain text", "plain text"),
	        C("a&b<c>d\"e'f`g", "a&amp;b&lt;c&gt;d&quot;e&#39;f&#96;g"),
	        C("&amp;", "&amp;amp;"),
	        /* controls are dropped: C0, DEL, C1 (U+0080-U+009F) */
	        C("a\r\nb\tc\0d\x1b[0me\x7f", "abcd[0me"),
	        C("x\xc2\x85y\xc2\x9fz", "xyz"),
	        /* bidi overrides and isolates are dropped */
	        C("a\xe2\x80\xae"
	          "b\xe2\x81\xa6"
	          "c\xe2\x81\xa9",
	          "abc"),
	        /* valid UTF-8 is kept */
	        C("\xe3\x81\xb2\xe3\x81\xbf\xe3\x81\xa4 \xe7\xa7\x98\xe5\xaf\x86 \xef\xbe\x8b",
	          "\xe3\x81\xb2\xe3\x81\xbf\xe3\x81\xa4 \xe7\xa7\x98\xe5\xaf\x86 \xef\xbe\x8b"),
	        C("\xc2\xa0\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
	          "\xc2\xa0\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"),
	        /* invalid UTF-8: one U+FFFD per maximal invalid subpart */
	        C("\xff", "\xef\xbf\xbd"),
	        C("a\x80z", "a\xef\xbf\xbdz"),
	        C("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"),
	        C("\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
	        C("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
	        C("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
	        C("\xf5\x80", "\xef\xbf\xbd\xef\xbf\xbd"),
	        C("\xe3\x81", "\xef\xbf\xbd"),
	        C("\xf0\x9f\x98<", "\xef\xbf\xbd&lt;"),
	        C("\xe3<\x81", "\xef\xbf\xbd&lt;\xef\xbf\xbd"),
	        C("\xc3", "\xef\xbf\xbd"),
#undef C
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escape(cases[i].in, cases[i].len);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, got, cases[i].out);
		free(got);
	}
}

static void test_invalid_utf8_replaced_in_page(void **state)
{
	(void)state;
	struct blockpage *bp = blockpage_default();
	assert_non_null(bp);
	struct blockpage_vars v = {.url = "http://example.com/\xff\xfe/\xc0\xaf",
	                           .reason = "Category: \xe3\x81\xb2\xe3\x81"};
	struct page p;
	render(bp, &v, 1, &p);
	assert_true(fz_valid_utf8((const unsigned char *)p.body, p.body_len));
	assert_non_null(strstr(p.body, "http://example.com/\xef\xbf\xbd\xef\xbf\xbd/"
	                               "\xef\xbf\xbd\xef\xbf\xbd</dd>"));
	assert_non_null(strstr(p.body, "Category: \xe3\x81\xb2\xef\xbf\xbd</dd>"));
	page_free(&p);
	blockpage_free(bp);
}

/* Values are cut after BLOCKPAGE_VALUE_MAX input bytes, at a character boundary. */
static void test_long_values_truncated(void **state)
{
	(void)state;
	struct blockpage *bp = blockpage_parse("[{{url}}]", 9, "t", stderr);
	assert_non_null(bp);
	char *big = malloc(5001);
	assert_non_null(big);
	struct page p;

	memset(big, 'a', 5000);
	big[5000] = '\0';
	render(bp, &(struct blockpage_vars){.url = big}, 1, &p);
	assert_int_equal(p.body_len, 1 + BLOCKPAGE_VALUE_MAX + 3 + 1);
	assert_memory_equal(p.body + 1 + BLOCKPAGE_VALUE_MAX, "\xe2\x80\xa6]", 4);
	page_free(&p);

	/* exactly the limit: whole, no ellipsis */
	big[BLOCKPAGE_VALUE_MAX] = '\0';
	render(bp, &(struct blockpage_vars){.url = big}, 1, &p);
	assert_int_equal(p.body_len, BLOCKPAGE_VALUE_MAX + 2);
	page_free(&p);

	/* a 2-byte character straddling the limit is left out whole */
	big[BLOCKPAGE_VALUE_MAX - 1] = '\xc3';
	big[BLOCKPAGE_VALUE_MAX] = '\xa9';
	big[BLOCKPAGE_VALUE_MAX + 1] = '\0';
	render(bp, &(struct blockpage_vars){.url = big}, 1, &p);
	assert_int_equal(p.body_len, 1 + BLOCKPAGE_VALUE_MAX - 1 + 3 + 1);
	assert_memory_equal(p.body + BLOCKPAGE_VALUE_MAX, "\xe2\x80\xa6]", 4);
	assert_true(fz_valid_utf8((const unsigned char *)p.body, p.body_len));
	page_free(&p);

	/* escaping may grow the output past the limit; only input bytes count */
	memset(big, '<', 3000);
	big[3000] = '\0';
	render(bp, &(struct blockpage_vars){.url = big}, 1, &p);
	assert_int_equal(p.body_len, 1 + 4 * BLOCKPAGE_VALUE_MAX + 3 + 1);
	page_free(&p);

	free(big);
	blockpage_free(bp);
}

static void test_placeholder_layouts(void **state)
{
	(void)state;
	static const struct {
		const char *tpl, *out;
	} cases[] = {
	        {"no placeholders at all", "no placeholders at all"},
	        {"{{url}}", "U"},
	        {"{{url}}{{url}}x{{id}}", "UUxI"},
	        {"a {{id}}", "a I"},
	        {"} }} { {id}} {", "} }} { {id}} {"},
	        {"line1\nline2 {{module}}\n", "line1\nline2 M\n"},
	};
	struct blockpage_vars v = {.url = "U", .id = "I", .module = "M"};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct blockpage *bp =
		        blockpage_parse(cases[i].tpl, strlen(cases[i].tpl), "t", stderr);
		assert_non_null(bp);
		struct page p;
		render(bp, &v, 1, &p);
		assert_string_equal(p.body, cases[i].out);
		page_free(&p);
		blockpage_free(bp);
	}

	/* every name, and NULL values (or no vars at all) render as nothing */
	const char t[] = "{{url}}|{{reason}}|{{module}}|{{service}}|{{time}}|{{id}}";
	struct blockpage *bp = blockpage_parse(t, sizeof(t) - 1, "t", stderr);
	assert_non_null(bp);
	struct page p;
	render(bp, NULL, 1, &p);
	assert_string_equal(p.body, "|||||");
	page_free(&p);
	render(bp, &(struct blockpage_vars){.module = "keyword"}, 1, &p);
	assert_string_equal(p.body, "||keyword|||");
	page_free(&p);
	render(bp, &sample_vars, 1, &p);
	assert_string_equal(p.body, "http://example.com/eicar.com|Virus found: "
	                            "Eicar-Test-Signature|clamav|/respmod|2024-05-01 12:00:00 "
	                            "UTC|tx-0001");
	page_free(&p);
	blockpage_free(bp);
}

/* ---------------------------------------------------------------- the HTTP head */

static const char *const head_lines_11[] = {
        "HTTP/1.1 403 Forbidden",
        "Content-Type: text/html; charset=utf-8",
        NULL, /* Content-Length, checked apart */
        "Cache-Control: no-store",
        "Pragma: no-cache",
        "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; base-uri "
        "'none'; form-action 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options: nosniff",
        "Connection: close",
        "",
};

static void test_head_and_content_length(void **state)
{
	(void)state;
	struct blockpage *bp = blockpage_default();
	assert_non_null(bp);
	/* a payload with CR LF in every field must not change the head */
	const char *x = "evil\r\nSet-Cookie: a=b\r\n\r\n<html>";
	struct blockpage_vars v = {x, x, x, x, x, x};
	struct page p;
	render(bp, &v, 1, &p);

	assert_true(p.head_len > 4);
	assert_string_equal(p.head + p.head_len - 4, "\r\n\r\n");
	char *line = p.head;
	size_t n = 0;
	for (char *end; (end = strstr(line, "\r\n")) != NULL; line = end + 2, n++) {
		*end = '\0';
		assert_true(n < sizeof(head_lines_11) / sizeof(head_lines_11[0]));
		assert_null(strchr(line, '\n'));
		assert_null(strchr(line, '\r'));
		if (head_lines_11[n] == NULL) {
			char want[64];
			snprintf(want, sizeof(want), "Content-Length: %zu", p.body_len);
			assert_string_equal(line, want);
		} else {
			assert_string_equal(line, head_lines_11[n]);
		}
	}
	assert_int_equal(n, sizeof(head_lines_11) / sizeof(head_lines_11[0]));
	assert_string_equal(line, "");
	page_free(&p);

	/* HTTP/1.0 */
	render(bp, &sample_vars, 0, &p);
	assert_true(strncmp(p.head, "HTTP/1.0 403 Forbidden\r\n", 24) == 0);
	page_free(&p);

	/* appending to a body buffer that already holds data counts only the page */
	struct evbuffer *h = evbuffer_new(), *b = evbuffer_new();
	assert_non_null(h);
	assert_non_null(b);
	evbuffer_add(b, "earlier", 7);
	assert_int_equal(blockpage_render_http(bp, &sample_vars, 1, h, b), 0);
	char *head = buf_str(h, NULL), want[64];
	snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", evbuffer_get_length(b) - 7);
	assert_non_null(strstr(head, want));
	free(head);
	evbuffer_free(h);
	evbuffer_free(b);
	blockpage_free(bp);
}

static void test_bodyless_for_connect(void **state)
{
	(void)state;
	struct evbuffer *h = evbuffer_new();
	assert_non_null(h);
	assert_int_equal(blockpage_render_bodyless(1, h), 0);
	char *head = buf_str(h, NULL);
	assert_true(strncmp(head, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n", 43) == 0);
	assert_null(strstr(head, "\r\nContent-Type:"));
	assert_non_null(strstr(head, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(head, "\r\nConnection: close\r\n\r\n"));
	assert_int_equal(strstr(head, "\r\n\r\n") + 4 - head, (long)strlen(head));
	free(head);
	evbuffer_free(h);
}

/* ---------------------------------------------------------------- ICAP headers */

static char *icap_headers(const struct blockpage_verdict *v)
{
	struct evbuffer *b = evbuffer_new();
	assert_non_null(b);
	assert_int_equal(blockpage_icap_headers(b, v), 0);
	char *s = buf_str(b, NULL);
	evbuffer_free(b);
	return s;
}

/*
 * Checks that s is a sequence of CRLF-terminated header lines, each one
 * "X-Infection-Found: ", "X-Virus-ID: " or "X-Violations-Found: 1" followed
 * by exactly four TAB-folded lines; no other line, no bare CR or LF, no
 * control byte but the TAB that folds. Returns how many headers it saw.
 */
static int check_icap_lines(const char *s)
{
	int headers = 0, folds_left = 0;
	const char *line = s;

	for (const char *c = s; *c != '\0'; c++) {
		unsigned char u = (unsigned char)*c;
		if (u == '\r')
			assert_int_equal(c[1], '\n');
		else if (u == '\n')
			assert_true(c > s && c[-1] == '\r');
		else if (u == '\t')
			assert_true(c > s && c[-1] == '\n');
		else
			assert_true(u >= 0x20 && u < 0x7f);
	}
	while (*line != '\0') {
		const char *end = strstr(line, "\r\n");
		assert_non_null(end);
		size_t len = (size_t)(end - line);
		assert_true(len > 0);
		if (folds_left > 0) {
			assert_int_equal(line[0], '\t');
			assert_true(len > 1 && line[1] != ' ');
			folds_left--;
		} else if (strncmp(line, "X-Infection-Found: Type=0; Resolution=2; Threat=", 48) ==
		           0) {
			assert_int_equal(line[len - 1], ';');
			assert_null(memchr(line + 48, ';', len - 49));
			headers++;
		} else if (strncmp(line, "X-Virus-ID: ", 12) == 0) {
			assert_true(len > 12);
			headers++;
		} else if (len == 21 && strncmp(line, "X-Violations-Found: 1", 21) == 0) {
			folds_left = 4;
			headers++;
		} else {
			fail_msg("unexpected header line: %.*s", (int)len, line);
		}
		line = end + 2;
	}
	assert_int_equal(folds_left, 0);
	return headers;
}

static void test_icap_headers_virus(void **state)
{
	(void)state;
	char *s =
	        icap_headers(&(struct blockpage_verdict){.threat = "Eicar-Test-Signature",
	                                                 .module = "clamav",
	                                                 .object = "http://example.com/eicar.com"});
	assert_string_equal(
	        s, "X-Infection-Found: Type=0; Resolution=2; Threat=Eicar-Test-Signature;\r\n"
	           "X-Virus-ID: Eicar-Test-Signature\r\n"
	           "X-Violations-Found: 1\r\n"
	           "\thttp://example.com/eicar.com\r\n"
	           "\tEicar-Test-Signature\r\n"
	           "\t0\r\n"
	           "\t0\r\n");
	assert_int_equal(check_icap_lines(s), 3);
	free(s);
}

static void test_icap_headers_category(void **state)
{
	(void)state;
	char *s = icap_headers(
	        &(struct blockpage_verdict){.module = "urlfilter", .category = "malware"});
	assert_string_equal(
	        s, "X-Violations-Found: 1\r\n\t-\r\n\turlfilter/malware\r\n\t0\r\n\t0\r\n");
	assert_int_equal(check_icap_lines(s), 1);
	free(s);

	s = icap_headers(&(struct blockpage_verdict){.category = "confidential"});
	assert_string_equal(s, "X-Violations-Found: 1\r\n\t-\r\n\tconfidential\r\n\t0\r\n\t0\r\n");
	free(s);
	s = icap_headers(&(struct blockpage_verdict){.module = "keyword", .category = ""});
	assert_string_equal(s, "X-Violations-Found: 1\r\n\t-\r\n\tkeyword\r\n\t0\r\n\t0\r\n");
	free(s);
	s = icap_headers(&(struct blockpage_verdict){0});
	assert_string_equal(s, "X-Violations-Found: 1\r\n\t-\r\n\tblocked\r\n\t0\r\n\t0\r\n");
	free(s);
}

static void test_icap_headers_crlf_injection(void **state)
{
	(void)state;
	static const char *const evil[] = {
	        "Eicar\r\nSet-Cookie: x=1",
	        "Eicar\nX-Virus-ID: fake",
	        "Eicar\rLocation: http://evil/",
	        "\r\n\r\nHTTP/1.1 200 OK\r\n",
	        "Eicar; Resolution=0; Threat=none",
	        "\t\t \r\n",
	        "Eicar\0hidden",
	        "Ei\x1b[31mcar\x7f",
	        "  spaced  ",
	};

	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		struct blockpage_verdict v = {evil[i], evil[i], evil[i], evil[i]};
		char *s = icap_headers(&v);
		assert_int_equal(check_icap_lines(s), 3);
		assert_null(strstr(s, "\r\nSet-Cookie"));
		assert_null(strstr(s, "\r\nLocation"));
		assert_null(strstr(s, "\r\nHTTP/"));
		free(s);

		v.threat = NULL;
		s = icap_headers(&v);
		assert_int_equal(check_icap_lines(s), 1);
		free(s);
	}

	char *s = icap_headers(&(struct blockpage_verdict){.threat = "Eicar\r\nSet-Cookie: x=1"});
	assert_non_null(strstr(s, "Threat=EicarSet-Cookie: x=1;\r\n"));
	assert_non_null(strstr(s, "X-Virus-ID: EicarSet-Cookie: x=1\r\n"));
	free(s);
	s = icap_headers(&(struct blockpage_verdict){.threat = "a;b; Resolution=0"});
	assert_non_null(strstr(s, "Threat=a_b_ Resolution=0;\r\n"));
	assert_non_null(strstr(s, "X-Virus-ID: a;b; Resolution=0\r\n"));
	free(s);
	s = icap_headers(&(struct blockpage_verdict){.threat = "  \r\n  "});
	assert_non_null(strstr(s, "X-Virus-ID: -\r\n"));
	free(s);
}

static void test_icap_headers_non_ascii_and_length(void **state)
{
	(void)state;
	char *s = icap_headers(&(struct blockpage_verdict){.category = "\xe7\xa7\x98\xe5\xaf\x86",
	                                                   .object = "http://ex.com/\xc3\xa9 x"});
	assert_string_equal(s, "X-Violations-Found: 1\r\n\thttp://ex.com/%C3%A9 x\r\n"
	                       "\t%E7%A7%98%E5%AF%86\r\n\t0\r\n\t0\r\n");
	free(s);

	char *big = malloc(5001);
	assert_non_null(big);
	memset(big, 'u', 5000);
	big[5000] = '\0';
	s = icap_headers(&(struct blockpage_verdict){.threat = big, .object = big});
	assert_int_equal(check_icap_lines(s), 3);
	for (const char *line = s, *end; (end = strstr(line, "\r\n")) != NULL; line = end + 2)
		assert_true((size_t)(end - line) <= BLOCKPAGE_HEADER_VALUE_MAX + 60);
	char want[BLOCKPAGE_HEADER_VALUE_MAX + 32];
	snprintf(want, sizeof(want), "X-Virus-ID: %.*s...\r\n", BLOCKPAGE_HEADER_VALUE_MAX - 3,
	         big);
	assert_non_null(strstr(s, want));
	free(s);

	/* exactly the limit fits whole */
	big[BLOCKPAGE_HEADER_VALUE_MAX] = '\0';
	s = icap_headers(&(struct blockpage_verdict){.threat = big});
	snprintf(want, sizeof(want), "X-Virus-ID: %s\r\n", big);
	assert_non_null(strstr(s, want));
	free(s);

	/* a %XX is never cut in half */
	memset(big, '\xff', 400);
	big[400] = '\0';
	s = icap_headers(&(struct blockpage_verdict){.threat = big});
	const char *id = strstr(s, "X-Virus-ID: ");
	assert_non_null(id);
	const char *dots = strstr(id, "...\r\n");
	assert_non_null(dots);
	assert_int_equal((dots - (id + 12)) % 3, 0);
	assert_true(dots - (id + 12) <= BLOCKPAGE_HEADER_VALUE_MAX - 3);
	free(s);
	free(big);
}

/* ---------------------------------------------------------------- template errors */

#define KNOWN " (known: url, reason, module, service, time, id)\n"

/* Every error is reported, each with file:line, and the template is refused. */
static void test_template_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		size_t len;
		const char *errors;
	} cases[] = {
#define C(text, errors) {text, sizeof(text) - 1, errors}
	        C("<p>\n{{url}}\nhello {{user}} and {{ url }}\n{{id}}\n{{URL}}",
	          "T:3: unknown placeholder \"{{user}}\"" KNOWN
	          "T:3: unknown placeholder \"{{ url }}\"" KNOWN
	          "T:5: unknown placeholder \"{{URL}}\"" KNOWN),
	        C("a\nb\n<p>{{url</p>\n{{id}}\n{{\n}}\nlast {{",
	          "T:3: unterminated \"{{\"\nT:5: unterminated \"{{\"\n"
	          "T:7: unterminated \"{{\"\n"),
	        C("{{url}}{{}}", "T:1: unknown placeholder \"{{}}\"" KNOWN),
	        C("ok\nbad \xff here \xc0\xaf\nnul \0 here\nfine \xe3\x81\xb2\nend \xe3\x81",
	          "T:2: invalid UTF-8\nT:3: NUL byte in template\nT:5: invalid UTF-8\n"),
	        C("", "T: empty template\n"),
#undef C
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct blockpage *bp;
		char *errors = load_errors(cases[i].text, cases[i].len, &bp);
		assert_null(bp);
		if (strcmp(errors, cases[i].errors) != 0)
			fail_msg("case %zu: got\n%swant\n%s", i, errors, cases[i].errors);
		free(errors);
	}
}

static void test_template_size_limit(void **state)
{
	(void)state;
	char *t = malloc(BLOCKPAGE_TEMPLATE_MAX + 1);
	assert_non_null(t);
	memset(t, 'x', BLOCKPAGE_TEMPLATE_MAX + 1);
	memcpy(t, "{{url}}", 7);
	struct blockpage *bp;

	char *errors = load_errors(t, BLOCKPAGE_TEMPLATE_MAX, &bp); /* exactly 64 KiB: fine */
	assert_non_null(bp);
	assert_string_equal(errors, "");
	blockpage_free(bp);
	free(errors);

	errors = load_errors(t, BLOCKPAGE_TEMPLATE_MAX + 1, &bp);
	assert_null(bp);
	assert_string_equal(errors, "T: template larger than 65536 bytes\n");
	free(errors);
	free(t);
}

static void test_error_missing_file(void **state)
{
	(void)state;
	char *errors;
	size_t len;
	FILE *err = open_memstream(&errors, &len);
	assert_non_null(err);
	assert_null(blockpage_load("/nonexistent/blockpage.html", err));
	assert_null(blockpage_load("/nonexistent/blockpage.html", NULL));
	fclose(err);
	assert_string_equal(errors, "/nonexistent/blockpage.html: No such file or directory\n");
	free(errors);
	blockpage_free(NULL);
}

static void test_error_flood_is_bounded(void **state)
{
	(void)state;
	char t[2000];
	size_t n = 0;
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "{{x%d}}\n", i);
	char *errors;
	size_t len;
	FILE *err = open_memstream(&errors, &len);
	assert_non_null(err);
	assert_null(blockpage_parse(t, n, "flood.html", err));
	fclose(err);
	assert_int_equal(count_char(errors, len, '\n'), 21);
	assert_non_null(strstr(errors, "flood.html:20: unknown placeholder \"{{x19}}\""));
	assert_non_null(strstr(errors, "flood.html: 80 more errors\n"));
	free(errors);
}

/* ---------------------------------------------------------------- threads */

struct thread_arg {
	const struct blockpage *bp;
	const char *want;
	size_t want_len;
	bool ok;
};

static void *render_many(void *p)
{
	struct thread_arg *a = p;
	a->ok = true;
	for (int i = 0; i < 300 && a->ok; i++) {
		struct evbuffer *h = evbuffer_new(), *b = evbuffer_new();
		if (h == NULL || b == NULL ||
		    blockpage_render_http(a->bp, &sample_vars, 1, h, b) != 0 ||
		    evbuffer_get_length(b) != a->want_len ||
		    memcmp(evbuffer_pullup(b, -1), a->want, a->want_len) != 0)
			a->ok = false;
		evbuffer_free(h);
		evbuffer_free(b);
	}
	return NULL;
}

/* One template, rendered by several threads at once, gives the same page. */
static void test_render_from_threads(void **state)
{
	(void)state;
	struct blockpage *bp = blockpage_default();
	assert_non_null(bp);
	struct page p;
	render(bp, &sample_vars, 1, &p);
	pthread_t t[4];
	struct thread_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thread_arg){bp, p.body, p.body_len, false};
		assert_int_equal(pthread_create(&t[i], NULL, render_many, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_true(a[i].ok);
	}
	page_free(&p);
	blockpage_free(bp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_default_fills_every_placeholder),
	        cmocka_unit_test(test_conf_file_equals_default),
	        cmocka_unit_test(test_xss_payloads_are_text),
	        cmocka_unit_test(test_escape_html_table),
	        cmocka_unit_test(test_invalid_utf8_replaced_in_page),
	        cmocka_unit_test(test_long_values_truncated),
	        cmocka_unit_test(test_placeholder_layouts),
	        cmocka_unit_test(test_head_and_content_length),
	        cmocka_unit_test(test_bodyless_for_connect),
	        cmocka_unit_test(test_icap_headers_virus),
	        cmocka_unit_test(test_icap_headers_category),
	        cmocka_unit_test(test_icap_headers_crlf_injection),
	        cmocka_unit_test(test_icap_headers_non_ascii_and_length),
	        cmocka_unit_test(test_template_errors),
	        cmocka_unit_test(test_template_size_limit),
	        cmocka_unit_test(test_error_missing_file),
	        cmocka_unit_test(test_error_flood_is_bounded),
	        cmocka_unit_test(test_render_from_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
