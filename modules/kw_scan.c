/*
 * kw_scan: one message's matching against loaded keyword rules (see
 * kw_rules.h), on a scan thread.
 *
 * Phrases: a stream of the rules' kw_match matcher; every match calls back
 * with the rule's index, and the weight goes to the rule's category if the
 * scan scores it.
 *
 * Regexes (only those of the scored categories): the text is gathered into
 * a window of KW_REGEX_OVERLAP + WINDOW_STEP bytes; each time it is full,
 * every regex runs over it, and the last KW_REGEX_OVERLAP bytes are kept as
 * the start of the next window, so a match that straddles two writes, or
 * two windows, is found whole. A match is counted in the window where it
 * starts before the kept tail (or in the last window); one that starts in
 * the tail is left for the next window, which sees what follows it. Each
 * regex remembers the absolute end of its last counted match and searches
 * on from there, so no stretch of text is counted twice. Memory is one
 * window per scan.
 *
 * Time: PCRE2's match limit stops exponential backtracking at one start
 * position, but a quadratic pattern ("(\w+\s+)*x": every start position
 * runs to the end of the subject) takes seconds over 64 KiB. So each
 * pcre2_match call is given at most SLICE + KW_REGEX_OVERLAP bytes of
 * subject (matches starting in its first SLICE bytes count; the rest is
 * searched again by the next call), which bounds one call to a fraction of
 * a second even then, and the CPU time the regexes take is checked between
 * calls against a budget of REGEX_TIME_BASE plus REGEX_TIME_PER_BYTE per
 * byte and regex: far above what any pattern that runs in linear time
 * needs. Either limit sets the result's error and stops the regexes (the
 * phrases go on): the caller judges the message as a scan error.
 *
 * A call's subject ends where its slice or window does, not where the text
 * does: such a call is made with PCRE2_NOTEOL, or "$" would match at every
 * slice's end ("(a+)+$" matched a long run of a's followed by more text).
 */

#include "kw_rules_impl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW_STEP         (60 * 1024)
#define SLICE               KW_REGEX_OVERLAP
#define REGEX_TIME_BASE     250000000ULL /* ns */
#define REGEX_TIME_PER_BYTE 100ULL       /* ns: 10 MB/s per regex */
#define WINDOW_CAP          (KW_REGEX_OVERLAP + WINDOW_STEP)
/* Rules remembered per category for kw_result.matched: more do not fit. */
#define HITS_MAX 32

struct kw_scan {
	const struct kw_rules *r;
	struct kw_match_stream *stream; /* NULL without phrases or categories */
	const char *error;
	bool finished;
	bool regex_stopped;
	size_t ncats;
	unsigned cats[KW_MAX_CATEGORIES];  /* by slot: category id */
	int slot[KW_MAX_CATEGORIES];       /* by category id: slot, or -1 */
	long score[KW_MAX_CATEGORIES];     /* by slot */
	unsigned nhits[KW_MAX_CATEGORIES]; /* by slot */
	unsigned hits[KW_MAX_CATEGORIES][HITS_MAX];
	/* Regexes of the scored categories. */
	size_t nrx;
	unsigned rx[KW_MAX_REGEXES];
	unsigned long long rx_done[KW_MAX_REGEXES]; /* absolute end of the last counted match */
	struct kw_rx_scratch *rxs;
	unsigned long long rx_ns, rx_mark; /* CPU time the regexes took; when last noted */
	char *win;
	size_t winlen;
	unsigned long long win_base; /* stream offset of win[0] */
};

/* One occurrence of rule i. */
static void add_hit(struct kw_scan *s, unsigned i)
{
	const struct kw_rule *rule = &s->r->rules[i];
	int sl = s->slot[rule->cat];
	if (sl < 0)
		return;
	if (__builtin_add_overflow(s->score[sl], rule->weight, &s->score[sl]))
		s->score[sl] = rule->weight > 0 ? __LONG_MAX__ : -__LONG_MAX__ - 1;
	unsigned n = s->nhits[sl];
	for (unsigned k = 0; k < n; k++)
		if (s->hits[sl][k] == i)
			return;
	if (n < HITS_MAX)
		s->hits[sl][s->nhits[sl]++] = i;
}

static void on_phrase(void *ctx, unsigned id)
{
	add_hit(ctx, id);
}

struct kw_scan *kw_scan_new(const struct kw_rules *r, const unsigned *cats, size_t ncats)
{
	struct kw_scan *s = calloc(1, sizeof(*s));
	if (s == NULL)
		abort();
	s->r = r;
	for (size_t i = 0; i < KW_MAX_CATEGORIES; i++)
		s->slot[i] = -1;
	for (size_t i = 0; i < ncats; i++) {
		if (cats[i] >= r->ncats || s->slot[cats[i]] >= 0)
			continue;
		s->slot[cats[i]] = (int)s->ncats;
		s->cats[s->ncats++] = cats[i];
	}
	for (size_t i = 0; i < r->nregexes; i++)
		if (s->slot[r->rules[r->regexes[i].rule].cat] >= 0)
			s->rx[s->nrx++] = (unsigned)i;
	if (s->nrx > 0) {
		s->rxs = kw_rx_scratch_get(r);
		s->win = malloc(WINDOW_CAP);
		if (s->win == NULL)
			abort();
	}
	if (r->match != NULL && s->ncats > 0)
		s->stream = kw_match_open(r->match, on_phrase, s);
	return s;
}

static bool is_limit(int rc)
{
	return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	       rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
}

static unsigned long long cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
}

/* Adds the CPU time since the last call to the regexes' account; false
 * (and the error set) when it is over the budget. */
static bool within_budget(struct kw_scan *s)
{
	unsigned long long now = cpu_ns();
	s->rx_ns += now - s->rx_mark;
	s->rx_mark = now;
	unsigned long long bytes = s->win_base + s->winlen;
	if (s->rx_ns <= REGEX_TIME_BASE + bytes * s->nrx * REGEX_TIME_PER_BYTE)
		return true;
	s->error = "regex time limit";
	s->regex_stopped = true;
	return false;
}

/* Runs the regexes over the window; final: the text ends with it. */
static void run_regexes(struct kw_scan *s, bool final)
{
	size_t limit = final ? s->winlen : s->winlen - KW_REGEX_OVERLAP;
	unsigned calls = 0;
	s->rx_mark = cpu_ns();
	for (size_t i = 0; i < s->nrx; i++) {
		const struct kw_regex *x = &s->r->regexes[s->rx[i]];
		size_t start = s->rx_done[i] > s->win_base ? s->rx_done[i] - s->win_base : 0;
		while (start < limit) {
			/* Matches that start before accept count in this call. */
			size_t accept = start + SLICE, end = accept + KW_REGEX_OVERLAP;
			if (end >= s->winlen) {
				end = s->winlen;
				accept = limit;
			}
			uint32_t eol = final && end == s->winlen ? 0 : PCRE2_NOTEOL;
			int rc = pcre2_match(x->code, (PCRE2_SPTR)s->win, end, start, eol,
			                     s->rxs->md, s->rxs->mctx);
			if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
				s->error =
				        is_limit(rc) ? "regex match limit" : "regex match failed";
				s->regex_stopped = true;
				return;
			}
			const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->rxs->md);
			if (rc == PCRE2_ERROR_NOMATCH || ov[0] >= accept) {
				start = accept; /* the next call sees it with what follows */
				if (!within_budget(s))
					return;
				continue;
			}
			if (ov[1] > ov[0]) {
				add_hit(s, x->rule);
				s->rx_done[i] = s->win_base + ov[1];
				start = ov[1];
			} else
				start = ov[0] + 1; /* empty (patterns that can are refused) */
			if (++calls % 64 == 0 && !within_budget(s))
				return;
		}
	}
	within_budget(s);
}

int kw_scan_write(struct kw_scan *s, const char *p, size_t n)
{
	if (s->finished || n == 0)
		return 0;
	if (s->stream != NULL)
		kw_match_write(s->stream, p, n);
	while (n > 0 && s->nrx > 0 && !s->regex_stopped) {
		size_t k = WINDOW_CAP - s->winlen;
		if (k > n)
			k = n;
		memcpy(s->win + s->winlen, p, k);
		s->winlen += k;
		p += k;
		n -= k;
		if (s->winlen < WINDOW_CAP)
			break;
		run_regexes(s, false);
		s->win_base += s->winlen - KW_REGEX_OVERLAP;
		memmove(s->win, s->win + s->winlen - KW_REGEX_OVERLAP, KW_REGEX_OVERLAP);
		s->winlen = KW_REGEX_OVERLAP;
	}
	return 0;
}

static int scan_sink_write(void *arg, const char *p, size_t n)
{
	return kw_scan_write(arg, p, n);
}

struct kw_sink kw_scan_sink(struct kw_scan *s)
{
	return (struct kw_sink){.write = scan_sink_write, .arg = s};
}

/* "file:line ..." of the rules that added to slot sl (a line once), as many
 * as fit. */
static void list_hits(const struct kw_scan *s, size_t sl, char *out, size_t size)
{
	size_t len = 0;
	out[0] = 0;
	for (unsigned k = 0; k < s->nhits[sl]; k++) {
		int line = s->r->rules[s->hits[sl][k]].line;
		bool seen = false;
		for (unsigned j = 0; j < k && !seen; j++)
			seen = s->r->rules[s->hits[sl][j]].line == line;
		if (seen)
			continue;
		char one[128];
		int n = snprintf(one, sizeof(one), "%s%s:%d", len ? " " : "", s->r->name, line);
		if (n < 0 || (size_t)n >= sizeof(one) || len + (size_t)n >= size)
			break;
		memcpy(out + len, one, (size_t)n + 1);
		len += (size_t)n;
	}
}

void kw_scan_finish(struct kw_scan *s, struct kw_result *res)
{
	if (!s->finished) {
		s->finished = true;
		if (s->stream != NULL)
			kw_match_finish(s->stream);
		if (s->nrx > 0 && !s->regex_stopped && s->winlen > 0)
			run_regexes(s, true);
	}
	*res = (struct kw_result){.category = -1, .error = s->error};
	if (s->ncats == 0)
		return;
	size_t best = 0;
	bool reached = false;
	for (size_t i = 0; i < s->ncats && !reached; i++) {
		if (s->score[i] >= s->r->cats[s->cats[i]].threshold) {
			best = i;
			reached = true;
		} else if (s->score[i] > s->score[best])
			best = i;
	}
	if (reached)
		res->category = (int)s->cats[best];
	res->score = s->score[best];
	res->threshold = s->r->cats[s->cats[best]].threshold;
	list_hits(s, best, res->matched, sizeof(res->matched));
}

void kw_scan_free(struct kw_scan *s)
{
	if (s == NULL)
		return;
	kw_match_close(s->stream);
	if (s->rxs != NULL)
		kw_rx_scratch_put(s->r, s->rxs);
	free(s->win);
	free(s);
}
