/* CRC-32C (core/crc32c.c) has the standard check value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/crc32c.h"

static void crc32c_check_value(void **state)
{
    (void)state;
    assert_int_equal(p2v_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(p2v_crc32c("", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_check_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
