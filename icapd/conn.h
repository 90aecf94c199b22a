/*
 * conn: one ICAP client connection, plain or TLS: its buffers, its timer,
 * and the transaction it is running. It owns all I/O and every timeout;
 * transactions only see buffers.
 */
#ifndef ICAPD_CONN_H
#define ICAPD_CONN_H

#include <event2/util.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "server.h"

/* Takes over fd, an accepted socket, and ssl, the TLS session on it (NULL:
 * plain TCP; see tls_new), which it frees. */
void conn_new(struct server *s, evutil_socket_t fd, const struct sockaddr *peer, int peerlen,
              SSL *ssl);

/* Shutdown: closes the connections that are between requests; the others
 * close once their transaction ends. */
void conn_close_idle(struct server *s);

/* The scanners (or scan threads) have room again: connections that stopped reading
 * their bodies read on. (A workq drained hook; arg is the server.) */
void conn_resume_scan_waiters(void *arg);

/* Frees every connection at once (the shutdown deadline passed). */
void conn_close_all(struct server *s);

#endif
