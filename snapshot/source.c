#define _GNU_SOURCE
#include "source.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <stdint.h>
#include <unistd.h>

#define DIRECT_ALIGN 4096u

struct source {
    struct p2v_layer l;
    int fd;
    int dfd;          /* O_DIRECT descriptor, or -1 */
    int is_file;
    uint64_t real_size;
    char path[4096];
};

static int source_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct source *s = (struct source *)l;
    uint8_t *p = buf;

    /* Bytes past the real end exist only with --pad; they read as zeros. */
    if (off + len > s->real_size) {
        uint64_t keep = off >= s->real_size ? 0 : s->real_size - off;
        memset(p + keep, 0, len - keep);
        len = keep;
    }
    /* Aligned reads bypass the page cache: the view caches the image
     * already, and a second cached copy of the source costs a memcpy and
     * memory that a multi-terabyte copy cannot use again. */
    int fd = s->dfd >= 0 && off % DIRECT_ALIGN == 0 && len % DIRECT_ALIGN == 0 &&
             (uintptr_t)p % DIRECT_ALIGN == 0 ? s->dfd : s->fd;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EINVAL && fd != s->fd) {
            fd = s->fd;  /* stricter alignment than expected: go buffered */
            continue;
        }
        if (n < 0 && errno == EIO)
            return -EIO;  /* the bad-sector layer above finds and names the LBAs */
        if (n < 0) {
            int e = errno;
            p2v_err("source %s: read error at byte offset %llu (LBA %llu): %s "
                    "(a read of %zu bytes)", s->path, (unsigned long long)off,
                    (unsigned long long)(off / P2V_SECTOR), strerror(e), len);
            return -e;
        }
        if (n == 0) {
            p2v_err("source %s: unexpected end of data at byte offset %llu; "
                    "the source shrank since it was opened; remount it",
                    s->path, (unsigned long long)off);
            return -EIO;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Regular files report their holes with SEEK_DATA/SEEK_HOLE, which lets a
 * sparse multi-terabyte image be scanned in moments. */
static int source_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                          p2v_extent_fn fn, void *ctx)
{
    struct source *s = (struct source *)l;
    uint64_t end = off + len;
    uint64_t real_end = end < s->real_size ? end : s->real_size;

    while (off < real_end) {
        uint64_t data = off, hole = real_end;
        if (s->is_file) {
            off_t d = lseek(s->fd, (off_t)off, SEEK_DATA);
            struct stat st;
            if (d < 0 && errno == ENXIO && fstat(s->fd, &st) == 0 &&
                (uint64_t)st.st_size < real_end) {
                /* Not a hole: the file shrank.  Say so rather than serve zeros. */
                p2v_err("source %s: now %lld bytes, shorter than the %llu it had when "
                        "opened; remount it", s->path, (long long)st.st_size,
                        (unsigned long long)s->real_size);
                return -EIO;
            }
            if (d < 0 && errno == ENXIO)
                data = real_end;
            else if (d < 0)
                data = off;  /* no SEEK_DATA support: treat all as data */
            else
                data = (uint64_t)d < real_end ? (uint64_t)d : real_end;
            if (data < real_end) {
                off_t h = lseek(s->fd, (off_t)data, SEEK_HOLE);
                hole = h < 0 ? real_end : ((uint64_t)h < real_end ? (uint64_t)h : real_end);
            }
        }
        int r;
        if (data > off && (r = fn(ctx, off, data - off, P2V_EXTENT_ZERO)) != 0)
            return r;
        if (hole > data && (r = fn(ctx, data, hole - data, P2V_EXTENT_DATA)) != 0)
            return r;
        off = hole > data ? hole : data;
    }
    if (end > off)
        return fn(ctx, off, end - off, P2V_EXTENT_ZERO);
    return 0;
}

static void source_close(struct p2v_layer *l)
{
    struct source *s = (struct source *)l;
    if (s->dfd >= 0)
        close(s->dfd);
    close(s->fd);
    free(s);
}

static const struct p2v_layer_ops source_ops = {
    .name = "source",
    .read = source_read,
    .extents = source_extents,
    .close = source_close,
};

static int device_geometry(int fd, const char *path, uint64_t *size,
                           uint32_t *lss, uint32_t *pss)
{
    int ls = 0;
    unsigned int ps = 0;
    if (ioctl(fd, BLKGETSIZE64, size) < 0 || ioctl(fd, BLKSSZGET, &ls) < 0) {
        int e = errno;
        p2v_err("source %s: cannot query the block device's size: %s", path, strerror(e));
        return -e;
    }
    if (ioctl(fd, BLKPBSZGET, &ps) < 0)
        ps = (unsigned)ls;
    *lss = (uint32_t)ls;
    *pss = ps;
    return 0;
}

int p2v_source_open(const char *path, unsigned flags, struct p2v_layer **out,
                    struct p2v_source_info *info)
{
    struct stat st;
    memset(info, 0, sizeof *info);
    if (stat(path, &st) < 0) {
        int e = errno;
        p2v_err("cannot open source %s: %s", path, strerror(e));
        return -e;
    }
    if (S_ISDIR(st.st_mode)) {
        p2v_err("source %s is a directory; give a raw disk image file or a block device", path);
        return -EISDIR;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        p2v_err("source %s is neither a regular file nor a block device", path);
        return -EINVAL;
    }
    if (!realpath(path, info->path)) {
        int e = errno;
        p2v_err("cannot resolve source path %s: %s", path, strerror(e));
        return -e;
    }
    /* An exclusive open keeps anyone from mounting a block device under
     * our feet.  It fails while the device is in use; whether that use
     * writes is judged above (snapshot/holders.c), so read it anyway. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | (S_ISBLK(st.st_mode) ? O_EXCL : 0));
    if (fd < 0 && errno == EBUSY)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        p2v_err("cannot open source %s for reading: %s%s", path, strerror(e),
                e == EACCES ? " (run as a user who may read it, e.g. root)" : "");
        return -e;
    }
    char name[sizeof info->path];
    memcpy(name, info->path, sizeof name);
    return p2v_source_open_fd(fd, name, flags, out, info);
}

int p2v_source_open_fd(int fd, const char *name, unsigned flags, struct p2v_layer **out,
                       struct p2v_source_info *info)
{
    const char *path = name;
    struct stat st;
    memset(info, 0, sizeof *info);
    snprintf(info->path, sizeof info->path, "%s", name);
    /* fstat the opened descriptor: the path could have changed since stat. */
    if (fstat(fd, &st) < 0) {
        int e = errno;
        p2v_err("cannot stat source %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        p2v_err("source %s is neither a regular file nor a block device", path);
        close(fd);
        return -EINVAL;
    }
    info->is_blockdev = S_ISBLK(st.st_mode);
    info->mtime = st.st_mtim;
    info->ctime = st.st_ctim;
    info->rdev = st.st_rdev;
    info->logical_sector = info->physical_sector = P2V_SECTOR;
    if (info->is_blockdev) {
        int r = device_geometry(fd, path, &info->real_size, &info->logical_sector,
                                &info->physical_sector);
        if (r < 0) {
            close(fd);
            return r;
        }
    } else {
        info->real_size = (uint64_t)st.st_size;
    }
    if (info->real_size == 0) {
        p2v_err("source %s is empty (0 bytes)", path);
        close(fd);
        return -EINVAL;
    }
    info->size = info->real_size;
    if (info->real_size % P2V_SECTOR) {
        if (!(flags & P2V_SOURCE_PAD)) {
            p2v_err("source %s is %llu bytes, not a whole number of 512-byte sectors; "
                    "use --pad to append %llu zero bytes in the view", path,
                    (unsigned long long)info->real_size,
                    (unsigned long long)(P2V_SECTOR - info->real_size % P2V_SECTOR));
            close(fd);
            return -EINVAL;
        }
        info->size += P2V_SECTOR - info->real_size % P2V_SECTOR;
    }
    struct source *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return -ENOMEM;
    }
    s->l.ops = &source_ops;
    s->l.size = info->size;
    s->fd = fd;
    /* Without O_DIRECT support (some filesystems) reads stay buffered.  The
     * second descriptor is the same file opened again through /proc, not
     * by its name, which may name another file by now. */
    char self[40];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    s->dfd = flags & P2V_SOURCE_CACHED ? -1 : open(self, O_RDONLY | O_CLOEXEC | O_DIRECT);
    s->is_file = !info->is_blockdev;
    s->real_size = info->real_size;
    memcpy(s->path, info->path, sizeof s->path);
    /* Read the first sector now, so a source that cannot be read at all
     * fails here and not in the middle of a copy.  A bad sector (EIO) is
     * left to the --bad-sectors policy. */
    uint8_t probe[P2V_SECTOR];
    int r = source_read(&s->l, probe, sizeof probe, 0);
    if (r < 0 && r != -EIO) {
        source_close(&s->l);
        return r;
    }
    *out = &s->l;
    return 0;
}
