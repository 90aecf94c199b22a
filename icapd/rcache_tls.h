/*
 * rcache_tls: the TLS side of rcache's connection to Redis (OpenSSL, under
 * libevent's bufferevent_openssl): the client context, built once when the
 * rcache is made, and one SSL object per connection, set to verify the
 * server. Internal to rcache.c.
 */
#ifndef ICAPD_RCACHE_TLS_H
#define ICAPD_RCACHE_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct bufferevent;
struct rcache_config;

/*
 * The client context for cfg: TLS 1.2 or later; the server's certificate
 * always verified, against cfg->tls_ca (a PEM bundle) or else OpenSSL's
 * default CA paths; cfg->tls_cert and cfg->tls_key as the client's
 * certificate when given (both or neither). Returns NULL, with the reason
 * logged, when a file cannot be used.
 */
SSL_CTX *rcache_tls_ctx(const struct rcache_config *cfg);

/*
 * A new SSL for one connection to a server that must prove to be name: an
 * IP address (v4 or v6) is checked against the certificate's IP
 * addresses, and no SNI is sent (RFC 6066 has none for addresses); any
 * other name is sent as SNI and checked against the certificate's DNS
 * names. Returns NULL if OpenSSL fails.
 */
SSL *rcache_tls_ssl(SSL_CTX *ctx, const char *name);

/*
 * Writes to buf why the TLS connection of bev failed: the certificate check
 * when that failed, else the OpenSSL errors bev collected, else the socket
 * error sockerr (0: none known).
 */
void rcache_tls_why(struct bufferevent *bev, int sockerr, char *buf, size_t len);

#endif
