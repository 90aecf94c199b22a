/*
 * admin: the admin listener, a small HTTP server on its own address for
 * monitoring: GET /metrics (Prometheus text) and GET /healthz (200 while the
 * server takes work, 503 once it is stopping). Peers outside
 * admin_allow_clients are closed at accept, unread.
 */
#ifndef ICAPD_ADMIN_H
#define ICAPD_ADMIN_H

#include "server.h"

/* Starts the admin listener on addr ("host:port"); returns 0 or -1 (logged). */
int admin_open(struct server *s, const char *addr);

void admin_close(struct server *s);

/* The address it listens on, or NULL. */
const char *admin_address(const struct server *s);

#endif
