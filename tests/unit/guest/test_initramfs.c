/* Kernel modules in an initramfs: an uncompressed newc segment (early
 * microcode) followed by a gzip-compressed one, as initramfs-tools and
 * dracut write them; names read with '-' as '_'; the tool that built it;
 * damaged archives refused with where and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "guest/initramfs.h"

struct buf {
    uint8_t d[1 << 16];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->d);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void pad4(struct buf *b)
{
    while (b->n % 4)
        b->d[b->n++] = 0;
}

/* One newc entry (the fields cpio -H newc writes). */
static void entry(struct buf *b, const char *name, const char *data)
{
    char h[160];
    size_t dl = data ? strlen(data) : 0;
    snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1u,
             data ? 0100644u : 040755u, 0u, 0u, 1u, 0u, (unsigned)dl, 0u, 0u, 0u, 0u, (unsigned)strlen(name) + 1, 0u);
    put(b, h, 110);
    put(b, name, strlen(name) + 1);
    pad4(b);
    if (dl)
        put(b, data, dl);
    pad4(b);
}

static void archive(struct buf *b, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        entry(b, names[i], strchr(names[i], '.') ? "x" : NULL);
    entry(b, "TRAILER!!!", NULL);
}

static void gzip_append(struct buf *out, const struct buf *in)
{
    z_stream z = { 0 };
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)in->d;
    z.avail_in = (uInt)in->n;
    z.next_out = out->d + out->n;
    z.avail_out = (uInt)(sizeof out->d - out->n);
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->n += z.total_out;
    deflateEnd(&z);
}

static const char *const early[] = { "kernel", "kernel/x86", "kernel/x86/microcode",
                                     "kernel/x86/microcode/GenuineIntel.bin", NULL };
static const char *const main_names[] = {
    "conf", "conf/initramfs.conf", "usr/lib/modules/6.1.0/kernel/drivers/ata/ahci.ko",
    "usr/lib/modules/6.1.0/kernel/drivers/ata/libahci.ko.xz",
    "usr/lib/modules/6.1.0/kernel/drivers/ata/ata-piix.ko.zst",
    "usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko", "etc/modprobe.d/x.conf",
    "usr/lib/modules/6.1.0/kernel/drivers/ata/ahci.ko", NULL
};

static void early_then_gzip(void **state)
{
    (void)state;
    static struct buf img, inner;
    img.n = inner.n = 0;
    archive(&img, early);
    /* the kernel skips zeros between archives */
    memset(img.d + img.n, 0, 512);
    img.n += 512;
    archive(&inner, main_names);
    gzip_append(&img, &inner);
    struct p2v_initramfs ir;
    char why[256];
    assert_int_equal(p2v_initramfs_read(img.d, img.n, &ir, why, sizeof why), 0);
    assert_int_equal(ir.nmodules, 4);  /* ahci once */
    assert_string_equal(ir.modules[0], "ahci");
    assert_string_equal(ir.modules[1], "ata_piix");
    assert_string_equal(ir.modules[2], "libahci");
    assert_string_equal(ir.modules[3], "virtio_blk");
    assert_string_equal(ir.generator, "initramfs-tools");
    assert_true(p2v_initramfs_has(&ir, "ata-piix"));
    assert_true(p2v_initramfs_has(&ir, "virtio_blk"));
    assert_false(p2v_initramfs_has(&ir, "virtio_pci"));
    assert_int_equal(ir.files, 4 + 8);
    p2v_initramfs_free(&ir);
}

static void plain_only(void **state)
{
    (void)state;
    static struct buf img;
    img.n = 0;
    archive(&img, main_names);
    struct p2v_initramfs ir;
    char why[256];
    assert_int_equal(p2v_initramfs_read(img.d, img.n, &ir, why, sizeof why), 0);
    assert_int_equal(ir.nmodules, 4);
    p2v_initramfs_free(&ir);
}

static void damaged(void **state)
{
    (void)state;
    static struct buf img, inner;
    struct p2v_initramfs ir;
    char why[256];
    img.n = 0;
    archive(&img, main_names);
    img.d[60] = 'Z';  /* a header's size field is no longer hex */
    assert_int_equal(p2v_initramfs_read(img.d, img.n, &ir, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "damaged cpio header"));
    img.n = 0;
    archive(&img, main_names);
    img.n -= 130;  /* the trailer is cut off */
    assert_int_equal(p2v_initramfs_read(img.d, img.n, &ir, why, sizeof why), -EINVAL);
    /* garbage after the early archive */
    img.n = 0;
    archive(&img, early);
    put(&img, "this is not an archive at all, compressed or not", 48);
    assert_int_equal(p2v_initramfs_read(img.d, img.n, &ir, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "byte"));
    /* a gzip stream cut in the middle */
    img.n = inner.n = 0;
    archive(&inner, main_names);
    gzip_append(&img, &inner);
    img.n /= 2;
    assert_int_equal(p2v_initramfs_read(img.d, img.n, &ir, why, sizeof why), -EINVAL);
    assert_int_equal(p2v_initramfs_read(img.d, 0, &ir, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "empty"));
}

static void module_names(void **state)
{
    (void)state;
    char n[64];
    assert_true(p2v_module_name("a/b/virtio-scsi.ko.zst", n, sizeof n));
    assert_string_equal(n, "virtio_scsi");
    assert_true(p2v_module_name("ahci.ko", n, sizeof n));
    assert_string_equal(n, "ahci");
    assert_false(p2v_module_name("a/ko", n, sizeof n));
    assert_false(p2v_module_name("a/.ko", n, sizeof n));
    assert_false(p2v_module_name("x.ko.bz2", n, sizeof n));
    assert_false(p2v_module_name("modules.dep", n, sizeof n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(early_then_gzip),
        cmocka_unit_test(plain_only),
        cmocka_unit_test(damaged),
        cmocka_unit_test(module_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
