/*
 * Fuzz target for url_policy.c and url_policy_decide.c: the data is a URL
 * policy file, read by url_policy_load from a memfd by its /proc/self/fd
 * path, with six known categories (adult, games, malware, phishing,
 * school_sites, social_networks); when it loads, decisions are taken for
 * clients made of a few addresses, user names and times, and URLs listed in
 * a few sets of those categories.
 *
 * Checked: the policy loads exactly when no error was reported, and every
 * message is one "PATH:LINE: ..." line; uses_address and uses_user only
 * when the file says "address" or "user". A decision names a category only
 * with the match that listed it (from the matches given), blocks or names
 * a category only with a rule (policy name and line); with no match it
 * names no category. What must not change a decision: the same call again,
 * an IPv4 client written IPv4-mapped ("::ffff:10.1.2.3") or with blanks
 * around it, a user name in other ASCII case. LeakSanitizer checks that a
 * failed load frees what it built. Violations abort.
 */
#include "fuzz_util.h"
#include "url_policy.h"

static const char *const categories[] = {"adult",    "games",        "malware",
                                         "phishing", "school_sites", "social_networks"};
#define NCATS (sizeof(categories) / sizeof(categories[0]))

static int category_id(void *arg, const char *name)
{
	(void)arg;
	for (size_t i = 0; i < NCATS; i++)
		if (strcmp(name, categories[i]) == 0)
			return (int)i;
	return -1;
}

static void check_messages(const char *msgs, size_t len, const char *path)
{
	size_t pl = strlen(path);
	CHECK(len == 0 || msgs[len - 1] == '\n');
	for (const char *p = msgs; p < msgs + len;) {
		const char *e = memchr(p, '\n', (size_t)(msgs + len - p));
		CHECK(e != NULL && (size_t)(e - p) > pl && memcmp(p, path, pl) == 0 &&
		      p[pl] == ':');
		char *end;
		long line = strtol(p + pl + 1, &end, 10);
		CHECK(line >= 1 && end[0] == ':');
		p = e + 1;
	}
}

static void check_decision(const struct url_decision *d, const struct url_match *m, size_t n)
{
	CHECK(d->category >= -1 && d->category < (int)NCATS);
	if (d->category >= 0) {
		CHECK(d->match != NULL && d->match >= m && d->match < m + n);
		CHECK((int)d->match->category == d->category);
	} else {
		CHECK(d->match == NULL);
	}
	if (d->policy == NULL)
		CHECK(!d->block && d->category == -1 && d->line == 0);
	else
		CHECK(d->line >= 1 && d->policy[0] != 0);
	if (n == 0)
		CHECK(d->category == -1);
}

static bool same(const struct url_decision *a, const struct url_decision *b)
{
	return a->block == b->block && a->category == b->category && a->match == b->match &&
	       a->line == b->line &&
	       (a->policy == b->policy ||
	        (a->policy && b->policy && !strcmp(a->policy, b->policy)));
}

static void decide(const struct url_policy *p, const struct url_client *cl,
                   const struct url_match *m, size_t n, struct url_decision *d)
{
	url_policy_decide(p, cl, m, n, d);
	check_decision(d, m, n);
	struct url_decision again;
	url_policy_decide(p, cl, m, n, &again);
	CHECK(same(d, &again));
}

static void decisions(const struct url_policy *p, uint64_t h)
{
	/* Pairs that must decide alike: [2k] and [2k + 1]. */
	static const char *const addrs[] = {
	        "10.1.2.3", "::ffff:10.1.2.3", "192.0.2.7",   " 192.0.2.7\t",
	        "10.2.0.1", "::FFFF:10.2.0.1", "2001:db8::1", "2001:DB8:0::1",
	        "bogus",    "bogus",           NULL,          NULL};
	static const char *const users[] = {"alice", "ALICE", "Bob", "bob", NULL, NULL};
	struct url_match m[NCATS];
	time_t base = (time_t)1700000000 + (time_t)(h % 604800);

	for (int set = 0; set < 4; set++) {
		/* The categories listed: none, then sets chosen by h. */
		size_t n = 0;
		uint64_t bits = set == 0 ? 0 : set == 3 ? 0x3f : (h >> (set * 6)) & 0x3f;
		for (unsigned c = 0; c < NCATS; c++)
			if (bits >> c & 1)
				m[n++] = (struct url_match){
				        .category = c, .file = "x/domains", .line = c + 1};
		for (int t = 0; t < 3; t++) {
			time_t now = base + (time_t)t * 9 * 3600;
			for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a += 2)
				for (size_t u = 0; u < sizeof(users) / sizeof(users[0]); u += 2) {
					struct url_decision d1, d2;
					struct url_client c1 = {addrs[a], users[u], now};
					struct url_client c2 = {addrs[a + 1], users[u + 1], now};
					decide(p, &c1, m, n, &d1);
					decide(p, &c2, m, n, &d2);
					CHECK(same(&d1, &d2));
				}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_memfile mf;
	if (size > 16384)
		return 0;
	const char *path = fz_memfile_set(&mf, "fuzz.policy", data, size);
	char *msgs = NULL;
	size_t mlen = 0;
	FILE *err = open_memstream(&msgs, &mlen);
	CHECK(err != NULL);
	struct url_policy *p = url_policy_load(path, category_id, NULL, err);
	fclose(err);
	check_messages(msgs, mlen, path);
	CHECK((p != NULL) == (mlen == 0));
	if (p != NULL) {
		if (url_policy_uses_address(p))
			CHECK(memmem(data, size, "address", 7) != NULL);
		if (url_policy_uses_user(p))
			CHECK(memmem(data, size, "user", 4) != NULL);
		decisions(p, fz_hash(data, size));
		url_policy_free(p);
	}
	/* No policy: everything is allowed. */
	struct url_decision d;
	struct url_client cl = {"10.1.2.3", "alice", 0};
	struct url_match one = {.category = 0, .file = "adult/domains", .line = 1};
	url_policy_decide(NULL, &cl, &one, 1, &d);
	CHECK(!d.block && d.category == -1 && d.policy == NULL);
	free(msgs);
	return 0;
}
