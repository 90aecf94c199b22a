/*
 * scan_cli: "icapd --scan FILE [-c CONF] [--service /respmod]
 * [--header 'Name: value']...". See scan_cli.c.
 */
#ifndef ICAPD_SCAN_CLI_H
#define ICAPD_SCAN_CLI_H

#include <stddef.h>

/* Returns the exit status: 0 clean, 1 block, 2 error. */
int scan_cli(const char *conf_path, const char *service, const char *file, char *const *headers,
             size_t nheaders);

#endif
