#define _GNU_SOURCE
#include "fixed_clock.h"

#include <dlfcn.h>
#include <stddef.h>
#include <sys/time.h>

static struct timespec fixed;
static int active;

void p2v_fixed_clock(const struct timespec *t)
{
    fixed = *t;
    active = 1;
}

/* These definitions in the executable take precedence over libc's for
 * every library in the process, libntfs-3g included. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (active && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        *ts = fixed;
        return 0;
    }
    static int (*real)(clockid_t, struct timespec *);
    if (!real)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return real(id, ts);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    if (active) {
        tv->tv_sec = fixed.tv_sec;
        tv->tv_usec = fixed.tv_nsec / 1000;
        return 0;
    }
    static int (*real)(struct timeval *, void *);
    if (!real)
        real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    return real(tv, tz);
}

time_t time(time_t *out)
{
    if (active) {
        if (out)
            *out = fixed.tv_sec;
        return fixed.tv_sec;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
