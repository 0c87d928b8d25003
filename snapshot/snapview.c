#define _GNU_SOURCE
#include "snapview.h"

#include "guard.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A block device's own name and times say nothing about the disk in it:
 * /dev/sdb can be another disk tomorrow, and its node's mtime is when the
 * node was made.  So it is known by its hardware identifier where sysfs has
 * one, else by its path. */
static void device_id(dev_t rdev, const char *path, char *out, size_t len)
{
    static const char *const keys[] = {
        "device/wwid", "wwid", "device/serial", "serial", "dm/uuid",
        "loop/backing_file", "../device/wwid", "../wwid", "../device/serial",
    };
    char f[128];
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        snprintf(f, sizeof f, "/sys/dev/block/%u:%u/%s", major(rdev), minor(rdev), keys[i]);
        FILE *fp = fopen(f, "re");
        if (!fp)
            continue;
        char *got = fgets(out, (int)len, fp);
        fclose(fp);
        if (got && out[0] && out[0] != '\n') {
            out[strcspn(out, "\n")] = 0;
            /* A partition: the disk's identifier plus the partition number. */
            snprintf(f, sizeof f, "/sys/dev/block/%u:%u/partition", major(rdev), minor(rdev));
            if ((fp = fopen(f, "re"))) {
                size_t n = strlen(out);
                if (n + 2 < len && fgets(out + n + 1, (int)(len - n - 1), fp))
                    out[n] = '#';
                fclose(fp);
                out[strcspn(out, "\n")] = 0;
            }
            return;
        }
    }
    snprintf(out, len, "%s", path);
}

/* Offline conversion: nobody may be writing the source. */
static int check_offline(const char *path, const struct p2v_srcview_opts *o,
                         struct p2v_srcview *v)
{
    int n = p2v_holders_find(path, v->held_by, P2V_HOLDERS_MAX);
    if (n <= 0)
        return 0;
    v->nheld = n;
    char list[P2V_HOLDERS_MAX * (P2V_HOLDER_LEN + 2)] = "";
    for (int i = 0; i < n; i++) {
        strcat(list, i ? "; " : "");
        strcat(list, v->held_by[i]);
    }
    if (o->allow_live) {
        v->live = 1;
        p2v_warn("source %s is in use read-write (%s): reading it live (--allow-live); "
                 "reads fail with EIO once it changes", path, list);
        return 0;
    }
    p2v_err("source %s is in use read-write: %s; stop that use (unmount it, shut the "
            "machine or VM down), convert a snapshot (--snapshot reflink|lvm, with --freeze "
            "MOUNTPOINT for application consistency), or read it live with --allow-live "
            "(reads fail with EIO once it changes)", path, list);
    return -EBUSY;
}

/* What the libraries that open by name (libvhdi, libblkid) and the guard
 * are given for a snapshot: its descriptor through /proc, the very file p2v
 * made or checked, whatever its name holds by now. */
static const char *open_name(const struct p2v_srcview *v, char *buf, size_t len)
{
    if (v->snap.fd < 0)
        return v->read_from;
    snprintf(buf, len, "/proc/self/fd/%d", v->snap.fd);
    return buf;
}

static int open_raw(const struct p2v_srcview_opts *o, struct p2v_srcview *v,
                    struct p2v_layer **src)
{
    if (v->snap.fd < 0)
        return p2v_source_open(v->read_from, o->source_flags, src, &v->info);
    int fd = fcntl(v->snap.fd, F_DUPFD_CLOEXEC, 0);  /* the layer's own */
    if (fd < 0) {
        int e = errno;
        p2v_err("cannot open source %s for reading: %s", v->read_from, strerror(e));
        return -e;
    }
    return p2v_source_open_fd(fd, v->read_from, o->source_flags, src, &v->info);
}

static int open_source(const char *source, const struct p2v_srcview_opts *o,
                       struct p2v_srcview *v, struct p2v_layer **src)
{
    char self[40];
    const char *path = open_name(v, self, sizeof self);
    if (v->format == P2V_FMT_RAW) {
        int r = open_raw(o, v, src);
        if (r < 0)
            return r;
        snprintf(v->info.path, sizeof v->info.path, "%s", source);
        if (v->snap.used == P2V_SNAP_REFLINK) {
            /* The clone holds the origin as it was: same identity. */
            v->info.mtime = v->snap.origin_st.st_mtim;
            v->info.ctime = v->snap.origin_st.st_ctim;
        }
        if (v->info.is_blockdev) {
            char id[4200];
            struct stat st;
            device_id(stat(source, &st) == 0 ? st.st_rdev : v->info.rdev, source, id,
                      sizeof id);
            snprintf(v->ident, sizeof v->ident, "blockdev|%s|%llu", id,
                     (unsigned long long)v->info.size);
        } else {
            snprintf(v->ident, sizeof v->ident, "file|%s|%llu|%lld.%09ld", source,
                     (unsigned long long)v->info.size, (long long)v->info.mtime.tv_sec,
                     v->info.mtime.tv_nsec);
        }
        return 0;
    }
    char dir[PATH_MAX], parents[8000];
    snprintf(dir, sizeof dir, "%s", source);
    int r = p2v_vhdi_open(path, source, dirname(dir), src, &v->info, parents, sizeof parents);
    if (r < 0)
        return r;
    v->nparents = p2v_vhdi_parents(*src, v->parents, 8);
    struct stat st;
    if (v->snap.used == P2V_SNAP_REFLINK)
        st = v->snap.origin_st;
    else if (stat(source, &st) < 0)
        memset(&st, 0, sizeof st);
    v->info.mtime = st.st_mtim;
    v->info.ctime = st.st_ctim;
    snprintf(v->info.path, sizeof v->info.path, "%s", source);
    int n = snprintf(v->ident, sizeof v->ident, "%s|%s|%lld|%lld.%09ld%s",
                     p2v_format_name(v->format), source, (long long)st.st_size,
                     (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, parents);
    if (n < 0 || (size_t)n >= sizeof v->ident) {
        p2v_err("%s: the chain of parent images is too long to name", source);
        p2v_layer_close_stack(*src);
        return -ENAMETOOLONG;
    }
    return 0;
}

/* What the guard watches: the file(s) or the device read. */
static int open_guard(struct p2v_srcview *v, struct p2v_layer *below)
{
    struct p2v_guard_watch w[2 + 8];
    int n = 0;
    struct stat st;
    char self[40];
    const char *path = open_name(v, self, sizeof self);
    if (stat(path, &st) < 0)
        return -errno;
    w[n] = (struct p2v_guard_watch){ .path = path, .name = v->read_from,
                                     .is_blockdev = S_ISBLK(st.st_mode), .rdev = st.st_rdev };
    if (!w[n].is_blockdev && v->snap.used == P2V_SNAP_NONE && v->format == P2V_FMT_RAW) {
        w[n].size = (off_t)v->info.real_size;
        w[n].mtime = v->info.mtime;
        w[n].ctime = v->info.ctime;
    }
    n++;
    for (int i = 0; i < v->nparents; i++)
        w[n++] = (struct p2v_guard_watch){ .path = v->parents[i] };
    /* A loop device's data also changes through its backing file. */
    char f[96], back[PATH_MAX];
    if (w[0].is_blockdev) {
        snprintf(f, sizeof f, "/sys/dev/block/%u:%u/loop/backing_file", major(st.st_rdev),
                 minor(st.st_rdev));
        FILE *fp = fopen(f, "re");
        if (fp) {
            if (fgets(back, sizeof back, fp)) {
                back[strcspn(back, "\n")] = 0;
                if (back[0] == '/' && access(back, F_OK) == 0)
                    w[n++] = (struct p2v_guard_watch){ .path = back };
            }
            fclose(fp);
        }
    }
    return p2v_guard_open(below, v->info.path, w, n, &v->top);
}

/* A recorded snapshot is named by its directory's real path and its own
 * name, never by following the name: whoever may write that directory
 * could put a symbolic link there between two looks.  Its canonical name
 * goes to canon; p2v_snapshot_take then opens it only with O_NOFOLLOW and
 * checks it is the clone recorded.  1 if recorded, 0 if not, -errno after
 * a message (the name is a symbolic link now). */
static int recorded_canon(const char *source, char *canon, size_t len)
{
    char d[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];
    snprintf(d, sizeof d, "%s", source);
    snprintf(b, sizeof b, "%s", source);
    const char *base = basename(b);
    if (!realpath(dirname(d), dir) || !strcmp(base, "/") || !strcmp(base, ".") ||
        !strcmp(base, ".."))
        return 0;  /* then the open below says why */
    int n = snprintf(canon, len, "%s/%s", strcmp(dir, "/") ? dir : "", base);
    struct p2v_snap_record k;
    if (n < 0 || (size_t)n >= len || p2v_registry_find_path(canon, &k) != 0)
        return 0;
    struct stat st;
    if (lstat(canon, &st) == 0 && S_ISLNK(st.st_mode)) {
        p2v_err("source %s is recorded as p2v snapshot %s, but is now a symbolic link; not "
                "following it: someone may have replaced the clone. `p2v snapshot delete %s` "
                "forgets the record", source, k.id, k.id);
        return -ELOOP;
    }
    return 1;
}

int p2v_srcview_open(const char *source, const struct p2v_srcview_opts *o,
                     struct p2v_srcview *v)
{
    memset(v, 0, sizeof *v);
    v->snap.fd = -1;
    char canon[PATH_MAX];
    struct stat st;
    int r = recorded_canon(source, canon, sizeof canon);
    if (r < 0)
        return r;
    if ((r ? lstat(canon, &st) : stat(source, &st)) < 0 || (!r && !realpath(source, canon))) {
        int e = errno;
        p2v_err("cannot open source %s: %s", source, strerror(e));
        return -e;
    }
    /* Refused before anything opens it: opening a FIFO would block. */
    if (S_ISDIR(st.st_mode)) {
        p2v_err("source %s is a directory; give a raw disk image file or a block device",
                source);
        return -EISDIR;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        p2v_err("source %s is neither a regular file nor a block device", source);
        return -EINVAL;
    }
    enum p2v_source_format fmt = o->format;
    if (fmt == P2V_FMT_AUTO && !S_ISREG(st.st_mode)) {
        fmt = P2V_FMT_RAW;  /* a device is a disk; anything else is refused below */
    } else if (fmt == P2V_FMT_AUTO) {
        r = p2v_vhdi_detect(canon, &fmt);
        if (r < 0) {
            p2v_err("cannot open source %s for reading: %s%s", source, strerror(-r),
                    r == -EACCES ? " (run as a user who may read it, e.g. root)" : "");
            return r;
        }
    }
    v->format = fmt;
    struct p2v_snap_opts so = o->snap;
    if (!o->take_snapshot)
        so.provider = P2V_SNAP_NONE;
    r = p2v_snapshot_take(canon, &so, &v->snap);
    if (r < 0)
        return r;
    snprintf(v->read_from, sizeof v->read_from, "%s",
             v->snap.used == P2V_SNAP_NONE ? canon : v->snap.rec.path);
    if (v->snap.used == P2V_SNAP_NONE)
        r = check_offline(canon, o, v);
    else if (so.freeze.nmounts == 0 && p2v_holders_find(canon, v->held_by, 1) > 0)
        p2v_warn("%s was in use read-write when snapshotted (%s): the snapshot is "
                 "crash-consistent; --freeze MOUNTPOINT makes it application-consistent",
                 canon, v->held_by[0]);
    struct p2v_layer *src = NULL, *bad = NULL;
    if (r == 0)
        r = open_source(canon, o, v, &src);
    if (r == 0 && (r = p2v_badsectors_open(src, o->bad, canon, &bad)) < 0)
        p2v_layer_close_stack(src);
    if (r == 0 && (r = open_guard(v, bad)) < 0) {
        p2v_err("cannot watch source %s for changes: %s", canon, strerror(-r));
        p2v_layer_close_stack(bad);
    }
    if (r < 0) {
        p2v_snapshot_release(&v->snap);
        return r;
    }
    v->bad = bad;
    /* libblkid reads by path; only raw bytes read with the default policy
     * are the same through a path as through the layers. */
    char self[40];
    if (fmt == P2V_FMT_RAW && o->bad == P2V_BAD_FAIL)
        snprintf(v->probe_path, sizeof v->probe_path, "%s", open_name(v, self, sizeof self));
    return 0;
}

void p2v_srcview_release(struct p2v_srcview *v)
{
    p2v_snapshot_release(&v->snap);
}
