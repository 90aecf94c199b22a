/*
 * sandbox: the restrictions a scanner process takes on (see sandbox.c).
 */
#ifndef ICAPD_SANDBOX_H
#define ICAPD_SANDBOX_H

/* Turns them on for this process, for good. Returns 0, or -1 if any could
 * not be set (the scanner must then not scan). */
int sandbox_enter(void);

#endif
