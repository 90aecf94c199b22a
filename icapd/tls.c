/*
 * tls: server contexts for listen_tls, and the calls conn.c makes on one
 * TLS connection.
 *
 * Settings, the same for every listener: TLS 1.2 at least (older versions
 * are refused in the handshake); no renegotiation (a client could make the
 * server redo expensive handshakes on one connection); OpenSSL's default
 * cipher list and security level (Debian's: SECLEVEL 2); session tickets
 * for resumption but no server-side session cache (tickets are stateless;
 * a cache would hold memory per client for nothing); partial writes and a
 * moving write buffer, because conn.c writes from the front of an evbuffer
 * that may be pulled up or grow between calls; read-ahead (whole records
 * per read); buffers released while a connection is idle (thousands of idle keep-alive connections
 * from Squid are normal, and OpenSSL's buffers are 34 KiB per connection).
 *
 * A key protected by a passphrase is refused with a clear message rather
 * than prompting on a terminal that a daemon does not have.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "generation.h"
#include "log.h"

/* The first queued OpenSSL error as text (or what), then an empty queue. */
static const char *ssl_reason(char *buf, size_t len, const char *what)
{
	unsigned long e = ERR_peek_error();
	if (e != 0) {
		const char *r = ERR_reason_error_string(e);
		snprintf(buf, len, "%s", r ? r : "OpenSSL error");
	} else {
		snprintf(buf, len, "%s", what);
	}
	ERR_clear_error();
	return buf;
}

static int no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	if (userdata != NULL)
		*(bool *)userdata = true;
	return 0;
}

/* True if path can be opened for reading; else writes why to errors. */
static bool readable(const char *path, const char *file, const struct conf_tls_listen *t,
                     const char *what, FILE *errors)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(errors, "%s:%d: listen_tls %s: %s %s: %s\n", file, t->line, t->addr, what,
		        path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

static SSL_CTX *build_one(const struct conf_tls_listen *t, const char *file, FILE *errors)
{
	char why[256];
	bool asked = false;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		fprintf(errors, "%s:%d: listen_tls %s: cannot create a TLS context: %s\n", file,
		        t->line, t->addr, ssl_reason(why, sizeof(why), "unknown error"));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                              SSL_MODE_RELEASE_BUFFERS);
	/* Read ahead: a record in one read() rather than its header and then
	 * its body in two. conn.c looks for the bytes this leaves in OpenSSL. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Resumed sessions must come from this server's contexts (and OpenSSL
	 * refuses to resume without it when client certificates are verified). */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"icapd", 5);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked);

	if (!readable(t->cert, file, t, "cert", errors))
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		fprintf(errors, "%s:%d: listen_tls %s: cert %s: %s\n", file, t->line, t->addr,
		        t->cert, ssl_reason(why, sizeof(why), "not a PEM certificate"));
		goto fail;
	}
	if (!readable(t->key, file, t, "key", errors))
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			goto mismatch;
		ssl_reason(why, sizeof(why), "not a PEM private key");
		fprintf(errors, "%s:%d: listen_tls %s: key %s: %s\n", file, t->line, t->addr,
		        t->key,
		        asked ? "protected by a passphrase (icapd needs the key unencrypted; keep "
		                "the file readable by icapd alone)"
		              : why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
	mismatch:
		ERR_clear_error();
		fprintf(errors, "%s:%d: listen_tls %s: key %s does not match cert %s\n", file,
		        t->line, t->addr, t->key, t->cert);
		goto fail;
	}
	if (t->client_ca != NULL) {
		if (!readable(t->client_ca, file, t, "client_ca", errors))
			goto fail;
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca);
		if (names == NULL || SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			fprintf(errors, "%s:%d: listen_tls %s: client_ca %s: %s\n", file, t->line,
			        t->addr, t->client_ca,
			        ssl_reason(why, sizeof(why), "no PEM certificates in it"));
			goto fail;
		}
		ERR_clear_error(); /* SSL_load_client_CA_file queues its end of file */
		/* The CA names tell the client which certificate to send. */
		SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (t->verify_client)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* The context old built from a listen_tls statement the same as t, or NULL. */
static SSL_CTX *same_statement(const struct generation *old, const struct conf_tls_listen *t)
{
	if (old == NULL || old->tls == NULL)
		return NULL;
	const struct conf *oc = old->conf;
	for (size_t i = 0; i < oc->nlisten_tls && i < old->tls->n; i++) {
		const struct conf_tls_listen *o = &oc->listen_tls[i];
		bool same_ca = (o->client_ca == NULL && t->client_ca == NULL) ||
		               (o->client_ca != NULL && t->client_ca != NULL &&
		                strcmp(o->client_ca, t->client_ca) == 0);
		if (strcmp(o->addr, t->addr) == 0 && strcmp(o->cert, t->cert) == 0 &&
		    strcmp(o->key, t->key) == 0 && same_ca && o->verify_client == t->verify_client)
			return old->tls->ctx[i];
	}
	return NULL;
}

/* The errno of the first of t's files that cannot be opened (its path in
 * *which), or 0. */
static int unreadable(const struct conf_tls_listen *t, const char **which)
{
	const char *files[] = {t->cert, t->key, t->client_ca};
	for (size_t i = 0; i < 3; i++) {
		if (files[i] == NULL)
			continue;
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			*which = files[i];
			return errno;
		}
		close(fd);
	}
	return 0;
}

struct tls_contexts *tls_contexts_build(const struct conf *c, const struct generation *old,
                                        FILE *errors)
{
	struct tls_contexts *t = calloc(1, sizeof(*t));
	if (t == NULL)
		abort();
	t->ctx = calloc(c->nlisten_tls ? c->nlisten_tls : 1, sizeof(*t->ctx));
	if (t->ctx == NULL)
		abort();
	bool failed = false;
	/* Every listener is tried, so that one run reports every bad file. */
	for (size_t i = 0; i < c->nlisten_tls; i++) {
		const struct conf_tls_listen *lt = &c->listen_tls[i];
		SSL_CTX *prev = same_statement(old, lt);
		const char *which = NULL;
		int e = prev != NULL ? unreadable(lt, &which) : 0;
		if (e == EACCES || e == EPERM) {
			/* Keys readable by root alone, after the drop of privileges:
			 * a reload must not fail for them (nor stop serving TLS). */
			SSL_CTX_up_ref(prev);
			t->ctx[i] = prev;
			t->n++;
			log_warn("listen_tls %s: %s: %s as uid %u; keeping the certificate and key "
			         "loaded before (new ones take a restart, or read access for "
			         "icapd's user)",
			         lt->addr, which, strerror(e), (unsigned)geteuid());
			continue;
		}
		t->ctx[i] = build_one(lt, c->path, errors);
		failed |= t->ctx[i] == NULL;
		t->n++;
	}
	if (failed) {
		tls_contexts_free(t);
		return NULL;
	}
	return t;
}

void tls_contexts_free(struct tls_contexts *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		SSL_CTX_free(t->ctx[i]);
	free(t->ctx);
	free(t);
}

SSL_CTX *tls_context_find(const struct generation *g, const char *addr)
{
	const struct conf *c = g->conf;
	for (size_t i = 0; g->tls != NULL && i < c->nlisten_tls && i < g->tls->n; i++)
		if (strcmp(c->listen_tls[i].addr, addr) == 0)
			return g->tls->ctx[i];
	return NULL;
}

SSL *tls_new(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

/* Maps the outcome of an SSL_*_ex call that moved nothing. */
static enum tls_io outcome(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_EOF;
	default:
		return TLS_IO_FAILED;
	}
}

enum tls_io tls_read(SSL *ssl, void *buf, size_t len, size_t *n)
{
	/* SSL_get_error reads this thread's error queue: it must start empty. */
	ERR_clear_error();
	int r = SSL_read_ex(ssl, buf, len, n);
	return r == 1 ? TLS_IO_OK : outcome(ssl, r);
}

enum tls_io tls_write(SSL *ssl, const void *buf, size_t len, size_t *n)
{
	ERR_clear_error();
	int r = SSL_write_ex(ssl, buf, len, n);
	return r == 1 ? TLS_IO_OK : outcome(ssl, r);
}

const char *tls_why(SSL *ssl, char *buf, size_t len)
{
	long vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK) {
		ERR_clear_error();
		snprintf(buf, len, "client certificate not accepted: %s",
		         X509_verify_cert_error_string(vr));
		return buf;
	}
	int err = errno;
	return ssl_reason(buf, len, err ? strerror(err) : "connection closed");
}

void tls_free(SSL *ssl, bool clean)
{
	if (ssl == NULL)
		return;
	if (clean && SSL_is_init_finished(ssl)) {
		ERR_clear_error();
		SSL_shutdown(ssl); /* one try: the socket closes right after */
		ERR_clear_error();
	}
	SSL_free(ssl);
}
