/*
 * privdrop: "user NAME [GROUP];" and running unprivileged.
 *
 * icapd starts as root only to bind its listeners and read what root alone
 * may read (TLS keys, the Redis secret). Once the first generation is
 * built, the listeners are bound and the process has gone to the
 * background, privdrop_start() takes the supplementary groups of NAME,
 * then the group, then the user, checks that root cannot come back, and
 * sets no_new_privs. Everything after that (serving, SIGHUP reloads,
 * SIGUSR1 log reopening, spooling bodies) runs as that user.
 */
#ifndef ICAPD_PRIVDROP_H
#define ICAPD_PRIVDROP_H

#include <stddef.h>

#include "conf.h"

/*
 * Parses the arguments of "user NAME [GROUP];" at line into u, resolving
 * the names (an unknown user or group is a configuration error). Without
 * GROUP, the group is NAME's primary group. Returns 0, or -1 with a message
 * in err.
 */
int privdrop_parse(struct conf_user *u, char **args, size_t nargs, int line, char *err,
                   size_t errlen);

void privdrop_user_free(struct conf_user *u);

/*
 * Start-up, once everything that needs root is done. Without "user", warns
 * if the process is root. With it: as root, changes to that user (every
 * failure is fatal); as that user already, nothing; as anyone else, an
 * error. Then, as whoever icapd now is, checks that spool_dir takes files
 * (fatal if not), and warns about what reloads and SIGUSR1 will not be
 * able to read or reopen (the configuration file, TLS keys, log files).
 * Errors go to the error log; returns 0 or -1.
 */
int privdrop_start(const struct conf *c);

/*
 * Checks that a body can spill to dir as the current user. Returns 0, or
 * -1 with a message in err.
 */
int privdrop_check_spool(const char *dir, char *err, size_t errlen);

/* After a failed reload whose messages are errors: if a file was not
 * readable and icapd runs unprivileged, logs which user must read it. */
void privdrop_reload_hint(const char *errors);

#endif
