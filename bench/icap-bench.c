/*
 * icap-bench: a load generator for ICAP/1.0 (RFC 3507) servers on loopback.
 *
 * Closed loop (the default): each of -c connections keeps exactly one
 * request in flight over a keep-alive connection and sends the next one as
 * soon as the reply is complete. Open loop (--rate R): request j is due at
 * t0 + j/R and goes on connection j mod c; a request whose time comes while
 * its connection is still busy waits, and its latency counts from the time it
 * was due, not from when it could be sent, so a server that stalls is not
 * hidden by the requests the stall kept from being sent (coordinated
 * omission). A connection the server closes is opened again.
 *
 * The request bytes of every body are built once (ICAP head, encapsulated
 * HTTP headers and the chunked body) and handed to libevent by reference, so
 * a request costs no copy and no allocation of ours. Bodies are one fixed
 * size of deterministic pseudo-random bytes, or the files of a --corpus
 * folder, cycled; --infected-share adds, for each, a copy with the EICAR test
 * string near its end. With --unique or --repeat-share the last 8 body bytes
 * of a request hold a number: a request number plus a random start per run
 * (no two requests of a run, nor of two runs, carry the same body, so no
 * verdict cache keyed by a hash of the whole object can answer from memory),
 * or, for the --repeat-share of requests, one of --repeat-set fixed numbers
 * (the same few bodies again and again: what a verdict cache is for). The
 * end, not the start, is varied so that servers that type a file by its first
 * bytes see the same type every time; only the few wire bytes around it are
 * copied per request.
 *
 * Every reply is parsed: status line, headers, Encapsulated, the
 * encapsulated HTTP headers and the chunked body. A 200 is a block when it
 * carries X-Infection-Found or X-Violations-Found, answers a RESPMOD with
 * another HTTP status, or answers a REQMOD with a response; any other 200
 * must echo the body that was sent, which is compared as it arrives. An
 * infected body must be blocked (a reply cut short after an early start, as
 * icapd's early_hold does, counts as blocked); a clean one must not be. A
 * block whose head holds --fail-closed-mark is the server failing closed
 * (the body could not be checked): counted apart, never as a wrong
 * verdict. With --preview the first N body bytes go out as a preview and
 * the rest only after "100 Continue".
 *
 * At the end it prints throughput, replies by status and by verdict, errors
 * by kind, latency percentiles from a log-linear histogram and its own CPU
 * use (flagging a run where it used most of a core, and so may have been the
 * bottleneck), as a table or one JSON object; it exits 1 if anything went
 * wrong.
 *
 * Build: gcc -O2 -std=c11 -D_GNU_SOURCE bench/icap-bench.c \
 *        $(pkg-config --cflags --libs libevent)
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_CONNS    10000
#define BENCH_MAX_SECONDS  600.0
#define BENCH_MAX_REQUESTS 1000000000ULL
#define BENCH_MAX_RATE     1000000.0      /* --rate, requests per second */
#define BENCH_MAX_BODY     (256ULL << 20) /* the request is held twice in memory */
#define BENCH_MAX_CORPUS   (128ULL << 20) /* all --corpus files together */
#define BENCH_MAX_FILES    10000          /* --corpus files used */
#define BENCH_MAX_DIRENTS  100000         /* --corpus folder entries looked at */
#define BENCH_MAX_HEAD     (64 * 1024)    /* ICAP head or encapsulated headers */
#define BENCH_IO_MAX       (256 * 1024)   /* bytes per readv(2)/writev(2) */
#define LIBEVENT_MAX_READ  4096           /* libevent 2.1's EVBUFFER_MAX_READ */
#define BENCH_RETRY_MS     50             /* pause after a failed connect */
#define BENCH_VAR_MAX      8              /* body bytes varied per request */
#define BENCH_VAR_SPAN     256            /* most wire bytes copied to vary them */
#define BENCH_REPEAT_SET   16             /* --repeat-set default */
#define BENCH_CLIENT_BOUND 90.0           /* % of one core: the generator may be the limit */
#define EICAR_LEN          68

/* Latency histogram: values below 2^HIST_SUB_BITS ns have their own bucket,
 * above that each power of two is split in 2^HIST_SUB_BITS equal buckets, so
 * a bucket is at most 1/64 (1.6%) of its value wide. 40 groups reach 2^45 ns
 * (about 9.8 hours), far beyond the 600 s cap. */
#define HIST_SUB_BITS 6
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_BUCKETS  (40u * HIST_SUB)

enum bench_method { M_OPTIONS, M_REQMOD, M_RESPMOD };

enum bench_err {
	ERR_CONNECT,
	ERR_TIMEOUT,
	ERR_BAD_REPLY,
	ERR_MISMATCH,
	ERR_CLOSED_EARLY,
	ERR_BAD_STATUS, /* 4xx or 5xx */
	ERR_CLEAN_BLOCKED,
	ERR_INFECTED_PASSED,
	ERR_COUNT,
};

static const char *const err_names[ERR_COUNT] = {
        [ERR_CONNECT] = "connect",
        [ERR_TIMEOUT] = "timeout",
        [ERR_BAD_REPLY] = "bad_reply",
        [ERR_MISMATCH] = "mismatch",
        [ERR_CLOSED_EARLY] = "closed_early",
        [ERR_BAD_STATUS] = "error_status",
        [ERR_CLEAN_BLOCKED] = "clean_blocked",
        [ERR_INFECTED_PASSED] = "infected_passed",
};

/* What a 204 or 200 to a REQMOD or RESPMOD did with the body. */
enum verdict {
	V_204,       /* unchanged, not sent back */
	V_UNCHANGED, /* 200 with the same body */
	V_BLOCKED,   /* 200 with a block (X-Infection-Found, 403, ...) */
	V_MODIFIED,  /* 200 with another body, not a block: a mismatch */
	V_CUT,       /* 200 that began an echo and was cut short */
	V_UNSCANNED, /* a block saying the body could not be checked (--fail-closed-mark) */
	V_COUNT,
};

static const char *const verdict_names[V_COUNT] = {
        [V_204] = "204",
        [V_UNCHANGED] = "200_unchanged",
        [V_BLOCKED] = "200_blocked",
        [V_MODIFIED] = "200_modified",
        [V_CUT] = "200_cut",
        [V_UNSCANNED] = "200_unscanned",
};

/* Where a connection is in its request. */
enum conn_state {
	CS_CLOSED, /* no socket; waiting to reconnect, or finished */
	CS_CONNECTING,
	CS_IDLE,  /* connected, nothing in flight */
	CS_HEAD,  /* waiting for an ICAP reply head */
	CS_ENCAP, /* reading the encapsulated HTTP headers */
	CS_BODY,  /* decoding the chunked body */
};

/* How much of the request body has been sent. */
enum req_phase {
	PH_FULL,    /* no preview: everything went out at once */
	PH_PREVIEW, /* only the preview; a 100 or a final reply may come */
	PH_REST,    /* 100 Continue came and the rest went out */
};

/* The entities of an Encapsulated header. */
enum encap_ent {
	ENT_NONE,
	ENT_REQ_HDR,
	ENT_RES_HDR,
	ENT_REQ_BODY,
	ENT_RES_BODY,
	ENT_OPT_BODY,
	ENT_NULL_BODY,
};

/* States of the chunked decoder, one byte at a time except for data. */
enum chunk_state {
	CK_SIZE_FIRST,
	CK_SIZE,
	CK_SIZE_WS,
	CK_EXT,
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER,
	CK_TRAILER_LINE,
	CK_TRAILER_LF,
	CK_FINAL_LF,
	CK_END,
};

/* Where the varied bytes sit in one of the two wire buffers of a payload. */
struct bench_var {
	size_t lo, hi;            /* the wire span copied per request, or 0, 0 */
	size_t at[BENCH_VAR_MAX]; /* wire offset of varied byte i ... */
	bool here[BENCH_VAR_MAX]; /* ... if it is in this buffer */
};

/* One body and its request, as it goes on the wire. */
struct payload {
	unsigned char *body;
	uint64_t body_len;
	bool infected;
	enum encap_ent sent_ent; /* the body entity of the request */
	/* body bytes [var_off, var_off + var_len) are varied per request (the
	 * little-endian bytes of a number; var_len 0: never) */
	uint64_t var_off;
	unsigned var_len;
	unsigned char *wire_a; /* head and the whole body, or the preview */
	unsigned char *wire_b; /* after 100 Continue: the rest of the body */
	size_t wire_a_len, wire_b_len;
	uint64_t body_a, body_b; /* body bytes in wire_a, wire_b */
	bool ieof;               /* the preview holds the whole body */
	struct bench_var var_a, var_b;
};

struct hist {
	uint64_t n[HIST_BUCKETS];
	uint64_t count, max, sum; /* ns */
};

struct bench;

struct bench_conn {
	struct bench *b;
	struct bufferevent *bev;
	struct event *retry_ev;
	struct event *send_ev; /* --rate: the next request is due */
	const struct payload *pl;
	enum conn_state state;
	enum req_phase phase;
	enum chunk_state cstate;
	enum encap_ent body_ent; /* how the reply's Encapsulated ends */
	int status;
	bool verify; /* compare the decoded body with what was sent */
	bool mismatch;
	bool close_after; /* the reply said Connection: close */
	bool got_bytes;   /* any reply byte for the request in flight */
	bool resend;      /* send the request in flight again once connected */
	bool resent;
	bool threat;       /* the reply head named an infection or violation */
	bool unscanned;    /* ... and holds --fail-closed-mark */
	bool blocked;      /* the reply is a block */
	bool cut;          /* the reply was cut short after it began */
	unsigned index;    /* of this connection; open loop: its share of the schedule */
	long long res_hdr; /* res-hdr offset in the reply's Encapsulated, or -1 */
	uint64_t k;        /* open loop: requests this connection has started */
	uint64_t served;   /* replies completed on this socket */
	uint64_t done;     /* replies completed on this connection, all sockets */
	size_t scan;       /* where the search for the end of the head resumes */
	size_t in_len;     /* input bytes left unparsed by the last read callback */
	size_t hdr_len;    /* encapsulated header bytes before the body */
	uint64_t csize;    /* chunk size being parsed, then bytes left in it */
	uint64_t echo_off; /* decoded body bytes so far */
	uint64_t body_sent;
	uint64_t t_start; /* ns; request sent, or connect start */
	uint64_t t_due;   /* ns; latency counts from here: t_start, or the due time */
	unsigned char tag[BENCH_VAR_MAX]; /* the varied bytes in flight */
};

struct bench {
	/* options */
	const char *host;
	int port;
	char service[256];
	enum bench_method method;
	unsigned conns;
	double seconds;
	double warmup;         /* seconds before the measured window */
	uint64_t max_requests; /* 0: no limit but -d */
	uint64_t body_len;
	long long preview; /* -1: off */
	bool allow204;
	size_t chunk;
	bool json;
	double timeout;
	double rate;         /* requests/s; 0: closed loop */
	const char *corpus;  /* folder, or NULL */
	bool tags;           /* vary the last body bytes of each request */
	double repeat_share; /* of requests with one of repeat_set bodies */
	unsigned repeat_set; /* how many repeated bodies (per payload) */
	double infected_share;
	const char *fail_mark; /* a block whose head holds this failed closed */

	uint64_t nonce;       /* unique bodies count from here */
	uint64_t repeat_base; /* repeated bodies: repeat_base + 0 .. repeat_set - 1 */
	uint64_t rng;         /* xorshift64 state for the shares */
	double interval_ns;   /* open loop: 1e9 / rate */

	struct sockaddr_storage addr;
	socklen_t addrlen;
	/* nclean bodies, then as many infected copies if infected_share > 0 */
	struct payload *pl;
	unsigned npl, nclean;
	uint64_t corpus_bytes;
	unsigned corpus_skipped;

	struct event_base *base;
	struct event *deadline_ev, *warmup_ev, *tick_ev, *sigint_ev, *sigterm_ev;
	struct bench_conn *conn;
	bool stopping, interrupted;
	uint64_t started, inflight;
	uint64_t t0, t_meas, t_stop; /* start, start of the window, end */
	struct rusage ru0;           /* at the start of the window */
	uint64_t all_completed;      /* replies, warm-up included */

	/* results: replies completed in the window (errors: the whole run) */
	uint64_t completed;
	uint64_t status_count[600];
	uint64_t verdicts[2][V_COUNT]; /* [infected][verdict] */
	uint64_t sent_repeated, sent_unique, sent_infected;
	uint64_t continues, reconnects, resends, connects_ok;
	uint64_t errors[ERR_COUNT];
	uint64_t req_body_bytes, reply_body_bytes;
	struct hist lat; /* from t_due */
	struct hist svc; /* open loop: from the actual send */
};

static void conn_connect(struct bench_conn *c);
static void conn_start(struct bench_conn *c);

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("icap-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory");
	return p;
}

/* A number in [0, 1) from the run's xorshift64* generator. */
static double rng_unit(struct bench *b)
{
	uint64_t x = b->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) * 0x1p-53;
}

/* ---- latency histogram ---- */

static unsigned hist_index(uint64_t ns)
{
	unsigned e, idx;

	if (ns < HIST_SUB)
		return (unsigned)ns;
	e = 63u - (unsigned)__builtin_clzll(ns);
	idx = (e - HIST_SUB_BITS + 1) * HIST_SUB +
	      (unsigned)((ns >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The middle of bucket idx, in ns. */
static double hist_value(unsigned idx)
{
	unsigned g = idx / HIST_SUB, sub = idx % HIST_SUB;
	double width, low;

	if (g == 0)
		return idx;
	width = (double)(1ULL << (g - 1));
	low = (double)(HIST_SUB + sub) * width;
	return low + width / 2;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	h->n[hist_index(ns)]++;
	h->count++;
	h->sum += ns;
	if (ns > h->max)
		h->max = ns;
}

/* The q-quantile (0 < q <= 1) of the recorded latencies, in ns. */
static double hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, cum = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		cum += h->n[i];
		if (cum >= rank) {
			double v = hist_value(i);
			return v < (double)h->max ? v : (double)h->max;
		}
	}
	return (double)h->max;
}

/* ---- building the requests ---- */

/* Fills p with n deterministic pseudo-random bytes (xorshift64*). */
static void fill_body(unsigned char *p, uint64_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	for (uint64_t i = 0; i < n; i += 8) {
		uint64_t v;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dULL;
		memcpy(p + i, &v, n - i < 8 ? (size_t)(n - i) : 8);
	}
}

/* Writes the EICAR test string (68 bytes) to p. It is kept here XORed with
 * 0x5a so that neither the source nor the binary holds it: a virus scanner
 * on a developer's machine would otherwise quarantine them. */
static void put_eicar(unsigned char *p)
{
	static const unsigned char x[EICAR_LEN] = {
	        0x02, 0x6f, 0x15, 0x7b, 0x0a, 0x7f, 0x1a, 0x1b, 0x0a, 0x01, 0x6e, 0x06, 0x0a, 0x00,
	        0x02, 0x6f, 0x6e, 0x72, 0x0a, 0x04, 0x73, 0x6d, 0x19, 0x19, 0x73, 0x6d, 0x27, 0x7e,
	        0x1f, 0x13, 0x19, 0x1b, 0x08, 0x77, 0x09, 0x0e, 0x1b, 0x14, 0x1e, 0x1b, 0x08, 0x1e,
	        0x77, 0x1b, 0x14, 0x0e, 0x13, 0x0c, 0x13, 0x08, 0x0f, 0x09, 0x77, 0x0e, 0x1f, 0x09,
	        0x0e, 0x77, 0x1c, 0x13, 0x16, 0x1f, 0x7b, 0x7e, 0x12, 0x71, 0x12, 0x70,
	};

	for (unsigned i = 0; i < EICAR_LEN; i++)
		p[i] = x[i] ^ 0x5a;
}

/* Sets the bytes of a body varied per request: its last BENCH_VAR_MAX (or
 * all of a shorter one), if requests vary at all. */
static void payload_var(const struct bench *b, struct payload *pl)
{
	pl->var_len = 0;
	pl->var_off = 0;
	if (b->tags) {
		pl->var_len = pl->body_len < BENCH_VAR_MAX ? (unsigned)pl->body_len : BENCH_VAR_MAX;
		pl->var_off = pl->body_len - pl->var_len;
	}
}

/* Makes pl, an infected copy of clean: the same bytes (at least
 * EICAR_LEN + BENCH_VAR_MAX of them) with the EICAR string just before the
 * last BENCH_VAR_MAX, where it stays when those vary. */
static void payload_infect(const struct bench *b, struct payload *pl, const struct payload *clean)
{
	uint64_t len = clean->body_len;

	if (len < EICAR_LEN + BENCH_VAR_MAX)
		len = EICAR_LEN + BENCH_VAR_MAX;
	memset(pl, 0, sizeof(*pl));
	pl->body = xmalloc((size_t)len);
	memset(pl->body, 0, (size_t)len);
	memcpy(pl->body, clean->body, (size_t)clean->body_len);
	put_eicar(pl->body + len - EICAR_LEN - BENCH_VAR_MAX);
	pl->body_len = len;
	pl->infected = true;
	payload_var(b, pl);
}

/* Writes len bytes of body, starting at body offset from, as chunks of at
 * most chunk bytes to w; returns the bytes written. w must have room for len
 * + (len / chunk + 1) * 20. When var is given, notes where the bytes varied
 * per request land in w (its offsets count from wbase, where w sits in its
 * buffer). */
static size_t put_chunks(unsigned char *w, const struct payload *pl, uint64_t from, uint64_t len,
                         size_t chunk, struct bench_var *var, size_t wbase)
{
	const unsigned char *body = pl->body + from;
	size_t n = 0;

	while (len > 0) {
		size_t take = len < chunk ? (size_t)len : chunk;

		n += (size_t)sprintf((char *)w + n, "%zx\r\n", take);
		memcpy(w + n, body, take);
		for (unsigned i = 0; var && i < pl->var_len; i++) {
			uint64_t j = pl->var_off + i; /* the body offset of varied byte i */

			if (j >= from && j < from + take) {
				var->here[i] = true;
				var->at[i] = wbase + n + (size_t)(j - from);
			}
		}
		from += take;
		n += take;
		memcpy(w + n, "\r\n", 2);
		n += 2;
		body += take;
		len -= take;
	}
	return n;
}

/* Sets the span of wire bytes copied per request to vary those of the
 * var_len varied bytes that are in this buffer (chunk framing may sit
 * between them). */
static void var_span(struct bench_var *var, unsigned var_len)
{
	var->lo = var->hi = 0;
	for (unsigned i = 0; i < var_len; i++) {
		if (!var->here[i])
			continue;
		if (var->hi == 0 || var->at[i] < var->lo)
			var->lo = var->at[i];
		if (var->at[i] + 1 > var->hi)
			var->hi = var->at[i] + 1;
	}
	if (var->hi - var->lo > BENCH_VAR_SPAN)
		die("the varied bytes are spread too far (is --chunk tiny?)");
}

/* Builds pl's wire_a (and wire_b with a preview) from the options. */
static void build_request(const struct bench *b, struct payload *pl)
{
	static const char *const mnames[] = {"OPTIONS", "REQMOD", "RESPMOD"};
	char hostport[300], http[512], head[2048], encap[160], extra[96] = "";
	size_t hlen = 0, http_len = 0, cap;
	uint64_t first;
	long long preview = b->preview;

	if (strchr(b->host, ':'))
		snprintf(hostport, sizeof(hostport), "[%s]:%d", b->host, b->port);
	else
		snprintf(hostport, sizeof(hostport), "%s:%d", b->host, b->port);

	pl->sent_ent = ENT_NULL_BODY;
	if (b->method == M_RESPMOD) {
		int req_len = snprintf(http, sizeof(http),
		                       "GET /bench/object HTTP/1.1\r\nHost: bench.invalid\r\n\r\n");
		http_len = (size_t)req_len;
		http_len += (size_t)snprintf(http + http_len, sizeof(http) - http_len,
		                             "HTTP/1.1 200 OK\r\n"
		                             "Content-Type: application/octet-stream\r\n"
		                             "Content-Length: %" PRIu64 "\r\n\r\n",
		                             pl->body_len);
		pl->sent_ent = pl->body_len ? ENT_RES_BODY : ENT_NULL_BODY;
		snprintf(encap, sizeof(encap), "req-hdr=0, res-hdr=%d, %s=%zu", req_len,
		         pl->body_len ? "res-body" : "null-body", http_len);
	} else if (b->method == M_REQMOD) {
		http_len = (size_t)snprintf(http, sizeof(http),
		                            "%s /bench/upload HTTP/1.1\r\nHost: bench.invalid\r\n"
		                            "Content-Type: application/octet-stream\r\n"
		                            "Content-Length: %" PRIu64 "\r\n\r\n",
		                            pl->body_len ? "POST" : "GET", pl->body_len);
		pl->sent_ent = pl->body_len ? ENT_REQ_BODY : ENT_NULL_BODY;
		snprintf(encap, sizeof(encap), "req-hdr=0, %s=%zu",
		         pl->body_len ? "req-body" : "null-body", http_len);
	} else {
		snprintf(encap, sizeof(encap), "null-body=0");
		pl->body_len = 0;
		pl->var_len = 0;
	}
	if (pl->body_len == 0)
		preview = -1; /* a preview needs a body */
	if (b->allow204 && b->method != M_OPTIONS)
		strcat(extra, "Allow: 204\r\n");
	if (preview >= 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "Preview: %lld\r\n",
		         preview);
	hlen = (size_t)snprintf(head, sizeof(head),
	                        "%s icap://%s%s ICAP/1.0\r\nHost: %s\r\nUser-Agent: icap-bench\r\n"
	                        "%sEncapsulated: %s\r\n\r\n",
	                        mnames[b->method], hostport, b->service, hostport, extra, encap);
	if (hlen >= sizeof(head))
		die("request head too long");

	first = pl->body_len;
	if (preview >= 0 && (uint64_t)preview < pl->body_len)
		first = (uint64_t)preview;
	pl->ieof = preview >= 0 && first == pl->body_len;
	pl->body_a = first;
	pl->body_b = preview >= 0 ? pl->body_len - first : 0;

	cap = hlen + http_len + (size_t)first + ((size_t)first / b->chunk + 1) * 20 + 32;
	pl->wire_a = xmalloc(cap);
	memcpy(pl->wire_a, head, hlen);
	memcpy(pl->wire_a + hlen, http, http_len);
	pl->wire_a_len = hlen + http_len;
	if (pl->body_len > 0) {
		pl->wire_a_len += put_chunks(pl->wire_a + pl->wire_a_len, pl, 0, first, b->chunk,
		                             &pl->var_a, pl->wire_a_len);
		memcpy(pl->wire_a + pl->wire_a_len, pl->ieof ? "0; ieof\r\n\r\n" : "0\r\n\r\n",
		       pl->ieof ? 11 : 5);
		pl->wire_a_len += pl->ieof ? 11 : 5;
	}
	if (preview >= 0 && !pl->ieof) {
		cap = (size_t)pl->body_b + ((size_t)pl->body_b / b->chunk + 1) * 20 + 8;
		pl->wire_b = xmalloc(cap);
		pl->wire_b_len =
		        put_chunks(pl->wire_b, pl, first, pl->body_b, b->chunk, &pl->var_b, 0);
		memcpy(pl->wire_b + pl->wire_b_len, "0\r\n\r\n", 5);
		pl->wire_b_len += 5;
	}
	var_span(&pl->var_a, pl->var_len);
	var_span(&pl->var_b, pl->var_len);
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Reads the regular files of the --corpus folder (not its subfolders), in
 * the order of their names, while they fit in BENCH_MAX_CORPUS bytes and
 * BENCH_MAX_FILES files; they become the clean payloads. */
static void load_corpus(struct bench *b)
{
	DIR *d = opendir(b->corpus);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, ents = 0;

	if (!d)
		die("--corpus %s: %s", b->corpus, strerror(errno));
	while ((de = readdir(d)) && ents++ < BENCH_MAX_DIRENTS) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			if (!(names = realloc(names, cap * sizeof(*names))))
				die("out of memory");
		}
		if (!(names[n++] = strdup(de->d_name)))
			die("out of memory");
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	b->pl = xmalloc((n < BENCH_MAX_FILES ? n : BENCH_MAX_FILES) * 2 * sizeof(*b->pl) + 1);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		struct payload *pl;
		size_t got = 0;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", b->corpus, names[i]);
		free(names[i]);
		if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue; /* a symlink, gone, or not ours to read */
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		if (b->nclean == BENCH_MAX_FILES || (uint64_t)st.st_size > BENCH_MAX_BODY ||
		    b->corpus_bytes + (uint64_t)st.st_size > BENCH_MAX_CORPUS) {
			b->corpus_skipped++;
			close(fd);
			continue;
		}
		pl = &b->pl[b->nclean];
		memset(pl, 0, sizeof(*pl));
		pl->body_len = (uint64_t)st.st_size;
		pl->body = xmalloc((size_t)pl->body_len);
		while (got < pl->body_len) {
			ssize_t r = read(fd, pl->body + got, (size_t)pl->body_len - got);

			if (r <= 0)
				break;
			got += (size_t)r;
		}
		close(fd);
		pl->body_len = got; /* a file that shrank meanwhile */
		b->corpus_bytes += got;
		b->nclean++;
	}
	free(names);
	if (b->nclean == 0)
		die("--corpus %s: no regular file to read", b->corpus);
	if (b->corpus_skipped)
		fprintf(stderr,
		        "icap-bench: --corpus: %u files left out (at most %d files and %llu MiB "
		        "in all)\n",
		        b->corpus_skipped, BENCH_MAX_FILES,
		        (unsigned long long)(BENCH_MAX_CORPUS >> 20));
}

/* Makes every payload: the clean bodies (one of -b bytes, or the corpus),
 * then an infected copy of each when some requests are to be infected. */
static void build_payloads(struct bench *b)
{
	if (b->corpus) {
		load_corpus(b);
	} else {
		b->pl = xmalloc(2 * sizeof(*b->pl));
		memset(b->pl, 0, sizeof(*b->pl));
		b->pl[0].body_len = b->body_len;
		b->pl[0].body = xmalloc((size_t)b->body_len);
		fill_body(b->pl[0].body, b->body_len);
		b->nclean = 1;
	}
	b->npl = b->nclean;
	for (unsigned i = 0; i < b->nclean; i++)
		payload_var(b, &b->pl[i]);
	if (b->infected_share > 0)
		for (unsigned i = 0; i < b->nclean; i++)
			payload_infect(b, &b->pl[b->npl++], &b->pl[i]);
	for (unsigned i = 0; i < b->npl; i++)
		build_request(b, &b->pl[i]);
}

/* ---- running ---- */

static void bench_stop(struct bench *b)
{
	if (b->stopping)
		return;
	b->stopping = true;
	b->t_stop = now_ns();
	event_base_loopbreak(b->base);
}

static bool bench_more(const struct bench *b)
{
	return !b->stopping && (b->max_requests == 0 || b->started < b->max_requests);
}

static void bench_check_done(struct bench *b)
{
	if (!bench_more(b) && b->inflight == 0)
		bench_stop(b);
}

static bool conn_in_flight(const struct bench_conn *c)
{
	return c->state == CS_HEAD || c->state == CS_ENCAP || c->state == CS_BODY;
}

static void conn_close(struct bench_conn *c)
{
	if (c->send_ev)
		evtimer_del(c->send_ev);
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	c->state = CS_CLOSED;
}

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_connect(arg);
}

/* Ends the request in flight (if any) and the socket with an error of kind
 * err, then connects again while there is work left. */
static void conn_fail(struct bench_conn *c, enum bench_err err)
{
	struct bench *b = c->b;

	b->errors[err]++;
	if (conn_in_flight(c) || c->resend)
		b->inflight--; /* the request in flight is lost */
	c->resend = c->resent = false;
	conn_close(c);
	if (err == ERR_CONNECT && b->completed == 0 && b->connects_ok == 0 &&
	    b->errors[ERR_CONNECT] >= 3u * b->conns) {
		fprintf(stderr, "icap-bench: cannot connect to %s port %d\n", b->host, b->port);
		bench_stop(b);
		return;
	}
	if (bench_more(b)) {
		if (err == ERR_CONNECT) {
			struct timeval tv = {0, BENCH_RETRY_MS * 1000};
			evtimer_add(c->retry_ev, &tv);
		} else {
			conn_connect(c);
		}
	}
	bench_check_done(b);
}

/*
 * Queues len bytes at p (which outlive the run; no copy is made) and writes
 * what the socket takes right away. Only what is left over makes libevent
 * watch the socket for writing: a small request then costs one writev(2) and
 * no epoll_ctl(2) calls.
 */
static void conn_write(struct bench_conn *c, const unsigned char *p, size_t len,
                       const struct bench_var *var)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (var && var->hi > 0) {
		/* the bytes around the varied ones go as a copy */
		unsigned char span[BENCH_VAR_SPAN];

		memcpy(span, p + var->lo, var->hi - var->lo);
		for (unsigned i = 0; i < c->pl->var_len; i++)
			if (var->here[i])
				span[var->at[i] - var->lo] = c->tag[i];
		if ((var->lo > 0 && evbuffer_add_reference(out, p, var->lo, NULL, NULL) < 0) ||
		    evbuffer_add(out, span, var->hi - var->lo) < 0 ||
		    (len > var->hi &&
		     evbuffer_add_reference(out, p + var->hi, len - var->hi, NULL, NULL) < 0))
			die("out of memory");
	} else if (evbuffer_add_reference(out, p, len, NULL, NULL) < 0) {
		die("out of memory");
	}
	if (bufferevent_get_enabled(c->bev) & EV_WRITE)
		return;
	evbuffer_write(out, bufferevent_getfd(c->bev));
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(c->bev, EV_WRITE);
}

/* libevent wrote the rest: stop watching for writability. */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE);
}

/* Puts the request on the wire from its first byte. */
static void conn_send(struct bench_conn *c)
{
	const struct payload *pl = c->pl;

	c->state = CS_HEAD;
	c->scan = 0;
	c->got_bytes = false;
	c->mismatch = false;
	c->cut = false;
	c->phase = c->b->preview >= 0 && pl->body_len > 0 ? PH_PREVIEW : PH_FULL;
	c->body_sent = pl->body_a;
	conn_write(c, pl->wire_a, pl->wire_a_len, &pl->var_a);
}

/* Open loop: whether request j of the schedule (due at t0 + j / rate) is
 * one of the run's. */
static bool sched_has(const struct bench *b, uint64_t j)
{
	return b->max_requests == 0 || j < b->max_requests;
}

/* Picks the body of the next request and the number in its varied bytes. */
static void conn_pick(struct bench_conn *c)
{
	struct bench *b = c->b;
	bool infected = b->infected_share > 0 && rng_unit(b) < b->infected_share;

	c->pl = &b->pl[(b->started - 1) % b->nclean + (infected ? b->nclean : 0)];
	b->sent_infected += infected;
	if (b->tags) {
		uint64_t v;

		if (b->repeat_share > 0 && rng_unit(b) < b->repeat_share) {
			v = b->repeat_base + (uint64_t)(rng_unit(b) * b->repeat_set);
			b->sent_repeated++;
		} else {
			v = b->nonce + b->started;
			b->sent_unique++;
		}
		for (unsigned i = 0; i < BENCH_VAR_MAX; i++)
			c->tag[i] = (unsigned char)(v >> (8 * i));
	}
}

static void conn_start(struct bench_conn *c)
{
	struct bench *b = c->b;
	uint64_t due = 0;

	if (!bench_more(b)) {
		c->state = CS_IDLE;
		bench_check_done(b);
		return;
	}
	if (b->rate > 0) {
		/* open loop: this connection's next request of the schedule */
		uint64_t j = c->index + c->k * b->conns, now;

		c->state = CS_IDLE;
		if (!sched_has(b, j))
			return; /* the others finish the run */
		due = b->t0 + (uint64_t)((double)j * b->interval_ns);
		now = now_ns();
		if (due > now) {
			uint64_t wait = due - now + 999; /* a timer a little late, never early */
			struct timeval tv = {(time_t)(wait / 1000000000u),
			                     (suseconds_t)(wait % 1000000000u / 1000u)};

			evtimer_add(c->send_ev, &tv);
			return;
		}
		c->k++;
	}
	b->started++;
	b->inflight++;
	conn_pick(c);
	c->t_start = now_ns();
	c->t_due = b->rate > 0 ? due : c->t_start;
	conn_send(c);
}

/* Open loop: a request of an idle connection is due. */
static void conn_send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CS_IDLE && c->bev)
		conn_start(c);
}

/* A whole reply has been read: count it and go on. */
static void conn_done(struct bench_conn *c)
{
	struct bench *b = c->b;
	const struct payload *pl = c->pl;
	uint64_t now = now_ns();
	size_t left;

	if (c->verify && !c->mismatch && !c->cut && c->echo_off != pl->body_len)
		c->mismatch = true;
	b->inflight--;
	b->completed++;
	b->all_completed++;
	b->status_count[c->status]++;
	b->req_body_bytes += c->body_sent;
	b->reply_body_bytes += c->echo_off;
	hist_add(&b->lat, now - c->t_due);
	if (b->rate > 0)
		hist_add(&b->svc, now - c->t_start);
	if (b->method != M_OPTIONS && (c->status == 200 || c->status == 204)) {
		enum verdict v = c->status == 204 ? V_204
		                 : c->cut         ? V_CUT
		                 : c->blocked     ? (c->unscanned ? V_UNSCANNED : V_BLOCKED)
		                 : c->mismatch    ? V_MODIFIED
		                                  : V_UNCHANGED;

		b->verdicts[pl->infected][v]++;
		if (pl->infected && (v == V_204 || v == V_UNCHANGED))
			b->errors[ERR_INFECTED_PASSED]++;
		else if (!pl->infected && v == V_BLOCKED)
			b->errors[ERR_CLEAN_BLOCKED]++;
	}
	if (c->mismatch)
		b->errors[ERR_MISMATCH]++;
	else if (c->status >= 400)
		b->errors[ERR_BAD_STATUS]++;
	c->served++;
	c->done++;
	c->resend = c->resent = false;
	c->state = CS_IDLE;

	if (c->cut) {
		conn_close(c);
		b->reconnects++;
		if (bench_more(b))
			conn_connect(c);
		bench_check_done(b);
		return;
	}
	left = evbuffer_get_length(bufferevent_get_input(c->bev));
	if (left > 0) {
		/* nothing was asked, so nothing may follow a reply */
		b->errors[ERR_BAD_REPLY]++;
		conn_close(c);
		if (bench_more(b))
			conn_connect(c);
		bench_check_done(b);
		return;
	}
	if (c->close_after) {
		conn_close(c);
		b->reconnects++;
		if (bench_more(b))
			conn_connect(c);
		bench_check_done(b);
		return;
	}
	conn_start(c);
}

static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	for (size_t i = 0; i + tl <= n; i++)
		if (strncasecmp(v + i, tok, tl) == 0)
			return true;
	return false;
}

static enum encap_ent encap_lookup(const char *s, size_t n)
{
	static const struct {
		const char *name;
		enum encap_ent ent;
	} names[] = {
	        {"req-hdr", ENT_REQ_HDR},   {"res-hdr", ENT_RES_HDR},
	        {"req-body", ENT_REQ_BODY}, {"res-body", ENT_RES_BODY},
	        {"opt-body", ENT_OPT_BODY}, {"null-body", ENT_NULL_BODY},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0)
			return names[i].ent;
	return ENT_NONE;
}

/* Parses an Encapsulated value ("req-hdr=0, res-hdr=45, res-body=120") into
 * c->body_ent, c->hdr_len and c->res_hdr. Offsets must not decrease and the list must
 * end with a body entity. Returns 0, or -1 if malformed. */
static int parse_encap(struct bench_conn *c, const char *v, size_t n)
{
	const char *e = v + n;
	uint64_t last = 0;

	c->body_ent = ENT_NONE;
	while (v < e) {
		const char *eq = memchr(v, '=', (size_t)(e - v));
		const char *ne;
		enum encap_ent ent;
		uint64_t off = 0;
		int digits = 0;

		if (c->body_ent != ENT_NONE || !eq)
			return -1;
		for (ne = eq; ne > v && (ne[-1] == ' ' || ne[-1] == '\t'); ne--)
			;
		if ((ent = encap_lookup(v, (size_t)(ne - v))) == ENT_NONE)
			return -1;
		for (v = eq + 1; v < e && *v >= '0' && *v <= '9'; v++) {
			if (++digits > 9)
				return -1;
			off = off * 10 + (uint64_t)(*v - '0');
		}
		if (digits == 0 || off < last)
			return -1;
		last = off;
		if (ent == ENT_RES_HDR)
			c->res_hdr = (long long)off;
		if (ent >= ENT_REQ_BODY) {
			c->body_ent = ent;
			c->hdr_len = (size_t)off;
		}
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		if (v < e && *v++ != ',')
			return -1;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
	}
	return c->body_ent == ENT_NONE ? -1 : 0;
}

/* Parses one ICAP reply head of len bytes at p, ending with the empty line.
 * Sets c->status, c->close_after, c->threat, c->body_ent, c->hdr_len and
 * c->res_hdr (ENT_NONE, 0 and -1 without an Encapsulated header). Returns 0,
 * or -1 if it is not ICAP. */
static int parse_head(struct bench_conn *c, const char *p, size_t len)
{
	const char *end = p + len, *line;

	if (len < 16 || memcmp(p, "ICAP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	if (p[12] != ' ' && p[12] != '\r')
		return -1;
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	c->close_after = false;
	c->threat = false;
	c->unscanned = false;
	c->body_ent = ENT_NONE;
	c->hdr_len = 0;
	c->res_hdr = -1;
	if (!(line = memchr(p, '\n', len)) || line[-1] != '\r')
		return -1;
	for (line++; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		const char *colon, *v, *ve;
		size_t nlen;

		if (!eol || eol == line || eol[-1] != '\r')
			return -1;
		if (eol - 1 == line)
			return 0; /* the empty line */
		if (*line == ' ' || *line == '\t') {
			/* a folded line goes on with the header above; X-Violations-Found
			 * is written that way (draft-stecher-icap-subid) */
			line = eol + 1;
			continue;
		}
		if (!(colon = memchr(line, ':', (size_t)(eol - 1 - line))) || colon == line)
			return -1;
		nlen = (size_t)(colon - line);
		for (v = colon + 1; v < eol - 1 && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol - 1; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		if (nlen == 12 && strncasecmp(line, "Encapsulated", 12) == 0) {
			if (parse_encap(c, v, (size_t)(ve - v)) < 0)
				return -1;
		} else if (nlen == 10 && strncasecmp(line, "Connection", 10) == 0) {
			c->close_after = has_token(v, (size_t)(ve - v), "close");
		} else if ((nlen == 17 && strncasecmp(line, "X-Infection-Found", 17) == 0) ||
		           (nlen == 18 && strncasecmp(line, "X-Violations-Found", 18) == 0)) {
			c->threat = true;
		}
		line = eol + 1;
	}
	return -1;
}

/* Reads the ICAP head. Returns 1 when it moved on, 0 for more data, -1 when
 * the connection failed. */
static int conn_read_head(struct bench_conn *c, struct evbuffer *in)
{
	struct bench *b = c->b;
	const struct payload *pl = c->pl;
	size_t len = evbuffer_get_length(in), hlen;
	struct evbuffer_ptr from, found;
	const char *p;

	if (len < 4)
		return 0;
	evbuffer_ptr_set(in, &from, c->scan, EVBUFFER_PTR_SET);
	found = evbuffer_search(in, "\r\n\r\n", 4, &from);
	if (found.pos < 0) {
		if (len > BENCH_MAX_HEAD)
			goto bad;
		c->scan = len - 3;
		return 0;
	}
	hlen = (size_t)found.pos + 4;
	if (hlen > BENCH_MAX_HEAD || !(p = (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen)))
		goto bad;
	if (parse_head(c, p, hlen) < 0)
		goto bad;
	/* A server that could not check a body and blocked it (icapd names the
	 * category "not-scanned") is not judging the content: its own verdict. */
	if (c->threat && b->fail_mark != NULL)
		c->unscanned = has_token(p, hlen, b->fail_mark);
	evbuffer_drain(in, hlen);
	c->scan = 0;

	if (c->status == 100) {
		/* a 100 only answers a preview that did not hold the whole body */
		if (c->phase != PH_PREVIEW || pl->ieof || c->body_ent != ENT_NONE)
			goto bad;
		b->continues++;
		c->phase = PH_REST;
		c->body_sent += pl->body_b;
		conn_write(c, pl->wire_b, pl->wire_b_len, &pl->var_b);
		return 1;
	}
	if (c->status < 200 || c->status > 599)
		goto bad;
	/* 204 outside a preview needs Allow: 204 (RFC 3507 4.6) */
	if (c->status == 204 && !b->allow204 && c->phase != PH_PREVIEW)
		goto bad;
	if (c->body_ent == ENT_NONE && c->status == 200)
		goto bad; /* a 200 must say what it encapsulates */
	if (c->hdr_len > BENCH_MAX_HEAD)
		goto bad;
	c->verify = c->status == 200 && b->method != M_OPTIONS;
	c->blocked = false;
	c->echo_off = 0;
	c->state = CS_ENCAP;
	return 1;
bad:
	conn_fail(c, ERR_BAD_REPLY);
	return -1;
}

/* Whether a 200 is a block rather than an echo or an adaptation: it names a
 * threat, answers a RESPMOD with another HTTP status than the 200 that was
 * sent, or answers a REQMOD with a response. p, n: the encapsulated headers
 * (n may be 0). */
static bool reply_blocks(const struct bench_conn *c, const char *p, size_t n)
{
	const char *sp;

	if (c->threat)
		return true;
	if (c->res_hdr < 0 || (uint64_t)c->res_hdr >= n)
		return false;
	if (c->b->method == M_REQMOD)
		return true;
	p += c->res_hdr;
	n -= (size_t)c->res_hdr;
	/* "HTTP/1.1 403 Forbidden" */
	if (n < 13 || memcmp(p, "HTTP/", 5) != 0 || !(sp = memchr(p, ' ', n < 16 ? n : 16)) ||
	    (size_t)(sp - p) + 4 > n)
		return false;
	return memcmp(sp + 1, "200", 3) != 0;
}

/* Reads the encapsulated HTTP headers, checking that they end with an empty
 * line where Encapsulated says the body starts, and decides from them and
 * the ICAP head whether a 200 blocks or must echo. */
static int conn_read_encap(struct bench_conn *c, struct evbuffer *in)
{
	const struct payload *pl = c->pl;
	const char *p = NULL;

	if (c->hdr_len > 0) {
		if (evbuffer_get_length(in) < c->hdr_len)
			return 0;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)c->hdr_len);
		if (!p || c->hdr_len < 12 || memcmp(p + c->hdr_len - 4, "\r\n\r\n", 4) != 0) {
			conn_fail(c, ERR_BAD_REPLY);
			return -1;
		}
	}
	if (c->verify) {
		c->blocked = reply_blocks(c, p, c->hdr_len);
		if (c->blocked)
			c->verify = false; /* a block page, not the body */
		else if (c->body_ent != pl->sent_ent &&
		         !(pl->body_len == 0 && c->body_ent == ENT_NULL_BODY))
			/* an echo must carry the body back as the same entity: not
			 * as a null-body, nor a REQMOD body as a response */
			c->mismatch = true;
	}
	if (c->hdr_len > 0)
		evbuffer_drain(in, c->hdr_len);
	if (c->body_ent == ENT_NONE || c->body_ent == ENT_NULL_BODY) {
		conn_done(c);
		return 1;
	}
	c->cstate = CK_SIZE_FIRST;
	c->csize = 0;
	c->state = CS_BODY;
	return 1;
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Feeds one byte outside chunk data to the decoder. Returns 0 or -1. */
static int chunk_byte(struct bench_conn *c, unsigned char ch)
{
	int h;

	switch (c->cstate) {
	case CK_SIZE_FIRST:
	case CK_SIZE:
		if ((h = hex_value(ch)) >= 0) {
			if (c->csize >> 56)
				return -1;
			c->csize = c->csize * 16 + (uint64_t)h;
			c->cstate = CK_SIZE;
			return 0;
		}
		if (c->cstate == CK_SIZE_FIRST)
			return -1;
		/* fall through */
	case CK_SIZE_WS:
		if (ch == ' ' || ch == '\t')
			c->cstate = CK_SIZE_WS;
		else if (ch == ';')
			c->cstate = CK_EXT;
		else if (ch == '\r')
			c->cstate = CK_SIZE_LF;
		else
			return -1;
		return 0;
	case CK_EXT:
		if (ch == '\r')
			c->cstate = CK_SIZE_LF;
		return 0;
	case CK_SIZE_LF:
		if (ch != '\n')
			return -1;
		c->cstate = c->csize ? CK_DATA : CK_TRAILER;
		return 0;
	case CK_DATA_CR:
		c->cstate = CK_DATA_LF;
		return ch == '\r' ? 0 : -1;
	case CK_DATA_LF:
		c->cstate = CK_SIZE_FIRST;
		c->csize = 0;
		return ch == '\n' ? 0 : -1;
	case CK_TRAILER:
		c->cstate = ch == '\r' ? CK_FINAL_LF : CK_TRAILER_LINE;
		return 0;
	case CK_TRAILER_LINE:
		if (ch == '\r')
			c->cstate = CK_TRAILER_LF;
		return 0;
	case CK_TRAILER_LF:
		c->cstate = CK_TRAILER;
		return ch == '\n' ? 0 : -1;
	case CK_FINAL_LF:
		c->cstate = CK_END;
		return ch == '\n' ? 0 : -1;
	default:
		return -1;
	}
}

/* Whether the n bytes at p equal the body sent on c from offset off on (off +
 * n is within the body): the payload's body, but for the varied bytes. */
static bool body_matches(const struct bench_conn *c, uint64_t off, const unsigned char *p, size_t n)
{
	const struct payload *pl = c->pl;
	uint64_t vs = pl->var_off, ve = pl->var_off + pl->var_len;
	size_t pre, mid;

	if (pl->var_len == 0 || off + n <= vs || off >= ve)
		return memcmp(p, pl->body + off, n) == 0;
	/* [off, vs) fixed, then varied bytes up to ve, then fixed again */
	pre = off < vs ? (size_t)(vs - off) : 0;
	if (pre > 0 && memcmp(p, pl->body + off, pre) != 0)
		return false;
	mid = (size_t)((off + n < ve ? off + n : ve) - (off + pre));
	if (memcmp(p + pre, c->tag + (off + pre - vs), mid) != 0)
		return false;
	return memcmp(p + pre + mid, pl->body + off + pre + mid, n - pre - mid) == 0;
}

/* Decodes the chunked body as it arrives, comparing data with what was sent
 * without copying it. */
static int conn_read_body(struct bench_conn *c, struct evbuffer *in)
{
	const struct payload *pl = c->pl;

	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v[16];
		int n = evbuffer_peek(in, -1, NULL, v, 16);
		size_t used = 0;

		for (int i = 0; i < n && c->cstate != CK_END; i++) {
			const unsigned char *p = v[i].iov_base;
			size_t len = v[i].iov_len, k = 0;

			while (k < len && c->cstate != CK_END) {
				if (c->cstate == CK_DATA) {
					size_t take = len - k;

					if (take > c->csize)
						take = (size_t)c->csize;
					if (c->verify && !c->mismatch &&
					    (c->echo_off + take > pl->body_len ||
					     !body_matches(c, c->echo_off, p + k, take)))
						c->mismatch = true;
					c->echo_off += take;
					c->csize -= take;
					k += take;
					if (c->csize == 0)
						c->cstate = CK_DATA_CR;
				} else if (chunk_byte(c, p[k++]) < 0) {
					conn_fail(c, ERR_BAD_REPLY);
					return -1;
				}
			}
			used += k;
		}
		evbuffer_drain(in, used);
		if (c->cstate == CK_END) {
			conn_done(c);
			return 1;
		}
	}
	return 0;
}

/*
 * libevent 2.1 reads at most 4096 bytes per readable event (EVBUFFER_MAX_READ
 * in buffer.c), whatever bufferevent_set_max_single_read() says: 256 wakeups
 * and 768 system calls for a 1 MiB echo. When its read came back full, take
 * what else the socket holds now, up to BENCH_IO_MAX. EOF and errors are left
 * for libevent's next read to report. A socket bufferevent keeps the end of
 * its input frozen except while it reads, so this thaws it the same way.
 */
static void conn_read_more(struct bench_conn *c, struct evbuffer *in)
{
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	ssize_t r;
	int n;

	evbuffer_unfreeze(in, 0);
	if ((n = evbuffer_reserve_space(in, BENCH_IO_MAX, v, 2)) <= 0)
		goto out;
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	r = readv(bufferevent_getfd(c->bev), iov, n);
	if (r <= 0) {
		evbuffer_commit_space(in, v, 0);
		goto out;
	}
	if ((size_t)r <= v[0].iov_len) {
		v[0].iov_len = (size_t)r;
		n = 1;
	} else {
		v[1].iov_len = (size_t)r - v[0].iov_len;
	}
	evbuffer_commit_space(in, v, n);
out:
	evbuffer_freeze(in, 0);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct bench_conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_input(bev)) >= c->in_len + LIBEVENT_MAX_READ)
		conn_read_more(c, bufferevent_get_input(bev));

	for (;;) {
		struct evbuffer *in;
		int r;

		if (c->bev != bev)
			return; /* the socket was closed, or replaced */
		in = bufferevent_get_input(bev);
		if (evbuffer_get_length(in) > 0 && conn_in_flight(c))
			c->got_bytes = true;
		switch (c->state) {
		case CS_HEAD:
			r = conn_read_head(c, in);
			break;
		case CS_ENCAP:
			r = conn_read_encap(c, in);
			break;
		case CS_BODY:
			r = conn_read_body(c, in);
			break;
		default:
			if (evbuffer_get_length(in) > 0)
				conn_fail(c, ERR_BAD_REPLY); /* nothing was asked */
			return;
		}
		if (r < 0)
			return;
		if (r == 0) {
			c->in_len = evbuffer_get_length(in);
			return;
		}
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct bench_conn *c = arg;
	struct bench *b = c->b;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		b->connects_ok++;
		c->served = 0;
		if (c->resend) {
			c->resend = false;
			c->resent = true;
			conn_send(c);
		} else {
			conn_start(c);
		}
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (c->state == CS_CONNECTING) {
		conn_fail(c, ERR_CONNECT);
	} else if (conn_in_flight(c)) {
		if (c->state != CS_HEAD && c->status == 200 && c->pl->infected) {
			/* A reply that began to pass an infected body on before
			 * the verdict can only block it by ending short: so icapd
			 * blocks past its early_hold. */
			c->cut = true;
			conn_done(c);
			return;
		}
		/* The server may close an idle keep-alive connection just as
		 * the next request goes out; send that request once more. */
		if (!c->got_bytes && c->served > 0 && !c->resent) {
			conn_close(c);
			b->resends++;
			c->resend = true;
			conn_connect(c);
			return;
		}
		conn_fail(c, ERR_CLOSED_EARLY);
	} else {
		conn_close(c);
		b->reconnects++;
		if (bench_more(b))
			conn_connect(c);
	}
}

static void conn_connect(struct bench_conn *c)
{
	struct bench *b = c->b;

	if (b->stopping)
		return;
	c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		die("cannot create a bufferevent");
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_set_max_single_read(c->bev, BENCH_IO_MAX);
	bufferevent_set_max_single_write(c->bev, BENCH_IO_MAX);
	/* EV_WRITE (on by default) only while a write waits; the connect
	 * itself is watched by libevent either way */
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_enable(c->bev, EV_READ);
	c->state = CS_CONNECTING;
	c->in_len = 0;
	if (!c->resend)
		c->t_start = now_ns();
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->addr, (int)b->addrlen) < 0)
		conn_fail(c, ERR_CONNECT);
}

/* Every 100 ms: fail requests (and connects) older than the timeout. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	uint64_t now = now_ns(), limit = (uint64_t)(b->timeout * 1e9);

	(void)fd;
	(void)what;
	for (unsigned i = 0; i < b->conns && !b->stopping; i++) {
		struct bench_conn *c = &b->conn[i];

		if (c->state == CS_CONNECTING && now - c->t_start > limit)
			conn_fail(c, ERR_CONNECT);
		else if (conn_in_flight(c) && now - c->t_start > limit)
			conn_fail(c, ERR_TIMEOUT);
	}
}

/*
 * The warm-up is over: from now on only replies that complete count. In a
 * steady state the replies completed in a window, whenever they were sent,
 * measure the throughput without bias; counted from the start, a closed loop
 * loses the first round trip and the requests in flight at the end, a large
 * share when a reply takes a good part of a second.
 */
static void warmup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;

	(void)fd;
	(void)what;
	b->t_meas = now_ns();
	getrusage(RUSAGE_SELF, &b->ru0);
	b->completed = b->req_body_bytes = b->reply_body_bytes = 0;
	memset(b->status_count, 0, sizeof(b->status_count));
	memset(b->verdicts, 0, sizeof(b->verdicts));
	memset(&b->lat, 0, sizeof(b->lat));
	memset(&b->svc, 0, sizeof(b->svc));
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bench_stop(arg);
}

static void signal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;

	(void)fd;
	(void)what;
	b->interrupted = true;
	bench_stop(b);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: icap-bench [options]\n"
	           "  -H host         server address, loopback only (127.0.0.1)\n"
	           "  -p port         server port (1344)\n"
	           "  -s service      service path (/echo)\n"
	           "  -m method       OPTIONS, REQMOD or RESPMOD (RESPMOD)\n"
	           "  -c conns        connections, each with at most one request in flight "
	           "(1)\n"
	           "  -d seconds      run time, at most 600 (10, or 600 with only -n)\n"
	           "  -n requests     stop after this many requests (warm-up included)\n"
	           "  --warmup secs   replies that complete in the first secs are not "
	           "counted;\n"
	           "                  -d seconds are measured after them (0)\n"
	           "  --rate R        open loop: R requests/s in all, request j due at j/R s\n"
	           "                  on connection j mod conns; latency counts from the due\n"
	           "                  time, also while the request waits for its connection\n"
	           "                  (default: closed loop, each connection as fast as it "
	           "goes)\n"
	           "  -b bytes        body size, k/m suffixes are KiB/MiB; 0 = null-body "
	           "(1024)\n"
	           "  --corpus DIR    bodies are the regular files in DIR (at most 10000, "
	           "128 MiB\n"
	           "                  in all), taken in the order of their names, cycled\n"
	           "  --unique        a different body for every request: its last 8 bytes "
	           "hold\n"
	           "                  a request number plus a random start per run\n"
	           "  --repeat-share F  like --unique, but a share F (0..1) of the requests "
	           "carry\n"
	           "                  one of --repeat-set bodies instead (a verdict cache "
	           "hits)\n"
	           "  --repeat-set N  how many repeated bodies (16; per corpus file)\n"
	           "  --infected-share F  a share F (0..1) of the requests carry the EICAR "
	           "test\n"
	           "                  string before their last 8 bytes and must be blocked; "
	           "the\n"
	           "                  rest must not be\n"
	           "  --preview N     send N body bytes as preview, the rest after 100 "
	           "Continue\n"
	           "  --allow204      send Allow: 204\n"
	           "  --chunk bytes   chunk size of the request body (64k)\n"
	           "  --timeout secs  per-request timeout (30)\n"
	           "  --fail-closed-mark TEXT  a block whose ICAP head holds TEXT (icapd: "
	           "not-scanned)\n"
	           "                  is the server failing closed, not a verdict on the "
	           "content:\n"
	           "                  counted as 200_unscanned, not as clean_blocked\n"
	           "  --json          print one JSON object instead of a table\n"
	           "Exit status: 0 without errors, 1 with errors (wrong verdicts included), "
	           "2 on\n"
	           "bad usage.\n");
}

/* Parses a size with an optional k, m or g (binary) suffix; -1 if invalid. */
static long long parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	else if (*end == 'g' || *end == 'G')
		v <<= 30, end++;
	if (*end != '\0' || v > (1ULL << 40))
		return -1;
	return (long long)v;
}

/* Parses a share from 0 to 1; -1 if invalid. */
static double parse_share(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0 && v <= 1))
		return -1;
	return v;
}

static double parse_seconds(const char *s, double max)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v > 0) || v > max)
		return -1;
	return v;
}

/* Resolves b->host, which must be a numeric loopback address or
 * "localhost"; no name lookups, so nothing can leave the machine. */
static void resolve_loopback(struct bench *b)
{
	struct addrinfo hints, *res;
	const char *h = strcmp(b->host, "localhost") == 0 ? "127.0.0.1" : b->host;
	char port[16];
	bool ok;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", b->port);
	if (getaddrinfo(h, port, &hints, &res) != 0 || !res)
		die("-H needs a numeric loopback address (127.0.0.0/8, ::1) or localhost");
	if (res->ai_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)res->ai_addr;
		ok = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)res->ai_addr;
		ok = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
		     (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && sin6->sin6_addr.s6_addr[12] == 127);
	}
	if (!ok)
		die("refusing a non-loopback address: icap-bench only targets this "
		    "machine");
	memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
	b->addrlen = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	enum {
		O_PREVIEW = 256,
		O_ALLOW204,
		O_CHUNK,
		O_JSON,
		O_TIMEOUT,
		O_UNIQUE,
		O_RATE,
		O_CORPUS,
		O_REPEAT_SHARE,
		O_REPEAT_SET,
		O_INFECTED_SHARE,
		O_WARMUP,
		O_FAIL_MARK,
	};
	static const struct option longopts[] = {
	        {"preview", required_argument, NULL, O_PREVIEW},
	        {"allow204", no_argument, NULL, O_ALLOW204},
	        {"chunk", required_argument, NULL, O_CHUNK},
	        {"json", no_argument, NULL, O_JSON},
	        {"timeout", required_argument, NULL, O_TIMEOUT},
	        {"unique", no_argument, NULL, O_UNIQUE},
	        {"rate", required_argument, NULL, O_RATE},
	        {"corpus", required_argument, NULL, O_CORPUS},
	        {"repeat-share", required_argument, NULL, O_REPEAT_SHARE},
	        {"repeat-set", required_argument, NULL, O_REPEAT_SET},
	        {"infected-share", required_argument, NULL, O_INFECTED_SHARE},
	        {"warmup", required_argument, NULL, O_WARMUP},
	        {"fail-closed-mark", required_argument, NULL, O_FAIL_MARK},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *service = "/echo";
	bool have_d = false, have_b = false, unique = false;
	long long v;
	int opt;

	b->host = "127.0.0.1";
	b->port = 1344;
	b->method = M_RESPMOD;
	b->conns = 1;
	b->seconds = 10;
	b->body_len = 1024;
	b->preview = -1;
	b->chunk = 64 * 1024;
	b->timeout = 30;
	b->repeat_share = -1;
	b->repeat_set = BENCH_REPEAT_SET;
	while ((opt = getopt_long(argc, argv, "H:p:s:m:c:d:n:b:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			b->host = optarg;
			break;
		case 'p':
			v = parse_size(optarg);
			if (v < 1 || v > 65535)
				die("-p: port 1..65535");
			b->port = (int)v;
			break;
		case 's':
			service = optarg;
			break;
		case 'm':
			if (strcasecmp(optarg, "OPTIONS") == 0)
				b->method = M_OPTIONS;
			else if (strcasecmp(optarg, "REQMOD") == 0)
				b->method = M_REQMOD;
			else if (strcasecmp(optarg, "RESPMOD") == 0)
				b->method = M_RESPMOD;
			else
				die("-m: OPTIONS, REQMOD or RESPMOD");
			break;
		case 'c':
			v = parse_size(optarg);
			if (v < 1 || v > BENCH_MAX_CONNS)
				die("-c: 1..10000 connections");
			b->conns = (unsigned)v;
			break;
		case 'd':
			if ((b->seconds = parse_seconds(optarg, BENCH_MAX_SECONDS)) < 0)
				die("-d: seconds, more than 0 and at most 600");
			have_d = true;
			break;
		case 'n':
			v = parse_size(optarg);
			if (v < 1 || (unsigned long long)v > BENCH_MAX_REQUESTS)
				die("-n: 1..1000000000 requests");
			b->max_requests = (uint64_t)v;
			break;
		case 'b':
			v = parse_size(optarg);
			if (v < 0 || (unsigned long long)v > BENCH_MAX_BODY)
				die("-b: 0..256m bytes");
			b->body_len = (uint64_t)v;
			have_b = true;
			break;
		case O_PREVIEW:
			if ((b->preview = parse_size(optarg)) < 0 || b->preview > (1 << 30))
				die("--preview: 0..1g bytes");
			break;
		case O_ALLOW204:
			b->allow204 = true;
			break;
		case O_CHUNK:
			v = parse_size(optarg);
			if (v < 1 || v > (1 << 30))
				die("--chunk: 1..1g bytes");
			b->chunk = (size_t)v;
			break;
		case O_JSON:
			b->json = true;
			break;
		case O_UNIQUE:
			unique = true;
			break;
		case O_RATE:
			b->rate = strtod(optarg, NULL);
			if (parse_seconds(optarg, BENCH_MAX_RATE) < 0)
				die("--rate: requests per second, more than 0 and at most 1000000");
			break;
		case O_CORPUS:
			b->corpus = optarg;
			break;
		case O_REPEAT_SHARE:
			if ((b->repeat_share = parse_share(optarg)) < 0)
				die("--repeat-share: a share from 0 to 1");
			break;
		case O_REPEAT_SET:
			v = parse_size(optarg);
			if (v < 1 || v > 65536)
				die("--repeat-set: 1..65536 bodies");
			b->repeat_set = (unsigned)v;
			break;
		case O_WARMUP:
			if ((b->warmup = parse_seconds(optarg, 60)) < 0)
				die("--warmup: seconds, more than 0 and at most 60");
			break;
		case O_INFECTED_SHARE:
			if ((b->infected_share = parse_share(optarg)) < 0)
				die("--infected-share: a share from 0 to 1");
			break;
		case O_FAIL_MARK:
			if (optarg[0] == '\0' || strlen(optarg) > 256)
				die("--fail-closed-mark: 1..256 characters");
			b->fail_mark = optarg;
			break;
		case O_TIMEOUT:
			if ((b->timeout = parse_seconds(optarg, 3600)) < 0)
				die("--timeout: seconds, more than 0 and at most 3600");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	if (b->max_requests && !have_d)
		b->seconds = BENCH_MAX_SECONDS - b->warmup;
	if (b->seconds + b->warmup > BENCH_MAX_SECONDS)
		die("-d and --warmup: at most 600 seconds together");
	if (unique && b->repeat_share >= 0)
		die("--unique is --repeat-share 0: give one of them");
	if (unique)
		b->repeat_share = 0;
	b->tags = b->repeat_share >= 0;
	if (!b->tags)
		b->repeat_share = 0;
	if (b->corpus && have_b)
		die("-b or --corpus: the corpus gives the bodies");
	if (b->method == M_OPTIONS && (b->corpus || b->tags || b->infected_share > 0))
		die("OPTIONS has no body: no --corpus, --unique, --repeat-share or "
		    "--infected-share");
	if (b->rate > 0)
		b->interval_ns = 1e9 / b->rate;
	if (strlen(service) + 2 > sizeof(b->service))
		die("-s: service name too long");
	for (const char *s = service; *s; s++)
		if (*s <= ' ' || *s >= 127 || *s == '"' || *s == '\\')
			die("-s: the service must be printable ASCII without spaces, "
			    "quotes or \\");
	snprintf(b->service, sizeof(b->service), "%s%s", service[0] == '/' ? "" : "/", service);
	resolve_loopback(b);
}

/* ---- report ---- */

static double tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Open loop: requests due by the end of the run (their time came). */
static uint64_t sched_due(const struct bench *b)
{
	uint64_t due;

	if (b->rate <= 0)
		return b->started;
	due = (uint64_t)((double)(b->t_stop - b->t0) / b->interval_ns) + 1;
	return b->max_requests && due > b->max_requests ? b->max_requests : due;
}

/* p50 p90 p99 p99.9 of h, in us */
static void quantiles(const struct hist *h, double lat[4])
{
	static const double q[4] = {0.5, 0.9, 0.99, 0.999};

	for (int i = 0; i < 4; i++)
		lat[i] = hist_quantile(h, q[i]) / 1e3;
}

static void json_latency(const char *name, const struct hist *h)
{
	double lat[4];

	quantiles(h, lat);
	printf("\"%s\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,\"max\":%.1f,"
	       "\"mean\":%.1f}",
	       name, lat[0], lat[1], lat[2], lat[3], (double)h->max / 1e3,
	       h->count ? (double)h->sum / (double)h->count / 1e3 : 0.0);
}

static void table_latency(const char *name, const struct hist *h, const char *note)
{
	double lat[4];

	quantiles(h, lat);
	printf("  %-12s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (ms%s)\n", name,
	       lat[0] / 1e3, lat[1] / 1e3, lat[2] / 1e3, lat[3] / 1e3, (double)h->max / 1e6, note);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void report(const struct bench *b, const struct rusage *ru1)
{
	static const char *const mnames[] = {"OPTIONS", "REQMOD", "RESPMOD"};
	double secs = (double)(b->t_stop - b->t_meas) / 1e9;
	double all_secs = (double)(b->t_stop - b->t0) / 1e9;
	double user = tv_seconds(ru1->ru_utime) - tv_seconds(b->ru0.ru_utime);
	double sys = tv_seconds(ru1->ru_stime) - tv_seconds(b->ru0.ru_stime);
	double rps = secs > 0 ? (double)b->completed / secs : 0;
	double mbps = secs > 0 ? (double)b->req_body_bytes / secs / 1e6 : 0;
	double cpu_pct = secs > 0 ? 100 * (user + sys) / secs : 0;
	double us_req = b->completed ? 1e6 * (user + sys) / (double)b->completed : 0;
	bool client_bound = cpu_pct > BENCH_CLIENT_BOUND;
	uint64_t due = sched_due(b), behind = due > b->started ? due - b->started : 0;
	uint64_t nerr = 0, body_mean = b->pl[0].body_len;
	unsigned starved = 0;
	bool first = true;

	if (b->corpus)
		body_mean = b->corpus_bytes / b->nclean;
	for (unsigned i = 0; i < b->conns; i++)
		starved += b->conn[i].done == 0;
	for (int i = 0; i < ERR_COUNT; i++)
		nerr += b->errors[i];

	if (b->json) {
		printf("{\"method\":\"%s\",\"host\":", mnames[b->method]);
		json_string(b->host);
		printf(",\"port\":%d,\"service\":", b->port);
		json_string(b->service);
		printf(",\"mode\":\"%s\",\"rate\":%.3f,\"connections\":%u,\"body_bytes\":%" PRIu64
		       ",\"preview\":%lld,\"allow204\":%s,\"chunk\":%zu,\"unique\":%s,"
		       "\"bodies\":{\"corpus\":",
		       b->rate > 0 ? "open" : "closed", b->rate, b->conns, body_mean, b->preview,
		       b->allow204 ? "true" : "false", b->chunk,
		       b->tags && b->repeat_share < 1 ? "true" : "false");
		if (b->corpus)
			json_string(b->corpus);
		else
			printf("null");
		printf(",\"files\":%u,\"files_left_out\":%u,\"corpus_bytes\":%" PRIu64
		       ",\"varied\":%s,\"repeat_share\":%.4f,\"repeat_set\":%u,"
		       "\"infected_share\":%.4f,\"sent_unique\":%" PRIu64
		       ",\"sent_repeated\":%" PRIu64 ",\"sent_infected\":%" PRIu64 "},",
		       b->corpus ? b->nclean : 0, b->corpus_skipped, b->corpus_bytes,
		       b->tags ? "true" : "false", b->repeat_share, b->repeat_set,
		       b->infected_share, b->sent_unique, b->sent_repeated, b->sent_infected);
		printf("\"requests\":%" PRIu64 ",\"seconds\":%.3f,\"warmup_s\":%.3f,"
		       "\"all_requests\":%" PRIu64 ",\"all_seconds\":%.3f,"
		       "\"req_per_s\":%.1f,\"mb_per_s\":%.3f,\"request_body_bytes\":"
		       "%" PRIu64 ",\"reply_body_bytes\":%" PRIu64 ",\"status\":{",
		       b->completed, secs, (double)(b->t_meas - b->t0) / 1e9, b->all_completed,
		       all_secs, rps, mbps, b->req_body_bytes, b->reply_body_bytes);
		for (int s = 0; s < 600; s++)
			if (b->status_count[s]) {
				printf("%s\"%d\":%" PRIu64, first ? "" : ",", s,
				       b->status_count[s]);
				first = false;
			}
		printf("},\"verdicts\":{");
		for (int inf = 0; inf < 2; inf++) {
			printf("%s\"%s\":{", inf ? "," : "", inf ? "infected" : "clean");
			for (int v = 0; v < V_COUNT; v++)
				printf("%s\"%s\":%" PRIu64, v ? "," : "", verdict_names[v],
				       b->verdicts[inf][v]);
			printf("}");
		}
		printf("},\"open_loop\":{\"due\":%" PRIu64 ",\"started\":%" PRIu64
		       ",\"behind_at_end\":%" PRIu64 "}",
		       due, b->started, behind);
		printf(",\"in_flight_at_end\":%" PRIu64 ",\"starved_connections\":%u"
		       ",\"continues\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"resends\":%" PRIu64
		       ",\"errors\":{\"total\":%" PRIu64,
		       b->inflight, starved, b->continues, b->reconnects, b->resends, nerr);
		for (int i = 0; i < ERR_COUNT; i++)
			printf(",\"%s\":%" PRIu64, err_names[i], b->errors[i]);
		printf("},");
		json_latency("latency_us", &b->lat);
		printf(",");
		json_latency("service_us", b->rate > 0 ? &b->svc : &b->lat);
		printf(",\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"percent_of_wall\":%.1f,"
		       "\"us_per_request\":%.2f,\"client_bound\":%s},\"interrupted\":%s}\n",
		       user, sys, cpu_pct, us_req, client_bound ? "true" : "false",
		       b->interrupted ? "true" : "false");
		return;
	}
	printf("icap-bench: %s icap://%s:%d%s  connections %u  chunk %zu  preview %s  allow204 "
	       "%s%s\n",
	       mnames[b->method], b->host, b->port, b->service, b->conns, b->chunk,
	       b->preview >= 0 ? "on" : "off", b->allow204 ? "yes" : "no",
	       b->interrupted ? "  (interrupted)" : "");
	if (b->rate > 0)
		printf("  %-12s open, %.1f req/s due: %" PRIu64 " due, %" PRIu64
		       " started, %" PRIu64 " behind at the end%s\n",
		       "loop", b->rate, due, b->started, behind,
		       behind > due / 100 + 1 ? " (the rate was not kept up)" : "");
	else
		printf("  %-12s closed (each connection sends when its reply is in)\n", "loop");
	if (b->corpus)
		printf("  %-12s %s: %u files, %" PRIu64 " B%s\n", "corpus", b->corpus, b->nclean,
		       b->corpus_bytes, b->corpus_skipped ? " (some left out)" : "");
	else
		printf("  %-12s %" PRIu64 " B\n", "body", b->body_len);
	if (b->preview >= 0)
		printf("  %-12s %lld B%s\n", "preview", b->preview,
		       b->nclean == 1 && b->pl[0].ieof ? " (whole body, ieof)" : "");
	if (b->tags)
		printf("  %-12s the last 8 body bytes vary: %" PRIu64 " unique (from %016" PRIx64
		       "), %" PRIu64 " one of %u repeated\n",
		       "bodies", b->sent_unique, b->nonce + 1, b->sent_repeated, b->repeat_set);
	if (b->infected_share > 0)
		printf("  %-12s %" PRIu64 " sent with EICAR (share %.3f)\n", "infected",
		       b->sent_infected, b->infected_share);
	printf("  %-12s %" PRIu64 "\n", "requests", b->completed);
	printf("  %-12s %.3f\n", "seconds", secs);
	if (b->t_meas > b->t0)
		printf("  %-12s %.3f s before, %" PRIu64 " replies in all\n", "warm-up",
		       (double)(b->t_meas - b->t0) / 1e9, b->all_completed);
	printf("  %-12s %.1f\n", "req/s", rps);
	printf("  %-12s %.3f  (request body, 10^6 B)\n", "MB/s", mbps);
	printf("  %-12s", "status");
	for (int s = 0; s < 600; s++)
		if (b->status_count[s])
			printf(" %d: %" PRIu64 " ", s, b->status_count[s]);
	printf("%s\n", b->completed ? "" : " -");
	for (int inf = 0; inf < 2 && b->method != M_OPTIONS; inf++) {
		if (inf && b->infected_share <= 0)
			break;
		printf("  %-12s", inf ? "infected" : b->infected_share > 0 ? "clean" : "verdicts");
		for (int v = 0; v < V_COUNT; v++)
			printf("%s%s %" PRIu64, v ? ", " : " ", verdict_names[v],
			       b->verdicts[inf][v]);
		printf("\n");
	}
	if (starved)
		printf("  %-12s %u of %u got no reply at all (the server serves fewer at once?)\n",
		       "connections", starved, b->conns);
	if (b->continues || b->reconnects || b->resends)
		printf("  %-12s 100 Continue %" PRIu64 ", reconnects %" PRIu64 ", resends %" PRIu64
		       "\n",
		       "connection", b->continues, b->reconnects, b->resends);
	printf("  %-12s %" PRIu64, "errors", nerr);
	for (int i = 0; i < ERR_COUNT; i++)
		printf("%s%s %" PRIu64, i ? ", " : "  (", err_names[i], b->errors[i]);
	printf(")\n");
	table_latency("latency", &b->lat, b->rate > 0 ? ", from the due time" : "");
	if (b->rate > 0)
		table_latency("service", &b->svc, ", from the send");
	printf("  %-12s user %.3f s + sys %.3f s = %.1f%% of wall, %.2f us/request%s\n", "cpu",
	       user, sys, cpu_pct, us_req,
	       client_bound ? "\n  CLIENT-BOUND: icap-bench used more than 90% of a core; the "
	                      "server may be faster than measured"
	                    : "");
}

int main(int argc, char **argv)
{
	static struct bench bench; /* large: the histograms and status counts */
	struct bench *b = &bench;
	struct event_config *cfg;
	struct timeval tv;
	struct rusage ru1;
	uint64_t nerr = 0;

	parse_args(b, argc, argv);
	if (getrandom(&b->nonce, sizeof(b->nonce), 0) != sizeof(b->nonce))
		b->nonce = now_ns() ^ ((uint64_t)getpid() << 32);
	b->rng = b->nonce | 1;
	b->repeat_base = (b->nonce ^ 0x5bd1e9955bd1e995ULL) * 0x9e3779b97f4a7c15ULL;
	build_payloads(b);
	signal(SIGPIPE, SIG_IGN);

	/* open loop: timers to the microsecond (timerfd), not epoll's
	 * millisecond, or requests would leave up to 1 ms late */
	if (!(cfg = event_config_new()))
		die("cannot create an event config");
	if (b->rate > 0)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	if (!(b->base = event_base_new_with_config(cfg)))
		die("cannot create an event base");
	event_config_free(cfg);
	b->conn = xmalloc(b->conns * sizeof(*b->conn));
	memset(b->conn, 0, b->conns * sizeof(*b->conn));
	b->deadline_ev = evtimer_new(b->base, deadline_cb, b);
	b->warmup_ev = evtimer_new(b->base, warmup_cb, b);
	b->tick_ev = event_new(b->base, -1, EV_PERSIST, tick_cb, b);
	b->sigint_ev = evsignal_new(b->base, SIGINT, signal_cb, b);
	b->sigterm_ev = evsignal_new(b->base, SIGTERM, signal_cb, b);
	tv.tv_sec = (time_t)(b->seconds + b->warmup);
	tv.tv_usec = (suseconds_t)((b->seconds + b->warmup - (double)tv.tv_sec) * 1e6);
	evtimer_add(b->deadline_ev, &tv);
	if (b->warmup > 0) {
		tv.tv_sec = (time_t)b->warmup;
		tv.tv_usec = (suseconds_t)((b->warmup - (double)tv.tv_sec) * 1e6);
		evtimer_add(b->warmup_ev, &tv);
	}
	tv.tv_sec = 0;
	tv.tv_usec = 100000;
	event_add(b->tick_ev, &tv);
	evsignal_add(b->sigint_ev, NULL);
	evsignal_add(b->sigterm_ev, NULL);

	getrusage(RUSAGE_SELF, &b->ru0);
	b->t0 = b->t_meas = now_ns();
	for (unsigned i = 0; i < b->conns; i++) {
		struct bench_conn *c = &b->conn[i];

		c->b = b;
		c->index = i;
		c->pl = &b->pl[0];
		c->retry_ev = evtimer_new(b->base, conn_retry_cb, c);
		c->send_ev = evtimer_new(b->base, conn_send_cb, c);
		conn_connect(c);
	}
	event_base_dispatch(b->base);
	if (!b->stopping)
		b->t_stop = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	report(b, &ru1);

	for (int i = 0; i < ERR_COUNT; i++)
		nerr += b->errors[i];
	for (unsigned i = 0; i < b->conns; i++) {
		conn_close(&b->conn[i]);
		event_free(b->conn[i].retry_ev);
		event_free(b->conn[i].send_ev);
	}
	event_free(b->deadline_ev);
	event_free(b->warmup_ev);
	event_free(b->tick_ev);
	event_free(b->sigint_ev);
	event_free(b->sigterm_ev);
	event_base_free(b->base);
	free(b->conn);
	for (unsigned i = 0; i < b->npl; i++) {
		free(b->pl[i].wire_a);
		free(b->pl[i].wire_b);
		free(b->pl[i].body);
	}
	free(b->pl);
	return nerr ? 1 : 0;
}
