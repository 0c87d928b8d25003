/* The bad-sector layer (snapshot/badsectors.c) finds exactly the failing
 * sectors and fails or zeroes them, by policy, and lists them; its
 * accessors refuse a layer of another kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "tests/unit/fake_layer.h"
#include "snapshot/badsectors.h"

#define MiB (1024ull * 1024)

static void bad_policy(void **state, enum p2v_bad_policy pol)
{
    (void)state;
    struct fake fk = fake_make(8 * MiB, 7, NULL), *f = &fk;
    f->fail_at = 3 * MiB + 1000;  /* LBA 6145 */
    struct p2v_layer *b;
    assert_int_equal(p2v_badsectors_open(&f->l, pol, "fake", &b), 0);
    static uint8_t buf[1 << 20];
    /* Away from the bad sector: the data. */
    assert_int_equal(p2v_layer_read(b, buf, 4096, 0), 0);
    assert_int_equal(buf[5], fake_byte(f, 5));
    int r = p2v_layer_read(b, buf, sizeof buf, 3 * MiB);
    if (pol == P2V_BAD_FAIL) {
        assert_int_equal(r, -EIO);
    } else {
        assert_int_equal(r, 0);
        for (size_t i = 0; i < sizeof buf; i++) {
            int bad = i >= 512 && i < 1024;  /* LBA 6145 within the read */
            assert_int_equal(buf[i], bad ? 0 : fake_byte(f, 3 * MiB + i));
        }
    }
    /* A second read of the known sector is answered without the source. */
    r = p2v_layer_read(b, buf, 512, 3 * MiB + 512);
    assert_int_equal(r, pol == P2V_BAD_FAIL ? -EIO : 0);
    struct p2v_ranges rs;
    assert_int_equal(p2v_badsectors_get(b, &rs), 0);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.r[0].start, 3 * MiB + 512);
    assert_int_equal(rs.r[0].end, 3 * MiB + 1024);
    p2v_ranges_free(&rs);
    p2v_layer_close_stack(b);
}

static void bad_fail(void **state) { bad_policy(state, P2V_BAD_FAIL); }
static void bad_zero(void **state) { bad_policy(state, P2V_BAD_ZERO); }

static void accessors_check_the_layer(void **state)
{
    (void)state;
    struct fake fk = fake_make(MiB, 1, NULL);
    struct p2v_ranges rs;
    /* The fake is not a bad-sector layer: refused, not misread. */
    assert_int_equal(p2v_badsectors_get(&fk.l, &rs), -EINVAL);
    assert_int_equal(rs.n, 0);
    assert_int_equal(p2v_badsectors_policy(&fk.l), P2V_BAD_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_fail),
        cmocka_unit_test(bad_zero),
        cmocka_unit_test(accessors_check_the_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
