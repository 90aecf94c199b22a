/*
 * reply: status lines, the common headers, OPTIONS and error responses.
 * Reason phrases follow RFC 3507 section 4.3.3.
 */
#include "reply.h"

#include <string.h>
#include <time.h>

#include "hdr_parse.h"
#include "icap_parse.h"

/* The ISTag of responses that belong to no service (404, 400 before the
 * service was known). */
#define NO_SERVICE_ISTAG "\"icapd-none\""

const char *reply_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "ICAP Service Not Found";
	case 405:
		return "Method Not Allowed For Service";
	case 408:
		return "Request Timeout";
	case 500:
		return "Server Error";
	case 501:
		return "Method Not Implemented";
	case 503:
		return "Service Overloaded";
	case 505:
		return "ICAP Version Not Supported";
	default:
		return "Unknown";
	}
}

/* RFC 1123 date, formatted once per second. */
static const char *http_date(void)
{
	static char buf[40];
	static time_t last;
	time_t now = time(NULL);
	if (now != last) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

void reply_start(struct evbuffer *out, int status, const char *istag, bool close)
{
	evbuffer_add_printf(out,
	                    "ICAP/1.0 %d %s\r\n"
	                    "ISTag: %s\r\n"
	                    "Date: %s\r\n"
	                    "Server: icapd/" ICAPD_VERSION "\r\n"
	                    "%s",
	                    status, reply_reason(status), istag ? istag : NO_SERVICE_ISTAG,
	                    http_date(), close ? "Connection: close\r\n" : "");
}

void reply_error(struct evbuffer *out, int status, const char *istag, bool close)
{
	reply_start(out, status, istag, close);
	evbuffer_add(out, "Encapsulated: null-body=0\r\n\r\n", 29);
}

static void add_list(struct evbuffer *out, const char *name, const struct conf_words *w)
{
	if (w->n == 0)
		return;
	evbuffer_add_printf(out, "%s: ", name);
	for (size_t i = 0; i < w->n; i++)
		evbuffer_add_printf(out, "%s%s", i ? ", " : "", w->v[i]);
	evbuffer_add(out, "\r\n", 2);
}

/* Service-ID is a token (RFC 3507 section 4.10.2): the service path with
 * anything outside a token, '/' included, turned into '-'. */
static void add_service_id(struct evbuffer *out, const char *name)
{
	evbuffer_add(out, "Service-ID: ", 12);
	if (name[1] == 0)
		evbuffer_add(out, "root", 4);
	for (const char *p = name + 1; *p; p++)
		evbuffer_add(out, hdr_is_tchar((unsigned char)*p) ? p : "-", 1);
	evbuffer_add(out, "\r\n", 2);
}

void reply_options(struct evbuffer *out, const struct conf *c, const struct conf_service *svc,
                   bool close)
{
	reply_start(out, 200, svc->istag, close);
	evbuffer_add(out, "Methods: ", 9);
	const char *sep = "";
	for (int m = ICAP_METHOD_REQMOD; m <= ICAP_METHOD_RESPMOD; m++) {
		if (svc->methods & 1u << m) {
			evbuffer_add_printf(out, "%s%s", sep,
			                    icap_method_name((enum icap_method)m));
			sep = ", ";
		}
	}
	evbuffer_add_printf(out,
	                    "\r\n"
	                    "Service: icapd/" ICAPD_VERSION " %s\r\n"
	                    "Max-Connections: %llu\r\n"
	                    "Options-TTL: %llu\r\n"
	                    "Allow: 204\r\n"
	                    "Preview: %llu\r\n",
	                    svc->name, c->max_connections, svc->options_ttl / 1000, svc->preview);
	add_service_id(out, svc->name);
	add_list(out, "Transfer-Preview", &svc->transfer_preview);
	add_list(out, "Transfer-Ignore", &svc->transfer_ignore);
	add_list(out, "Transfer-Complete", &svc->transfer_complete);
	evbuffer_add(out, "Encapsulated: null-body=0\r\n\r\n", 29);
}
