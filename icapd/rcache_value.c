/*
 * rcache_value: the values of the shared tier, version 1 of the layout in
 * rcache.h: a short head, the module and the reason, and an HMAC-SHA-256
 * that binds them to the cache key. Decoding checks every length before
 * the MAC and the MAC before any field, and compares MACs in constant time.
 */
#include "rcache_value.h"

#include <assert.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define VALUE_VERSION 1
#define HEAD_LEN      5
#define MODULE_MAX    (sizeof(((struct cache_verdict *)0)->module) - 1)
#define REASON_MAX    (sizeof(((struct cache_verdict *)0)->reason) - 1)

/* HMAC-SHA-256 under the secret of key || the len bytes of rec (a record,
 * at most RCACHE_VALUE_MAX - RCACHE_MAC_LEN bytes) into out. Returns false
 * if OpenSSL fails. */
static bool value_mac(const unsigned char *secret, size_t secret_len,
                      const unsigned char key[CACHE_KEY_LEN], const unsigned char *rec, size_t len,
                      unsigned char out[RCACHE_MAC_LEN])
{
	unsigned char msg[CACHE_KEY_LEN + RCACHE_VALUE_MAX];
	unsigned out_len = 0;
	assert(len <= RCACHE_VALUE_MAX - RCACHE_MAC_LEN);
	memcpy(msg, key, CACHE_KEY_LEN);
	memcpy(msg + CACHE_KEY_LEN, rec, len);
	return HMAC(EVP_sha256(), secret, (int)secret_len, msg, CACHE_KEY_LEN + len, out,
	            &out_len) != NULL &&
	       out_len == RCACHE_MAC_LEN;
}

size_t rcache_value_encode(const unsigned char *secret, size_t secret_len,
                           const unsigned char key[CACHE_KEY_LEN], const struct cache_verdict *v,
                           unsigned char *out)
{
	if (v->kind != CACHE_PASS && v->kind != CACHE_BLOCK)
		return 0;
	/* Strings that fill their array without a NUL are cut as cache_put cuts
	 * them: copy them terminated, then let cache_verdict_set trim. */
	char module[sizeof(v->module) + 1], reason[sizeof(v->reason) + 1];
	snprintf(module, sizeof(module), "%.*s", (int)sizeof(v->module), v->module);
	snprintf(reason, sizeof(reason), "%.*s", (int)sizeof(v->reason), v->reason);
	struct cache_verdict c;
	cache_verdict_set(&c, v->kind, v->is_threat, module, reason);

	size_t m = strlen(c.module), r = strlen(c.reason);
	out[0] = VALUE_VERSION;
	out[1] = c.kind;
	out[2] = c.is_threat ? 1 : 0;
	out[3] = (unsigned char)m;
	out[4] = (unsigned char)r;
	memcpy(out + HEAD_LEN, c.module, m);
	memcpy(out + HEAD_LEN + m, c.reason, r);
	size_t len = HEAD_LEN + m + r;
	if (!value_mac(secret, secret_len, key, out, len, out + len))
		return 0;
	return len + RCACHE_MAC_LEN;
}

const char *rcache_value_decode(const unsigned char *secret, size_t secret_len,
                                const unsigned char key[CACHE_KEY_LEN], const unsigned char *val,
                                size_t len, struct cache_verdict *v)
{
	if (len < HEAD_LEN + RCACHE_MAC_LEN || len > RCACHE_VALUE_MAX)
		return "bad length";
	if (val[0] != VALUE_VERSION)
		return "unknown version";
	size_t m = val[3], r = val[4];
	if (m > MODULE_MAX || r > REASON_MAX || len != HEAD_LEN + m + r + RCACHE_MAC_LEN)
		return "bad length";
	unsigned char mac[RCACHE_MAC_LEN];
	if (!value_mac(secret, secret_len, key, val, len - RCACHE_MAC_LEN, mac))
		return "HMAC failed";
	if (CRYPTO_memcmp(mac, val + len - RCACHE_MAC_LEN, RCACHE_MAC_LEN) != 0)
		return "bad MAC";
	/* Signed by a holder of the secret, so only a bug writes these. */
	if (val[1] > CACHE_BLOCK || val[2] > 1 || memchr(val + HEAD_LEN, 0, m + r) != NULL)
		return "bad field";
	memset(v, 0, sizeof(*v));
	v->kind = val[1];
	v->is_threat = val[2] == 1;
	memcpy(v->module, val + HEAD_LEN, m);
	memcpy(v->reason, val + HEAD_LEN + m, r);
	return NULL;
}
