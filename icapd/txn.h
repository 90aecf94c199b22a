/*
 * txn: one ICAP transaction on a connection, from the first byte of its head
 * to the last byte of its reply. It reads from the connection's input buffer
 * and writes to its output buffer; it never touches the socket, timers or
 * other transactions. Requests on a connection run one at a time, which is
 * what answers pipelined requests in order.
 */
#ifndef ICAPD_TXN_H
#define ICAPD_TXN_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>

#include "generation.h"

struct txn;

enum txn_result {
	TXN_MORE,  /* waiting for input (or for the output to drain) */
	TXN_DONE,  /* finished; the connection may carry the next request */
	TXN_CLOSE, /* finished; close the connection once the output is written */
};

/* What the connection's timer should guard while this transaction runs. */
enum txn_phase {
	TXN_PHASE_HEAD, /* header_timeout */
	TXN_PHASE_BODY, /* body_timeout */
	TXN_PHASE_WAIT, /* waiting for a scan: bounded by the modules' own limits */
};

/* Limits on the output held for a slow reader before input is paused. */
#define TXN_OUTPUT_HIGH (256 * 1024)

struct workq;

/* What a transaction gets from its connection. */
struct txn_peer {
	const char *address;   /* textual peer address, for logging when enabled */
	struct workq *workq;   /* the scan threads (scan_isolation off), else NULL */
	struct vcache *vcache; /* verdicts by content; NULL: none */
	void (*wake)(void *);  /* the transaction can go on (its scan ended) */
	void *wake_arg;
};

struct txn *txn_new(struct generation *gen, const struct txn_peer *peer);

/*
 * Advances the transaction with what is in in, writing to out. Returns when
 * it needs more input, when out holds more than TXN_OUTPUT_HIGH bytes, or
 * when it is finished.
 */
enum txn_result txn_step(struct txn *t, struct evbuffer *in, struct evbuffer *out);

enum txn_phase txn_phase(const struct txn *t);

/* True while the transaction reads a body into the store for the modules. */
bool txn_storing(const struct txn *t);

/*
 * The connection gave up waiting (timeout or shutdown). Writes a 408 if the
 * reply has not started; returns true if it did.
 */
bool txn_timeout(struct txn *t, struct evbuffer *out);

/* Adds bytes moved on the connection while the transaction ran. */
void txn_account(struct txn *t, uint64_t in, uint64_t out);

/* Logs the transaction (if it got as far as a reply) and frees it. */
void txn_free(struct txn *t);

#endif
