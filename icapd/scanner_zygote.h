/*
 * scanner_zygote: forks and replaces a generation's scanner processes (see
 * scanner_zygote.c).
 */
#ifndef ICAPD_SCANNER_ZYGOTE_H
#define ICAPD_SCANNER_ZYGOTE_H

#include <sys/types.h>

#include "generation.h"

/*
 * Forks the zygote of g, which keeps nscanners scanners running. Call it
 * when no other thread of the process runs. Returns its pid and the
 * server's end of its control socket in *ctl (events: scanner_proto.h), or
 * -1 (errno set).
 */
pid_t scanner_zygote_start(struct generation *g, unsigned nscanners, int *ctl);

#endif
