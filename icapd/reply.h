/*
 * reply: ICAP response heads. Every response carries ISTag and Date (RFC
 * 3507 section 4.7); the transaction decides what follows the head.
 */
#ifndef ICAPD_REPLY_H
#define ICAPD_REPLY_H

#include <event2/buffer.h>
#include <stdbool.h>

#include "conf.h"

const char *reply_reason(int status);

/*
 * Appends the status line and the headers every response has. istag is the
 * service's (quoted) or NULL for a request that named no service. The caller
 * adds Encapsulated and the empty line.
 */
void reply_start(struct evbuffer *out, int status, const char *istag, bool close);

/* A whole error response without a body. */
void reply_error(struct evbuffer *out, int status, const char *istag, bool close);

/* The whole OPTIONS response for svc. */
void reply_options(struct evbuffer *out, const struct conf *c, const struct conf_service *svc,
                   bool close);

#endif
