/* The VHDX encoder layer, format side: CRC-32C, the header section, the
 * region tables, the metadata region, BAT arithmetic around chunk
 * boundaries, the data blocks, dynamic vs fixed, 4096-byte sectors,
 * limits and determinism.  Every image is checked by the independent
 * reader in vhdx_spec.h.  Big disks are fake layers (computed, no
 * memory); only their BAT and a sample of blocks are read.  Reads through
 * the encoder are in test_vhdx_reads.c. */
#include "vhdx_spec.h"
#include "core/crc32c.h"

#include <stdio.h>

/* ---- tests ------------------------------------------------------------ */

static void crc32c_and_guids(void **state)
{
    (void)state;
    assert_int_equal(p2v_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_bitwise((const uint8_t *)"123456789", 9), 0xE3069283u);
    assert_int_equal(p2v_crc32c("", 0), 0);
    static uint8_t buf[65536 + 1];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + (i >> 8) * 7);
    static const size_t lens[] = { 1, 2, 3, 7, 8, 63, 64, 65, 4095, 4096, 65536 };
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        assert_int_equal(p2v_crc32c(buf + 1, lens[i]), crc32c_bitwise(buf + 1, lens[i]));
    /* The parser's GUID layout, against the bytes the spec's BAT GUID has
     * on disk in every VHDX file. */
    static const uint8_t bat[16] = { 0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42,
                                     0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08 };
    uint8_t g[16];
    guid_ms(GUID_BAT, g);
    assert_memory_equal(g, bat, 16);
}

/* Small disks, every block compared: sizes that are and are not multiples
 * of the block size, with the last partial block present or a hole. */
static void small_images_match_spec(void **state)
{
    (void)state;
    static const struct { uint64_t size; uint32_t bs; int (*zero)(uint64_t); uint64_t present; } c[] = {
        { 11 * MiB + 1536, MiB, holes_fine, 8 },       /* partial last block, data */
        { 13 * MiB + 1536, MiB, holes_fine, 8 },       /* partial last block, hole */
        { 40 * MiB, MiB, holes_fine, 24 },
        { 7 * MiB + 4096, 2 * MiB, holes_fine, 2 },    /* blocks 0 and 3 */
        { 65 * MiB + 512, 0, holes_coarse, 2 },        /* 32 MiB default: block 1 a hole */
        { 3 * 32 * MiB, 0, holes_coarse, 2 },
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        struct fake f = fake_make(c[i].size, (uint32_t)i + 1, c[i].zero);
        f.report_holes = 1;
        struct batres r = check_image(&f, 1, c[i].bs, 512, 512, 1);
        assert_true(r.pb == (c[i].size + (c[i].bs ? c[i].bs : 32 * MiB) - 1) /
                                (c[i].bs ? c[i].bs : 32 * MiB));
        assert_true(r.present == c[i].present);
        assert_true(r.entries == r.pb);                  /* one chunk: no bitmap entry */
    }
}

/* 1 MiB blocks, 512-byte sectors: chunk ratio 4096.  PB = CR-1, CR, CR+1,
 * 2CR, 2CR+1. */
static void chunk_boundaries_1mib(void **state)
{
    (void)state;
    static const struct { uint64_t mib, entries; } c[] = {
        { 4095, 4095 }, { 4096, 4096 }, { 4097, 4098 }, { 8192, 8193 }, { 8193, 8195 },
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        struct fake f = fake_make(c[i].mib * MiB, (uint32_t)i + 10, holes_fine);
        f.report_holes = 1;
        struct batres r = check_image(&f, 1, MiB, 512, 512, 0);
        assert_true(r.cr == 4096);
        assert_true(r.pb == c[i].mib);
        assert_true(r.entries == c[i].entries);
        uint64_t want = 0;                               /* 1 MiB block b is in fake block b/2 */
        for (uint64_t b = 0; b < c[i].mib; b++)
            want += !holes_fine(b / 2);
        assert_true(r.present == want);
    }
    /* The same boundary, fixed: every block present, the bitmap slot skipped. */
    struct fake f = fake_make(4097 * MiB, 3, holes_fine);
    f.report_holes = 1;
    struct batres r = check_image(&f, 0, MiB, 512, 512, 0);
    assert_true(r.present == 4097 && r.entries == 4098);

    /* 131041 blocks: 131041 + 31 = 131072 entries, a BAT of exactly 1 MiB
     * with no padding; the first block follows it. */
    struct fake g = fake_make(131041 * MiB, 4, NULL);
    struct p2v_layer *v = must_open(&g, 0, MiB, 512, 512, 1);
    struct info x;
    parse_front(v, &x);
    assert_true(x.bat_len == MiB);
    uint8_t e8[8];
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + MiB - 8), 0);
    assert_int_equal(rd64(e8) & 7, 6);                   /* block 131040, the last */
    assert_true((rd64(e8) >> 20) * MiB + MiB == v->size);
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + 4096 * 8), 0);
    assert_true(rd64(e8) == 0);                          /* the first bitmap entry */
    assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off), 0);
    assert_true((rd64(e8) >> 20) * MiB >= x.bat_off + x.bat_len);
    p2v_layer_close(v);
}

/* Other chunk ratios: 32 MiB blocks (128 with 512-byte sectors, 1024 with
 * 4096), 1 MiB with 4096 (32768), 256 MiB (16). */
static void chunk_ratios_and_4k_sectors(void **state)
{
    (void)state;
    struct fake f = fake_make(129 * 32 * MiB, 4, holes_coarse);
    f.report_holes = 1;
    struct batres r = check_image(&f, 1, 0, 512, 512, 0);
    assert_true(r.cr == 128 && r.pb == 129 && r.entries == 130);
    assert_true(r.present == 86);                        /* i % 3 != 1 */

    f = fake_make(1025 * 32 * MiB, 5, holes_coarse);
    f.report_holes = 1;
    struct p2v_layer *v = must_open(&f, 1, 32 * MiB, 4096, 0, 1);
    struct info x;
    parse_front(v, &x);
    assert_int_equal(x.ls, 4096);
    assert_int_equal(x.ps, 4096);                        /* physical >= logical */
    verify_bat(v, &x, &f, 1, 0, &r);
    assert_true(r.cr == 1024 && r.pb == 1025 && r.entries == 1026);
    p2v_layer_close(v);

    f = fake_make(40 * MiB, 6, holes_fine);
    f.report_holes = 1;
    r = check_image(&f, 1, MiB, 4096, 4096, 1);
    assert_true(r.cr == 32768 && r.entries == 40);

    /* 512-byte logical on a 4096-byte physical disk (512e). */
    f = fake_make(40 * MiB, 6, holes_fine);
    v = must_open(&f, 1, MiB, 512, 4096, 1);
    parse_front(v, &x);
    assert_int_equal(x.ls, 512);
    assert_int_equal(x.ps, 4096);
    p2v_layer_close(v);

    f = fake_make(17 * 256 * MiB + 4096, 7, NULL);
    r = check_image(&f, 1, 256 * MiB, 512, 512, 0);
    assert_true(r.cr == 16 && r.pb == 18 && r.entries == 19 && r.present == 18);
}

static void dynamic_vs_fixed(void **state)
{
    (void)state;
    struct fake f = fake_make(20 * MiB, 8, holes_fine);
    f.report_holes = 1;
    struct batres r = check_image(&f, 0, MiB, 512, 512, 1);
    assert_true(r.present == 20);
    r = check_image(&f, 1, MiB, 512, 512, 1);
    assert_true(r.present == 12);                        /* fake blocks 0,3,4,5,8,9 */

    /* Without hole reports every block may hold data. */
    f.report_holes = 0;
    r = check_image(&f, 1, MiB, 512, 512, 1);
    assert_true(r.present == 20);

    /* Nothing but zeros: no block at all, the file ends with the BAT. */
    struct fake z = fake_make(20 * MiB, 8, all_zero);
    z.report_holes = 1;
    r = check_image(&z, 1, MiB, 512, 512, 1);
    assert_true(r.present == 0);
    r = check_image(&z, 0, MiB, 512, 512, 1);
    assert_true(r.present == 20);
}

static void size_limits(void **state)
{
    (void)state;
    struct p2v_layer *v;
    /* 64 TiB exactly: accepted; its BAT sampled at the ends and chunks. */
    static const uint32_t bss[] = { 0, MiB, 256 * MiB };  /* 1 MiB: a 513 MiB BAT */
    for (size_t k = 0; k < sizeof bss / sizeof *bss; k++) {
        struct fake f = fake_make(64 * TiB, 11, NULL);
        v = must_open(&f, 1, bss[k], 512, 512, 2);
        struct info x;
        parse_front(v, &x);
        assert_true(x.disk_size == 64 * TiB);
        uint64_t bs = x.bs, cr = (1ull << 23) * 512 / bs, pb = 64 * TiB / bs;
        uint64_t n = pb + (pb - 1) / cr;
        assert_true(x.bat_len == (n * 8 + MiB - 1) / MiB * MiB);
        uint64_t samples[] = { 0, 1, cr - 1, cr, cr + 1, pb / 2, pb - cr, pb - 2, pb - 1 };
        uint64_t prev = 0;
        for (size_t s = 0; s < sizeof samples / sizeof *samples; s++) {
            uint64_t i = samples[s], j = i + i / cr;
            uint8_t e8[8], bm[8];
            assert_int_equal(p2v_layer_read(v, e8, 8, x.bat_off + j * 8), 0);
            uint64_t e = rd64(e8);
            assert_int_equal(e & 0xFFFFF, 6);
            uint64_t off = (e >> 20) * MiB;
            assert_true(off >= x.bat_off + x.bat_len);
            if (s)
                assert_true(off > prev);                 /* in disk order */
            prev = off;
            if (i % cr == cr - 1 && j + 1 < n) {         /* its chunk's bitmap entry */
                assert_int_equal(p2v_layer_read(v, bm, 8, x.bat_off + (j + 1) * 8), 0);
                assert_true(rd64(bm) == 0);
            }
            if (i == pb - 1)
                assert_true(off + bs == v->size);
            if (i == 0 || i == pb - 1 || i == cr) {
                uint8_t got[4096], want[4096];
                for (int end = 0; end < 2; end++) {
                    uint64_t o = end ? bs - 4096 : 0;
                    assert_int_equal(p2v_layer_read(v, got, 4096, off + o), 0);
                    assert_int_equal(fake_read(&f.l, want, 4096, i * bs + o), 0);
                    assert_memory_equal(got, want, 4096);
                }
            }
        }
        struct p2v_vhdx_layout lay;
        p2v_vhdx_describe(v, &lay);
        assert_true(lay.blocks_total == pb && lay.blocks_present == pb);
        assert_true(lay.file_size == v->size);
        p2v_layer_close(v);
    }
    assert_int_equal(p2v_vhdx_check(64 * TiB, 512, 32 * MiB, 1), 0);
    assert_int_equal(p2v_vhdx_check(64 * TiB, 4096, MiB, 1), 0);

    /* One sector over: refused. */
    struct fake over = fake_make(64 * TiB + 4096, 1, NULL);
    assert_int_equal(open_vhdx(&over, 1, 0, 512, 512, 1, &v), -EFBIG);
    assert_int_equal(open_vhdx(&over, 1, 0, 4096, 4096, 1, &v), -EFBIG);
    assert_int_equal(p2v_vhdx_check(64 * TiB + 4096, 512, 32 * MiB, 1), -EFBIG);

    /* Block sizes: powers of two from 1 to 256 MiB. */
    struct fake f = fake_make(20 * MiB, 12, NULL);
    static const uint32_t good[] = { MiB, 2 * MiB, 8 * MiB, 64 * MiB, 256 * MiB };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        v = must_open(&f, 1, good[i], 512, 512, 1);
        struct info x;
        parse_front(v, &x);
        assert_int_equal(x.bs, good[i]);
        p2v_layer_close(v);
    }
    static const uint32_t bad[] = { 3 * MiB, 512 * KiB, 512 * MiB, 4096, 48 * MiB, 0x80000000u };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(open_vhdx(&f, 1, bad[i], 512, 512, 1, &v), -EINVAL);
        assert_int_equal(p2v_vhdx_check(20 * MiB, 512, bad[i], 1), -EINVAL);
    }

    /* Sizes: a multiple of the logical sector. */
    struct fake odd = fake_make(20 * MiB + 100, 1, NULL);
    assert_int_equal(open_vhdx(&odd, 1, MiB, 512, 512, 1, &v), -EINVAL);
    struct fake odd4k = fake_make(20 * MiB + 512, 1, NULL);
    assert_int_equal(open_vhdx(&odd4k, 1, MiB, 4096, 4096, 1, &v), -EINVAL);
    v = must_open(&odd4k, 1, MiB, 512, 512, 1);
    p2v_layer_close(v);
    struct fake empty = fake_make(0, 1, NULL);
    assert_int_equal(open_vhdx(&empty, 1, MiB, 512, 512, 1, &v), -EINVAL);
    assert_int_equal(open_vhdx(&f, 1, MiB, 1024, 1024, 1, &v), -EINVAL);
}

static void deterministic_guids(void **state)
{
    (void)state;
    struct fake f = fake_make(6 * MiB, 3, holes_fine);
    f.report_holes = 1;
    struct p2v_layer *a = must_open(&f, 1, MiB, 512, 512, 7);
    struct p2v_layer *b = must_open(&f, 1, MiB, 512, 512, 7);
    struct p2v_layer *c = must_open(&f, 1, MiB, 512, 512, 8);
    assert_true(a->size == b->size && a->size == c->size && a->size >= 4 * MiB);
    uint8_t *fa = malloc(4 * MiB), *fb = malloc(4 * MiB), *fc = malloc(4 * MiB);
    assert_int_equal(p2v_layer_read(a, fa, 4 * MiB, 0), 0);
    assert_int_equal(p2v_layer_read(b, fb, 4 * MiB, 0), 0);
    assert_int_equal(p2v_layer_read(c, fc, 4 * MiB, 0), 0);
    assert_memory_equal(fa, fb, 4 * MiB);

    struct info xa, xc;
    parse_front(a, &xa);
    parse_front(c, &xc);
    for (int k = 0; k < 2; k++) {
        assert_memory_not_equal(xa.hdr[k] + 16, xc.hdr[k] + 16, 16);  /* FileWriteGuid */
        assert_memory_not_equal(xa.hdr[k] + 32, xc.hdr[k] + 32, 16);  /* DataWriteGuid */
        assert_memory_not_equal(xa.hdr[k] + 4, xc.hdr[k] + 4, 4);     /* its CRC */
    }
    assert_memory_not_equal(xa.disk_id, xc.disk_id, 16);
    /* Within one image the two headers carry the same GUIDs. */
    assert_memory_equal(xa.hdr[0] + 16, xa.hdr[1] + 16, 32);
    /* FileWriteGuid, DataWriteGuid and the disk id are three GUIDs. */
    assert_memory_not_equal(xa.hdr[0] + 16, xa.hdr[0] + 32, 16);
    assert_memory_not_equal(xa.hdr[0] + 16, xa.disk_id, 16);
    /* Nothing else moves: identifier, region tables, log, BAT. */
    assert_memory_equal(fa, fc, 64 * KiB);
    assert_memory_equal(fa + 192 * KiB, fc + 192 * KiB, 2 * MiB - 192 * KiB);
    assert_memory_equal(fa + 3 * MiB, fc + 3 * MiB, MiB);
    free(fa);
    free(fb);
    free(fc);
    p2v_layer_close(a);
    p2v_layer_close(b);
    p2v_layer_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc32c_and_guids),
        cmocka_unit_test(small_images_match_spec),
        cmocka_unit_test(chunk_boundaries_1mib),
        cmocka_unit_test(chunk_ratios_and_4k_sectors),
        cmocka_unit_test(dynamic_vs_fixed),
        cmocka_unit_test(size_limits),
        cmocka_unit_test(deterministic_guids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
