/* The layer interface's own checks (core/layer.c): extents reach the
 * caller tiling the asked range, clipped and merged, whatever pieces a
 * layer reports; a layer that leaves a gap, overlaps or stops short is
 * caught; a caller's early stop and a stop from an outer walk both end a
 * nested walk; moved extents land at their new offset; the checked cast;
 * the P2V_TRACE log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/layer.h"
#include "core/log.h"

/* A layer that reports a scripted list of extents, whatever is asked. */
struct scripted {
    struct p2v_layer l;
    const uint64_t (*ext)[3];  /* off, len, kind */
    int n;
    int calls_after_stop;      /* extents it reported after being told to stop */
};

static int scripted_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    (void)l, (void)off;
    memset(buf, 0xAB, len);
    return 0;
}

static int scripted_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                            void *ctx)
{
    (void)off, (void)len;
    struct scripted *s = (struct scripted *)l;
    int stopped = 0, r = 0;
    for (int i = 0; i < s->n; i++) {
        int x = fn(ctx, s->ext[i][0], s->ext[i][1], (enum p2v_extent_kind)s->ext[i][2]);
        if (stopped)
            s->calls_after_stop++;
        if (x && !r) {
            r = x;
            stopped = 1;
            break;
        }
    }
    return r;
}

static const struct p2v_layer_ops scripted_ops = {
    .name = "scripted", .read = scripted_read, .extents = scripted_extents,
};

static struct scripted script(uint64_t size, const uint64_t (*ext)[3], int n)
{
    struct scripted s = { .l = { .ops = &scripted_ops, .size = size }, .ext = ext, .n = n };
    return s;
}

struct seen {
    uint64_t e[16][3];
    int n;
    int stop_after;  /* return 1 after this many; 0: never */
};

static int record(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        s->e[s->n][0] = off;
        s->e[s->n][1] = len;
        s->e[s->n][2] = kind;
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

#define Z P2V_EXTENT_ZERO
#define D P2V_EXTENT_DATA
#define U P2V_EXTENT_USED

static void merges_and_clips(void **state)
{
    (void)state;
    /* Pieces of one kind in a row become one extent; the first starts
     * before the range and the last ends after it. */
    static const uint64_t ext[][3] = {
        { 0, 100, D }, { 100, 50, D }, { 150, 10, Z }, { 160, 0, D }, { 160, 40, Z },
        { 200, 8, U }, { 208, 92, U }, { 300, 700, D },
    };
    struct scripted s = script(1000, ext, 8);
    struct seen got = { 0 };
    assert_int_equal(p2v_layer_extents(&s.l, 50, 400, record, &got), 0);
    assert_int_equal(got.n, 4);
    uint64_t want[][3] = { { 50, 100, D }, { 150, 50, Z }, { 200, 100, U }, { 300, 150, D } };
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            assert_int_equal(got.e[i][k], want[i][k]);
    /* Told to stop once the range was covered: nothing came after. */
    assert_int_equal(s.calls_after_stop, 0);
}

static void refuses_broken_layers(void **state)
{
    (void)state;
    static const uint64_t gap[][3] = { { 0, 100, D }, { 120, 880, D } };
    static const uint64_t overlap[][3] = { { 0, 100, D }, { 90, 910, Z } };
    static const uint64_t late[][3] = { { 10, 990, D } };
    static const uint64_t shortfall[][3] = { { 0, 500, D } };
    static const uint64_t badkind[][3] = { { 0, 1000, 7 } };
    const struct { const uint64_t (*e)[3]; int n; } cases[] = {
        { gap, 2 }, { overlap, 2 }, { late, 1 }, { shortfall, 1 }, { badkind, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct scripted s = script(1000, cases[i].e, cases[i].n);
        struct seen got = { 0 };
        assert_int_equal(p2v_layer_extents(&s.l, 0, 1000, record, &got), -EIO);
    }
}

static void bounds_and_defaults(void **state)
{
    (void)state;
    struct p2v_layer_ops plain = { .name = "plain", .read = scripted_read };
    struct p2v_layer l = { .ops = &plain, .size = 4096 };
    struct seen got = { 0 };
    assert_int_equal(p2v_layer_extents(&l, 4000, 97, record, &got), -EINVAL);
    assert_int_equal(p2v_layer_extents(&l, 4096, 0, record, &got), 0);
    assert_int_equal(got.n, 0);
    /* No extents function: all data. */
    assert_int_equal(p2v_layer_extents(&l, 10, 20, record, &got), 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.e[0][0], 10);
    assert_int_equal(got.e[0][2], D);
    uint64_t bytes;
    assert_int_equal(p2v_layer_data_bytes(&l, 0, 4096, &bytes), 0);
    assert_int_equal(bytes, 4096);
    uint8_t b[8];
    assert_int_equal(p2v_layer_write(&l, b, 8, 0), -EROFS);
    assert_int_equal(p2v_layer_read(&l, b, 8, 4090), -EINVAL);
}

static void caller_stops_early(void **state)
{
    (void)state;
    static const uint64_t ext[][3] = { { 0, 10, D }, { 10, 10, Z }, { 20, 10, D }, { 30, 970, Z } };
    struct scripted s = script(1000, ext, 4);
    struct seen got = { .stop_after = 2 };
    assert_int_equal(p2v_layer_extents(&s.l, 0, 1000, record, &got), 1);
    assert_int_equal(got.n, 2);
    assert_int_equal(got.e[1][2], Z);
}

/* A layer over another that shows it moved up by 1000 bytes, reporting
 * the whole of the layer below each time: the outer walk must end the
 * inner one as soon as its own range is covered. */
struct mover {
    struct p2v_layer l;
    int inner_calls;
};

static int count_through(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    void **c = ctx;
    ((struct mover *)c[2])->inner_calls++;
    return ((p2v_extent_fn)c[0])(c[1], off, len, kind);
}

static int mover_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                         void *ctx)
{
    (void)off, (void)len;
    void *c[3] = { (void *)fn, ctx, l };
    return p2v_layer_extents_moved(l->below, 0, l->below->size, 1000, count_through, c);
}

static void nested_walks_stop(void **state)
{
    (void)state;
    static const uint64_t ext[][3] = {
        { 0, 100, D }, { 100, 100, Z }, { 200, 100, D }, { 300, 100, Z }, { 400, 600, D },
    };
    struct scripted s = script(1000, ext, 5);
    static const struct p2v_layer_ops mover_ops = {
        .name = "mover", .read = scripted_read, .extents = mover_extents,
    };
    struct mover m = { .l = { .ops = &mover_ops, .below = &s.l, .size = 2000 } };
    struct seen got = { 0 };
    /* [1050, 1250): data 50, zero 100, data 50. */
    assert_int_equal(p2v_layer_extents(&m.l, 1050, 200, record, &got), 0);
    assert_int_equal(got.n, 3);
    assert_int_equal(got.e[0][0], 1050);
    assert_int_equal(got.e[0][1], 50);
    assert_int_equal(got.e[2][0], 1200);
    assert_int_equal(got.e[2][1], 50);
    assert_int_equal(got.e[2][2], D);
    /* The inner walk ended at the third extent, not the fifth. */
    assert_int_equal(s.calls_after_stop, 0);
    assert_true(m.inner_calls <= 3);
}

static void checked_cast(void **state)
{
    (void)state;
    static const uint64_t ext[][3] = { { 0, 10, D } };
    struct scripted s = script(10, ext, 1);
    static const struct p2v_layer_ops other = { .name = "other" };
    assert_ptr_equal(p2v_layer_cast(&s.l, &scripted_ops), &s.l);
    assert_null(p2v_layer_cast(&s.l, &other));
    assert_null(p2v_layer_cast(NULL, &other));
}

static char trace_path[] = "/tmp/p2v-trace-XXXXXX";

static void trace_logs_each_call(void **state)
{
    (void)state;
    static const uint64_t ext[][3] = { { 0, 4096, D } };
    struct scripted s = script(4096, ext, 1);
    uint8_t b[16];
    struct seen got = { 0 };
    assert_int_equal(p2v_layer_read(&s.l, b, 16, 32), 0);
    assert_int_equal(p2v_layer_extents(&s.l, 0, 4096, record, &got), 0);
    FILE *f = fopen(trace_path, "r");
    assert_non_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    assert_non_null(strstr(text, "p2v: trace: scripted read off 32 len 16 -> 0"));
    assert_non_null(strstr(text, "p2v: trace: scripted extents off 0 len 4096 -> 0"));
}

int main(void)
{
    /* The trace is decided once per process: on for this whole run, into
     * a file of its own. */
    int fd = mkstemp(trace_path);
    if (fd < 0 || setenv("P2V_TRACE", "1", 1) != 0 || p2v_log_open_file(trace_path) != 0)
        return 1;
    close(fd);
    p2v_log_target(P2V_LOG_FILE);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merges_and_clips),
        cmocka_unit_test(refuses_broken_layers),
        cmocka_unit_test(bounds_and_defaults),
        cmocka_unit_test(caller_stops_early),
        cmocka_unit_test(nested_walks_stop),
        cmocka_unit_test(checked_cast),
        cmocka_unit_test(trace_logs_each_call),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(trace_path);
    return r;
}
