#define _GNU_SOURCE
#include "snapshot.h"

#include "lvm.h"
#include "reflink.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int p2v_snap_provider_parse(const char *s, enum p2v_snap_provider *p)
{
    static const char *const names[] = { "auto", "none", "reflink", "lvm" };
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *p = (enum p2v_snap_provider)i;
            return 0;
        }
    return -1;
}

const char *p2v_snap_provider_name(enum p2v_snap_provider p)
{
    static const char *const names[] = { "auto", "none", "reflink", "lvm" };
    return names[p];
}

/* Short and unique enough among one machine's snapshots: time and pid. */
static void new_id(char *out, size_t len)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    unsigned long long v = ((unsigned long long)t.tv_sec << 20) ^ (unsigned long long)t.tv_nsec ^
                           ((unsigned long long)getpid() << 40);
    snprintf(out, len, "%08llx", (v ^ (v >> 29)) & 0xFFFFFFFFull);
}

struct take {
    const char *origin;
    const struct p2v_snap_opts *o;
    struct p2v_snapshot *s;
    enum p2v_snap_provider want;
    int quiet;          /* auto: a provider that does not apply is no error */
};

/* The clone as recorded: a regular file of the caller's (another user
 * cannot make a file the caller owns), the same inode when the record
 * knows it (records of older versions do not). */
static int is_clone(const struct p2v_snap_record *r, const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
           (!r->ino || ((unsigned long long)st->st_dev == r->dev &&
                        (unsigned long long)st->st_ino == r->ino));
}

static int open_known(const char *origin, const struct p2v_snap_record *k)
{
    /* Non-blocking: a FIFO put at the name must not hang the open; the
     * check below refuses anything but the clone, a regular file. */
    int fd = open(origin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, 0) < 0) {
        int e = errno;
        p2v_err("cannot open source %s (p2v snapshot %s): %s", origin, k->id, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    if (!is_clone(k, &st)) {
        p2v_err("source %s is recorded as p2v snapshot %s, but is no longer the clone p2v made "
                "(another file, of uid %u, has taken its name); not reading it: someone may have "
                "replaced it. `p2v snapshot delete %s` forgets the record", origin, k->id,
                (unsigned)st.st_uid, k->id);
        close(fd);
        return -EPERM;
    }
    return fd;
}

static int take_reflink(struct take *t)
{
    struct stat cst;
    int r = p2v_reflink_create(t->origin, t->o->dir, t->s->rec.id, t->quiet, t->s->rec.path,
                               sizeof t->s->rec.path, &t->s->origin_st, &t->s->fd, &cst);
    if (r == 0) {
        snprintf(t->s->rec.provider, sizeof t->s->rec.provider, "reflink");
        t->s->rec.dev = (unsigned long long)cst.st_dev;
        t->s->rec.ino = (unsigned long long)cst.st_ino;
    }
    return r;
}

/* The LV just made, opened now and checked to be it (device-mapper's name
 * for the device behind the node): from here on it is read through this
 * descriptor.  Exclusive when it can be, so nobody mounts it meanwhile. */
static int open_lv(struct take *t, const char *vg)
{
    const char *path = t->s->rec.path;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_EXCL);
    if (fd < 0 && errno == EBUSY)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        p2v_err("cannot open the snapshot %s just made: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    char v[128], l[128], want[64];
    snprintf(want, sizeof want, "p2v-snap-%s", t->s->rec.id);
    if (!S_ISBLK(st.st_mode) || !p2v_lvm_is_lv(st.st_rdev, v, sizeof v, l, sizeof l) ||
        strcmp(v, vg) || strcmp(l, want)) {
        p2v_err("%s is not the snapshot LV %s/%s p2v just made; not reading it", path, vg, want);
        close(fd);
        return -EIO;
    }
    t->s->rec.dev = (unsigned long long)st.st_rdev;
    return fd;
}

static int take_lvm(struct take *t)
{
    struct stat st;
    char vg[128], lv[128], why[160];
    if (stat(t->origin, &st) < 0 || !S_ISBLK(st.st_mode) ||
        !p2v_lvm_is_lv(st.st_rdev, vg, sizeof vg, lv, sizeof lv)) {
        if (!t->quiet)
            p2v_err("--snapshot lvm: %s is not an LVM logical volume", t->origin);
        return -EOPNOTSUPP;
    }
    if (!p2v_lvm_available(why, sizeof why)) {
        if (!t->quiet)
            p2v_err("--snapshot lvm: %s", why);
        return -EOPNOTSUPP;
    }
    int r = p2v_lvm_create(vg, lv, t->s->rec.id, t->o->lvm_size, t->s->rec.path,
                           sizeof t->s->rec.path, t->s->rec.lv, sizeof t->s->rec.lv);
    if (r < 0)
        return r;
    if ((t->s->fd = open_lv(t, vg)) < 0) {
        r = t->s->fd;
        t->s->fd = -1;
        p2v_lvm_remove(t->s->rec.lv);
        return r;
    }
    snprintf(t->s->rec.provider, sizeof t->s->rec.provider, "lvm");
    return 0;
}

/* Called inside the freeze: the moment of the snapshot. */
static int take_now(void *ctx)
{
    struct take *t = ctx;
    int r = -EOPNOTSUPP;
    if (t->want == P2V_SNAP_REFLINK || t->want == P2V_SNAP_AUTO)
        r = take_reflink(t);
    if (r == -EOPNOTSUPP && (t->want == P2V_SNAP_LVM || t->want == P2V_SNAP_AUTO))
        r = take_lvm(t);
    return r;
}

int p2v_snapshot_take(const char *origin, const struct p2v_snap_opts *o,
                      struct p2v_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->used = P2V_SNAP_NONE;
    s->fd = -1;
    if (o->provider == P2V_SNAP_NONE) {
        if (o->freeze.nmounts) {
            p2v_err("--freeze needs a snapshot: with --snapshot none the filesystem would stay "
                    "frozen for the whole conversion");
            return -EINVAL;
        }
        s->why = "none (as asked)";
        return 0;
    }
    /* A snapshot p2v made is read as it is: the file it made, not one that
     * has taken its name since. */
    struct p2v_snap_record known;
    if (p2v_registry_find_path(origin, &known) == 0) {
        /* (An LV's node is root's, in /dev: nobody else can swap it.) */
        if (!strcmp(known.provider, "reflink") && (s->fd = open_known(origin, &known)) < 0) {
            int e = s->fd;
            s->fd = -1;
            return e;
        }
        if (o->freeze.nmounts)
            p2v_warn("%s is a snapshot already (%s): --freeze ignored", origin, known.id);
        s->why = "none (the source is a p2v snapshot already)";
        return 0;
    }
    struct take t = { .origin = origin, .o = o, .s = s, .want = o->provider,
                      .quiet = o->provider == P2V_SNAP_AUTO };
    new_id(s->rec.id, sizeof s->rec.id);
    struct p2v_freeze_opts fo = o->freeze;
    fo.source = origin;  /* for the hooks' P2V_SOURCE */
    int r = fo.nmounts || fo.hooks ? p2v_freeze_run(&fo, take_now, &t) : take_now(&t);
    if (r == -EOPNOTSUPP && o->provider == P2V_SNAP_AUTO) {
        if (o->freeze.nmounts) {
            p2v_err("--freeze: no snapshot provider works for %s (reflink needs an image file "
                    "on XFS or btrfs, lvm an LVM logical volume)", origin);
            return -EOPNOTSUPP;
        }
        s->why = "none (no snapshot provider applies: reflink needs an image file on XFS or "
                 "btrfs, lvm an LVM logical volume)";
        return 0;
    }
    if (r < 0 && s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (r == -ETIMEDOUT && s->rec.provider[0]) {
        /* Taken, but the watchdog thawed before it was done: inconsistent. */
        p2v_snapshot_delete(&s->rec);
        return r;
    }
    if (r < 0)
        return r;
    s->used = !strcmp(s->rec.provider, "lvm") ? P2V_SNAP_LVM : P2V_SNAP_REFLINK;
    s->why = s->used == P2V_SNAP_LVM ? "lvm snapshot" : "reflink clone";
    snprintf(s->rec.origin, sizeof s->rec.origin, "%s", origin);
    snprintf(s->rec.mountpoint, sizeof s->rec.mountpoint, "%s",
             o->mountpoint ? o->mountpoint : "");
    s->rec.created = time(NULL);
    s->rec.keep = o->keep;
    if ((r = p2v_registry_save(&s->rec)) < 0) {
        close(s->fd);
        s->fd = -1;
        p2v_snapshot_delete(&s->rec);
        s->used = P2V_SNAP_NONE;
        return r;
    }
    return 0;
}

/* Removes the clone by its name only while that name is still the clone;
 * checked and removed in the directory opened once. */
static int remove_clone(const struct p2v_snap_record *r)
{
    char d[PATH_MAX], b[PATH_MAX];
    snprintf(d, sizeof d, "%s", r->path);
    snprintf(b, sizeof b, "%s", r->path);
    const char *base = basename(b);
    int dfd = open(dirname(d), O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        if (e == ENOENT)
            return 0;  /* gone already */
        p2v_err("cannot check the snapshot %s before removing it: %s", r->path, strerror(e));
        return -e;
    }
    int e = 0;
    if (!is_clone(r, &st))
        p2v_warn("snapshot %s: %s is no longer the clone p2v made (another file, of uid %u, "
                 "has taken its name); leaving that file alone and forgetting the snapshot",
                 r->id, r->path, (unsigned)st.st_uid);
    else if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT) {
        e = -errno;
        p2v_err("cannot remove the snapshot %s: %s", r->path, strerror(-e));
    }
    close(dfd);
    return e;
}

int p2v_snapshot_delete(const struct p2v_snap_record *r)
{
    int e = !strcmp(r->provider, "lvm") ? p2v_lvm_remove(r->lv) : remove_clone(r);
    if (e == 0)
        p2v_registry_remove(r->id);
    return e;
}

int p2v_snapshot_release(struct p2v_snapshot *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->used == P2V_SNAP_NONE || s->rec.keep)
        return 0;
    int r = p2v_snapshot_delete(&s->rec);
    s->used = P2V_SNAP_NONE;
    return r;
}
