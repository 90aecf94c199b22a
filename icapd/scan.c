/*
 * scan: preparing, running and merging a chain's body verdicts.
 *
 * Verdicts merge in chain order: the first block wins; otherwise the first
 * module that could not judge (a limit, an encrypted archive, an engine
 * error) makes the verdict an error, which the service's on_scan_error turns
 * into a block or a pass. A pass needs every module to pass.
 */
#include "scan.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hdr_parse.h"
#include "scanner_pool.h"

/* The Content-Length of the encapsulated message, or 0 if unknown. */
static uint64_t length_hint(const struct module_msg *m)
{
	const struct http_head *h = m->method == ICAP_METHOD_RESPMOD ? m->res : m->req;
	const struct hdr *cl = h ? hdr_find(h->hdrs, h->nhdrs, "Content-Length") : NULL;
	unsigned long long v;
	if (cl == NULL || hdr_parse_uint(cl->value, cl->value_len, 1ULL << 62, &v) < 0)
		return 0;
	return v;
}

static char *copy_or_null(const char *s)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

struct scan *scan_new(struct generation *g, const struct conf_service *svc, enum icap_method method,
                      const struct encap *enc, const char *heads, const char *client,
                      const char *user)
{
	struct scan *s = calloc(1, sizeof(*s));
	if (s == NULL)
		abort();
	s->gen = generation_ref(g);
	s->chain = generation_chain(g, svc);
	s->svc = svc;
	s->enc = *enc;
	s->msg.method = method;
	s->msg.svc = svc;
	s->msg.client = s->client = copy_or_null(client);
	s->msg.user = s->user = copy_or_null(user);
	s->heads = malloc(enc->body_off ? enc->body_off : 1);
	if (s->heads == NULL)
		abort();
	if (enc->body_off > 0)
		memcpy(s->heads, heads, enc->body_off);
	/* The blocks were checked by the transaction already. */
	if (enc->req_hdr_len > 0) {
		s->req_head = malloc(sizeof(*s->req_head));
		if (s->req_head == NULL ||
		    http_parse_request_block(s->heads + enc->req_hdr_off, enc->req_hdr_len,
		                             s->req_head) < 0)
			abort();
		s->msg.req = s->req_head;
	}
	if (enc->res_hdr_len > 0) {
		s->res_head = malloc(sizeof(*s->res_head));
		if (s->res_head == NULL ||
		    http_parse_response_block(s->heads + enc->res_hdr_off, enc->res_hdr_len,
		                              s->res_head) < 0)
			abort();
		s->msg.res = s->res_head;
	}
	return s;
}

bool scan_judge_headers(struct scan *s)
{
	for (size_t i = 0; i < s->chain->n; i++) {
		const struct gen_module *gm = s->chain->mods[i];
		if (gm->module->judge_headers == NULL)
			continue;
		struct verdict v = {.kind = VERDICT_PASS};
		gm->module->judge_headers(gm->state, &s->msg, &v);
		v.module = gm->module->name;
		/* A pass is kept too: its detail says which rule allowed it. */
		s->verdict = v;
		if (v.kind == VERDICT_BLOCK)
			return true;
	}
	return false;
}

bool scan_wants_body(struct scan *s, const char **skip)
{
	bool wanted = false;
	uint64_t hint = length_hint(&s->msg);

	*skip = s->chain->n == 0 ? "empty chain" : NULL;
	for (size_t i = 0; i < s->chain->n; i++) {
		const struct gen_module *gm = s->chain->mods[i];
		if (gm->module->judge_body == NULL)
			continue;
		if (gm->module->wants_body == NULL ||
		    gm->module->wants_body(gm->state, &s->msg, hint, skip))
			wanted = true;
	}
	return wanted;
}

static void run(struct workq_job *j)
{
	struct scan *s = (struct scan *)j;
	uint64_t t0 = clock_us();
	struct verdict error = {.kind = VERDICT_PASS};

	s->verdict = (struct verdict){.kind = VERDICT_PASS};
	for (size_t i = 0; i < s->chain->n; i++) {
		const struct gen_module *gm = s->chain->mods[i];
		if (gm->module->judge_body == NULL)
			continue;
		struct verdict v = {.kind = VERDICT_PASS, .module = gm->module->name};
		gm->module->judge_body(gm->state, &s->msg, s->body, &v);
		v.module = gm->module->name;
		if (v.kind == VERDICT_BLOCK) {
			s->verdict = v;
			break;
		}
		if (v.kind == VERDICT_ERROR && error.kind == VERDICT_PASS)
			error = v;
	}
	if (s->verdict.kind == VERDICT_PASS && error.kind == VERDICT_ERROR)
		s->verdict = error;
	s->duration_us = clock_us() - t0;
}

void scan_run_now(struct scan *s)
{
	run(&s->job);
}

static void finished(struct workq_job *j)
{
	struct scan *s = (struct scan *)j;
	/* Cache the verdict and hand it to transactions waiting for the same
	 * content, even if the one that asked is gone. */
	if (s->vcache != NULL)
		vcache_end(s->vcache, s->key, &s->verdict);
	if (s->detached)
		scan_free(s);
	else
		s->done(s->arg);
}

void scan_submit(struct scan *s, struct workq *q, void (*done)(void *arg), void *arg)
{
	s->done = done;
	s->arg = arg;
	s->job.run = run;
	s->job.done = finished;
	if (s->gen->scanners != NULL)
		scanner_pool_submit(s->gen->scanners, s);
	else
		workq_submit(q, &s->job);
}

void scan_detach(struct scan *s)
{
	s->detached = true;
}

void scan_free(struct scan *s)
{
	if (s == NULL)
		return;
	body_free(s->body);
	free(s->req_head);
	free(s->res_head);
	free(s->heads);
	free(s->client);
	free(s->user);
	generation_unref(s->gen);
	free(s);
}
