/* Name-based identifiers: version 5, RFC 4122 variant, stable per name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../core/uuid5.h"

#include <string.h>

static void version_variant_and_stability(void **state)
{
    (void)state;
    uint8_t a[16], b[16], c[16];
    p2v_uuid5(a, "disk|100", 8);
    p2v_uuid5(b, "disk|100", 8);
    p2v_uuid5(c, "disk|101", 8);
    assert_memory_equal(a, b, 16);
    assert_memory_not_equal(a, c, 16);
    assert_int_equal(a[6] >> 4, 5);          /* version 5 */
    assert_int_equal(a[8] & 0xC0, 0x80);     /* RFC 4122 variant */
    static const uint8_t zero[16];
    assert_memory_not_equal(a, zero, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_variant_and_stability),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
