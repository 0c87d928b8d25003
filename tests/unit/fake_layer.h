/* Test layers computed on the fly, so a 2040 GiB disk costs no memory.
 * Byte at offset o of block b (2 MiB) is a function of (o, seed) when the
 * block is "data" and 0 when it is "zero"; is_zero decides which. */
#ifndef P2V_FAKE_LAYER_H
#define P2V_FAKE_LAYER_H

#include "core/layer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fake {
    struct p2v_layer l;
    uint32_t seed;
    int (*is_zero)(uint64_t block);  /* NULL: every block holds data */
    uint64_t fail_at;                /* reads covering this offset fail; 0: never */
    int report_holes;                /* extents report zero blocks as holes */
};

#define FAKE_BLOCK (2ull * 1024 * 1024)

static inline uint8_t fake_byte(const struct fake *f, uint64_t o)
{
    if (f->is_zero && f->is_zero(o / FAKE_BLOCK))
        return 0;
    uint64_t x = (o / 8) * 0x9E3779B97F4A7C15ull + f->seed;
    x ^= x >> 29;
    return (uint8_t)(x >> (8 * (o % 8)) | 1);  /* never 0 inside data blocks */
}

static inline int fake_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct fake *f = (struct fake *)l;
    if (f->fail_at && f->fail_at >= off && f->fail_at < off + len)
        return -EIO;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = fake_byte(f, off + i);
    return 0;
}

static inline int fake_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                               p2v_extent_fn fn, void *ctx)
{
    struct fake *f = (struct fake *)l;
    if (!f->report_holes || !f->is_zero)
        return fn(ctx, off, len, P2V_EXTENT_DATA);
    uint64_t end = off + len;
    while (off < end) {
        uint64_t b = off / FAKE_BLOCK, stop = (b + 1) * FAKE_BLOCK;
        if (stop > end)
            stop = end;
        int r = fn(ctx, off, stop - off, f->is_zero(b) ? P2V_EXTENT_ZERO : P2V_EXTENT_DATA);
        if (r)
            return r;
        off = stop;
    }
    return 0;
}

static inline void fake_close(struct p2v_layer *l)
{
    (void)l;  /* fakes live on the stack */
}

static const struct p2v_layer_ops fake_ops = {
    .name = "fake", .read = fake_read, .extents = fake_extents, .close = fake_close,
};

static inline struct fake fake_make(uint64_t size, uint32_t seed, int (*is_zero)(uint64_t))
{
    struct fake f;
    memset(&f, 0, sizeof f);
    f.l.ops = &fake_ops;
    f.l.size = size;
    f.seed = seed;
    f.is_zero = is_zero;
    return f;
}

/* Reads a whole layer into a new buffer (the test frees it). */
static inline uint8_t *read_all(struct p2v_layer *l)
{
    uint8_t *b = malloc(l->size ? l->size : 1);
    if (b && p2v_layer_read(l, b, l->size, 0) != 0) {
        free(b);
        return NULL;
    }
    return b;
}

#endif
