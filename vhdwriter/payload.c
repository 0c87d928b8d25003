#include "payload.h"

#include <string.h>

int p2v_payload_read(struct p2v_layer *below, uint8_t *buf, size_t len, uint64_t vofs)
{
    uint64_t size = below->size;
    size_t have = vofs >= size ? 0 : (size - vofs < len ? (size_t)(size - vofs) : len);
    memset(buf + have, 0, len - have);
    return have ? p2v_layer_read(below, buf, have, vofs) : 0;
}

int p2v_payload_extents(struct p2v_layer *below, uint64_t vofs, uint64_t len, uint64_t file_off,
                        p2v_extent_fn fn, void *ctx)
{
    uint64_t size = below->size;
    uint64_t have = vofs >= size ? 0 : (size - vofs < len ? size - vofs : len);
    int r = have ? p2v_layer_extents_moved(below, vofs, have, file_off, fn, ctx) : 0;
    if (r == 0 && have < len)
        r = fn(ctx, file_off + have, len - have, P2V_EXTENT_ZERO);
    return r;
}
