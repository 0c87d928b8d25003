#include "stack.h"

#include "core/bytes.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/uuid5.h"
#include "core/vhd_facts.h"
#include "fixup/overlay.h"
#include "fixup/record.h"
#include "fs/probe_mount.h"
#include "guest/windows.h"
#include "layout/fsmap.h"
#include "machine/machine.h"
#include "snapshot/guard.h"
#include "vhdwriter/allocmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- identity ---- */

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
    n = snprintf(head, sizeof head, "p2v-base-2|%s", s->sv.ident);
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

enum { VOL_HEAD = 1024 * 1024, MFT_HEAD = 64 * 1024 };

/* Folds len bytes of the disk at off (clipped to the disk) into *h. */
static int fold_bytes(struct p2v_layer *disk, uint8_t *buf, uint64_t off, uint64_t len,
                      uint64_t *h)
{
    if (off >= disk->size)
        return 0;
    if (len > disk->size - off)
        len = disk->size - off;
    int r = p2v_layer_read(disk, buf, (size_t)len, off);
    for (uint64_t i = 0; r == 0 && i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        *h = mix(*h, w);
    }
    return r;
}

/* An NTFS volume's first MFT records ($MFT, $LogFile, $Volume with its
 * dirty flag, the root): their log sequence numbers move whenever Windows
 * mounts or changes the volume, which its boot sector never shows. */
static int fold_mft(struct p2v_layer *disk, uint8_t *buf, const struct p2v_volume *v,
                    uint64_t *h)
{
    if (memcmp(buf + 3, "NTFS    ", 8) != 0)
        return 0;
    uint64_t bps = get_le16(buf + 11), spc = buf[13], lcn = get_le64(buf + 48);
    if (spc > 0x80)
        spc = spc < 0xE0 ? 0 : 1ull << (256 - spc);  /* 2^(256-n) sectors */
    if (!bps || !spc || lcn > (v->size / (bps * spc)))
        return 0;  /* not one p2v can follow: its first MiB stands alone */
    uint64_t at = lcn * bps * spc;
    return at + MFT_HEAD > v->size ? 0 : fold_bytes(disk, buf, v->start + at, MFT_HEAD, h);
}

/* A device has no mtime: its volumes' metadata stands in for one.  The
 * first MiB of each volume holds what a mount that writes changes (ext's
 * superblock with its write time, write count and free counts, and its
 * group descriptors; XFS's superblock, AGF and AGI; btrfs's superblock
 * generation; FAT's tables); NTFS adds its first MFT records.  Data
 * rewritten in place, or raw writes, are not seen: a resumed commit
 * compares what it copied with the view. */
static int fold_volumes(struct p2v_stack *s, uint64_t *h)
{
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    struct p2v_disk_view dv = p2v_stack_view(s, s->disk);
    int n = p2v_disk_view_volumes(&dv, vols, P2V_MAX_PARTITIONS);
    uint8_t *buf = malloc(VOL_HEAD);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    for (int i = 0; r == 0 && i < n; i++) {
        uint64_t len = vols[i].size < VOL_HEAD ? vols[i].size : VOL_HEAD;
        *h = mix(mix(*h, vols[i].start), vols[i].size);
        r = fold_bytes(s->disk, buf, vols[i].start, len, h);
        if (r == 0 && len >= 512)
            r = fold_mft(s->disk, buf, &vols[i], h);
    }
    free(buf);
    if (r < 0)
        p2v_err("reading the volumes' metadata of %s for the image identity failed: %s",
                s->src.path, strerror(-r));
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
        /* A device has no mtime: what is allocated, and the volumes'
         * metadata, stand in for it. */
        int r = p2v_layer_extents(s->disk, 0, s->disk->size, fold_extent, &alloc);
        if (r == 0)
            r = fold_volumes(s, &alloc);
        if (r < 0)
            return r;
    }
    memcpy(name, "p2v-vhd-2|", 10);
    memcpy(name + 10, s->base_id, 16);
    memcpy(name + 26, ovl, 16);
    memcpy(name + 42, &alloc, sizeof alloc);
    name[50] = (uint8_t)o->dynamic;
    size_t n = 51;
    if (s->format == &p2v_vhdx_format) {  /* a VHD keeps the identity it always had */
        uint32_t bs = p2v_image_block_size(s->format, o->block_size);
        memcpy(name + 51, "vhdx", 4);
        memcpy(name + 55, &bs, 4);
        n = 59;
    }
    p2v_uuid5(s->unique_id, name, n);
    return 0;
}

/* ---- the layers, bottom up ---- */

/* The limits of the format asked for, before any scan: auto keeps VHDX's
 * for now and decides once the table is known. */
static int check_format(struct p2v_stack *s, const char *source, const struct p2v_stack_opts *o)
{
    if (o->no_image)
        return 0;
    const struct p2v_image_format *f =
        o->image == P2V_IMAGE_VHD ? &p2v_vhd_format : &p2v_vhdx_format;
    struct p2v_image_disk d = { .name = source, .size = s->top->size,
                                .logical_sector = s->src.logical_sector };
    return f->check(&d, o->block_size, 1);
}

/* libblkid reads by path: the source's own when it holds the same bytes,
 * else a private FUSE mount of the snapshot view. */
static int probe_table(struct p2v_stack *s, const struct p2v_stack_opts *o)
{
    s->table = malloc(sizeof *s->table);
    if (!s->table)
        return -ENOMEM;
    if (s->sv.probe_path[0])
        return p2v_partitions_probe(s->sv.probe_path, s->src.path, s->src.real_size, o->layout.volume,
                                    s->table);
    struct p2v_probe_mount *pm;
    char path[128];
    int r = p2v_probe_mount(s->top, &pm, path, sizeof path);
    if (r < 0)
        return r;
    r = p2v_partitions_probe(path, s->src.path, s->top->size, o->layout.volume, s->table);
    p2v_probe_umount(pm);
    return r;
}

/* Layers that fail to open leave the one below open; this one owns it
 * (and those below) once it opened. */
static void push(struct p2v_stack *s, struct p2v_layer *l)
{
    s->top = l;
}

static int open_overlay(struct p2v_stack *s, const struct p2v_stack_opts *o)
{
    if (!o->state)
        return 0;
    /* Fix-ups and manual repairs sit on the disk layout: the offsets they
     * were made at are the ones the image shows. */
    unsigned fl = o->dry_run    ? P2V_OVERLAY_SCRATCH
                : o->writable ? P2V_OVERLAY_WRITE | P2V_OVERLAY_CREATE : 0;
    /* A state of another base is explained here: the record says which
     * source it was made for, and whether that one was modified since. */
    int r = p2v_overlay_open(s->top, o->state, s->base_id, fl | P2V_OVERLAY_QUIET_BASE,
                             &s->overlay);
    if (r == -ESTALE) {
        p2v_record_explain_base(o->state, s->src.path,
                                s->src.is_blockdev ? NULL : &s->src.mtime);
        r = -EINVAL;  /* what callers knew it as */
    }
    if (r == 0)
        push(s, s->overlay);
    return r;
}

/* Only a dynamic image needs to know which blocks are zero; a fixed one
 * keeps the source's own holes and starts at once.  A writable view
 * changes what is allocated: no scan to go stale. */
static int open_allocmap(struct p2v_stack *s, const char *source, const struct p2v_stack_opts *o)
{
    struct p2v_progress prog = { .what = s->src.path, .quiet = o->quiet };
    int scan = o->dynamic && !o->writable && !o->dry_run;
    int r = p2v_allocmap_open(s->top, scan ? P2V_ALLOC_SCAN : P2V_ALLOC_PASSTHROUGH,
                              p2v_progress_update, &prog, &s->disk);
    p2v_progress_done(&prog);
    if (r < 0)
        p2v_err("scanning source %s failed: %s", source, strerror(-r));
    else
        push(s, s->disk);
    return r;
}

static int open_image(struct p2v_stack *s, const struct p2v_stack_opts *o)
{
    if (!s->format) {
        s->image = s->disk;
        return 0;
    }
    struct p2v_image_params p = {
        .dynamic = o->dynamic && !o->writable && !o->dry_run, .block_size = o->block_size,
        .timestamp = s->timestamp, .logical_sector = s->src.logical_sector,
        .physical_sector = s->src.physical_sector,
    };
    memcpy(p.unique_id, s->unique_id, 16);
    int r = s->format->open(s->disk, &p, &s->image);
    if (r == 0)
        push(s, s->image);
    return r;
}

int p2v_stack_open(const char *source, const struct p2v_stack_opts *o, struct p2v_stack *s)
{
    memset(s, 0, sizeof *s);
    int r = p2v_srcview_open(source, &o->src, &s->sv);
    if (r < 0)
        return r;
    s->src = s->sv.info;
    s->windows_flags = o->ignore_hive_logs ? P2V_WIN_IGNORE_HIVE_LOGS : 0;
    push(s, s->sv.top);
    struct p2v_layer *layout = NULL;
    /* A damaged table is refused before any scan or mount. */
    if ((r = check_format(s, source, o)) < 0 || (r = probe_table(s, o)) < 0 ||
        (r = p2v_layout_plan(s->top, s->src.path, s->table, &o->layout, &s->wrap, &layout)) < 0)
        goto fail;
    push(s, layout);
    if ((r = derive_base(s, o, layout)) < 0 || (r = open_overlay(s, o)) < 0 ||
        (r = open_allocmap(s, source, o)) < 0)
        goto fail;
    if (!o->no_image) {
        struct p2v_image_disk d = { .name = source, .size = s->disk->size,
                                    .logical_sector = s->src.logical_sector,
                                    .physical_sector = s->src.physical_sector,
                                    .uefi = p2v_table_uefi(s->table) };
        s->format = p2v_image_choose(o->image, &d);
    }
    if ((r = derive_identity(s, o)) < 0)
        goto fail;
    /* What was scanned must be what is served. */
    if (p2v_guard_check(s->sv.top)) {
        p2v_err("source %s changed while p2v read it; convert a snapshot (--snapshot) or "
                "stop what writes it", source);
        r = -EIO;
        goto fail;
    }
    if ((r = open_image(s, o)) < 0)
        goto fail;
    return 0;
fail:
    p2v_stack_close(s);
    return r;
}

void p2v_stack_image(const struct p2v_stack *s, struct p2v_image_layout *out)
{
    memset(out, 0, sizeof *out);
    if (s->format)
        s->format->describe(s->image, out);
}

void p2v_stack_close(struct p2v_stack *s)
{
    p2v_layer_close_stack(s->top);
    s->top = s->image = s->disk = s->overlay = NULL;
    free(s->table);
    s->table = NULL;
    p2v_srcview_release(&s->sv);
}

struct p2v_disk_view p2v_stack_view(const struct p2v_stack *s, struct p2v_layer *layer)
{
    return (struct p2v_disk_view){ .layer = layer, .table = s->table, .wrap = &s->wrap,
                                   .source_size = s->src.size,
                                   .logical_sector = s->src.logical_sector,
                                   .name = s->src.path, .windows_flags = s->windows_flags };
}

int p2v_stack_windows(struct p2v_stack *s, struct p2v_layer *layer, int rw,
                      struct p2v_windows *w, struct p2v_gfs **gfs)
{
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    struct p2v_disk_view dv = p2v_stack_view(s, layer);
    int n = p2v_disk_view_volumes(&dv, vols, P2V_MAX_PARTITIONS);
    int r = p2v_windows_find(layer, vols, n, s->src.path,
                             s->windows_flags | (rw ? P2V_WIN_RW : 0), w, gfs);
    if (r == -ENOENT)
        p2v_err("%s: no Windows found (no NTFS volume with Windows/System32/config and "
                "cmd.exe)", s->src.path);
    return r;
}

int p2v_inventory_source(const char *source, struct p2v_stack_opts *o, struct p2v_machine **m)
{
    o->quiet = 1;
    o->dynamic = 0;
    o->no_image = 1;  /* the facts do not depend on the output format's limits */
    o->layout.fs_flags |= P2V_FS_INSPECT;
    *m = calloc(1, sizeof **m);
    if (!*m)
        return -ENOMEM;
    struct p2v_stack st;
    int r = p2v_stack_open(source, o, &st);
    if (r == 0) {
        struct p2v_disk_view dv = p2v_stack_view(&st, st.disk);
        r = p2v_inventory_disk(&dv, *m);
        p2v_stack_close(&st);
    }
    if (r < 0) {
        free(*m);
        *m = NULL;
    }
    return r;
}

int p2v_stack_volume_boots(const struct p2v_stack *s)
{
    if (!s->wrap.offset)
        return 1;
    uint8_t b[512];
    if (p2v_layer_read(s->disk, b, sizeof b, s->wrap.offset) < 0)
        return -1;
    /* p2v's MBR code jumps to the volume's first sector: code there (NTFS,
     * FAT, a loader installed in the volume) or nothing at all. */
    for (int i = 0; i < 440; i++)
        if (b[i])
            return 1;
    return 0;
}
