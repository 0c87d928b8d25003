#include "clock.h"

#include <stdatomic.h>

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
