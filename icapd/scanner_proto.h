/*
 * scanner_proto: what the server and its scanner processes say to each
 * other over a SOCK_SEQPACKET socket pair (one message per datagram, so no
 * framing can go wrong).
 *
 * Server to scanner, per scan: a struct scanner_job, followed in the same
 * datagram by the message's description (struct scanner_meta, then the HTTP
 * header blocks, the client and the user name) when it fits in
 * SCANNER_INLINE_MAX bytes, else in a sealed memfd attached after the body
 * (header blocks may be megabytes, more than a datagram takes). The body
 * comes as a read-only descriptor (absent when the body could not be
 * stored). Scanner to server: a struct scanner_verdict.
 *
 * Both ends are the same binary, so structs go as they are. The server
 * trusts what it sends (the scanner was forked from it and holds the same
 * generation: a service is named by its index in that generation), but
 * checks everything a scanner answers, since a scanner is where hostile
 * bytes are parsed: no pointer comes back, only indexes that are checked,
 * and strings are cut at their buffer's end.
 *
 * The zygote (scanner_zygote.c) reports on its control socket with a
 * struct scanner_event, with the new scanner's socket attached to
 * SCANNER_EVENT_STARTED.
 */
#ifndef ICAPD_SCANNER_PROTO_H
#define ICAPD_SCANNER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "module.h"

#define SCANNER_JOB_MAGIC     0x4a4f4231u /* "JOB1" */
#define SCANNER_VERDICT_MAGIC 0x56455231u /* "VER1" */
#define SCANNER_EVENT_MAGIC   0x45564e31u /* "EVN1" */
#define SCANNER_NONE          UINT32_MAX  /* no module / no string */

/* Description bytes sent in the job's datagram rather than in a memfd. */
#define SCANNER_INLINE_MAX (16 * 1024)

struct scanner_job {
	uint32_t magic;
	uint32_t inline_len; /* description bytes after this; 0: in a memfd */
	uint64_t id;
	uint32_t has_body; /* the first descriptor is the body */
	uint32_t unused;
};

/* Flags of scanner_meta. */
#define SCANNER_BODY_OVER 1u /* more arrived than was kept */

struct scanner_meta {
	uint32_t magic;
	uint32_t method;  /* enum icap_method */
	uint32_t service; /* index in the generation's conf->services */
	uint32_t flags;
	uint64_t body_length, body_kept;
	unsigned char sha256[32];
	uint64_t req_hdr_off, req_hdr_len, res_hdr_off, res_hdr_len, body_off;
	/* Bytes that follow: the header blocks (body_off of them), then the
	 * client and the user, each SCANNER_NONE when absent. */
	uint32_t client_len, user_len;
};

struct scanner_verdict {
	uint32_t magic;
	uint32_t kind;   /* enum verdict_kind */
	uint64_t id;     /* of the job */
	uint32_t module; /* index in the service's chain, or SCANNER_NONE */
	uint32_t is_threat;
	uint64_t duration_us;
	char reason[sizeof(((struct verdict *)0)->reason)];
	char detail[sizeof(((struct verdict *)0)->detail)];
};

enum scanner_event_kind {
	SCANNER_EVENT_STARTED = 1, /* a new scanner, its socket attached */
	SCANNER_EVENT_EXITED,      /* a scanner ended; status as waitpid says */
};

struct scanner_event {
	uint32_t magic;
	uint32_t kind;
	int32_t pid;
	int32_t status;
};

/*
 * Sends one datagram of len bytes with up to 2 descriptors (fds[i] < 0 are
 * left out). Returns 0 or -1 (errno set); never SIGPIPE.
 */
int scanner_send(int sock, const void *msg, size_t len, const int *fds, size_t nfds);

/*
 * Receives one datagram into msg (cap bytes) and up to 2 descriptors into
 * fds (set to -1 where none came; descriptors beyond what the caller wants
 * are closed). Returns its length, 0 at end of file, or -1 (errno set;
 * EAGAIN on a non-blocking socket with nothing to read). A datagram longer
 * than cap is an error (EMSGSIZE), its descriptors closed.
 */
ssize_t scanner_recv(int sock, void *msg, size_t cap, int *fds, size_t nfds);

/*
 * Checks a verdict from a scanner for a chain of nmods modules: the magic,
 * the kind, the module index; cuts the strings at their end. Returns 0 if
 * it may be used.
 */
int scanner_verdict_check(struct scanner_verdict *v, size_t nmods);

#endif
