/*
 * body: where a message body waits while modules judge it. Bytes stay in
 * memory up to a bound, then move to an unlinked temporary file (so nothing
 * is left behind, whatever happens to the process), up to a second bound.
 * The SHA-256 of the content is computed while it streams in, never by a
 * second pass. Once finished, a body is read-only and may be read from any
 * thread: modules read it in blocks, or as one file descriptor.
 */
#ifndef ICAPD_BODY_H
#define ICAPD_BODY_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct body;

struct body_limits {
	size_t memory;         /* bytes kept in memory before spilling */
	uint64_t max_size;     /* bytes kept at all; past it the body is "over" */
	const char *spool_dir; /* where temporary files are made */
};

enum body_status {
	BODY_OK = 0,
	BODY_OVER = 1,      /* more than max_size arrived: the rest was counted, not kept */
	BODY_IO_ERROR = -1, /* the spool could not be written (full disk, ...) */
};

struct body *body_new(const struct body_limits *limits);

/*
 * Moves n bytes from the front of src into the body (hashing them). Past
 * max_size the bytes are hashed and counted but dropped. Returns BODY_OK,
 * BODY_OVER (from then on), or BODY_IO_ERROR.
 */
enum body_status body_append(struct body *b, struct evbuffer *src, size_t n);

/* Same, from memory. */
enum body_status body_append_mem(struct body *b, const void *p, size_t n);

/* Ends the body: the digest is final and reads may start. */
void body_finish(struct body *b);

/* Bytes that arrived, kept or not. */
uint64_t body_length(const struct body *b);

/* True if every byte that arrived is kept. */
bool body_complete(const struct body *b);

/* The SHA-256 of every byte that arrived (after body_finish). */
const unsigned char *body_sha256(const struct body *b);

/*
 * Reads up to len kept bytes at off into buf. Returns the bytes read (0 at
 * the end) or -1. Safe from any thread once finished, concurrently too.
 */
ssize_t body_read(const struct body *b, uint64_t off, void *buf, size_t len);

/*
 * A file descriptor holding the kept bytes from offset 0, for engines that
 * want one (libclamav). A body still in memory is written to a temporary
 * file first. Owned by the body; valid until body_free. Returns -1 on error.
 */
int body_fd(struct body *b);

/* Appends kept bytes [off, off+len) to dst (for replies). Returns 0 or -1. */
int body_copy_to(const struct body *b, uint64_t off, size_t len, struct evbuffer *dst);

void body_free(struct body *b);

#endif
