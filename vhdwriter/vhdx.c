#include "vhdx.h"

#include "vhdx_format.h"
#include "payload.h"
#include "core/bytes.h"
#include "core/log.h"
#include "core/uuid5.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum piece_kind { P_ZERO = P2V_PIECE_ZERO, P_DATA = P2V_PIECE_DATA,
                  P_IDENT = P2V_PIECE_META, P_HEADER1, P_HEADER2, P_REGION, P_META, P_BAT };

struct vhdx {
    struct p2v_layer l;
    struct vhdx_params fp;
    uint8_t ident[VHDX_REGION_SIZE];
    uint8_t header1[VHDX_HEADER_SIZE], header2[VHDX_HEADER_SIZE];
    uint8_t region[VHDX_REGION_SIZE];
    uint8_t meta[VHDX_META_BYTES];
    uint64_t nblocks, npresent, chunk_ratio, bat_entries;
    uint64_t *present;        /* one bit per block */
    uint64_t *rank;           /* blocks present before each 64-block word */
    uint64_t data0;           /* file offset of the first present block */
};

/* Block b's slot among the present blocks. */
static uint64_t rank_of(const struct vhdx *v, uint64_t b)
{
    uint64_t w = b / 64, bit = b % 64;
    uint64_t below = bit ? v->present[w] & ((1ull << bit) - 1) : 0;
    return v->rank[w] + (uint64_t)__builtin_popcountll(below);
}

/* The block in slot k (k < npresent): a binary search over the words,
 * then a walk through the one word. */
static uint64_t select_slot(const struct vhdx *v, uint64_t k)
{
    uint64_t lo = 0, hi = (v->nblocks + 63) / 64;  /* rank[lo] <= k < rank[hi] */
    while (hi - lo > 1) {
        uint64_t mid = (lo + hi) / 2;
        if (v->rank[mid] <= k)
            lo = mid;
        else
            hi = mid;
    }
    uint64_t word = v->present[lo], left = k - v->rank[lo];
    for (;;) {
        int bit = __builtin_ctzll(word);
        if (!left--)
            return lo * 64 + (uint64_t)bit;
        word &= word - 1;
    }
}

static int is_present(const struct vhdx *v, uint64_t b)
{
    return (v->present[b / 64] >> (b % 64)) & 1;
}

/* The piece of the file at off: its kind, where it lies, and for data the
 * disk offset of its first byte. */
static int find_piece(void *map, uint64_t off, struct p2v_region *p)
{
    const struct vhdx *v = map;
    static const struct { uint64_t start, len; enum piece_kind kind; } fixed[] = {
        { 0, VHDX_REGION_SIZE, P_IDENT },
        { VHDX_HEADER1_OFF, VHDX_REGION_SIZE, P_HEADER1 },
        { VHDX_HEADER2_OFF, VHDX_REGION_SIZE, P_HEADER2 },
        { VHDX_REGION1_OFF, VHDX_REGION_SIZE, P_REGION },
        { VHDX_REGION2_OFF, VHDX_REGION_SIZE, P_REGION },
    };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (off >= fixed[i].start && off < fixed[i].start + fixed[i].len) {
            *p = (struct p2v_region){ fixed[i].kind, fixed[i].start, fixed[i].len, 0 };
            return 0;
        }
    if (off < VHDX_META_OFF)  /* the rest of the first MiB, and the log */
        *p = (struct p2v_region){ P_ZERO, VHDX_REGION2_OFF + VHDX_REGION_SIZE,
                             VHDX_META_OFF - VHDX_REGION2_OFF - VHDX_REGION_SIZE, 0 };
    else if (off < VHDX_BAT_OFF)
        *p = (struct p2v_region){ P_META, VHDX_META_OFF, VHDX_META_LEN, 0 };
    else if (off < v->data0)
        *p = (struct p2v_region){ P_BAT, VHDX_BAT_OFF, v->fp.bat_len, 0 };
    else {
        uint64_t k = (off - v->data0) / v->fp.block_size;
        *p = (struct p2v_region){ P_DATA, v->data0 + k * v->fp.block_size, v->fp.block_size,
                             select_slot(v, k) * v->fp.block_size };
    }
    return 0;
}

/* BAT entry e: a payload entry (present or not) or a bitmap entry (0). */
static uint64_t bat_entry(const struct vhdx *v, uint64_t e)
{
    if (e >= v->bat_entries)
        return 0;
    uint64_t chunk = e / (v->chunk_ratio + 1), pos = e % (v->chunk_ratio + 1);
    if (pos == v->chunk_ratio)
        return 0;  /* SB_BLOCK_NOT_PRESENT: no differencing, no bitmaps */
    uint64_t b = chunk * v->chunk_ratio + pos;
    if (b >= v->nblocks || !is_present(v, b))
        return VHDX_PAYLOAD_NOT_PRESENT;
    uint64_t mb = (v->data0 + rank_of(v, b) * v->fp.block_size) / VHDX_MiB;
    return VHDX_PAYLOAD_FULLY_PRESENT | mb << 20;
}

static void read_bat(const struct vhdx *v, uint8_t *out, size_t n, uint64_t rel)
{
    while (n) {
        uint8_t e[8];
        put_le64(e, bat_entry(v, rel / 8));
        size_t at = rel % 8, take = 8 - at < n ? 8 - at : n;
        memcpy(out, e + at, take);
        out += take, rel += take, n -= take;
    }
}

static void copy_from(uint8_t *out, const uint8_t *src, size_t srclen, uint64_t rel, size_t n)
{
    size_t have = rel >= srclen ? 0 : (srclen - rel < n ? (size_t)(srclen - rel) : n);
    memcpy(out, src + rel, have);
    memset(out + have, 0, n - have);
}

static void fill_piece(void *enc, const struct p2v_region *p, uint64_t rel, uint8_t *out,
                       size_t n)
{
    const struct vhdx *v = enc;
    switch (p->kind) {
    case P_IDENT: copy_from(out, v->ident, sizeof v->ident, rel, n); break;
    case P_HEADER1: copy_from(out, v->header1, sizeof v->header1, rel, n); break;
    case P_HEADER2: copy_from(out, v->header2, sizeof v->header2, rel, n); break;
    case P_REGION: copy_from(out, v->region, sizeof v->region, rel, n); break;
    case P_META: copy_from(out, v->meta, sizeof v->meta, rel, n); break;
    case P_BAT: read_bat(v, out, n, rel); break;
    }
}

static int vhdx_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    return p2v_pieces_read(l->below, l, find_piece, fill_piece, buf, len, off);
}

/* Metadata counts as data; the log and padding as holes. */
static int vhdx_extents(struct p2v_layer *l, uint64_t off, uint64_t len, p2v_extent_fn fn,
                        void *ctx)
{
    return p2v_pieces_extents(l->below, l, find_piece, off, len, fn, ctx);
}

static void vhdx_close(struct p2v_layer *l)
{
    struct vhdx *v = (struct vhdx *)l;
    free(v->present);
    free(v->rank);
    free(v);
}

static const struct p2v_layer_ops vhdx_ops = {
    .name = "vhdx",
    .read = vhdx_read,
    .extents = vhdx_extents,
    .close = vhdx_close,
};

int p2v_is_vhdx(const struct p2v_layer *l)
{
    return l && l->ops == &vhdx_ops;
}

int p2v_vhdx_check(uint64_t size, uint32_t logical_sector, uint32_t block_size, int say)
{
    if (block_size < VHDX_MIN_BLOCK || block_size > VHDX_MAX_BLOCK ||
        (block_size & (block_size - 1))) {
        if (say)
            p2v_err("a VHDX block size is a power of two from 1 MiB to 256 MiB, not %u bytes",
                    block_size);
        return -EINVAL;
    }
    if (logical_sector != 512 && logical_sector != 4096) {
        if (say)
            p2v_err("the source has %u-byte logical sectors; VHDX has 512 or 4096",
                    logical_sector);
        return -EINVAL;
    }
    if (size > VHDX_MAX_SIZE) {
        if (say)
            p2v_err("the disk is %llu bytes, over the VHDX limit of " VHDX_MAX_TEXT " (%llu "
                    "bytes); convert only some of its volumes (--volumes) or shrink them first",
                    (unsigned long long)size, (unsigned long long)VHDX_MAX_SIZE);
        return -EFBIG;
    }
    if (!size || size % logical_sector) {
        if (say)
            p2v_err("the disk is %llu bytes, not a positive multiple of its %u-byte sectors",
                    (unsigned long long)size, logical_sector);
        return -EINVAL;
    }
    return 0;
}

struct mark {
    uint64_t *present;
    uint32_t block_size;
};

static int mark_block(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct mark *m = ctx;
    if (kind != P2V_EXTENT_ZERO)
        for (uint64_t b = off / m->block_size; b <= (off + len - 1) / m->block_size; b++)
            m->present[b / 64] |= 1ull << (b % 64);
    return 0;
}

/* Each GUID is a UUIDv5 of the image identity and its role. */
static void derive_guid(uint8_t out[16], const uint8_t id[16], const char *role)
{
    uint8_t name[48];
    size_t n = strlen(role);
    memcpy(name, "p2v-vhdx|", 9);
    memcpy(name + 9, id, 16);
    memcpy(name + 25, role, n);
    p2v_uuid5(out, name, 25 + n);
}

int p2v_vhdx_open(struct p2v_layer *below, const struct p2v_vhdx_params *p, struct p2v_layer **out)
{
    uint32_t bs = p->block_size ? p->block_size : VHDX_DEFAULT_BLOCK;
    uint32_t ls = p->logical_sector ? p->logical_sector : 512;
    int r = p2v_vhdx_check(below->size, ls, bs, 1);
    if (r < 0)
        return r;
    struct vhdx *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->l.ops = &vhdx_ops;
    v->l.below = below;
    v->fp.size = below->size;
    /* A fixed image has every block present but does not say so with
     * LeaveBlockAllocated: libvhdi (20210425) then drops the bitmap entries
     * from its BAT arithmetic and reads every chunk after the first from
     * the wrong place.  Hyper-V and QEMU take it as a full dynamic disk. */
    v->fp.fixed = 0;
    v->fp.block_size = bs;
    v->fp.logical_sector = ls;
    v->fp.physical_sector = p->physical_sector == 4096 ? 4096 : 512;
    if (v->fp.physical_sector < ls)
        v->fp.physical_sector = ls;
    derive_guid(v->fp.file_write_guid, p->unique_id, "file-write");
    derive_guid(v->fp.data_write_guid, p->unique_id, "data-write");
    derive_guid(v->fp.disk_id, p->unique_id, "disk-id");
    v->nblocks = (below->size + bs - 1) / bs;
    v->chunk_ratio = vhdx_chunk_ratio(ls, bs);
    v->bat_entries = vhdx_bat_entries(below->size, ls, bs);
    v->fp.bat_len = round_up(v->bat_entries * 8, VHDX_MiB);
    v->data0 = VHDX_BAT_OFF + v->fp.bat_len;
    uint64_t words = (v->nblocks + 63) / 64;
    v->present = calloc(words + 1, sizeof *v->present);
    v->rank = calloc(words + 1, sizeof *v->rank);
    if (!v->present || !v->rank) {
        vhdx_close(&v->l);
        return -ENOMEM;
    }
    if (p->dynamic) {
        struct mark m = { v->present, bs };
        r = p2v_layer_extents(below, 0, below->size, mark_block, &m);
        if (r < 0) {
            vhdx_close(&v->l);
            return r;
        }
    } else {
        for (uint64_t b = 0; b < v->nblocks; b++)
            v->present[b / 64] |= 1ull << (b % 64);
    }
    for (uint64_t w = 0; w < words; w++)
        v->rank[w + 1] = v->rank[w] + (uint64_t)__builtin_popcountll(v->present[w]);
    v->npresent = v->rank[words];
    vhdx_build_ident(v->ident);
    vhdx_build_header(v->header1, &v->fp, 1);
    vhdx_build_header(v->header2, &v->fp, 2);
    vhdx_build_region_table(v->region, &v->fp);
    vhdx_build_metadata(v->meta, &v->fp);
    v->l.size = v->data0 + v->npresent * bs;
    *out = &v->l;
    return 0;
}

void p2v_vhdx_describe(struct p2v_layer *l, struct p2v_vhdx_layout *out)
{
    const struct vhdx *v = p2v_layer_cast(l, &vhdx_ops);
    memset(out, 0, sizeof *out);
    if (!v)
        return;
    out->file_size = l->size;
    out->blocks_total = v->nblocks;
    out->blocks_present = v->npresent;
    out->block_size = v->fp.block_size;
}
