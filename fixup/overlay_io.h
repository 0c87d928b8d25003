/* The file operations the overlay uses on its state directory, as a table:
 * libc by default, a simulated file system in the crash tests, which drop,
 * keep or tear whatever was not synced when "the power fails".
 *
 * Every call returns as its libc namesake does (-1 with errno set).  Which
 * files go through it is said in overlay.c. */
#ifndef P2V_OVERLAY_IO_H
#define P2V_OVERLAY_IO_H

#include <sys/stat.h>
#include <sys/types.h>

struct p2v_overlay_io {
    int (*mkdir)(const char *path, mode_t mode);
    int (*openat)(int dirfd, const char *name, int flags, mode_t mode);
    int (*flock)(int fd, int op);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    ssize_t (*write)(int fd, const void *buf, size_t len);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*renameat)(int olddir, const char *oldname, int newdir, const char *newname);
    int (*unlinkat)(int dirfd, const char *name, int flags);
    int (*fstat)(int fd, struct stat *st);
    int (*close)(int fd);
};

/* The table in use (libc's unless a test installed another). */
const struct p2v_overlay_io *p2v_overlay_io(void);

/* For tests only: installs io (NULL: libc's again) for every overlay
 * opened afterwards and for those open now, so install it before opening
 * and restore it after closing.  Not thread-safe, by design. */
void p2v_overlay_set_io(const struct p2v_overlay_io *io);

/* Helpers over a table. */

/* Writes all of len bytes at the file position: 0 or -errno (-ENOSPC for
 * a write that stops short). */
int p2v_overlay_io_write_all(const struct p2v_overlay_io *io, int fd, const void *p, size_t len);

/* Reads len bytes at off, or fewer at the end of the file: the count, or
 * -errno. */
ssize_t p2v_overlay_io_read_full(const struct p2v_overlay_io *io, int fd, void *p, size_t len,
                                 off_t off);

/* fsync of the directory name relative to dirfd ("..": its parent), so
 * the names in it last.  0 or -errno. */
int p2v_overlay_io_sync_dir(const struct p2v_overlay_io *io, int dirfd, const char *name);

#endif
