#define _GNU_SOURCE
#include "registry.h"

#include "core/log.h"
#include "core/mountinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int run_dir_q(char *out, size_t len, int quiet);

static int run_dir(char *out, size_t len)
{
    return run_dir_q(out, len, 0);
}

/* $XDG_RUNTIME_DIR counts only when it is the caller's own (as the XDG spec
 * has it): after su it may still name the first user's directory. */
static const char *own_xdg(void)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    if (!xdg || xdg[0] != '/' || stat(xdg, &st) < 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid())
        return NULL;
    return xdg;
}

/* quiet: no message (for what works without a run directory). -ENOENT: no
 * run directory is set for this user (then there are no records either). */
static int run_dir_q(char *out, size_t len, int quiet)
{
    const char *d = getenv("P2V_RUN_DIR");
    const char *xdg = own_xdg();
    /* Absolute only: a mount's daemon changes to / before it ends the
     * view, and must find the same directory then. */
    if (d && *d && d[0] != '/') {
        if (!quiet)
            p2v_err("P2V_RUN_DIR is '%s', not an absolute path; give one (it is kept as "
                    "written, and p2v's background processes run in /)", d);
        return -EINVAL;
    }
    if (d && *d) {
        snprintf(out, len, "%s", d);
    } else if (geteuid() == 0) {
        snprintf(out, len, "/run/p2v");
    } else if (xdg) {
        snprintf(out, len, "%s/p2v", xdg);
    } else {
        /* /run/p2v is root's: never name it to another user. */
        if (!quiet)
            p2v_err("no run directory for p2v's snapshot records: XDG_RUNTIME_DIR is %s; set "
                    "P2V_RUN_DIR to a directory of your own (e.g. P2V_RUN_DIR=$HOME/.p2v-run), "
                    "or log in with a session that sets XDG_RUNTIME_DIR",
                    getenv("XDG_RUNTIME_DIR") ? "not a directory of yours" : "not set");
        return -ENOENT;
    }
    if (mkdir(out, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        if (!quiet)
            p2v_err("cannot create the run directory %s: %s; set P2V_RUN_DIR to a directory "
                    "of your own", out, strerror(e));
        return -e;
    }
    /* Records name files p2v deletes: only a directory of our own. */
    struct stat st;
    if (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022)) {
        if (!quiet)
            p2v_err("run directory %s is not a directory of yours (uid %u) writable only by "
                    "you; set P2V_RUN_DIR to one that is", out, (unsigned)geteuid());
        return -EPERM;
    }
    return 0;
}

static int view_lock_path(const char *mountpoint, char *path, size_t len)
{
    char dir[PATH_MAX];
    int e = run_dir_q(dir, sizeof dir, 1);  /* without one, umount just does not wait */
    if (e < 0)
        return e;
    uint64_t h = 1469598103934665603ull;  /* FNV-1a: a short, stable name */
    for (const char *c = mountpoint; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    snprintf(path, len, "%s/view-%016llx.lock", dir, (unsigned long long)h);
    return 0;
}

/* The lock file's name still names the inode fd holds: the view that
 * ended may have removed it while we waited for its lock. */
static int still_named(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

int p2v_registry_view_lock(const char *mountpoint, int create)
{
    char path[PATH_MAX + 64];
    int e = view_lock_path(mountpoint, path, sizeof path);
    if (e < 0)
        return e;
    /* A previous view of this mount point may still be closing: wait for it
     * a while (30 s), so that each view holds the lock while it lives. */
    struct timespec t = { 0, 20 * 1000000 };
    for (int tries = 0;; tries++) {
        int fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW,
                      0600);
        if (fd < 0 || !create)
            return fd < 0 ? -errno : fd;
        int busy = 0;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (still_named(fd, path))
                return fd;
            /* else removed by the view that ended: take the new one */
        } else if (errno == EWOULDBLOCK) {
            busy = 1;
        } else {
            e = errno;
            close(fd);
            return -e;
        }
        close(fd);
        if (tries == 1500)
            return -EWOULDBLOCK;
        if (busy)
            nanosleep(&t, NULL);
    }
}

void p2v_registry_view_end(int fd, const char *mountpoint)
{
    char path[PATH_MAX + 64];
    if (fd < 0)
        return;
    /* Removed while the lock is held: a waiter that locks it afterwards
     * sees that the name has gone (still_named) and starts again. */
    if (view_lock_path(mountpoint, path, sizeof path) == 0 && still_named(fd, path) &&
        unlink(path) < 0)
        p2v_warn("cannot remove the view's lock file %s: %s", path, strerror(errno));
    close(fd);
}

int p2v_registry_save(const struct p2v_snap_record *r)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 64], fin[PATH_MAX + 64];
    int e = run_dir(dir, sizeof dir);
    if (e < 0)
        return e;
    /* One field a line: a line break in a name (a user's own directory
     * holds the origin) would add a field of its choosing. */
    const char *fields[] = { r->id, r->provider, r->origin, r->path, r->lv, r->mountpoint };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (strpbrk(fields[i], "\n\r")) {
            p2v_err("cannot record the snapshot: the name '%s' holds a line break; rename it",
                    fields[i]);
            return -EINVAL;
        }
    snprintf(tmp, sizeof tmp, "%s/%s.snap.tmp", dir, r->id);
    snprintf(fin, sizeof fin, "%s/%s.snap", dir, r->id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        e = errno;
        if (fd >= 0)
            close(fd);
        p2v_err("cannot record the snapshot in %s: %s", tmp, strerror(e));
        return -e;
    }
    fprintf(f, "id=%s\nprovider=%s\norigin=%s\npath=%s\nlv=%s\nmountpoint=%s\ncreated=%lld\n"
               "keep=%d\ndev=%llu\nino=%llu\n", r->id, r->provider, r->origin, r->path, r->lv,
            r->mountpoint, (long long)r->created, r->keep, r->dev, r->ino);
    if (fflush(f) != 0 || fsync(fileno(f)) < 0 || fclose(f) != 0 || rename(tmp, fin) < 0) {
        e = errno;
        p2v_err("cannot record the snapshot in %s: %s", fin, strerror(e));
        unlink(tmp);
        return -e;
    }
    return 0;
}

int p2v_registry_remove(const char *id)
{
    char dir[PATH_MAX], f[PATH_MAX + 64];
    int e = run_dir(dir, sizeof dir);
    if (e < 0)
        return e;
    snprintf(f, sizeof f, "%s/%s.snap", dir, id);
    return unlink(f) < 0 && errno != ENOENT ? -errno : 0;
}

static int load(int dfd, const char *name, struct p2v_snap_record *r)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    memset(r, 0, sizeof *r);
    char line[4200];  /* longer than any line save writes (PATH_MAX + a key) */
    static const char *const keys[] = { "id", "provider", "origin", "path", "lv", "mountpoint",
                                        "created", "keep", "dev", "ino" };
    unsigned seen = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *v = strchr(line, '=');
        if (!v)
            continue;
        *v++ = 0;
        /* The first of a key counts: a later one was not written by save. */
        size_t k = 0;
        while (k < sizeof keys / sizeof *keys && strcmp(line, keys[k]))
            k++;
        if (k == sizeof keys / sizeof *keys || (seen & (1u << k)))
            continue;
        seen |= 1u << k;
        if (!strcmp(line, "id")) snprintf(r->id, sizeof r->id, "%s", v);
        else if (!strcmp(line, "provider")) snprintf(r->provider, sizeof r->provider, "%s", v);
        else if (!strcmp(line, "origin")) snprintf(r->origin, sizeof r->origin, "%s", v);
        else if (!strcmp(line, "path")) snprintf(r->path, sizeof r->path, "%s", v);
        else if (!strcmp(line, "lv")) snprintf(r->lv, sizeof r->lv, "%s", v);
        else if (!strcmp(line, "mountpoint")) snprintf(r->mountpoint, sizeof r->mountpoint, "%s", v);
        else if (!strcmp(line, "created")) r->created = (time_t)atoll(v);
        else if (!strcmp(line, "keep")) r->keep = atoi(v);
        else if (!strcmp(line, "dev")) r->dev = strtoull(v, NULL, 10);
        else if (!strcmp(line, "ino")) r->ino = strtoull(v, NULL, 10);
    }
    fclose(f);
    return r->id[0] && r->path[0] ? 0 : -1;
}

static int by_created(const void *a, const void *b)
{
    const struct p2v_snap_record *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->id, y->id);
}

int p2v_registry_list(struct p2v_snap_record **out)
{
    char dir[PATH_MAX];
    *out = NULL;
    /* No run directory set for this user: nothing can have been recorded
     * (saving says why), so there is nothing to list and nothing to say. */
    if (!(getenv("P2V_RUN_DIR") && *getenv("P2V_RUN_DIR")) && geteuid() != 0 && !own_xdg())
        return 0;
    int e = run_dir(dir, sizeof dir);
    if (e < 0)
        return e;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int n = 0, cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        size_t l = strlen(ent->d_name);
        if (l < 6 || strcmp(ent->d_name + l - 5, ".snap"))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct p2v_snap_record *m = realloc(*out, (size_t)cap * sizeof **out);
            if (!m) {
                closedir(d);
                free(*out);
                *out = NULL;
                return -ENOMEM;
            }
            *out = m;
        }
        if (load(dirfd(d), ent->d_name, &(*out)[n]) == 0)
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(*out, (size_t)n, sizeof **out, by_created);
    return n;
}

int p2v_registry_find_path(const char *path, struct p2v_snap_record *out)
{
    struct p2v_snap_record *all;
    int n = p2v_registry_list(&all);
    int r = -ENOENT;
    for (int i = 0; i < n; i++)
        if (!strcmp(all[i].path, path)) {
            *out = all[i];
            r = 0;
            break;
        }
    free(all);
    return n < 0 ? n : r;
}

const char *p2v_registry_state(const struct p2v_snap_record *r)
{
    char fstype[64];
    if (r->mountpoint[0] && p2v_mountinfo_find(r->mountpoint, fstype, sizeof fstype, NULL, 0) == 1 &&
        !strcmp(fstype, "fuse.p2v"))
        return "mounted";
    return r->keep ? "kept" : "stale";
}
