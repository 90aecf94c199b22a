/*
 * listener: the ICAP listening sockets, plain and TLS. Accepting pauses
 * while the server is at max_connections (the kernel's backlog holds
 * newcomers) instead of accepting and dropping. A peer outside
 * allow_clients is closed at accept, before a byte is read.
 */
#ifndef ICAPD_LISTENER_H
#define ICAPD_LISTENER_H

#include <sys/socket.h>
#include <time.h>

#include "server.h"

/* Binds every listen and listen_tls address of the current generation;
 * returns 0 or -1 (logged). */
int listener_open_all(struct server *s);

void listener_close_all(struct server *s);

/* Enables or disables accepting on every listener. */
void listener_set_accepting(struct server *s, bool on);

/* True if the generation's listen or listen_tls addresses differ from the
 * bound ones. */
bool listener_changed(const struct server *s, const struct conf *c);

/* The log rate limit of one listener's refusals. */
struct listener_refusals {
	time_t logged; /* monotonic seconds of the last line; 0: none yet */
	unsigned long quiet;
};

/* fd's peer sa is not allowed on this listener (admin: the admin one):
 * resets fd unread, counts it, and logs it unless r logged one lately. */
void listener_refuse(evutil_socket_t fd, const struct sockaddr *sa, bool admin,
                     struct listener_refusals *r);

#endif
