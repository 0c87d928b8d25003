/* The VHD encoder layer: layout, offset mapping at every region boundary,
 * straddling reads, end of file, limits, determinism, error propagation.
 * The dynamic file is checked with a small parser written here from the
 * specification, not with the encoder's own arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/fake_layer.h"
#include "core/bytes.h"
#include "vhdwriter/vhd.h"

#include <stdio.h>

#define MiB (1024ull * 1024)
#define BS (2 * MiB)

static int every_third_zero(uint64_t b) { return b % 3 == 1; }
static int none_zero(uint64_t b) { (void)b; return 0; }
static int all_zero(uint64_t b) { (void)b; return 1; }

static struct p2v_layer *open_vhd(struct fake *f, int dynamic, uint8_t id)
{
    struct p2v_vhd_params p = { .dynamic = dynamic, .timestamp = 777 };
    memset(p.unique_id, id, 16);
    struct p2v_layer *v = NULL;
    assert_int_equal(p2v_vhd_open(&f->l, &p, &v), 0);
    return v;
}

/* Parses the dynamic file and compares every block with the source. */
static void verify_dynamic(const uint8_t *file, uint64_t fsize, struct fake *f)
{
    assert_memory_equal(file, file + fsize - 512, 512);     /* footer copy */
    assert_true(get_be64(file + 48) == f->l.size);
    const uint8_t *h = file + get_be64(file + 16);
    assert_memory_equal(h, "cxsparse", 8);
    uint64_t bat = get_be64(h + 16);
    uint32_t n = get_be32(h + 28);
    assert_int_equal(n, (f->l.size + BS - 1) / BS);
    uint64_t prev_end = bat + n * 4;
    for (uint64_t i = n * 4; i % 512; i++)
        assert_int_equal(file[bat + i], 0xFF);               /* BAT padding */
    uint8_t *want = malloc(BS);
    for (uint32_t b = 0; b < n; b++) {
        uint32_t e = get_be32(file + bat + b * 4);
        uint64_t len = f->l.size - b * BS < BS ? f->l.size - b * BS : BS;
        assert_int_equal(fake_read(&f->l, want, len, b * BS), 0);
        int zero = 1;
        for (uint64_t i = 0; i < len; i++)
            zero &= want[i] == 0;
        if (zero) {
            assert_int_equal(e, 0xFFFFFFFF);
            continue;
        }
        assert_int_not_equal(e, 0xFFFFFFFF);
        uint64_t bitmap = (uint64_t)e * 512, data = bitmap + 512;
        assert_int_equal(data % 4096, 0);                    /* aligned */
        assert_true(bitmap >= prev_end);                     /* no overlap */
        for (int i = 0; i < 512; i++)
            assert_int_equal(file[bitmap + i], 0xFF);
        assert_memory_equal(file + data, want, len);
        for (uint64_t i = len; i < BS; i++)
            assert_int_equal(file[data + i], 0);             /* past the disk */
        prev_end = data + BS;
    }
    assert_true(prev_end <= fsize - 512);
    free(want);
}

static void dynamic_layout_matches_spec(void **state)
{
    (void)state;
    /* Sizes: the 3 MiB minimum, a partial last block, exact blocks. */
    uint64_t sizes[] = { 3 * MiB, 21 * MiB + 1536, 40 * MiB, 7 * MiB + 512 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        struct fake f = fake_make(sizes[i], (uint32_t)i, every_third_zero);
        f.report_holes = 1;  /* the allocation map's job, done by the fake */
        struct p2v_layer *v = open_vhd(&f, 1, 1);
        uint8_t *file = read_all(v);
        assert_non_null(file);
        verify_dynamic(file, v->size, &f);
        struct p2v_vhd_layout lay;
        p2v_vhd_describe(v, &lay);
        assert_int_equal(lay.blocks_total, (sizes[i] + BS - 1) / BS);
        free(file);
        v->ops->close(v);
    }
}

static void fixed_is_source_plus_footer(void **state)
{
    (void)state;
    struct fake f = fake_make(5 * MiB + 512, 9, every_third_zero);
    struct p2v_layer *v = open_vhd(&f, 0, 2);
    assert_true(v->size == f.l.size + 512);
    uint8_t *file = read_all(v), *src = read_all(&f.l);
    assert_memory_equal(file, src, f.l.size);
    assert_memory_equal(file + f.l.size, "conectix", 8);
    assert_true(get_be64(file + f.l.size + 16) == UINT64_MAX);
    free(file);
    free(src);
    v->ops->close(v);
}

/* Every read, at and around every region boundary, in many lengths, must
 * equal the same slice of one whole-file read. */
static void check_slices(struct p2v_layer *v, const uint8_t *whole,
                         const uint64_t *bounds, size_t nb)
{
    static const size_t lens[] = { 1, 7, 511, 512, 513, 3584, 4096, 4097, 65536, 1048576 };
    uint8_t *buf = malloc(1048576 + 16);
    for (size_t i = 0; i < nb; i++) {
        for (int d = -3; d <= 3; d++) {
            if ((int64_t)bounds[i] + d < 0 || bounds[i] + d >= v->size)
                continue;
            uint64_t off = bounds[i] + d;
            for (size_t j = 0; j < sizeof lens / sizeof *lens; j++) {
                size_t len = lens[j] < v->size - off ? lens[j] : v->size - off;
                memset(buf, 0x5A, len);
                assert_int_equal(p2v_layer_read(v, buf, len, off), 0);
                assert_memory_equal(buf, whole + off, len);
            }
        }
    }
    free(buf);
}

static void reads_straddle_every_boundary(void **state)
{
    (void)state;
    struct fake f = fake_make(13 * MiB + 1024, 5, every_third_zero);
    struct p2v_layer *v = open_vhd(&f, 1, 3);
    uint8_t *whole = read_all(v);
    uint32_t n = get_be32(whole + 512 + 28);
    uint64_t bounds[64];
    size_t nb = 0;
    bounds[nb++] = 0;
    bounds[nb++] = 512;
    bounds[nb++] = 1536;
    bounds[nb++] = 1536 + n * 4;
    bounds[nb++] = 1536 + (n * 4 + 511) / 512 * 512;
    for (uint32_t b = 0; b < n; b++) {
        uint32_t e = get_be32(whole + 1536 + b * 4);
        if (e == 0xFFFFFFFF)
            continue;
        uint64_t bm = (uint64_t)e * 512;
        bounds[nb++] = bm - 3584;   /* slot padding */
        bounds[nb++] = bm;          /* bitmap */
        bounds[nb++] = bm + 512;    /* data */
        bounds[nb++] = bm + 512 + MiB;
        bounds[nb++] = bm + 512 + BS;
    }
    bounds[nb++] = v->size - 512;   /* footer */
    bounds[nb++] = v->size - 1;
    check_slices(v, whole, bounds, nb);

    /* End of file: an empty read is fine, one byte past is refused. */
    uint8_t byte;
    assert_int_equal(p2v_layer_read(v, &byte, 0, v->size), 0);
    assert_int_not_equal(p2v_layer_read(v, &byte, 1, v->size), 0);
    assert_int_not_equal(p2v_layer_read(v, &byte, 2, v->size - 1), 0);
    free(whole);
    v->ops->close(v);

    struct fake g = fake_make(4 * MiB + 512, 6, none_zero);
    v = open_vhd(&g, 0, 3);
    whole = read_all(v);
    uint64_t fb[] = { 0, 2 * MiB, g.l.size, v->size - 1 };
    check_slices(v, whole, fb, 4);
    free(whole);
    v->ops->close(v);
}

static void all_zero_disk_has_no_blocks(void **state)
{
    (void)state;
    struct fake f = fake_make(6 * MiB, 1, all_zero);
    f.report_holes = 1;
    struct p2v_layer *v = open_vhd(&f, 1, 4);
    assert_true(v->size == 2048 + 512);     /* BAT of 3 entries pads to 512 */
    uint8_t *file = read_all(v);
    for (int i = 0; i < 3; i++)
        assert_int_equal(get_be32(file + 1536 + i * 4), 0xFFFFFFFF);
    assert_memory_equal(file, file + v->size - 512, 512);
    free(file);
    v->ops->close(v);
}

static void same_input_same_bytes(void **state)
{
    (void)state;
    struct fake f = fake_make(9 * MiB, 3, every_third_zero);
    struct p2v_layer *a = open_vhd(&f, 1, 7), *b = open_vhd(&f, 1, 7), *c = open_vhd(&f, 1, 8);
    uint8_t *fa = read_all(a), *fb = read_all(b), *fc = read_all(c);
    assert_true(a->size == b->size && a->size == c->size);
    assert_memory_equal(fa, fb, a->size);
    /* Another UniqueId changes both footers and nothing else. */
    assert_memory_not_equal(fa, fc, 512);
    assert_memory_equal(fa + 512, fc + 512, a->size - 1024);
    free(fa);
    free(fb);
    free(fc);
    a->ops->close(a);
    b->ops->close(b);
    c->ops->close(c);
}

static void size_limits(void **state)
{
    (void)state;
    struct p2v_vhd_params p = { .dynamic = 1 };
    struct p2v_layer *v = NULL;
    struct fake over = fake_make((2040ull << 30) + MiB, 1, NULL);
    assert_int_equal(p2v_vhd_open(&over.l, &p, &v), -EFBIG);
    struct fake small = fake_make(3 * MiB - 512, 1, NULL);
    assert_int_equal(p2v_vhd_open(&small.l, &p, &v), -EINVAL);
    struct fake odd = fake_make(3 * MiB + 100, 1, NULL);
    assert_int_equal(p2v_vhd_open(&odd.l, &p, &v), -EINVAL);

    /* The largest disk, fully allocated: every BAT entry fits 32 bits. */
    struct fake max = fake_make(2040ull << 30, 1, NULL);
    assert_int_equal(p2v_vhd_open(&max.l, &p, &v), 0);
    uint8_t e[4], foot[512];
    uint32_t n = (uint32_t)((2040ull << 30) / BS);
    assert_int_equal(p2v_layer_read(v, e, 4, 1536 + (uint64_t)(n - 1) * 4), 0);
    /* The last slot ends right before the footer, its data 4 KiB-aligned.
     * (The reference's example, 0xFF7F8FE7, starts the first block one
     * 4 KiB slot later than p2v, which starts right after the BAT.) */
    uint64_t last = (uint64_t)get_be32(e) * 512;
    assert_true(last + 512 + BS + 512 == v->size);
    assert_int_equal((last + 512) % 4096, 0);
    assert_int_equal(get_be32(e), 0xFF7F8FDF);
    assert_int_equal(p2v_layer_read(v, foot, 512, v->size - 512), 0);
    assert_memory_equal(foot, "conectix", 8);
    v->ops->close(v);
}

static void source_errors_propagate(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 2, NULL);
    struct p2v_layer *v = open_vhd(&f, 1, 9);
    f.fail_at = 5 * MiB + 17;   /* inside block 2 */
    uint8_t buf[4096];
    /* Block 2 is slot 2: its data follows two whole slots. */
    uint8_t e[4];
    assert_int_equal(p2v_layer_read(v, e, 4, 1536 + 8), 0);
    uint64_t data = (uint64_t)get_be32(e) * 512 + 512;
    assert_int_equal(p2v_layer_read(v, buf, sizeof buf, data + MiB), -EIO);
    assert_int_equal(p2v_layer_read(v, buf, sizeof buf, data), 0);
    v->ops->close(v);
}

static int count_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    uint64_t *acc = ctx;   /* [0] data bytes, [1] zero bytes, [2] next offset */
    assert_true(off == acc[2]);
    acc[kind != P2V_EXTENT_ZERO ? 0 : 1] += len;
    acc[2] = off + len;
    return 0;
}

static void extents_cover_file_in_order(void **state)
{
    (void)state;
    struct fake f = fake_make(12 * MiB, 4, every_third_zero);
    f.report_holes = 1;
    struct p2v_layer *v = open_vhd(&f, 0, 1);
    uint64_t acc[3] = { 0 };
    assert_int_equal(p2v_layer_extents(v, 0, v->size, count_cb, acc), 0);
    assert_true(acc[2] == v->size);
    assert_true(acc[1] == 2 * BS);      /* blocks 1 and 4 are holes */
    v->ops->close(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dynamic_layout_matches_spec),
        cmocka_unit_test(fixed_is_source_plus_footer),
        cmocka_unit_test(reads_straddle_every_boundary),
        cmocka_unit_test(all_zero_disk_has_no_blocks),
        cmocka_unit_test(same_input_same_bytes),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(source_errors_propagate),
        cmocka_unit_test(extents_cover_file_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
