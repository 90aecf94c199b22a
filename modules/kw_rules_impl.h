/*
 * kw_rules_impl: what kw_rules.c (loading) and kw_scan.c (matching) share:
 * the compiled rules. Not for other files; they use kw_rules.h.
 */
#ifndef ICAPD_KW_RULES_IMPL_H
#define ICAPD_KW_RULES_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "kw_match.h"
#include "kw_rules.h"

struct kw_rule {
	unsigned cat; /* category id */
	long weight;
	int line;
};

struct kw_regex {
	pcre2_code *code;
	unsigned rule;
};

struct kw_category {
	char *name;
	long threshold;
	int line;
	size_t nrules;
};

/* What a scan needs to match regexes: a match context with its own JIT
 * stack (the default 32 KiB one fails on ordinary patterns such as
 * "(\w+\s+)*x" over a few KiB of words; a stack must not be shared by two
 * matches at once) and match data. */
struct kw_rx_scratch {
	pcre2_match_context *mctx;
	pcre2_jit_stack *stack; /* NULL without JIT */
	pcre2_match_data *md;
};

/* Scratch spaces for the regexes: making one costs more than a small
 * message's matching, so scans borrow them from here and give them back
 * (kw_scan_new / kw_scan_free). The pool grows to the number of scans run
 * at once (the scan threads) and is freed with the rules. */
struct kw_scratch_pool {
	pthread_mutex_t lock;
	struct kw_rx_scratch **rx;
	size_t nrx, caprx;
};

struct kw_rules {
	char *path;       /* as given, for kw_rules_changed */
	const char *name; /* its last component, for kw_result.matched */
	struct kw_category *cats;
	size_t ncats;
	struct kw_rule *rules; /* phrases and regexes; a phrase's id in db is its index */
	size_t nrules, nphrases;
	struct kw_regex *regexes;
	size_t nregexes;
	struct kw_match *match; /* the phrases; NULL if there is none */
	struct kw_scratch_pool *pool;
	pcre2_match_context *mctx; /* the limits, copied into each kw_rx_scratch */
	char digest[65];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct kw_rx_scratch *kw_rx_scratch_get(const struct kw_rules *r);
void kw_rx_scratch_put(const struct kw_rules *r, struct kw_rx_scratch *x);

#endif
