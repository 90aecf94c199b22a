/*
 * netaddr: "host:port" and "[v6]:port" as written in the configuration and
 * on the command line, to and from socket addresses. Numeric only: a daemon
 * that binds at start-up should not wait on DNS.
 */
#ifndef ICAPD_NETADDR_H
#define ICAPD_NETADDR_H

#include <sys/socket.h>

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parses s; out may be NULL to only check it. Returns 0 or -1. */
int netaddr_parse(const char *s, struct netaddr *out);

/* Writes the address without port into buf ("127.0.0.1", "::1"). */
void netaddr_host(const struct sockaddr *sa, char *buf, size_t len);

#endif
