#define _GNU_SOURCE
#include "holders.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct found {
    char (*out)[P2V_HOLDER_LEN];
    int n, max;
};

static void add(struct found *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct found *f, const char *fmt, ...)
{
    if (f->n >= f->max)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->out[f->n++], P2V_HOLDER_LEN, fmt, ap);
    va_end(ap);
}

static int read_line(const char *path, char *buf, size_t len)
{
    FILE *fp = fopen(path, "re");
    if (!fp)
        return -1;
    char *got = fgets(buf, (int)len, fp);
    fclose(fp);
    if (!got)
        return -1;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static void comm_of(const char *pid, char *out, size_t len)
{
    char f[64];
    snprintf(f, sizeof f, "/proc/%.20s/comm", pid);
    if (read_line(f, out, len) < 0)
        snprintf(out, len, "?");
}

/* Processes with the object open for writing: a file by (dev, ino), a
 * device by rdev. */
static void open_for_write(const struct stat *want, const char *what, struct found *f)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return;
    char self[16];
    snprintf(self, sizeof self, "%d", (int)getpid());
    struct dirent *p;
    while ((p = readdir(proc))) {
        if (p->d_name[0] < '0' || p->d_name[0] > '9' || !strcmp(p->d_name, self))
            continue;
        char dpath[64];
        snprintf(dpath, sizeof dpath, "/proc/%.20s/fd", p->d_name);
        DIR *fds = opendir(dpath);
        if (!fds)
            continue;
        struct dirent *d;
        while ((d = readdir(fds))) {
            if (d->d_name[0] == '.')
                continue;
            char link[384];
            struct stat st;
            snprintf(link, sizeof link, "%s/%.300s", dpath, d->d_name);
            if (stat(link, &st) < 0)
                continue;
            int same = S_ISBLK(want->st_mode)
                           ? S_ISBLK(st.st_mode) && st.st_rdev == want->st_rdev
                           : st.st_dev == want->st_dev && st.st_ino == want->st_ino;
            if (!same)
                continue;
            char info[128], line[128];
            snprintf(info, sizeof info, "/proc/%.20s/fdinfo/%.90s", p->d_name, d->d_name);
            FILE *fp = fopen(info, "re");
            unsigned flags = 0;
            while (fp && fgets(line, sizeof line, fp))
                if (sscanf(line, "flags: %o", &flags) == 1)
                    break;
            if (fp)
                fclose(fp);
            if ((flags & O_ACCMODE) == O_RDONLY)
                continue;
            char comm[64];
            comm_of(p->d_name, comm, sizeof comm);
            add(f, "pid %s (%s) has %s open for writing", p->d_name, comm, what);
            break;
        }
        closedir(fds);
    }
    closedir(proc);
}

/* The device and its partitions, as major:minor with their names. */
struct devs { dev_t dev[129]; char name[129][40]; int n; };

static void list_devs(dev_t rdev, struct devs *d)
{
    char base[64], path[PATH_MAX];
    d->n = 0;
    snprintf(base, sizeof base, "/sys/dev/block/%u:%u", major(rdev), minor(rdev));
    d->dev[0] = rdev;
    snprintf(d->name[0], sizeof d->name[0], "?");
    if (!realpath(base, path))
        return;
    const char *nm = strrchr(path, '/');
    snprintf(d->name[0], sizeof d->name[0], "%.39s", nm ? nm + 1 : path);
    d->n = 1;
    DIR *dir = opendir(path);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) && d->n < 129) {
        char f[PATH_MAX + 300], v[32];
        unsigned ma, mi;
        snprintf(f, sizeof f, "%s/%s/partition", path, e->d_name);
        if (e->d_name[0] == '.' || access(f, F_OK) < 0)
            continue;
        snprintf(f, sizeof f, "%s/%s/dev", path, e->d_name);
        if (read_line(f, v, sizeof v) < 0 || sscanf(v, "%u:%u", &ma, &mi) != 2)
            continue;
        d->dev[d->n] = makedev(ma, mi);
        snprintf(d->name[d->n], sizeof d->name[d->n], "%.39s", e->d_name);
        d->n++;
    }
    closedir(dir);
}

static void mounts_rw(const struct devs *d, struct found *f)
{
    FILE *fp = fopen("/proc/self/mountinfo", "re");
    if (!fp)
        return;
    char line[4096];
    while (fgets(line, sizeof line, fp)) {
        unsigned ma, mi;
        char mnt[2048], opts[512];
        if (sscanf(line, "%*s %*s %u:%u %*s %2047s %511s", &ma, &mi, mnt, opts) != 4)
            continue;
        if (strncmp(opts, "rw", 2) || (opts[2] && opts[2] != ','))
            continue;
        for (int i = 0; i < d->n; i++)
            if (d->dev[i] == makedev(ma, mi))
                add(f, "%s is mounted read-write at %s", d->name[i], mnt);
    }
    fclose(fp);
}

static void swaps(const struct devs *d, struct found *f)
{
    FILE *fp = fopen("/proc/swaps", "re");
    if (!fp)
        return;
    char line[1024], dev[512];
    while (fgets(line, sizeof line, fp)) {
        struct stat st;
        if (sscanf(line, "%511s", dev) != 1 || stat(dev, &st) < 0 || !S_ISBLK(st.st_mode))
            continue;
        for (int i = 0; i < d->n; i++)
            if (d->dev[i] == st.st_rdev)
                add(f, "%s is in use as swap", d->name[i]);
    }
    fclose(fp);
}

static void kernel_holders(const struct devs *d, struct found *f)
{
    for (int i = 0; i < d->n; i++) {
        char dir[96];
        snprintf(dir, sizeof dir, "/sys/dev/block/%u:%u/holders", major(d->dev[i]),
                 minor(d->dev[i]));
        DIR *h = opendir(dir);
        if (!h)
            continue;
        struct dirent *e;
        while ((e = readdir(h))) {
            if (e->d_name[0] == '.')
                continue;
            char f2[400], name[128] = "";
            snprintf(f2, sizeof f2, "%s/%s/dm/name", dir, e->d_name);
            read_line(f2, name, sizeof name);
            add(f, "%s is held by %s%s%s%s", d->name[i], e->d_name, name[0] ? " (" : "", name,
                name[0] ? ")" : "");
        }
        closedir(h);
    }
}

static void device_users(dev_t rdev, struct found *f)
{
    struct devs d;
    list_devs(rdev, &d);
    if (d.n == 0)
        return;
    mounts_rw(&d, f);
    swaps(&d, f);
    kernel_holders(&d, f);
    for (int i = 0; i < d.n; i++) {
        struct stat st = { .st_mode = S_IFBLK, .st_rdev = d.dev[i] };
        open_for_write(&st, d.name[i], f);
    }
}

/* Loop devices over the file: in use when they are writable and held. */
static void loops_over(const char *path, struct found *f)
{
    DIR *dir = opendir("/sys/block");
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, "loop", 4))
            continue;
        char p[PATH_MAX], back[PATH_MAX], v[32];
        unsigned ma, mi;
        snprintf(p, sizeof p, "/sys/block/%s/loop/backing_file", e->d_name);
        if (read_line(p, back, sizeof back) < 0 || strcmp(back, path))
            continue;
        snprintf(p, sizeof p, "/sys/block/%s/ro", e->d_name);
        if (read_line(p, v, sizeof v) == 0 && !strcmp(v, "1"))
            continue;
        snprintf(p, sizeof p, "/sys/block/%s/dev", e->d_name);
        if (read_line(p, v, sizeof v) < 0 || sscanf(v, "%u:%u", &ma, &mi) != 2)
            continue;
        int before = f->n;
        device_users(makedev(ma, mi), f);
        for (int i = before; i < f->n; i++) {
            char tmp[P2V_HOLDER_LEN];
            snprintf(tmp, sizeof tmp, "%s", f->out[i]);
            snprintf(f->out[i], P2V_HOLDER_LEN, "%.200s (it is attached to /dev/%.60s)", tmp,
                     e->d_name);
        }
    }
    closedir(dir);
}

int p2v_holders_find(const char *path, char out[][P2V_HOLDER_LEN], int max)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    struct found f = { .out = out, .max = max };
    if (S_ISBLK(st.st_mode)) {
        device_users(st.st_rdev, &f);
    } else {
        char real[PATH_MAX];
        open_for_write(&st, "it", &f);
        if (realpath(path, real))
            loops_over(real, &f);
    }
    return f.n;
}
