#include "clock.h"

#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct timespec pinned_at;
/* Read by whatever thread asks the time: set after pinned_at is written
 * (release), so a reader that sees it set (acquire) sees that time. */
static atomic_int pinned;

void p2v_clock_pin(const struct timespec *t)
{
    pinned_at = *t;
    atomic_store_explicit(&pinned, 1, memory_order_release);
}

void p2v_clock_unpin(void)
{
    atomic_store_explicit(&pinned, 0, memory_order_release);
}

int p2v_clock_pinned(struct timespec *t)
{
    if (!atomic_load_explicit(&pinned, memory_order_acquire))
        return 0;
    *t = pinned_at;
    return 1;
}

int p2v_clock_record_time(time_t *t)
{
    const char *e = getenv("SOURCE_DATE_EPOCH");
    if (!e || !*e) {
        *t = time(NULL);
        return 0;
    }
    /* Digits only: strtoll alone would take blanks, signs and "12abc". */
    long long v = 0;
    size_t n = strspn(e, "0123456789");
    if (n == 0 || e[n] || n > 12 || (v = strtoll(e, NULL, 10)) > 253402300799LL) {
        p2v_err("SOURCE_DATE_EPOCH is '%.64s', not a number of seconds since 1970 (up to the "
                "year 9999); set it to one, or unset it to use the clock", e);
        return -EINVAL;
    }
    *t = (time_t)v;
    return 0;
}

void p2v_clock_rfc3339(time_t t, char out[32])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}
