/*
 * log: the error log and the access log. Either goes to stderr (the journal
 * under systemd), syslog, a file (reopened on SIGUSR1 for logrotate), or
 * nowhere. Privacy is decided by the caller: an access record carries a
 * client address, user name or URL only when the operator turned that on.
 */
#ifndef ICAPD_LOG_H
#define ICAPD_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO };

struct access_record {
	const char *service;
	const char *method;
	int status;
	const char *verdict;
	uint64_t bytes_in, bytes_out;
	uint64_t duration_us;
	const char *client; /* NULL unless log_client_address on */
	const char *user;   /* NULL unless log_username on */
	const char *url;    /* NULL unless log_url host or full */
	const char *module; /* the module that decided, or NULL */
	const char *reason; /* its reason (a threat name, a limit), or NULL */
	const char *cache;  /* hit, miss, coalesced, or NULL */
	const char *match;  /* what matched, NULL unless log_matches on */
};

/*
 * Opens the targets that c names, replacing the current ones only if all
 * open. daemon: stderr is gone, so "stderr" means syslog. Returns 0 or -1
 * (with a message logged to the current error log).
 */
int log_open(const struct conf *c, bool daemon);

/* Reopens file targets (SIGUSR1). */
void log_reopen(void);

/* After a change of user: warns about file targets that could not be
 * opened again (by SIGUSR1 or a reload) as the current user. */
void log_check_writable(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)

void log_access(const struct access_record *r);

/* Writes s into buf (size len) with control characters, spaces, quotes and
 * backslashes escaped as \xHH, so a peer cannot forge or split log lines. */
void log_escape(char *buf, size_t len, const char *s);

#endif
