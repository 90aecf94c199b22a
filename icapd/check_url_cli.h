/*
 * check_url_cli: "icapd --check-url URL [-c CONF] [--service /reqmod]
 * [--client ADDR] [--user NAME]". See check_url_cli.c.
 */
#ifndef ICAPD_CHECK_URL_CLI_H
#define ICAPD_CHECK_URL_CLI_H

/* Returns the exit status: 0 allow, 1 block, 2 error. client and user may
 * be NULL. */
int check_url_cli(const char *conf_path, const char *service, const char *url, const char *client,
                  const char *user);

#endif
