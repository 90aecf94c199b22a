/*
 * txn_scan: the part of a transaction that holds a body for the modules.
 *
 * The body goes into the scan's store while it arrives (after a preview, a
 * 100 Continue asks for the rest); once complete it goes to the scan
 * threads, and the connection waits. With the verdict in:
 *   pass   204 if the client allowed it (Allow: 204, or still inside a
 *          preview), else 200 with the message sent back from the store
 *   block  200 with a 403 block page and X-Infection-Found /
 *          X-Violations-Found / X-Virus-ID headers
 *   error  (a limit, an encrypted archive, an engine failure) as the
 *          service's on_scan_error says: block (the default) or pass
 *
 * A message whose body is shorter than its Content-Length (the origin
 * closed early; Squid still asks for a verdict on what arrived) was not
 * judged whole: a pass becomes an error. Scanners miss what hides in a
 * broken container (libclamav passes a zip cut before its central
 * directory), and the user would still get those bytes. The verdict cache
 * keeps the content's own verdict; this is decided per message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockpage.h"
#include "hdr_parse.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "txn_impl.h"

/* Bytes of a held body copied to the output per step. */
#define SEND_STEP (256 * 1024)

static void reply_block(struct txn *t, struct evbuffer *out, const struct verdict *v);

/* Keeps what the verdict says for the log; the match only if asked for. */
static void note_verdict(struct txn *t, const struct verdict *v)
{
	t->module = v->kind == VERDICT_PASS ? NULL : v->module;
	snprintf(t->reason, sizeof(t->reason), "%s", v->kind == VERDICT_PASS ? "" : v->reason);
	if (t->gen->conf->log_matches && v->detail[0] != 0 && t->match == NULL &&
	    (t->match = strdup(v->detail)) == NULL)
		abort();
}

enum txn_scan_start txn_scan_begin(struct txn *t, const char *heads, bool has_body,
                                   struct evbuffer *out)
{
	const struct conf *c = t->gen->conf;
	const char *skip = NULL;

	if (generation_chain(t->gen, t->svc)->n == 0)
		return TXN_SCAN_NONE;
	t->scan =
	        scan_new(t->gen, t->svc, t->method, &t->enc, heads, t->ident_client, t->ident_user);
	if (scan_judge_headers(t->scan)) {
		note_verdict(t, &t->scan->verdict);
		t->verdict = "blocked";
		reply_block(t, out, &t->scan->verdict);
		return TXN_SCAN_BLOCKED;
	}
	if (!has_body || !scan_wants_body(t->scan, &skip)) {
		if (skip != NULL && strcmp(skip, "empty chain") != 0)
			snprintf(t->reason, sizeof(t->reason), "not scanned: %s", skip);
		scan_free(t->scan);
		t->scan = NULL;
		return TXN_SCAN_NONE;
	}
	struct body_limits lim = {
	        .memory = c->body_memory,
	        .max_size = c->max_body_size,
	        .spool_dir = c->spool_dir,
	};
	t->scan->body = body_new(&lim);
	if (t->scan->body == NULL)
		abort();
	return TXN_SCAN_BODY;
}

static void txn_scan_early_start(struct txn *t, struct evbuffer *out)
{
	txn_echo_start(t, out, t->scan->heads);
	t->early = true;
}

/*
 * Early reply: passes the held body on as it arrives, all but the last
 * early_hold bytes, which wait for the verdict; a bad verdict then cuts the
 * reply, so the object never arrives whole. Squid 5.7 stops reading from the
 * origin after about 64 KiB until body bytes come back, so the hold must stay
 * below that. Returns -1 if the store failed.
 */
int txn_scan_release(struct txn *t, struct evbuffer *out)
{
	struct body *b = t->scan->body;
	uint64_t hold = t->svc->early_hold;

	if (t->allow204 || !body_complete(b) || (t->preview && !t->continued))
		return 0;
	/* Start only once more than the hold is in: a body that fits in it still
	 * gets the block page. */
	if (!t->early) {
		if (body_length(b) <= hold)
			return 0;
		txn_scan_early_start(t, out);
	}
	while (body_length(b) > t->send_off + hold && evbuffer_get_length(out) <= TXN_OUTPUT_HIGH) {
		uint64_t left = body_length(b) - hold - t->send_off;
		size_t n = left < SEND_STEP ? (size_t)left : SEND_STEP;
		evbuffer_add_printf(out, "%zx\r\n", n);
		if (body_copy_to(b, t->send_off, n, out) < 0)
			return -1;
		evbuffer_add(out, "\r\n", 2);
		t->send_off += n;
	}
	return 0;
}

static void scan_done(void *arg)
{
	struct txn *t = arg;
	t->state = TS_VERDICT;
	t->peer.wake(t->peer.wake_arg);
}

/* The key of this body: its hash, the service's ISTag, and how the body is
 * to be read (Content-Type with its charset, Content-Encoding). */
static const unsigned char *cache_key_of(struct txn *t, const struct http_head *h,
                                         unsigned char key[32])
{
	vcache_key(key, body_sha256(t->scan->body), txn_istag(t), h);
	return key;
}

/* A verdict on this content came (from another transaction's scan or from
 * the shared tier), or v is NULL: nobody has one, so scan it. */
static void waiter_done(void *arg, const struct verdict *v)
{
	struct txn *t = arg;
	t->waiting = false;
	if (v == NULL) {
		t->cache = "miss";
		t->scan->vcache = t->peer.vcache;
		scan_submit(t->scan, t->peer.workq, scan_done, t);
		return;
	}
	t->scan->verdict = *v;
	t->state = TS_VERDICT;
	t->peer.wake(t->peer.wake_arg);
}

enum txn_result txn_scan_body_end(struct txn *t, struct evbuffer *out)
{
	if (t->preview && !t->ck.ieof && !t->continued) {
		/* The preview was not the whole body: ask for the rest. */
		reply_start(out, 100, txn_istag(t), false);
		evbuffer_add(out, "\r\n", 2);
		t->continued = true;
		t->preview_left = -1;
		chunked_init(&t->ck);
		return TXN_MORE;
	}
	body_finish(t->scan->body);
	t->state = TS_SCAN;
	const struct http_head *h =
	        t->method == ICAP_METHOD_REQMOD ? t->scan->req_head : t->scan->res_head;
	/* A head with more fields than were kept may hide a Content-Type: no key. */
	if (t->peer.vcache != NULL && !(h != NULL && h->truncated)) {
		enum vcache_result r =
		        vcache_begin(t->peer.vcache, cache_key_of(t, h, t->scan->key), &t->waiter,
		                     &t->scan->verdict);
		switch (r) {
		case VCACHE_HIT:
			t->cache = "hit";
			t->state = TS_VERDICT;
			return TXN_MORE;
		case VCACHE_ASK:
		case VCACHE_WAIT:
			t->cache = r == VCACHE_ASK ? "shared" : "coalesced";
			t->waiting = true;
			t->waiter.done = waiter_done;
			t->waiter.arg = t;
			return TXN_MORE;
		case VCACHE_SCAN:
			t->cache = "miss";
			t->scan->vcache = t->peer.vcache;
			break;
		}
	}
	scan_submit(t->scan, t->peer.workq, scan_done, t);
	return TXN_MORE;
}

/* A NUL-terminated copy of the request target, for the block page. */
static char *request_url(const struct scan *s)
{
	if (s->req_head == NULL)
		return NULL;
	size_t n = s->req_head->target_len < 4096 ? s->req_head->target_len : 4096;
	return strndup(s->req_head->target, n);
}

/* A 200 carrying the 403 block page (for CONNECT, a 403 without a body). */
static void reply_block(struct txn *t, struct evbuffer *out, const struct verdict *v)
{
	struct evbuffer *head = evbuffer_new(), *page = evbuffer_new();
	char reason[320], when[64], id[32];
	char *url = request_url(t->scan);
	time_t now = time(NULL);
	struct tm tm;

	if (head == NULL || page == NULL)
		abort();
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(id, sizeof(id), "%llx-%llx", (unsigned long long)t->gen->serial,
	         (unsigned long long)t->start_us);
	if (v->kind == VERDICT_BLOCK)
		snprintf(reason, sizeof(reason), "%s: %s", v->is_threat ? "Virus found" : "Blocked",
		         v->reason);
	else
		snprintf(reason, sizeof(reason), "Could not be checked: %s", v->reason);
	struct blockpage_vars vars = {
	        .url = url,
	        .reason = reason,
	        .module = v->module,
	        .service = t->svc->name,
	        .time = when,
	        .id = id,
	};
	const struct http_head *rh = t->scan->res_head ? t->scan->res_head : t->scan->req_head;
	int minor = rh ? rh->version_minor : 1;
	const struct http_head *req = t->scan->req_head;
	bool tunnel = req != NULL && req->method_len == 7 && memcmp(req->method, "CONNECT", 7) == 0;
	if ((tunnel ? blockpage_render_bodyless(minor, head)
	            : blockpage_render_http(t->gen->blockpage, &vars, minor, head, page)) < 0)
		abort();
	struct blockpage_verdict bv = {
	        .threat = v->kind == VERDICT_BLOCK && v->is_threat ? v->reason : NULL,
	        .module = v->module,
	        .category = v->kind == VERDICT_BLOCK ? (v->is_threat ? NULL : v->reason)
	                                             : "not-scanned",
	        .object = url,
	};
	reply_start(out, 200, txn_istag(t), t->close);
	blockpage_icap_headers(out, &bv);
	evbuffer_add_printf(out, "Encapsulated: res-hdr=0, %s=%zu\r\n\r\n",
	                    tunnel ? "null-body" : "res-body", evbuffer_get_length(head));
	evbuffer_add_buffer(out, head);
	if (!tunnel) {
		evbuffer_add_printf(out, "%zx\r\n", evbuffer_get_length(page));
		evbuffer_add_buffer(out, page);
		evbuffer_add(out, "\r\n0\r\n\r\n", 7);
	}
	evbuffer_free(head);
	evbuffer_free(page);
	free(url);
	t->status = 200;
}

/* True if the message says it is longer than the body that came (and no
 * Transfer-Encoding overrides its Content-Length). */
static bool body_cut_short(const struct txn *t)
{
	const struct http_head *h =
	        t->method == ICAP_METHOD_REQMOD ? t->scan->req_head : t->scan->res_head;
	unsigned long long len;
	if (h == NULL || hdr_find(h->hdrs, h->nhdrs, "Transfer-Encoding") != NULL)
		return false;
	const struct hdr *cl = hdr_find(h->hdrs, h->nhdrs, "Content-Length");
	return cl != NULL && hdr_parse_uint(cl->value, cl->value_len, 1ULL << 62, &len) == 0 &&
	       body_length(t->scan->body) < len;
}

enum txn_result txn_scan_reply(struct txn *t, struct evbuffer *out)
{
	const struct scan *s = t->scan;
	const struct verdict *v = &s->verdict;
	bool block = v->kind == VERDICT_BLOCK ||
	             (v->kind == VERDICT_ERROR &&
	              (t->svc->on_scan_error == CONF_SCAN_ERROR_BLOCK || v->fail_closed));
	bool may_204 = t->allow204 || (t->preview && !t->continued);
	struct verdict cut;

	/* Scans this process ran; cached and shared verdicts have their own counters. */
	if (t->cache == NULL || strcmp(t->cache, "miss") == 0)
		metrics_scan(v->module, v->kind, block, s->duration_us);
	if (v->kind == VERDICT_PASS && body_cut_short(t)) {
		cut = (struct verdict){.kind = VERDICT_ERROR, .module = "icapd"};
		snprintf(cut.reason, sizeof(cut.reason), "body shorter than its Content-Length");
		v = &cut;
		block = t->svc->on_scan_error == CONF_SCAN_ERROR_BLOCK;
	}
	note_verdict(t, v);
	if (block) {
		t->verdict = v->kind == VERDICT_BLOCK ? "blocked" : "blocked-unscanned";
		if (t->early) {
			/* The reply has begun: end it short so the object never arrives whole. */
			t->state = TS_DONE;
			return TXN_CLOSE;
		}
		reply_block(t, out, v);
		return txn_finish(t);
	}
	t->verdict = v->kind == VERDICT_ERROR ? "allowed-unscanned" : "clean";
	if (may_204) {
		txn_reply_204(t, out);
		return txn_finish(t);
	}
	if (!body_complete(s->body)) {
		/* Only max_body_size bytes were kept: the message cannot go back whole. */
		snprintf(t->reason, sizeof(t->reason), "body larger than max_body_size");
		if (t->early) {
			/* The 200 has begun: the rest was not kept, so end it short. */
			t->verdict = "truncated";
			t->state = TS_DONE;
			return TXN_CLOSE;
		}
		return txn_fail(t, out, 500);
	}
	if (!t->early)
		txn_echo_start(t, out, s->heads);
	t->state = TS_SEND;
	return TXN_MORE;
}

enum txn_result txn_scan_send(struct txn *t, struct evbuffer *out)
{
	struct body *b = t->scan->body;
	uint64_t total = body_length(b);

	while (t->send_off < total) {
		if (evbuffer_get_length(out) > TXN_OUTPUT_HIGH)
			return TXN_MORE;
		uint64_t left = total - t->send_off;
		size_t n = left < SEND_STEP ? (size_t)left : SEND_STEP;
		evbuffer_add_printf(out, "%zx\r\n", n);
		if (body_copy_to(b, t->send_off, n, out) < 0) {
			log_error("spool: cannot read a held body back; cutting the reply");
			t->verdict = "truncated";
			t->state = TS_DONE;
			return TXN_CLOSE;
		}
		evbuffer_add(out, "\r\n", 2);
		t->send_off += n;
	}
	evbuffer_add(out, "0\r\n\r\n", 5);
	return txn_finish(t);
}
