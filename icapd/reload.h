/*
 * reload: SIGHUP. A new generation is built on a thread of its own (loading
 * signatures or lists can take seconds and the event loop must keep
 * serving), then swapped in on the loop. If the build fails, the current
 * generation keeps serving and every error is logged with file:line.
 */
#ifndef ICAPD_RELOAD_H
#define ICAPD_RELOAD_H

#include "server.h"

/* Starts a reload, or queues one if a reload is already running. */
void reload_start(struct server *s);

/* True while a reload's build thread runs. */
bool reload_building(const struct server *s);

/* Waits for a running reload and frees its state (at exit). */
void reload_cleanup(struct server *s);

#endif
