#include "allocmap.h"

#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_BUF (4u * 1024 * 1024)   /* a multiple of the chunk size */

struct allocmap {
    struct p2v_layer l;
    uint64_t *bits;                   /* NULL in passthrough mode */
    uint64_t nchunks;
};

static int bit(const struct allocmap *m, uint64_t c)
{
    return (int)(m->bits[c / 64] >> (c % 64) & 1);
}

static int is_zero(const uint8_t *p, size_t len)
{
    /* Word-wise OR; the compiler vectorises this loop.  len % 8 == 0. */
    const uint64_t *w = (const uint64_t *)p;
    uint64_t acc = 0;
    for (size_t i = 0; i < len / 8; i++)
        acc |= w[i];
    return acc == 0;
}

static int allocmap_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    return p2v_layer_read(l->below, buf, len, off);
}

/* Next chunk at or after c whose bit equals want (nchunks if none). */
static uint64_t next_chunk(const struct allocmap *m, uint64_t c, int want)
{
    while (c < m->nchunks) {
        uint64_t w = m->bits[c / 64] >> (c % 64);
        if (!want)
            w = ~w;
        if (c % 64)
            w &= ~0ull >> (c % 64);  /* drop bits shifted in from above */
        if (w)
            return c + (uint64_t)__builtin_ctzll(w) < m->nchunks
                       ? c + (uint64_t)__builtin_ctzll(w) : m->nchunks;
        c = (c / 64 + 1) * 64;
    }
    return m->nchunks;
}

static int allocmap_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                            p2v_extent_fn fn, void *ctx)
{
    struct allocmap *m = (struct allocmap *)l;
    if (!m->bits)
        return p2v_layer_extents(l->below, off, len, fn, ctx);
    uint64_t end = off + len;
    while (off < end) {
        uint64_t c = off / P2V_ALLOC_CHUNK;
        int data = bit(m, c);
        /* The whole run: p2v_layer_extents clips it to the range. */
        uint64_t stop = next_chunk(m, c, !data) * P2V_ALLOC_CHUNK;
        if (stop > m->l.size)
            stop = m->l.size;
        int r = fn(ctx, off, stop - off, data ? P2V_EXTENT_DATA : P2V_EXTENT_ZERO);
        if (r)
            return r;
        off = stop;
    }
    return 0;
}

static void allocmap_close(struct p2v_layer *l)
{
    struct allocmap *m = (struct allocmap *)l;
    free(m->bits);
    free(m);
}

static const struct p2v_layer_ops allocmap_ops = {
    .name = "allocation map",
    .read = allocmap_read,
    .extents = allocmap_extents,
    .close = allocmap_close,
};

/* Passthrough mode forwards writes too (a --writable view): nothing is
 * cached here that a write could make stale. */
static int allocmap_write(struct p2v_layer *l, const void *buf, size_t len, uint64_t off)
{
    return p2v_layer_write(l->below, buf, len, off);
}

static const struct p2v_layer_ops allocmap_pass_ops = {
    .name = "allocation map (passthrough)",
    .read = allocmap_read,
    .extents = allocmap_extents,
    .write = allocmap_write,
    .close = allocmap_close,
};

struct scan {
    struct allocmap *m;
    uint8_t *buf;
    uint64_t to_scan, done;
    uint64_t scanned_to;   /* chunks below this were read already */
    p2v_progress_fn progress;
    void *progress_ctx;
};

/* A read that failed (bad sectors, logged below): chunk by chunk, and a
 * chunk that cannot be read counts as data, so the image has the block
 * and reading it gives the error again (or zeros, with --bad-sectors
 * zero, where the read succeeds). */
static int scan_unreadable(struct allocmap *m, uint8_t *buf, uint64_t n, uint64_t pos)
{
    for (uint64_t i = 0; i < n; i += P2V_ALLOC_CHUNK) {
        uint64_t len = n - i < P2V_ALLOC_CHUNK ? n - i : P2V_ALLOC_CHUNK;
        int r = p2v_layer_read(m->l.below, buf + i, len, pos + i);
        if (r == -EIO)
            memset(buf + i, 0xFF, len);  /* not zero: allocated */
        else if (r < 0)
            return r;
    }
    return 0;
}

/* Reads one data extent of the layer below, chunk-aligned, and marks the
 * chunks holding a non-zero byte. */
static int scan_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct scan *s = ctx;
    struct allocmap *m = s->m;
    if (kind == P2V_EXTENT_ZERO)
        return 0;
    if (kind == P2V_EXTENT_USED) {
        /* A filesystem uses it: mark it without reading a byte. */
        for (uint64_t c = off / P2V_ALLOC_CHUNK; c <= (off + len - 1) / P2V_ALLOC_CHUNK; c++)
            m->bits[c / 64] |= 1ull << (c % 64);
        s->done += len;
        return 0;
    }
    uint64_t size = m->l.below->size;
    uint64_t pos = off / P2V_ALLOC_CHUNK * P2V_ALLOC_CHUNK;
    uint64_t end = off + len;
    /* Extents of a fragmented file often share a chunk: read it once. */
    if (pos < s->scanned_to)
        pos = s->scanned_to;
    while (pos < end) {
        uint64_t n = end - pos < SCAN_BUF ? end - pos : SCAN_BUF;
        n = (n + P2V_ALLOC_CHUNK - 1) / P2V_ALLOC_CHUNK * P2V_ALLOC_CHUNK;
        if (pos + n > size)
            n = size - pos;
        int r = p2v_layer_read(m->l.below, s->buf, n, pos);
        if (r == -EIO)
            r = scan_unreadable(m, s->buf, n, pos);
        if (r < 0)
            return r;
        /* The tail of a short last chunk is zero in the buffer already. */
        memset(s->buf + n, 0, (P2V_ALLOC_CHUNK - n % P2V_ALLOC_CHUNK) % P2V_ALLOC_CHUNK);
        for (uint64_t i = 0; i < n; i += P2V_ALLOC_CHUNK) {
            if (!is_zero(s->buf + i, P2V_ALLOC_CHUNK)) {
                uint64_t c = (pos + i) / P2V_ALLOC_CHUNK;
                m->bits[c / 64] |= 1ull << (c % 64);
            }
        }
        s->done += n < end - pos ? n : end - pos;
        if (s->progress)
            s->progress(s->progress_ctx, s->done < s->to_scan ? s->done : s->to_scan,
                        s->to_scan);
        pos += n;
        s->scanned_to = pos;
    }
    return 0;
}

int p2v_allocmap_open(struct p2v_layer *below, enum p2v_alloc_mode mode,
                      p2v_progress_fn progress, void *progress_ctx,
                      struct p2v_layer **out)
{
    struct allocmap *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->l.ops = mode == P2V_ALLOC_SCAN ? &allocmap_ops : &allocmap_pass_ops;
    m->l.below = below;
    m->l.size = below->size;
    m->nchunks = (below->size + P2V_ALLOC_CHUNK - 1) / P2V_ALLOC_CHUNK;
    if (mode == P2V_ALLOC_SCAN) {
        struct scan s = { .m = m, .progress = progress, .progress_ctx = progress_ctx };
        m->bits = calloc((m->nchunks + 63) / 64, sizeof *m->bits);
        s.buf = aligned_alloc(4096, SCAN_BUF);
        int r = m->bits && s.buf ? 0 : -ENOMEM;
        if (r == 0)
            r = p2v_layer_data_bytes(below, 0, below->size, &s.to_scan);
        if (r == 0)
            r = p2v_layer_extents(below, 0, below->size, scan_extent, &s);
        free(s.buf);
        if (r < 0) {
            allocmap_close(&m->l);
            return r;
        }
    }
    *out = &m->l;
    return 0;
}
