/* Disk bytes from a source disk (possibly hostile: a disk image someone
 * handed over) through what p2v does before serving an image: the
 * partition-table probe (libblkid), the disk layout (NTFS and ext free-space
 * maps, the XFS log's state, GPT checks, the MBR or GPT around a bare volume), the allocation map,
 * the VHD and VHDX encoders, and the Windows inspection (read-only), as in
 * tools/stack.c.
 *
 * The input is the start of the disk.  An input of up to 64 KiB is the whole
 * disk (rounded up to 512 bytes), so a small GPT disk keeps its backup
 * header; a longer one is padded with zeros to a 4 MiB disk, so a seed stores
 * only the head of a bigger disk (an NTFS volume needs about 1 MiB of it).
 * Bit 0 of the length picks MBR or GPT wrapping for a bare volume.
 *
 * The libraries (libblkid, libntfs-3g, libext2fs) are not instrumented:
 * coverage guides through p2v's own code, and a library fault shows only as
 * a crash or through ASan's interceptors. */
#define _GNU_SOURCE
#include "tests/fuzz/harness.h"
#include "core/layer.h"
#include "core/log.h"
#include "core/memfile.h"
#include "layout/fsmap.h"
#include "layout/layout_plan.h"
#include "layout/partitions.h"
#include "guest/windows.h"
#include "vhdwriter/allocmap.h"
#include "vhdwriter/vhd.h"
#include "vhdwriter/vhdx.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/volume.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SMALL (64u * 1024)
#define BIG (4u * 1024 * 1024)

/* libntfs-3g 2022.10.3 leaks when ntfs_device_mount fails to read $AttrDef:
 * its error path skips closing the $AttrDef inode and attribute (1.2 KiB per
 * damaged volume, found by this harness: corpus/disk/crash-ntfs-attrdef-leak.bin).
 * p2v cannot free them.  So, with LeakSanitizer, a mount is first tried on
 * a second device over the same volume with leak detection off: when that
 * fails, so would the real one, and its leak is the library's; when it
 * succeeds, it is unmounted and the real mount runs with leak detection on,
 * so a volume p2v forgets to unmount is still reported. */
extern void __lsan_disable(void) __attribute__((weak));
extern void __lsan_enable(void) __attribute__((weak));

ntfs_volume *ntfs_device_mount(struct ntfs_device *dev, ntfs_mount_flags flags)
{
    static ntfs_volume *(*real)(struct ntfs_device *, ntfs_mount_flags);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "ntfs_device_mount");
    if (!real)
        abort();
    /* Only read-only mounts are tried twice: a read-write one writes. */
    if (!__lsan_disable || !__lsan_enable || !(flags & NTFS_MNT_RDONLY))
        return real(dev, flags);
    __lsan_disable();
    struct ntfs_device *probe = ntfs_device_alloc(dev->d_name, 0, dev->d_ops, dev->d_private);
    ntfs_volume *v = probe ? real(probe, flags) : NULL;
    int e = errno;
    if (v)
        ntfs_umount(v, FALSE);  /* frees probe */
    else if (probe)
        ntfs_device_free(probe);
    __lsan_enable();
    if (!v) {
        errno = e;
        return NULL;
    }
    dev->d_ops->seek(dev, 0, SEEK_SET);
    return real(dev, flags);
}

static int fd = -1;
static char path[64];
static uint8_t *disk;  /* BIG bytes, zero outside the current input */
static uint8_t *buf;   /* 1 MiB for reads */

struct walk {
    uint64_t data, end;
    uint64_t off[8], len[8];
    int n;
};

static int note_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct walk *w = ctx;
    if (off != w->end || len == 0)
        abort();  /* extents are contiguous, ascending and not empty */
    w->end = off + len;
    if (kind != P2V_EXTENT_ZERO) {
        w->data += len;
        if (w->n < 8) {
            w->off[w->n] = off;
            w->len[w->n++] = len;
        }
    }
    return 0;
}

/* Reads l all over (a few KiB every 64 KiB, so every piece of an image
 * file is read: headers, tables, padding, data), and the first data
 * extents whole, in uneven pieces; walks its extents. */
static void read_all(struct p2v_layer *l, uint8_t *buf, size_t cap)
{
    struct walk w = { 0 };
    if (p2v_layer_extents(l, 0, l->size, note_extent, &w) == 0 && w.end != l->size)
        abort();
    for (uint64_t off = 0; off < l->size; off += 65536 + 512) {
        size_t n = 4096 + 7 < l->size - off ? 4096 + 7 : (size_t)(l->size - off);
        (void)p2v_layer_read(l, buf, n, off);
    }
    static const size_t piece[] = { 511, 4096, 65536 + 7, 1u << 20 };
    for (int e = 0; e < w.n && e < 3; e++) {
        uint64_t end = w.off[e] + (w.len[e] < (2u << 20) ? w.len[e] : (2u << 20));
        for (uint64_t off = w.off[e], i = 0; off < end; i++) {
            size_t n = piece[i % 4] < cap ? piece[i % 4] : cap;
            if (n > end - off)
                n = (size_t)(end - off);
            if (p2v_layer_read(l, buf, n, off) < 0)
                break;
            off += n;
        }
    }
    /* An unaligned range too. */
    struct walk w2 = { .end = 1000 };
    if (l->size > 3000)
        (void)p2v_layer_extents(l, 1000, l->size - 2000, note_extent, &w2);
}

static void windows(struct p2v_layer *l, const struct p2v_partition_table *t,
                    const struct p2v_wrap *wrap, uint64_t size)
{
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    int n = p2v_layout_volumes(t, wrap, size, vols, P2V_MAX_PARTITIONS);
    if (n < 0 || n > P2V_MAX_PARTITIONS)
        abort();
    struct p2v_windows w;
    if (p2v_windows_find(l, vols, n, "fuzz", 0, &w, NULL) == 0) {
        /* Every string must be terminated. */
        size_t sum = strlen(w.systemroot) + strlen(w.product) + strlen(w.version) +
                     strlen(w.build) + strlen(w.installation_type) + strlen(w.edition) +
                     strlen(w.arch) + strlen(w.hostname) + strlen(w.ccs);
        if (sum > sizeof w)
            abort();
        char hp[4200];
        p2v_windows_hive_path(&w, "SYSTEM", hp, sizeof hp);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        p2v_log_quiet(1);
        fd = memfd_create("p2v-fuzz-disk", MFD_CLOEXEC);
        disk = calloc(1, BIG);
        buf = malloc(1u << 20);
        if (fd < 0 || !disk || !buf)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (size == 0 || size > BIG)
        return 0;
    uint64_t dsize = size <= SMALL ? (size + 511) / 512 * 512 : BIG;
    memcpy(disk, data, size);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size ||
        ftruncate(fd, (off_t)dsize) < 0)
        abort();

    struct p2v_partition_table *t = malloc(sizeof *t);
    if (!t)
        abort();
    struct p2v_layer *src = NULL, *layout = NULL, *map = NULL, *img = NULL;
    struct p2v_wrap wrap;
    if (p2v_partitions_probe(path, path, dsize, 0, t) < 0)
        goto out;
    if (t->n < 0 || t->n > P2V_MAX_PARTITIONS)
        abort();
    for (int i = 0; i < t->n; i++)
        if (t->part[i].start + t->part[i].size > dsize)
            abort();  /* the probe promises partitions inside the disk */
    if (p2v_memfile_open(disk, dsize, &src) < 0)
        abort();
    struct p2v_layout_opts o = { .fs_flags = P2V_FS_INSPECT, .gpt = (int)(size & 1) };
    if (p2v_layout_plan(src, "fuzz", t, &o, &wrap, &layout) < 0) {
        p2v_layer_close(src);
        goto out;
    }
    /* The planned disk holds the source and, for a wrapped volume, its
     * new table around it. */
    if (layout->size < dsize)
        abort();
    windows(layout, t, &wrap, dsize);
    if (p2v_allocmap_open(layout, P2V_ALLOC_SCAN, NULL, NULL, &map) < 0) {
        p2v_layer_close_stack(layout);
        goto out;
    }
    struct p2v_vhd_params vp = { .dynamic = 1, .timestamp = 1 };
    memcpy(vp.unique_id, "fuzz-unique-id-!", 16);
    if (p2v_vhd_open(map, &vp, &img) == 0) {
        read_all(img, buf, 1u << 20);
        p2v_layer_close(img);  /* the allocation map stays for the VHDX */
    }
    struct p2v_vhdx_params xp = { .dynamic = 1, .block_size = 1u << 20, .logical_sector = 512,
                                  .physical_sector = 4096 };
    memcpy(xp.unique_id, vp.unique_id, 16);
    if (p2v_vhdx_open(map, &xp, &img) == 0) {
        struct p2v_vhdx_layout x;
        p2v_vhdx_describe(img, &x);
        if (x.blocks_present > x.blocks_total || x.file_size != img->size)
            abort();
        read_all(img, buf, 1u << 20);
        p2v_layer_close_stack(img);
    } else {
        p2v_layer_close_stack(map);
    }
out:
    free(t);
    memset(disk, 0, size);
    return 0;
}
