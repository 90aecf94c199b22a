/*
 * rcache_value: encoding and checking the values rcache stores in Redis
 * (layout and signature: rcache.h). Internal to rcache.c.
 */
#ifndef ICAPD_RCACHE_VALUE_H
#define ICAPD_RCACHE_VALUE_H

#include <stddef.h>

#include "cache.h"

#define RCACHE_MAC_LEN 32
/* The longest value: the head, the longest module and reason, the MAC. */
#define RCACHE_VALUE_MAX                                                                           \
	(5 + sizeof(((struct cache_verdict *)0)->module) - 1 +                                     \
	 sizeof(((struct cache_verdict *)0)->reason) - 1 + RCACHE_MAC_LEN)

/*
 * Encodes v for key into out (RCACHE_VALUE_MAX bytes), signed with the
 * secret. Returns the length, or 0 if v is not a pass or a block or
 * OpenSSL fails. Strings without a NUL are cut as cache_put cuts them.
 */
size_t rcache_value_encode(const unsigned char *secret, size_t secret_len,
                           const unsigned char key[CACHE_KEY_LEN], const struct cache_verdict *v,
                           unsigned char *out);

/*
 * Decodes the len bytes of val read for key into *v. Returns NULL when it
 * parses and verifies under the secret, else what is wrong with it (for
 * the log).
 */
const char *rcache_value_decode(const unsigned char *secret, size_t secret_len,
                                const unsigned char key[CACHE_KEY_LEN], const unsigned char *val,
                                size_t len, struct cache_verdict *v);

#endif
