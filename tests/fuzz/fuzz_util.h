/*
 * fuzz_util: what the newer fuzz targets share (header only, static): the
 * CHECK macro that aborts on a violated invariant, exact-size heap copies
 * (so that AddressSanitizer sees a read one byte past the length given), a
 * hash of the input to derive split points and choices from, an
 * independent UTF-8 validator, a growing buffer for a stage's output, a
 * memfd that stands for a file a loader reads by path, and the splitting of
 * an input into NUL-separated parts.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An exact-size heap copy of d[0..n); a 1-byte block when n is 0. */
static inline char *fz_copy(const void *d, size_t n)
{
	char *c = malloc(n ? n : 1);
	CHECK(c != NULL);
	c[0] = 0;
	if (n)
		memcpy(c, d, n);
	return c;
}

/* A NUL-terminated heap copy of d[0..n). */
static inline char *fz_strndup(const void *d, size_t n)
{
	char *c = malloc(n + 1);
	CHECK(c != NULL);
	if (n)
		memcpy(c, d, n);
	c[n] = 0;
	return c;
}

static inline uint64_t fz_hash(const uint8_t *d, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ d[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

/* An independent UTF-8 check (RFC 3629: no surrogates, no overlongs). */
/* xorshift64: a stream of cut points derived from the input, so a failing
 * run replays the same. *s must not be 0. */
static inline uint64_t fz_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline bool fz_valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* A growing buffer, usable as a kw_sink's argument; it refuses writes that
 * would pass stop_after bytes when that is not 0. */
struct fz_buf {
	char *p;
	size_t len, cap;
	size_t stop_after;
	bool stopped;
};

static inline int fz_buf_write(void *arg, const char *p, size_t n)
{
	struct fz_buf *b = arg;
	CHECK(n > 0); /* kw_sink_write never passes empty writes */
	if (b->stop_after && b->len + n > b->stop_after) {
		b->stopped = true;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		CHECK(b->p != NULL);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static inline void fz_buf_free(struct fz_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static inline bool fz_buf_same(const struct fz_buf *a, const struct fz_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/*
 * A memory file that loaders read by path ("/proc/self/fd/N"), made once
 * per process and rewritten for each input. Returns the path.
 */
struct fz_memfile {
	int fd;
	char path[64];
};

static inline const char *fz_memfile_set(struct fz_memfile *m, const char *name, const void *d,
                                         size_t n)
{
	if (m->path[0] == 0) {
		m->fd = memfd_create(name, MFD_CLOEXEC);
		CHECK(m->fd >= 0);
		snprintf(m->path, sizeof(m->path), "/proc/self/fd/%d", m->fd);
	}
	CHECK(ftruncate(m->fd, 0) == 0);
	CHECK(n == 0 || pwrite(m->fd, d, n, 0) == (ssize_t)n);
	return m->path;
}

/* Splits d[0..n) at the first nparts - 1 NUL bytes: part i is
 * d[off[i]..off[i] + len[i]); missing parts are empty. */
static inline void fz_split(const uint8_t *d, size_t n, size_t nparts, size_t *off, size_t *len)
{
	size_t at = 0;
	for (size_t i = 0; i < nparts; i++) {
		const uint8_t *nul = i + 1 < nparts && at < n ? memchr(d + at, 0, n - at) : NULL;
		size_t end = nul != NULL ? (size_t)(nul - d) : n;
		off[i] = at;
		len[i] = end - at;
		at = nul != NULL ? end + 1 : n;
	}
}

#endif
