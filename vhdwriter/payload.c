#include "payload.h"

#include <string.h>

/* Disk bytes [vofs, vofs+len) of below; past its end (the tail of a
 * partial last block) they are zeros. */
static int payload_read(struct p2v_layer *below, uint8_t *buf, size_t len, uint64_t vofs)
{
    uint64_t size = below->size;
    size_t have = vofs >= size ? 0 : (size - vofs < len ? (size_t)(size - vofs) : len);
    memset(buf + have, 0, len - have);
    return have ? p2v_layer_read(below, buf, have, vofs) : 0;
}

struct reading {
    struct p2v_layer *below;
    void *enc;
    p2v_piece_fill_fn fill;
    uint8_t *buf;
};

static int read_piece(void *ctx, const struct p2v_region *p, uint64_t off, uint64_t n,
                      uint64_t done)
{
    struct reading *c = ctx;
    uint8_t *out = c->buf + done;
    uint64_t rel = off - p->start;
    switch (p->kind) {
    case P2V_PIECE_ZERO:
        memset(out, 0, (size_t)n);
        return 0;
    case P2V_PIECE_DATA:
        return payload_read(c->below, out, (size_t)n, p->arg + rel);
    default:
        c->fill(c->enc, p, rel, out, (size_t)n);
        return 0;
    }
}

int p2v_pieces_read(struct p2v_layer *below, void *enc, p2v_region_find_fn find,
                    p2v_piece_fill_fn fill, uint8_t *buf, size_t len, uint64_t off)
{
    struct reading c = { below, enc, fill, buf };
    return p2v_regions_walk(enc, find, off, len, read_piece, &c);
}

struct extents {
    struct p2v_layer *below;
    p2v_extent_fn fn;
    void *ctx;
};

static int piece_extents(void *ctx, const struct p2v_region *p, uint64_t off, uint64_t n,
                         uint64_t done)
{
    (void)done;
    struct extents *c = ctx;
    if (p->kind == P2V_PIECE_ZERO)
        return c->fn(c->ctx, off, n, P2V_EXTENT_ZERO);
    if (p->kind != P2V_PIECE_DATA)
        return c->fn(c->ctx, off, n, P2V_EXTENT_DATA);
    uint64_t vofs = p->arg + (off - p->start), size = c->below->size;
    uint64_t have = vofs >= size ? 0 : (size - vofs < n ? size - vofs : n);
    int r = have ? p2v_layer_extents_moved(c->below, vofs, have, off, c->fn, c->ctx) : 0;
    if (r == 0 && have < n)
        r = c->fn(c->ctx, off + have, n - have, P2V_EXTENT_ZERO);
    return r;
}

int p2v_pieces_extents(struct p2v_layer *below, void *enc, p2v_region_find_fn find,
                       uint64_t off, uint64_t len, p2v_extent_fn fn, void *ctx)
{
    struct extents c = { below, fn, ctx };
    return p2v_regions_walk(enc, find, off, len, piece_extents, &c);
}
