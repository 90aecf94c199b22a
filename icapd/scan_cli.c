/*
 * scan_cli: "icapd --scan FILE", which runs a service's body modules on a
 * file as if it were the body of a message with the given headers, and
 * prints the verdict on its first line:
 *
 *   clean                      exit 0 (also when no module wanted the body,
 *                              or an error that on_scan_error allows)
 *   block <module> <reason>    exit 1
 *   error: ...                 exit 2 (bad configuration, unreadable file)
 *
 * Administrators use it to test a file against their setup; tests use it
 * too. It builds the same generation the server would and uses the same
 * scan path, on this thread.
 */
#include "scan_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encap.h"
#include "generation.h"
#include "scan.h"

/* Builds the encapsulated heads: a GET for the file and a 200 response
 * (RESPMOD), or a POST carrying it (REQMOD), with the extra header lines. */
static char *make_heads(enum icap_method m, const char *file, char *const *headers, size_t n,
                        struct encap *enc)
{
	char *req = NULL, *res = NULL;
	size_t req_len = 0, res_len = 0;
	FILE *f = open_memstream(&req, &req_len);
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

	fprintf(f, "%s http://localhost/%s HTTP/1.1\r\nHost: localhost\r\n",
	        m == ICAP_METHOD_REQMOD ? "POST" : "GET", base);
	for (size_t i = 0; m == ICAP_METHOD_REQMOD && i < n; i++)
		fprintf(f, "%s\r\n", headers[i]);
	fprintf(f, "\r\n");
	fclose(f);
	memset(enc, 0, sizeof(*enc));
	enc->req_hdr_len = req_len;
	if (m == ICAP_METHOD_REQMOD) {
		enc->body = ENCAP_REQ_BODY;
		enc->body_off = req_len;
		return req;
	}
	f = open_memstream(&res, &res_len);
	fprintf(f, "HTTP/1.1 200 OK\r\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\r\n", headers[i]);
	fprintf(f, "\r\n");
	fclose(f);
	char *all = malloc(req_len + res_len);
	if (all == NULL)
		abort();
	memcpy(all, req, req_len);
	memcpy(all + req_len, res, res_len);
	free(req);
	free(res);
	enc->res_hdr_off = req_len;
	enc->res_hdr_len = res_len;
	enc->body = ENCAP_RES_BODY;
	enc->body_off = req_len + res_len;
	return all;
}

/* Reads the file into the scan's body store. Returns 0 or -1. */
static int load_body(struct scan *s, const struct conf *c, const char *file)
{
	struct body_limits lim = {
	        .memory = c->body_memory, .max_size = c->max_body_size, .spool_dir = c->spool_dir};
	FILE *f = fopen(file, "rb");
	if (f == NULL)
		return -1;
	s->body = body_new(&lim);
	char buf[65536];
	size_t n;
	int r = 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (body_append_mem(s->body, buf, n) == BODY_IO_ERROR)
			r = -1;
	if (ferror(f))
		r = -1;
	fclose(f);
	body_finish(s->body);
	return r;
}

int scan_cli(const char *conf_path, const char *service, const char *file, char *const *headers,
             size_t nheaders)
{
	struct generation *g = generation_build(conf_path, NULL, NULL, 1, stderr);
	if (g == NULL) {
		printf("error: configuration %s has errors\n", conf_path);
		return 2;
	}
	const struct conf_service *svc = conf_service_find(g->conf, service, strlen(service));
	if (svc == NULL) {
		printf("error: no service %s in %s\n", service, conf_path);
		generation_unref(g);
		return 2;
	}
	enum icap_method m =
	        svc->methods & 1u << ICAP_METHOD_RESPMOD ? ICAP_METHOD_RESPMOD : ICAP_METHOD_REQMOD;
	struct encap enc;
	char *heads = make_heads(m, file, headers, nheaders, &enc);
	const char *skip = NULL;
	int rc = 0;
	struct scan *s = scan_new(g, svc, m, &enc, heads, NULL, NULL);
	free(heads);
	if (!scan_wants_body(s, &skip)) {
		if (access(file, R_OK) < 0) {
			printf("error: %s: %s\n", file, strerror(errno));
			rc = 2;
		} else {
			printf("clean\nnot scanned: %s\n", skip ? skip : "no module judges bodies");
		}
	} else if (load_body(s, g->conf, file) < 0) {
		printf("error: %s: cannot read or spool it\n", file);
		rc = 2;
	} else {
		scan_run_now(s);
		const struct verdict *v = &s->verdict;
		bool block =
		        v->kind == VERDICT_BLOCK ||
		        (v->kind == VERDICT_ERROR && svc->on_scan_error == CONF_SCAN_ERROR_BLOCK);
		if (block) {
			printf("block %s %s\n", v->module, v->reason);
			rc = 1;
		} else {
			printf("clean\n");
			if (v->kind == VERDICT_ERROR)
				printf("allowed by on_scan_error: %s %s\n", v->module, v->reason);
		}
	}
	scan_free(s);
	generation_unref(g);
	return rc;
}
