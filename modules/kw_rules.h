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
 *       regex "project\s+bluebird" 3;  # PCRE2, on the normalized text
 *   }
 *
 * Phrases are written once, in natural form; they are normalized when
 * loaded, like the text they are matched against. Every occurrence of a
 * phrase or regex adds its weight to its category (overlapping ones too,
 * which is how "secret santa" -2 cancels "secret" 1... within it).
 * Phrases are matched all at once by one Vectorscan database in streaming
 * mode, so that a phrase that straddles two writes is found with no
 * copy of the text kept; regexes by PCRE2 with JIT and match and depth
 * limits, over a sliding window of the stream (a regex match longer than
 * KW_REGEX_OVERLAP bytes may be missed where it straddles two windows).
 *
 * Loaded rules are immutable and shared by all scan threads.
 */
#ifndef ICAPD_KW_RULES_H
#define ICAPD_KW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kw_text.h"

#define KW_REGEX_OVERLAP 4096

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

/* Scores the categories cats[0..ncats) (ids); the others are not matched. */
struct kw_scan *kw_scan_new(const struct kw_rules *r, const unsigned *cats, size_t ncats);

/* Normalized text; returns 0 (matching never stops the pipeline). */
int kw_scan_write(struct kw_scan *s, const char *p, size_t n);
struct kw_sink kw_scan_sink(struct kw_scan *s);

struct kw_result {
	int category; /* the first of cats (in order) whose score reached its threshold, or -1 */
	long score;   /* its score (or the highest score when none reached) */
	long threshold;
	char matched[256]; /* "file:line file:line ..." of rules that added to it, for the log */
	const char
	        *error; /* NULL, or why matching failed (a regex limit): then judge as an error */
};

void kw_scan_finish(struct kw_scan *s, struct kw_result *res);
void kw_scan_free(struct kw_scan *s);

#endif
