/* The FAT reader (guest/fat.c) on volumes made by dosfstools' mkfs.fat and
 * filled by mtools (tools nobody here wrote): FAT12, FAT16 and FAT32, long
 * names, names in lower case, a directory spanning clusters, files read
 * back byte for byte; a damaged FAT (a chain that loops, a free cluster in
 * a chain) and a boot sector that is not FAT's are errors, not hangs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/scratch_dir.h"
#include "core/bytes.h"
#include "core/log.h"
#include "core/memfile.h"
#include "guest/fat.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    scratch_dir_make(dir, sizeof dir, "fat");
    p2v_log_quiet(1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    scratch_dir_remove(dir);
    return 0;
}

/* The payload: n bytes no two clusters of which are alike. */
static uint8_t *payload(size_t n)
{
    uint8_t *d = malloc(n);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(i * 7 + i / 509);
    return d;
}

/* A volume of kib KiB with FAT bits, as an ESP holds Windows and Debian;
 * its bytes in *img. */
static void make_volume(int bits, int kib, uint8_t **img, size_t *len)
{
    char cmd[2048], file[128], big[128];
    snprintf(file, sizeof file, "%s/v%d.img", dir, bits);
    snprintf(big, sizeof big, "%s/bootmgfw.efi", dir);
    uint8_t *d = payload(5000);
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, 5000, f), 5000);
    assert_int_equal(fclose(f), 0);
    free(d);
    snprintf(cmd, sizeof cmd,
             "set -e; mkfs.fat -C -F %d -s 1 -n ESP '%s' %d >/dev/null; "
             "export MTOOLS_SKIP_CHECK=1; i='-i %s'; mmd $i ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot "
             "::/EFI/debian ::/EFI/BOOT; "
             "mcopy $i '%s' ::/EFI/Microsoft/Boot/bootmgfw.efi; "
             "echo grub >'%s/g'; mcopy $i '%s/g' ::/EFI/debian/grubx64.efi; "
             "for n in $(seq 1 40); do mcopy $i '%s/g' ::/EFI/BOOT/f$n.txt; done; "
             "mcopy $i '%s' ::/EFI/BOOT/BOOTX64.EFI; "
             "mcopy $i '%s/g' ::/EFI/debian/systemd-bootx64.efi",
             bits, file, kib, file, big, dir, dir, dir, big, dir);
    assert_int_equal(system(cmd), 0);
    f = fopen(file, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    *len = (size_t)ftell(f);
    rewind(f);
    *img = malloc(*len);
    assert_non_null(*img);
    assert_int_equal(fread(*img, 1, *len, f), *len);
    fclose(f);
}

struct seen { int n, boot; };

static int count(void *ctx, const char *name, int is_dir, uint64_t size)
{
    struct seen *s = ctx;
    s->n++;
    if (!strcmp(name, "BOOTX64.EFI") && !is_dir && size == 5000)
        s->boot = 1;
    return 0;
}

static void check_volume(int bits, int kib)
{
    uint8_t *img, *d;
    size_t len, n;
    make_volume(bits, kib, &img, &len);
    struct p2v_layer *l;
    struct p2v_fat *f;
    assert_int_equal(p2v_memfile_open(img, len, &l), 0);
    assert_int_equal(p2v_fat_open(l, 0, len, "test ESP", &f), 0);

    int is_dir = 0;
    uint64_t size = 0;
    /* Long names, matched in any case, as firmware and Windows match them. */
    assert_int_equal(p2v_fat_stat(f, "/EFI/Microsoft/Boot/bootmgfw.efi", &is_dir, &size), 1);
    assert_int_equal(is_dir, 0);
    assert_int_equal(size, 5000);
    assert_int_equal(p2v_fat_stat(f, "\\efi\\MICROSOFT\\boot", &is_dir, NULL), 1);
    assert_int_equal(is_dir, 1);
    assert_int_equal(p2v_fat_stat(f, "/EFI/debian/systemd-bootx64.efi", NULL, &size), 1);
    assert_int_equal(size, 5);
    assert_int_equal(p2v_fat_stat(f, "/EFI/debian/shimx64.efi", NULL, NULL), 0);
    assert_int_equal(p2v_fat_stat(f, "/EFI/debian/grubx64.efi/x", NULL, NULL), 0);

    uint8_t *want = payload(5000);
    assert_int_equal(p2v_fat_read(f, "/EFI/Microsoft/Boot/bootmgfw.efi", 1 << 20, &d, &n), 0);
    assert_int_equal(n, 5000);
    assert_memory_equal(d, want, 5000);
    free(d);
    assert_int_equal(p2v_fat_read(f, "/EFI/Microsoft/Boot/bootmgfw.efi", 4999, &d, &n), -EFBIG);
    assert_int_equal(p2v_fat_read(f, "/EFI/debian", 100, &d, &n), -EISDIR);
    assert_int_equal(p2v_fat_read(f, "/EFI/none.efi", 100, &d, &n), -ENOENT);

    /* 43 entries: more than one 512-byte cluster of directory. */
    struct seen s = { 0, 0 };
    assert_int_equal(p2v_fat_list(f, "/EFI/BOOT", count, &s), 0);
    assert_int_equal(s.n, 41);
    assert_int_equal(s.boot, 1);
    assert_int_equal(p2v_fat_read(f, "/efi/boot/bootx64.efi", 1 << 20, &d, &n), 0);
    assert_memory_equal(d, want, 5000);
    free(d);
    s = (struct seen){ 0, 0 };
    assert_int_equal(p2v_fat_list(f, "/", count, &s), 0);
    assert_int_equal(s.n, 1);   /* EFI; the volume label is not an entry */
    assert_int_equal(p2v_fat_list(f, "/EFI/debian/grubx64.efi", count, &s), -ENOENT);
    p2v_fat_close(f);
    p2v_layer_close(l);

    /* A FAT whose every entry points at itself: lookups and reads end. */
    uint32_t rsvd = get_le16(img + 14), bps = get_le16(img + 11);
    uint32_t fatsz = get_le16(img + 22) ? get_le16(img + 22) : get_le32(img + 36);
    uint8_t *fat = img + (size_t)rsvd * bps;
    if (bits == 32)
        for (uint32_t c = 2; c < fatsz * bps / 4; c++)
            put_le32(fat + 4 * c, c);
    else if (bits == 16)
        for (uint32_t c = 2; c < fatsz * bps / 2; c++)
            put_le16(fat + 2 * c, (uint16_t)c);
    else
        memset(fat + 3, 0, (size_t)fatsz * bps - 3);   /* every chain reaches a free cluster */
    assert_int_equal(p2v_memfile_open(img, len, &l), 0);
    assert_int_equal(p2v_fat_open(l, 0, len, "damaged ESP", &f), 0);
    /* A directory that ends inside its first cluster reads; the file
     * needs ten clusters and its chain loops or stops at the first. */
    assert_int_equal(p2v_fat_stat(f, "/EFI/nothing", NULL, NULL), 0);
    assert_int_equal(p2v_fat_read(f, "/EFI/Microsoft/Boot/bootmgfw.efi", 1 << 20, &d, &n), -EIO);
    /* The 41-entry directory spans clusters: its walk meets the damage. */
    s = (struct seen){ 0, 0 };
    assert_int_equal(p2v_fat_list(f, "/EFI/BOOT", count, &s), -EIO);
    p2v_fat_close(f);
    p2v_layer_close(l);

    /* Not FAT: no signature. */
    img[510] = 0;
    assert_int_equal(p2v_memfile_open(img, len, &l), 0);
    assert_int_equal(p2v_fat_open(l, 0, len, "no ESP", &f), -EINVAL);
    p2v_layer_close(l);
    free(want);
    free(img);
}

static void fat12(void **state) { (void)state; check_volume(12, 1024); }
static void fat16(void **state) { (void)state; check_volume(16, 16384); }
static void fat32(void **state) { (void)state; check_volume(32, 40960); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fat12),
        cmocka_unit_test(fat16),
        cmocka_unit_test(fat32),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
