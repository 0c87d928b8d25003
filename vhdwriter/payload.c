#include "payload.h"

#include <string.h>

int p2v_payload_read(struct p2v_layer *below, uint8_t *buf, size_t len, uint64_t vofs)
{
    uint64_t size = below->size;
    size_t have = vofs >= size ? 0 : (size - vofs < len ? (size_t)(size - vofs) : len);
    memset(buf + have, 0, len - have);
    return have ? p2v_layer_read(below, buf, have, vofs) : 0;
}

struct shift {
    p2v_extent_fn fn;
    void *ctx;
    uint64_t delta;  /* file offset - disk offset */
};

static int shifted(void *ctx, uint64_t off, uint64_t len, int is_data)
{
    struct shift *s = ctx;
    return s->fn(s->ctx, off + s->delta, len, is_data);
}

int p2v_payload_extents(struct p2v_layer *below, uint64_t vofs, uint64_t len, uint64_t file_off,
                        p2v_extent_fn fn, void *ctx)
{
    uint64_t size = below->size;
    uint64_t have = vofs >= size ? 0 : (size - vofs < len ? size - vofs : len);
    struct shift s = { fn, ctx, file_off - vofs };
    int r = have ? p2v_layer_extents(below, vofs, have, shifted, &s) : 0;
    if (r == 0 && have < len)
        r = fn(ctx, file_off + have, len - have, 0);
    return r;
}
