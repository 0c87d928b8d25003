/* The allocation map: the zero scan finds exactly the non-zero 64 KiB
 * chunks; passthrough keeps the layer below's extents; reads pass through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/fake_layer.h"
#include "vhdwriter/allocmap.h"

#define MiB (1024ull * 1024)

static int odd_zero(uint64_t b) { return b % 2 == 1; }

struct rec { uint64_t next, data, zero; int calls; };

static int rec_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct rec *r = ctx;
    assert_true(off == r->next);
    r->next = off + len;
    if (kind != P2V_EXTENT_ZERO)
        r->data += len;
    else
        r->zero += len;
    r->calls++;
    return 0;
}

static uint64_t progress_last, progress_total;
static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    assert_true(done >= progress_last && done <= total);
    progress_last = done;
    progress_total = total;
}

static void scan_finds_zero_blocks(void **state)
{
    (void)state;
    /* 9 MiB + 64 KiB: blocks 0, 2, 4 hold data, 1 and 3 are zero. */
    struct fake f = fake_make(9 * MiB + 65536, 1, odd_zero);
    struct p2v_layer *m = NULL;
    progress_last = 0;
    assert_int_equal(p2v_allocmap_open(&f.l, P2V_ALLOC_SCAN, progress, NULL, &m), 0);
    assert_true(progress_total == f.l.size && progress_last == f.l.size);
    struct rec r = { 0 };
    assert_int_equal(p2v_layer_extents(m, 0, m->size, rec_cb, &r), 0);
    assert_true(r.next == m->size);
    assert_true(r.zero == 4 * MiB);
    assert_true(r.data == 5 * MiB + 65536);
    assert_int_equal(r.calls, 5);                 /* runs are merged */
    /* A sub-range starting mid-chunk is reported from its own start. */
    r = (struct rec){ .next = 3 * MiB + 100 };
    assert_int_equal(p2v_layer_extents(m, 3 * MiB + 100, MiB, rec_cb, &r), 0);
    assert_true(r.zero == MiB - 100 && r.data == 100);
    /* Reads pass through unchanged. */
    uint8_t a[4096], b[4096];
    assert_int_equal(p2v_layer_read(m, a, sizeof a, 4 * MiB - 2048), 0);
    assert_int_equal(fake_read(&f.l, b, sizeof b, 4 * MiB - 2048), 0);
    assert_memory_equal(a, b, sizeof a);
    m->ops->close(m);
}

/* A single non-zero byte anywhere in a chunk marks that chunk, and only it. */
static uint8_t disk[4 * MiB];
static int mem_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    (void)l;
    memcpy(buf, disk + off, len);
    return 0;
}
static const struct p2v_layer_ops mem_ops = { .name = "mem", .read = mem_read };

static int first_data(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    (void)len;
    if (kind == P2V_EXTENT_ZERO)
        return 0;
    *(uint64_t *)ctx = off;
    return 1;
}

static void single_byte_marks_its_chunk(void **state)
{
    (void)state;
    struct p2v_layer mem = { .ops = &mem_ops, .size = sizeof disk };
    uint64_t where[] = { 0, 65535, 65536, 3 * MiB + 12345, sizeof disk - 1 };
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        memset(disk, 0, sizeof disk);
        disk[where[i]] = 0x80;
        struct p2v_layer *m = NULL;
        assert_int_equal(p2v_allocmap_open(&mem, P2V_ALLOC_SCAN, NULL, NULL, &m), 0);
        struct rec r = { 0 };
        assert_int_equal(p2v_layer_extents(m, 0, m->size, rec_cb, &r), 0);
        assert_true(r.data == P2V_ALLOC_CHUNK);
        uint64_t at = UINT64_MAX;
        assert_int_equal(p2v_layer_extents(m, 0, m->size, first_data, &at), 1);
        assert_true(at == where[i] / P2V_ALLOC_CHUNK * P2V_ALLOC_CHUNK);
        m->ops->close(m);
    }
}

static void passthrough_keeps_holes(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 1, odd_zero);
    f.report_holes = 1;
    struct p2v_layer *m = NULL;
    assert_int_equal(p2v_allocmap_open(&f.l, P2V_ALLOC_PASSTHROUGH, NULL, NULL, &m), 0);
    struct rec r = { 0 };
    assert_int_equal(p2v_layer_extents(m, 0, m->size, rec_cb, &r), 0);
    assert_true(r.zero == 4 * MiB && r.data == 4 * MiB);
    m->ops->close(m);
}

/* An unreadable chunk (bad sectors) counts as data: the image keeps the
 * block, and reading it gives the error again rather than zeros. */
static void unreadable_chunk_is_data(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 1, odd_zero);
    f.fail_at = 3 * MiB;  /* in block 1, which is all zeros */
    struct p2v_layer *m = NULL;
    assert_int_equal(p2v_allocmap_open(&f.l, P2V_ALLOC_SCAN, NULL, NULL, &m), 0);
    uint64_t data = 0;
    assert_int_equal(p2v_layer_data_bytes(m, 2 * MiB, 2 * MiB, &data), 0);
    assert_int_equal(data, P2V_ALLOC_CHUNK);  /* the failing chunk only */
    uint8_t buf[512];
    assert_int_equal(p2v_layer_read(m, buf, sizeof buf, 3 * MiB), -EIO);
    p2v_layer_close_stack(m);
}

/* Extents a filesystem uses are marked without being read: a read there
 * would fail, and the scan must not notice. */
static int used_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                        p2v_extent_fn fn, void *ctx)
{
    (void)l;
    uint64_t split = 4 * MiB;   /* [0, 4 MiB) may hold data, the rest is used */
    int r = 0;
    if (off < split)
        r = fn(ctx, off, (off + len < split ? off + len : split) - off, P2V_EXTENT_DATA);
    if (r == 0 && off + len > split)
        r = fn(ctx, off > split ? off : split, off + len - (off > split ? off : split),
               P2V_EXTENT_USED);
    return r;
}

static int zero_block(uint64_t b) { (void)b; return 1; }

static void used_extents_are_not_read(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 1, zero_block);   /* all zeros... */
    struct p2v_layer_ops ops = fake_ops;
    ops.extents = used_extents;
    f.l.ops = &ops;
    f.fail_at = 6 * MiB;                                  /* ...and unreadable there */
    struct p2v_layer *m = NULL;
    assert_int_equal(p2v_allocmap_open(&f.l, P2V_ALLOC_SCAN, NULL, NULL, &m), 0);
    struct rec r = { 0 };
    assert_int_equal(p2v_layer_extents(m, 0, m->size, rec_cb, &r), 0);
    assert_true(r.zero == 4 * MiB && r.data == 4 * MiB);  /* zeros scanned, used kept */
    m->ops->close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scan_finds_zero_blocks),
        cmocka_unit_test(single_byte_marks_its_chunk),
        cmocka_unit_test(passthrough_keeps_holes),
        cmocka_unit_test(unreadable_chunk_is_data),
        cmocka_unit_test(used_extents_are_not_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
