/*
 * conf_listen: the listening side of the configuration that does not fit
 * conf.c's one-value rows: "listen_tls" statements, and the checks across
 * listen and listen_tls once the whole file is read. Called by conf.c.
 */
#ifndef ICAPD_CONF_LISTEN_H
#define ICAPD_CONF_LISTEN_H

#include <stddef.h>
#include <stdio.h>

#include "conf.h"

/* The address used when the file names neither listen nor listen_tls. */
#define CONF_LISTEN_DEFAULT "127.0.0.1:1344"

/*
 * Parses the arguments of one statement,
 *   listen_tls ADDR cert FILE key FILE [client_ca FILE] [verify_client on|off];
 * (options in any order, each at most once) and appends it to c. Relative
 * paths are resolved against the configuration file's folder; the files
 * are read later, when the generation is built. verify_client defaults to
 * on when client_ca is given (naming a CA and not using it would look like
 * protection that is not there), and on requires client_ca. Returns 0, or
 * -1 with a message in err.
 */
int conf_listen_tls_parse(struct conf *c, char **args, size_t nargs, int line, char *err,
                          size_t errlen);

/*
 * After the file: the default listen address if the file has no ICAP
 * listener at all (as nginx drops its default port once a listen is
 * written, a file with listen_tls alone has no plain listener), and no
 * address bound twice. Errors go to errors; returns how many.
 */
int conf_listen_check(struct conf *c, const char *file, FILE *errors);

/* Frees what conf_listen_tls_parse added. */
void conf_listen_free(struct conf *c);

#endif
