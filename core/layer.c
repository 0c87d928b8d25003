#include "layer.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- tracing (P2V_TRACE=1) ---- */

static int tracing;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;

static void trace_init(void)
{
    const char *v = getenv("P2V_TRACE");
    tracing = v && *v && strcmp(v, "0") != 0;
}

static int trace_on(void)
{
    pthread_once(&trace_once, trace_init);
    return tracing;
}

static int traced(const struct p2v_layer *l, const char *call, uint64_t off, uint64_t len, int r)
{
    p2v_trace("%s %s off %llu len %llu -> %d", l->ops->name, call, (unsigned long long)off,
              (unsigned long long)len, r);
    return r;
}

/* ---- reads and writes ---- */

static int in_bounds(const struct p2v_layer *l, size_t len, uint64_t off)
{
    return off <= l->size && len <= l->size - off;
}

int p2v_layer_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    if (!in_bounds(l, len, off))
        return -EINVAL;
    if (len == 0)
        return 0;
    int r = l->ops->read(l, buf, len, off);
    return trace_on() ? traced(l, "read", off, len, r) : r;
}

int p2v_layer_write(struct p2v_layer *l, const void *buf, size_t len, uint64_t off)
{
    if (!l->ops->write)
        return -EROFS;
    if (!in_bounds(l, len, off))
        return -EINVAL;
    if (len == 0)
        return 0;
    int r = l->ops->write(l, buf, len, off);
    return trace_on() ? traced(l, "write", off, len, r) : r;
}

/* ---- extents ---- */

/* What the tiler answers a layer once the asked range is covered: stop.
 * Callers' callbacks return 0, 1 or -errno, never this. */
#define COVERED 0x7E57C0DE

/* Between a layer's extents function and the caller: checks that the
 * layer's extents tile the range, clips the first and last, and merges
 * neighbours of one kind, holding back one extent until the next one
 * shows whether it grows. */
struct tiler {
    struct p2v_layer *l;
    p2v_extent_fn fn;
    void *ctx;
    uint64_t start, end;   /* the asked range */
    uint64_t next;         /* where the next extent must begin */
    uint64_t held_off, held_len;
    enum p2v_extent_kind held_kind;
    int held;              /* held_* is an extent not passed on yet */
    int covered;           /* next == end: the layer was told to stop */
    int broken;            /* the layer broke the rules (message printed) */
};

static int broken(struct tiler *t, uint64_t off, uint64_t len, const char *what)
{
    p2v_err("internal error: the %s layer reported extent [%llu, +%llu) for [%llu, %llu), "
            "%s; please report this as a bug", t->l->ops->name, (unsigned long long)off,
            (unsigned long long)len, (unsigned long long)t->start, (unsigned long long)t->end,
            what);
    t->broken = 1;
    return -EIO;
}

static int tile(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct tiler *t = ctx;
    if (t->covered)
        return COVERED;  /* a layer that goes on after being told to stop */
    if (len == 0)
        return 0;
    uint64_t end = off + len;
    if (end < off || (unsigned)kind > P2V_EXTENT_USED)
        return broken(t, off, len, "which is not an extent");
    if (!t->held && t->next == t->start) {
        if (off > t->start || end <= t->start)
            return broken(t, off, len, "which does not begin the range");
        off = t->start;
    } else if (off != t->next) {
        return broken(t, off, len, off < t->next ? "which overlaps the one before"
                                                 : "which leaves a gap after the one before");
    }
    if (end > t->end)
        end = t->end;
    t->next = end;
    int r = 0;
    if (t->held && t->held_kind == kind) {
        t->held_len += end - off;
    } else {
        if (t->held)
            r = t->fn(t->ctx, t->held_off, t->held_len, t->held_kind);
        t->held_off = off;
        t->held_len = end - off;
        t->held_kind = kind;
        t->held = 1;
    }
    if (r)
        return r;
    if (t->next == t->end) {
        t->covered = 1;
        return COVERED;
    }
    return 0;
}

static int walk(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn, void *ctx)
{
    if (!l->ops->extents)
        return fn(ctx, off, len, P2V_EXTENT_DATA);
    struct tiler t = { .l = l, .fn = fn, .ctx = ctx, .start = off, .end = off + len, .next = off };
    int r = l->ops->extents(l, off, len, tile, &t);
    if (t.broken)
        return -EIO;
    if (r == COVERED && t.covered)
        r = 0;  /* our own stop */
    if (r != 0)
        return r;  /* an error, the caller's stop, or a stop from a tiler above */
    if (t.next != t.end)
        return broken(&t, t.next, 0, "and then stopped short of the range's end");
    return t.held ? fn(ctx, t.held_off, t.held_len, t.held_kind) : 0;
}

int p2v_layer_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                      p2v_extent_fn fn, void *ctx)
{
    if (!in_bounds(l, len, off))
        return -EINVAL;
    if (len == 0)
        return 0;
    int r = walk(l, off, len, fn, ctx);
    return trace_on() ? traced(l, "extents", off, len, r) : r;
}

struct moved {
    p2v_extent_fn fn;
    void *ctx;
    uint64_t delta;  /* added modulo 2^64: a move down is a large number */
};

static int move(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct moved *m = ctx;
    return m->fn(m->ctx, off + m->delta, len, kind);
}

int p2v_layer_extents_moved(struct p2v_layer *below, uint64_t from, uint64_t len, uint64_t to,
                            p2v_extent_fn fn, void *ctx)
{
    struct moved m = { fn, ctx, to - from };
    return p2v_layer_extents(below, from, len, move, &m);
}

static int add_data(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    (void)off;
    if (kind != P2V_EXTENT_ZERO)
        *(uint64_t *)ctx += len;
    return 0;
}

int p2v_layer_data_bytes(struct p2v_layer *l, uint64_t off, uint64_t len, uint64_t *bytes)
{
    *bytes = 0;
    return p2v_layer_extents(l, off, len, add_data, bytes);
}

/* ---- the rest ---- */

void *p2v_layer_cast(struct p2v_layer *l, const struct p2v_layer_ops *ops)
{
    if (l && l->ops == ops)
        return l;
    p2v_err("internal error: the %s layer was asked for, but got %s; please report this as a bug",
            ops->name, l ? l->ops->name : "no layer");
    return NULL;
}

void p2v_layer_close(struct p2v_layer *l)
{
    if (l && l->ops->close)
        l->ops->close(l);
}

void p2v_layer_close_stack(struct p2v_layer *l)
{
    while (l) {
        struct p2v_layer *below = l->below;
        if (l->ops->close)
            l->ops->close(l);
        l = below;
    }
}
