/* The region walker (core/regions.c): each region's part of the asked
 * range, in order, with how many bytes came before; a stop from the
 * visitor or the finder ends the walk; a finder that misses the offset is
 * caught instead of looping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>

#include "core/regions.h"

/* Regions of 100 bytes, kind = index % 3, arg = index. */
static int find_hundreds(void *map, uint64_t off, struct p2v_region *r)
{
    (void)map;
    uint64_t i = off / 100;
    *r = (struct p2v_region){ (int)(i % 3), i * 100, 100, i };
    return 0;
}

struct seen { uint64_t part[8][5]; int n; int stop_at; };

static int note(void *ctx, const struct p2v_region *r, uint64_t off, uint64_t len, uint64_t done)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        uint64_t *p = s->part[s->n];
        p[0] = (uint64_t)r->kind, p[1] = r->arg, p[2] = off, p[3] = len, p[4] = done;
    }
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static void parts_in_order(void **state)
{
    (void)state;
    struct seen s = { 0 };
    assert_int_equal(p2v_regions_walk(NULL, find_hundreds, 150, 220, note, &s), 0);
    assert_int_equal(s.n, 3);
    uint64_t want[3][5] = { { 1, 1, 150, 50, 0 }, { 2, 2, 200, 100, 50 }, { 0, 3, 300, 70, 150 } };
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 5; k++)
            assert_int_equal(s.part[i][k], want[i][k]);
    /* Inside one region, and an empty range. */
    s = (struct seen){ 0 };
    assert_int_equal(p2v_regions_walk(NULL, find_hundreds, 420, 10, note, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.part[0][3], 10);
    s = (struct seen){ 0 };
    assert_int_equal(p2v_regions_walk(NULL, find_hundreds, 420, 0, note, &s), 0);
    assert_int_equal(s.n, 0);
}

static void visitor_stops(void **state)
{
    (void)state;
    struct seen s = { .stop_at = 2 };
    assert_int_equal(p2v_regions_walk(NULL, find_hundreds, 0, 1000, note, &s), 7);
    assert_int_equal(s.n, 2);
}

static int find_fails(void *map, uint64_t off, struct p2v_region *r)
{
    (void)map, (void)r;
    return off >= 200 ? -EIO : find_hundreds(NULL, off, r);
}

static int find_wrong(void *map, uint64_t off, struct p2v_region *r)
{
    (void)map;
    *r = (struct p2v_region){ 0, off + 1, 100, 0 };  /* does not hold off */
    return 0;
}

static void finder_errors(void **state)
{
    (void)state;
    struct seen s = { 0 };
    assert_int_equal(p2v_regions_walk(NULL, find_fails, 0, 300, note, &s), -EIO);
    assert_int_equal(s.n, 2);
    s = (struct seen){ 0 };
    assert_int_equal(p2v_regions_walk(NULL, find_wrong, 0, 300, note, &s), -EIO);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parts_in_order),
        cmocka_unit_test(visitor_stops),
        cmocka_unit_test(finder_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
