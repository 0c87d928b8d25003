#include "disklayout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct layout {
    struct p2v_layer l;
    struct p2v_ranges zero;
};

static int layout_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct layout *d = (struct layout *)l;
    uint8_t *p = buf;
    uint64_t end = off + len;
    size_t i = p2v_ranges_find(&d->zero, off);
    /* Read the bytes between zero ranges, fill the ranges with zeros. */
    while (off < end) {
        uint64_t zs = i < d->zero.n ? d->zero.r[i].start : end;
        if (zs > end)
            zs = end;
        if (zs > off) {
            int r = p2v_layer_read(l->below, p, (size_t)(zs - off), off);
            if (r < 0)
                return r;
            p += zs - off;
            off = zs;
        }
        if (off < end) {
            uint64_t ze = d->zero.r[i].end < end ? d->zero.r[i].end : end;
            memset(p, 0, (size_t)(ze - off));
            p += ze - off;
            off = ze;
            i++;
        }
    }
    return 0;
}

struct clip {
    p2v_extent_fn fn;
    void *ctx;
    const struct p2v_ranges *zero;
    size_t i;
};

/* Passes the layer below's extents on, with the zero ranges cut out. */
static int clip_cb(void *ctx, uint64_t off, uint64_t len, int is_data)
{
    struct clip *c = ctx;
    uint64_t end = off + len;
    if (!is_data)
        return c->fn(c->ctx, off, len, 0);
    while (c->i < c->zero->n && c->zero->r[c->i].end <= off)
        c->i++;
    while (off < end) {
        const struct p2v_range *z = c->i < c->zero->n ? &c->zero->r[c->i] : NULL;
        uint64_t zs = z && z->start < end ? (z->start > off ? z->start : off) : end;
        int r;
        if (zs > off && (r = c->fn(c->ctx, off, zs - off, 1)) != 0)
            return r;
        off = zs;
        if (off < end) {
            uint64_t ze = z->end < end ? z->end : end;
            if ((r = c->fn(c->ctx, off, ze - off, 0)) != 0)
                return r;
            off = ze;
            if (z->end <= end)
                c->i++;
        }
    }
    return 0;
}

static int layout_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                          p2v_extent_fn fn, void *ctx)
{
    struct layout *d = (struct layout *)l;
    struct clip c = { fn, ctx, &d->zero, p2v_ranges_find(&d->zero, off) };
    return p2v_layer_extents(l->below, off, len, clip_cb, &c);
}

static void layout_close(struct p2v_layer *l)
{
    struct layout *d = (struct layout *)l;
    p2v_ranges_free(&d->zero);
    free(d);
}

static const struct p2v_layer_ops layout_ops = {
    .name = "disk layout",
    .read = layout_read,
    .extents = layout_extents,
    .close = layout_close,
};

int p2v_disklayout_open(struct p2v_layer *below, struct p2v_ranges *zero, struct p2v_layer **out)
{
    struct layout *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->l.ops = &layout_ops;
    d->l.below = below;
    d->l.size = below->size;
    d->zero = *zero;
    *zero = (struct p2v_ranges){ 0 };
    *out = &d->l;
    return 0;
}
