#include "stack.h"

#include "core/progress.h"
#include "core/log.h"
#include "core/uuid5.h"
#include "layout/fsmap.h"
#include "layout/layout_plan.h"
#include "fixup/overlay.h"
#include "guest/windows.h"
#include "fs/probe_mount.h"
#include "snapshot/guard.h"
#include "vhdwriter/allocmap.h"
#include "vhdwriter/vhd.h"
#include "vhdwriter/vhd_format.h"
#include "vhdwriter/vhdx.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Appends the wrapping of a bare volume to an identity name. */
static void n_wrap(char *head, size_t len, const struct p2v_stack *s)
{
    size_t n = strlen(head);
    if (s->wrap.offset && n < len)
        snprintf(head + n, len - n, "|wrap:%llu:%s:%08x", (unsigned long long)s->wrap.offset,
                 s->wrap.gpt ? "gpt" : "mbr", s->wrap.signature);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

static int fold_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    uint64_t *h = ctx;
    if (kind != P2V_EXTENT_ZERO)
        *h = mix(mix(*h, off), len);
    return 0;
}

/* What the disk layout shows, before any overlay: the source and the
 * layout options.  An overlay is bound to it, and the image identity
 * builds on it. */
static int derive_base(struct p2v_stack *s, const struct p2v_stack_opts *o,
                       struct p2v_layer *layout)
{
    enum { SAMPLE = 1024 * 1024 };
    char head[8960];
    const struct p2v_layout_opts *lo = &o->layout;
    size_t sample = 0;
    int n;
    n = snprintf(head, sizeof head, "p2v-base-1|%s", s->sv.ident);
    if (!s->src.is_blockdev) {
        s->timestamp = vhd_timestamp((int64_t)s->src.mtime.tv_sec);
    } else {
        sample = 2 * SAMPLE;  /* first and last MiB: partition tables, boot code */
        /* No modification time to take: the VHD epoch. */
        s->timestamp = 0;
    }
    if (n > 0 && (size_t)n < sizeof head)
        snprintf(head + n, sizeof head - (size_t)n, "|%d|%u|%s|%d", lo->keep_free_space,
                 /* Inspection sees the bytes a mount would: not part of them. */
                 (lo->fs_flags & ~(unsigned)P2V_FS_INSPECT) | (unsigned)lo->drop_unselected << 8,
                 lo->volumes ? lo->volumes : "all", lo->volume);
    n_wrap(head, sizeof head, s);
    size_t hlen = strlen(head);
    uint8_t *name = malloc(hlen + sample);
    if (!name)
        return -ENOMEM;
    memcpy(name, head, hlen);
    int r = 0;
    if (sample) {
        r = p2v_layer_read(layout, name + hlen, SAMPLE, 0);
        if (r == 0)
            r = p2v_layer_read(layout, name + hlen + SAMPLE, SAMPLE, layout->size - SAMPLE);
    }
    if (r == 0)
        p2v_uuid5(s->base_id, name, hlen + sample);
    free(name);
    s->mtime.tv_sec = (time_t)(VHD_EPOCH + s->timestamp);
    s->mtime.tv_nsec = 0;
    return r;
}

/* The identity covers what determines the bytes: the base (source and
 * layout), the overlay's content and the output options.  An unchanged
 * source mounted again gets the same UniqueId and timestamp, so copies
 * resume; a changed one, or another fix-up, gets new ones. */
static int derive_identity(struct p2v_stack *s, const struct p2v_stack_opts *o)
{
    uint8_t name[128], ovl[16] = { 0 };
    uint64_t alloc = 0;
    if (s->overlay)
        p2v_overlay_digest(s->overlay, ovl);
    if (s->src.is_blockdev) {
        /* A device has no mtime: what is allocated stands in for it. */
        int r = p2v_layer_extents(s->disk, 0, s->disk->size, fold_extent, &alloc);
        if (r < 0)
            return r;
    }
    memcpy(name, "p2v-vhd-2|", 10);
    memcpy(name + 10, s->base_id, 16);
    memcpy(name + 26, ovl, 16);
    memcpy(name + 42, &alloc, sizeof alloc);
    name[50] = (uint8_t)o->dynamic;
    size_t n = 51;
    if (s->vhdx) {  /* a VHD keeps the identity it always had */
        uint32_t bs = o->block_size ? o->block_size : 32u << 20;
        memcpy(name + 51, "vhdx", 4);
        memcpy(name + 55, &bs, 4);
        n = 59;
    }
    p2v_uuid5(s->unique_id, name, n);
    return 0;
}

/* libblkid reads by path: the source's own when it holds the same bytes,
 * else a private FUSE mount of the snapshot view. */
static int probe_table(struct p2v_stack *s, struct p2v_layer *src, const struct p2v_stack_opts *o)
{
    if (s->sv.probe_path[0])
        return p2v_partitions_probe(s->sv.probe_path, s->src.real_size, o->layout.volume,
                                    s->table);
    struct p2v_probe_mount *pm;
    char path[128];
    int r = p2v_probe_mount(src, &pm, path, sizeof path);
    if (r < 0)
        return r;
    r = p2v_partitions_probe(path, src->size, o->layout.volume, s->table);
    p2v_probe_umount(pm);
    return r;
}

int p2v_stack_open(const char *source, const struct p2v_stack_opts *o, struct p2v_stack *s)
{
    memset(s, 0, sizeof *s);
    int r = p2v_srcview_open(source, &o->src, &s->sv);
    if (r < 0)
        return r;
    struct p2v_layer *src = s->sv.top;
    s->src = s->sv.info;
    /* The limits of the format asked for; auto keeps VHDX's for now and
     * decides once the table is known. */
    if (o->no_image)
        r = 0;
    else if (o->image == P2V_IMAGE_VHD && s->src.logical_sector != P2V_SECTOR) {
        p2v_err("source %s has %u-byte logical sectors; VHD has 512-byte sectors only: use "
                "--format vhdx (or auto)", source, s->src.logical_sector);
        r = -EINVAL;
    } else if (o->image == P2V_IMAGE_VHD) {
        r = p2v_vhd_check_size(src->size);
    } else {
        r = p2v_vhdx_check(src->size, s->src.logical_sector,
                           o->block_size ? o->block_size : 32u << 20);
    }
    if (r < 0) {
        p2v_layer_close_stack(src);
        p2v_srcview_release(&s->sv);
        return r;
    }
    /* A damaged table is refused before any scan or mount. */
    s->table = malloc(sizeof *s->table);
    r = s->table ? probe_table(s, src, o) : -ENOMEM;
    struct p2v_layer *layout = NULL;
    if (r == 0)
        r = p2v_layout_plan(src, s->src.path, s->table, &o->layout, &s->wrap, &layout);
    if (r < 0) {
        free(s->table);
        s->table = NULL;
        p2v_layer_close_stack(src);
        p2v_srcview_release(&s->sv);
        return r;
    }
    r = derive_base(s, o, layout);
    if (r == 0 && o->state) {
        /* Fix-ups and manual repairs sit on the disk layout: the offsets
         * they were made at are the ones the image shows. */
        unsigned fl = o->dry_run    ? P2V_OVERLAY_SCRATCH
                    : o->writable ? P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE : 0;
        r = p2v_overlay_open(layout, o->state, s->base_id, fl, &s->overlay);
        if (r == 0)
            layout = s->overlay;
    }
    if (r < 0) {
        free(s->table);
        s->table = NULL;
        p2v_layer_close_stack(layout);
        p2v_srcview_release(&s->sv);
        return r;
    }
    /* Only a dynamic image needs to know which blocks are zero; a fixed
     * one keeps the source's own holes and starts at once. */
    struct p2v_progress prog = { .what = s->src.path, .quiet = o->quiet };
    src = layout;
    /* A writable view changes what is allocated: no scan to go stale. */
    int scan = o->dynamic && !o->writable && !o->dry_run;
    r = p2v_allocmap_open(src, scan ? P2V_ALLOC_SCAN : P2V_ALLOC_PASSTHROUGH,
                          p2v_progress_update, &prog, &s->disk);
    p2v_progress_done(&prog);
    if (r < 0) {
        p2v_err("scanning source %s failed: %s", source, strerror(-r));
        p2v_layer_close_stack(src);
        free(s->table);
        p2v_srcview_release(&s->sv);
        return r;
    }
    s->vhdx = !o->no_image &&
              (o->image == P2V_IMAGE_VHDX ||
               (o->image == P2V_IMAGE_AUTO &&
                (s->src.logical_sector != P2V_SECTOR || s->disk->size > VHD_MAX_SIZE ||
                 p2v_table_uefi(s->table))));
    r = derive_identity(s, o);
    /* What was scanned must be what is served. */
    if (r == 0 && p2v_guard_check(s->sv.top)) {
        p2v_err("source %s changed while p2v read it; convert a snapshot (--snapshot) or "
                "stop what writes it", source);
        r = -EIO;
    }
    if (r < 0) {
        p2v_layer_close_stack(s->disk);
        free(s->table);
        p2v_srcview_release(&s->sv);
        return r;
    }
    if (o->no_image) {
        s->vhd = s->disk;
        return 0;
    }
    if (s->vhdx) {
        struct p2v_vhdx_params xp = { .dynamic = scan, .block_size = o->block_size,
                                      .logical_sector = s->src.logical_sector,
                                      .physical_sector = s->src.physical_sector };
        memcpy(xp.unique_id, s->unique_id, 16);
        r = p2v_vhdx_open(s->disk, &xp, &s->vhd);
    } else {
        struct p2v_vhd_params vp = { .dynamic = scan, .timestamp = s->timestamp };
        memcpy(vp.unique_id, s->unique_id, 16);
        r = p2v_vhd_open(s->disk, &vp, &s->vhd);
    }
    if (r < 0) {
        p2v_layer_close_stack(s->disk);
        free(s->table);
        p2v_srcview_release(&s->sv);
        return r;
    }
    return 0;
}

int p2v_table_uefi(const struct p2v_partition_table *t)
{
    if (strcmp(t->type, "gpt") != 0)
        return 0;
    for (int i = 0; i < t->n; i++)
        if (!strcasecmp(t->part[i].type, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"))
            return 1;
    return 0;
}

void p2v_stack_image(const struct p2v_stack *s, struct p2v_image_layout *out)
{
    memset(out, 0, sizeof *out);
    out->vhdx = s->vhdx;
    if (s->vhdx) {
        struct p2v_vhdx_layout x;
        p2v_vhdx_describe(s->vhd, &x);
        out->file_size = x.file_size;
        out->block_size = x.block_size;
        out->blocks_total = x.blocks_total;
        out->blocks_present = x.blocks_present;
    } else {
        struct p2v_vhd_layout v;
        p2v_vhd_describe(s->vhd, &v);
        out->file_size = v.file_size;
        out->block_size = VHD_BLOCK_SIZE;
        out->blocks_total = v.blocks_total;
        out->blocks_present = v.blocks_allocated;
    }
}

void p2v_stack_close(struct p2v_stack *s)
{
    p2v_layer_close_stack(s->vhd);
    s->vhd = s->disk = NULL;
    free(s->table);
    s->table = NULL;
    p2v_srcview_release(&s->sv);
}

int p2v_stack_windows(struct p2v_stack *s, struct p2v_layer *disk, int rw,
                      struct p2v_windows *w, struct p2v_gfs **gfs)
{
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    int n = p2v_layout_volumes(s->table, &s->wrap, s->src.size, vols, P2V_MAX_PARTITIONS);
    int r = p2v_windows_find(disk, vols, n, s->src.path, rw, w, gfs);
    if (r == -ENOENT)
        p2v_err("%s: no Windows found (no NTFS volume with Windows/System32/config and "
                "cmd.exe)", s->src.path);
    return r;
}
