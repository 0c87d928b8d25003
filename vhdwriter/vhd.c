#include "vhd.h"

#include "vhd_format.h"
#include "payload.h"
#include "core/bytes.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Dynamic layout: footer copy @0, header @512, BAT @1536, then one slot per
 * allocated block.  A slot is 4 KiB + 2 MiB: 3584 bytes of padding, the
 * 512-byte sector bitmap, then the data, so every block's data starts on a
 * 4 KiB boundary (the "aligned" VHD of Windows 8 and later).  The first
 * slot's padding overlaps the end of the BAT area and is cut short. */
#define SLOT_PAD 3584u
#define SLOT_HEAD 4096u
#define SLOT_STRIDE ((uint64_t)SLOT_HEAD + VHD_BLOCK_SIZE)

enum piece_kind { P_ZERO = P2V_PIECE_ZERO, P_DATA = P2V_PIECE_DATA,
                  P_FOOTER = P2V_PIECE_META, P_HEADER, P_BAT, P_BITMAP };

struct vhd {
    struct p2v_layer l;
    int dynamic;
    uint8_t footer[VHD_FOOTER_SIZE];
    uint8_t header[VHD_DYNHDR_SIZE];
    uint32_t nblocks, nalloc;
    uint8_t *bat;           /* nblocks big-endian u32 */
    uint32_t *alloc;        /* slot k -> block index */
    uint64_t bat_end;       /* BAT padded to 512 */
    uint64_t data0;         /* data offset of slot 0 */
    uint64_t footer_off;
};

/* The piece of the file at off: its kind, where it lies, and for data the
 * disk offset of its first byte. */
static int find_piece(void *map, uint64_t off, struct p2v_region *p)
{
    const struct vhd *v = map;
    if (!v->dynamic) {
        uint64_t disk = v->footer_off;
        *p = off < disk ? (struct p2v_region){ P_DATA, 0, disk, 0 }
                        : (struct p2v_region){ P_FOOTER, disk, VHD_FOOTER_SIZE, 0 };
        return 0;
    }
    if (off < VHD_FOOTER_SIZE)
        *p = (struct p2v_region){ P_FOOTER, 0, VHD_FOOTER_SIZE, 0 };
    else if (off < VHD_TABLE_OFFSET)
        *p = (struct p2v_region){ P_HEADER, VHD_FOOTER_SIZE, VHD_DYNHDR_SIZE, 0 };
    else if (off < v->bat_end)
        *p = (struct p2v_region){ P_BAT, VHD_TABLE_OFFSET, v->bat_end - VHD_TABLE_OFFSET, 0 };
    else if (off >= v->footer_off)
        *p = (struct p2v_region){ P_FOOTER, v->footer_off, VHD_FOOTER_SIZE, 0 };
    else if (off < v->data0 - VHD_FOOTER_SIZE)
        *p = (struct p2v_region){ P_ZERO, v->bat_end, v->data0 - VHD_FOOTER_SIZE - v->bat_end, 0 };
    else {
        uint64_t base = v->data0 - SLOT_HEAD;
        uint64_t k = (off - base) / SLOT_STRIDE;
        uint64_t slot = base + k * SLOT_STRIDE;
        uint64_t rel = off - slot;
        if (rel < SLOT_PAD)
            *p = (struct p2v_region){ P_ZERO, slot, SLOT_PAD, 0 };
        else if (rel < SLOT_HEAD)
            *p = (struct p2v_region){ P_BITMAP, slot + SLOT_PAD, VHD_FOOTER_SIZE, 0 };
        else
            *p = (struct p2v_region){ P_DATA, slot + SLOT_HEAD, VHD_BLOCK_SIZE,
                                      (uint64_t)v->alloc[k] * VHD_BLOCK_SIZE };
    }
    return 0;
}

static void fill_piece(void *enc, const struct p2v_region *p, uint64_t rel, uint8_t *out,
                       size_t n)
{
    const struct vhd *v = enc;
    switch (p->kind) {
    case P_FOOTER: memcpy(out, v->footer + rel, n); break;
    case P_HEADER: memcpy(out, v->header + rel, n); break;
    case P_BITMAP: memset(out, 0xFF, n); break;  /* every sector present */
    case P_BAT: {
        uint64_t bat_bytes = (uint64_t)v->nblocks * 4;
        size_t from_bat = rel >= bat_bytes ? 0
                          : (bat_bytes - rel < n ? (size_t)(bat_bytes - rel) : n);
        memcpy(out, v->bat + rel, from_bat);
        memset(out + from_bat, 0xFF, n - from_bat);  /* padding: unused entries */
        break;
    }
    }
}

static int vhd_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    return p2v_pieces_read(l->below, l, find_piece, fill_piece, buf, len, off);
}

static int vhd_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                       p2v_extent_fn fn, void *ctx)
{
    return p2v_pieces_extents(l->below, l, find_piece, off, len, fn, ctx);
}

static void vhd_close(struct p2v_layer *l)
{
    struct vhd *v = (struct vhd *)l;
    free(v->bat);
    free(v->alloc);
    free(v);
}

static const struct p2v_layer_ops vhd_ops = {
    .name = "vhd",
    .read = vhd_read,
    .extents = vhd_extents,
    .close = vhd_close,
};

int p2v_vhd_check(uint64_t size, uint32_t logical_sector, const char *name, int say)
{
    if (logical_sector && logical_sector != VHD_SECTOR) {
        if (say)
            p2v_err("source %s has %u-byte logical sectors; VHD has 512-byte sectors only: use "
                    "--format vhdx (or auto)", name, logical_sector);
        return -EINVAL;
    }
    if (size > VHD_MAX_SIZE) {
        if (say)
            p2v_err("the disk is %llu bytes, over the VHD limit of " VHD_MAX_TEXT " (%llu bytes); "
                    "VHD cannot hold it: use --format vhdx (or auto), up to " VHDX_MAX_TEXT,
                    (unsigned long long)size, (unsigned long long)VHD_MAX_SIZE);
        return -EFBIG;
    }
    if (size < VHD_MIN_SIZE) {
        if (say)
            p2v_err("the disk is %llu bytes, under the VHD minimum of 3 MiB (%llu bytes) "
                    "that Windows accepts", (unsigned long long)size,
                    (unsigned long long)VHD_MIN_SIZE);
        return -EINVAL;
    }
    if (size % VHD_SECTOR) {
        if (say)
            p2v_err("the disk is %llu bytes, not a multiple of 512", (unsigned long long)size);
        return -EINVAL;
    }
    return 0;
}

static int mark_block(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    uint8_t *used = ctx;
    if (kind != P2V_EXTENT_ZERO)
        for (uint64_t b = off / VHD_BLOCK_SIZE; b <= (off + len - 1) / VHD_BLOCK_SIZE; b++)
            used[b] = 1;
    return 0;
}

static int build_bat(struct vhd *v)
{
    uint8_t *used = calloc(v->nblocks, 1);
    v->bat = malloc((size_t)v->nblocks * 4);
    v->alloc = malloc((size_t)v->nblocks * sizeof *v->alloc);
    if (!used || !v->bat || !v->alloc) {
        free(used);
        return -ENOMEM;
    }
    int r = p2v_layer_extents(v->l.below, 0, v->l.below->size, mark_block, used);
    if (r < 0) {
        free(used);
        return r;
    }
    v->bat_end = VHD_TABLE_OFFSET + round_up((uint64_t)v->nblocks * 4, 512);
    /* First bitmap sector: the first 512-byte slot after the BAT whose end
     * falls on a 4 KiB boundary. */
    v->data0 = round_up(v->bat_end + VHD_FOOTER_SIZE, SLOT_HEAD);
    for (uint32_t b = 0; b < v->nblocks; b++) {
        uint32_t entry = UINT32_MAX;
        if (used[b]) {
            uint64_t bitmap = v->data0 - VHD_FOOTER_SIZE + v->nalloc * SLOT_STRIDE;
            entry = (uint32_t)(bitmap / 512);
            v->alloc[v->nalloc++] = b;
        }
        put_be32(v->bat + (size_t)b * 4, entry);
    }
    free(used);
    v->footer_off = v->nalloc ? v->data0 + (v->nalloc - 1) * SLOT_STRIDE + VHD_BLOCK_SIZE
                              : v->bat_end;
    return 0;
}

int p2v_vhd_open(struct p2v_layer *below, const struct p2v_vhd_params *p,
                 struct p2v_layer **out)
{
    int r = p2v_vhd_check(below->size, 0, NULL, 1);
    if (r < 0)
        return r;
    struct vhd *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->l.ops = &vhd_ops;
    v->l.below = below;
    v->dynamic = p->dynamic;
    v->nblocks = (uint32_t)((below->size + VHD_BLOCK_SIZE - 1) / VHD_BLOCK_SIZE);
    struct vhd_footer_params fp = {
        .size = below->size,
        .disk_type = p->dynamic ? VHD_TYPE_DYNAMIC : VHD_TYPE_FIXED,
        .timestamp = p->timestamp,
    };
    memcpy(fp.unique_id, p->unique_id, 16);
    vhd_build_footer(v->footer, &fp);
    if (p->dynamic) {
        vhd_build_dynamic_header(v->header, v->nblocks);
        r = build_bat(v);
        if (r < 0) {
            vhd_close(&v->l);
            return r;
        }
    } else {
        v->footer_off = below->size;
        v->nalloc = v->nblocks;
    }
    v->l.size = v->footer_off + VHD_FOOTER_SIZE;
    *out = &v->l;
    return 0;
}

void p2v_vhd_describe(struct p2v_layer *l, struct p2v_vhd_layout *out)
{
    const struct vhd *v = p2v_layer_cast(l, &vhd_ops);
    memset(out, 0, sizeof *out);
    if (!v)
        return;
    out->file_size = l->size;
    out->blocks_total = v->nblocks;
    out->blocks_allocated = v->nalloc;
}
