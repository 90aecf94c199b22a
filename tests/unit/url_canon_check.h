/*
 * Helpers shared by test_url_canon.c and test_url_canon_request.c: inputs
 * copied to heap buffers of their exact size (so that AddressSanitizer sees
 * a read past the length given) and the checks every successful result
 * must pass. Include after cmocka.h and the C library headers.
 */
#ifndef TEST_URL_CANON_CHECK_H
#define TEST_URL_CANON_CHECK_H

#include "url_canon.h"

#define LIT(s) s, sizeof(s) - 1

static inline char *dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

static inline int canon_exact(const char *in, size_t n, struct url_canon *c)
{
	char *p = dup_exact(in, n);
	int rc = url_canon_url(p, n, c);
	free(p);
	return rc;
}

/* What every successful result must look like. */
static inline void check_well_formed(const struct url_canon *c)
{
	assert_true(c->host_len > 0 && c->host_len < URL_CANON_HOST_MAX);
	assert_int_equal(strlen(c->host), c->host_len);
	for (size_t k = 0; k < c->host_len; k++) {
		char ch = c->host[k];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		          ch == '_' || ch == '.' ||
		          (c->host_kind == URL_HOST_IPV6 && (ch == ':' || ch == '[' || ch == ']'));
		assert_true(ok);
	}
	if (c->host_kind == URL_HOST_NAME) {
		assert_true(c->host_len <= 253);
		assert_true(c->host[0] != '.' && c->host[c->host_len - 1] != '.');
		assert_null(strstr(c->host, ".."));
	}
	assert_true(c->port <= 65535);
	assert_true(c->path_len >= 1 && c->path_len < URL_CANON_PATH_MAX);
	assert_int_equal(strlen(c->path), c->path_len);
	assert_int_equal(c->path[0], '/');
	for (size_t k = 0; k < c->path_len; k++)
		assert_true(c->path[k] > 0x20 && c->path[k] < 0x7f && c->path[k] != '#');
	assert_true(c->query_off <= c->path_len);
	if (c->query_off < c->path_len)
		assert_int_equal(c->path[c->query_off], '?');
}

/* The canonical host and path, re-canonicalized, must give themselves. */
static inline void check_idempotent(const struct url_canon *c)
{
	struct url_canon *again = malloc(sizeof(*again));
	char buf[URL_CANON_HOST_MAX + URL_CANON_PATH_MAX];
	assert_non_null(again);
	memcpy(buf, c->host, c->host_len);
	memcpy(buf + c->host_len, c->path, c->path_len);
	assert_int_equal(canon_exact(buf, c->host_len + c->path_len, again), 0);
	assert_string_equal(again->host, c->host);
	assert_string_equal(again->path, c->path);
	free(again);
}

#endif
