/* The copy-on-write overlay: writes land in the state directory, never
 * below; reads merge; a reopened state gives the same view; uncommitted
 * writes vanish as after a crash; damaged or foreign state is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/scratch_dir.h"
#include "tests/unit/fake_layer.h"
#include "fixup/overlay.h"
#include "fixup/overlay_io.h"

#define MiB (1024ull * 1024)
static const uint8_t base[16] = "base-id-of-test";

static char dir[64];

static int setup(void **state)
{
    (void)state;
    scratch_dir_make(dir, sizeof dir, "ovl");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    scratch_dir_remove(dir);
    return 0;
}

/* What the view must hold: the fake's bytes with the writes applied. */
static void expect(struct p2v_layer *l, const struct fake *f, const uint8_t *model)
{
    uint8_t *all = malloc(l->size);
    assert_non_null(all);
    assert_int_equal(p2v_layer_read(l, all, l->size, 0), 0);
    for (uint64_t o = 0; o < l->size; o++) {
        uint8_t want = model ? model[o] : fake_byte(f, o);
        if (all[o] != want)
            fail_msg("byte %llu: %02x, want %02x", (unsigned long long)o, all[o], want);
    }
    free(all);
}

static uint8_t *model_of(const struct fake *f)
{
    uint8_t *m = malloc(f->l.size);
    assert_non_null(m);
    for (uint64_t o = 0; o < f->l.size; o++)
        m[o] = fake_byte(f, o);
    return m;
}

struct span { uint64_t off; size_t len; };

static void writes_merge_and_persist(void **state)
{
    (void)state;
    struct fake f = fake_make(3 * MiB + 512, 9, NULL);  /* last block is partial */
    struct p2v_layer *l;
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE, &l), 0);
    uint8_t *m = model_of(&f);
    /* Unaligned, across block edges, inside one block, at the very end. */
    const struct span w[] = { { 100, 10 }, { 4090, 20 }, { 8192, 4096 }, { 65536 - 3, 70000 },
                              { f.l.size - 300, 300 }, { 100, 5 } };
    uint8_t buf[80000];
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
        memset(buf, (int)(0x10 + i), w[i].len);
        assert_int_equal(p2v_layer_write(l, buf, w[i].len, w[i].off), 0);
        memset(m + w[i].off, (int)(0x10 + i), w[i].len);
    }
    expect(l, &f, m);
    /* Extents: every changed byte lies in a data extent. */
    assert_int_equal(p2v_overlay_commit(l), 0);
    uint8_t d1[16];
    p2v_overlay_digest(l, d1);
    p2v_layer_close_stack(l);
    /* Reopened read-only: the same view. */
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, 0, &l), 0);
    expect(l, &f, m);
    uint8_t d2[16];
    p2v_overlay_digest(l, d2);
    assert_memory_equal(d1, d2, 16);
    assert_int_equal(p2v_layer_write(l, buf, 1, 0), -EROFS);
    p2v_layer_close_stack(l);
    free(m);
}

static void uncommitted_writes_are_lost_like_a_crash(void **state)
{
    (void)state;
    struct fake f = fake_make(1 * MiB, 4, NULL);
    struct p2v_layer *l;
    uint8_t *m = model_of(&f);
    uint8_t x[4096];
    memset(x, 0xAA, sizeof x);
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE, &l), 0);
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 0), 0);
    assert_int_equal(p2v_overlay_commit(l), 0);
    memset(m, 0xAA, sizeof x);
    /* Rewrites of a committed block: the old copy stays until the index moves. */
    memset(x, 0xBB, sizeof x);
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 0), 0);
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 8192), 0);
    /* A second view of the same directory while this one writes: refused. */
    struct p2v_layer *other;
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, 0, &other), -EBUSY);
    /* A crash now: a copy of the directory is what a new process would find. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp -r %s %s.crash", dir, dir);
    assert_int_equal(system(cmd), 0);
    char crashed[80];
    snprintf(crashed, sizeof crashed, "%s.crash", dir);
    struct p2v_layer *c;
    assert_int_equal(p2v_overlay_open(&f.l, crashed, base, 0, &c), 0);
    expect(c, &f, m);
    p2v_layer_close_stack(c);
    snprintf(cmd, sizeof cmd, "rm -rf %s.crash", dir);
    assert_int_equal(system(cmd), 0);
    /* Closing commits the last writes (a writable mount's unmount). */
    p2v_layer_close_stack(l);
    memset(m, 0xBB, 4096);
    memset(m + 8192, 0xBB, 4096);
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, 0, &l), 0);
    expect(l, &f, m);
    p2v_layer_close_stack(l);
    free(m);
}

struct acc { uint64_t data, next; };

static int acc_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct acc *a = ctx;
    assert_true(off == a->next);
    a->next += len;
    if (kind)
        a->data += len;
    return 0;
}

static int acc_cb_sparse(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct acc *a = ctx;
    assert_true(off >= a->next && off % 4096 == 0 && kind == P2V_EXTENT_DATA);
    a->next = off + len;
    a->data += len;
    return 0;
}

static int all_zero(uint64_t b) { (void)b; return 1; }

static void changed_blocks_are_data_and_rewrites_of_same_bytes_are_free(void **state)
{
    (void)state;
    struct fake f = fake_make(4 * MiB, 1, all_zero);
    f.report_holes = 1;
    struct p2v_layer *l;
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE, &l), 0);
    uint8_t x[10];
    memset(x, 7, sizeof x);
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 5000), 0);
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 3 * MiB), 0);
    struct acc a = { 0 };
    assert_int_equal(p2v_layer_extents(l, 0, l->size, acc_cb, &a), 0);
    assert_true(a.next == l->size);
    assert_true(a.data == 2 * 4096);
    a = (struct acc){ 0 };
    a.next = 4096;  /* changes come as extents: [4096, 8192) and [3 MiB, +4096) */
    assert_int_equal(p2v_overlay_changes(l, acc_cb_sparse, &a), 0);
    assert_true(a.data == 2 * 4096);
    assert_int_equal(p2v_overlay_commit(l), 0);
    uint8_t d1[16], d2[16];
    p2v_overlay_digest(l, d1);
    /* The same bytes again: nothing stored, nothing to commit, same digest. */
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 5000), 0);
    uint8_t zero[4096] = { 0 };
    assert_int_equal(p2v_layer_write(l, zero, sizeof zero, MiB), 0);  /* zeros over zeros */
    assert_int_equal(p2v_overlay_commit(l), 0);
    p2v_overlay_digest(l, d2);
    assert_memory_equal(d1, d2, 16);
    a = (struct acc){ 0 };
    assert_int_equal(p2v_layer_extents(l, 0, l->size, acc_cb, &a), 0);
    assert_true(a.data == 2 * 4096);
    p2v_layer_close_stack(l);
}

static void foreign_or_damaged_state_is_refused(void **state)
{
    (void)state;
    struct fake f = fake_make(1 * MiB, 2, NULL);
    struct p2v_layer *l;
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE, &l), 0);
    uint8_t x[4096];
    memset(x, 1, sizeof x);
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 4096), 0);
    p2v_layer_close_stack(l);
    const uint8_t other[16] = "another-source!";
    assert_int_equal(p2v_overlay_open(&f.l, dir, other, 0, &l), -EINVAL);
    struct fake bigger = fake_make(2 * MiB, 2, NULL);
    assert_int_equal(p2v_overlay_open(&bigger.l, dir, base, 0, &l), -EINVAL);
    /* A flipped byte in the stored block: reads of it fail, others work. */
    char path[128];
    snprintf(path, sizeof path, "%s/overlay.data", dir);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 10, SEEK_SET), 0);
    assert_int_equal(fputc(0x55, fp), 0x55);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, 0, &l), 0);
    assert_int_equal(p2v_layer_read(l, x, 100, 4096), -EIO);
    assert_int_equal(p2v_layer_read(l, x, 100, 0), 0);
    p2v_layer_close_stack(l);
    /* A damaged index is refused outright. */
    snprintf(path, sizeof path, "%s/overlay.index", dir);
    fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 75, SEEK_SET), 0);
    assert_int_equal(fputc(0x99, fp), 0x99);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, 0, &l), -EINVAL);
    /* Discard starts over. */
    assert_int_equal(p2v_overlay_discard(dir), 0);
    assert_false(p2v_overlay_exists(dir));
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, 0, &l), 0);
    expect(l, &f, NULL);
    p2v_layer_close_stack(l);
}

/* libc's table with a data sync that fails once asked to. */
static struct p2v_overlay_io failing;
static int fail_syncs;
static int failing_fdatasync(int fd)
{
    if (fail_syncs) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

/* After a failed sync, Linux may have marked the unwritten pages clean: a
 * later sync that succeeds proves nothing, so the open refuses to commit
 * again, and the index on disk stays the one before. */
static void a_failed_sync_refuses_later_commits(void **state)
{
    (void)state;
    struct fake f = fake_make(1 * MiB, 5, NULL);
    failing = *p2v_overlay_io();
    failing.fdatasync = failing_fdatasync;
    p2v_overlay_set_io(&failing);
    struct p2v_layer *l;
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE, &l), 0);
    uint8_t x[4096];
    memset(x, 0x5a, sizeof x);
    assert_int_equal(p2v_layer_write(l, x, sizeof x, 0), 0);
    fail_syncs = 1;
    assert_int_equal(p2v_overlay_commit(l), -EIO);
    fail_syncs = 0;
    assert_int_equal(p2v_overlay_commit(l), -EIO);  /* latched, though the sync works now */
    p2v_overlay_abandon(l);
    p2v_layer_close_stack(l);
    p2v_overlay_set_io(NULL);
    /* Nothing was ever saved: the state shows the layer below. */
    assert_int_equal(p2v_overlay_open(&f.l, dir, base, 0, &l), 0);
    expect(l, &f, NULL);
    p2v_layer_close_stack(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(writes_merge_and_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(uncommitted_writes_are_lost_like_a_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(changed_blocks_are_data_and_rewrites_of_same_bytes_are_free,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(foreign_or_damaged_state_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_sync_refuses_later_commits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
