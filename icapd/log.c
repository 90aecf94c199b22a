/*
 * log: error and access log targets. Lines are written with one write(2)
 * each (O_APPEND), so concurrent writers and logrotate's copytruncate never
 * interleave or tear them. Values that come from peers are escaped.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum target_kind { T_OFF, T_STDERR, T_SYSLOG, T_FILE };

struct target {
	enum target_kind kind;
	char *path;
	int fd;
};

static struct target error_target = {T_STDERR, NULL, 2};
static struct target access_target = {T_STDERR, NULL, 2};
static bool syslog_open;

/*
 * Opens t as spec says. A file that cannot be opened again but is the one
 * cur already writes to keeps cur's descriptor (a copy): after the drop of
 * privileges a reload may not reopen a log file that root created, and that
 * must not fail the reload. what names the directive, for the message.
 */
static int target_open(struct target *t, const char *spec, bool daemon, const struct target *cur,
                       const char *what)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (strcmp(spec, "off") == 0)
		t->kind = T_OFF;
	else if (strcmp(spec, "syslog") == 0 || (daemon && strcmp(spec, "stderr") == 0))
		t->kind = T_SYSLOG;
	else if (strcmp(spec, "stderr") == 0) {
		t->kind = T_STDERR;
		t->fd = 2;
	} else {
		t->kind = T_FILE;
		t->fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (t->fd < 0) {
			int e = errno;
			if (cur->kind != T_FILE || strcmp(cur->path, spec) != 0 ||
			    (t->fd = fcntl(cur->fd, F_DUPFD_CLOEXEC, 3)) < 0) {
				errno = e;
				return -1;
			}
			log_warn("%s %s: cannot open it again (%s); still writing to the file "
			         "open before",
			         what, spec, strerror(e));
		}
		t->path = strdup(spec);
	}
	return 0;
}

static void target_close(struct target *t)
{
	if (t->kind == T_FILE && t->fd >= 0)
		close(t->fd);
	free(t->path);
	t->path = NULL;
}

int log_open(const struct conf *c, bool daemon)
{
	struct target e, a;

	if (target_open(&e, c->error_log, daemon, &error_target, "error_log") < 0) {
		log_error("error_log %s: %s", c->error_log, strerror(errno));
		return -1;
	}
	if (target_open(&a, c->access_log, daemon, &access_target, "access_log") < 0) {
		log_error("access_log %s: %s", c->access_log, strerror(errno));
		target_close(&e);
		return -1;
	}
	if ((e.kind == T_SYSLOG || a.kind == T_SYSLOG) && !syslog_open) {
		openlog("icapd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		syslog_open = true;
	}
	target_close(&error_target);
	target_close(&access_target);
	error_target = e;
	access_target = a;
	return 0;
}

static void target_reopen(struct target *t)
{
	if (t->kind != T_FILE)
		return;
	int fd = open(t->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error("reopen %s: %s (still writing to the old file)", t->path,
		          strerror(errno));
		return;
	}
	close(t->fd);
	t->fd = fd;
}

void log_reopen(void)
{
	target_reopen(&error_target);
	target_reopen(&access_target);
}

static void target_check(const struct target *t, const char *what)
{
	if (t->kind != T_FILE)
		return;
	int fd = open(t->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return;
	}
	log_warn("%s %s: cannot open it again as this user (%s): SIGUSR1 and reloads keep "
	         "writing to the file open now, also once logrotate renames it; make it "
	         "writable by icapd's user, or log to stderr or syslog",
	         what, t->path, strerror(errno));
}

void log_check_writable(void)
{
	target_check(&error_target, "error_log");
	target_check(&access_target, "access_log");
}

/* "2026-11-27T22:44:49.123Z" */
static void timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void emit(struct target *t, int priority, const char *line, size_t len)
{
	switch (t->kind) {
	case T_OFF:
		return;
	case T_SYSLOG:
		syslog(priority, "%.*s", (int)len, line);
		return;
	case T_STDERR:
	case T_FILE: {
		char buf[8192];
		char ts[40];
		timestamp(ts, sizeof(ts));
		int n = snprintf(buf, sizeof(buf), "%s %.*s\n", ts, (int)len, line);
		if (n < 0)
			return;
		if ((size_t)n >= sizeof(buf)) {
			n = sizeof(buf) - 1;
			buf[n - 1] = '\n';
		}
		/* A failed log write must not stop the server; there is nowhere to report it. */
		ssize_t w = write(t->fd, buf, (size_t)n);
		(void)w;
		return;
	}
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info"};
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO};
	char line[4096];
	va_list ap;

	int n = snprintf(line, sizeof(line), "%s: ", names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	emit(&error_target, prio[level], line, strlen(line));
}

void log_escape(char *buf, size_t len, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o] = 0;
}

void log_access(const struct access_record *r)
{
	char line[6144], esc[1600];
	int n;

	if (access_target.kind == T_OFF)
		return;
	n = snprintf(line, sizeof(line),
	             "service=%s method=%s status=%d verdict=%s bytes_in=%llu bytes_out=%llu "
	             "duration_ms=%.3f",
	             r->service, r->method, r->status, r->verdict, (unsigned long long)r->bytes_in,
	             (unsigned long long)r->bytes_out, (double)r->duration_us / 1000.0);
	const char *names[] = {"cache", "module", "reason", "match", "client", "user", "url"};
	const char *vals[] = {r->cache, r->module, r->reason, r->match, r->client, r->user, r->url};
	for (size_t i = 0;
	     i < sizeof(names) / sizeof(names[0]) && n > 0 && (size_t)n < sizeof(line); i++) {
		if (vals[i] == NULL)
			continue;
		log_escape(esc, sizeof(esc), vals[i]);
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%s", names[i], esc);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	emit(&access_target, LOG_INFO, line, (size_t)n);
}
