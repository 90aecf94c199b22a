/*
 * Fuzz target for the configuration file: lex.c, the tokenizer of the
 * block syntax (also used by the URL policy and keyword rules files), and
 * conf.c, which reads icapd.conf. The data is one file.
 *
 * The tokenizer runs on an exact-size heap copy. Checked: token lines
 * never go back and stay within the file's line count, there are no more
 * tokens than bytes, only words carry text; every error message is one "fuzz.conf:LINE: ..."
 * line; and when no token was bad, the tokens written out again on their
 * lines (each word quoted, with '"' and '\' escaped) read back as the same
 * tokens on the same lines.
 *
 * conf_load reads the data from a memfd by its /proc/self/fd path (the
 * memfd is made once, rewritten per input). Checked: it returns a
 * configuration exactly when it reported no error, every message is one
 * line naming the file; a configuration has a listen address, services
 * whose names are paths found again by conf_service_find, each with
 * methods, and paths made absolute. LeakSanitizer checks that a failed
 * load frees what it built. Violations abort.
 */
#include "conf.h"
#include "fuzz_util.h"
#include "lex.h"
#include "module.h"

#define FILE_NAME "fuzz.conf"

struct token {
	enum lex_kind kind;
	char *word;
	int line;
};

/* Every error line is "name:LINE: text" with LINE from 1 to maxline (0: any). */
static void check_messages(const char *msgs, size_t len, const char *name, int maxline)
{
	size_t nl = strlen(name);
	CHECK(len == 0 || msgs[len - 1] == '\n');
	for (const char *p = msgs; p < msgs + len;) {
		const char *e = memchr(p, '\n', (size_t)(msgs + len - p));
		CHECK(e != NULL);
		CHECK((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == ':');
		if (maxline > 0) {
			char *end;
			long line = strtol(p + nl + 1, &end, 10);
			CHECK(line >= 1 && line <= maxline && end[0] == ':' && end[1] == ' ');
		}
		p = e + 1;
	}
}

/* Tokenizes t[0..n) into toks (at most max); returns the count, or -1 if a
 * token was bad or there were too many (then nothing is kept). */
static long tokenize(const char *t, size_t n, struct token *toks, size_t max, int *nerrors)
{
	char *msgs = NULL;
	size_t mlen = 0;
	FILE *err = open_memstream(&msgs, &mlen);
	CHECK(err != NULL);
	struct lex lx;
	int lines = 1;
	for (size_t i = 0; i < n; i++)
		lines += t[i] == '\n';
	bool bad = false;
	size_t count = 0;
	int prev = 1;

	lex_init(&lx, FILE_NAME, t, n, err);
	for (;;) {
		CHECK(lx.tok_line >= prev && lx.tok_line <= lines && lx.line <= lines);
		prev = lx.tok_line;
		if (lx.kind == LEX_EOF)
			break;
		CHECK(count <= n);
		if (lx.kind == LEX_BAD) {
			bad = true;
		} else if (lx.kind == LEX_WORD) {
			CHECK(lx.word != NULL);
			size_t wl = strlen(lx.word);
			CHECK(wl <= n);
		} else {
			CHECK(lx.kind == LEX_SEMI || lx.kind == LEX_OPEN || lx.kind == LEX_CLOSE);
			CHECK(lx.word == NULL);
		}
		if (count < max) {
			toks[count].kind = lx.kind;
			toks[count].word = lx.word ? strdup(lx.word) : NULL;
			toks[count].line = lx.tok_line;
		}
		count++;
		lex_next(&lx);
	}
	lex_done(&lx);
	*nerrors = lx.nerrors;
	fclose(err);
	check_messages(msgs, mlen, FILE_NAME, lines);
	CHECK((mlen == 0) == (lx.nerrors == 0));
	free(msgs);
	if (count > max || bad) {
		for (size_t i = 0; i < count && i < max; i++)
			free(toks[i].word);
		return -1;
	}
	return (long)count;
}

static void fuzz_lex(const uint8_t *data, size_t size)
{
	enum { MAX_TOKENS = 4096 };
	static struct token toks[MAX_TOKENS], again[MAX_TOKENS];
	char *t = fz_copy(data, size);
	int nerr;
	long n = tokenize(t, size, toks, MAX_TOKENS, &nerr);
	free(t);
	if (n < 0)
		return;

	/* Written out again, each word quoted, on the line it was on. */
	size_t cap = 16, len = 0;
	for (long i = 0; i < n; i++)
		cap += 2 * (toks[i].word ? strlen(toks[i].word) : 0) + 4;
	cap += (size_t)(n ? toks[n - 1].line : 1);
	char *out = malloc(cap);
	CHECK(out != NULL);
	int line = 1;
	for (long i = 0; i < n; i++) {
		while (line < toks[i].line) {
			out[len++] = '\n';
			line++;
		}
		if (toks[i].kind == LEX_WORD) {
			/* No word holds a newline, quoted or not. */
			CHECK(strchr(toks[i].word, '\n') == NULL);
			out[len++] = '"';
			for (const char *w = toks[i].word; *w; w++) {
				if (*w == '"' || *w == '\\')
					out[len++] = '\\';
				out[len++] = *w;
			}
			out[len++] = '"';
		} else {
			out[len++] = toks[i].kind == LEX_SEMI   ? ';'
			             : toks[i].kind == LEX_OPEN ? '{'
			                                        : '}';
		}
		out[len++] = ' ';
	}
	CHECK(len <= cap);
	char *exact = fz_copy(out, len);
	free(out);
	long m = tokenize(exact, len, again, MAX_TOKENS, &nerr);
	free(exact);
	CHECK(m == n && nerr == 0);
	for (long i = 0; i < n; i++) {
		CHECK(again[i].kind == toks[i].kind && again[i].line == toks[i].line);
		if (toks[i].kind == LEX_WORD)
			CHECK(strcmp(again[i].word, toks[i].word) == 0);
		free(again[i].word);
		free(toks[i].word);
	}
}

static void check_conf(const struct conf *c)
{
	CHECK(c->path != NULL);
	CHECK(c->listen.n >= 1);
	for (size_t i = 0; i < c->nservices; i++) {
		const struct conf_service *s = &c->services[i];
		CHECK(s->name[0] == '/' && strpbrk(s->name, "?# \t") == NULL);
		CHECK(conf_service_find(c, s->name, strlen(s->name)) == s);
		CHECK(s->methods != 0);
		for (size_t k = 0; k < s->chain.n; k++)
			CHECK(module_find(s->chain.v[k]) != NULL);
	}
	const char *paths[] = {c->spool_dir, c->block_page, c->redis_secret_file};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		CHECK(paths[i] == NULL || paths[i][0] == '/');
	for (size_t i = 0; i < c->nmodules; i++)
		CHECK(c->modules[i].module != NULL && c->modules[i].mconf != NULL);
}

static void fuzz_conf_load(const uint8_t *data, size_t size)
{
	static struct fz_memfile mf;
	const char *path = fz_memfile_set(&mf, FILE_NAME, data, size);
	const char *base = strrchr(path, '/') + 1;
	char *msgs = NULL;
	size_t mlen = 0;
	FILE *err = open_memstream(&msgs, &mlen);
	CHECK(err != NULL);
	struct conf *c = conf_load(path, err);
	fclose(err);
	check_messages(msgs, mlen, base, 0);
	CHECK((c != NULL) == (mlen == 0));
	if (c != NULL) {
		check_conf(c);
		conf_free(c);
	}
	free(msgs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384) /* the parsers are linear: longer adds nothing */
		return 0;
	fuzz_lex(data, size);
	fuzz_conf_load(data, size);
	return 0;
}
