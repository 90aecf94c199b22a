/*
 * rcache_tls: OpenSSL settings for the connection to Redis. There is no
 * way to turn verification off: a verdict cache that anyone on the path
 * can answer would be as bad as unsigned entries (rcache.h), and the HMAC
 * does not hide which objects are being fetched. The context is built once
 * (rcache_new), so a changed certificate or key is read at the next start.
 */
#include "rcache_tls.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "rcache.h"

/* The first OpenSSL error queued on this thread, as text (or ""); clears
 * the queue. */
static const char *ssl_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	buf[0] = 0;
	if (e != 0)
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

SSL_CTX *rcache_tls_ctx(const struct rcache_config *cfg)
{
	char err[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		log_error("redis: cannot create a TLS context: %s", ssl_error(err, sizeof(err)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (cfg->tls_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1) {
			log_error("redis_tls_ca %s: %s", cfg->tls_ca, ssl_error(err, sizeof(err)));
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		log_error("redis: cannot load the system's CA certificates: %s",
		          ssl_error(err, sizeof(err)));
		goto fail;
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		log_error(
		        "redis: a client certificate needs both redis_tls_cert and redis_tls_key");
		goto fail;
	}
	if (cfg->tls_cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
			log_error("redis_tls_cert %s: %s", cfg->tls_cert,
			          ssl_error(err, sizeof(err)));
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
			log_error("redis_tls_key %s: %s", cfg->tls_key,
			          ssl_error(err, sizeof(err)));
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			log_error("redis_tls_key %s does not match redis_tls_cert %s", cfg->tls_key,
			          cfg->tls_cert);
			goto fail;
		}
	}
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static bool is_ip(const char *name)
{
	unsigned char a[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

SSL *rcache_tls_ssl(SSL_CTX *ctx, const char *name)
{
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL)
		return NULL;
	bool ok;
	if (is_ip(name)) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
	}
	if (!ok) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

void rcache_tls_why(struct bufferevent *bev, int sockerr, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e, first = 0;
	bool syscall = false;
	/* libevent queues OpenSSL's errors, and also bare SSL_ERROR_* codes
	 * (no library in them) for I/O that failed under TLS. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) == 0)
			syscall = true;
		else if (first == 0)
			first = e;
	}
	if (vr != X509_V_OK) {
		snprintf(buf, len, "TLS: server certificate not accepted: %s",
		         X509_verify_cert_error_string(vr));
	} else if (first != 0) {
		char err[200];
		ERR_error_string_n(first, err, sizeof(err));
		snprintf(buf, len, "TLS: %s", err);
	} else if (sockerr != 0) {
		snprintf(buf, len, "%s", evutil_socket_error_to_string(sockerr));
	} else if (syscall) {
		snprintf(buf, len, "TLS: connection closed by the server");
	} else {
		buf[0] = 0;
	}
}
