#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define MIN_BYTES (256ull * 1024 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void p2v_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    struct p2v_progress *p = ctx;
    if (p->quiet || total < (p->min_bytes ? p->min_bytes : MIN_BYTES) || !total)
        return;
    double t = now();
    if (!p->start)
        p->start = t;
    int tenth = (int)(done * 10 / total);
    int tty = isatty(2);
    if (tty ? t - p->last_time < 0.25 && done < total : tenth == p->last_tenth)
        return;
    p->last_time = t;
    p->last_tenth = tenth;
    double mb = done / 1048576.0, rate = t > p->start ? mb / (t - p->start) : 0;
    if (p->verb) {
        char eta[32] = "";
        if (!done)
            return;
        if (rate > 0 && done < total) {
            unsigned s = (unsigned)((total - done) / 1048576.0 / rate);
            snprintf(eta, sizeof eta, ", ETA %u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
        }
        fprintf(stderr, "%sp2v: %s %s: %3d%% (%.0f of %.0f MiB, %.0f MiB/s%s)%s%s",
                tty ? "\r" : "", p->verb, p->what, (int)(done * 100 / total), mb,
                total / 1048576.0, rate, eta, tty ? "\033[K" : "", tty ? "" : "\n");
        p->shown = 1;
        return;
    }
    fprintf(stderr, "%sp2v: scanning %s for zero blocks: %3d%% (%.0f of %.0f MiB, %.0f MiB/s)%s",
            tty ? "\r" : "", p->what, (int)(done * 100 / total), mb, total / 1048576.0, rate,
            tty ? "" : "\n");
    p->shown = 1;
}

void p2v_progress_done(struct p2v_progress *p)
{
    if (p->shown && isatty(2))
        fputc('\n', stderr);
}
