/*
 * scanner_worker: the loop of one scanner process. It was forked (through
 * the zygote) from the server after its generation was built, so it holds
 * that generation's module states (the ClamAV engine, the keyword rules)
 * in pages it shares with every other scanner; it runs in a sandbox
 * (sandbox.c) and answers one scan at a time: a job, a verdict, and so on
 * until the server closes the socket.
 *
 * Everything a job describes is rebuilt here the way the server's scan
 * threads see it (scan_new and a body over the descriptor), so a module
 * cannot tell the two apart. A crash here costs this scan (which the server
 * retries once elsewhere) and nothing else.
 */
#include "scanner_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"
#include "scanner_proto.h"

/* More than two maximal header blocks and two names: a broken job. */
#define META_MAX ((size_t)64 << 20)

#ifdef ICAPD_FAULT_INJECTION
/*
 * Test builds only (build-san): a body that starts with one of these words
 * makes this scanner crash, hang, or take 3 s, so the integration tests can
 * check what the server does about it.
 */
static void inject_fault(struct body *b)
{
	char head[24] = {0};
	if (body_read(b, 0, head, sizeof(head) - 1) <= 0)
		return;
	if (strncmp(head, "ICAPD-FAULT-CRASH", 17) == 0)
		abort();
	if (strncmp(head, "ICAPD-FAULT-HANG", 16) == 0)
		for (;;)
			pause();
	if (strncmp(head, "ICAPD-FAULT-SLOW", 16) == 0)
		sleep(3);
}
#endif

/* The job described by meta (len bytes) on body fd, run against g. */
static void run_job(struct generation *g, const unsigned char *meta, size_t len, int body,
                    struct scanner_verdict *out)
{
	struct scanner_meta m;

	memcpy(&m, meta, sizeof(m));
	size_t heads = (size_t)m.body_off;
	size_t clen = m.client_len == SCANNER_NONE ? 0 : m.client_len;
	size_t ulen = m.user_len == SCANNER_NONE ? 0 : m.user_len;
	struct encap enc = {
	        .req_hdr_off = (size_t)m.req_hdr_off,
	        .req_hdr_len = (size_t)m.req_hdr_len,
	        .res_hdr_off = (size_t)m.res_hdr_off,
	        .res_hdr_len = (size_t)m.res_hdr_len,
	        .body_off = heads,
	};
	if (m.magic != SCANNER_JOB_MAGIC || m.service >= g->conf->nservices ||
	    m.body_off > len - sizeof(m) || clen > len - sizeof(m) - heads ||
	    ulen > len - sizeof(m) - heads - clen || m.req_hdr_off + m.req_hdr_len > heads ||
	    m.res_hdr_off + m.res_hdr_len > heads)
		goto fail;
	const char *p = (const char *)meta + sizeof(m);
	char *client = m.client_len == SCANNER_NONE ? NULL : strndup(p + heads, clen);
	char *user = m.user_len == SCANNER_NONE ? NULL : strndup(p + heads + clen, ulen);
	const struct conf_service *svc = &g->conf->services[m.service];
	struct scan *s = scan_new(g, svc, (enum icap_method)m.method, &enc, p, client, user);
	free(client);
	free(user);
	s->body = body_from_fd(body, m.body_length, m.body_kept,
	                       (m.flags & SCANNER_BODY_OVER) ? BODY_OVER : BODY_OK, m.sha256);
	body = -1;
#ifdef ICAPD_FAULT_INJECTION
	inject_fault(s->body);
#endif
	scan_run_now(s);
	out->kind = s->verdict.kind;
	out->is_threat = s->verdict.is_threat;
	out->duration_us = s->duration_us;
	snprintf(out->reason, sizeof(out->reason), "%s", s->verdict.reason);
	snprintf(out->detail, sizeof(out->detail), "%s", s->verdict.detail);
	for (size_t i = 0; i < s->chain->n; i++)
		if (s->verdict.module == s->chain->mods[i]->module->name)
			out->module = (uint32_t)i;
	scan_free(s);
	return;
fail:
	if (body >= 0)
		close(body);
	out->kind = VERDICT_ERROR;
	snprintf(out->reason, sizeof(out->reason), "scanner: bad job");
}

/* The description of a job: inline in the datagram, or in memfd fd (then
 * mapped; *mapped says how much to unmap). Returns NULL if unusable. */
static const unsigned char *job_meta(const struct scanner_job *job, const unsigned char *dgram,
                                     size_t dlen, int fd, size_t *len, size_t *mapped)
{
	*mapped = 0;
	if (job->inline_len > 0) {
		if (job->inline_len != dlen - sizeof(*job) || fd >= 0)
			return NULL;
		*len = job->inline_len;
		return dgram + sizeof(*job);
	}
	struct stat st;
	if (fd < 0 || dlen != sizeof(*job) || fstat(fd, &st) < 0 || (size_t)st.st_size > META_MAX)
		return NULL;
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = *mapped = (size_t)st.st_size;
	return p;
}

void scanner_worker_main(int sock, struct generation *g)
{
	size_t cap = sizeof(struct scanner_job) + SCANNER_INLINE_MAX;
	unsigned char *dgram = malloc(cap);
	if (dgram == NULL)
		_exit(2);
	for (;;) {
		struct scanner_job job;
		int fds[2];
		ssize_t r = scanner_recv(sock, dgram, cap, fds, 2);
		if (r == 0)
			_exit(0);
		if (r < (ssize_t)sizeof(job))
			_exit(2);
		memcpy(&job, dgram, sizeof(job));
		if (job.magic != SCANNER_JOB_MAGIC)
			_exit(2);
		int k = 0, body = job.has_body ? fds[k++] : -1, memfd = k < 2 ? fds[k] : -1;
		if (job.has_body && body < 0)
			_exit(2);

		struct scanner_verdict v = {
		        .magic = SCANNER_VERDICT_MAGIC,
		        .id = job.id,
		        .kind = VERDICT_ERROR,
		        .module = SCANNER_NONE,
		};
		size_t len, mapped;
		const unsigned char *meta = job_meta(&job, dgram, (size_t)r, memfd, &len, &mapped);
		if (meta != NULL && len >= sizeof(struct scanner_meta)) {
			run_job(g, meta, len, body, &v);
		} else {
			if (body >= 0)
				close(body);
			snprintf(v.reason, sizeof(v.reason),
			         "scanner: job description not readable");
		}
		if (mapped > 0)
			munmap((void *)meta, mapped);
		if (memfd >= 0)
			close(memfd);
		if (scanner_send(sock, &v, sizeof(v), NULL, 0) < 0)
			_exit(3);
	}
}
