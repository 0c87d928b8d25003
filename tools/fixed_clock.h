/* A fixed wall clock for `fixup apply`: libntfs-3g stamps what it writes
 * with the current time, which would make every apply of the same plan
 * give different bytes.  With the clock fixed at the snapshot time (the
 * image's timestamp) the same source and plan give the same image. */
#ifndef P2V_FIXED_CLOCK_H
#define P2V_FIXED_CLOCK_H

#include <time.h>

/* From now on, in this process, the wall clock reads t. */
void p2v_fixed_clock(const struct timespec *t);

#endif
