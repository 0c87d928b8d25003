/* The pinned wall clock: a record of the pin only.  Unit tests link the
 * library without the p2v binary's interposer, so libc's clock stays the
 * system's whatever is pinned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/clock.h"

#include <errno.h>
#include <stdlib.h>
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

/* SOURCE_DATE_EPOCH, when set, is the time of a record; anything but
 * decimal seconds is refused; unset or empty, the clock. */
static void record_time(void **state)
{
    (void)state;
    time_t t = 0;
    char s[32];
    assert_int_equal(setenv("SOURCE_DATE_EPOCH", "1700000000", 1), 0);
    assert_int_equal(p2v_clock_record_time(&t), 0);
    assert_int_equal(t, 1700000000);
    p2v_clock_rfc3339(t, s);
    assert_string_equal(s, "2023-11-14T22:13:20Z");
    p2v_clock_rfc3339(0, s);
    assert_string_equal(s, "1970-01-01T00:00:00Z");
    assert_int_equal(setenv("SOURCE_DATE_EPOCH", "253402300799", 1), 0);
    assert_int_equal(p2v_clock_record_time(&t), 0);
    p2v_clock_rfc3339(t, s);
    assert_string_equal(s, "9999-12-31T23:59:59Z");
    static const char *const bad[] = { "-1", "+5", " 5", "5 ", "12abc", "0x10", "1.5",
                                       "253402300800", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(setenv("SOURCE_DATE_EPOCH", bad[i], 1), 0);
        assert_int_equal(p2v_clock_record_time(&t), -EINVAL);
    }
    assert_int_equal(setenv("SOURCE_DATE_EPOCH", "", 1), 0);
    assert_int_equal(p2v_clock_record_time(&t), 0);
    assert_true(t > 1700000000);
    assert_int_equal(unsetenv("SOURCE_DATE_EPOCH"), 0);
    time_t before = time(NULL);
    assert_int_equal(p2v_clock_record_time(&t), 0);
    assert_true(t >= before && t <= time(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pin_and_unpin),
        cmocka_unit_test(libc_clock_untouched),
        cmocka_unit_test(record_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
