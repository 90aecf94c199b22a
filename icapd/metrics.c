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

static atomic_ullong requests[NMETHODS][NSTATUS + 1]; /* last: any other status */
static atomic_ullong latency_buckets[NBUCKETS + 1];   /* last: +Inf */
static atomic_ullong latency_sum_us, latency_count;
static atomic_ullong bytes_received, bytes_sent;
static atomic_llong connections;
static atomic_ullong connections_total;
static atomic_ullong reloads_ok, reloads_failed;

/* Scans by deciding module and outcome; a few modules exist, so a small
 * table found by name (names are static strings of the module table). */
#define MAX_SCAN_MODULES 8
static const char *const outcome_names[] = {"clean", "blocked", "error-blocked", "error-allowed"};
static struct {
	_Atomic(const char *) module;
	atomic_ullong n[4];
} scans[MAX_SCAN_MODULES];
static atomic_ullong scan_buckets[NBUCKETS + 1], scan_sum_us, scan_count;

#define ADD(var, n) atomic_fetch_add_explicit(&(var), (n), memory_order_relaxed)
#define GET(var)    atomic_load_explicit(&(var), memory_order_relaxed)

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
	size_t b = 0;
	while (b < NBUCKETS && duration_us > bucket_us[b])
		b++;
	ADD(latency_buckets[b], 1);
	ADD(latency_sum_us, duration_us);
	ADD(latency_count, 1);
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
	size_t b = 0;
	while (b < NBUCKETS && duration_us > bucket_us[b])
		b++;
	ADD(scan_buckets[b], 1);
	ADD(scan_sum_us, duration_us);
	ADD(scan_count, 1);
}

void metrics_connection(int delta)
{
	ADD(connections, delta);
	if (delta > 0)
		ADD(connections_total, (unsigned long long)delta);
}

void metrics_reload(bool ok)
{
	if (ok)
		ADD(reloads_ok, 1);
	else
		ADD(reloads_failed, 1);
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
	evbuffer_add_printf(out,
	                    "# HELP icapd_request_duration_seconds Time from the first byte of a "
	                    "request to the end of its reply.\n"
	                    "# TYPE icapd_request_duration_seconds histogram\n");
	unsigned long long cum = 0;
	for (size_t b = 0; b < NBUCKETS; b++) {
		cum += GET(latency_buckets[b]);
		evbuffer_add_printf(out, "icapd_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
		                    (double)bucket_us[b] / 1e6, cum);
	}
	cum += GET(latency_buckets[NBUCKETS]);
	evbuffer_add_printf(out,
	                    "icapd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	                    "icapd_request_duration_seconds_sum %.6f\n"
	                    "icapd_request_duration_seconds_count %llu\n",
	                    cum, (double)GET(latency_sum_us) / 1e6, GET(latency_count));
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
	evbuffer_add_printf(out, "# HELP icapd_scan_duration_seconds Time a body spent with "
	                         "the modules on a scan thread.\n"
	                         "# TYPE icapd_scan_duration_seconds histogram\n");
	cum = 0;
	for (size_t b = 0; b < NBUCKETS; b++) {
		cum += GET(scan_buckets[b]);
		evbuffer_add_printf(out, "icapd_scan_duration_seconds_bucket{le=\"%g\"} %llu\n",
		                    (double)bucket_us[b] / 1e6, cum);
	}
	cum += GET(scan_buckets[NBUCKETS]);
	evbuffer_add_printf(out,
	                    "icapd_scan_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	                    "icapd_scan_duration_seconds_sum %.6f\n"
	                    "icapd_scan_duration_seconds_count %llu\n",
	                    cum, (double)GET(scan_sum_us) / 1e6, GET(scan_count));
	evbuffer_add_printf(out,
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
	                    "# HELP icapd_reloads_total Configuration reloads by result.\n"
	                    "# TYPE icapd_reloads_total counter\n"
	                    "icapd_reloads_total{result=\"ok\"} %llu\n"
	                    "icapd_reloads_total{result=\"failed\"} %llu\n",
	                    GET(bytes_received), GET(bytes_sent), GET(connections),
	                    GET(connections_total), GET(reloads_ok), GET(reloads_failed));
}
