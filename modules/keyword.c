/*
 * keyword: pages (RESPMOD) and uploads or form posts (REQMOD: the
 * leak-prevention case) scored against keyword rules (kw_rules.c) after
 * their text has been decoded and normalized, so that a word cannot slip
 * through by changing its spelling, width, script, charset or compression.
 *
 * A body flows through a pipeline of streaming stages, in blocks, with
 * bounded memory:
 *
 *   Content-Encoding undone (kw_decode: gzip, deflate, br, zstd; bombs stopped)
 *   -> form fields (kw_form, urlencoded posts)
 *   -> charset to UTF-8 (kw_charset: BOM, HTTP charset, <meta>, detection)
 *   -> HTML to text (kw_html, for HTML)
 *   -> normalization (kw_normalize: NFKC case fold, kana, ignorables)
 *   -> matching (kw_rules: kw_match phrases, PCRE2 regexes, scores)
 *
 * A multipart/form-data upload is judged part by part, each part through
 * its own charset and HTML stages (a file part of a binary type is left to
 * other modules), all into one score. A service names the categories it
 * applies (keyword_categories); when it names none, all apply.
 *
 * What cannot be judged whole (a decompression bomb, a corrupt stream, a
 * decoded size past the limit, a regex past its limits) is a verdict error,
 * which the service's on_scan_error turns into a block or a pass; a block
 * found in what was decoded before the trouble still blocks.
 */

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "body.h"
#include "conf.h"
#include "hdr_parse.h"
#include "http_parse.h"
#include "kw_charset.h"
#include "kw_decode.h"
#include "kw_form.h"
#include "kw_html.h"
#include "kw_normalize.h"
#include "kw_rules.h"
#include "module.h"
#include "multipart.h"

#define KEYWORD_MAGIC 0x4b57444du /* "KWDM" */
#define READ_BLOCK    (64 * 1024)
#define MAX_PARTS     1000
#define MAX_CATS      64

/* The "module keyword { ... }" block. */
struct keyword_conf {
	char *rules;
	unsigned long long max_decoded_size;
	unsigned long long max_ratio;
	struct conf_words content_types;
};

struct keyword_state {
	unsigned magic;
	atomic_uint refs;
	struct kw_rules *rules;
	char *path;
	uint64_t max_decoded_size;
	unsigned max_ratio;
	struct conf_words types;
	char version[40];
};

#define K(f) offsetof(struct keyword_conf, f)

static const struct conf_directive keyword_directives[] = {
        {.name = "rules",
         .ctx = CTX_MODULE,
         .type = CT_PATH,
         .offset = K(rules),
         .def = "keywords.rules",
         .help = "keyword rules file: categories of weighted phrases and regexes"},
        {.name = "max_decoded_size",
         .ctx = CTX_MODULE,
         .type = CT_SIZE,
         .offset = K(max_decoded_size),
         .min = 1024,
         .def = "64m",
         .help = "most bytes a compressed body may decode to; past it: on_scan_error"},
        {.name = "max_ratio",
         .ctx = CTX_MODULE,
         .type = CT_UINT,
         .offset = K(max_ratio),
         .min = 2,
         .max = 100000,
         .def = "100",
         .help = "most a body may expand when decoded (a decompression bomb is stopped)"},
        {.name = "content_types",
         .ctx = CTX_MODULE,
         .type = CT_WORDS,
         .offset = K(content_types),
         .def = "text/* application/xhtml+xml application/json application/javascript "
                "application/xml application/x-www-form-urlencoded multipart/form-data",
         .help = "media types whose text is scored (type/* for a family); a body "
                 "without Content-Type is scored too"},
};

static void keyword_conf_free(void *mconf)
{
	struct keyword_conf *c = mconf;
	free(c->rules);
	conf_words_free(&c->content_types);
}

static struct keyword_state *state_of(const void *p)
{
	struct keyword_state *st = (struct keyword_state *)p;
	if (st == NULL || st->magic != KEYWORD_MAGIC)
		abort();
	return st;
}

static void keyword_ref(void *state)
{
	atomic_fetch_add(&state_of(state)->refs, 1);
}

static void keyword_unref(void *state)
{
	if (state == NULL)
		return;
	struct keyword_state *st = state_of(state);
	if (atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	kw_rules_free(st->rules);
	free(st->path);
	conf_words_free(&st->types);
	st->magic = 0;
	free(st);
}

static bool same_words(const struct conf_words *a, const struct conf_words *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static void *keyword_build(const void *mconf, void *old_state, FILE *errors)
{
	const struct keyword_conf *c = mconf;
	struct keyword_state *old = old_state ? state_of(old_state) : NULL;

	if (old != NULL && strcmp(old->path, c->rules) == 0 && !kw_rules_changed(old->rules) &&
	    old->max_decoded_size == c->max_decoded_size && old->max_ratio == c->max_ratio &&
	    same_words(&old->types, &c->content_types)) {
		keyword_ref(old);
		return old;
	}
	struct kw_rules *rules = kw_rules_load(c->rules, errors, NULL);
	if (rules == NULL)
		return NULL;
	struct keyword_state *st = calloc(1, sizeof(*st));
	if (st == NULL || (st->path = strdup(c->rules)) == NULL)
		abort();
	st->magic = KEYWORD_MAGIC;
	atomic_init(&st->refs, 1);
	st->rules = rules;
	st->max_decoded_size = c->max_decoded_size;
	st->max_ratio = (unsigned)c->max_ratio;
	conf_words_copy(&st->types, &c->content_types);
	snprintf(st->version, sizeof(st->version), "%.16s/%llu/%u", kw_rules_digest(rules),
	         (unsigned long long)(st->max_decoded_size >> 10), st->max_ratio);
	return st;
}

static const char *keyword_version(const void *state)
{
	return state_of(state)->version;
}

static bool keyword_stale(const void *state)
{
	return kw_rules_changed(state_of(state)->rules);
}

static int keyword_check_service(const void *state, const struct conf_service *svc, FILE *errors)
{
	const struct keyword_state *st = state_of(state);
	int r = 0;
	if (svc->keyword_categories.n > MAX_CATS) {
		fprintf(errors, "%s:%d: service %s: more than %d keyword_categories\n", svc->file,
		        svc->line, svc->name, MAX_CATS);
		return -1;
	}
	for (size_t i = 0; i < svc->keyword_categories.n; i++) {
		if (kw_rules_category_id(st->rules, svc->keyword_categories.v[i]) < 0) {
			fprintf(errors, "%s:%d: service %s: keyword category \"%s\" is not in %s\n",
			        svc->file, svc->line, svc->name, svc->keyword_categories.v[i],
			        st->path);
			r = -1;
		}
	}
	return r;
}

/* The head that describes the body: the request's for REQMOD. */
static const struct http_head *body_head(const struct module_msg *m)
{
	return m->method == ICAP_METHOD_REQMOD ? m->req : m->res;
}

/* The media type of a Content-Type value, without parameters. */
static size_t media_type(const char *v, size_t n, const char **out)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	size_t k = 0;
	while (k < n && v[k] != ';' && v[k] != ' ' && v[k] != '\t')
		k++;
	*out = v;
	return k;
}

static bool type_is(const char *t, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(t, want, n) == 0;
}

static bool type_listed(const struct conf_words *w, const char *t, size_t n)
{
	for (size_t i = 0; i < w->n; i++) {
		const char *p = w->v[i];
		size_t pl = strlen(p);
		if (pl >= 2 && strcmp(p + pl - 2, "/*") == 0) {
			if (n > pl - 1 && strncasecmp(t, p, pl - 1) == 0)
				return true;
		} else if (type_is(t, n, p)) {
			return true;
		}
	}
	return false;
}

static bool keyword_wants_body(const void *state, const struct module_msg *m, uint64_t length_hint,
                               const char **skip_reason)
{
	const struct keyword_state *st = state_of(state);
	const struct http_head *h = body_head(m);
	bool typed = false;
	(void)length_hint;
	/* With several Content-Type fields a browser may go by any of them. */
	for (size_t i = 0; h != NULL && i < h->nhdrs; i++) {
		const struct hdr *f = &h->hdrs[i];
		if (f->name_len != 12 || strncasecmp(f->name, "Content-Type", 12) != 0)
			continue;
		const char *t;
		size_t n = media_type(f->value, f->value_len, &t);
		if (type_listed(&st->types, t, n))
			return true;
		typed = true;
	}
	if (!typed)
		return true;
	*skip_reason = "content type not text";
	return false;
}

/* A Content-Type parameter's value (charset, boundary), unquoted; 0 if none. */
static size_t ctype_param(const char *v, size_t n, const char *name, const char **out)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i + nl + 1 < n; i++) {
		if (v[i] != ';')
			continue;
		size_t k = i + 1;
		while (k < n && (v[k] == ' ' || v[k] == '\t'))
			k++;
		if (k + nl < n && strncasecmp(v + k, name, nl) == 0 && v[k + nl] == '=') {
			k += nl + 1;
			bool quoted = k < n && v[k] == '"';
			k += quoted;
			size_t e = k;
			while (e < n && (quoted ? v[e] != '"' : v[e] != ';' && v[e] != ' '))
				e++;
			*out = v + k;
			return e - k;
		}
	}
	return 0;
}

/* One text's trip through charset, HTML and normalization into the scan. */
struct text_chain {
	struct kw_charset *charset;
	struct kw_html *html;
	struct kw_norm *norm;
};

static struct kw_sink text_chain_open(struct text_chain *tc, struct kw_scan *scan,
                                      const char *ctype, size_t ctype_len)
{
	const char *t = "", *cs = NULL;
	size_t tn = ctype ? media_type(ctype, ctype_len, &t) : 0;
	size_t csn = ctype ? ctype_param(ctype, ctype_len, "charset", &cs) : 0;
	bool html = type_is(t, tn, "text/html") || type_is(t, tn, "application/xhtml+xml");

	memset(tc, 0, sizeof(*tc));
	tc->norm = kw_norm_new(kw_scan_sink(scan));
	struct kw_sink next = kw_norm_sink(tc->norm);
	if (html) {
		tc->html = kw_html_new(next);
		next = kw_html_sink(tc->html);
	}
	tc->charset = kw_charset_new(csn ? cs : NULL, csn, html || tn == 0, next);
	return kw_charset_sink(tc->charset);
}

static void text_chain_close(struct text_chain *tc)
{
	kw_charset_finish(tc->charset);
	if (tc->html)
		kw_html_finish(tc->html);
	kw_norm_finish(tc->norm);
	kw_charset_free(tc->charset);
	kw_html_free(tc->html);
	kw_norm_free(tc->norm);
}

/* The categories the service applies, as ids; all when it names none. */
static size_t service_cats(const struct keyword_state *st, const struct module_msg *m,
                           unsigned cats[MAX_CATS])
{
	size_t n = 0;
	const struct conf_words *w = m->svc ? &m->svc->keyword_categories : NULL;
	if (w == NULL || w->n == 0) {
		size_t all = kw_rules_ncategories(st->rules);
		for (size_t i = 0; i < all && n < MAX_CATS; i++)
			cats[n++] = (unsigned)i;
		return n;
	}
	for (size_t i = 0; i < w->n && n < MAX_CATS; i++) {
		int id = kw_rules_category_id(st->rules, w->v[i]);
		if (id >= 0)
			cats[n++] = (unsigned)id;
	}
	return n;
}

struct part_walk {
	struct kw_scan *scan;
	const char *base;
};

static int judge_part(void *arg, const struct multipart_part *p)
{
	struct part_walk *pw = arg;
	struct http_head h;
	const struct hdr *ct = NULL;
	/* A part's head is header lines; parse it as a response block would. */
	char buf[4096];
	int len = snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n%.*s\r\n\r\n",
	                   (int)(p->head_len < 3000 ? p->head_len : 3000), pw->base + p->head_off);
	if (len > 0 && (size_t)len < sizeof(buf) &&
	    http_parse_response_block(buf, (size_t)len, &h) == 0)
		ct = hdr_find(h.hdrs, h.nhdrs, "Content-Type");
	if (ct != NULL) {
		const char *t;
		size_t tn = media_type(ct->value, ct->value_len, &t);
		/* Binary files are for the virus scanner; text and HTML are read. */
		if (!(tn > 5 && strncasecmp(t, "text/", 5) == 0) &&
		    !type_is(t, tn, "application/json") && !type_is(t, tn, "application/xml"))
			return 0;
	}
	struct text_chain tc;
	struct kw_sink in =
	        text_chain_open(&tc, pw->scan, ct ? ct->value : NULL, ct ? ct->value_len : 0);
	kw_sink_write(&in, pw->base + p->off, p->len);
	text_chain_close(&tc);
	kw_scan_write(pw->scan, "\n", 1);
	return 0;
}

/* Scores a multipart body part by part; false if it is not one. */
static bool judge_multipart(struct kw_scan *scan, const struct hdr *ct, struct body *b)
{
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	size_t blen = multipart_boundary(ct->value, ct->value_len, boundary);
	uint64_t len = body_length(b);
	int fd = body_fd(b);
	if (blen == 0 || len == 0 || len > SIZE_MAX || fd < 0)
		return false;
	void *base = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (base == MAP_FAILED)
		return false;
	struct part_walk pw = {.scan = scan, .base = base};
	int parts = multipart_each(base, (size_t)len, boundary, blen, MAX_PARTS, judge_part, &pw);
	munmap(base, (size_t)len);
	return parts >= 0;
}

/* Streams the body through decode, form, charset, HTML and normalization.
 * Returns 0, or -1 with why it could not be read whole in why. */
static int judge_stream(const struct keyword_state *st, struct kw_scan *scan,
                        const struct http_head *h, struct body *b, char *why, size_t why_len)
{
	const struct hdr *ct = h ? hdr_find(h->hdrs, h->nhdrs, "Content-Type") : NULL;
	const struct hdr *ce = h ? hdr_find(h->hdrs, h->nhdrs, "Content-Encoding") : NULL;
	enum kw_coding codings[KW_CODINGS_MAX];
	int ncod = ce ? kw_coding_parse(ce->value, ce->value_len, codings) : 0;
	if (ncod < 0) {
		snprintf(why, why_len, "unknown Content-Encoding");
		return -1;
	}

	const char *t = "";
	size_t tn = ct ? media_type(ct->value, ct->value_len, &t) : 0;
	struct text_chain tc;
	struct kw_sink in =
	        text_chain_open(&tc, scan, ct ? ct->value : NULL, ct ? ct->value_len : 0);
	struct kw_form *form = NULL;
	struct kw_decode *dec = NULL;
	if (type_is(t, tn, "application/x-www-form-urlencoded")) {
		form = kw_form_new(in);
		in = kw_form_sink(form);
	}
	if (ncod > 0) {
		struct kw_decode_limits lim = {.max_output = st->max_decoded_size,
		                               .max_ratio = st->max_ratio};
		dec = kw_decode_new(codings, ncod, &lim, in);
		in = kw_decode_sink(dec);
	}

	int r = 0;
	char *buf = malloc(READ_BLOCK);
	if (buf == NULL)
		abort();
	uint64_t total = body_length(b);
	for (uint64_t off = 0; off < total && r == 0;) {
		size_t want = total - off < READ_BLOCK ? (size_t)(total - off) : READ_BLOCK;
		ssize_t n = body_read(b, off, buf, want);
		if (n <= 0) {
			snprintf(why, why_len, "body could not be read back");
			r = -1;
		} else if (kw_sink_write(&in, buf, (size_t)n) < 0) {
			r = -1; /* the decoder says why, below */
		} else if ((off += (uint64_t)n) > st->max_decoded_size && dec == NULL) {
			snprintf(why, why_len, "text larger than max_decoded_size");
			r = -1;
		}
	}
	free(buf);
	if (dec != NULL && (r < 0 || kw_decode_finish(dec) < 0) && kw_decode_error(dec) != NULL) {
		snprintf(why, why_len, "%s", kw_decode_error(dec));
		r = -1;
	}
	if (form != NULL)
		kw_form_finish(form);
	text_chain_close(&tc);
	kw_decode_free(dec);
	kw_form_free(form);
	return r;
}

static void keyword_judge_body(const void *state, const struct module_msg *m, struct body *b,
                               struct verdict *v)
{
	const struct keyword_state *st = state_of(state);
	unsigned cats[MAX_CATS];
	size_t ncats = service_cats(st, m, cats);
	const struct http_head *h = body_head(m);

	if (ncats == 0 || body_length(b) == 0)
		return;
	if (!body_complete(b)) {
		v->kind = VERDICT_ERROR;
		snprintf(v->reason, sizeof(v->reason), "larger than max_body_size");
		return;
	}
	struct kw_scan *scan = kw_scan_new(st->rules, cats, ncats);
	const struct hdr *ct = h ? hdr_find(h->hdrs, h->nhdrs, "Content-Type") : NULL;
	const struct hdr *ce = h ? hdr_find(h->hdrs, h->nhdrs, "Content-Encoding") : NULL;
	char why[128] = "";
	int trouble = 0;
	if (ct == NULL || ce != NULL || !judge_multipart(scan, ct, b))
		trouble = judge_stream(st, scan, h, b, why, sizeof(why));

	struct kw_result res;
	kw_scan_finish(scan, &res);
	kw_scan_free(scan);
	if (res.category >= 0) {
		v->kind = VERDICT_BLOCK;
		snprintf(v->reason, sizeof(v->reason), "%s",
		         kw_rules_category_name(st->rules, (unsigned)res.category));
		snprintf(v->detail, sizeof(v->detail), "score %ld/%ld: %.150s", res.score,
		         res.threshold, res.matched);
	} else if (trouble < 0 || res.error != NULL) {
		v->kind = VERDICT_ERROR;
		snprintf(v->reason, sizeof(v->reason), "%s",
		         res.error ? res.error
		         : why[0]  ? why
		                   : "text could not be decoded");
	}
}

const struct module keyword_module = {
        .name = "keyword",
        .directives = keyword_directives,
        .ndirectives = sizeof(keyword_directives) / sizeof(keyword_directives[0]),
        .conf_size = sizeof(struct keyword_conf),
        .conf_free = keyword_conf_free,
        .build = keyword_build,
        .ref = keyword_ref,
        .unref = keyword_unref,
        .version = keyword_version,
        .stale = keyword_stale,
        .check_service = keyword_check_service,
        .wants_body = keyword_wants_body,
        .judge_body = keyword_judge_body,
};
