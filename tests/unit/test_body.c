/*
 * Unit tests for body.c, the body store. Contents are checked byte for byte
 * against a reference, and digests against a one-shot SHA-256, whatever the
 * pieces the body was given in: from memory or from an evbuffer of many
 * small chains, in memory, spilled at exactly limits.memory + 1, or cut at
 * max_size. Reads go through body_read at random offsets (from four threads
 * at once too), body_copy_to, and the descriptor of body_fd. Every test runs
 * with its own empty spool directory, which must still be empty while bodies
 * live and after they are freed, and with the same open descriptors before
 * and after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "body.h"

#define NO_DIR "/nonexistent/icapd-test-body"

/* What each test gets: a private spool directory and the descriptors open. */
struct fixture {
	char dir[64];
	int fds;
};

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Files in the spool directory of the test. */
static int spool_files(void **state)
{
	struct fixture *f = *state;
	return count_dir(f->dir);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_body.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	f->fds = count_dir("/proc/self/fd");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int files = count_dir(f->dir);
	int fds = count_dir("/proc/self/fd");
	int want_fds = f->fds;
	int r = rmdir(f->dir);
	body_test_no_tmpfile = false;
	free(f);
	assert_int_equal(files, 0);
	assert_int_equal(fds, want_fds);
	return r;
}

static struct body *new_body(void **state, size_t memory, uint64_t max_size)
{
	struct fixture *f = *state;
	struct body_limits l = {.memory = memory, .max_size = max_size, .spool_dir = f->dir};
	struct body *b = body_new(&l);
	assert_non_null(b);
	return b;
}

static struct body *new_body_in(const char *dir, size_t memory, uint64_t max_size)
{
	struct body_limits l = {.memory = memory, .max_size = max_size, .spool_dir = dir};
	struct body *b = body_new(&l);
	assert_non_null(b);
	return b;
}

/* Deterministic bytes that differ with position and seed. */
static unsigned char *pattern(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n ? n : 1);
	assert_non_null(p);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (unsigned char)(x >> 24);
	}
	return p;
}

static void sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned int len = 0;
	assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
}

static void assert_digest(const struct body *b, const void *p, size_t n)
{
	unsigned char want[32];
	sha256(p, n, want);
	assert_memory_equal(body_sha256(b), want, 32);
}

/* Reads the whole body in blocks of step bytes; it must be want[0..n). */
static void assert_contents(const struct body *b, const unsigned char *want, size_t n, size_t step)
{
	unsigned char *got = malloc(n + 1);
	assert_non_null(got);
	size_t off = 0;
	for (;;) {
		ssize_t r = body_read(b, off, got + off, step < n + 1 - off ? step : n + 1 - off);
		assert_true(r >= 0);
		if (r == 0)
			break;
		off += (size_t)r;
		assert_true(off <= n);
	}
	assert_int_equal(off, n);
	assert_memory_equal(got, want, n);
	free(got);
}

/*
 * An evbuffer holding p[0..n) in chains of piece bytes (each added through its
 * own evbuffer, so that chains stay separate), then a tail of 5 bytes that
 * must stay in src.
 */
static struct evbuffer *chained(const unsigned char *p, size_t n, size_t piece)
{
	struct evbuffer *src = evbuffer_new();
	assert_non_null(src);
	for (size_t off = 0; off < n; off += piece) {
		struct evbuffer *one = evbuffer_new();
		assert_non_null(one);
		assert_int_equal(evbuffer_add(one, p + off, piece < n - off ? piece : n - off), 0);
		assert_int_equal(evbuffer_add_buffer(src, one), 0);
		evbuffer_free(one);
	}
	assert_int_equal(evbuffer_add(src, "TAIL!", 5), 0);
	return src;
}

static void assert_tail(struct evbuffer *src)
{
	assert_int_equal(evbuffer_get_length(src), 5);
	assert_memory_equal(evbuffer_pullup(src, 5), "TAIL!", 5);
}

static void hex(const unsigned char *d, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha256_vectors(void **state)
{
	char h[65];
	struct body *b = new_body(state, 1024, 1024);
	assert_int_equal(body_finish(b), BODY_OK);
	hex(body_sha256(b), h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	body_free(b);

	b = new_body(state, 1024, 1024);
	assert_int_equal(body_append_mem(b, "abc", 3), BODY_OK);
	assert_int_equal(body_finish(b), BODY_OK);
	hex(body_sha256(b), h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	body_free(b);

	/* The same, from an evbuffer, one byte per chain, spilled after "a". */
	b = new_body(state, 1, 1024);
	struct evbuffer *src = chained((const unsigned char *)"abc", 3, 1);
	assert_int_equal(body_append(b, src, 3), BODY_OK);
	assert_tail(src);
	assert_int_equal(body_finish(b), BODY_OK);
	hex(body_sha256(b), h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_contents(b, (const unsigned char *)"abc", 3, 2);
	evbuffer_free(src);
	body_free(b);
}

static void test_empty_body(void **state)
{
	struct body *b = new_body(state, 1024, 1024);
	assert_int_equal(body_append_mem(b, "", 0), BODY_OK);
	struct evbuffer *src = chained(NULL, 0, 1);
	assert_int_equal(body_append(b, src, 0), BODY_OK);
	assert_tail(src);
	evbuffer_free(src);
	assert_int_equal(body_finish(b), BODY_OK);
	assert_int_equal(body_length(b), 0);
	assert_true(body_complete(b));
	assert_digest(b, "", 0);
	char c;
	assert_int_equal(body_read(b, 0, &c, 1), 0);
	int fd = body_fd(b);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	struct evbuffer *dst = evbuffer_new();
	assert_int_equal(body_copy_to(b, 0, 0, dst), 0);
	assert_int_equal(body_copy_to(b, 0, 1, dst), -1);
	assert_int_equal(evbuffer_get_length(dst), 0);
	evbuffer_free(dst);
	body_free(b);
}

/* A body that fits in memory never touches the spool: a missing one is fine. */
static void test_small_in_memory(void **state)
{
	(void)state;
	unsigned char *p = pattern(3000, 1);
	struct body *b = new_body_in(NO_DIR, 4096, 1 << 20);
	for (size_t off = 0; off < 3000; off += 1000)
		assert_int_equal(body_append_mem(b, p + off, 1000), BODY_OK);
	assert_int_equal(body_length(b), 3000);
	assert_true(body_complete(b));
	assert_int_equal(body_finish(b), BODY_OK);
	assert_digest(b, p, 3000);
	assert_contents(b, p, 3000, 1);
	assert_contents(b, p, 3000, 999);
	assert_contents(b, p, 3000, 100000);
	struct evbuffer *dst = evbuffer_new();
	assert_int_equal(body_copy_to(b, 0, 3000, dst), 0);
	assert_int_equal(evbuffer_get_length(dst), 3000);
	assert_memory_equal(evbuffer_pullup(dst, -1), p, 3000);
	evbuffer_free(dst);
	/* body_fd gives a sealed memfd: no spool needed, and nobody can write it. */
	int fd = body_fd(b);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "x", 1, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 0), -1);
	unsigned char got[3000];
	assert_int_equal(pread(fd, got, sizeof(got), 0), 3000);
	assert_memory_equal(got, p, 3000);
	assert_contents(b, p, 3000, 512);
	body_free(b);
	free(p);
}

/* Exactly limits.memory bytes stay in memory; one more spills them all. */
static void test_spill_boundary(void **state)
{
	static const size_t memories[] = {0, 1, 2, 100, 4096, 65536};
	for (size_t m = 0; m < sizeof(memories) / sizeof(memories[0]); m++) {
		size_t mem = memories[m];
		unsigned char *p = pattern(mem + 2, (unsigned)m);

		/* With no spool directory, spilling is what fails. */
		struct body *b = new_body_in(NO_DIR, mem, UINT64_MAX);
		assert_int_equal(body_append_mem(b, p, mem), BODY_OK);
		assert_int_equal(body_append_mem(b, p + mem, 1), BODY_IO_ERROR);
		body_free(b);

		b = new_body_in(NO_DIR, mem, UINT64_MAX);
		struct evbuffer *src = chained(p, mem + 1, 7);
		assert_int_equal(body_append(b, src, mem), BODY_OK);
		assert_int_equal(body_append(b, src, 1), BODY_IO_ERROR);
		assert_tail(src);
		evbuffer_free(src);
		body_free(b);

		/* With one, mem, mem + 1 and mem + 2 bytes read back right. */
		for (size_t n = mem; n <= mem + 2; n++) {
			b = new_body(state, mem, UINT64_MAX);
			if (n > 0) {
				assert_int_equal(body_append_mem(b, p, n - 1), BODY_OK);
				assert_int_equal(body_append_mem(b, p + n - 1, 1), BODY_OK);
			}
			assert_int_equal(spool_files(state), 0);
			assert_int_equal(body_finish(b), BODY_OK);
			assert_true(body_complete(b));
			assert_int_equal(body_length(b), n);
			assert_digest(b, p, n);
			assert_contents(b, p, n, 4093);
			body_free(b);

			b = new_body(state, mem, UINT64_MAX);
			src = chained(p, n, 1000);
			assert_int_equal(body_append(b, src, n), BODY_OK);
			assert_tail(src);
			evbuffer_free(src);
			assert_int_equal(body_finish(b), BODY_OK);
			assert_digest(b, p, n);
			assert_contents(b, p, n, 4093);
			body_free(b);
		}
		free(p);
	}
}

/*
 * N bytes appended in pieces of every size 1..N, from memory and from an
 * evbuffer of 7-byte chains: the digest is the one-shot SHA-256 and the
 * contents are the same, kept in memory or spilled midway.
 */
static void test_split_appends(void **state)
{
	enum { N = 257 };
	static const size_t memories[] = {N, 100};
	unsigned char *p = pattern(N, 42);
	for (size_t m = 0; m < 2; m++) {
		for (size_t step = 1; step <= N; step++) {
			struct body *b = new_body(state, memories[m], UINT64_MAX);
			for (size_t off = 0; off < N; off += step) {
				size_t n = step < N - off ? step : N - off;
				assert_int_equal(body_append_mem(b, p + off, n), BODY_OK);
			}
			assert_int_equal(body_finish(b), BODY_OK);
			assert_digest(b, p, N);
			assert_contents(b, p, N, 64);
			body_free(b);

			b = new_body(state, memories[m], UINT64_MAX);
			struct evbuffer *src = chained(p, N, 7);
			for (size_t off = 0; off < N; off += step) {
				size_t n = step < N - off ? step : N - off;
				assert_int_equal(body_append(b, src, n), BODY_OK);
				assert_int_equal(evbuffer_get_length(src), N - off - n + 5);
			}
			assert_tail(src);
			evbuffer_free(src);
			assert_int_equal(body_finish(b), BODY_OK);
			assert_digest(b, p, N);
			assert_contents(b, p, N, 64);
			body_free(b);
		}
	}
	free(p);
}

/* Past max_size: counted, hashed, dropped; reads see only the kept bytes. */
static void test_max_size(void **state)
{
	enum { N = 2500, MAX = 1000 };
	static const size_t memories[] = {4096, 300, 0};
	unsigned char *p = pattern(N, 7);
	for (size_t m = 0; m < 3; m++) {
		for (int from_evbuffer = 0; from_evbuffer < 2; from_evbuffer++) {
			struct body *b = new_body(state, memories[m], MAX);
			struct evbuffer *src = chained(p, N, 33);
			for (size_t off = 0; off < N; off += 100) {
				enum body_status want = off + 100 <= MAX ? BODY_OK : BODY_OVER;
				enum body_status got = from_evbuffer
				                               ? body_append(b, src, 100)
				                               : body_append_mem(b, p + off, 100);
				assert_int_equal(got, want);
				assert_int_equal(body_complete(b), want == BODY_OK);
			}
			if (from_evbuffer)
				assert_tail(src);
			evbuffer_free(src);
			assert_int_equal(body_finish(b), BODY_OVER);
			assert_false(body_complete(b));
			assert_int_equal(body_length(b), N);
			assert_digest(b, p, N);
			assert_contents(b, p, MAX, 77);
			char c;
			assert_int_equal(body_read(b, MAX, &c, 1), 0);
			assert_int_equal(body_read(b, N - 1, &c, 1), 0);
			struct evbuffer *dst = evbuffer_new();
			assert_int_equal(body_copy_to(b, 0, MAX + 1, dst), -1);
			assert_int_equal(evbuffer_get_length(dst), 0);
			assert_int_equal(body_copy_to(b, 0, MAX, dst), 0);
			assert_memory_equal(evbuffer_pullup(dst, -1), p, MAX);
			evbuffer_free(dst);
			struct stat st;
			assert_int_equal(fstat(body_fd(b), &st), 0);
			assert_int_equal(st.st_size, MAX);
			body_free(b);
		}
	}

	/* Exactly max_size is complete; one append crossing it keeps its head. */
	struct body *b = new_body(state, 300, MAX);
	assert_int_equal(body_append_mem(b, p, MAX), BODY_OK);
	assert_int_equal(body_finish(b), BODY_OK);
	assert_true(body_complete(b));
	assert_contents(b, p, MAX, 4096);
	body_free(b);

	b = new_body(state, 300, MAX);
	assert_int_equal(body_append_mem(b, p, N), BODY_OVER);
	assert_int_equal(body_finish(b), BODY_OVER);
	assert_int_equal(body_length(b), N);
	assert_digest(b, p, N);
	assert_contents(b, p, MAX, 4096);
	body_free(b);

	/* max_size 0 keeps nothing, not even in memory. */
	b = new_body_in(NO_DIR, 0, 0);
	assert_int_equal(body_append_mem(b, p, 10), BODY_OVER);
	assert_int_equal(body_finish(b), BODY_OVER);
	assert_int_equal(body_length(b), 10);
	assert_contents(b, p, 0, 1);
	body_free(b);
	free(p);
}

/* body_fd gives the kept bytes from offset 0, to pread, once per body. */
static void check_fd(void **state, struct body *b, const unsigned char *p, size_t n)
{
	int fd = body_fd(b);
	assert_true(fd >= 0);
	assert_int_equal(body_fd(b), fd);
	assert_int_equal(spool_files(state), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, (off_t)n);
	/* A spool file is the server's alone; a memory body's memfd is sealed. */
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals > 0)
		assert_int_equal(seals & F_SEAL_WRITE, F_SEAL_WRITE);
	else
		assert_int_equal(st.st_mode & 0777, 0600);
	unsigned char *got = malloc(n + 1);
	assert_non_null(got);
	assert_int_equal(pread(fd, got, n + 1, 0), (ssize_t)n);
	assert_memory_equal(got, p, n);
	free(got);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* The body still reads the same afterwards. */
	assert_contents(b, p, n, 1000);
}

static void test_fd_memory_body(void **state)
{
	unsigned char *p = pattern(5000, 3);
	struct body *b = new_body(state, 8192, UINT64_MAX);
	assert_int_equal(body_append_mem(b, p, 5000), BODY_OK);
	assert_int_equal(body_finish(b), BODY_OK);
	check_fd(state, b, p, 5000);
	body_free(b);
	free(p);
}

static void test_fd_spilled_body(void **state)
{
	unsigned char *p = pattern(300000, 4);
	struct body *b = new_body(state, 8192, UINT64_MAX);
	struct evbuffer *src = chained(p, 300000, 4096);
	assert_int_equal(body_append(b, src, 300000), BODY_OK);
	evbuffer_free(src);
	assert_int_equal(body_finish(b), BODY_OK);
	check_fd(state, b, p, 300000);
	body_free(b);
	free(p);
}

/* What a scanner process makes of a descriptor: the same reads, lengths,
 * statuses and digest; fd -1 is a body that could not be stored. */
static void test_from_fd(void **state)
{
	unsigned char *p = pattern(20000, 9);
	struct body *src = new_body(state, 1024, UINT64_MAX);
	assert_int_equal(body_append_mem(src, p, 20000), BODY_OK);
	assert_int_equal(body_finish(src), BODY_OK);
	int fd = dup(body_fd(src));
	assert_true(fd >= 0);

	struct body *b = body_from_fd(fd, 25000, 20000, BODY_OVER, body_sha256(src));
	assert_int_equal(body_length(b), 25000);
	assert_int_equal(body_kept(b), 20000);
	assert_int_equal(body_status(b), BODY_OVER);
	assert_false(body_complete(b));
	assert_memory_equal(body_sha256(b), body_sha256(src), 32);
	assert_int_equal(body_fd(b), fd);
	assert_contents(b, p, 20000, 777);
	body_free(b); /* closes fd */
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	b = body_from_fd(-1, 10, 10, BODY_OK, body_sha256(src));
	assert_int_equal(body_status(b), BODY_IO_ERROR);
	char c;
	assert_int_equal(body_read(b, 0, &c, 1), -1);
	assert_int_equal(body_fd(b), -1);
	body_free(b);
	body_free(src);
	free(p);
}

/*
 * Random reads against the reference, including ones past the end. Returns
 * the number of wrong ones (it may run off the main thread: no cmocka
 * assertions here).
 */
static int random_reads(const struct body *b, const unsigned char *p, size_t n, unsigned seed,
                        int count)
{
	unsigned char buf[9000];
	int bad = 0;
	for (int i = 0; i < count; i++) {
		uint64_t off = (uint64_t)rand_r(&seed) % (n + 100);
		size_t len = (size_t)rand_r(&seed) % sizeof(buf);
		ssize_t r = body_read(b, off, buf, len);
		size_t want = off >= n ? 0 : (len < n - off ? len : n - off);
		if (r != (ssize_t)want || memcmp(buf, p + (off < n ? off : 0), want) != 0) {
			fprintf(stderr, "read at %llu of %zu: got %zd, want %zu\n",
			        (unsigned long long)off, len, r, want);
			bad++;
		}
	}
	return bad;
}

static void test_read_random(void **state)
{
	enum { N = 100000 };
	static const size_t memories[] = {N, 1000};
	unsigned char *p = pattern(N, 5);
	for (size_t m = 0; m < 2; m++) {
		struct body *b = new_body(state, memories[m], UINT64_MAX);
		/* While appending (same thread), then after finishing. */
		for (size_t off = 0; off < N; off += 10000) {
			struct evbuffer *src = chained(p + off, 10000, 1500);
			assert_int_equal(body_append(b, src, 10000), BODY_OK);
			evbuffer_free(src);
			assert_int_equal(random_reads(b, p, off + 10000, (unsigned)off, 50), 0);
		}
		assert_int_equal(body_finish(b), BODY_OK);
		assert_int_equal(random_reads(b, p, N, 99, 2000), 0);
		body_free(b);
	}
	free(p);
}

struct reader {
	struct body *b;
	const unsigned char *p;
	size_t n;
	unsigned seed;
	bool fd; /* also ask for body_fd and pread it all */
	int bad; /* out: wrong reads */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	r->bad = random_reads(r->b, r->p, r->n, r->seed, 3000);
	if (r->fd) {
		int fd = body_fd(r->b);
		unsigned char buf[4096];
		for (size_t off = 0; off < r->n; off += sizeof(buf)) {
			size_t len = sizeof(buf) < r->n - off ? sizeof(buf) : r->n - off;
			if (fd < 0 || pread(fd, buf, len, (off_t)off) != (ssize_t)len ||
			    memcmp(buf, r->p + off, len) != 0) {
				r->bad++;
				break;
			}
		}
	}
	return NULL;
}

/* Four threads read one finished body at once, spilled or in memory. */
static void test_concurrent_reads(void **state)
{
	enum { N = 1 << 20, THREADS = 4 };
	static const size_t memories[] = {64 << 10, N};
	unsigned char *p = pattern(N, 6);
	for (size_t m = 0; m < 2; m++) {
		struct body *b = new_body(state, memories[m], UINT64_MAX);
		struct evbuffer *src = chained(p, N, 16384);
		assert_int_equal(body_append(b, src, N), BODY_OK);
		evbuffer_free(src);
		assert_int_equal(body_finish(b), BODY_OK);
		pthread_t t[THREADS];
		struct reader r[THREADS];
		for (int i = 0; i < THREADS; i++) {
			r[i] = (struct reader){b, p, N, (unsigned)i + 1, m == 1, 0};
			assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
		}
		for (int i = 0; i < THREADS; i++) {
			assert_int_equal(pthread_join(t[i], NULL), 0);
			assert_int_equal(r[i].bad, 0);
		}
		assert_int_equal(spool_files(state), 0);
		body_free(b);
	}
	free(p);
}

/* Spooling into a missing directory: sticky BODY_IO_ERROR, still counted. */
static void test_io_error(void **state)
{
	(void)state;
	unsigned char *p = pattern(30, 8);
	struct body *b = new_body_in(NO_DIR, 10, UINT64_MAX);
	struct evbuffer *src = chained(p, 25, 3);
	assert_int_equal(body_append(b, src, 5), BODY_OK);
	assert_int_equal(body_append(b, src, 10), BODY_IO_ERROR);
	assert_int_equal(body_append(b, src, 10), BODY_IO_ERROR);
	assert_int_equal(body_append_mem(b, p + 25, 5), BODY_IO_ERROR);
	assert_tail(src);
	evbuffer_free(src);
	assert_false(body_complete(b));
	assert_int_equal(body_length(b), 30);
	assert_int_equal(body_finish(b), BODY_IO_ERROR);
	assert_digest(b, p, 30);
	char c;
	assert_int_equal(body_read(b, 0, &c, 1), -1);
	assert_int_equal(body_fd(b), -1);
	struct evbuffer *dst = evbuffer_new();
	assert_int_equal(body_copy_to(b, 0, 1, dst), -1);
	assert_int_equal(evbuffer_get_length(dst), 0);
	evbuffer_free(dst);
	body_free(b);

	/* Over first, then the failure: the failure wins. */
	b = new_body_in(NO_DIR, 10, 15);
	assert_int_equal(body_append_mem(b, p, 8), BODY_OK);
	assert_int_equal(body_append_mem(b, p + 8, 10), BODY_IO_ERROR);
	assert_int_equal(body_finish(b), BODY_IO_ERROR);
	body_free(b);
	free(p);
}

/*
 * A write that fails midway: RLIMIT_FSIZE stands in for a full disk (the
 * write stops short at the limit, then fails with EFBIG), without mounting
 * anything. Also covers the loop over partial writes.
 */
static void test_write_error(void **state)
{
	enum { LIMIT = 10000 };
	unsigned char *p = pattern(3 * LIMIT, 12);
	struct rlimit old;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < 3 * LIMIT) {
		free(p);
		skip();
	}
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	struct rlimit lim = {LIMIT, old.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	/* While appending to the file. */
	struct body *b = new_body(state, 1000, UINT64_MAX);
	struct evbuffer *src = chained(p, 3 * LIMIT, 999);
	assert_int_equal(body_append(b, src, LIMIT - 1), BODY_OK);
	assert_int_equal(body_append(b, src, 2), BODY_IO_ERROR);
	assert_int_equal(body_append(b, src, 3 * LIMIT - LIMIT - 1), BODY_IO_ERROR);
	assert_tail(src);
	evbuffer_free(src);
	assert_int_equal(body_finish(b), BODY_IO_ERROR);
	assert_int_equal(body_length(b), 3 * LIMIT);
	assert_digest(b, p, 3 * LIMIT);
	assert_int_equal(body_fd(b), -1);
	body_free(b);

	/* While spilling the memory part. */
	b = new_body(state, 2 * LIMIT, UINT64_MAX);
	assert_int_equal(body_append_mem(b, p, 2 * LIMIT), BODY_OK);
	assert_int_equal(body_append_mem(b, p + 2 * LIMIT, 1), BODY_IO_ERROR);
	body_free(b);

	/* While body_fd writes out a memory body: it fails, reads still work. */
	b = new_body(state, 2 * LIMIT, UINT64_MAX);
	assert_int_equal(body_append_mem(b, p, 2 * LIMIT), BODY_OK);
	assert_int_equal(body_finish(b), BODY_OK);
	errno = 0;
	assert_int_equal(body_fd(b), -1);
	assert_int_equal(errno, EFBIG);
	assert_contents(b, p, 2 * LIMIT, 3000);

	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	/* A later call tries again. */
	check_fd(state, b, p, 2 * LIMIT);
	body_free(b);
	free(p);
}

/* Where O_TMPFILE is missing, mkstemp's file is unlinked at once. */
static void test_mkstemp_fallback(void **state)
{
	unsigned char *p = pattern(50000, 9);
	body_test_no_tmpfile = true;
	struct body *b = new_body(state, 1000, UINT64_MAX);
	assert_int_equal(body_append_mem(b, p, 50000), BODY_OK);
	assert_int_equal(spool_files(state), 0);
	assert_int_equal(body_finish(b), BODY_OK);
	assert_digest(b, p, 50000);
	assert_contents(b, p, 50000, 3000);
	check_fd(state, b, p, 50000);
	body_free(b);

	b = new_body(state, 60000, UINT64_MAX);
	assert_int_equal(body_append_mem(b, p, 50000), BODY_OK);
	assert_int_equal(body_finish(b), BODY_OK);
	check_fd(state, b, p, 50000);
	body_free(b);

	b = new_body_in(NO_DIR, 10, UINT64_MAX);
	assert_int_equal(body_append_mem(b, p, 11), BODY_IO_ERROR);
	body_free(b);
	body_test_no_tmpfile = false;
	free(p);
}

/* body_copy_to: ranges across 64 KiB blocks and chains, memory and file. */
static void test_copy_to(void **state)
{
	enum { N = 200000 };
	static const size_t memories[] = {N, 5000};
	static const struct {
		uint64_t off;
		size_t len;
	} ranges[] = {{0, N}, {1, 65537}, {65535, 65538}, {N - 1, 1}, {N, 0}, {12345, 0}, {0, 1}};
	unsigned char *p = pattern(N, 10);
	for (size_t m = 0; m < 2; m++) {
		struct body *b = new_body(state, memories[m], UINT64_MAX);
		struct evbuffer *src = chained(p, N, 3000);
		assert_int_equal(body_append(b, src, N), BODY_OK);
		evbuffer_free(src);
		for (int finished = 0; finished < 2; finished++) {
			if (finished)
				assert_int_equal(body_finish(b), BODY_OK);
			for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
				struct evbuffer *dst = evbuffer_new();
				assert_int_equal(evbuffer_add(dst, "x", 1), 0);
				assert_int_equal(body_copy_to(b, ranges[i].off, ranges[i].len, dst),
				                 0);
				assert_int_equal(evbuffer_get_length(dst), ranges[i].len + 1);
				unsigned char *got = evbuffer_pullup(dst, -1);
				assert_int_equal(got[0], 'x');
				assert_memory_equal(got + 1, p + ranges[i].off, ranges[i].len);
				evbuffer_free(dst);
			}
			struct evbuffer *dst = evbuffer_new();
			assert_int_equal(body_copy_to(b, N, 1, dst), -1);
			assert_int_equal(body_copy_to(b, N + 1, 0, dst), -1);
			assert_int_equal(body_copy_to(b, 1, N, dst), -1);
			assert_int_equal(body_copy_to(b, UINT64_MAX, 2, dst), -1);
			assert_int_equal(evbuffer_get_length(dst), 0);
			evbuffer_free(dst);
		}
		body_free(b);
	}
	free(p);
}

/* A large append from an evbuffer, beyond one round of body_append. */
static void test_large_append(void **state)
{
	enum { N = 3 << 20 };
	static const size_t memories[] = {N, 1 << 20};
	unsigned char *p = pattern(N, 11);
	for (size_t m = 0; m < 2; m++) {
		struct body *b = new_body(state, memories[m], UINT64_MAX);
		struct evbuffer *src = chained(p, N, 100000);
		assert_int_equal(body_append(b, src, N), BODY_OK);
		assert_tail(src);
		evbuffer_free(src);
		assert_int_equal(body_finish(b), BODY_OK);
		assert_digest(b, p, N);
		assert_contents(b, p, N, 70000);
		body_free(b);
	}
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_sha256_vectors, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_empty_body, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_small_in_memory, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_spill_boundary, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_split_appends, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_max_size, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fd_memory_body, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_fd_spilled_body, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_random, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_concurrent_reads, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_io_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_mkstemp_fallback, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_copy_to, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_from_fd, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_large_append, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
