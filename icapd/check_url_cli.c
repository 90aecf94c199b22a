/*
 * check_url_cli: "icapd --check-url URL [-c CONF] [--service /reqmod]
 * [--client ADDR] [--user NAME]", the tool an administrator runs after
 * editing a list or the policy. It builds the same generation the server
 * would, and asks the service's header judges (URL filtering) about a GET
 * of URL (a CONNECT when URL is "host:port" with --connect semantics: a
 * bare authority with a port and no path) from that client. First line:
 *
 *   block <category> <list-file>:<line> (policy <name>, <file>:<line>)   exit 1
 *   block - (default of policy <name>, <file>:<line>)                   exit 1
 *   allow (<the rule that decided>)                                      exit 0
 *   error: ...                                                           exit 2
 *
 * so that a script can split the first two words of a block. A URL that
 * cannot be canonicalized (no valid host, a bad port) is an error: the
 * server would judge it on no list at all, only by the policy's default.
 */
#include "check_url_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encap.h"
#include "generation.h"
#include "http_parse.h"
#include "scan.h"
#include "url_canon.h"

/* "host:port" alone (no scheme, no path) is what a CONNECT carries. */
static bool is_authority(const char *url)
{
	const char *colon = strrchr(url, ':');
	return strstr(url, "://") == NULL && strchr(url, '/') == NULL && colon != NULL &&
	       colon[1] != 0 && strspn(colon + 1, "0123456789") == strlen(colon + 1);
}

int check_url_cli(const char *conf_path, const char *service, const char *url, const char *client,
                  const char *user)
{
	if (strpbrk(url, " \t\r\n") != NULL) {
		printf("error: a URL has no white space (percent-encode it)\n");
		return 2;
	}
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
	bool connect = is_authority(url);
	bool scheme = strstr(url, "://") != NULL;
	char *head = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&head, &len);
	fprintf(f, "%s %s%s HTTP/1.1\r\n\r\n", connect ? "CONNECT" : "GET",
	        connect || scheme ? "" : "http://", url);
	fclose(f);
	struct encap enc = {.req_hdr_len = len, .body = ENCAP_NULL_BODY, .body_off = len};
	struct http_head parsed;
	struct url_canon c;
	/* What urlfilter reads of the request (it has no Host header). */
	bool parses = http_parse_request_block(head, len, &parsed) == 0 &&
	              url_canon_request(parsed.method, parsed.method_len, parsed.target,
	                                parsed.target_len, NULL, 0, &c) == 0;
	struct scan *s =
	        parses ? scan_new(g, svc, ICAP_METHOD_REQMOD, &enc, head, client, user) : NULL;
	free(head);

	int rc;
	const struct gen_chain *chain = generation_chain(g, svc);
	bool judged = false;
	for (size_t i = 0; i < chain->n; i++)
		judged |= chain->mods[i]->module->judge_headers != NULL;
	if (!judged) {
		printf("error: no module of %s judges URLs (add urlfilter to its chain)\n",
		       service);
		rc = 2;
	} else if (s == NULL) {
		printf("error: %s: not a URL the filter can read (no valid host, or a bad port)\n",
		       url);
		rc = 2;
	} else if (scan_judge_headers(s)) {
		if (s->verdict.by_default)
			printf("block - (%s)\n", s->verdict.detail);
		else
			printf("block %s %s\n", s->verdict.reason, s->verdict.detail);
		rc = 1;
	} else {
		printf("allow (%s)\n", s->verdict.detail[0] ? s->verdict.detail : "no rule");
		rc = 0;
	}
	scan_free(s);
	generation_unref(g);
	return rc;
}
