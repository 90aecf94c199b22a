/*
 * lex: the tokenizer of icapd's block syntax (nginx-like), shared by the
 * configuration file and the files modules read (URL policy, keyword
 * rules): words (bare, or "quoted" with \ escapes), ';', '{', '}', and '#'
 * comments to the end of the line. Errors are written as "file:line: ..."
 * and counted, so that a parser reports every mistake in one run.
 */
#ifndef ICAPD_LEX_H
#define ICAPD_LEX_H

#include <stddef.h>
#include <stdio.h>

enum lex_kind { LEX_EOF, LEX_WORD, LEX_SEMI, LEX_OPEN, LEX_CLOSE, LEX_BAD };

struct lex {
	const char *file; /* the name errors carry */
	const char *p, *end;
	int line;
	FILE *errors;
	int nerrors;
	/* The current token: a word is copied out, unquoted (owned by lex). */
	enum lex_kind kind;
	char *word;
	int tok_line;
};

/* Starts on text[0..len) (which must outlive lex) and reads the first
 * token. A NUL byte in the text is an error and reads as the end. */
void lex_init(struct lex *lx, const char *file, const char *text, size_t len, FILE *errors);

/* Moves to the next token. */
void lex_next(struct lex *lx);

/* Reports "file:line: message" and counts it. */
void lex_error(struct lex *lx, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Skips the rest of a statement after an error, with any block it opens. */
void lex_skip_statement(struct lex *lx);

/* Frees the current word. */
void lex_done(struct lex *lx);

/* Reads a whole file of at most max bytes, NUL-terminated; NULL with a
 * message on errors ("path: cannot open: ...") if it cannot. */
char *lex_read_file(const char *path, size_t max, size_t *len, FILE *errors);

#endif
