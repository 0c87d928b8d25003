#include "layer.h"

#include <errno.h>

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
    return l->ops->read(l, buf, len, off);
}

int p2v_layer_write(struct p2v_layer *l, const void *buf, size_t len, uint64_t off)
{
    if (!l->ops->write)
        return -EROFS;
    if (!in_bounds(l, len, off))
        return -EINVAL;
    if (len == 0)
        return 0;
    return l->ops->write(l, buf, len, off);
}

int p2v_layer_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                      p2v_extent_fn fn, void *ctx)
{
    if (!in_bounds(l, len, off))
        return -EINVAL;
    if (len == 0)
        return 0;
    if (!l->ops->extents)
        return fn(ctx, off, len, 1);
    return l->ops->extents(l, off, len, fn, ctx);
}

static int add_data(void *ctx, uint64_t off, uint64_t len, int is_data)
{
    (void)off;
    if (is_data)
        *(uint64_t *)ctx += len;
    return 0;
}

int p2v_layer_data_bytes(struct p2v_layer *l, uint64_t off, uint64_t len, uint64_t *bytes)
{
    *bytes = 0;
    return p2v_layer_extents(l, off, len, add_data, bytes);
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
