/*
 * kw_rules: keyword rules, loaded and compiled, and the matching of
 * normalized text (kw_normalize.h) against them. The rules file uses the
 * block syntax of icapd.conf (lex.h):
 *
 *   category confidential {
 *       threshold 1;                 # blocks when the score reaches it
 *       phrase 秘密 1;                # literal text, weight
 *       phrase ひみつ 1;
 *       phrase "top secret" 2;
 *       phrase "secret santa" -2;    # negative: a harmless context
 *       regex "project\\s+bluebird" 3; # PCRE2, on the normalized text
 *   }
 *
 * Phrases are written once, in natural form; they are normalized when
 * loaded, like the text they are matched against. Every occurrence of a
 * phrase or regex adds its weight to its category (overlapping ones too,
 * which is how "secret santa" -2 cancels "secret" 1... within it).
 * Phrases are matched all at once by one kw_match matcher (kw_match.h) in
 * streaming mode, so that a phrase that straddles two writes is found
 * with only a short carry-over of the text kept; regexes by PCRE2 with
 * JIT and match and depth limits, over a sliding window of the stream (a regex match longer than
 * KW_REGEX_OVERLAP bytes may be missed where it straddles two windows),
 * within a CPU time budget per message (see kw_scan.c).
 *
 * Regexes are not normalized (that would break their syntax): they are
 * compiled caseless, UTF and UCP (\w, \d, \s follow Unicode), and their
 * hiragana are read as katakana, as in the text; write them otherwise in
 * normalized form: half-width ASCII and full-width katakana, and \s or one
 * space where the text may have any white space. In a quoted word the
 * tokenizer takes \ as an escape, so a regex's backslashes are doubled
 * there ("project\\s+bluebird"); a bare word keeps them (project\s+bluebird)
 * but ends at white space, ';', '{', '}', '#' or '"'.
 *
 * Checks, each reported as "file:line: message", all in one run:
 * threshold an integer from 1 to KW_WEIGHT_MAX, set once, in every
 * category; weights non-zero integers within +-KW_WEIGHT_MAX; a phrase
 * not empty and at most KW_PHRASE_MAX bytes once normalized; a regex that
 * compiles and cannot match empty text; category names of letters, digits,
 * '_', '-' and '.', each defined once and holding at least one rule; at
 * most KW_MAX_CATEGORIES categories, KW_MAX_REGEXES regexes, KW_MAX_RULES
 * rules, in a file of at most 16 MiB.
 *
 * Loaded rules are immutable and shared by all scan threads; the one
 * mutable part, a pool of scratch spaces that scans borrow (PCRE2 match
 * contexts with their JIT stacks), has its own lock. Every scan must be
 * freed before its rules.
 */
#ifndef ICAPD_KW_RULES_H
#define ICAPD_KW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kw_text.h"

#define KW_REGEX_OVERLAP 4096

/* Bounds on a rules file. Each regex is one more pass over the text, and a
 * scan keeps a score per category (a service names its categories). */
#define KW_MAX_CATEGORIES 64
#define KW_MAX_REGEXES    64
#define KW_MAX_RULES      100000
#define KW_PHRASE_MAX     1024    /* bytes, once normalized */
#define KW_REGEX_MAX      4096    /* bytes of a pattern */
#define KW_WEIGHT_MAX     1000000 /* and of a threshold */

struct kw_rules;

struct kw_rules_stats {
	size_t categories, phrases, regexes;
};

/* Reads and compiles path; errors as "file:line: message" (file as
 * given); NULL if there were any. stats may be NULL. */
struct kw_rules *kw_rules_load(const char *path, FILE *errors, struct kw_rules_stats *stats);
void kw_rules_free(struct kw_rules *r);

size_t kw_rules_ncategories(const struct kw_rules *r);
const char *kw_rules_category_name(const struct kw_rules *r, unsigned id);
int kw_rules_category_id(const struct kw_rules *r, const char *name);

/* Hex SHA-256 of the file's contents, for the ISTag. */
const char *kw_rules_digest(const struct kw_rules *r);
/* True if the file changed on disk since the load (stat). */
bool kw_rules_changed(const struct kw_rules *r);

/* One message's matching, on a scan thread. */
struct kw_scan;

/* Scores the categories cats[0..ncats) (ids; an unknown id or a repeated one
 * is ignored); the others are not matched. Borrows a regex scratch space
 * from the rules' pool (or makes one) if they have regexes. */
struct kw_scan *kw_scan_new(const struct kw_rules *r, const unsigned *cats, size_t ncats);

/* Normalized text; returns 0 (matching never stops the pipeline). */
int kw_scan_write(struct kw_scan *s, const char *p, size_t n);
struct kw_sink kw_scan_sink(struct kw_scan *s);

/*
 * When none of cats reached its threshold, category is -1 and score,
 * threshold and matched are those of the category with the highest score
 * (the first of cats on a tie; all 0 and "" with no cats). matched names
 * the file by its last component, each line once, in the order first
 * matched, as many as fit.
 */
struct kw_result {
	int category; /* the first of cats (in order) whose score reached its threshold, or -1 */
	long score;   /* its score (or the highest score when none reached) */
	long threshold;
	char matched[256]; /* "file:line file:line ..." of rules that added to it, for the log */
	const char
	        *error; /* NULL, or why matching failed (a regex limit): then judge as an error */
};

/* Ends the stream (matches at its end are counted) and fills res; no
 * write after it. */
void kw_scan_finish(struct kw_scan *s, struct kw_result *res);
/* Gives the scratch space back to the pool; finished or not. */
void kw_scan_free(struct kw_scan *s);

#endif
