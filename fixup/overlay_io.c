#define _GNU_SOURCE
#include "overlay_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>  /* renameat */
#include <sys/file.h>
#include <unistd.h>

/* openat's mode is variadic in libc: a fixed signature for the table. */
static int libc_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    return openat(dirfd, name, flags, mode);
}

static const struct p2v_overlay_io libc_io = {
    .mkdir = mkdir,
    .openat = libc_openat,
    .flock = flock,
    .pread = pread,
    .pwrite = pwrite,
    .write = write,
    .fsync = fsync,
    .fdatasync = fdatasync,
    .renameat = renameat,
    .unlinkat = unlinkat,
    .fstat = fstat,
    .close = close,
};

static const struct p2v_overlay_io *current = &libc_io;

const struct p2v_overlay_io *p2v_overlay_io(void)
{
    return current;
}

void p2v_overlay_set_io(const struct p2v_overlay_io *io)
{
    current = io ? io : &libc_io;
}

int p2v_overlay_io_write_all(const struct p2v_overlay_io *io, int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = io->write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ENOSPC;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t p2v_overlay_io_read_full(const struct p2v_overlay_io *io, int fd, void *buf, size_t len,
                                 off_t off)
{
    unsigned char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = io->pread(fd, p + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int p2v_overlay_io_sync_dir(const struct p2v_overlay_io *io, int dirfd, const char *name)
{
    int fd = io->openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = io->fsync(fd) < 0 ? -errno : 0;
    io->close(fd);  /* read-only: nothing to report */
    return r;
}
