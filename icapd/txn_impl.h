/*
 * txn_impl: the transaction's state, shared by txn.c (the protocol) and
 * txn_scan.c (holding a body for the modules and answering with their
 * verdict). Nothing else includes it.
 */
#ifndef ICAPD_TXN_IMPL_H
#define ICAPD_TXN_IMPL_H

#include "chunked.h"
#include "encap.h"
#include "scan.h"
#include "txn.h"

#define TXN_MAGIC 0x54584e31u

/* Longest client address, user name or URL kept for the access log. */
#define LOG_FIELD_MAX 1024

/* Largest Preview value a client may announce. */
#define PREVIEW_MAX (1ULL << 30)

enum txn_state {
	TS_HEAD,
	TS_HTTP_HEADERS,
	TS_BODY,
	TS_SCAN,    /* the body is with the scanners */
	TS_VERDICT, /* the verdict is in: reply */
	TS_SEND,    /* sending a held body back from the store */
	TS_DONE,
};

enum body_action {
	BODY_DROP,  /* read and discard */
	BODY_ECHO,  /* copy each chunk to the reply as it arrives */
	BODY_STORE, /* keep it in the scan's body store */
};

enum end_action {
	END_NOTHING,
	END_REPLY_204,
	END_SCAN, /* after a preview: 100 Continue, else the scan */
};

struct txn {
	unsigned magic;
	struct generation *gen;
	const struct conf_service *svc;
	enum icap_method method;
	enum txn_state state;
	size_t head_scanned; /* input already searched for the end of the head */
	struct encap enc;
	bool allow204;
	bool preview;
	long long preview_left; /* preview bytes the client may still send; -1: no preview */
	bool close;             /* Connection: close */
	bool error_replied;     /* an in-sync error was sent; drop the rest */
	enum body_action body_action;
	enum end_action end_action;
	struct chunked ck;
	int status; /* 0 until the reply starts */
	const char *verdict;
	uint64_t bytes_in, bytes_out;
	uint64_t start_us;
	struct txn_peer peer;
	char *client, *user, *url;
	struct scan *scan;  /* while the body is held for the modules */
	bool continued;     /* 100 Continue was sent after a preview */
	uint64_t send_off;  /* bytes of the held body sent back */
	bool early;         /* the 200 began before the verdict (Squid 5.7, no Allow: 204) */
	const char *module; /* the module that decided, for the log */
	const char *cache;  /* hit, miss, coalesced: for the log */
	struct vcache_waiter waiter; /* while waiting for another's scan */
	bool waiting;
	char reason[256]; /* why, for the log */
	char *match;      /* what matched, for the log (log_matches on) */
	/* The client as the ICAP client describes it, for the modules. */
	char *ident_client, *ident_user;
};

/* txn.c, for txn_scan.c */
const char *txn_istag(const struct txn *t);
enum txn_result txn_fail(struct txn *t, struct evbuffer *out, int status);
enum txn_result txn_finish(struct txn *t);
void txn_reply_204(struct txn *t, struct evbuffer *out);
/* The start of a 200 echoing the message: status, Encapsulated and the
 * header block it carries, taken from heads (the message's header blocks,
 * laid out as the Encapsulated header said). */
void txn_echo_start(struct txn *t, struct evbuffer *out, const char *heads);
enum txn_result txn_start_body(struct txn *t, enum body_action b, enum end_action e);

/* txn_scan.c */
enum txn_scan_start {
	TXN_SCAN_NONE,    /* nothing judges this message: pass it as it is */
	TXN_SCAN_BODY,    /* store the body for the modules */
	TXN_SCAN_BLOCKED, /* blocked on its heads: the reply is written */
};
/* Runs the header judges, then prepares a scan if the chain wants the body. */
enum txn_scan_start txn_scan_begin(struct txn *t, const char *heads, bool has_body,
                                   struct evbuffer *out);
/* The body (or a preview of it) ended: 100 Continue, or off to the scan. */
enum txn_result txn_scan_body_end(struct txn *t, struct evbuffer *out);
/* Answers with the verdict (TS_VERDICT), then sends the held body (TS_SEND). */
enum txn_result txn_scan_reply(struct txn *t, struct evbuffer *out);
enum txn_result txn_scan_send(struct txn *t, struct evbuffer *out);
/* Passes on what arrived of the body, but the held tail, once early. */
int txn_scan_release(struct txn *t, struct evbuffer *out);

#endif
