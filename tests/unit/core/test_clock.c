/* The pinned wall clock: a record of the pin only.  Unit tests link the
 * library without the p2v binary's interposer, so libc's clock stays the
 * system's whatever is pinned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/clock.h"

#include <sys/time.h>

static void pin_and_unpin(void **state)
{
    (void)state;
    struct timespec t = { 0 };
    assert_int_equal(p2v_clock_pinned(&t), 0);
    const struct timespec at = { 1700000000, 123456789 };
    p2v_clock_pin(&at);
    assert_int_equal(p2v_clock_pinned(&t), 1);
    assert_int_equal(t.tv_sec, at.tv_sec);
    assert_int_equal(t.tv_nsec, at.tv_nsec);
    p2v_clock_unpin();
    assert_int_equal(p2v_clock_pinned(&t), 0);
}

/* The interposer is not in this binary: a pin near the epoch leaves
 * time, gettimeofday and clock_gettime on the system's clock. */
static void libc_clock_untouched(void **state)
{
    (void)state;
    const struct timespec at = { 1, 0 };
    p2v_clock_pin(&at);
    struct timespec ts;
    struct timeval tv;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    assert_int_equal(gettimeofday(&tv, NULL), 0);
    time_t now = time(NULL);
    p2v_clock_unpin();
    assert_true(ts.tv_sec > 1);
    assert_true(tv.tv_sec > 1);
    assert_true(now > 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pin_and_unpin),
        cmocka_unit_test(libc_clock_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
