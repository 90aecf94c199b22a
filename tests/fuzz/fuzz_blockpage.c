/*
 * Fuzz target for blockpage.c, the block page renderer and the ICAP block
 * headers. The input is split at NUL bytes into the six page values (url,
 * reason, module, service, time, id) and rendered into a template made only
 * of placeholders and "|" markers, so the page must contain no < > " ' ` at
 * all: any such byte is input that escaped escaping. The page must also be
 * valid UTF-8 without control characters, within the length bound, and
 * Content-Length must match it. The first four values also go into the ICAP
 * headers, whose text must be CRLF-terminated header lines of the three
 * expected names (X-Violations-Found with its four TAB-folded lines) and
 * nothing else. The whole input is escaped on its own (NULs included) and,
 * when it is clean UTF-8, must unescape back to itself; and it is parsed as
 * a template, which must fail on NUL or invalid UTF-8 and, when it parses,
 * render with empty values to itself minus its placeholders. Violations
 * abort.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "blockpage.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#define NVARS 6

static const char markers_template[] = "{{url}}|{{reason}}|{{module}}|{{service}}|{{time}}|{{id}}";

/* True if valid UTF-8 holds a character that the page drops. */
static bool has_dropped(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return true;
		if (s[i] == 0xe2 && i + 2 < len &&
		    ((s[i + 1] == 0x80 && s[i + 2] >= 0xaa && s[i + 2] <= 0xae) ||
		     (s[i + 1] == 0x81 && s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9)))
			return true;
	}
	return false;
}

static bool starts(const unsigned char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

/* Checks escaped page text: no markup byte, valid UTF-8, no control character. */
static void check_page_text(const unsigned char *s, size_t len)
{
	CHECK(fz_valid_utf8(s, len));
	CHECK(!has_dropped(s, len));
	for (size_t i = 0; i < len; i++) {
		CHECK(s[i] != '<' && s[i] != '>' && s[i] != '"' && s[i] != '\'' && s[i] != '`');
		if (s[i] == '&') /* only the entities escaping writes */
			CHECK(starts(s + i, len - i, "&amp;") || starts(s + i, len - i, "&lt;") ||
			      starts(s + i, len - i, "&gt;") || starts(s + i, len - i, "&quot;") ||
			      starts(s + i, len - i, "&#39;") || starts(s + i, len - i, "&#96;"));
	}
}

/* Reverses the six entities in place; returns the new length. */
static size_t unescape(unsigned char *s, size_t len)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
	            {"&quot;", '"'}, {"&#39;", '\''}, {"&#96;", '`'}};
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k, n = 0;
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
			n = strlen(ents[k].ent);
			if (i + n <= len && memcmp(s + i, ents[k].ent, n) == 0)
				break;
		}
		if (s[i] == '&') {
			CHECK(k < sizeof(ents) / sizeof(ents[0]));
			s[o++] = (unsigned char)ents[k].c;
			i += n;
		} else {
			s[o++] = s[i++];
		}
	}
	return o;
}

/* Header text: CRLF lines of the expected headers, nothing else. */
static void check_icap_headers(const unsigned char *s, size_t len, bool threat)
{
	size_t i = 0, folds_left = 0, headers = 0;

	for (size_t k = 0; k < len; k++) {
		if (s[k] == '\r')
			CHECK(k + 1 < len && s[k + 1] == '\n');
		else if (s[k] == '\n')
			CHECK(k > 0 && s[k - 1] == '\r');
		else if (s[k] == '\t')
			CHECK(k > 0 && s[k - 1] == '\n');
		else
			CHECK(s[k] >= 0x20 && s[k] < 0x7f);
	}
	while (i < len) {
		const unsigned char *line = s + i;
		const unsigned char *end = memchr(line, '\r', len - i);
		CHECK(end != NULL);
		size_t n = (size_t)(end - line);
		CHECK(n > 0 && n <= BLOCKPAGE_HEADER_VALUE_MAX + 64);
		if (folds_left > 0) {
			CHECK(line[0] == '\t' && n > 1 && line[1] != ' ');
			folds_left--;
		} else if (n > 48 &&
		           memcmp(line, "X-Infection-Found: Type=0; Resolution=2; Threat=", 48) ==
		                   0) {
			CHECK(line[n - 1] == ';');
			CHECK(memchr(line + 48, ';', n - 49) == NULL);
			headers++;
		} else if (n > 12 && memcmp(line, "X-Virus-ID: ", 12) == 0) {
			headers++;
		} else if (n == 21 && memcmp(line, "X-Violations-Found: 1", 21) == 0) {
			folds_left = 4;
			headers++;
		} else {
			abort();
		}
		i += n + 2;
	}
	CHECK(folds_left == 0);
	CHECK(headers == (threat ? 3u : 1u));
}

/* The template text minus its placeholders, which is what empty values render. */
static size_t strip_placeholders(const uint8_t *t, size_t len, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (i + 1 < len && t[i] == '{' && t[i + 1] == '{') {
			const uint8_t *close = NULL;
			for (size_t k = i + 2; k + 1 < len && t[k] != '\n'; k++)
				if (t[k] == '}' && t[k + 1] == '}') {
					close = t + k;
					break;
				}
			CHECK(close != NULL); /* it parsed */
			i = (size_t)(close - t) + 2;
		} else {
			out[o++] = t[i++];
		}
	}
	return o;
}

static void fuzz_page(const struct blockpage *bp, const struct blockpage_vars *vars)
{
	struct evbuffer *h = evbuffer_new(), *b = evbuffer_new();
	CHECK(h != NULL && b != NULL);
	CHECK(blockpage_render_http(bp, vars, 1, h, b) == 0);
	size_t blen = evbuffer_get_length(b), hlen = evbuffer_get_length(h);
	const unsigned char *body = evbuffer_pullup(b, -1);
	const char *head = (const char *)evbuffer_pullup(h, -1);

	/* six values of at most 2048 input bytes, each growing at most 6-fold, plus "…" */
	CHECK(blen <= NVARS * (6 * BLOCKPAGE_VALUE_MAX + 3) + NVARS - 1);
	size_t bars = 0;
	for (size_t i = 0; i < blen; i++)
		bars += body[i] == '|';
	CHECK(bars >= NVARS - 1);
	check_page_text(body, blen);

	char want[64];
	int wn = snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", blen);
	CHECK(hlen > 4 && memcmp(head + hlen - 4, "\r\n\r\n", 4) == 0);
	CHECK(memmem(head, hlen, want, (size_t)wn) != NULL);
	CHECK(memcmp(head, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	for (size_t i = 0; i < hlen; i++)
		CHECK(head[i] != '\n' || (i > 0 && head[i - 1] == '\r'));
	evbuffer_free(h);
	evbuffer_free(b);
}

static void fuzz_escape(const uint8_t *data, size_t size)
{
	struct evbuffer *b = evbuffer_new();
	CHECK(b != NULL);
	long n = blockpage_escape_html((const char *)data, size, b);
	CHECK(n >= 0 && (size_t)n == evbuffer_get_length(b));
	unsigned char *out = evbuffer_pullup(b, -1);
	check_page_text(out, (size_t)n);
	if (fz_valid_utf8(data, size) && !has_dropped(data, size)) {
		size_t m = unescape(out, (size_t)n);
		CHECK(m == size && (size == 0 || memcmp(out, data, size) == 0));
	}
	evbuffer_free(b);
}

static void fuzz_template(const uint8_t *data, size_t size)
{
	struct blockpage *bp = blockpage_parse((const char *)data, size, "fuzz", NULL);
	if (bp == NULL)
		return;
	CHECK(size > 0 && size <= BLOCKPAGE_TEMPLATE_MAX);
	CHECK(memchr(data, '\0', size) == NULL);
	CHECK(fz_valid_utf8(data, size));

	struct evbuffer *h = evbuffer_new(), *b = evbuffer_new();
	CHECK(h != NULL && b != NULL);
	CHECK(blockpage_render_http(bp, NULL, 0, h, b) == 0);
	uint8_t *want = malloc(size);
	CHECK(want != NULL);
	size_t wlen = strip_placeholders(data, size, want);
	CHECK(evbuffer_get_length(b) == wlen);
	CHECK(wlen == 0 || memcmp(evbuffer_pullup(b, -1), want, wlen) == 0);
	free(want);
	evbuffer_free(h);
	evbuffer_free(b);
	blockpage_free(bp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blockpage *bp;
	char *vars[NVARS] = {0};
	size_t start = 0;

	if (bp == NULL) {
		bp = blockpage_parse(markers_template, sizeof(markers_template) - 1, "fuzz", NULL);
		CHECK(bp != NULL);
	}
	/* Split at NUL bytes into NUL-terminated heap copies, so ASan sees over-reads. */
	for (int v = 0; v < NVARS && start <= size; v++) {
		const uint8_t *nul =
		        v < NVARS - 1 ? memchr(data + start, '\0', size - start) : NULL;
		size_t end = nul != NULL ? (size_t)(nul - data) : size;
		vars[v] = malloc(end - start + 1);
		CHECK(vars[v] != NULL);
		if (end > start)
			memcpy(vars[v], data + start, end - start);
		vars[v][end - start] = '\0';
		start = end + 1;
	}
	struct blockpage_vars pv = {vars[0], vars[1], vars[2], vars[3], vars[4], vars[5]};
	fuzz_page(bp, &pv);

	struct evbuffer *h = evbuffer_new();
	CHECK(h != NULL);
	struct blockpage_verdict verdict = {vars[0], vars[1], vars[2], vars[3]};
	CHECK(blockpage_icap_headers(h, &verdict) == 0);
	check_icap_headers(evbuffer_pullup(h, -1), evbuffer_get_length(h),
	                   vars[0] != NULL && vars[0][0] != '\0');
	evbuffer_free(h);

	fuzz_escape(data, size);
	fuzz_template(data, size);

	for (int v = 0; v < NVARS; v++)
		free(vars[v]);
	return 0;
}
