/*
 * metrics: relaxed atomic counters, so that scan threads may add to them
 * later without locks; the exposition reads them without stopping anyone.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const int statuses[] = {100, 200, 204, 400, 404, 405, 408, 500, 501, 503, 505};
#define NSTATUS  (sizeof(statuses) / sizeof(statuses[0]))
#define NMETHODS 4 /* enum icap_method, UNKNOWN included */

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bucket_us[] = {250,     500,     1000,     2500,    5000,   10000,
                                     25000,   50000,   100000,   250000,  500000, 1000000,
                                     2500000, 5000000, 10000000, 30000000};
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

/* A latency histogram over bucket_us; the last bucket is +Inf. */
struct histogram {
	atomic_ullong buckets[NBUCKETS + 1];
	atomic_ullong sum_us, count;
};

static atomic_ullong requests[NMETHODS][NSTATUS + 1]; /* last: any other status */
static struct histogram request_latency, scan_latency;
static atomic_ullong bytes_received, bytes_sent;
static atomic_llong connections;
static atomic_ullong connections_total;
static atomic_ullong refused_icap, refused_admin;
static atomic_ullong reloads_ok, reloads_failed;
static atomic_ullong backpressure;
static atomic_ullong scanner_events[METRICS_SCANNER_EVENTS];

/* Scans by deciding module and outcome; a few modules exist, so a small
 * table found by name (names are static strings of the module table). */
#define MAX_SCAN_MODULES 8
static const char *const outcome_names[] = {"clean", "blocked", "error-blocked", "error-allowed"};
static struct {
	_Atomic(const char *) module;
	atomic_ullong n[4];
} scans[MAX_SCAN_MODULES];

#define ADD(var, n) atomic_fetch_add_explicit(&(var), (n), memory_order_relaxed)
#define GET(var)    atomic_load_explicit(&(var), memory_order_relaxed)

static void observe(struct histogram *h, uint64_t us)
{
	size_t b = 0;
	while (b < NBUCKETS && us > bucket_us[b])
		b++;
	ADD(h->buckets[b], 1);
	ADD(h->sum_us, us);
	ADD(h->count, 1);
}

static void render_histogram(struct evbuffer *out, const char *name, const char *help,
                             struct histogram *h)
{
	unsigned long long cum = 0;
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t b = 0; b < NBUCKETS; b++) {
		cum += GET(h->buckets[b]);
		evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
		                    (double)bucket_us[b] / 1e6, cum);
	}
	cum += GET(h->buckets[NBUCKETS]);
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
	                    cum, name, (double)GET(h->sum_us) / 1e6, name, GET(h->count));
}

void metrics_request(enum icap_method m, int status, uint64_t duration_us, uint64_t bytes_in,
                     uint64_t bytes_out)
{
	size_t s = NSTATUS;
	for (size_t i = 0; i < NSTATUS; i++)
		if (statuses[i] == status)
			s = i;
	if ((unsigned)m >= NMETHODS)
		m = ICAP_METHOD_UNKNOWN;
	ADD(requests[m][s], 1);
	observe(&request_latency, duration_us);
	ADD(bytes_received, bytes_in);
	ADD(bytes_sent, bytes_out);
}

void metrics_scan(const char *module, int kind, bool blocked, uint64_t duration_us)
{
	int outcome = kind == 0 ? 0 : kind == 1 ? 1 : blocked ? 2 : 3;
	const char *name = module ? module : "all";
	for (size_t i = 0; i < MAX_SCAN_MODULES; i++) {
		const char *cur = atomic_load(&scans[i].module);
		if (cur == NULL) {
			const char *expected = NULL;
			if (!atomic_compare_exchange_strong(&scans[i].module, &expected, name) &&
			    strcmp(expected, name) != 0)
				continue;
		} else if (strcmp(cur, name) != 0) {
			continue;
		}
		ADD(scans[i].n[outcome], 1);
		break;
	}
	observe(&scan_latency, duration_us);
}

void metrics_backpressure(void)
{
	ADD(backpressure, 1);
}

void metrics_connection(int delta)
{
	ADD(connections, delta);
	if (delta > 0)
		ADD(connections_total, (unsigned long long)delta);
}

void metrics_scanner(enum metrics_scanner_event e)
{
	ADD(scanner_events[e], 1);
}

void metrics_connection_refused(bool admin)
{
	if (admin)
		ADD(refused_admin, 1);
	else
		ADD(refused_icap, 1);
}

void metrics_reload(bool ok)
{
	if (ok)
		ADD(reloads_ok, 1);
	else
		ADD(reloads_failed, 1);
}

void metrics_label_value(struct evbuffer *out, const char *s)
{
	size_t n = strcspn(s, "\\\"\n");
	evbuffer_add(out, s, n);
	while (s[n] != 0) { /* each turn takes one byte to escape and what follows it */
		s += n;
		evbuffer_add(out, *s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", 2);
		s++;
		n = strcspn(s, "\\\"\n");
		evbuffer_add(out, s, n);
	}
}

void metrics_render(struct evbuffer *out)
{
	evbuffer_add_printf(out, "# HELP icapd_requests_total ICAP requests answered.\n"
	                         "# TYPE icapd_requests_total counter\n");
	for (int m = 0; m < NMETHODS; m++) {
		for (size_t s = 0; s <= NSTATUS; s++) {
			unsigned long long v = GET(requests[m][s]);
			if (v == 0)
				continue;
			char status[8];
			if (s < NSTATUS)
				snprintf(status, sizeof(status), "%d", statuses[s]);
			else
				snprintf(status, sizeof(status), "other");
			evbuffer_add_printf(
			        out, "icapd_requests_total{method=\"%s\",status=\"%s\"} %llu\n",
			        icap_method_name((enum icap_method)m), status, v);
		}
	}
	render_histogram(out, "icapd_request_duration_seconds",
	                 "Time from the first byte of a request to the end of its reply.",
	                 &request_latency);
	evbuffer_add_printf(out, "# HELP icapd_scans_total Bodies judged, by the module that "
	                         "decided (all: every module passed) and outcome.\n"
	                         "# TYPE icapd_scans_total counter\n");
	for (size_t i = 0; i < MAX_SCAN_MODULES; i++) {
		const char *m = atomic_load(&scans[i].module);
		for (int o = 0; m != NULL && o < 4; o++)
			evbuffer_add_printf(
			        out, "icapd_scans_total{module=\"%s\",outcome=\"%s\"} %llu\n", m,
			        outcome_names[o], GET(scans[i].n[o]));
	}
	render_histogram(out, "icapd_scan_duration_seconds",
	                 "Time a body spent with the modules on a scan thread.", &scan_latency);
	evbuffer_add_printf(
	        out,
	        "# HELP icapd_bytes_received_total ICAP bytes read from clients.\n"
	        "# TYPE icapd_bytes_received_total counter\n"
	        "icapd_bytes_received_total %llu\n"
	        "# HELP icapd_bytes_sent_total ICAP bytes written to clients.\n"
	        "# TYPE icapd_bytes_sent_total counter\n"
	        "icapd_bytes_sent_total %llu\n"
	        "# HELP icapd_connections Open ICAP connections.\n"
	        "# TYPE icapd_connections gauge\n"
	        "icapd_connections %lld\n"
	        "# HELP icapd_connections_accepted_total ICAP connections accepted.\n"
	        "# TYPE icapd_connections_accepted_total counter\n"
	        "icapd_connections_accepted_total %llu\n"
	        "# HELP icapd_connections_refused_total Connections closed at accept "
	        "without reading, by listener and reason (acl: not in allow_clients or "
	        "admin_allow_clients).\n"
	        "# TYPE icapd_connections_refused_total counter\n"
	        "icapd_connections_refused_total{listener=\"icap\",reason=\"acl\"} %llu\n"
	        "icapd_connections_refused_total{listener=\"admin\",reason=\"acl\"} "
	        "%llu\n"
	        "# HELP icapd_scan_backpressure_total Times a connection stopped "
	        "reading its body while the scan threads were saturated.\n"
	        "# TYPE icapd_scan_backpressure_total counter\n"
	        "icapd_scan_backpressure_total %llu\n"
	        "# HELP icapd_reloads_total Configuration reloads by result.\n"
	        "# TYPE icapd_reloads_total counter\n"
	        "icapd_reloads_total{result=\"ok\"} %llu\n"
	        "icapd_reloads_total{result=\"failed\"} %llu\n",
	        GET(bytes_received), GET(bytes_sent), GET(connections), GET(connections_total),
	        GET(refused_icap), GET(refused_admin), GET(backpressure), GET(reloads_ok),
	        GET(reloads_failed));
	evbuffer_add_printf(
	        out,
	        "# HELP icapd_scanner_processes_started_total Scanner processes started.\n"
	        "# TYPE icapd_scanner_processes_started_total counter\n"
	        "icapd_scanner_processes_started_total %llu\n"
	        "# HELP icapd_scanner_processes_lost_total Scanner processes that died "
	        "(crash: a signal or an error exit) or were killed (timeout: busy past "
	        "scan_timeout).\n"
	        "# TYPE icapd_scanner_processes_lost_total counter\n"
	        "icapd_scanner_processes_lost_total{reason=\"crash\"} %llu\n"
	        "icapd_scanner_processes_lost_total{reason=\"timeout\"} %llu\n"
	        "# HELP icapd_scan_retries_total Scans sent again to another scanner after "
	        "theirs was lost.\n"
	        "# TYPE icapd_scan_retries_total counter\n"
	        "icapd_scan_retries_total %llu\n"
	        "# HELP icapd_scan_failed_closed_total Bodies blocked because two scanners "
	        "were lost on them.\n"
	        "# TYPE icapd_scan_failed_closed_total counter\n"
	        "icapd_scan_failed_closed_total %llu\n",
	        GET(scanner_events[METRICS_SCANNER_STARTED]),
	        GET(scanner_events[METRICS_SCANNER_CRASHED]),
	        GET(scanner_events[METRICS_SCANNER_TIMED_OUT]),
	        GET(scanner_events[METRICS_SCANNER_RETRY]),
	        GET(scanner_events[METRICS_SCANNER_FAILED_CLOSED]));
}
