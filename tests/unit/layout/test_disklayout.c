/* Range sets and the disk layout layer: zero ranges read as zeros at any
 * offset and length, everything else passes through, extents are cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/fake_layer.h"
#include "core/ranges.h"
#include "layout/disklayout.h"

#define MiB (1024ull * 1024)

static void ranges_sort_and_merge(void **state)
{
    (void)state;
    struct p2v_ranges s = { 0 };
    assert_int_equal(p2v_ranges_add(&s, 100, 10), 0);
    assert_int_equal(p2v_ranges_add(&s, 110, 5), 0);   /* extends the last */
    assert_int_equal(p2v_ranges_add(&s, 50, 20), 0);   /* out of order */
    assert_int_equal(p2v_ranges_add(&s, 60, 45), 0);   /* overlaps both */
    assert_int_equal(p2v_ranges_add(&s, 200, 0), 0);   /* empty: ignored */
    assert_int_equal(p2v_ranges_add(&s, 300, 1), 0);
    p2v_ranges_finish(&s);
    assert_int_equal(s.n, 2);
    assert_true(s.r[0].start == 50 && s.r[0].end == 115);
    assert_true(s.r[1].start == 300 && s.r[1].end == 301);
    assert_int_equal(p2v_ranges_total(&s), 66);
    assert_int_equal(p2v_ranges_find(&s, 0), 0);
    assert_int_equal(p2v_ranges_find(&s, 114), 0);
    assert_int_equal(p2v_ranges_find(&s, 115), 1);
    assert_int_equal(p2v_ranges_find(&s, 301), 2);
    p2v_ranges_free(&s);
}

static struct p2v_ranges zeros(void)
{
    struct p2v_ranges z = { 0 };
    /* Unaligned, adjacent to block edges, one at the very end. */
    p2v_ranges_add(&z, 4096, 4096);
    p2v_ranges_add(&z, 1 * MiB - 7, 100);
    p2v_ranges_add(&z, 2 * MiB, 2 * MiB);
    p2v_ranges_add(&z, 8 * MiB - 512, 512);
    p2v_ranges_finish(&z);
    return z;
}

static int in_zero(const struct p2v_ranges *z, uint64_t o)
{
    for (size_t i = 0; i < z->n; i++)
        if (o >= z->r[i].start && o < z->r[i].end)
            return 1;
    return 0;
}

static void reads_zero_exactly_the_ranges(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 4, NULL);
    struct p2v_ranges copy = zeros();
    struct p2v_layout_spec spec = { .zero = zeros() };
    struct p2v_layer *d = NULL;
    assert_int_equal(p2v_disklayout_open(&f.l, &spec, &d), 0);
    uint8_t *all = read_all(d);
    assert_non_null(all);
    for (uint64_t o = 0; o < d->size; o++)
        assert_int_equal(all[o], in_zero(&copy, o) ? 0 : fake_byte(&f, o));
    /* Reads that start and end inside, before and after each range. */
    uint8_t buf[8192];
    for (size_t i = 0; i < copy.n; i++) {
        for (int64_t d0 = -9; d0 <= 9; d0 += 3) {
            uint64_t off = (uint64_t)((int64_t)copy.r[i].start + d0);
            size_t len = off + sizeof buf <= d->size ? sizeof buf : (size_t)(d->size - off);
            assert_int_equal(p2v_layer_read(d, buf, len, off), 0);
            assert_memory_equal(buf, all + off, len);
        }
    }
    free(all);
    p2v_ranges_free(&copy);
    p2v_layer_close_stack(d);
}

struct rec { uint64_t next, data, zero; };

static int rec_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct rec *r = ctx;
    assert_true(off == r->next);
    r->next += len;
    *(kind != P2V_EXTENT_ZERO ? &r->data : &r->zero) += len;
    return 0;
}

static void extents_cut_out_the_ranges(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 4, NULL);
    struct p2v_layout_spec spec = { .zero = zeros() };
    uint64_t total = p2v_ranges_total(&spec.zero);
    struct p2v_layer *d = NULL;
    assert_int_equal(p2v_disklayout_open(&f.l, &spec, &d), 0);
    struct rec r = { 0 };
    assert_int_equal(p2v_layer_extents(d, 0, d->size, rec_cb, &r), 0);
    assert_true(r.next == d->size && r.zero == total && r.data == d->size - total);
    r = (struct rec){ .next = 2 * MiB + 5 };
    assert_int_equal(p2v_layer_extents(d, 2 * MiB + 5, 3 * MiB, rec_cb, &r), 0);
    assert_true(r.zero == 2 * MiB - 5 && r.data == MiB + 5);
    p2v_layer_close_stack(d);
}

/* A volume placed at 1 MiB behind a synthetic first sector, with a tail,
 * a patched sector and a zero range: every byte where it belongs. */
static void regions_head_volume_tail_patches(void **state)
{
    (void)state;
    struct fake f = fake_make(3 * MiB, 7, NULL);
    uint8_t head[512];
    memset(head, 0xAB, sizeof head);
    struct p2v_patch pt[2];
    pt[0].off = MiB + 2 * MiB - 512;           /* a sector inside the volume */
    memset(pt[0].data, 0xCD, 512);
    pt[1].off = MiB;                           /* its first sector */
    memset(pt[1].data, 0xEF, 512);
    uint8_t tail[1024];
    memset(tail, 0x5A, sizeof tail);
    struct p2v_layout_spec spec = { .size = 5 * MiB, .vol_offset = MiB, .head = head,
                                    .head_len = sizeof head, .tail = tail,
                                    .tail_len = sizeof tail, .patches = pt, .npatches = 2 };
    p2v_ranges_add(&spec.zero, MiB + MiB, 4096);  /* inside the volume */
    p2v_ranges_finish(&spec.zero);
    struct p2v_layer *d = NULL;
    assert_int_equal(p2v_disklayout_open(&f.l, &spec, &d), 0);
    assert_true(d->size == 5 * MiB);
    uint8_t *all = read_all(d);
    for (uint64_t o = 0; o < d->size; o++) {
        uint8_t want;
        if (o < 512)
            want = 0xAB;
        else if (o >= 5 * MiB - sizeof tail)
            want = 0x5A;
        else if (o < MiB || o >= 4 * MiB)
            want = 0;
        else if (o >= MiB && o < MiB + 512)
            want = 0xEF;
        else if (o >= 3 * MiB - 512 && o < 3 * MiB)
            want = 0xCD;
        else if (o >= 2 * MiB && o < 2 * MiB + 4096)
            want = 0;
        else
            want = fake_byte(&f, o - MiB);
        if (all[o] != want)
            fail_msg("byte %llu: %02x, want %02x", (unsigned long long)o, all[o], want);
    }
    /* Unaligned reads across every region edge agree with the whole. */
    uint64_t edges[] = { 512, MiB, MiB + 512, 2 * MiB, 2 * MiB + 4096, 3 * MiB - 512, 4 * MiB,
                         5 * MiB - 1024 - 9000 };  /* a read that ends in the tail */
    uint8_t buf[10000];
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        uint64_t off = edges[i] > 777 ? edges[i] - 777 : 0;
        assert_int_equal(p2v_layer_read(d, buf, sizeof buf, off), 0);
        assert_memory_equal(buf, all + off, sizeof buf);
    }
    struct rec r = { 0 };
    assert_int_equal(p2v_layer_extents(d, 0, d->size, rec_cb, &r), 0);
    assert_true(r.next == d->size);
    /* Data: the head sector, the volume less the zero range, the tail. */
    assert_true(r.data == 512 + 3 * MiB - 4096 + sizeof tail);
    free(all);
    p2v_layer_close_stack(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranges_sort_and_merge),
        cmocka_unit_test(reads_zero_exactly_the_ranges),
        cmocka_unit_test(extents_cut_out_the_ranges),
        cmocka_unit_test(regions_head_volume_tail_patches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
