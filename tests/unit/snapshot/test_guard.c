/* The consistency guard (snapshot/guard.c) turns reads into EIO once the
 * watched file changes, for good; its accessors refuse another layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/fake_layer.h"
#include "snapshot/guard.h"

#define MiB (1024ull * 1024)

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

static void accessors_check_the_layer(void **state)
{
    (void)state;
    struct fake fk = fake_make(MiB, 1, NULL);
    char why[64];
    assert_int_equal(p2v_guard_state(&fk.l, why, sizeof why), -EINVAL);
    assert_int_equal(p2v_guard_check(&fk.l), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(guard_trips_on_change),
        cmocka_unit_test(accessors_check_the_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
