/*
 * metrics: process-wide counters and histograms, rendered in the Prometheus
 * text format on the admin listener's /metrics. Nothing here is per client
 * or per user: the counters say how the server is doing, not who did what.
 */
#ifndef ICAPD_METRICS_H
#define ICAPD_METRICS_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>

#include "icap_parse.h"

void metrics_request(enum icap_method m, int status, uint64_t duration_us, uint64_t bytes_in,
                     uint64_t bytes_out);
void metrics_connection(int delta);

/* A connection was closed at accept, unread: its peer is not in the
 * listener's allow list (admin: the admin listener's, else the ICAP one). */
void metrics_connection_refused(bool admin);

/* A connection stopped reading its body because the scanners were full. */
void metrics_backpressure(void);
void metrics_reload(bool ok);

/* A scan finished: module that decided (NULL: all passed), verdict kind
 * (enum verdict_kind), whether the message was blocked, time on the thread. */
void metrics_scan(const char *module, int kind, bool blocked, uint64_t duration_us);

/* What happened to scanner processes (scanner_pool.c). */
enum metrics_scanner_event {
	METRICS_SCANNER_STARTED,       /* a scanner process came up */
	METRICS_SCANNER_CRASHED,       /* one died of a signal or an error exit */
	METRICS_SCANNER_TIMED_OUT,     /* one was killed after scan_timeout */
	METRICS_SCANNER_RETRY,         /* a scan went again to another scanner */
	METRICS_SCANNER_FAILED_CLOSED, /* a body failed two scanners: blocked */
	METRICS_SCANNER_EVENTS
};
void metrics_scanner(enum metrics_scanner_event e);

/* Appends the whole exposition to out. */
void metrics_render(struct evbuffer *out);

/* Appends s to out escaped as a label value between the quotes of the text
 * format: a backslash, '"' and a newline as \\, \" and \n. For values
 * that are not ours (list folder names, say). */
void metrics_label_value(struct evbuffer *out, const char *s);

#endif
