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
	size_t memory;         /* bytes kept in memory; one more and all go to a file */
	uint64_t max_size;     /* bytes kept at all; past it the body is "over" (0 keeps none) */
	const char *spool_dir; /* where temporary files are made (copied by body_new) */
};

enum body_status {
	BODY_OK = 0,
	BODY_OVER = 1,      /* more than max_size arrived: the rest was counted, not kept */
	BODY_IO_ERROR = -1, /* the spool could not be written (full disk, no memory, ...) */
};

/* Returns an empty body under a copy of *limits, or NULL if out of memory. */
struct body *body_new(const struct body_limits *limits);

/*
 * Moves n bytes (at most evbuffer_get_length(src)) from the front of src into
 * the body, hashing them. Whole chains of src move without a copy while the
 * body is in memory. Past max_size the bytes are hashed and counted but
 * dropped. The n bytes always leave src, whatever the outcome. Returns
 * BODY_OK, BODY_OVER (from then on), or BODY_IO_ERROR (from then on; the
 * bytes are still hashed and counted, but the body can no longer be read).
 */
enum body_status body_append(struct body *b, struct evbuffer *src, size_t n);

/* Same, from memory. */
enum body_status body_append_mem(struct body *b, const void *p, size_t n);

/*
 * Ends the body: the digest is final and reads may start from any thread
 * (the hand-over to another thread must itself be synchronized, as a work
 * queue's lock does). Returns the final status: BODY_IO_ERROR also if the
 * index of a memory body could not be allocated.
 */
enum body_status body_finish(struct body *b);

/* Bytes that arrived, kept or not. */
uint64_t body_length(const struct body *b);

/* True if every byte that arrived is kept (and readable). */
bool body_complete(const struct body *b);

/* The 32-byte SHA-256 of every byte that arrived (after body_finish). */
const unsigned char *body_sha256(const struct body *b);

/*
 * Reads up to len kept bytes at off into buf. Returns the bytes read (0 at
 * or past the end of the kept bytes) or -1 (an I/O error, or a body in
 * BODY_IO_ERROR). Safe from any thread once finished, concurrently too;
 * before that, only from the thread that appends.
 */
ssize_t body_read(const struct body *b, uint64_t off, void *buf, size_t len);

/*
 * A file descriptor holding the kept bytes from offset 0, for engines that
 * want one (libclamav, a scanner process). A body still in memory is written
 * to a temporary file on the first call (its memory stays, for body_read).
 * Only after body_finish; safe from any thread. Owned by the body: do not
 * close it; valid until body_free. The file offset is left at 0 but is shared
 * by every user of the descriptor: read it with pread. Returns -1 on error.
 */
int body_fd(struct body *b);

/*
 * A new read-only descriptor of the kept bytes, which the caller owns: for a
 * process that must read the body but never change what the server sends
 * on (a sealed memfd is shared as it is, a spool file is opened again
 * read-only). Same rules as body_fd. Returns -1 on error.
 */
int body_fd_readonly(struct body *b);

/*
 * A finished body over fd (which it then owns), as a scanner process gets
 * one: length bytes arrived, the first kept of them are in the file, with
 * the given status and digest. fd -1 makes a body in BODY_IO_ERROR.
 */
struct body *body_from_fd(int fd, uint64_t length, uint64_t kept, enum body_status status,
                          const unsigned char sha256[32]);

/* The status the body ended with (BODY_OK, BODY_OVER or BODY_IO_ERROR). */
enum body_status body_status(const struct body *b);

/* Bytes kept (readable): body_length unless the body is over max_size. */
uint64_t body_kept(const struct body *b);

/*
 * Appends kept bytes [off, off+len) to dst (for replies). Returns 0, or -1 if
 * the range is not all kept (dst untouched) or on an I/O error (dst may then
 * hold the first part of the range). Same threading rules as body_read.
 */
int body_copy_to(const struct body *b, uint64_t off, size_t len, struct evbuffer *dst);

/* Frees the body, its memory and its temporary file. NULL is allowed. */
void body_free(struct body *b);

/*
 * Opens a new, nameless, read-write file in dir, as a body that spills does
 * (start-up and reloads use it to check that spool_dir is usable). Returns
 * its descriptor, or -1 with errno set.
 */
int body_spool_open(const char *dir);

/* For tests only: act as if O_TMPFILE were unsupported (mkstemp + unlink). */
extern bool body_test_no_tmpfile;

#endif
