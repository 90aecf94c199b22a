/*
 * url_policy_impl: the loaded form of a URL policy, shared by its parser
 * (url_policy.c) and its evaluation (url_policy_decide.c); nothing else
 * includes it.
 */
#ifndef ICAPD_URL_POLICY_IMPL_H
#define ICAPD_URL_POLICY_IMPL_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "url_policy.h"

/* An address prefix, IPv4 as IPv4-mapped IPv6: address & mask == net,
 * in two big-endian halves. */
struct prefix {
	uint64_t net[2], mask[2];
};

struct group {
	char *name;
	int line;
	struct prefix *pfx;
	size_t npfx;
	char **users; /* sorted by ascii_casecmp */
	size_t nusers;
};

/* Minutes of the day [start, end); end <= start wraps into the next day. */
struct span {
	int start, end;
};

struct timewin {
	char *name;
	int line;
	unsigned days;      /* one bit per tm_wday (0 = Sunday); all if no "days" */
	struct span *spans; /* none: the whole day */
	size_t nspans;
};

/* A name a policy refers to; idx is set once the whole file is read. */
struct ref {
	char *name;
	int line;
	size_t idx;
};

struct rule {
	int line;
	bool block;
	bool is_default;
	int *cats;
	size_t ncats;
};

struct policy {
	char *name;
	int line;
	struct ref *groups; /* none: everyone */
	size_t ngroups;
	struct ref *times; /* none: always */
	size_t ntimes;
	struct rule *rules;
	size_t nrules;
};

struct url_policy {
	struct group *groups;
	size_t ngroups;
	struct timewin *times;
	size_t ntimes;
	struct policy *policies;
	size_t npolicies;
	bool uses_address, uses_user;
};

static inline int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

/* strcmp ignoring the case of ASCII letters only, whatever the locale. */
static inline int ascii_casecmp(const char *a, const char *b)
{
	for (; *a != 0 && lower((unsigned char)*a) == lower((unsigned char)*b); a++, b++)
		;
	return lower((unsigned char)*a) - lower((unsigned char)*b);
}

/*
 * Parses an address as text: IPv4 or IPv6, into the mapped form. *v4 tells
 * which. Returns false if s is neither.
 */
static inline bool parse_addr(const char *s, unsigned char a[16], bool *v4)
{
	*v4 = strchr(s, ':') == NULL;
	if (!*v4)
		return inet_pton(AF_INET6, s, a) == 1;
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	return inet_pton(AF_INET, s, a + 12) == 1;
}

static inline uint64_t load_be64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

#endif
