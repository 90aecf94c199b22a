/*
 * netacl: the networks a listener accepts connections from ("allow_clients
 * 10.0.0.0/8 ::1;"), checked on each accepted socket before a byte is read.
 *
 * Every network is held as IPv6: a.b.c.d/n is kept as ::ffff:a.b.c.d/(96+n),
 * so an IPv4 client that reaches a dual-stack [::] listener as an
 * IPv4-mapped address matches the same entries as on an IPv4 listener.
 * (An IPv6 entry that covers ::ffff:0:0/96, such as ::/0, therefore covers
 * IPv4 too.)
 */
#ifndef ICAPD_NETACL_H
#define ICAPD_NETACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct netacl_net {
	unsigned char addr[16]; /* host bits zero */
	unsigned char bits;     /* prefix length, 0 to 128 */
};

struct netacl {
	struct netacl_net *v;
	size_t n;
};

/*
 * Adds "a.b.c.d", "a.b.c.d/n", "v6" or "v6/n" to acl. A network with host
 * bits set ("10.1.2.3/8") is refused rather than silently widened or
 * narrowed. Returns 0, or -1 with a message in err.
 */
int netacl_add(struct netacl *acl, const char *cidr, char *err, size_t errlen);

/* True if the address of sa (AF_INET or AF_INET6) is in one of acl's networks. */
bool netacl_match(const struct netacl *acl, const struct sockaddr *sa);

void netacl_free(struct netacl *acl);

#endif
