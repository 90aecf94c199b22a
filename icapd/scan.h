/*
 * scan: one message's trip through a service's body modules. A scan owns
 * what the modules read (a copy of the encapsulated HTTP heads and the body
 * store), so a connection that goes away mid-scan only detaches from it: the
 * scan thread finishes with everything it needs still alive, and the
 * completion frees it.
 */
#ifndef ICAPD_SCAN_H
#define ICAPD_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "body.h"
#include "encap.h"
#include "generation.h"
#include "module.h"
#include "vcache.h"
#include "workq.h"

struct scan {
	struct workq_job job;
	struct generation *gen;
	const struct conf_service *svc;
	const struct gen_chain *chain;
	char *heads;         /* copy of the encapsulated HTTP header blocks */
	struct encap enc;    /* where they lie in heads */
	char *client, *user; /* copies for msg */
	struct http_head *req_head, *res_head;
	struct module_msg msg;
	struct body *body;
	struct verdict verdict; /* the merged verdict, once done */
	uint64_t duration_us;
	struct vcache *vcache; /* set when this scan leads for its key */
	unsigned char key[32];
	void (*done)(void *arg); /* on the loop, unless detached */
	void *arg;
	bool detached;
	unsigned attempts;  /* scanner processes lost on this scan (scanner_pool.c) */
	uint64_t queued_ms; /* when it last began to wait for a scanner */
};

/*
 * A scan of a message of service svc under generation g: copies the header
 * blocks heads[0..len) described by enc (already checked by the
 * transaction) and the client's address and user name (NULL if unknown).
 */
struct scan *scan_new(struct generation *g, const struct conf_service *svc, enum icap_method method,
                      const struct encap *enc, const char *heads, const char *client,
                      const char *user);

/* Runs the chain's header judges (URL filtering); true if one blocks, with
 * its verdict in s->verdict. */
bool scan_judge_headers(struct scan *s);

/* Whether any module of the chain wants the body; when none does, *skip
 * says why (for the log), or is NULL. */
bool scan_wants_body(struct scan *s, const char **skip);

/* Runs the modules on the complete body in one of the generation's scanner
 * processes, or else on a scan thread of q; done(arg) follows on the loop. */
void scan_submit(struct scan *s, struct workq *q, void (*done)(void *arg), void *arg);

/* Runs the modules on the complete body now, on this thread (icapd --scan). */
void scan_run_now(struct scan *s);

/* The transaction is gone: a running scan frees itself when it ends. */
void scan_detach(struct scan *s);

void scan_free(struct scan *s);

#endif
