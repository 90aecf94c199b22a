/*
 * listener: the ICAP listening sockets. Accepting pauses while the server is
 * at max_connections (the kernel's backlog holds newcomers) instead of
 * accepting and dropping.
 */
#ifndef ICAPD_LISTENER_H
#define ICAPD_LISTENER_H

#include "server.h"

/* Binds every address of the current generation; returns 0 or -1 (logged). */
int listener_open_all(struct server *s);

void listener_close_all(struct server *s);

/* True if the generation's listen addresses differ from the bound ones. */
bool listener_changed(const struct server *s, const struct conf *c);

#endif
