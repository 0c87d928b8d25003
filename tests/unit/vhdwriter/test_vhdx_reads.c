/* Reads through the VHDX encoder layer: every read at and around every
 * structure boundary equals the same slice of one whole-file read; reads
 * at the end of the file; a source's read error reaches the reader of
 * that block only; the extents cover the file and what they call zero
 * reads as zeros.  The image's layout comes from the independent reader
 * in vhdx_spec.h. */
#include "vhdx_spec.h"

/* Every read at and around every structure boundary, in lengths from 1
 * byte to 2 MiB, starting or ending there, must equal the same slice of one
 * whole-file read. */
static void check_slices(struct p2v_layer *v, const uint8_t *whole, const uint64_t *bounds,
                         size_t nb)
{
    static const size_t lens[] = { 1,     2,     7,     8,     9,         511,     512,
                                   513,   4095,  4096,  4097,  65535,     65536,   65537,
                                   MiB-1, MiB,   MiB+1, 2 * MiB };
    static const size_t nlens = sizeof lens / sizeof *lens;
    uint8_t *buf = malloc(2 * MiB);
    for (size_t i = 0; i < nb; i++) {
        int dup = 0;
        for (size_t k = 0; k < i; k++)
            dup |= bounds[k] == bounds[i];
        if (dup)
            continue;
        for (int d = -2; d <= 2; d++) {
            for (size_t j = 0; j < nlens; j++) {
                if (lens[j] >= 65536 && (d == -2 || d == 2))
                    continue;                            /* keep it fast: */
                for (int end = 0; end < 2; end++) {
                    if (lens[j] >= MiB - 1 && d != (end ? 1 : -1))
                        continue;                        /* 1 MiB+ only across it */
                    int64_t at = (int64_t)bounds[i] + d - (end ? (int64_t)lens[j] : 0);
                    if (at < 0 || (uint64_t)at >= v->size)
                        continue;
                    uint64_t off = (uint64_t)at;
                    size_t len = lens[j] < v->size - off ? lens[j] : v->size - off;
                    memset(buf, 0x5A, len);
                    assert_int_equal(p2v_layer_read(v, buf, len, off), 0);
                    assert_memory_equal(buf, whole + off, len);
                }
            }
        }
    }
    free(buf);
}

static void reads_straddle_every_boundary(void **state)
{
    (void)state;
    struct fake f = fake_make(9 * MiB + 1536, 5, holes_fine);
    f.report_holes = 1;
    struct p2v_layer *v = must_open(&f, 1, MiB, 512, 512, 3);
    struct info x;
    parse_front(v, &x);
    struct batres r;
    verify_bat(v, &x, &f, 1, 1, &r);
    uint8_t *whole = read_all(v);                        /* one call */
    assert_non_null(whole);

    uint64_t bounds[64];
    size_t nb = 0;
    bounds[nb++] = 0;
    bounds[nb++] = 64 * KiB;                             /* ident / header 1 */
    bounds[nb++] = 64 * KiB + 4096;
    bounds[nb++] = 128 * KiB;                            /* header 1 / header 2 */
    bounds[nb++] = 192 * KiB;                            /* header 2 / region 1 */
    bounds[nb++] = 256 * KiB;                            /* region 1 / region 2 */
    bounds[nb++] = 320 * KiB;                            /* region 2 / zeros */
    bounds[nb++] = x.log_off;                            /* zeros / log */
    bounds[nb++] = x.log_off + x.log_len;
    bounds[nb++] = x.meta_off;                           /* log / metadata */
    bounds[nb++] = x.meta_off + 64 * KiB;                /* table / items */
    bounds[nb++] = x.meta_off + x.meta_len;
    bounds[nb++] = x.bat_off;                            /* metadata / BAT */
    bounds[nb++] = x.bat_off + r.entries * 8;
    bounds[nb++] = x.bat_off + x.bat_len;                /* BAT / data */
    for (uint64_t i = 0; i < r.pb; i++) {
        uint64_t e = rd64(whole + x.bat_off + (i + i / r.cr) * 8);
        if (!(e & 7))
            continue;
        uint64_t off = (e >> 20) * MiB;
        bounds[nb++] = off;                              /* BAT / block, block / block */
        if (i == r.pb - 1)
            bounds[nb++] = off + f.l.size - i * MiB;     /* the disk's end */
    }
    bounds[nb++] = v->size - 1;                          /* last byte */
    bounds[nb++] = v->size;
    assert_true(nb <= 64);
    check_slices(v, whole, bounds, nb);

    /* End of file: an empty read is fine, one byte past is refused. */
    uint8_t byte;
    assert_int_equal(p2v_layer_read(v, &byte, 0, v->size), 0);
    assert_int_not_equal(p2v_layer_read(v, &byte, 1, v->size), 0);
    assert_int_not_equal(p2v_layer_read(v, &byte, 2, v->size - 1), 0);
    assert_int_equal(p2v_layer_read(v, &byte, 1, v->size - 1), 0);
    assert_int_equal(byte, whole[v->size - 1]);
    free(whole);
    p2v_layer_close(v);
}

static void source_errors_propagate(void **state)
{
    (void)state;
    struct fake f = fake_make(8 * MiB, 2, NULL);
    struct p2v_layer *v = must_open(&f, 1, MiB, 512, 512, 9);
    struct info x;
    parse_front(v, &x);
    f.fail_at = 5 * MiB + 17;                            /* inside block 5 */
    uint8_t e8[8], buf[8192];
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + 5 * 8), 0);
    uint64_t b5 = (rd64(e8) >> 20) * MiB;
    assert_int_equal(rd64(e8) & 7, 6);
    assert_int_equal(p2v_layer_read(v, buf, 4096, b5), -EIO);
    assert_int_equal(p2v_layer_read(v, buf, 4096, b5 + 4096), 0);
    assert_int_equal(p2v_layer_read(v, buf, sizeof buf, b5 - 4096), -EIO);  /* from block 4 */
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + 4 * 8), 0);
    assert_int_equal(p2v_layer_read(v, buf, 4096, (rd64(e8) >> 20) * MiB), 0);
    /* Structures never touch the source. */
    assert_int_equal(p2v_layer_read(v, buf, 4096, 0), 0);
    assert_int_equal(p2v_layer_read(v, buf, 4096, x.bat_off), 0);
    p2v_layer_close(v);
}

static int extent_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    uint64_t *acc = ctx;  /* [0] next offset, [1] zero bytes */
    assert_true(off == acc[0]);
    assert_true(len > 0);
    if (kind == P2V_EXTENT_ZERO)
        acc[1] += len;
    acc[0] = off + len;
    return 0;
}

static int zero_check_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    const uint8_t *whole = ctx;
    if (kind == P2V_EXTENT_ZERO)
        assert_true(all_zero_bytes(whole + off, len));
    return 0;
}

/* Extents cover the file in order, and what they call zero reads as zeros. */
static void extents_cover_file(void **state)
{
    (void)state;
    struct fake f = fake_make(12 * MiB + 512, 4, holes_fine);
    f.report_holes = 1;
    for (int dynamic = 0; dynamic < 2; dynamic++) {
        struct p2v_layer *v = must_open(&f, dynamic, MiB, 512, 512, 1);
        uint64_t acc[2] = { 0 };
        assert_int_equal(p2v_layer_extents(v, 0, v->size, extent_cb, acc), 0);
        assert_true(acc[0] == v->size);
        assert_true(acc[1] > 0);
        uint8_t *whole = read_all(v);
        assert_int_equal(p2v_layer_extents(v, 0, v->size, zero_check_cb, whole), 0);
        free(whole);
        p2v_layer_close(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_straddle_every_boundary),
        cmocka_unit_test(source_errors_propagate),
        cmocka_unit_test(extents_cover_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
