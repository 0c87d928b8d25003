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

/* The bare register chains: split anywhere, the same value; with the
 * inversions, the standard CRC. */
static void crc32c_update_chains(void **state)
{
    (void)state;
    uint32_t whole = p2v_crc32c_update(0xFFFFFFFFu, "123456789", 9);
    assert_int_equal(whole ^ 0xFFFFFFFFu, 0xE3069283u);
    for (size_t k = 0; k <= 9; k++)
        assert_int_equal(p2v_crc32c_update(p2v_crc32c_update(0xFFFFFFFFu, "123456789", k),
                                           "123456789" + k, 9 - k),
                         whole);
    assert_int_equal(p2v_crc32c_update(0x1234u, "", 0), 0x1234u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_check_value),
        cmocka_unit_test(crc32c_update_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
