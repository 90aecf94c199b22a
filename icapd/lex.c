/*
 * lex: the tokenizer of icapd's block syntax (see lex.h).
 */
#include "lex.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void lex_error(struct lex *lx, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(lx->errors, "%s:%d: ", lx->file, line);
	va_start(ap, fmt);
	vfprintf(lx->errors, fmt, ap);
	va_end(ap);
	fputc('\n', lx->errors);
	lx->nerrors++;
}

static bool is_special(char c)
{
	return c == ';' || c == '{' || c == '}' || c == '#' || c == '"';
}

static void skip_blanks_and_comments(struct lex *lx)
{
	for (;;) {
		while (lx->p < lx->end && isspace((unsigned char)*lx->p)) {
			if (*lx->p == '\n')
				lx->line++;
			lx->p++;
		}
		if (lx->p < lx->end && *lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		return;
	}
}

static void push(char **w, size_t *n, size_t *cap, char c)
{
	if (*n + 2 > *cap && (*w = realloc(*w, *cap *= 2)) == NULL)
		abort();
	(*w)[(*n)++] = c;
}

void lex_next(struct lex *lx)
{
	free(lx->word);
	lx->word = NULL;
	skip_blanks_and_comments(lx);
	lx->tok_line = lx->line;
	if (lx->p >= lx->end) {
		lx->kind = LEX_EOF;
		return;
	}
	char c = *lx->p;
	if (c == ';' || c == '{' || c == '}') {
		lx->kind = c == ';' ? LEX_SEMI : c == '{' ? LEX_OPEN : LEX_CLOSE;
		lx->p++;
		return;
	}
	size_t cap = 16, n = 0;
	char *w = malloc(cap);
	if (w == NULL)
		abort();
	if (c == '"') {
		lx->p++;
		for (;;) {
			if (lx->p >= lx->end || *lx->p == '\n') {
				lex_error(lx, lx->tok_line, "unterminated string");
				free(w);
				lx->kind = LEX_BAD;
				return;
			}
			if (*lx->p == '"') {
				lx->p++;
				break;
			}
			if (*lx->p == '\\' && lx->p + 1 < lx->end && lx->p[1] != '\n')
				lx->p++;
			push(&w, &n, &cap, *lx->p++);
		}
	} else {
		while (lx->p < lx->end && !isspace((unsigned char)*lx->p) && !is_special(*lx->p))
			push(&w, &n, &cap, *lx->p++);
	}
	w[n] = 0;
	lx->word = w;
	lx->kind = LEX_WORD;
}

void lex_init(struct lex *lx, const char *file, const char *text, size_t len, FILE *errors)
{
	*lx = (struct lex){.file = file, .p = text, .end = text + len, .line = 1, .errors = errors};
	if (memchr(text, 0, len) != NULL) {
		lex_error(lx, 1, "file holds a NUL byte");
		lx->p = lx->end;
	}
	lex_next(lx);
}

void lex_skip_statement(struct lex *lx)
{
	int depth = 0;
	while (lx->kind != LEX_EOF) {
		if (lx->kind == LEX_OPEN)
			depth++;
		else if (lx->kind == LEX_CLOSE && --depth <= 0) {
			lex_next(lx);
			return;
		} else if (lx->kind == LEX_SEMI && depth == 0) {
			lex_next(lx);
			return;
		}
		lex_next(lx);
	}
}

void lex_done(struct lex *lx)
{
	free(lx->word);
	lx->word = NULL;
}

char *lex_read_file(const char *path, size_t max, size_t *len, FILE *errors)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(errors, "%s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (buf == NULL)
			abort();
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		if (cap >= max) {
			fprintf(errors, "%s: larger than %zu bytes\n", path, max);
			free(buf);
			fclose(f);
			return NULL;
		}
		cap = cap * 2 > max ? max + 1 : cap * 2;
		buf = realloc(buf, cap + 1);
	}
	bool failed = ferror(f);
	fclose(f);
	if (failed) {
		fprintf(errors, "%s: read error\n", path);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}
