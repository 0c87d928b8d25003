#define _GNU_SOURCE
#include "snapshot.h"

#include "lvm.h"
#include "reflink.h"
#include "core/log.h"

#include <errno.h>
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

static int take_reflink(struct take *t)
{
    int r = p2v_reflink_create(t->origin, t->o->dir, t->s->rec.id, t->quiet, t->s->rec.path,
                               sizeof t->s->rec.path, &t->s->origin_st);
    if (r == 0)
        snprintf(t->s->rec.provider, sizeof t->s->rec.provider, "reflink");
    return r;
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
    if (r == 0)
        snprintf(t->s->rec.provider, sizeof t->s->rec.provider, "lvm");
    return r;
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
    if (o->provider == P2V_SNAP_NONE) {
        if (o->freeze.nmounts) {
            p2v_err("--freeze needs a snapshot: with --snapshot none the filesystem would stay "
                    "frozen for the whole conversion");
            return -EINVAL;
        }
        s->why = "none (as asked)";
        return 0;
    }
    /* A snapshot p2v made is read as it is. */
    struct p2v_snap_record known;
    if (p2v_registry_find_path(origin, &known) == 0) {
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
        p2v_snapshot_delete(&s->rec);
        s->used = P2V_SNAP_NONE;
        return r;
    }
    return 0;
}

int p2v_snapshot_delete(const struct p2v_snap_record *r)
{
    int e = 0;
    if (!strcmp(r->provider, "lvm")) {
        e = p2v_lvm_remove(r->lv);
    } else if (unlink(r->path) < 0 && errno != ENOENT) {
        e = -errno;
        p2v_err("cannot remove the snapshot %s: %s", r->path, strerror(-e));
    }
    if (e == 0)
        p2v_registry_remove(r->id);
    return e;
}

int p2v_snapshot_release(struct p2v_snapshot *s)
{
    if (s->used == P2V_SNAP_NONE || s->rec.keep)
        return 0;
    int r = p2v_snapshot_delete(&s->rec);
    s->used = P2V_SNAP_NONE;
    return r;
}
