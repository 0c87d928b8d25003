#include "ntfs_device.h"

#include "core/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/logging.h>

struct part {
    struct p2v_layer *l;
    uint64_t start, size;
    int64_t pos;    /* for the seek/read pair a few helpers use */
};

static int dev_open(struct ntfs_device *dev, int flags)
{
    struct part *p = dev->d_private;
    int rw = (flags & O_ACCMODE) != O_RDONLY;
    if (rw && !p->l->ops->write) {
        errno = EROFS;
        return -1;
    }
    NDevSetOpen(dev);
    if (!rw)
        NDevSetReadOnly(dev);
    return 0;
}

static int dev_close(struct ntfs_device *dev)
{
    NDevClearOpen(dev);  /* else ntfs_device_free refuses with EBUSY */
    return 0;
}

/* Must fail past the partition: the boot sector check probes the volume's
 * last sector with a seek. */
static s64 dev_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct part *p = dev->d_private;
    int64_t to = whence == SEEK_SET ? offset
               : whence == SEEK_CUR ? p->pos + offset : (int64_t)p->size + offset;
    if (to < 0 || (uint64_t)to > p->size) {
        errno = EINVAL;
        return -1;
    }
    return p->pos = to;
}

static s64 dev_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct part *p = dev->d_private;
    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= p->size)
        return 0;
    if ((uint64_t)count > p->size - (uint64_t)offset)
        count = (s64)(p->size - (uint64_t)offset);
    int r = p2v_layer_read(p->l, buf, (size_t)count, p->start + (uint64_t)offset);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return count;
}

static s64 dev_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct part *p = dev->d_private;
    s64 n = dev_pread(dev, buf, count, p->pos);
    if (n > 0)
        p->pos += n;
    return n;
}

/* Writes go to the layer (the COW overlay), never past the partition. */
static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct part *p = dev->d_private;
    if (offset < 0 || count < 0 || (uint64_t)offset > p->size ||
        (uint64_t)count > p->size - (uint64_t)offset) {
        errno = offset < 0 || count < 0 ? EINVAL : ENOSPC;
        return -1;
    }
    int r = p2v_layer_write(p->l, buf, (size_t)count, p->start + (uint64_t)offset);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return count;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct part *p = dev->d_private;
    s64 n = dev_pwrite(dev, buf, count, p->pos);
    if (n > 0)
        p->pos += n;
    return n;
}

static int dev_sync(struct ntfs_device *dev)
{
    (void)dev;
    return 0;
}

static int dev_stat(struct ntfs_device *dev, struct stat *st)
{
    (void)dev, (void)st;
    errno = ENOTSUP;
    return -1;
}

static int dev_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    (void)dev, (void)request, (void)argp;
    errno = ENOTTY;
    return -1;
}

static struct ntfs_device_operations ops = {
    .open = dev_open, .close = dev_close, .seek = dev_seek, .read = dev_read,
    .write = dev_write, .pread = dev_pread, .pwrite = dev_pwrite, .sync = dev_sync,
    .stat = dev_stat, .ioctl = dev_ioctl,
};

static ntfs_volume *mount_flags(struct p2v_layer *l, uint64_t start, uint64_t size,
                                const char *name, unsigned long flags)
{
    /* The library's own messages would go to stderr unasked; p2v says what
     * failed itself. */
    if (getenv("P2V_NTFS_DEBUG")) {
        ntfs_log_set_handler(ntfs_log_handler_stderr);
        ntfs_log_set_levels(0xffff);
    } else {
        ntfs_log_set_handler(ntfs_log_handler_null);
    }
    struct part *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    *p = (struct part){ .l = l, .start = start, .size = size };
    struct ntfs_device *dev = ntfs_device_alloc(name, 0, &ops, p);
    if (!dev) {
        free(p);
        return NULL;
    }
    ntfs_volume *vol = ntfs_device_mount(dev, flags);
    if (!vol) {
        int e = errno;
        ntfs_device_free(dev);
        free(p);
        errno = e;
    }
    return vol;
}

ntfs_volume *p2v_ntfs_mount(struct p2v_layer *l, uint64_t start, uint64_t size,
                            const char *name)
{
    return mount_flags(l, start, size, name, NTFS_MNT_RDONLY);
}

ntfs_volume *p2v_ntfs_mount_rw(struct p2v_layer *l, uint64_t start, uint64_t size,
                               const char *name)
{
    return mount_flags(l, start, size, name, 0);
}

int p2v_ntfs_umount(ntfs_volume *vol)
{
    void *p = vol->dev->d_private;
    int r = ntfs_umount(vol, FALSE) < 0 ? -errno : 0;  /* frees the device, not its private data */
    free(p);
    return r;
}

/* The boot sector's fields libntfs-3g and libblkid need, checked here so a
 * damaged volume is named by what is wrong in it. */
static int boot_damage(const uint8_t *b, uint64_t size, uint64_t *mft, uint32_t *rec,
                       uint32_t *bps, char *why, size_t len)
{
    *bps = get_le16(b + 0x0b);
    uint8_t spc = b[0x0d];
    int8_t cpr = (int8_t)b[0x40];
    /* Over 0x80: a power of two of sectors, as libntfs-3g reads it. */
    uint64_t cs = (spc <= 0x80 ? spc : spc >= 0xf4 ? 1ull << (256 - spc) : 0) * (uint64_t)*bps;
    if (memcmp(b + 3, "NTFS    ", 8) != 0)
        snprintf(why, len, "its OEM id (offset 3) is not \"NTFS    \"");
    else if (*bps < 256 || *bps > 4096 || (*bps & (*bps - 1)))
        snprintf(why, len, "its bytes per sector (offset 0x0b) is %u, not a power of two "
                 "from 256 to 4096", *bps);
    else if (!cs || (cs & (cs - 1)) || cs > (2u << 20))
        snprintf(why, len, "its sectors per cluster (offset 0x0d) is 0x%02x, not a valid "
                 "count", spc);
    else if (get_le64(b + 0x28) > size / *bps)
        snprintf(why, len, "its sector count (offset 0x28) is %llu, past the volume's end "
                 "(%llu sectors)", (unsigned long long)get_le64(b + 0x28),
                 (unsigned long long)(size / *bps));
    else if (cpr == 0 || (cpr < 0 && (cpr < -31 || 1u << -cpr < 256 || 1u << -cpr > 65536)) ||
             (cpr > 0 && (uint64_t)cpr * cs > 65536))
        snprintf(why, len, "its clusters per MFT record (offset 0x40) is %d, not a valid "
                 "size", cpr);
    else {
        /* The record's size first: the whole record must lie in the volume. */
        uint32_t r = cpr < 0 ? 1u << -cpr : (uint32_t)(cpr * cs);
        if (r > size || get_le64(b + 0x30) > (size - r) / cs) {
            snprintf(why, len, "its $MFT cluster (offset 0x30) is %llu, past the volume's end",
                     (unsigned long long)get_le64(b + 0x30));
            return 1;
        }
        *rec = r;
        *mft = get_le64(b + 0x30) * cs;
        return 0;
    }
    return 1;
}

/* What is wrong in a FILE record of rec bytes: its magic, its update
 * sequence (the last two bytes of every sector carry its number). */
static const char *record_damage(const uint8_t *r, uint32_t rec, char *why, size_t len)
{
    /* The update sequence covers 512-byte strides whatever the sector
     * size (NTFS's rule, as libntfs-3g and the kernel check it). */
    uint16_t usa = get_le16(r + 4), n = get_le16(r + 6);
    const uint32_t stride = 512;
    if (memcmp(r, "FILE", 4) != 0) {
        snprintf(why, len, "its signature is \"%c%c%c%c\" (hex %02x%02x%02x%02x), not \"FILE\"",
                 r[0] >= 0x20 && r[0] < 0x7f ? r[0] : '?', r[1] >= 0x20 && r[1] < 0x7f ? r[1] : '?',
                 r[2] >= 0x20 && r[2] < 0x7f ? r[2] : '?', r[3] >= 0x20 && r[3] < 0x7f ? r[3] : '?',
                 r[0], r[1], r[2], r[3]);
        return why;
    }
    if (usa < 0x28 || rec % stride || n != rec / stride + 1 || (uint32_t)usa + 2u * n > stride - 2) {
        snprintf(why, len, "its update sequence array (offset 4: at %u, %u entries) does not "
                 "fit a %u-byte record", usa, n, rec);
        return why;
    }
    for (uint32_t s = 1; s < n; s++)
        if (memcmp(r + s * stride - 2, r + usa, 2) != 0) {
            snprintf(why, len, "sector %u of it was not written whole (its update sequence "
                     "number does not match)", s - 1);
            return why;
        }
    return NULL;
}

int p2v_ntfs_damage(struct p2v_layer *l, uint64_t start, uint64_t size, char *why, size_t len)
{
    uint8_t b[512];
    char what[200];
    uint64_t mft = 0;
    uint32_t rec = 0, bps = 0;
    if (size < 8192)
        return 0;
    int r = p2v_layer_read(l, b, sizeof b, start);
    if (r < 0)
        return r;
    if (boot_damage(b, size, &mft, &rec, &bps, what, sizeof what)) {
        snprintf(why, len, "the NTFS boot sector at byte %llu is damaged: %s. Run chkdsk /f "
                 "on the source machine, or ntfsfix on a copy of the image (it restores the "
                 "boot sector from its backup at the volume's end)",
                 (unsigned long long)start, what);
        return 1;
    }
    uint8_t *m = malloc(rec);
    if (!m)
        return -ENOMEM;
    r = p2v_layer_read(l, m, rec, start + mft);
    if (r == 0 && record_damage(m, rec, what, sizeof what)) {
        snprintf(why, len, "$MFT record 0 at offset %llu of the volume (byte %llu of the "
                 "disk) is damaged: %s; the boot sector is sound. Run chkdsk /f on the source "
                 "machine, or ntfsfix on a copy of the image (it restores the record from "
                 "$MFTMirr)", (unsigned long long)mft, (unsigned long long)(start + mft), what);
        r = 1;
    }
    free(m);
    return r;
}
