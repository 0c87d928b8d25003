#define _GNU_SOURCE
#include "reflink.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int same_state(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* --snapshot-dir: the clone is served as the source, so nobody else may be
 * able to swap it: the directory is the caller's or root's, and one others
 * may write must be sticky (as /tmp), so they cannot rename the clone. */
static int dir_trusted(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        int e = errno;
        p2v_err("--snapshot-dir %s: %s", dir, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        p2v_err("--snapshot-dir %s is not a directory", dir);
        return -ENOTDIR;
    }
    if ((st.st_uid != geteuid() && st.st_uid != 0) ||
        ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
        p2v_err("--snapshot-dir %s belongs to uid %u or may be written by others without the "
                "sticky bit: another user could replace the clone p2v serves as the source; use a "
                "directory of your own (chmod go-w)", dir, (unsigned)st.st_uid);
        return -EPERM;
    }
    return 0;
}

int p2v_reflink_create(const char *origin, const char *dir, const char *id, int quiet,
                       char *out, size_t len, struct stat *origin_st)
{
    if (dir) {
        int r = dir_trusted(dir);
        if (r < 0)
            return r;
    }
    char d[PATH_MAX], b[PATH_MAX];
    snprintf(d, sizeof d, "%s", origin);
    snprintf(b, sizeof b, "%s", origin);
    snprintf(out, len, "%s/.%s.p2v-snap-%s", dir ? dir : dirname(d), basename(b), id);
    int src = open(origin, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        int e = errno;
        p2v_err("cannot open %s to snapshot it: %s", origin, strerror(e));
        return -e;
    }
    /* auto tries only where a clone can work, without touching others'
     * directories. */
    struct statfs sf;
    if (quiet && !dir && (fstatfs(src, &sf) < 0 || (sf.f_type != XFS_SUPER_MAGIC &&
                                                    sf.f_type != BTRFS_SUPER_MAGIC))) {
        close(src);
        return -EOPNOTSUPP;
    }
    int dst = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (dst < 0) {
        int e = errno;
        if (quiet) {
            p2v_warn("cannot create the snapshot file %s: %s; not taking a reflink snapshot",
                     out, strerror(e));
            close(src);
            return -EOPNOTSUPP;
        }
            p2v_err("cannot create the snapshot file %s: %s%s", out, strerror(e),
                    dir ? "" : " (--snapshot-dir DIR puts it elsewhere on the same filesystem)");
        close(src);
        return -e;
    }
    /* FICLONE holds both inodes locked, so the clone is one moment of the
     * file; the stat before and after names that moment for the image
     * identity, and a write that slipped in between is retried. */
    int r = 0;
    for (int tries = 0;; tries++) {
        struct stat before, after;
        if (fstat(src, &before) < 0 || ioctl(dst, FICLONE, src) < 0 || fstat(src, &after) < 0) {
            r = -errno;
            break;
        }
        if (same_state(&before, &after)) {
            *origin_st = after;
            break;
        }
        if (tries == 4) {
            r = -EAGAIN;
            break;
        }
    }
    close(src);
    if (r == 0 && fchmod(dst, 0400) < 0)
        r = -errno;
    if (close(dst) < 0 && r == 0)
        r = -errno;
    if (r < 0) {
        unlink(out);
        int unsupported = r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL || r == -ENOTTY;
        if (!quiet || !unsupported)
            p2v_err("cannot clone %s into %s: %s%s", origin, out, strerror(-r),
                    r == -EXDEV ? " (the snapshot directory must be on the same filesystem)"
                    : unsupported ? " (the filesystem cannot reflink: XFS with reflink=1 or "
                                    "btrfs can; use --snapshot none for an offline source)"
                    : r == -EAGAIN ? " (the file is being written without pause)" : "");
        return unsupported ? -EOPNOTSUPP : r;
    }
    return 0;
}
