/* The pinned wall clock: what libraries that stamp their writes with the
 * current time (libntfs-3g) read while p2v writes into a guest, so the same
 * source and plan give the same image.
 *
 * This only records the pin.  The p2v binary links tools/clock_interpose.c,
 * whose clock_gettime, gettimeofday and time answer the pinned time (and
 * pass through to libc when nothing is pinned); other programs linking the
 * library (the unit tests, the fuzzers) keep libc's clock.
 *
 * One pin at a time, set and cleared by one thread: pins do not nest. */
#ifndef P2V_CLOCK_H
#define P2V_CLOCK_H

#include <time.h>

/* From now until p2v_clock_unpin, the wall clock reads t. */
void p2v_clock_pin(const struct timespec *t);
/* The wall clock is the system's again. */
void p2v_clock_unpin(void);
/* 1 and the pinned time in *t, or 0 when the clock is not pinned. */
int p2v_clock_pinned(struct timespec *t);

#endif
