/*
 * txn: the state machine of one ICAP transaction.
 *
 *   TS_HEAD          ICAP request line and headers: method, service, version,
 *                    Encapsulated, Preview, Allow: 204
 *   TS_HTTP_HEADERS  the encapsulated HTTP header blocks, whose total length
 *                    the Encapsulated header gave; the verdict is decided here
 *                    while no module judges bodies (an empty chain)
 *   TS_BODY          the chunked body: echoed back chunk by chunk as it
 *                    arrives (never held until the end: Squid 5.7 stalls on
 *                    large bodies otherwise), or read and dropped before a 204
 *
 * 204 is sent when the client allowed it (Allow: 204) or after a preview,
 * where RFC 3507 section 4.5 always allows it; that spares the client the
 * cost of receiving the body back. Errors that leave the stream in sync
 * (unknown service, method not allowed) keep the connection: the rest of the
 * request is read and dropped. Any other error closes it.
 */
#include "txn.h"
#include "txn_impl.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chunked.h"
#include "clock.h"
#include "encap.h"
#include "http_parse.h"
#include "icap_parse.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"

struct txn *txn_new(struct generation *gen, const struct txn_peer *peer)
{
	struct txn *t = calloc(1, sizeof(*t));
	if (t == NULL)
		abort();
	t->magic = TXN_MAGIC;
	t->gen = generation_ref(gen);
	t->state = TS_HEAD;
	t->verdict = "none";
	t->start_us = clock_us();
	t->peer = *peer;
	return t;
}

const char *txn_istag(const struct txn *t)
{
	return t->svc ? t->svc->istag : NULL;
}

/* An error that leaves the stream out of sync: reply and close. */
enum txn_result txn_fail(struct txn *t, struct evbuffer *out, int status)
{
	reply_error(out, status, txn_istag(t), true);
	t->status = status;
	t->verdict = "error";
	t->state = TS_DONE;
	return TXN_CLOSE;
}

static char *copy_field(const char *s, size_t n)
{
	if (n > LOG_FIELD_MAX)
		n = LOG_FIELD_MAX;
	char *d = strndup(s, n);
	if (d == NULL)
		abort();
	return d;
}

/* Keeps what the access log may record, and only what the operator asked for. */
static void capture_log_fields(struct txn *t, const struct icap_request *req)
{
	const struct conf *c = t->gen->conf;
	const struct hdr *h;

	if (c->log_client_address) {
		h = hdr_find(req->hdrs, req->nhdrs, "X-Client-IP");
		t->client = h ? copy_field(h->value, h->value_len)
		              : copy_field(t->peer.address, strlen(t->peer.address));
	}
	if (c->log_username) {
		h = hdr_find(req->hdrs, req->nhdrs, "X-Client-Username");
		if (h == NULL)
			h = hdr_find(req->hdrs, req->nhdrs, "X-Authenticated-User");
		if (h != NULL)
			t->user = copy_field(h->value, h->value_len);
	}
}

/* The client as the ICAP client names it, for the modules (URL policy
 * groups). X-Authenticated-User is base64 of "Scheme://[domain/]user". */
static void capture_identity(struct txn *t, const struct icap_request *req)
{
	const struct hdr *h = hdr_find(req->hdrs, req->nhdrs, "X-Client-IP");
	if (h != NULL && h->value_len > 0 && h->value_len < 64)
		t->ident_client = copy_field(h->value, h->value_len);
	h = hdr_find(req->hdrs, req->nhdrs, "X-Client-Username");
	if (h != NULL && h->value_len > 0) {
		t->ident_user = copy_field(h->value, h->value_len);
		return;
	}
	h = hdr_find(req->hdrs, req->nhdrs, "X-Authenticated-User");
	unsigned char raw[LOG_FIELD_MAX];
	if (h == NULL || h->value_len == 0 || h->value_len > (sizeof(raw) / 3) * 4)
		return;
	int n = EVP_DecodeBlock(raw, (const unsigned char *)h->value, (int)h->value_len);
	if (n <= 0)
		return;
	/* Padding decodes to trailing NULs; a NUL inside is not a name. */
	while (n > 0 && raw[n - 1] == 0)
		n--;
	if (n == 0 || memchr(raw, 0, (size_t)n) != NULL)
		return;
	const char *name = (const char *)raw, *end = name + n;
	for (const char *p = name; p < end; p++)
		if (*p == '/')
			name = p + 1;
	if (name < end)
		t->ident_user = copy_field(name, (size_t)(end - name));
}

static void capture_url(struct txn *t, const struct http_head *h)
{
	unsigned long long mode = t->gen->conf->log_url;
	if (mode == CONF_URL_FULL) {
		t->url = copy_field(h->target, h->target_len);
	} else if (mode == CONF_URL_HOST) {
		const char *host;
		size_t n = http_request_host(h, &host);
		if (n > 0)
			t->url = copy_field(host, n);
	}
}

static bool any_header_lists(const struct icap_request *req, const char *name, const char *token)
{
	for (size_t i = 0; i < req->nhdrs; i++) {
		const struct hdr *h = &req->hdrs[i];
		if (h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0 &&
		    hdr_list_has(h->value, h->value_len, token))
			return true;
	}
	return false;
}

/* Validates the request head; returns 0 or the ICAP status to fail with. */
static int check_head(struct txn *t, const struct icap_request *req)
{
	const struct conf *c = t->gen->conf;

	/* A later 1.x is answered as 1.0 (RFC 9110 section 2.5). */
	if (req->version_major != 1)
		return 505;
	if (req->method == ICAP_METHOD_UNKNOWN)
		return 501;
	t->method = req->method;
	if (hdr_count(req->hdrs, req->nhdrs, "Host") != 1)
		return 400;

	size_t n = hdr_count(req->hdrs, req->nhdrs, "Encapsulated");
	if (n > 1)
		return 400;
	if (n == 0) {
		/* Many clients send OPTIONS without one; nothing else may omit it. */
		if (req->method != ICAP_METHOD_OPTIONS)
			return 400;
		memset(&t->enc, 0, sizeof(t->enc));
	} else {
		const struct hdr *e = hdr_find(req->hdrs, req->nhdrs, "Encapsulated");
		if (encap_parse(e->value, e->value_len, req->method, c->max_http_header, &t->enc) <
		    0)
			return 400;
	}

	/* REQMOD and RESPMOD carry at least one part of their message (errata). */
	if (req->method == ICAP_METHOD_REQMOD && t->enc.req_hdr_len == 0 &&
	    t->enc.body != ENCAP_REQ_BODY)
		return 400;
	if (req->method == ICAP_METHOD_RESPMOD && t->enc.res_hdr_len == 0 &&
	    t->enc.body != ENCAP_RES_BODY)
		return 400;

	n = hdr_count(req->hdrs, req->nhdrs, "Preview");
	if (n > 1)
		return 400;
	if (n == 1) {
		const struct hdr *p = hdr_find(req->hdrs, req->nhdrs, "Preview");
		unsigned long long v;
		if (hdr_parse_uint(p->value, p->value_len, PREVIEW_MAX, &v) < 0)
			return 400;
		t->preview = true;
		t->preview_left = (long long)v;
	}
	t->allow204 = any_header_lists(req, "Allow", "204");
	t->close = any_header_lists(req, "Connection", "close");
	return 0;
}

static enum txn_result read_head(struct txn *t, struct evbuffer *in, struct evbuffer *out)
{
	const struct conf *c = t->gen->conf;

	/* Empty lines before a request are allowed (RFC 9112 section 2.2). */
	while (t->head_scanned == 0 && evbuffer_get_length(in) >= 2) {
		unsigned char two[2];
		evbuffer_copyout(in, two, 2);
		if (two[0] != '\r' || two[1] != '\n')
			break;
		evbuffer_drain(in, 2);
	}

	size_t len = evbuffer_get_length(in);
	struct evbuffer_ptr from, end;
	evbuffer_ptr_set(in, &from, t->head_scanned > 3 ? t->head_scanned - 3 : 0,
	                 EVBUFFER_PTR_SET);
	end = evbuffer_search(in, "\r\n\r\n", 4, &from);
	if (end.pos < 0) {
		/* A head ended by bare LFs would otherwise wait for the timeout. */
		if (len > c->max_icap_header || evbuffer_search(in, "\n\n", 2, &from).pos >= 0)
			return txn_fail(t, out, 400);
		t->head_scanned = len;
		return TXN_MORE;
	}
	size_t head_len = (size_t)end.pos + 4;
	if (head_len > c->max_icap_header)
		return txn_fail(t, out, 400);

	const char *head = (const char *)evbuffer_pullup(in, (ev_ssize_t)head_len);
	struct icap_request req;
	if (icap_parse_request(head, head_len, &req) != (long)head_len)
		return txn_fail(t, out, 400);
	t->svc = conf_service_find(c, req.service, req.service_len);
	int status = check_head(t, &req);
	if (status != 0)
		return txn_fail(t, out, status);
	capture_log_fields(t, &req);
	capture_identity(t, &req);
	evbuffer_drain(in, head_len);

	t->state = TS_HTTP_HEADERS;
	if (t->svc == NULL)
		status = 404;
	else if (t->method != ICAP_METHOD_OPTIONS && !(t->svc->methods & 1u << t->method))
		status = 405;
	if (status != 0) {
		reply_error(out, status, txn_istag(t), t->close);
		t->status = status;
		t->verdict = "error";
		t->error_replied = true;
	}
	return TXN_MORE;
}

void txn_echo_start(struct txn *t, struct evbuffer *out, const char *heads)
{
	/* REQMOD answers with the request, RESPMOD with the response. */
	bool req = t->method == ICAP_METHOD_REQMOD;
	size_t off = req ? t->enc.req_hdr_off : t->enc.res_hdr_off;
	size_t len = req ? t->enc.req_hdr_len : t->enc.res_hdr_len;
	const char *body = t->enc.body == ENCAP_NULL_BODY ? "null-body"
	                   : req                          ? "req-body"
	                                                  : "res-body";

	reply_start(out, 200, txn_istag(t), t->close);
	if (len > 0)
		evbuffer_add_printf(out, "Encapsulated: %s=0, %s=%zu\r\n\r\n",
		                    req ? "req-hdr" : "res-hdr", body, len);
	else
		evbuffer_add_printf(out, "Encapsulated: %s=0\r\n\r\n", body);
	evbuffer_add(out, heads + off, len);
	t->status = 200;
}

/* Starts a 200 that echoes the message from the input: its header block,
 * then (by the caller) its body as it arrives. */
static void echo_head(struct txn *t, struct evbuffer *in, struct evbuffer *out)
{
	txn_echo_start(t, out, (const char *)evbuffer_pullup(in, (ev_ssize_t)t->enc.body_off));
	evbuffer_drain(in, t->enc.body_off);
}

void txn_reply_204(struct txn *t, struct evbuffer *out)
{
	reply_start(out, 204, txn_istag(t), t->close);
	evbuffer_add(out, "Encapsulated: null-body=0\r\n\r\n", 29);
	t->status = 204;
}

enum txn_result txn_finish(struct txn *t)
{
	t->state = TS_DONE;
	return t->close ? TXN_CLOSE : TXN_DONE;
}

enum txn_result txn_start_body(struct txn *t, enum body_action b, enum end_action e)
{
	chunked_init(&t->ck);
	t->ck.stop_at_trailers = b == BODY_ECHO;
	if (!t->preview)
		t->preview_left = -1;
	t->body_action = b;
	t->end_action = e;
	t->state = TS_BODY;
	return TXN_MORE;
}

static enum txn_result read_http_headers(struct txn *t, struct evbuffer *in, struct evbuffer *out)
{
	size_t need = t->enc.body_off;
	bool has_body = t->enc.body != ENCAP_NULL_BODY;

	if (evbuffer_get_length(in) < need)
		return TXN_MORE;
	if (t->error_replied) {
		evbuffer_drain(in, need);
		return has_body ? txn_start_body(t, BODY_DROP, END_NOTHING) : txn_finish(t);
	}
	if (need > 0) {
		const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)need);
		struct http_head h;
		if (t->enc.req_hdr_len > 0) {
			if (http_parse_request_block(p + t->enc.req_hdr_off, t->enc.req_hdr_len,
			                             &h) < 0)
				return txn_fail(t, out, 400);
			capture_url(t, &h);
		}
		if (t->enc.res_hdr_len > 0 &&
		    http_parse_response_block(p + t->enc.res_hdr_off, t->enc.res_hdr_len, &h) < 0)
			return txn_fail(t, out, 400);
	}

	if (t->method == ICAP_METHOD_OPTIONS) {
		reply_options(out, t->gen->conf, t->svc, t->close);
		t->status = 200;
		t->verdict = "options";
		evbuffer_drain(in, need);
		return has_body ? txn_start_body(t, BODY_DROP, END_NOTHING) : txn_finish(t);
	}

	switch (txn_scan_begin(t, (const char *)evbuffer_pullup(in, (ev_ssize_t)need), has_body,
	                       out)) {
	case TXN_SCAN_BODY:
		/* The modules judge the whole body before the verdict is sent. */
		evbuffer_drain(in, need);
		return txn_start_body(t, BODY_STORE, END_SCAN);
	case TXN_SCAN_BLOCKED:
		/* Blocked on its heads: what body follows is read and dropped. */
		evbuffer_drain(in, need);
		return has_body ? txn_start_body(t, BODY_DROP, END_NOTHING) : txn_finish(t);
	case TXN_SCAN_NONE:
		break;
	}

	/* Nothing judges this message: it passes unchanged. */
	t->verdict = "unchanged";
	if (!has_body) {
		if (t->allow204) {
			evbuffer_drain(in, need);
			txn_reply_204(t, out);
		} else {
			echo_head(t, in, out);
		}
		return txn_finish(t);
	}
	if (t->preview || t->allow204) {
		evbuffer_drain(in, need);
		return txn_start_body(t, BODY_DROP, END_REPLY_204);
	}
	echo_head(t, in, out);
	return txn_start_body(t, BODY_ECHO, END_NOTHING);
}

static enum txn_result read_body(struct txn *t, struct evbuffer *in, struct evbuffer *out)
{
	for (;;) {
		if (evbuffer_get_length(out) > TXN_OUTPUT_HIGH)
			return TXN_MORE;
		size_t avail = evbuffer_get_length(in);
		uint64_t pending = chunked_pending(&t->ck);
		if (pending > 0) {
			size_t n = pending < avail ? (size_t)pending : avail;
			if (n == 0)
				return TXN_MORE;
			if (t->body_action == BODY_ECHO) {
				evbuffer_add_printf(out, "%zx\r\n", n);
				evbuffer_remove_buffer(in, out, n);
				evbuffer_add(out, "\r\n", 2);
			} else if (t->body_action == BODY_STORE) {
				if (body_append(t->scan->body, in, n) == BODY_IO_ERROR ||
				    txn_scan_release(t, out) < 0) {
					log_error("spool: cannot keep a body");
					if (t->status == 0)
						return txn_fail(t, out, 500);
					t->verdict = "truncated";
					t->state = TS_DONE;
					return TXN_CLOSE;
				}
			} else {
				evbuffer_drain(in, n);
			}
			chunked_consume(&t->ck, n);
			if (t->preview_left >= 0)
				t->preview_left -= (long long)n;
			continue;
		}
		if (avail == 0)
			return TXN_MORE;

		struct evbuffer_iovec seg;
		evbuffer_peek(in, -1, NULL, &seg, 1);
		size_t used = 0;
		bool trailers = chunked_in_trailers(&t->ck);
		enum chunked_status st = chunked_parse(&t->ck, seg.iov_base, seg.iov_len, &used);
		if (t->body_action == BODY_ECHO && trailers && st != CHUNKED_ERROR) {
			/* Trailers go back as they came (RFC 3507 errata). */
			evbuffer_remove_buffer(in, out, used);
		} else {
			evbuffer_drain(in, used);
			if (t->body_action == BODY_ECHO && !trailers && chunked_in_trailers(&t->ck))
				evbuffer_add(out, "0\r\n", 3);
		}
		/* A client sends at most the Preview bytes it announced (section 4.5). */
		if (t->preview_left >= 0 && t->status == 0 &&
		    chunked_pending(&t->ck) > (uint64_t)t->preview_left)
			return txn_fail(t, out, 400);
		if (st == CHUNKED_ERROR) {
			if (t->status == 0)
				return txn_fail(t, out, 400);
			/* The reply has started: all we can do is cut it short. */
			t->verdict = "truncated";
			t->state = TS_DONE;
			return TXN_CLOSE;
		}
		if (st != CHUNKED_END)
			continue;
		if (t->end_action == END_SCAN)
			return txn_scan_body_end(t, out);
		if (t->end_action == END_REPLY_204)
			txn_reply_204(t, out);
		return txn_finish(t);
	}
}

enum txn_result txn_step(struct txn *t, struct evbuffer *in, struct evbuffer *out)
{
	assert(t->magic == TXN_MAGIC);
	for (;;) {
		enum txn_state before = t->state;
		enum txn_result r;
		switch (t->state) {
		case TS_HEAD:
			r = read_head(t, in, out);
			break;
		case TS_HTTP_HEADERS:
			r = read_http_headers(t, in, out);
			break;
		case TS_BODY:
			r = read_body(t, in, out);
			break;
		case TS_SCAN:
			return TXN_MORE;
		case TS_VERDICT:
			r = txn_scan_reply(t, out);
			break;
		case TS_SEND:
			r = txn_scan_send(t, out);
			break;
		default:
			return t->close ? TXN_CLOSE : TXN_DONE;
		}
		if (r != TXN_MORE || t->state == before)
			return r;
	}
}

bool txn_storing(const struct txn *t)
{
	return t->state == TS_BODY && t->body_action == BODY_STORE;
}

enum txn_phase txn_phase(const struct txn *t)
{
	switch (t->state) {
	case TS_HEAD:
	case TS_HTTP_HEADERS:
		return TXN_PHASE_HEAD;
	case TS_SCAN:
		return TXN_PHASE_WAIT;
	default:
		return TXN_PHASE_BODY;
	}
}

bool txn_timeout(struct txn *t, struct evbuffer *out)
{
	t->verdict = "timeout";
	if (t->status != 0)
		return false;
	reply_error(out, 408, txn_istag(t), true);
	t->status = 408;
	return true;
}

void txn_account(struct txn *t, uint64_t in, uint64_t out)
{
	t->bytes_in += in;
	t->bytes_out += out;
}

void txn_free(struct txn *t)
{
	if (t == NULL)
		return;
	assert(t->magic == TXN_MAGIC);
	uint64_t us = clock_us() - t->start_us;
	bool complete = t->state == TS_DONE;
	if (t->status != 0 || t->bytes_in > 0) {
		struct access_record r = {
		        .service = t->svc ? t->svc->name : "-",
		        .method = icap_method_name(t->method),
		        .status = t->status,
		        .verdict = complete ? t->verdict : "aborted",
		        .bytes_in = t->bytes_in,
		        .bytes_out = t->bytes_out,
		        .duration_us = us,
		        .client = t->client,
		        .user = t->user,
		        .url = t->url,
		        .module = t->module,
		        .reason = t->reason[0] ? t->reason : NULL,
		        .cache = t->cache,
		        .match = t->match,
		};
		log_access(&r);
	}
	if (t->status != 0)
		metrics_request(t->method, t->status, us, t->bytes_in, t->bytes_out);
	if (t->waiting)
		vcache_cancel(t->peer.vcache, &t->waiter);
	if (t->scan != NULL && t->state == TS_SCAN && !t->waiting)
		scan_detach(t->scan); /* the scan thread still reads it */
	else
		scan_free(t->scan);
	generation_unref(t->gen);
	free(t->client);
	free(t->user);
	free(t->url);
	free(t->match);
	free(t->ident_client);
	free(t->ident_user);
	t->magic = 0;
	free(t);
}
