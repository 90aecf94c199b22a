/*
 * netacl: CIDR lists, parsed when the configuration is read and matched by
 * a linear scan at accept (lists are a handful of networks; a scan of 16
 * bytes each costs less than the accept itself).
 */
#include "netacl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hdr_parse.h"

/* addr as an IPv6 address; IPv4 as ::ffff:a.b.c.d. */
static void mapped_v4(unsigned char out[16], const void *v4)
{
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

/* True if a and b agree on their first bits bits. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff00u >> rest);
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

int netacl_add(struct netacl *acl, const char *cidr, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(cidr, '/');
	size_t hl = slash ? (size_t)(slash - cidr) : strlen(cidr);
	struct netacl_net net;
	unsigned max;

	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, cidr, hl);
	host[hl] = 0;
	unsigned char raw[16];
	if (inet_pton(AF_INET, host, raw) == 1) {
		mapped_v4(net.addr, raw);
		max = 32;
	} else if (inet_pton(AF_INET6, host, net.addr) == 1) {
		max = 128;
	} else {
		goto bad;
	}
	unsigned long long bits = max;
	if (slash != NULL && hdr_parse_uint(slash + 1, strlen(slash + 1), max, &bits) < 0)
		goto bad;
	net.bits = (unsigned char)(bits + (max == 32 ? 96 : 0));
	/* Host bits must be zero: "10.1.2.3/8" is more likely a typo than a wish. */
	for (unsigned b = net.bits; b < 128; b++) {
		if (net.addr[b / 8] & (0x80u >> (b % 8))) {
			snprintf(err, errlen, "\"%s\" has bits set past its /%llu prefix", cidr,
			         bits);
			return -1;
		}
	}
	struct netacl_net *v = realloc(acl->v, (acl->n + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	acl->v = v;
	acl->v[acl->n++] = net;
	return 0;
bad:
	snprintf(err, errlen, "\"%s\" is not a network (a.b.c.d/n or an IPv6 address/n)", cidr);
	return -1;
}

bool netacl_match(const struct netacl *acl, const struct sockaddr *sa)
{
	unsigned char a[16];
	if (sa->sa_family == AF_INET)
		mapped_v4(a, &((const struct sockaddr_in *)sa)->sin_addr);
	else if (sa->sa_family == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return false;
	for (size_t i = 0; i < acl->n; i++)
		if (prefix_equal(a, acl->v[i].addr, acl->v[i].bits))
			return true;
	return false;
}

void netacl_free(struct netacl *acl)
{
	free(acl->v);
	acl->v = NULL;
	acl->n = 0;
}
