/* Footer and dynamic header fields, checksums, CHS geometry, timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/bytes.h"
#include "vhdwriter/vhd_format.h"

#include <string.h>

static void check_chs(uint64_t bytes, unsigned c, unsigned h, unsigned s)
{
    struct vhd_chs g = vhd_chs(bytes / 512);
    assert_int_equal(g.cylinders, c);
    assert_int_equal(g.heads, h);
    assert_int_equal(g.sectors, s);
}

static void chs_matches_known_disks(void **state)
{
    (void)state;
    check_chs(3ull << 30, 6241, 16, 63);        /* Hyper-V 3 GiB fixed disk */
    check_chs(100ull << 20, 1003, 12, 17);      /* 100 MiB, as QEMU computes */
    check_chs(3ull << 20, 90, 4, 17);           /* the 3 MiB minimum */
    check_chs(160000000000ull, 65535, 16, 255); /* Disk2vhd 160 GB: maximum */
    check_chs(2040ull << 30, 65535, 16, 255);   /* capped */
}

static void chs_never_exceeds_disk(void **state)
{
    (void)state;
    /* The geometry rounds down: C*H*S never covers more than the disk. */
    for (uint64_t sectors = 6144; sectors < 300000000; sectors = sectors * 3 / 2 + 7) {
        struct vhd_chs g = vhd_chs(sectors);
        assert_true((uint64_t)g.cylinders * g.heads * g.sectors <= sectors);
        assert_true(g.heads >= 4 && g.heads <= 16);
    }
}

static uint32_t independent_checksum(const uint8_t *b, size_t len, size_t field)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        if (i < field || i >= field + 4)
            sum += b[i];
    return ~sum;
}

static void footer_fields_and_checksum(void **state)
{
    (void)state;
    struct vhd_footer_params p = { .size = 104857600, .disk_type = VHD_TYPE_FIXED,
                                   .timestamp = 0x12345678 };
    memset(p.unique_id, 0xAB, 16);
    uint8_t f[VHD_FOOTER_SIZE];
    vhd_build_footer(f, &p);
    assert_memory_equal(f, "conectix", 8);
    assert_int_equal(get_be32(f + 8), 2);
    assert_int_equal(get_be32(f + 12), 0x00010000);
    assert_true(get_be64(f + 16) == UINT64_MAX);
    assert_int_equal(get_be32(f + 24), 0x12345678);
    assert_memory_equal(f + 28, "win ", 4);
    assert_memory_equal(f + 36, "Wi2k", 4);
    assert_true(get_be64(f + 40) == 104857600);
    assert_true(get_be64(f + 48) == 104857600);
    assert_int_equal(get_be16(f + 56), 1003);
    assert_int_equal(f[58], 12);
    assert_int_equal(f[59], 17);
    assert_int_equal(get_be32(f + 60), VHD_TYPE_FIXED);
    assert_int_equal(get_be32(f + 64), independent_checksum(f, 512, 64));
    assert_int_equal(f[68], 0xAB);
    assert_int_equal(f[84], 0);  /* saved state */

    p.disk_type = VHD_TYPE_DYNAMIC;
    vhd_build_footer(f, &p);
    assert_true(get_be64(f + 16) == 512);
    assert_int_equal(get_be32(f + 60), VHD_TYPE_DYNAMIC);
    assert_int_equal(get_be32(f + 64), independent_checksum(f, 512, 64));
    /* A flipped byte must break the checksum. */
    f[100] ^= 1;
    assert_int_not_equal(get_be32(f + 64), independent_checksum(f, 512, 64));
}

static void dynamic_header_fields(void **state)
{
    (void)state;
    uint8_t h[VHD_DYNHDR_SIZE];
    vhd_build_dynamic_header(h, 1234);
    assert_memory_equal(h, "cxsparse", 8);
    assert_true(get_be64(h + 8) == UINT64_MAX);
    assert_true(get_be64(h + 16) == 1536);
    assert_int_equal(get_be32(h + 24), 0x00010000);
    assert_int_equal(get_be32(h + 28), 1234);
    assert_int_equal(get_be32(h + 32), 2 * 1024 * 1024);
    assert_int_equal(get_be32(h + 36), independent_checksum(h, 1024, 36));
    for (int i = 40; i < 1024; i++)
        assert_int_equal(h[i], 0);  /* no parent, no locators */
}

static void timestamps(void **state)
{
    (void)state;
    assert_int_equal(vhd_timestamp(946684800), 0);
    assert_int_equal(vhd_timestamp(0), 0);                 /* before 2000 */
    assert_int_equal(vhd_timestamp(946684800 + 86400), 86400);
    assert_int_equal(vhd_timestamp(1764000000), 1764000000 - 946684800);
    assert_int_equal(vhd_timestamp(INT64_MAX / 2), UINT32_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chs_matches_known_disks),
        cmocka_unit_test(chs_never_exceeds_disk),
        cmocka_unit_test(footer_fields_and_checksum),
        cmocka_unit_test(dynamic_header_fields),
        cmocka_unit_test(timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
