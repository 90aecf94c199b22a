/*
 * url_policy_decide: a loaded URL policy (url_policy_impl.h) applied to
 * one request. It runs on the event loop for every request, so it
 * allocates nothing and stays in the microsecond range: the client's
 * address is parsed once, the local time computed only when a policy with
 * a window is reached, prefixes scanned with two masked compares each,
 * user names binary-searched.
 */
#include <stdlib.h>
#include <time.h>

#include "url_policy_impl.h"

static int cmp_user_key(const void *key, const void *elem)
{
	return ascii_casecmp(key, *(char *const *)elem);
}

static bool prefix_match(const struct prefix *p, const uint64_t a[2])
{
	return ((a[0] & p->mask[0]) ^ p->net[0]) == 0 && ((a[1] & p->mask[1]) ^ p->net[1]) == 0;
}

/* What decide learns about the client, the local time only when needed. */
struct client_view {
	const struct url_client *cl;
	bool have_addr;
	uint64_t addr[2];
	int tm_state; /* 0: not yet, 1: known, -1: localtime_r failed */
	int wday, minute;
};

/* The X-Client-IP text, with blanks around it, as a mapped address. */
static bool client_addr(const char *s, uint64_t addr[2])
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char a[16];
	bool v4;
	s += strspn(s, " \t");
	size_t n = strcspn(s, " \t");
	if (n >= sizeof(buf) || s[n + strspn(s + n, " \t")] != 0)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (!parse_addr(buf, a, &v4))
		return false;
	addr[0] = load_be64(a);
	addr[1] = load_be64(a + 8);
	return true;
}

static bool group_match(const struct group *g, const struct client_view *v)
{
	if (v->have_addr)
		for (size_t i = 0; i < g->npfx; i++)
			if (prefix_match(&g->pfx[i], v->addr))
				return true;
	return v->cl->user != NULL && g->nusers > 0 &&
	       bsearch(v->cl->user, g->users, g->nusers, sizeof(*g->users), cmp_user_key) != NULL;
}

static bool time_match(const struct timewin *t, struct client_view *v)
{
	if (v->tm_state == 0) {
		struct tm tm;
		v->tm_state = -1;
		if (localtime_r(&v->cl->now, &tm) != NULL) {
			v->tm_state = 1;
			v->wday = tm.tm_wday;
			v->minute = tm.tm_hour * 60 + tm.tm_min;
		}
	}
	if (v->tm_state < 0)
		return false;
	bool today = t->days >> v->wday & 1, yesterday = t->days >> (v->wday + 6) % 7 & 1;
	if (t->nspans == 0)
		return today;
	for (size_t i = 0; i < t->nspans; i++) {
		const struct span *s = &t->spans[i];
		if (s->start < s->end) {
			if (today && v->minute >= s->start && v->minute < s->end)
				return true;
		} else if ((today && v->minute >= s->start) || (yesterday && v->minute < s->end)) {
			return true; /* wrapped: the part after midnight is the day before's */
		}
	}
	return false;
}

/* Whether the policy applies to the client now. */
static bool policy_applies(const struct url_policy *p, const struct policy *pol,
                           struct client_view *v)
{
	bool ok = pol->ngroups == 0;
	for (size_t i = 0; i < pol->ngroups && !ok; i++)
		ok = group_match(&p->groups[pol->groups[i].idx], v);
	if (!ok)
		return false;
	ok = pol->ntimes == 0;
	for (size_t i = 0; i < pol->ntimes && !ok; i++)
		ok = time_match(&p->times[pol->times[i].idx], v);
	return ok;
}

void url_policy_decide(const struct url_policy *p, const struct url_client *cl,
                       const struct url_match *matches, size_t n, struct url_decision *d)
{
	*d = (struct url_decision){.block = false, .category = -1};
	if (p == NULL)
		return;
	struct client_view v = {.cl = cl};
	v.have_addr = p->uses_address && cl->address != NULL && client_addr(cl->address, v.addr);

	for (size_t i = 0; i < p->npolicies; i++) {
		const struct policy *pol = &p->policies[i];
		if (!policy_applies(p, pol, &v))
			continue;
		for (size_t j = 0; j < pol->nrules; j++) {
			const struct rule *r = &pol->rules[j];
			const struct url_match *m = NULL;
			int cat = -1;
			for (size_t k = 0; k < r->ncats && m == NULL; k++)
				for (size_t x = 0; x < n; x++)
					if (matches[x].category == (unsigned)r->cats[k]) {
						m = &matches[x];
						cat = r->cats[k];
						break;
					}
			if (m == NULL && !r->is_default)
				continue;
			*d = (struct url_decision){.block = r->block,
			                           .category = cat,
			                           .match = m,
			                           .policy = pol->name,
			                           .line = r->line};
			return;
		}
	}
}
