/*
 * url_policy: loading the URL filter's policy file (format and semantics
 * in url_policy.h) with the block-syntax tokenizer of icapd.conf (lex.h);
 * url_policy_decide.c evaluates it per request.
 *
 * Key decisions:
 * - Everything is resolved at load: category names to ids through the
 *   caller's callback, group and time names to indexes (after the whole
 *   file is read, so a policy may name a group defined further down),
 *   addresses to 128-bit network and mask pairs. IPv4 is kept as
 *   IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix length + 96), so one
 *   comparison serves both families and a mapped client address matches
 *   an IPv4 prefix.
 * - Mistakes are errors, never silently fixed: "10.0.0.1/8" is refused
 *   with the network it probably means, because masking it would hide a
 *   typo (was 10.0.0.1/32 meant?) and there is no channel for a warning.
 * - Loaded policies are immutable; url_policy_decide allocates nothing and
 *   takes no lock of ours, so all threads share one. A group's prefixes
 *   are scanned linearly (two masked 64-bit compares each), its user names
 *   are sorted at load and binary-searched; each rule's categories are
 *   compared with the URL's few matches. That is fine for hundreds of
 *   prefixes per group, any number of users (bench/bench_url_policy.c).
 * - Times are local wall-clock time (localtime_r), computed only when a
 *   policy with a window is reached. A window that wraps past midnight
 *   belongs to the day it starts on.
 */
#include "url_policy.h"

#include <stdlib.h>
#include <string.h>

#include "lex.h"
#include "url_policy_impl.h"

#define POLICY_MAX_FILE (16u << 20)

/* ---------------------------------------------------------------- helpers */

/* Makes room for element n of the array v (n elements used so far). */
static void *grow(void *v, size_t n, size_t size)
{
	if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
		v = realloc(v, (n == 0 ? 4 : 2 * n) * size);
		if (v == NULL)
			abort();
	}
	return v;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

static int cmp_users(const void *a, const void *b)
{
	return ascii_casecmp(*(char *const *)a, *(char *const *)b);
}

/* Whether a[0..n) is b, ignoring ASCII case. */
static bool ascii_caseeqn(const char *a, size_t n, const char *b)
{
	for (size_t i = 0; i < n; i++, b++)
		if (*b == 0 || lower((unsigned char)a[i]) != lower((unsigned char)*b))
			return false;
	return *b == 0;
}

/* Names end up in logs and ICAP headers: keep them plain. */
static bool name_ok(const char *s)
{
	if (*s == 0)
		return false;
	for (; *s != 0; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/*
 * Parses "192.0.2.7", "10.1.0.0/16", "2001:db8::/32" into out; on errors
 * writes the message into err.
 */
static bool parse_prefix(const char *s, struct prefix *out, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char a[16], net[16] = {0}, mask[16] = {0};
	const char *slash = strchr(s, '/');
	size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	bool v4;

	if (alen >= sizeof(buf))
		goto bad;
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (!parse_addr(buf, a, &v4))
		goto bad;
	unsigned max = v4 ? 32 : 128, len = max;
	if (slash != NULL) {
		const char *d = slash + 1;
		size_t nd = strspn(d, "0123456789");
		len = nd > 0 && nd <= 3 && d[nd] == 0 ? (unsigned)atoi(d) : max + 1;
		if (len > max) {
			snprintf(err, errlen, "\"%s\": the prefix length must be 0 to %u", s, max);
			return false;
		}
	}
	unsigned bits = len + (v4 ? 96 : 0);
	for (unsigned i = 0; i < bits / 8; i++)
		mask[i] = 0xff;
	if (bits % 8 != 0)
		mask[bits / 8] = (unsigned char)(0xff00u >> (bits % 8));
	for (int i = 0; i < 16; i++)
		net[i] = a[i] & mask[i];
	*out = (struct prefix){.net = {load_be64(net), load_be64(net + 8)},
	                       .mask = {load_be64(mask), load_be64(mask + 8)}};
	if (memcmp(net, a, 16) != 0) {
		char ntext[INET6_ADDRSTRLEN];
		if (v4)
			inet_ntop(AF_INET, net + 12, ntext, sizeof(ntext));
		else
			inet_ntop(AF_INET6, net, ntext, sizeof(ntext));
		snprintf(err, errlen, "\"%s\" has host bits set: the network is %s/%u", s, ntext,
		         len);
		return false;
	}
	return true;
bad:
	snprintf(err, errlen,
	         "\"%s\" is not an IP address or network (like 192.0.2.7, 10.1.0.0/16 or "
	         "2001:db8::/32)",
	         s);
	return false;
}

/* ---------------------------------------------------------------- parser */

struct parser {
	struct lex lx;
	struct url_policy *p;
	int (*category_id)(void *arg, const char *name);
	void *arg;
};

/* A statement: its first word and the words after it. */
struct stmt {
	int line;
	char *name;
	char **args;
	size_t nargs;
};

/* Reads a statement's words; the token that ends it stays current. */
static void stmt_read(struct parser *ps, struct stmt *st)
{
	*st = (struct stmt){.line = ps->lx.tok_line, .name = ps->lx.word};
	ps->lx.word = NULL;
	lex_next(&ps->lx);
	while (ps->lx.kind == LEX_WORD) {
		st->args = grow(st->args, st->nargs, sizeof(*st->args));
		st->args[st->nargs++] = ps->lx.word;
		ps->lx.word = NULL;
		lex_next(&ps->lx);
	}
}

static void stmt_free(struct stmt *st)
{
	for (size_t i = 0; i < st->nargs; i++)
		free(st->args[i]);
	free(st->args);
	free(st->name);
}

/*
 * Parses the statements of a block whose '{' was read, through its '}',
 * handing each complete "name args...;" to fn. what names the block in
 * messages ("group pupils"), line is where it opened.
 */
static void parse_body(struct parser *ps, const char *what, int line,
                       void (*fn)(struct parser *ps, struct stmt *st, void *obj), void *obj)
{
	for (;;) {
		if (ps->lx.kind == LEX_EOF) {
			lex_error(&ps->lx, ps->lx.line,
			          "missing \"}\" to close %s (opened at line %d)", what, line);
			return;
		}
		if (ps->lx.kind == LEX_CLOSE) {
			lex_next(&ps->lx);
			return;
		}
		if (ps->lx.kind != LEX_WORD) {
			if (ps->lx.kind != LEX_BAD)
				lex_error(&ps->lx, ps->lx.tok_line, "expected a directive");
			lex_skip_statement(&ps->lx);
			continue;
		}
		struct stmt st;
		stmt_read(ps, &st);
		if (ps->lx.kind == LEX_SEMI) {
			lex_next(&ps->lx);
			fn(ps, &st, obj);
		} else {
			/* An unterminated string was reported already. */
			if (ps->lx.kind != LEX_BAD)
				lex_error(&ps->lx, st.line, "\"%s\": missing \";\"", st.name);
			if (ps->lx.kind != LEX_CLOSE && ps->lx.kind != LEX_EOF)
				lex_skip_statement(&ps->lx);
		}
		stmt_free(&st);
	}
}

static bool need_values(struct parser *ps, const struct stmt *st)
{
	if (st->nargs == 0)
		lex_error(&ps->lx, st->line, "\"%s\" needs at least one value", st->name);
	return st->nargs > 0;
}

static void group_stmt(struct parser *ps, struct stmt *st, void *obj)
{
	struct group *g = obj;
	char err[256];

	if (strcmp(st->name, "address") == 0) {
		need_values(ps, st);
		for (size_t i = 0; i < st->nargs; i++) {
			g->pfx = grow(g->pfx, g->npfx, sizeof(*g->pfx));
			if (parse_prefix(st->args[i], &g->pfx[g->npfx], err, sizeof(err)))
				g->npfx++;
			else
				lex_error(&ps->lx, st->line, "%s", err);
		}
	} else if (strcmp(st->name, "user") == 0) {
		need_values(ps, st);
		for (size_t i = 0; i < st->nargs; i++) {
			if (st->args[i][0] == 0) {
				lex_error(&ps->lx, st->line, "empty user name");
				continue;
			}
			g->users = grow(g->users, g->nusers, sizeof(*g->users));
			g->users[g->nusers++] = st->args[i];
			st->args[i] = NULL; /* moved */
		}
	} else {
		lex_error(&ps->lx, st->line,
		          "unknown directive \"%s\" (a group holds \"address\" and \"user\")",
		          st->name);
	}
}

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int day_index(const char *s, size_t n)
{
	for (int i = 0; i < 7; i++)
		if (ascii_caseeqn(s, n, day_names[i]))
			return i;
	return -1;
}

/* "mon", "mon-fri" or "fri-mon" (wrapping through the weekend). */
static bool parse_days(const char *s, size_t n, unsigned *days)
{
	const char *dash = memchr(s, '-', n);
	int a = day_index(s, dash != NULL ? (size_t)(dash - s) : n);
	int b = dash != NULL ? day_index(dash + 1, n - (size_t)(dash + 1 - s)) : a;
	if (a < 0 || b < 0)
		return false;
	for (int i = a;; i = (i + 1) % 7) {
		*days |= 1u << i;
		if (i == b)
			return true;
	}
}

/* "8:00" or "08:00" into minutes; "24:00" only if end. */
static bool parse_clock(const char *s, size_t n, bool end, int *min)
{
	size_t h = 0;
	while (h < n && h < 3 && s[h] >= '0' && s[h] <= '9')
		h++;
	if (h < 1 || h > 2 || n != h + 3 || s[h] != ':' || s[h + 1] < '0' || s[h + 1] > '5' ||
	    s[h + 2] < '0' || s[h + 2] > '9')
		return false;
	int hours = h == 1 ? s[0] - '0' : (s[0] - '0') * 10 + s[1] - '0';
	int mins = (s[h + 1] - '0') * 10 + s[h + 2] - '0';
	if (hours > 24 || (hours == 24 && (!end || mins != 0)))
		return false;
	*min = hours * 60 + mins;
	return true;
}

/* Calls fn on each comma-separated piece of every value: "mon,wed fri". */
static void for_each_piece(struct parser *ps, struct stmt *st, void *obj,
                           void (*fn)(struct parser *, int, const char *, size_t, void *))
{
	for (size_t i = 0; i < st->nargs; i++)
		for (const char *s = st->args[i]; *s != 0;) {
			size_t n = strcspn(s, ",");
			if (n > 0)
				fn(ps, st->line, s, n, obj);
			s += n + (s[n] == ',');
		}
}

static void day_piece(struct parser *ps, int line, const char *s, size_t n, void *obj)
{
	struct timewin *t = obj;
	if (!parse_days(s, n, &t->days))
		lex_error(&ps->lx, line,
		          "unknown day \"%.*s\" (days are mon, tue, wed, thu, fri, sat, sun; "
		          "a range is like mon-fri)",
		          (int)n, s);
}

static void hours_piece(struct parser *ps, int line, const char *s, size_t n, void *obj)
{
	struct timewin *t = obj;
	const char *dash = memchr(s, '-', n);
	struct span sp;
	if (dash == NULL || !parse_clock(s, (size_t)(dash - s), false, &sp.start) ||
	    !parse_clock(dash + 1, n - (size_t)(dash + 1 - s), true, &sp.end)) {
		lex_error(
		        &ps->lx, line,
		        "bad hours \"%.*s\": expected HH:MM-HH:MM, like 08:00-12:30 or 22:00-06:00",
		        (int)n, s);
		return;
	}
	if (sp.start == sp.end) {
		lex_error(&ps->lx, line, "hours \"%.*s\" is an empty window", (int)n, s);
		return;
	}
	t->spans = grow(t->spans, t->nspans, sizeof(*t->spans));
	t->spans[t->nspans++] = sp;
}

struct time_parse {
	struct timewin *t;
	int days_line, hours_line;
};

static bool once(struct parser *ps, const struct stmt *st, int *seen)
{
	if (*seen != 0) {
		lex_error(&ps->lx, st->line, "\"%s\" is set twice (first at line %d)", st->name,
		          *seen);
		return false;
	}
	*seen = st->line;
	return true;
}

static void time_stmt(struct parser *ps, struct stmt *st, void *obj)
{
	struct time_parse *tp = obj;

	if (strcmp(st->name, "days") == 0) {
		if (once(ps, st, &tp->days_line) && need_values(ps, st)) {
			tp->t->days = 0;
			for_each_piece(ps, st, tp->t, day_piece);
		}
	} else if (strcmp(st->name, "hours") == 0) {
		if (once(ps, st, &tp->hours_line) && need_values(ps, st))
			for_each_piece(ps, st, tp->t, hours_piece);
	} else {
		lex_error(&ps->lx, st->line,
		          "unknown directive \"%s\" (a time holds \"days\" and \"hours\")",
		          st->name);
	}
}

struct policy_parse {
	struct policy *pol;
	int for_line, during_line, default_line;
};

/* Moves the values of st into refs (names resolved at the end of the file). */
static void add_refs(struct stmt *st, struct ref **refs, size_t *n)
{
	for (size_t i = 0; i < st->nargs; i++) {
		*refs = grow(*refs, *n, sizeof(**refs));
		(*refs)[(*n)++] = (struct ref){.name = st->args[i], .line = st->line};
		st->args[i] = NULL;
	}
	st->nargs = 0;
}

static void policy_stmt(struct parser *ps, struct stmt *st, void *obj)
{
	struct policy_parse *pp = obj;
	struct policy *pol = pp->pol;
	bool is_default = strcmp(st->name, "default") == 0;

	if (strcmp(st->name, "for") == 0) {
		if (once(ps, st, &pp->for_line) && need_values(ps, st))
			add_refs(st, &pol->groups, &pol->ngroups);
	} else if (strcmp(st->name, "during") == 0) {
		if (once(ps, st, &pp->during_line) && need_values(ps, st))
			add_refs(st, &pol->times, &pol->ntimes);
	} else if (is_default || strcmp(st->name, "allow") == 0 || strcmp(st->name, "block") == 0) {
		if (pp->default_line != 0) {
			lex_error(&ps->lx, st->line,
			          "\"%s\" after \"default\" (line %d) is never used", st->name,
			          pp->default_line);
			return;
		}
		struct rule r = {.line = st->line, .is_default = is_default};
		if (is_default) {
			pp->default_line = st->line;
			if (st->nargs != 1 || (strcmp(st->args[0], "allow") != 0 &&
			                       strcmp(st->args[0], "block") != 0)) {
				lex_error(&ps->lx, st->line, "\"default\" takes allow or block");
				return;
			}
			r.block = strcmp(st->args[0], "block") == 0;
		} else {
			r.block = strcmp(st->name, "block") == 0;
			if (!need_values(ps, st))
				return;
			for (size_t i = 0; i < st->nargs; i++) {
				int id = ps->category_id(ps->arg, st->args[i]);
				if (id < 0) {
					lex_error(&ps->lx, st->line, "unknown category \"%s\"",
					          st->args[i]);
					continue;
				}
				r.cats = grow(r.cats, r.ncats, sizeof(*r.cats));
				r.cats[r.ncats++] = id;
			}
		}
		pol->rules = grow(pol->rules, pol->nrules, sizeof(*pol->rules));
		pol->rules[pol->nrules++] = r;
	} else {
		lex_error(
		        &ps->lx, st->line,
		        "unknown directive \"%s\" (a policy holds \"for\", \"during\", \"allow\", "
		        "\"block\" and \"default\")",
		        st->name);
	}
}

/* Reports a second definition of name; first is where the first one is. */
static void check_twice(struct parser *ps, const char *kind, const char *name, int line, int first)
{
	if (first != 0)
		lex_error(&ps->lx, line, "%s %s is defined twice (first at line %d)", kind, name,
		          first);
}

/* "group NAME {", "time NAME {" or "policy NAME {" was read: its body. */
static void parse_block(struct parser *ps, const char *kind, const char *name, int line)
{
	struct url_policy *p = ps->p;
	char what[300];
	int errors_before = ps->lx.nerrors;
	int first = 0;

	snprintf(what, sizeof(what), "%s %s", kind, name);
	if (!name_ok(name))
		lex_error(&ps->lx, line,
		          "%s name \"%s\" may hold only letters, digits, \"_\", \"-\" and \".\"",
		          kind, name);
	if (kind[0] == 'g') {
		for (size_t i = 0; i < p->ngroups; i++)
			if (strcmp(p->groups[i].name, name) == 0 && first == 0)
				first = p->groups[i].line;
		check_twice(ps, kind, name, line, first);
		p->groups = grow(p->groups, p->ngroups, sizeof(*p->groups));
		struct group *g = &p->groups[p->ngroups++];
		*g = (struct group){.name = xstrdup(name), .line = line};
		parse_body(ps, what, line, group_stmt, g);
		if (g->npfx == 0 && g->nusers == 0 && ps->lx.nerrors == errors_before)
			lex_error(&ps->lx, line,
			          "group %s is empty: give it \"address\" or \"user\"", name);
		if (g->nusers > 1)
			qsort(g->users, g->nusers, sizeof(*g->users), cmp_users);
		p->uses_address |= g->npfx > 0;
		p->uses_user |= g->nusers > 0;
	} else if (kind[0] == 't') {
		for (size_t i = 0; i < p->ntimes; i++)
			if (strcmp(p->times[i].name, name) == 0 && first == 0)
				first = p->times[i].line;
		check_twice(ps, kind, name, line, first);
		p->times = grow(p->times, p->ntimes, sizeof(*p->times));
		struct timewin *t = &p->times[p->ntimes++];
		*t = (struct timewin){.name = xstrdup(name), .line = line, .days = 0x7f};
		struct time_parse tp = {.t = t};
		parse_body(ps, what, line, time_stmt, &tp);
		if (tp.days_line == 0 && tp.hours_line == 0 && ps->lx.nerrors == errors_before)
			lex_error(&ps->lx, line, "time %s is empty: give it \"days\" or \"hours\"",
			          name);
	} else {
		for (size_t i = 0; i < p->npolicies; i++)
			if (strcmp(p->policies[i].name, name) == 0 && first == 0)
				first = p->policies[i].line;
		check_twice(ps, kind, name, line, first);
		p->policies = grow(p->policies, p->npolicies, sizeof(*p->policies));
		struct policy *pol = &p->policies[p->npolicies++];
		*pol = (struct policy){.name = xstrdup(name), .line = line};
		struct policy_parse pp = {.pol = pol};
		parse_body(ps, what, line, policy_stmt, &pp);
		if (pol->nrules == 0 && ps->lx.nerrors == errors_before)
			lex_error(&ps->lx, line,
			          "policy %s has no rules (\"allow\", \"block\" or \"default\")",
			          name);
	}
}

static void parse_file(struct parser *ps)
{
	while (ps->lx.kind != LEX_EOF) {
		if (ps->lx.kind == LEX_CLOSE) {
			lex_error(&ps->lx, ps->lx.tok_line, "unexpected \"}\"");
			lex_next(&ps->lx);
			continue;
		}
		if (ps->lx.kind != LEX_WORD) {
			if (ps->lx.kind != LEX_BAD)
				lex_error(&ps->lx, ps->lx.tok_line,
				          "expected \"group\", \"time\" or \"policy\"");
			lex_skip_statement(&ps->lx);
			continue;
		}
		struct stmt st;
		stmt_read(ps, &st);
		if (strcmp(st.name, "group") != 0 && strcmp(st.name, "time") != 0 &&
		    strcmp(st.name, "policy") != 0) {
			lex_error(&ps->lx, st.line,
			          "unknown statement \"%s\" (expected \"group\", \"time\" or "
			          "\"policy\")",
			          st.name);
			lex_skip_statement(&ps->lx);
		} else if (st.nargs != 1 || ps->lx.kind != LEX_OPEN) {
			if (ps->lx.kind != LEX_BAD)
				lex_error(&ps->lx, st.line, "expected \"%s NAME {\"", st.name);
			lex_skip_statement(&ps->lx);
		} else {
			lex_next(&ps->lx);
			parse_block(ps, st.name, st.args[0], st.line);
		}
		stmt_free(&st);
	}
}

/* Resolves the group and time names of every policy, once all are known. */
static void resolve(struct parser *ps)
{
	struct url_policy *p = ps->p;
	for (size_t i = 0; i < p->npolicies; i++) {
		struct policy *pol = &p->policies[i];
		for (size_t j = 0; j < pol->ngroups; j++) {
			struct ref *r = &pol->groups[j];
			for (r->idx = 0; r->idx < p->ngroups; r->idx++)
				if (strcmp(p->groups[r->idx].name, r->name) == 0)
					break;
			if (r->idx == p->ngroups)
				lex_error(&ps->lx, r->line, "unknown group \"%s\"", r->name);
		}
		for (size_t j = 0; j < pol->ntimes; j++) {
			struct ref *r = &pol->times[j];
			for (r->idx = 0; r->idx < p->ntimes; r->idx++)
				if (strcmp(p->times[r->idx].name, r->name) == 0)
					break;
			if (r->idx == p->ntimes)
				lex_error(&ps->lx, r->line, "unknown time \"%s\"", r->name);
		}
	}
}

struct url_policy *url_policy_load(const char *path,
                                   int (*category_id)(void *arg, const char *name), void *arg,
                                   FILE *errors)
{
	size_t len;
	char *text = lex_read_file(path, POLICY_MAX_FILE, &len, errors);
	if (text == NULL)
		return NULL;
	struct url_policy *p = calloc(1, sizeof(*p));
	if (p == NULL)
		abort();
	struct parser ps = {.p = p, .category_id = category_id, .arg = arg};
	lex_init(&ps.lx, path, text, len, errors);
	parse_file(&ps);
	resolve(&ps);
	lex_done(&ps.lx);
	free(text);
	if (ps.lx.nerrors > 0) {
		url_policy_free(p);
		return NULL;
	}
	return p;
}

static void refs_free(struct ref *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(r[i].name);
	free(r);
}

void url_policy_free(struct url_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->ngroups; i++) {
		struct group *g = &p->groups[i];
		for (size_t j = 0; j < g->nusers; j++)
			free(g->users[j]);
		free(g->users);
		free(g->pfx);
		free(g->name);
	}
	for (size_t i = 0; i < p->ntimes; i++) {
		free(p->times[i].spans);
		free(p->times[i].name);
	}
	for (size_t i = 0; i < p->npolicies; i++) {
		struct policy *pol = &p->policies[i];
		for (size_t j = 0; j < pol->nrules; j++)
			free(pol->rules[j].cats);
		free(pol->rules);
		refs_free(pol->groups, pol->ngroups);
		refs_free(pol->times, pol->ntimes);
		free(pol->name);
	}
	free(p->groups);
	free(p->times);
	free(p->policies);
	free(p);
}

bool url_policy_uses_address(const struct url_policy *p)
{
	return p != NULL && p->uses_address;
}

bool url_policy_uses_user(const struct url_policy *p)
{
	return p != NULL && p->uses_user;
}
