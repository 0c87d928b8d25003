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
#include <stdlib.h>
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
 * may write must be sticky (as /tmp), so they cannot rename the clone.
 * Checked on the descriptor the clone is then created in. */
static int dir_trusted(int dfd, const char *dir)
{
    struct stat st;
    if (fstat(dfd, &st) < 0) {
        int e = errno;
        p2v_err("--snapshot-dir %s: %s", dir, strerror(e));
        return -e;
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

/* The directory the clone goes in, canonical (the registry names the clone
 * by this path later), opened; -errno with a message. */
static int open_dir(const char *origin, const char *dir, char *canon)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", origin);
    if (!dir)
        snprintf(canon, PATH_MAX, "%s", dirname(d));  /* origin is canonical */
    else if (!realpath(dir, canon)) {
        int e = errno;
        p2v_err("--snapshot-dir %s: %s", dir, strerror(e));
        return -e;
    }
    int dfd = open(canon, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        int e = errno;
        p2v_err("%s %s: %s", dir ? "--snapshot-dir" : "cannot open the directory of", canon,
                strerror(e));
        return -e;
    }
    int r = dir ? dir_trusted(dfd, dir) : 0;
    if (r < 0) {
        close(dfd);
        return r;
    }
    return dfd;
}

/* FICLONE holds both inodes locked, so the clone is one moment of the
 * file; the stat before and after names that moment for the image
 * identity, and a write that slipped in between is retried. */
static int clone_into(int dst, int src, struct stat *origin_st)
{
    for (int tries = 0;; tries++) {
        struct stat before, after;
        if (fstat(src, &before) < 0 || ioctl(dst, FICLONE, src) < 0 || fstat(src, &after) < 0)
            return -errno;
        if (same_state(&before, &after)) {
            *origin_st = after;
            return 0;
        }
        if (tries == 4)
            return -EAGAIN;
    }
}

/* Only a read-only descriptor is kept: a fresh open of the same inode
 * through /proc (not by its name, which others may reach). */
static int read_only(int dst)
{
    char p[40];
    snprintf(p, sizeof p, "/proc/self/fd/%d", dst);
    int ro = open(p, O_RDONLY | O_CLOEXEC);
    if (ro < 0)
        return dst;  /* no /proc: keep the one we have, only read through */
    close(dst);
    return ro;
}

static void clone_failed(const char *origin, const char *out, int quiet, int r)
{
    int unsupported = r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL || r == -ENOTTY;
    if (!quiet || !unsupported)
        p2v_err("cannot clone %s into %s: %s%s", origin, out, strerror(-r),
                r == -EXDEV ? " (the snapshot directory must be on the same filesystem)"
                : unsupported ? " (the filesystem cannot reflink: XFS with reflink=1 or "
                                "btrfs can; use --snapshot none for an offline source)"
                : r == -EAGAIN ? " (the file is being written without pause)" : "");
}

int p2v_reflink_create(const char *origin, const char *dir, const char *id, int quiet,
                       char *out, size_t len, struct stat *origin_st, int *clone_fd,
                       struct stat *clone_st)
{
    char canon[PATH_MAX], b[PATH_MAX], name[PATH_MAX + 64];
    *clone_fd = -1;
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
    int dfd = open_dir(origin, dir, canon);
    if (dfd < 0) {
        close(src);
        return dfd;
    }
    snprintf(b, sizeof b, "%s", origin);
    snprintf(name, sizeof name, ".%s.p2v-snap-%s", basename(b), id);
    snprintf(out, len, "%s/%s", strcmp(canon, "/") ? canon : "", name);
    /* Made here, never followed, never an existing file: from now on the
     * clone is this descriptor, whatever its name comes to hold. */
    int dst = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (dst < 0) {
        int e = errno;
        close(src);
        close(dfd);
        if (quiet) {
            p2v_warn("cannot create the snapshot file %s: %s; not taking a reflink snapshot",
                     out, strerror(e));
            return -EOPNOTSUPP;
        }
        p2v_err("cannot create the snapshot file %s: %s%s", out, strerror(e),
                dir ? "" : " (--snapshot-dir DIR puts it elsewhere on the same filesystem)");
        return -e;
    }
    int r = clone_into(dst, src, origin_st);
    close(src);
    if (r == 0 && (fchmod(dst, 0400) < 0 || fstat(dst, clone_st) < 0))
        r = -errno;
    if (r < 0) {
        /* Only our own file goes: the name may hold another by now. */
        struct stat now;
        if (fstat(dst, clone_st) == 0 && fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            now.st_dev == clone_st->st_dev && now.st_ino == clone_st->st_ino)
            unlinkat(dfd, name, 0);
        close(dst);
        close(dfd);
        clone_failed(origin, out, quiet, r);
        int unsupported = r == -EOPNOTSUPP || r == -EXDEV || r == -EINVAL || r == -ENOTTY;
        return unsupported ? -EOPNOTSUPP : r;
    }
    close(dfd);
    *clone_fd = read_only(dst);
    return 0;
}
