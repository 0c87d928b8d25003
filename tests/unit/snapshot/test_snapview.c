/* The snapshot view's layers: the bad-sector policy finds exactly the
 * failing sectors and fails or zeroes them; the guard turns reads into EIO
 * once the watched file changes; CRC-32C has the standard check value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/fake_layer.h"
#include "core/crc32c.h"
#include "snapshot/badsectors.h"
#include "snapshot/guard.h"

#define MiB (1024ull * 1024)

static void crc32c_check_value(void **state)
{
    (void)state;
    assert_int_equal(p2v_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(p2v_crc32c("", 0), 0);
}

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

static void guard_trips_on_change(void **state)
{
    (void)state;
    char path[] = "/tmp/p2v-guard-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4 * MiB), 0);
    struct fake fk = fake_make(4 * MiB, 1, NULL), *f = &fk;
    struct p2v_guard_watch w = { .path = path };
    struct p2v_layer *g;
    assert_int_equal(p2v_guard_open(&f->l, "test", &w, 1, &g), 0);
    uint8_t buf[4096];
    char why[512];
    assert_int_equal(p2v_layer_read(g, buf, sizeof buf, 0), 0);
    assert_int_equal(p2v_guard_state(g, why, sizeof why), 0);
    assert_int_equal(ftruncate(fd, 8 * MiB), 0);  /* the source changes */
    assert_int_equal(p2v_layer_read(g, buf, sizeof buf, 0), -EIO);
    assert_int_equal(p2v_guard_state(g, why, sizeof why), 1);
    assert_non_null(strstr(why, "size"));
    /* Sticky: even restored, the view never goes back to serving. */
    assert_int_equal(ftruncate(fd, 4 * MiB), 0);
    assert_int_equal(p2v_layer_read(g, buf, sizeof buf, 4096), -EIO);
    p2v_layer_close_stack(g);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_check_value),
        cmocka_unit_test(bad_fail),
        cmocka_unit_test(bad_zero),
        cmocka_unit_test(guard_trips_on_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
