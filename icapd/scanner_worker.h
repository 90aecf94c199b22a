/*
 * scanner_worker: the loop of one scanner process (see scanner_pool.h).
 */
#ifndef ICAPD_SCANNER_WORKER_H
#define ICAPD_SCANNER_WORKER_H

#include <stdnoreturn.h>

#include "generation.h"

/* Answers jobs on sock with g's modules until the server closes it; then
 * exits the process. */
noreturn void scanner_worker_main(int sock, struct generation *g);

#endif
