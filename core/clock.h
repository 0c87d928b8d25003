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

/* The time a record says something happened (when a fix-up plan was
 * applied): the wall clock, or SOURCE_DATE_EPOCH when the environment sets
 * it (decimal seconds since 1970, the reproducible-builds convention), so
 * tests get byte-identical records.  0, or -EINVAL with a message when
 * SOURCE_DATE_EPOCH is not such a number (up to the year 9999). */
int p2v_clock_record_time(time_t *t);
/* t as an RFC 3339 UTC time, "2023-11-14T22:13:20Z". */
void p2v_clock_rfc3339(time_t t, char out[32]);

#endif
