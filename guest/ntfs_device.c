#include "ntfs_device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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
