#include "scrub.h"

#include "core/log.h"
#include "core/plural.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct scrub {
    struct p2v_layer l;
    struct p2v_scrub_map m;
};

static int unit_ok(const struct p2v_scrub_run *r)
{
    if (r->kind == P2V_SCRUB_FILL_FF)
        return r->unit == 0;
    if (r->kind < P2V_SCRUB_MFT || r->kind > P2V_SCRUB_EXT_DIR)
        return 0;
    return r->unit >= 512 && r->unit <= 65536 && r->unit % 512 == 0 && r->len % r->unit == 0;
}

int p2v_scrub_map_vol(struct p2v_scrub_map *m, const struct p2v_scrub_vol *v, uint16_t *index)
{
    struct p2v_scrub_vol *n = m->nvol < UINT16_MAX ? realloc(m->vol, (m->nvol + 1) * sizeof *n) : NULL;
    if (!n) {
        free(v->mft_bitmap);
        return -ENOMEM;
    }
    m->vol = n;
    m->vol[m->nvol] = *v;
    *index = (uint16_t)m->nvol++;
    return 0;
}

/* Does r continue the run p (same units, next bytes, next numbers)? */
static int continues(const struct p2v_scrub_run *p, const struct p2v_scrub_run *r)
{
    if (p->kind != r->kind || p->unit != r->unit || p->vol != r->vol || p->aux != r->aux ||
        p->start + p->len != r->start)
        return 0;
    switch (r->kind) {
    case P2V_SCRUB_MFT:
        return r->first == p->first + p->len / p->unit;
    case P2V_SCRUB_EXT_DIR:
        return r->first == p->first;
    default:
        return 1;
    }
}

int p2v_scrub_map_add(struct p2v_scrub_map *m, const struct p2v_scrub_run *r)
{
    if (!unit_ok(r) || r->vol >= m->nvol || r->start + r->len < r->start)
        return -EINVAL;
    if (r->len == 0)
        return 0;
    if (m->n && continues(&m->run[m->n - 1], r)) {
        m->run[m->n - 1].len += r->len;
        return 0;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct p2v_scrub_run *n = realloc(m->run, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        m->run = n;
        m->cap = cap;
    }
    m->run[m->n++] = *r;
    return 0;
}

void p2v_scrub_map_free(struct p2v_scrub_map *m)
{
    for (size_t i = 0; i < m->nvol; i++)
        free(m->vol[i].mft_bitmap);
    free(m->vol);
    free(m->run);
    memset(m, 0, sizeof *m);
}

/* One unit rewritten in place; k is its index in the run. */
static void rewrite(const struct p2v_scrub_map *m, const struct p2v_scrub_run *r, uint64_t k,
                    uint8_t *unit, struct p2v_scrub_counts *c)
{
    const struct p2v_scrub_vol *v = &m->vol[r->vol];
    switch (r->kind) {
    case P2V_SCRUB_MFT: {
        uint64_t rec = r->first + k;
        int in_use = rec >= v->mft_bits || (v->mft_bitmap[rec / 8] >> (rec % 8) & 1);
        p2v_scrub_mft_record(unit, r->unit, rec, in_use, v->ntfs_version, c);
        break;
    }
    case P2V_SCRUB_INDX:
        p2v_scrub_indx(unit, r->unit, c);
        break;
    case P2V_SCRUB_EXT_DIR:
        p2v_scrub_ext_leaf(unit, r->unit, (uint32_t)r->first, r->aux, v->csum_seed,
                           v->has_csum_tail, c);
        break;
    }
}

/* Applies run r to buf = [off, off+len) of the layer below. */
static int apply(struct scrub *s, const struct p2v_scrub_run *r, uint8_t *buf, size_t len,
                 uint64_t off)
{
    uint64_t lo = r->start > off ? r->start : off;
    uint64_t hi = r->start + r->len < off + len ? r->start + r->len : off + len;
    if (r->kind == P2V_SCRUB_FILL_FF) {
        memset(buf + (lo - off), 0xFF, hi - lo);
        return 0;
    }
    for (uint64_t k = (lo - r->start) / r->unit; r->start + k * r->unit < hi; k++) {
        uint64_t u = r->start + k * r->unit;
        if (u >= off && u + r->unit <= off + len) {
            rewrite(&s->m, r, k, buf + (u - off), NULL);
            continue;
        }
        /* A unit the read cuts: rewrite a whole copy, keep the part asked
         * for.  Rare (reads come in aligned blocks), so no per-thread pool. */
        uint8_t *whole = malloc(r->unit);
        if (!whole)
            return -ENOMEM;
        int e = p2v_layer_read(s->l.below, whole, r->unit, u);
        if (e == 0) {
            rewrite(&s->m, r, k, whole, NULL);
            uint64_t a = u > off ? u : off, b = u + r->unit < off + len ? u + r->unit : off + len;
            memcpy(buf + (a - off), whole + (a - u), b - a);
        }
        free(whole);
        if (e < 0)
            return e;
    }
    return 0;
}

/* Index of the first run that ends after off. */
static size_t find(const struct p2v_scrub_map *m, uint64_t off)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->run[mid].start + m->run[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int scrub_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct scrub *s = (struct scrub *)l;
    int r = p2v_layer_read(l->below, buf, len, off);
    for (size_t i = find(&s->m, off); r == 0 && i < s->m.n && s->m.run[i].start < off + len; i++)
        r = apply(s, &s->m.run[i], buf, len, off);
    return r;
}

struct fill_walk {
    const struct p2v_scrub_map *m;
    p2v_extent_fn fn;
    void *ctx;
};

/* A zero extent from below that a fill covers is data in part: a sparse
 * source's hole inside $LogFile reads as 0xFF here, and every image must
 * carry those bytes.  (A rewritten unit over a hole stays zeros: no unit
 * check passes on zeros.) */
static int fill_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct fill_walk *w = ctx;
    uint64_t end = off + len;
    if (kind != P2V_EXTENT_ZERO)
        return w->fn(w->ctx, off, len, kind);
    for (size_t i = find(w->m, off); i < w->m->n && w->m->run[i].start < end; i++) {
        const struct p2v_scrub_run *r = &w->m->run[i];
        if (r->kind != P2V_SCRUB_FILL_FF)
            continue;
        uint64_t a = r->start > off ? r->start : off;
        uint64_t b = r->start + r->len < end ? r->start + r->len : end;
        int e = a > off ? w->fn(w->ctx, off, a - off, P2V_EXTENT_ZERO) : 0;
        if (e == 0)
            e = w->fn(w->ctx, a, b - a, P2V_EXTENT_DATA);
        if (e)
            return e;
        off = b;
    }
    return off < end ? w->fn(w->ctx, off, end - off, P2V_EXTENT_ZERO) : 0;
}

static int scrub_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                         void *ctx)
{
    /* Rewritten units are data whatever they hold, and so is a fill of
     * 0xFF; what the filesystem uses is data below too. */
    struct scrub *s = (struct scrub *)l;
    struct fill_walk w = { &s->m, fn, ctx };
    return p2v_layer_extents(l->below, off, len, fill_extent, &w);
}

static void scrub_close(struct p2v_layer *l)
{
    struct scrub *s = (struct scrub *)l;
    p2v_scrub_map_free(&s->m);
    free(s);
}

static const struct p2v_layer_ops scrub_ops = {
    .name = "scrub",
    .read = scrub_read,
    .extents = scrub_extents,
    .close = scrub_close,
};

static int by_start(const void *a, const void *b)
{
    const struct p2v_scrub_run *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

int p2v_scrub_open(struct p2v_layer *below, struct p2v_scrub_map *m, struct p2v_layer **out)
{
    *out = below;
    if (m->n == 0) {
        p2v_scrub_map_free(m);
        return 0;
    }
    struct scrub *s = calloc(1, sizeof *s);
    if (!s) {
        p2v_scrub_map_free(m);
        return -ENOMEM;
    }
    qsort(m->run, m->n, sizeof *m->run, by_start);
    size_t kept = 0, dropped = 0;
    uint64_t end = 0, first_bad = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct p2v_scrub_run *r = &m->run[i];
        if (kept && r->start < end) {
            if (!dropped++)
                first_bad = r->start;
            continue;
        }
        if (r->start + r->len > below->size) {
            if (!dropped++)
                first_bad = r->start;
            continue;
        }
        m->run[kept++] = *r;
        end = r->start + r->len;
    }
    if (dropped)
        p2v_warn("metadata units of %zu run%s (the first at byte %llu of the source) overlap "
                 "others or lie past its end: a filesystem claims those bytes twice and is "
                 "damaged. They are served as they are, deleted data included; run chkdsk or "
                 "e2fsck on the source", dropped, p2v_s(dropped), (unsigned long long)first_bad);
    m->n = kept;
    s->m = *m;
    memset(m, 0, sizeof *m);
    s->l.ops = &scrub_ops;
    s->l.below = below;
    s->l.size = below->size;
    *out = &s->l;
    return 0;
}

/* Counts one run's changes by rewriting copies of its units. */
static int count_run(struct scrub *s, const struct p2v_scrub_run *r, struct p2v_scrub_counts *c)
{
    enum { CHUNK = 1 << 20 };
    uint8_t *buf = malloc(CHUNK);
    if (!buf)
        return -ENOMEM;
    uint64_t step = r->kind == P2V_SCRUB_FILL_FF ? CHUNK : CHUNK / r->unit * r->unit;
    int e = 0;
    for (uint64_t pos = 0; e == 0 && pos < r->len; pos += step) {
        size_t n = (size_t)(r->len - pos < step ? r->len - pos : step);
        if ((e = p2v_layer_read(s->l.below, buf, n, r->start + pos)) < 0)
            break;
        if (r->kind == P2V_SCRUB_FILL_FF) {
            for (size_t i = 0; i < n; i++)
                c->logfile_bytes += buf[i] != 0xFF;
            continue;
        }
        for (size_t k = 0; k < n / r->unit; k++)
            rewrite(&s->m, r, pos / r->unit + k, buf + k * r->unit, c);
    }
    free(buf);
    return e;
}

int p2v_scrub_count(struct p2v_layer *l, uint64_t start, uint64_t size,
                    struct p2v_scrub_counts *c)
{
    while (l && l->ops != &scrub_ops)
        l = l->below;
    if (!l)
        return 0;
    struct scrub *s = (struct scrub *)l;
    int e = 0;
    for (size_t i = find(&s->m, start); e == 0 && i < s->m.n; i++) {
        const struct p2v_scrub_run *r = &s->m.run[i];
        if (r->start >= start + size)
            break;
        if (r->start >= start)
            e = count_run(s, r, c);
    }
    return e;
}
