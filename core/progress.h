/* Progress of long operations on stderr: a redrawn line on a terminal,
 * a line every 10% otherwise.  Small jobs print nothing. */
#ifndef P2V_PROGRESS_H
#define P2V_PROGRESS_H

#include <stdint.h>

struct p2v_progress {
    const char *what;
    const char *verb;     /* "copying": "p2v: copying WHAT: ..." with an ETA;
                           * NULL: the zero-block scan's wording */
    uint64_t min_bytes;   /* smaller jobs print nothing; 0: 256 MiB */
    int quiet;
    int shown;        /* something was printed */
    int last_tenth;
    double last_time;
    double start;
};

void p2v_progress_update(void *ctx, uint64_t done, uint64_t total);
void p2v_progress_done(struct p2v_progress *p);

#endif
