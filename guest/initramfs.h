/* What a Linux initramfs holds: the kernel modules in it and the tool that
 * built it.  An initramfs is one or more cpio ("newc") archives one after
 * the other: uncompressed ones first (early microcode), then usually one
 * compressed with gzip, xz, zstd, lz4, bzip2 or lzma.  The uncompressed
 * segments are walked here (only to find where they end); libarchive reads
 * the compressed one.  Pure functions over bytes. */
#ifndef P2V_INITRAMFS_H
#define P2V_INITRAMFS_H

#include <stddef.h>
#include <stdint.h>

struct p2v_initramfs {
    char **modules;        /* module names ("virtio_blk": '-' read as '_'), sorted, unique */
    size_t nmodules;
    char generator[16];    /* initramfs-tools, dracut, mkinitcpio; "" unknown */
    size_t files;          /* entries seen in all segments */
};

/* Reads data.  0, or -EINVAL / -ENOMEM with why filled ("segment 2 at byte
 * 5120: not a cpio archive ..."). */
int p2v_initramfs_read(const uint8_t *data, size_t len, struct p2v_initramfs *out, char *why,
                       size_t whylen);
void p2v_initramfs_free(struct p2v_initramfs *ir);
/* 1 if the initramfs holds module name ('-' and '_' alike). */
int p2v_initramfs_has(const struct p2v_initramfs *ir, const char *name);
/* The module name of a path ("kernel/drivers/block/virtio_blk.ko.zst" ->
 * "virtio_blk") into out; 0 if the path is no module. */
int p2v_module_name(const char *path, char *out, size_t len);

#endif
