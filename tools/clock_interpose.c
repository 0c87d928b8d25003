/* libc's wall-clock functions, answering the pinned time of core/clock.h.
 *
 * Linked into the p2v binary only (the Makefile keeps this file out of
 * libp2v.a): definitions in the executable take precedence over libc's for
 * every library in the process, libntfs-3g included, so a unit test that
 * linked them would have its clock taken over too.  While nothing is
 * pinned each call goes on to the next definition (libc's, or a
 * preloaded one such as faketime's), so p2v's clock is the system's. */
#define _GNU_SOURCE
#include "core/clock.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/time.h>
#include <time.h>

typedef int clock_gettime_fn(clockid_t, struct timespec *);
typedef int gettimeofday_fn(struct timeval *, void *);
typedef time_t time_fn(time_t *);

/* The definitions these stand in front of.  Found before main, while the
 * process has one thread (no dlsym later in a forked child or a signal
 * handler), and on first use before that: a library's constructor may ask
 * the time before ours runs. */
static _Atomic(clock_gettime_fn *) next_clock_gettime;
static _Atomic(gettimeofday_fn *) next_gettimeofday;
static _Atomic(time_fn *) next_time;

static void *next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

__attribute__((constructor)) static void find_next(void)
{
    if (!atomic_load(&next_clock_gettime))
        atomic_store(&next_clock_gettime, (clock_gettime_fn *)next("clock_gettime"));
    if (!atomic_load(&next_gettimeofday))
        atomic_store(&next_gettimeofday, (gettimeofday_fn *)next("gettimeofday"));
    if (!atomic_load(&next_time))
        atomic_store(&next_time, (time_fn *)next("time"));
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    struct timespec t;
    if ((id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE) && p2v_clock_pinned(&t)) {
        *ts = t;
        return 0;
    }
    clock_gettime_fn *f = atomic_load(&next_clock_gettime);
    if (!f) {
        f = (clock_gettime_fn *)next("clock_gettime");
        atomic_store(&next_clock_gettime, f);
    }
    return f(id, ts);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct timespec t;
    if (p2v_clock_pinned(&t)) {
        tv->tv_sec = t.tv_sec;
        tv->tv_usec = t.tv_nsec / 1000;
        return 0;
    }
    gettimeofday_fn *f = atomic_load(&next_gettimeofday);
    if (!f) {
        f = (gettimeofday_fn *)next("gettimeofday");
        atomic_store(&next_gettimeofday, f);
    }
    return f(tv, tz);
}

time_t time(time_t *out)
{
    struct timespec t;
    if (p2v_clock_pinned(&t)) {
        if (out)
            *out = t.tv_sec;
        return t.tv_sec;
    }
    time_fn *f = atomic_load(&next_time);
    if (!f) {
        f = (time_fn *)next("time");
        atomic_store(&next_time, f);
    }
    return f(out);
}
