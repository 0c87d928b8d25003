#include "slice.h"

#include <errno.h>
#include <stdlib.h>

struct slice {
    struct p2v_layer l;
    uint64_t start;
};

static int slice_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    return p2v_layer_read(l->below, buf, len, off + ((struct slice *)l)->start);
}

static int slice_write(struct p2v_layer *l, const void *buf, size_t len, uint64_t off)
{
    return p2v_layer_write(l->below, buf, len, off + ((struct slice *)l)->start);
}

static int slice_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                         void *ctx)
{
    uint64_t start = ((struct slice *)l)->start;
    return p2v_layer_extents_moved(l->below, off + start, len, off, fn, ctx);
}

static void slice_close(struct p2v_layer *l)
{
    free(l);
}

static const struct p2v_layer_ops slice_ops = {
    .name = "slice", .read = slice_read, .extents = slice_extents,
    .write = slice_write, .close = slice_close,
};

static const struct p2v_layer_ops slice_ro_ops = {
    .name = "slice", .read = slice_read, .extents = slice_extents, .close = slice_close,
};

int p2v_slice_open(struct p2v_layer *below, uint64_t start, uint64_t size, struct p2v_layer **out)
{
    if (start > below->size || size > below->size - start)
        return -EINVAL;
    struct slice *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->l.ops = below->ops->write ? &slice_ops : &slice_ro_ops;
    s->l.below = below;
    s->l.size = size;
    s->start = start;
    *out = &s->l;
    return 0;
}
