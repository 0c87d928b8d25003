#define _GNU_SOURCE
#include "guard.h"

#include "core/log.h"
#include "core/plural.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_WATCH 16

/* sysfs counters that move when a device's data may change: writes and
 * discards completed, sectors written and discarded, and writes in
 * flight.  Reads (ours) move none of them. */
struct counters { uint64_t wios, wsect, dios, dsect, inflight_w; };

struct watch {
    char path[4096];  /* for messages: the object is held by fd */
    int is_blockdev;
    int fd;          /* O_PATH of the file; or sysfs stat */
    int inflight_fd; /* sysfs inflight, or -1 */
    struct stat base;
    struct counters cbase;
};

struct guard {
    struct p2v_layer l;
    char *name;
    struct watch w[MAX_WATCH];
    int n;
    atomic_int changed;
    pthread_mutex_t lock;
    char reason[512];
};

static int read_counters(struct watch *w, struct counters *c)
{
    char buf[512];
    memset(c, 0, sizeof *c);
    ssize_t n = pread(w->fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    /* Fields (Documentation/block/stat.rst): 5 write I/Os, 7 write
     * sectors, 12 discard I/Os, 14 discard sectors (kernels from 4.18). */
    uint64_t f[17] = { 0 };
    int got = sscanf(buf, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                     " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                     " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                     &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10],
                     &f[11], &f[12], &f[13], &f[14], &f[15]);
    if (got < 11)
        return -EIO;
    c->wios = f[5];
    c->wsect = f[7];
    c->dios = f[12];
    c->dsect = f[14];
    if (w->inflight_fd >= 0) {
        n = pread(w->inflight_fd, buf, sizeof buf - 1, 0);
        uint64_t rd = 0, wr = 0;
        if (n > 0) {
            buf[n] = 0;
            if (sscanf(buf, "%" SCNu64 " %" SCNu64, &rd, &wr) == 2)
                c->inflight_w = wr;
        }
    }
    return 0;
}

static int ts_eq(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* 0 unchanged, 1 changed (reason filled). */
static int watch_changed(struct watch *w, char *why, size_t len)
{
    if (w->is_blockdev) {
        struct counters c;
        if (read_counters(w, &c) < 0) {
            snprintf(why, len, "%s: its write counters in sysfs cannot be read", w->path);
            return 1;
        }
        if (c.inflight_w) {
            snprintf(why, len, "%s has %" PRIu64 " write%s in flight", w->path, c.inflight_w,
                     p2v_s(c.inflight_w));
            return 1;
        }
        if (c.wios != w->cbase.wios || c.wsect != w->cbase.wsect || c.dios != w->cbase.dios ||
            c.dsect != w->cbase.dsect) {
            uint64_t wr = c.wios - w->cbase.wios, sect = c.wsect - w->cbase.wsect,
                     disc = c.dios - w->cbase.dios;
            snprintf(why, len, "%s was written: %" PRIu64 " write%s (%" PRIu64 " sector%s) and %"
                     PRIu64 " discard%s since it was opened", w->path, wr, p2v_s(wr), sect,
                     p2v_s(sect), disc, p2v_s(disc));
            return 1;
        }
        return 0;
    }
    struct stat st;
    if (fstat(w->fd, &st) < 0) {
        snprintf(why, len, "%s cannot be checked: %s", w->path, strerror(errno));
        return 1;
    }
    if (st.st_size != w->base.st_size)
        snprintf(why, len, "%s: size %lld, was %lld", w->path, (long long)st.st_size,
                 (long long)w->base.st_size);
    else if (!ts_eq(st.st_mtim, w->base.st_mtim))
        snprintf(why, len, "%s: modified (mtime %lld.%09ld, was %lld.%09ld)", w->path,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                 (long long)w->base.st_mtim.tv_sec, w->base.st_mtim.tv_nsec);
    else if (!ts_eq(st.st_ctim, w->base.st_ctim))
        snprintf(why, len, "%s: its inode changed (ctime %lld.%09ld, was %lld.%09ld)", w->path,
                 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
                 (long long)w->base.st_ctim.tv_sec, w->base.st_ctim.tv_nsec);
    else
        return 0;
    return 1;
}

static const struct p2v_layer_ops guard_ops;

int p2v_guard_check(struct p2v_layer *l)
{
    struct guard *g = p2v_layer_cast(l, &guard_ops);
    if (!g)
        return -EINVAL;
    if (atomic_load(&g->changed))
        return 1;
    char why[480];
    for (int i = 0; i < g->n; i++) {
        if (!watch_changed(&g->w[i], why, sizeof why))
            continue;
        pthread_mutex_lock(&g->lock);
        int first = !atomic_load(&g->changed);
        if (first) {
            snprintf(g->reason, sizeof g->reason, "%s", why);
            atomic_store(&g->changed, 1);
        }
        pthread_mutex_unlock(&g->lock);
        if (first)
            p2v_err("source %s changed since it was opened (%s); reads fail from now on: "
                    "remount it, or use a snapshot (--snapshot)", g->name, why);
        return 1;
    }
    return 0;
}

static int guard_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct guard *g = (struct guard *)l;
    if (atomic_load(&g->changed))
        return -EIO;
    int r = p2v_layer_read(l->below, buf, len, off);
    /* After the read: a change that began before it ended is caught. */
    if (p2v_guard_check(l))
        return -EIO;
    return r;
}

static int guard_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                         void *ctx)
{
    struct guard *g = (struct guard *)l;
    if (atomic_load(&g->changed))
        return -EIO;
    int r = p2v_layer_extents(l->below, off, len, fn, ctx);
    if (p2v_guard_check(l))
        return -EIO;
    return r;
}

static void guard_close(struct p2v_layer *l)
{
    struct guard *g = (struct guard *)l;
    for (int i = 0; i < g->n; i++) {
        close(g->w[i].fd);
        if (g->w[i].inflight_fd >= 0)
            close(g->w[i].inflight_fd);
    }
    pthread_mutex_destroy(&g->lock);
    free(g->name);
    free(g);
}

static const struct p2v_layer_ops guard_ops = {
    .name = "guard",
    .read = guard_read,
    .extents = guard_extents,
    .close = guard_close,
};

static int watch_open(struct watch *w, const struct p2v_guard_watch *s)
{
    snprintf(w->path, sizeof w->path, "%s", s->name ? s->name : s->path);
    w->is_blockdev = s->is_blockdev;
    w->inflight_fd = -1;
    if (s->is_blockdev) {
        char f[96];
        snprintf(f, sizeof f, "/sys/dev/block/%u:%u/stat", major(s->rdev), minor(s->rdev));
        if ((w->fd = open(f, O_RDONLY | O_CLOEXEC)) < 0) {
            int e = errno;
            p2v_err("cannot watch %s for writes: %s: %s", w->path, f, strerror(e));
            return -e;
        }
        snprintf(f, sizeof f, "/sys/dev/block/%u:%u/inflight", major(s->rdev), minor(s->rdev));
        w->inflight_fd = open(f, O_RDONLY | O_CLOEXEC);
        if (read_counters(w, &w->cbase) < 0) {
            p2v_err("cannot read the write counters of %s from sysfs", w->path);
            close(w->fd);
            if (w->inflight_fd >= 0)
                close(w->inflight_fd);
            return -EIO;
        }
        w->cbase.inflight_w = 0;
        return 0;
    }
    if ((w->fd = open(s->path, O_PATH | O_CLOEXEC)) < 0 || fstat(w->fd, &w->base) < 0) {
        int e = errno;
        p2v_err("cannot watch %s for changes: %s", w->path, strerror(e));
        if (w->fd >= 0)
            close(w->fd);
        return -e;
    }
    if (s->size) {
        /* The state the source was opened in, not the one now. */
        w->base.st_size = s->size;
        w->base.st_mtim = s->mtime;
        w->base.st_ctim = s->ctime;
    }
    return 0;
}

int p2v_guard_open(struct p2v_layer *below, const char *name,
                   const struct p2v_guard_watch *w, int n, struct p2v_layer **out)
{
    if (n > MAX_WATCH)
        n = MAX_WATCH;
    struct guard *g = calloc(1, sizeof *g);
    if (!g || !(g->name = strdup(name))) {
        free(g);
        return -ENOMEM;
    }
    g->l.ops = &guard_ops;
    g->l.below = below;
    g->l.size = below->size;
    pthread_mutex_init(&g->lock, NULL);
    for (int i = 0; i < n; i++) {
        int r = watch_open(&g->w[i], &w[i]);
        if (r < 0) {
            guard_close(&g->l);
            return r;
        }
        g->n++;
    }
    *out = &g->l;
    /* A change between opening the source and now counts too. */
    p2v_guard_check(&g->l);
    return 0;
}

int p2v_guard_state(struct p2v_layer *l, char *reason, size_t len)
{
    struct guard *g = p2v_layer_cast(l, &guard_ops);
    if (!g)
        return -EINVAL;
    if (!atomic_load(&g->changed))
        return 0;
    pthread_mutex_lock(&g->lock);
    snprintf(reason, len, "%s", g->reason);
    pthread_mutex_unlock(&g->lock);
    return 1;
}
