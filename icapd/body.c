/*
 * body: the store for one message body while modules judge it. Bytes arrive
 * in order, from the connection's input evbuffer or from memory, and pass
 * through SHA-256 (one EVP context per body) on their way in, so the digest
 * that keys the verdict cache never costs a second read. The first
 * limits.memory bytes stay in an evbuffer, which takes whole chains of the
 * input without copying them; one byte more and they all move to a nameless
 * temporary file in the spool directory (O_TMPFILE, or mkstemp and an
 * immediate unlink where the file system lacks it), where later bytes
 * follow. Past limits.max_size, bytes are hashed and counted, then dropped.
 *
 * A finished body is read-only. Memory is read through an index of the
 * evbuffer's chains built by body_finish (so readers make no libevent call
 * and need no lock), the file with pread (so readers share no offset): any
 * number of scan threads may read it at once. Files are written with pwrite
 * for the same reason, and so that the offset of the descriptor handed out
 * by body_fd stays at 0.
 */
#include "body.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BODY_MAGIC 0x424f4459u /* "BODY" */

#define SHA256_LEN 32
#define PEEK_VECS  16                 /* chains looked at per round of body_append */
#define ROUND_MAX  ((size_t)1 << 20)  /* bytes per round: fits the int of libevent */
#define COPY_BLOCK ((size_t)64 << 10) /* body_copy_to reads files in these */

bool body_test_no_tmpfile;

/* One contiguous piece of a finished memory body. */
struct body_seg {
	const unsigned char *p;
	size_t len;
	uint64_t off; /* of p[0] in the body */
};

struct body {
	unsigned magic;
	enum body_status status; /* sticky: OK, then OVER and/or IO_ERROR */
	bool finished;
	size_t memory;
	uint64_t max_size;
	uint64_t length; /* bytes arrived */
	uint64_t stored; /* bytes kept, in mem or in the file */

	EVP_MD_CTX *md; /* until body_finish */
	unsigned char sha256[SHA256_LEN];

	struct evbuffer *mem;  /* the kept bytes until spilled, then NULL */
	int fd;                /* the spool file once spilled, else -1 */
	struct body_seg *segs; /* mem's chains, from body_finish */
	size_t nsegs;

	pthread_mutex_t fd_lock; /* guards mem_fd */
	int mem_fd;              /* body_fd's file of a memory body, else -1 */

	char spool_dir[]; /* copy of limits->spool_dir */
};

static void fail(struct body *b)
{
	b->status = BODY_IO_ERROR;
}

struct body *body_new(const struct body_limits *limits)
{
	assert(limits != NULL && limits->spool_dir != NULL);
	size_t dlen = strlen(limits->spool_dir);
	struct body *b = calloc(1, sizeof(*b) + dlen + 1);
	if (b == NULL)
		return NULL;
	memcpy(b->spool_dir, limits->spool_dir, dlen + 1);
	/* The memory part is peeked with an ev_ssize_t length. */
	b->memory = limits->memory < (size_t)EV_SSIZE_MAX ? limits->memory : (size_t)EV_SSIZE_MAX;
	b->max_size = limits->max_size;
	b->status = BODY_OK;
	b->fd = -1;
	b->mem_fd = -1;
	if (pthread_mutex_init(&b->fd_lock, NULL) != 0) {
		free(b);
		return NULL;
	}
	b->md = EVP_MD_CTX_new();
	b->mem = evbuffer_new();
	if (b->md == NULL || b->mem == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		body_free(b);
		return NULL;
	}
	b->magic = BODY_MAGIC;
	return b;
}

void body_free(struct body *b)
{
	if (b == NULL)
		return;
	assert(b->magic == BODY_MAGIC || b->magic == 0);
	EVP_MD_CTX_free(b->md);
	if (b->mem != NULL)
		evbuffer_free(b->mem);
	free(b->segs);
	if (b->fd >= 0)
		close(b->fd);
	if (b->mem_fd >= 0)
		close(b->mem_fd);
	pthread_mutex_destroy(&b->fd_lock);
	b->magic = 0;
	free(b);
}

int body_spool_open(const char *dir)
{
	static const char name[] = "/.icapd-body-XXXXXX";
	int fd;

	if (!body_test_no_tmpfile) {
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		/* Kernels or file systems without O_TMPFILE say so in one of these. */
		if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
			return fd;
	}
	size_t dlen = strlen(dir);
	char *path = malloc(dlen + sizeof(name));
	if (path == NULL)
		return -1;
	memcpy(path, dir, dlen);
	memcpy(path + dlen, name, sizeof(name));
	fd = mkostemp(path, O_CLOEXEC); /* mode 0600 */
	if (fd >= 0 && unlink(path) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		fd = -1;
	}
	free(path);
	return fd;
}

/* Writes p[0..len) at off, through partial writes and signals. Returns 0 or -1. */
static int write_all(int fd, const void *p, size_t len, uint64_t off)
{
	const unsigned char *q = p;
	while (len > 0) {
		ssize_t w = pwrite(fd, q, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		q += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/*
 * Reads up to len bytes at off, through short reads and signals. Returns the
 * bytes read (fewer only at the end of the file) or -1.
 */
static ssize_t read_all(int fd, void *p, size_t len, uint64_t off)
{
	unsigned char *q = p;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, q + got, len - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Moves the memory part to a new spool file, which later bytes then join.
 * Returns 0 or -1 (the body is then in BODY_IO_ERROR).
 */
static int spill(struct body *b)
{
	int fd = body_spool_open(b->spool_dir);
	if (fd < 0) {
		fail(b);
		return -1;
	}
	uint64_t off = 0;
	while (evbuffer_get_length(b->mem) > 0) {
		struct evbuffer_iovec v[PEEK_VECS];
		int nv = evbuffer_peek(b->mem, -1, NULL, v, PEEK_VECS);
		size_t done = 0;
		for (int i = 0; i < nv; i++) {
			if (write_all(fd, v[i].iov_base, v[i].iov_len, off) < 0) {
				close(fd);
				fail(b);
				return -1;
			}
			off += v[i].iov_len;
			done += v[i].iov_len;
		}
		if (done == 0) {
			/* Empty chains only trail data; never loop on one. */
			close(fd);
			fail(b);
			return -1;
		}
		evbuffer_drain(b->mem, done);
	}
	assert(off == b->stored);
	evbuffer_free(b->mem);
	b->mem = NULL;
	b->fd = fd;
	return 0;
}

/*
 * Accounts for n more bytes that arrived. Returns how many of them to keep:
 * those under max_size, none once the body is in BODY_IO_ERROR.
 */
static size_t take(struct body *b, size_t n)
{
	uint64_t room = b->length < b->max_size ? b->max_size - b->length : 0;
	size_t keep = room < n ? (size_t)room : n;
	b->length += n;
	if (keep < n && b->status == BODY_OK)
		b->status = BODY_OVER;
	return b->status == BODY_IO_ERROR ? 0 : keep;
}

/* True if keep more bytes go to the file (spilling first if they must). */
static bool to_file(struct body *b, size_t keep)
{
	if (b->fd < 0 && b->stored + keep > b->memory && spill(b) < 0)
		return false;
	return b->fd >= 0;
}

static void hash(struct body *b, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(b->md, p, n) != 1)
		fail(b);
}

enum body_status body_append_mem(struct body *b, const void *p, size_t n)
{
	assert(b->magic == BODY_MAGIC && !b->finished);
	hash(b, p, n);
	size_t keep = take(b, n);
	if (keep == 0)
		return b->status;
	if (to_file(b, keep)) {
		if (write_all(b->fd, p, keep, b->stored) < 0)
			fail(b);
	} else if (b->status != BODY_IO_ERROR && evbuffer_add(b->mem, p, keep) < 0) {
		fail(b);
	}
	if (b->status != BODY_IO_ERROR)
		b->stored += keep;
	return b->status;
}

/*
 * Stores the first keep bytes of src, which v[0..nv) describe: writes them
 * to the file, or moves them to the memory part. Returns the bytes that left
 * src (0 if it failed: the body is then in BODY_IO_ERROR).
 */
static size_t store_from(struct body *b, struct evbuffer *src, const struct evbuffer_iovec *v,
                         int nv, size_t keep)
{
	if (to_file(b, keep)) {
		size_t done = 0;
		for (int i = 0; i < nv && done < keep; i++) {
			size_t len = v[i].iov_len < keep - done ? v[i].iov_len : keep - done;
			if (write_all(b->fd, v[i].iov_base, len, b->stored + done) < 0) {
				fail(b);
				return 0;
			}
			done += len;
		}
		b->stored += keep;
		return 0; /* the caller drains */
	}
	if (b->status == BODY_IO_ERROR)
		return 0;
	int moved = evbuffer_remove_buffer(src, b->mem, keep);
	if (moved < 0 || (size_t)moved != keep) {
		fail(b);
		return moved < 0 ? 0 : (size_t)moved;
	}
	b->stored += keep;
	return keep;
}

enum body_status body_append(struct body *b, struct evbuffer *src, size_t n)
{
	assert(b->magic == BODY_MAGIC && !b->finished);
	assert(n <= evbuffer_get_length(src));
	while (n > 0) {
		/* A round: peek at up to PEEK_VECS chains, hash, keep, drain. */
		struct evbuffer_iovec v[PEEK_VECS];
		size_t want = n < ROUND_MAX ? n : ROUND_MAX;
		int nv = evbuffer_peek(src, (ev_ssize_t)want, NULL, v, PEEK_VECS);
		if (nv > PEEK_VECS)
			nv = PEEK_VECS;
		size_t got = 0;
		for (int i = 0; i < nv; i++) {
			if (v[i].iov_len > want - got)
				v[i].iov_len = want - got;
			hash(b, v[i].iov_base, v[i].iov_len);
			got += v[i].iov_len;
		}
		if (got == 0) {
			/* Not possible with n <= the length of src; never loop on it. */
			fail(b);
			evbuffer_drain(src, n);
			break;
		}
		size_t keep = take(b, got);
		size_t moved = keep > 0 ? store_from(b, src, v, nv, keep) : 0;
		evbuffer_drain(src, got - moved);
		n -= got;
	}
	return b->status;
}

/* Indexes the chains of the memory part. Returns 0 or -1. */
static int index_mem(struct body *b)
{
	assert(evbuffer_get_length(b->mem) == b->stored);
	if (b->stored == 0)
		return 0;
	int n = evbuffer_peek(b->mem, (ev_ssize_t)b->stored, NULL, NULL, 0);
	struct evbuffer_iovec *v = calloc((size_t)n, sizeof(*v));
	b->segs = calloc((size_t)n, sizeof(*b->segs));
	if (v == NULL || b->segs == NULL) {
		free(v);
		return -1;
	}
	n = evbuffer_peek(b->mem, (ev_ssize_t)b->stored, NULL, v, n);
	uint64_t off = 0;
	for (int i = 0; i < n; i++) {
		if (v[i].iov_len == 0)
			continue;
		b->segs[b->nsegs++] = (struct body_seg){v[i].iov_base, v[i].iov_len, off};
		off += v[i].iov_len;
	}
	free(v);
	assert(off == b->stored);
	return 0;
}

enum body_status body_finish(struct body *b)
{
	assert(b->magic == BODY_MAGIC && !b->finished);
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(b->md, b->sha256, &len) != 1 || len != SHA256_LEN)
		fail(b);
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
	if (b->mem != NULL && b->status != BODY_IO_ERROR && index_mem(b) < 0)
		fail(b);
	b->finished = true;
	return b->status;
}

uint64_t body_length(const struct body *b)
{
	assert(b->magic == BODY_MAGIC);
	return b->length;
}

bool body_complete(const struct body *b)
{
	assert(b->magic == BODY_MAGIC);
	return b->status == BODY_OK;
}

enum body_status body_status(const struct body *b)
{
	assert(b->magic == BODY_MAGIC);
	return b->status;
}

uint64_t body_kept(const struct body *b)
{
	assert(b->magic == BODY_MAGIC);
	return b->stored;
}

const unsigned char *body_sha256(const struct body *b)
{
	assert(b->magic == BODY_MAGIC && b->finished);
	return b->sha256;
}

/* Copies len bytes at off (all kept) of a finished memory body. */
static void read_segs(const struct body *b, uint64_t off, unsigned char *buf, size_t len)
{
	/* The last segment that starts at or before off. */
	size_t lo = 0, hi = b->nsegs;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->segs[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo; len > 0; i++) {
		assert(i < b->nsegs);
		size_t skip = (size_t)(off - b->segs[i].off);
		size_t n = b->segs[i].len - skip < len ? b->segs[i].len - skip : len;
		memcpy(buf, b->segs[i].p + skip, n);
		buf += n;
		off += n;
		len -= n;
	}
}

ssize_t body_read(const struct body *b, uint64_t off, void *buf, size_t len)
{
	assert(b->magic == BODY_MAGIC);
	if (b->status == BODY_IO_ERROR) {
		errno = EIO;
		return -1;
	}
	if (off >= b->stored || len == 0)
		return 0;
	if (len > b->stored - off)
		len = (size_t)(b->stored - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (b->fd >= 0)
		return read_all(b->fd, buf, len, off);
	if (b->finished) {
		read_segs(b, off, buf, len);
		return (ssize_t)len;
	}
	/* Still appending, on this thread: libevent may walk its chains. */
	struct evbuffer_ptr pos;
	if (evbuffer_ptr_set(b->mem, &pos, (size_t)off, EVBUFFER_PTR_SET) < 0)
		return -1;
	return evbuffer_copyout_from(b->mem, &pos, buf, len);
}

int body_fd(struct body *b)
{
	assert(b->magic == BODY_MAGIC && b->finished);
	if (b->status == BODY_IO_ERROR) {
		errno = EIO;
		return -1;
	}
	if (b->fd >= 0)
		return b->fd;

	/* A memory body: write it out once, whichever thread asks first, to a
	 * memfd sealed against writes (a scanner process gets it and must not
	 * change what is sent on; and a full spool disk does not stop the scan of
	 * a small body), or to the spool where memfds are missing. */
	pthread_mutex_lock(&b->fd_lock);
	int fd = b->mem_fd, e = 0;
	bool sealable = false;
	if (fd < 0) {
		fd = memfd_create("icapd-body", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		sealable = fd >= 0;
		if (fd < 0)
			fd = body_spool_open(b->spool_dir);
		for (size_t i = 0; fd >= 0 && i < b->nsegs; i++) {
			if (write_all(fd, b->segs[i].p, b->segs[i].len, b->segs[i].off) < 0) {
				e = errno;
				close(fd);
				fd = -1;
			}
		}
		if (fd >= 0 && sealable &&
		    fcntl(fd, F_ADD_SEALS,
		          F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
		if (fd < 0 && e == 0)
			e = errno;
		b->mem_fd = fd;
	}
	pthread_mutex_unlock(&b->fd_lock);
	if (fd < 0)
		errno = e;
	return fd;
}

int body_fd_readonly(struct body *b)
{
	int fd = body_fd(b);
	if (fd < 0)
		return -1;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & F_SEAL_WRITE) != 0)
		return fcntl(fd, F_DUPFD_CLOEXEC, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

struct body *body_from_fd(int fd, uint64_t length, uint64_t kept, enum body_status status,
                          const unsigned char sha256[32])
{
	struct body *b = calloc(1, sizeof(*b) + 1);
	if (b == NULL)
		abort();
	b->magic = BODY_MAGIC;
	b->finished = true;
	b->status = fd < 0 ? BODY_IO_ERROR : status;
	b->length = length;
	b->stored = kept;
	b->fd = fd;
	b->mem_fd = -1;
	memcpy(b->sha256, sha256, SHA256_LEN);
	if (pthread_mutex_init(&b->fd_lock, NULL) != 0)
		abort();
	return b;
}

int body_copy_to(const struct body *b, uint64_t off, size_t len, struct evbuffer *dst)
{
	assert(b->magic == BODY_MAGIC);
	if (b->status == BODY_IO_ERROR || off > b->stored || len > b->stored - off)
		return -1;
	while (len > 0) {
		/* One copy, straight into dst's own space, from memory or the file. */
		size_t want = len < COPY_BLOCK ? len : COPY_BLOCK;
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(dst, (ev_ssize_t)want, &v, 1) != 1)
			return -1;
		ssize_t r = body_read(b, off, v.iov_base, want);
		if (r <= 0) {
			evbuffer_commit_space(dst, &v, 0);
			return -1;
		}
		v.iov_len = (size_t)r;
		if (evbuffer_commit_space(dst, &v, 1) < 0)
			return -1;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}
