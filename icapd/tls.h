/*
 * tls: ICAP over TLS (icaps://) on the server side, with OpenSSL.
 *
 * The contexts, one per listen_tls, are built with the generation: the
 * certificate, key and client CA files are read then (at start-up, by
 * "icapd -t", and on each reload), so a new certificate serves the
 * connections accepted after the SIGHUP that loaded it. After "user" has
 * dropped root, a reload reads them as that user; files it may not read
 * leave the context loaded before in use (see tls_contexts_build). Errors
 * name the configuration file and the line of the listen_tls statement.
 *
 * The connection side is a thin wrapper over SSL_read_ex and SSL_write_ex
 * that conn.c calls from its own socket loop (see conn.c for why not
 * bufferevent_openssl).
 */
#ifndef ICAPD_TLS_H
#define ICAPD_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct conf;
struct generation;

/* The server contexts of one configuration, parallel to conf->listen_tls. */
struct tls_contexts {
	SSL_CTX **ctx;
	size_t n;
};

/*
 * Builds a context for each listen_tls of c: TLS 1.2 or later, the
 * certificate chain and its key, and with verify_client on, a client
 * certificate required and verified against client_ca. Returns the set
 * (empty when there is no listen_tls), or NULL after writing every problem
 * to errors as "file:line: ...".
 *
 * old is the running generation on a reload (else NULL). A statement the
 * same as one of old's whose files the process may no longer open
 * (EACCES: keys readable by root alone, after the drop of privileges)
 * keeps old's context, with a warning in the log, rather than failing the
 * reload; files it can read are read again, so a renewed certificate is
 * picked up when icapd's user may read it.
 */
struct tls_contexts *tls_contexts_build(const struct conf *c, const struct generation *old,
                                        FILE *errors);

void tls_contexts_free(struct tls_contexts *t);

/* The context g has for the listen_tls address addr, or NULL if g has none. */
SSL_CTX *tls_context_find(const struct generation *g, const char *addr);

/* A server-side SSL on the accepted socket fd; NULL if OpenSSL fails. */
SSL *tls_new(SSL_CTX *ctx, int fd);

/* What a read or write did, besides moving bytes. */
enum tls_io {
	TLS_IO_OK,         /* *n bytes moved (at least 1) */
	TLS_IO_WANT_READ,  /* call again once the socket is readable */
	TLS_IO_WANT_WRITE, /* call again once the socket is writable */
	TLS_IO_EOF,        /* the peer closed (close_notify, or a bare TCP close) */
	TLS_IO_FAILED,     /* a fatal error: the connection is unusable */
};

/* SSL_read_ex: decrypts at most len bytes into buf. */
enum tls_io tls_read(SSL *ssl, void *buf, size_t len, size_t *n);

/*
 * SSL_write_ex, with partial writes: returns after each record written.
 * After TLS_IO_WANT_*, call again with the same bytes first (they may have
 * moved) and at least as many of them.
 */
enum tls_io tls_write(SSL *ssl, const void *buf, size_t len, size_t *n);

/* Why the last TLS_IO_FAILED happened, as text in buf; clears OpenSSL's
 * error queue. */
const char *tls_why(SSL *ssl, char *buf, size_t len);

/* Sends close_notify when clean (once, without waiting), then frees ssl. */
void tls_free(SSL *ssl, bool clean);

#endif
