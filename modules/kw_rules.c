/*
 * kw_rules: reading and compiling a keyword rules file (see kw_rules.h for
 * its syntax and checks); the matching is in kw_scan.c.
 *
 * The file is tokenized by lex.h, like icapd.conf; after an error the parser
 * skips the statement and goes on, so one run reports every mistake, and
 * nothing is compiled unless there was none. Phrases are normalized with
 * kw_normalize_string, then all of them, of every category, go into one
 * kw_match matcher (every occurrence reported, overlapping ones too), with
 * the rule's index as the match id. Regexes are compiled by PCRE2 and JIT
 * compiled (the interpreter is used where JIT is not available); one match
 * context holds the limits for all of them.
 *
 * kw_rules_changed compares a stat() snapshot taken before the file was
 * read: a change made while it was read shows as a change, never the
 * other way round. The digest is of the bytes that were parsed.
 */

#include "kw_rules_impl.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kw_normalize.h"
#include "lex.h"

#define RULES_FILE_MAX (16u * 1024 * 1024)

/* PCRE2's limits apply to each start position of a match: they stop the
 * exponential backtracking of a pattern like "(a+)+b" within a
 * millisecond, far above what an ordinary pattern takes. (kw_scan.c bounds
 * the total time, which a quadratic pattern can make large.) The depth and
 * heap limits are for the interpreter, where JIT is not available. */
#define REGEX_MATCH_LIMIT 100000
#define REGEX_DEPTH_LIMIT 10000
#define REGEX_HEAP_LIMIT  8192 /* KiB */
#define REGEX_JIT_STACK   (1024 * 1024)

struct parser {
	struct lex lx;
	struct kw_rules *r;
	/* Phrases, normalized, until they are compiled. */
	char **phrases;
	size_t *phrase_lens;
	unsigned *phrase_rules;
	size_t cap_phrases, cap_rules, cap_regexes;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

/* An integer word within [min, max]; false if it is not one. */
static bool parse_long(const char *s, long min, long max, long *v)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (*s == 0 || *end != 0 || errno != 0 || isspace((unsigned char)*s) || x < min || x > max)
		return false;
	*v = x;
	return true;
}

static bool valid_name(const char *s)
{
	if (*s == 0 || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

/* s with hiragana (U+3041..U+3096, U+309D..U+309E) read as katakana, as the
 * normalizer does; in place (same length in UTF-8). */
static void fold_kana_utf8(char *s)
{
	unsigned char *p = (unsigned char *)s;
	for (; p[0] && p[1] && p[2]; p++) {
		if (p[0] != 0xE3 || (p[1] != 0x81 && p[1] != 0x82))
			continue;
		unsigned c = 0x3000 | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
		if (!((c >= 0x3041 && c <= 0x3096) || (c >= 0x309D && c <= 0x309E)))
			continue;
		c += 0x60;
		p[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		p[2] = (unsigned char)(0x80 | (c & 0x3F));
		p += 2;
	}
}

/* A rule's weight; reports and returns false if it is not a good one. */
static bool rule_weight(struct parser *ps, int line, const char *word, long *w)
{
	if (!parse_long(word, -KW_WEIGHT_MAX, KW_WEIGHT_MAX, w)) {
		lex_error(&ps->lx, line, "weight \"%s\" is not an integer from %d to %d", word,
		          -KW_WEIGHT_MAX, KW_WEIGHT_MAX);
		return false;
	}
	if (*w == 0) {
		lex_error(&ps->lx, line, "weight 0 adds nothing");
		return false;
	}
	return true;
}

static unsigned add_rule(struct parser *ps, unsigned cat, long weight, int line)
{
	struct kw_rules *r = ps->r;
	if (r->nrules == ps->cap_rules) {
		ps->cap_rules = ps->cap_rules ? 2 * ps->cap_rules : 64;
		r->rules = xrealloc(r->rules, ps->cap_rules * sizeof(*r->rules));
	}
	r->rules[r->nrules] = (struct kw_rule){.cat = cat, .weight = weight, .line = line};
	r->cats[cat].nrules++;
	return (unsigned)r->nrules++;
}

static void add_phrase(struct parser *ps, unsigned cat, int line, char **args, size_t nargs)
{
	long w;
	if (nargs != 2) {
		lex_error(&ps->lx, line, "phrase: expected TEXT WEIGHT");
		return;
	}
	bool ok = rule_weight(ps, line, args[1], &w);
	size_t len;
	char *text = kw_normalize_string(args[0], strlen(args[0]), &len);
	if (len == 0 || strcmp(text, " ") == 0) {
		lex_error(&ps->lx, line, "phrase \"%s\" is empty once normalized", args[0]);
		ok = false;
	} else if (len > KW_PHRASE_MAX) {
		lex_error(&ps->lx, line, "phrase longer than %d bytes once normalized",
		          KW_PHRASE_MAX);
		ok = false;
	}
	if (ps->r->nrules >= KW_MAX_RULES) {
		lex_error(&ps->lx, line, "more than %d rules", KW_MAX_RULES);
		ok = false;
	}
	if (!ok) {
		free(text);
		return;
	}
	if (ps->r->nphrases == ps->cap_phrases) {
		ps->cap_phrases = ps->cap_phrases ? 2 * ps->cap_phrases : 64;
		ps->phrases = xrealloc(ps->phrases, ps->cap_phrases * sizeof(*ps->phrases));
		ps->phrase_lens =
		        xrealloc(ps->phrase_lens, ps->cap_phrases * sizeof(*ps->phrase_lens));
		ps->phrase_rules =
		        xrealloc(ps->phrase_rules, ps->cap_phrases * sizeof(*ps->phrase_rules));
	}
	size_t i = ps->r->nphrases++;
	ps->phrases[i] = text;
	ps->phrase_lens[i] = len;
	ps->phrase_rules[i] = add_rule(ps, cat, w, line);
}

static void add_regex(struct parser *ps, unsigned cat, int line, char **args, size_t nargs)
{
	struct kw_rules *r = ps->r;
	long w;
	if (nargs != 2) {
		lex_error(&ps->lx, line, "regex: expected PATTERN WEIGHT");
		return;
	}
	bool ok = rule_weight(ps, line, args[1], &w);
	size_t plen = strlen(args[0]);
	if (plen > KW_REGEX_MAX) {
		lex_error(&ps->lx, line, "regex longer than %d bytes", KW_REGEX_MAX);
		return;
	}
	char *pattern = xstrdup(args[0]);
	fold_kana_utf8(pattern);
	int err;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile(
	        (PCRE2_SPTR)pattern, plen,
	        PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
	free(pattern);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof(msg));
		lex_error(&ps->lx, line, "regex \"%s\": %s at offset %zu", args[0], (char *)msg,
		          (size_t)off);
		return;
	}
	uint32_t minlen = 0;
	pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &minlen);
	if (minlen == 0) {
		lex_error(&ps->lx, line, "regex \"%s\" can match empty text", args[0]);
		ok = false;
	}
	if (r->nregexes >= KW_MAX_REGEXES) {
		lex_error(&ps->lx, line, "more than %d regexes", KW_MAX_REGEXES);
		ok = false;
	}
	if (r->nrules >= KW_MAX_RULES) {
		lex_error(&ps->lx, line, "more than %d rules", KW_MAX_RULES);
		ok = false;
	}
	if (!ok) {
		pcre2_code_free(code);
		return;
	}
	/* Without JIT (not built for this CPU) the interpreter runs, under
	 * the depth and heap limits. */
	pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	if (r->nregexes == ps->cap_regexes) {
		ps->cap_regexes = ps->cap_regexes ? 2 * ps->cap_regexes : 8;
		r->regexes = xrealloc(r->regexes, ps->cap_regexes * sizeof(*r->regexes));
	}
	r->regexes[r->nregexes++] =
	        (struct kw_regex){.code = code, .rule = add_rule(ps, cat, w, line)};
}

/* The statements of a category block, up to its "}". */
static void parse_category(struct parser *ps, unsigned cat)
{
	struct kw_category *c = &ps->r->cats[cat];
	bool have_threshold = false;
	for (;;) {
		if (ps->lx.kind == LEX_EOF) {
			lex_error(&ps->lx, ps->lx.line, "missing \"}\" to close category %s",
			          c->name);
			break;
		}
		if (ps->lx.kind == LEX_CLOSE) {
			lex_next(&ps->lx);
			break;
		}
		if (ps->lx.kind != LEX_WORD) {
			if (ps->lx.kind != LEX_BAD)
				lex_error(&ps->lx, ps->lx.tok_line,
				          "expected threshold, phrase or regex");
			lex_skip_statement(&ps->lx);
			continue;
		}
		int line = ps->lx.tok_line;
		char *name = ps->lx.word;
		ps->lx.word = NULL;
		char *args[3];
		size_t nargs = 0;
		lex_next(&ps->lx);
		while (ps->lx.kind == LEX_WORD) {
			if (nargs < 3)
				args[nargs++] = ps->lx.word;
			else
				free(ps->lx.word);
			ps->lx.word = NULL;
			lex_next(&ps->lx);
		}
		if (ps->lx.kind != LEX_SEMI) {
			if (ps->lx.kind != LEX_BAD) /* else lex said what was wrong */
				lex_error(&ps->lx, line, "\"%s\": missing \";\"", name);
			if (ps->lx.kind != LEX_CLOSE && ps->lx.kind != LEX_EOF)
				lex_skip_statement(&ps->lx);
		} else {
			lex_next(&ps->lx);
			if (strcmp(name, "threshold") == 0) {
				if (have_threshold)
					lex_error(&ps->lx, line, "threshold is set twice");
				else if (nargs != 1 ||
				         !parse_long(args[0], 1, KW_WEIGHT_MAX, &c->threshold))
					lex_error(&ps->lx, line,
					          "threshold: expected an integer from 1 to %d",
					          KW_WEIGHT_MAX);
				have_threshold = true;
			} else if (strcmp(name, "phrase") == 0)
				add_phrase(ps, cat, line, args, nargs);
			else if (strcmp(name, "regex") == 0)
				add_regex(ps, cat, line, args, nargs);
			else
				lex_error(&ps->lx, line, "unknown directive \"%s\"", name);
		}
		for (size_t i = 0; i < nargs; i++)
			free(args[i]);
		free(name);
	}
	if (!have_threshold)
		lex_error(&ps->lx, c->line, "category %s has no threshold", c->name);
	if (c->nrules == 0)
		lex_error(&ps->lx, c->line, "category %s has no phrase or regex", c->name);
}

static void parse_file(struct parser *ps)
{
	struct kw_rules *r = ps->r;
	while (ps->lx.kind != LEX_EOF) {
		if (ps->lx.kind == LEX_CLOSE) {
			lex_error(&ps->lx, ps->lx.tok_line, "unexpected \"}\"");
			lex_next(&ps->lx);
			continue;
		}
		int line = ps->lx.tok_line;
		if (ps->lx.kind != LEX_WORD) {
			if (ps->lx.kind != LEX_BAD)
				lex_error(&ps->lx, line, "expected \"category NAME {\"");
			lex_skip_statement(&ps->lx);
			continue;
		}
		if (strcmp(ps->lx.word, "category") != 0) {
			lex_error(&ps->lx, line, "unknown directive \"%s\"", ps->lx.word);
			lex_skip_statement(&ps->lx);
			continue;
		}
		lex_next(&ps->lx);
		if (ps->lx.kind != LEX_WORD) {
			lex_error(&ps->lx, line, "expected \"category NAME {\"");
			lex_skip_statement(&ps->lx);
			continue;
		}
		char *name = ps->lx.word;
		ps->lx.word = NULL;
		lex_next(&ps->lx);
		if (ps->lx.kind != LEX_OPEN) {
			lex_error(&ps->lx, line, "expected \"category NAME {\"");
			lex_skip_statement(&ps->lx);
			free(name);
			continue;
		}
		lex_next(&ps->lx);
		if (!valid_name(name))
			lex_error(&ps->lx, line,
			          "category name \"%s\": up to 64 letters, digits, '_', '-', '.'",
			          name);
		else if (kw_rules_category_id(r, name) >= 0)
			lex_error(&ps->lx, line, "category %s is defined twice", name);
		else if (r->ncats == KW_MAX_CATEGORIES)
			lex_error(&ps->lx, line, "more than %d categories", KW_MAX_CATEGORIES);
		/* Parsed in any case, for its errors; a bad one is dropped after. */
		r->cats = xrealloc(r->cats, (r->ncats + 1) * sizeof(*r->cats));
		r->cats[r->ncats] = (struct kw_category){.name = name, .line = line};
		parse_category(ps, (unsigned)r->ncats++);
	}
}

/* All phrases into one matcher. */
static void compile_phrases(struct parser *ps)
{
	struct kw_rules *r = ps->r;
	if (r->nphrases > 0)
		r->match = kw_match_build((const char *const *)ps->phrases, ps->phrase_lens,
		                          ps->phrase_rules, r->nphrases);
}

static void digest_hex(const char *text, size_t len, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_Digest(text, len, md, &n, EVP_sha256(), NULL) != 1)
		abort();
	for (unsigned i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	hex[2 * n] = 0;
}

struct kw_rules *kw_rules_load(const char *path, FILE *errors, struct kw_rules_stats *stats)
{
	struct stat st;
	bool have_stat = stat(path, &st) == 0;
	int stat_errno = errno;
	size_t len;
	char *text = lex_read_file(path, RULES_FILE_MAX, &len, errors);
	if (text == NULL)
		return NULL;

	struct kw_rules *r = calloc(1, sizeof(*r));
	struct kw_scratch_pool *pool = calloc(1, sizeof(*pool));
	if (r == NULL || pool == NULL)
		abort();
	pthread_mutex_init(&pool->lock, NULL);
	r->pool = pool;
	r->path = xstrdup(path);
	const char *slash = strrchr(r->path, '/');
	r->name = slash != NULL ? slash + 1 : r->path;
	if (have_stat) {
		r->dev = st.st_dev;
		r->ino = st.st_ino;
		r->size = st.st_size;
		r->mtime = st.st_mtim;
	}
	digest_hex(text, len, r->digest);

	struct parser ps = {.r = r};
	lex_init(&ps.lx, path, text, len, errors);
	parse_file(&ps);
	lex_done(&ps.lx);
	bool ok = ps.lx.nerrors == 0;
	if (ok)
		compile_phrases(&ps);
	for (size_t i = 0; i < r->nphrases; i++)
		free(ps.phrases[i]);
	free(ps.phrases);
	free(ps.phrase_lens);
	free(ps.phrase_rules);
	free(text);
	if (ok) {
		r->mctx = pcre2_match_context_create(NULL);
		if (r->mctx == NULL)
			abort();
		pcre2_set_match_limit(r->mctx, REGEX_MATCH_LIMIT);
		pcre2_set_depth_limit(r->mctx, REGEX_DEPTH_LIMIT);
		pcre2_set_heap_limit(r->mctx, REGEX_HEAP_LIMIT);
	}
	if (!ok || !have_stat) {
		if (ok)
			fprintf(errors, "%s: cannot stat: %s\n", path, strerror(stat_errno));
		kw_rules_free(r);
		return NULL;
	}
	if (stats != NULL)
		*stats = (struct kw_rules_stats){
		        .categories = r->ncats, .phrases = r->nphrases, .regexes = r->nregexes};
	return r;
}

void kw_rules_free(struct kw_rules *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->ncats; i++)
		free(r->cats[i].name);
	free(r->cats);
	free(r->rules);
	for (size_t i = 0; i < r->nregexes; i++)
		pcre2_code_free(r->regexes[i].code);
	free(r->regexes);
	pcre2_match_context_free(r->mctx);
	for (size_t i = 0; i < r->pool->nrx; i++) {
		struct kw_rx_scratch *x = r->pool->rx[i];
		pcre2_match_context_free(x->mctx);
		pcre2_jit_stack_free(x->stack);
		pcre2_match_data_free(x->md);
		free(x);
	}
	free(r->pool->rx);
	pthread_mutex_destroy(&r->pool->lock);
	free(r->pool);
	kw_match_free(r->match);
	free(r->path);
	free(r);
}

struct kw_rx_scratch *kw_rx_scratch_get(const struct kw_rules *r)
{
	struct kw_scratch_pool *p = r->pool;
	struct kw_rx_scratch *x = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->nrx > 0)
		x = p->rx[--p->nrx];
	pthread_mutex_unlock(&p->lock);
	if (x != NULL)
		return x;
	x = calloc(1, sizeof(*x));
	if (x == NULL || (x->mctx = pcre2_match_context_copy(r->mctx)) == NULL ||
	    (x->md = pcre2_match_data_create(1, NULL)) == NULL)
		abort();
	x->stack = pcre2_jit_stack_create(32 * 1024, REGEX_JIT_STACK, NULL);
	if (x->stack != NULL)
		pcre2_jit_stack_assign(x->mctx, NULL, x->stack);
	return x;
}

void kw_rx_scratch_put(const struct kw_rules *r, struct kw_rx_scratch *x)
{
	struct kw_scratch_pool *p = r->pool;
	pthread_mutex_lock(&p->lock);
	if (p->nrx == p->caprx) {
		p->caprx = p->caprx ? 2 * p->caprx : 8;
		p->rx = xrealloc(p->rx, p->caprx * sizeof(*p->rx));
	}
	p->rx[p->nrx++] = x;
	pthread_mutex_unlock(&p->lock);
}

size_t kw_rules_ncategories(const struct kw_rules *r)
{
	return r->ncats;
}

const char *kw_rules_category_name(const struct kw_rules *r, unsigned id)
{
	return id < r->ncats ? r->cats[id].name : NULL;
}

int kw_rules_category_id(const struct kw_rules *r, const char *name)
{
	for (size_t i = 0; i < r->ncats; i++)
		if (strcmp(r->cats[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *kw_rules_digest(const struct kw_rules *r)
{
	return r->digest;
}

bool kw_rules_changed(const struct kw_rules *r)
{
	struct stat st;
	if (stat(r->path, &st) != 0)
		return true;
	return st.st_dev != r->dev || st.st_ino != r->ino || st.st_size != r->size ||
	       st.st_mtim.tv_sec != r->mtime.tv_sec || st.st_mtim.tv_nsec != r->mtime.tv_nsec;
}
