#include "disklayout.h"

#include "core/regions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct layout {
    struct p2v_layer l;
    uint64_t vol_offset, vol_end;
    uint8_t *head, *tail;
    size_t head_len;
    uint64_t tail_start;
    struct p2v_ranges zero;
    struct p2v_patch *patches;
    size_t npatches;
    struct p2v_ranges used;
};

enum region { HEAD, VOLUME, TAIL, GAP };

/* The region holding off: the synthetic head, the volume (the layer
 * below), the synthetic tail, or the zeros between them. */
static int find_region(void *map, uint64_t off, struct p2v_region *r)
{
    const struct layout *d = map;
    if (off < d->head_len)
        *r = (struct p2v_region){ HEAD, 0, d->head_len, 0 };
    else if (off >= d->vol_offset && off < d->vol_end)
        *r = (struct p2v_region){ VOLUME, d->vol_offset, d->vol_end - d->vol_offset, 0 };
    else if (off >= d->tail_start)
        *r = (struct p2v_region){ TAIL, d->tail_start, d->l.size - d->tail_start, 0 };
    else if (off < d->vol_offset)
        *r = (struct p2v_region){ GAP, d->head_len, d->vol_offset - d->head_len, 0 };
    else
        *r = (struct p2v_region){ GAP, d->vol_end, d->tail_start - d->vol_end, 0 };
    return 0;
}

struct reading {
    struct layout *d;
    uint8_t *buf;
};

static int read_region(void *ctx, const struct p2v_region *r, uint64_t off, uint64_t n,
                       uint64_t done)
{
    struct reading *c = ctx;
    struct layout *d = c->d;
    uint8_t *p = c->buf + done;
    switch (r->kind) {
    case HEAD: memcpy(p, d->head + off, (size_t)n); return 0;
    case TAIL: memcpy(p, d->tail + (off - d->tail_start), (size_t)n); return 0;
    case GAP: memset(p, 0, (size_t)n); return 0;
    default: return p2v_layer_read(d->l.below, p, (size_t)n, off - d->vol_offset);
    }
}

/* Bytes [off, off+len) before zero ranges and patches. */
static int read_regions(struct layout *d, uint8_t *p, size_t len, uint64_t off)
{
    struct reading c = { d, p };
    return p2v_regions_walk(d, find_region, off, len, read_region, &c);
}

static int layout_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct layout *d = (struct layout *)l;
    uint8_t *p = buf;
    uint64_t end = off + len;
    /* Read what lies between zero ranges; the ranges themselves are zeros. */
    for (size_t i = p2v_ranges_find(&d->zero, off); off < end;) {
        uint64_t zs = i < d->zero.n && d->zero.r[i].start < end ? d->zero.r[i].start : end;
        if (zs > off) {
            int r = read_regions(d, p + (off - (end - len)), (size_t)(zs - off), off);
            if (r < 0)
                return r;
            off = zs;
        }
        if (off < end) {
            uint64_t ze = d->zero.r[i].end < end ? d->zero.r[i].end : end;
            memset(p + (off - (end - len)), 0, (size_t)(ze - off));
            off = ze;
            i++;
        }
    }
    off = end - len;
    for (size_t i = 0; i < d->npatches; i++) {
        const struct p2v_patch *pt = &d->patches[i];
        if (pt->off + 512 <= off || pt->off >= end)
            continue;
        uint64_t s = pt->off > off ? pt->off : off, e = pt->off + 512 < end ? pt->off + 512 : end;
        memcpy(p + (s - off), pt->data + (s - pt->off), (size_t)(e - s));
    }
    return 0;
}

struct walk {
    struct layout *d;
    p2v_extent_fn fn;
    void *ctx;
    size_t zi;       /* next zero range */
};

/* Emits a data range, marking the parts inside mapped volumes as used
 * (a handful of volumes: a linear walk). */
static int emit_data(struct walk *w, uint64_t off, uint64_t len)
{
    uint64_t end = off + len;
    const struct p2v_ranges *u = &w->d->used;
    for (size_t i = 0; i < u->n && off < end; i++) {
        if (u->r[i].end <= off || u->r[i].start >= end)
            continue;
        int r;
        if (u->r[i].start > off && (r = w->fn(w->ctx, off, u->r[i].start - off, P2V_EXTENT_DATA)))
            return r;
        uint64_t s = u->r[i].start > off ? u->r[i].start : off;
        uint64_t e = u->r[i].end < end ? u->r[i].end : end;
        if ((r = w->fn(w->ctx, s, e - s, P2V_EXTENT_USED)) != 0)
            return r;
        off = e;
    }
    return off < end ? w->fn(w->ctx, off, end - off, P2V_EXTENT_DATA) : 0;
}

/* Emits a range, turning patched sectors inside a zero range into data. */
static int emit(struct walk *w, uint64_t off, uint64_t len, int data)
{
    if (data)
        return emit_data(w, off, len);
    uint64_t end = off + len;
    for (size_t i = 0; i < w->d->npatches && off < end; i++) {
        const struct p2v_patch *pt = &w->d->patches[i];
        if (pt->off + 512 <= off || pt->off >= end)
            continue;
        int r;
        if (pt->off > off && (r = w->fn(w->ctx, off, pt->off - off, P2V_EXTENT_ZERO)) != 0)
            return r;
        uint64_t pe = pt->off + 512 < end ? pt->off + 512 : end;
        uint64_t ps = pt->off > off ? pt->off : off;
        if ((r = w->fn(w->ctx, ps, pe - ps, P2V_EXTENT_DATA)) != 0)
            return r;
        off = pe;
    }
    return off < end ? w->fn(w->ctx, off, end - off, P2V_EXTENT_ZERO) : 0;
}

/* Cuts the zero ranges out of a data extent (disk offsets). */
static int clip(struct walk *w, uint64_t off, uint64_t len, int data)
{
    const struct p2v_ranges *z = &w->d->zero;
    uint64_t end = off + len;
    if (!data)
        return emit(w, off, len, 0);
    while (w->zi < z->n && z->r[w->zi].end <= off)
        w->zi++;
    while (off < end) {
        const struct p2v_range *zr = w->zi < z->n ? &z->r[w->zi] : NULL;
        uint64_t zs = zr && zr->start < end ? (zr->start > off ? zr->start : off) : end;
        int r;
        if (zs > off && (r = emit(w, off, zs - off, 1)) != 0)
            return r;
        off = zs;
        if (off < end) {
            uint64_t ze = zr->end < end ? zr->end : end;
            if ((r = emit(w, off, ze - off, 0)) != 0)
                return r;
            off = ze;
            if (zr->end <= end)
                w->zi++;
        }
    }
    return 0;
}

static int below_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    return clip(ctx, off, len, kind != P2V_EXTENT_ZERO);
}

/* The volume's extents come from below (moved to disk offsets); the head
 * and tail are data, the gaps zeros; zero ranges and patches apply to all. */
static int region_extents(void *ctx, const struct p2v_region *r, uint64_t off, uint64_t n,
                          uint64_t done)
{
    (void)done;
    struct walk *w = ctx;
    if (r->kind == VOLUME)
        return p2v_layer_extents_moved(w->d->l.below, off - w->d->vol_offset, n, off, below_cb, w);
    return r->kind == GAP ? emit(w, off, n, 0) : clip(w, off, n, 1);
}

static int layout_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                          p2v_extent_fn fn, void *ctx)
{
    struct layout *d = (struct layout *)l;
    struct walk w = { d, fn, ctx, p2v_ranges_find(&d->zero, off) };
    return p2v_regions_walk(d, find_region, off, len, region_extents, &w);
}

static void layout_close(struct p2v_layer *l)
{
    struct layout *d = (struct layout *)l;
    p2v_ranges_free(&d->zero);
    p2v_ranges_free(&d->used);
    free(d->head);
    free(d->tail);
    free(d->patches);
    free(d);
}

static const struct p2v_layer_ops layout_ops = {
    .name = "disk layout",
    .read = layout_read,
    .extents = layout_extents,
    .close = layout_close,
};

static int by_off(const void *a, const void *b)
{
    const struct p2v_patch *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

int p2v_disklayout_open(struct p2v_layer *below, struct p2v_layout_spec *spec,
                        struct p2v_layer **out)
{
    uint64_t size = spec->size ? spec->size : below->size + spec->vol_offset;
    if (spec->head_len > spec->vol_offset || spec->vol_offset + below->size > size ||
        spec->tail_len > size - spec->vol_offset - below->size)
        return -EINVAL;
    struct layout *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->l.ops = &layout_ops;
    d->l.below = below;
    d->l.size = size;
    d->vol_offset = spec->vol_offset;
    d->vol_end = spec->vol_offset + below->size;
    if (spec->head_len && !(d->head = malloc(spec->head_len)))
        goto nomem;
    if (spec->head_len)
        memcpy(d->head, spec->head, spec->head_len);
    d->head_len = spec->head_len;
    if (spec->tail_len && !(d->tail = malloc(spec->tail_len)))
        goto nomem;
    if (spec->tail_len)
        memcpy(d->tail, spec->tail, spec->tail_len);
    d->tail_start = size - spec->tail_len;
    if (spec->npatches) {
        if (!(d->patches = malloc(spec->npatches * sizeof *d->patches)))
            goto nomem;
        memcpy(d->patches, spec->patches, spec->npatches * sizeof *d->patches);
        qsort(d->patches, spec->npatches, sizeof *d->patches, by_off);
        d->npatches = spec->npatches;
    }
    d->zero = spec->zero;
    spec->zero = (struct p2v_ranges){ 0 };
    d->used = spec->used;
    spec->used = (struct p2v_ranges){ 0 };
    *out = &d->l;
    return 0;
nomem:
    layout_close(&d->l);
    return -ENOMEM;
}
