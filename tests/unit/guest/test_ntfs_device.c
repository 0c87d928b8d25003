/* A damaged NTFS volume is named by what is wrong in it (issue 19): the
 * boot sector's fields, or $MFT record 0, each with its offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "core/bytes.h"
#include "guest/ntfs_device.h"

#define VOL (1u << 20)
static uint8_t disk[VOL];

static int mem_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    (void)l;
    memcpy(buf, disk + off, len);
    return 0;
}
static const struct p2v_layer_ops mem_ops = { .name = "mem", .read = mem_read };
static struct p2v_layer mem = { .ops = &mem_ops, .size = VOL };

/* A sound volume: 512-byte sectors, 4 KiB clusters, $MFT at cluster 4,
 * 1 KiB records with their update sequence in place. */
static void sound(void)
{
    memset(disk, 0, sizeof disk);
    memcpy(disk + 3, "NTFS    ", 8);
    put_le16(disk + 0x0b, 512);
    disk[0x0d] = 8;
    put_le64(disk + 0x28, VOL / 512 - 1);
    put_le64(disk + 0x30, 4);
    disk[0x40] = (uint8_t)-10;  /* 2^10 */
    disk[510] = 0x55, disk[511] = 0xaa;
    uint8_t *r = disk + 4 * 4096;
    memcpy(r, "FILE", 4);
    put_le16(r + 4, 0x30);
    put_le16(r + 6, 3);
    put_le16(r + 0x30, 7);
    put_le16(r + 510, 7);
    put_le16(r + 1022, 7);
}

static void names_what_is_damaged(void **state)
{
    (void)state;
    char why[512];
    sound();
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 0);

    memcpy(disk + 4 * 4096, "BAAD", 4);
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 1);
    assert_non_null(strstr(why, "$MFT record 0 at offset 16384 of the volume (byte 16384 of the disk)"));
    assert_non_null(strstr(why, "\"BAAD\""));
    assert_non_null(strstr(why, "the boot sector is sound"));
    assert_non_null(strstr(why, "chkdsk"));

    sound();
    put_le16(disk + 4 * 4096 + 1022, 8);  /* a torn write */
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 1);
    assert_non_null(strstr(why, "sector 1 of it was not written whole"));

    sound();
    put_le16(disk + 0x0b, 3000);
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 1);
    assert_non_null(strstr(why, "NTFS boot sector at byte 0 is damaged: its bytes per sector "
                                "(offset 0x0b) is 3000"));

    sound();
    put_le64(disk + 0x30, 1u << 30);
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 1);
    assert_non_null(strstr(why, "$MFT cluster (offset 0x30)"));
}

/* 4096-byte sectors and 4 KiB records: the update sequence still covers
 * 512-byte strides (9 entries), and a sound record is sound. */
static void four_k_sectors(void **state)
{
    (void)state;
    char why[512];
    memset(disk, 0, sizeof disk);
    memcpy(disk + 3, "NTFS    ", 8);
    put_le16(disk + 0x0b, 4096);
    disk[0x0d] = 1;
    put_le64(disk + 0x28, VOL / 4096 - 1);
    put_le64(disk + 0x30, 4);
    disk[0x40] = (uint8_t)-12;  /* 2^12 */
    uint8_t *r = disk + 4 * 4096;
    memcpy(r, "FILE", 4);
    put_le16(r + 4, 0x30);
    put_le16(r + 6, 9);
    put_le16(r + 0x30, 5);
    for (int i = 1; i <= 8; i++)
        put_le16(r + i * 512 - 2, 5);
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 0);
    put_le16(r + 7 * 512 - 2, 6);
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 1);
    assert_non_null(strstr(why, "sector 6 of it was not written whole"));
}

/* A 64 KiB record whose $MFT cluster leaves no room for it before the
 * volume's end is the boot sector's fault, and nothing past the end is read. */
static void record_past_the_end(void **state)
{
    (void)state;
    char why[512];
    sound();
    disk[0x40] = (uint8_t)-16;  /* 64 KiB records */
    put_le64(disk + 0x30, VOL / 4096 - 2);  /* 8 KiB before the end */
    assert_int_equal(p2v_ntfs_damage(&mem, 0, VOL, why, sizeof why), 1);
    assert_non_null(strstr(why, "$MFT cluster (offset 0x30)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_what_is_damaged),
        cmocka_unit_test(four_k_sectors),
        cmocka_unit_test(record_past_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
