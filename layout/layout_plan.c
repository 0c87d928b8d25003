#include "layout_plan.h"

#include "bootsector.h"
#include "disklayout.h"
#include "fsmap.h"
#include "gpt_build.h"

#include "core/log.h"
#include "core/uuid5.h"
#include "guest/ntfs_device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWAP_HEADER 4096u
#define MIB (1024ull * 1024)

/* Is partition number n in the --volumes list ("1,3")?  NULL: all are. */
static int selected(const char *list, int n)
{
    if (!list)
        return 1;
    for (const char *p = list; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (v == n)
            return 1;
        p = *end == ',' ? end + 1 : end + (*end != 0);
    }
    return 0;
}

/* Every number in the list must name a data partition. */
static int check_volumes(const struct p2v_partition_table *t, const char *list, const char *name)
{
    if (!list)
        return 0;
    for (const char *p = list; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        int found = end != p && (*end == ',' || *end == 0);
        for (int i = 0; found && i < t->n; i++)
            if (t->part[i].number == v && !t->part[i].extended)
                found = 2;
        if (found != 2) {
            p2v_err("--volumes %s: '%.*s' is not a data partition of %s; see p2v info for "
                    "the partition numbers", list, (int)strcspn(p, ","), p, name);
            return -EINVAL;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* Adds fz's ranges to zero, cut to the partition [start, start+size): a
 * filesystem that claims more blocks than its partition holds (shrunk
 * without resize2fs or ntfsresize) must not zero the next partition. */
static int add_clipped(struct p2v_ranges *zero, const struct p2v_ranges *fz, uint64_t start,
                       uint64_t size, const char *what)
{
    uint64_t cut = 0;
    for (size_t k = 0; k < fz->n; k++) {
        uint64_t a = fz->r[k].start, b = fz->r[k].end;
        uint64_t ca = a < start ? start : a, cb = b > start + size ? start + size : b;
        cut += (b - a) - (cb > ca ? cb - ca : 0);
        int r = cb > ca ? p2v_ranges_add(zero, ca, cb - ca) : 0;
        if (r < 0)
            return r;
    }
    if (cut)
        p2v_warn("%s: its filesystem reaches past the end of its partition (free space of %llu "
                 "bytes lies outside it); only the partition's own bytes are zeroed. Grow the "
                 "partition or shrink the filesystem (resize2fs, ntfsresize) on the source",
                 what, (unsigned long long)cut);
    return 0;
}

/* Free space of every filesystem p2v can read becomes zeros, and the
 * deleted data its metadata keeps is scrubbed. */
static int map_filesystems(struct p2v_layer *src, const char *name, struct p2v_partition_table *t,
                           const struct p2v_layout_opts *o, struct p2v_ranges *zero,
                           struct p2v_ranges *used, struct p2v_scrub_map *scrub)
{
    char what[4200];
    int r = 0;
    for (int i = -1; r == 0 && i < t->n; i++) {
        /* i = -1: a bare filesystem on the whole disk. */
        struct p2v_filesystem *fs = i < 0 ? &t->whole : &t->part[i].fs;
        uint64_t start = i < 0 ? 0 : t->part[i].start;
        uint64_t size = i < 0 ? src->size : t->part[i].size;
        if (i >= 0 && !t->part[i].extended && !selected(o->volumes, t->part[i].number)) {
            /* Left out with --volumes: the entry stays, the data reads as zeros. */
            r = p2v_ranges_add(zero, start, size);
            continue;
        }
        if (o->keep_free_space)
            continue;  /* with --volumes: only what is left out was dropped */
        if (i < 0)
            snprintf(what, sizeof what, "%s", name);
        else
            snprintf(what, sizeof what, "%s partition %d", name, t->part[i].number);
        if (!fs->type[0] && (i < 0 || !t->part[i].extended) && p2v_fsmap_ntfs_signature(src, start)) {
            /* NTFS by its OEM id, yet not valid enough to identify: damaged,
             * in its boot sector or in $MFT record 0 (libblkid reads both). */
            char why[512];
            if (p2v_ntfs_damage(src, start, size, why, sizeof why) == 1)
                p2v_err("%s: %s; or pass --keep-free-space to copy it as it is", what, why);
            else
                p2v_err("%s: its NTFS boot sector is damaged; run chkdsk on it, or pass "
                        "--keep-free-space to copy it as it is", what);
            r = -EINVAL;
            break;
        }
        struct p2v_fsmap_stats st = { 0 };
        struct p2v_ranges fz = { 0 };
        if (strcmp(fs->type, "xfs") == 0) {
            const char *state = p2v_fsmap_xfs_state(src, start, size);
            if (state)
                snprintf(fs->state, sizeof fs->state, "%s", state);
            continue;
        }
        if (strcmp(fs->type, "ntfs") == 0)
            r = p2v_fsmap_ntfs(src, start, size, what, o->fs_flags, &fz, scrub, &st);
        else if (!strcmp(fs->type, "ext2") || !strcmp(fs->type, "ext3") || !strcmp(fs->type, "ext4"))
            r = p2v_fsmap_ext(src, start, size, what, o->fs_flags, &fz, scrub, &st);
        else if (strcmp(fs->type, "swap") == 0 && size > SWAP_HEADER) {
            /* Swap holds nothing worth moving; its first page (signature,
             * label, UUID) stays so the guest still finds it. */
            st.free_bytes = size - SWAP_HEADER;
            r = p2v_ranges_add(&fz, start + SWAP_HEADER, size - SWAP_HEADER);
        } else {
            continue;
        }
        if (r == -ENOMEM)  /* the maps' own failures say what failed */
            p2v_err("%s: out of memory while mapping its free space and deleted data; pass "
                    "--keep-free-space to copy it as it is", what);
        if (r == 0)
            r = add_clipped(zero, &fz, start, size, what);
        p2v_ranges_free(&fz);
        fs->mapped = r == 0 && (st.free_bytes || st.pagefile_bytes);
        fs->free_bytes = st.free_bytes;
        fs->pagefile_bytes = st.pagefile_bytes;
        fs->scrubbed = st.scrub;
        if (st.state)
            snprintf(fs->state, sizeof fs->state, "%s", st.state);
        /* A mapped filesystem says what it uses: no zero scan there. */
        if (fs->mapped && r == 0)
            r = p2v_ranges_add(used, start, size);
    }
    p2v_ranges_finish(zero);
    p2v_ranges_finish(used);
    return r;
}

static uint8_t mbr_type(const char *fs)
{
    if (!strcmp(fs, "ntfs") || !strcmp(fs, "exfat"))
        return 0x07;
    if (!strcmp(fs, "vfat"))
        return 0x0c;
    if (!strcmp(fs, "swap"))
        return 0x82;
    return 0x83;
}

static const char *gpt_type(const char *fs)
{
    if (!strcmp(fs, "ntfs") || !strcmp(fs, "exfat") || !strcmp(fs, "vfat"))
        return P2V_GPT_TYPE_BASIC_DATA;
    if (!strcmp(fs, "swap"))
        return P2V_GPT_TYPE_LINUX_SWAP;
    return P2V_GPT_TYPE_LINUX_FS;
}

/* Identifiers of the new disk come from what the volume is (its name and
 * size), never from the clock, so every mount makes the same disk. */
static void derive(uint8_t out[16], const char *what, const char *name, uint64_t size)
{
    char buf[4200];
    int n = snprintf(buf, sizeof buf, "%s|%s|%llu", what, name, (unsigned long long)size);
    p2v_uuid5(out, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The GPT around the volume: head and tail sectors of the layout. */
static int wrap_gpt(struct p2v_layer *vol, const char *name, const struct p2v_filesystem *fs,
                    uint64_t off, struct p2v_wrap *wrap, struct p2v_layout_spec *spec)
{
    struct p2v_gpt_disk g = {
        .first_lba = off / 512,
        .last_lba = off / 512 + vol->size / 512 - 1,
        .type_guid = gpt_type(fs->type),
        .name = fs->label[0] ? fs->label : NULL,
    };
    /* Room for the backup array and header, then whole MiBs, as
     * partitioning tools leave it. */
    uint64_t need = off + vol->size + P2V_GPT_TAIL_BYTES;
    spec->size = (need + MIB - 1) / MIB * MIB;
    g.disk_sectors = spec->size / 512;
    derive(g.disk_guid, "p2v-gpt-disk", name, vol->size);
    derive(g.part_guid, "p2v-gpt-partition", name, vol->size);
    uint8_t *head = malloc(P2V_GPT_HEAD_BYTES), *tail = malloc(P2V_GPT_TAIL_BYTES);
    int r = head && tail ? p2v_gpt_build(&g, head, tail) : -ENOMEM;
    if (r == 0) {
        memcpy(wrap->disk_guid, g.disk_guid, 16);
        spec->head = head;  /* copied by the layout; freed by the caller */
        spec->head_len = P2V_GPT_HEAD_BYTES;
        spec->tail = tail;
        spec->tail_len = P2V_GPT_TAIL_BYTES;
        return 0;
    }
    free(head);
    free(tail);
    return r;
}

/* A bare volume becomes a bootable disk: p2v's boot code and one bootable
 * partition at the offset, and the NTFS boot sectors told where they now
 * are.  Zero ranges found on the volume move with it. */
static int wrap_volume(struct p2v_layer *vol, const char *name, const struct p2v_partition_table *t,
                       const struct p2v_layout_opts *o, struct p2v_wrap *wrap,
                       struct p2v_layout_spec *spec, uint8_t mbr[512], struct p2v_patch patches[2])
{
    uint64_t off = o->offset ? o->offset : MIB;
    uint64_t sectors = vol->size / 512;
    int gpt = o->gpt;
    if (off % 512) {
        p2v_err("--offset %llu: must be a multiple of 512", (unsigned long long)off);
        return -EINVAL;
    }
    if (!gpt && off / 512 + sectors > P2V_MBR_MAX_SECTORS) {
        if (o->have_signature) {
            p2v_err("%s: a volume of 2 TiB or more needs a GPT disk, which has no disk "
                    "signature: leave out --disk-signature", name);
            return -EINVAL;
        }
        p2v_note("%s: an MBR cannot address a disk of this size (2 TiB at most); "
                 "wrapping the volume in a GPT disk", name);
        gpt = 1;
    }
    if (gpt && o->have_signature) {
        p2v_err("--disk-signature is for MBR disks; a GPT disk gets a GUID derived from "
                "the source: leave out one of --gpt and --disk-signature");
        return -EINVAL;
    }
    if (gpt && off < P2V_GPT_HEAD_BYTES) {
        p2v_err("--offset %llu: a GPT disk needs the first %u bytes for its table; "
                "1 MiB (the default) is the usual choice", (unsigned long long)off,
                P2V_GPT_HEAD_BYTES);
        return -EINVAL;
    }
    for (size_t i = 0; i < spec->zero.n; i++) {
        spec->zero.r[i].start += off;
        spec->zero.r[i].end += off;
    }
    for (size_t i = 0; i < spec->used.n; i++) {
        spec->used.r[i].start += off;
        spec->used.r[i].end += off;
    }
    spec->vol_offset = off;
    int r;
    if (gpt) {
        r = wrap_gpt(vol, name, &t->whole, off, wrap, spec);
        if (r < 0) {
            p2v_err("%s: building the GPT around the volume failed: %s", name, strerror(-r));
            return r;
        }
    } else {
        uint32_t sig = o->disk_signature;
        if (!o->have_signature) {
            uint8_t u[16];
            derive(u, "p2v-mbr", name, vol->size);
            sig = (uint32_t)u[0] << 24 | u[1] << 16 | u[2] << 8 | u[3];
        }
        p2v_build_mbr(mbr, sig, mbr_type(t->whole.type), off / 512, sectors, off / 512 + sectors);
        spec->head = mbr;
        spec->head_len = 512;
        wrap->signature = sig;
    }
    uint64_t disk_sectors = (spec->size ? spec->size : off + vol->size) / 512;
    spec->patches = patches;
    if (!strcmp(t->whole.type, "ntfs")) {
        int n = p2v_ntfs_boot_patches(vol, 0, vol->size, off / 512, disk_sectors, patches);
        if (n < 0) {
            p2v_err("%s: reading the NTFS boot sectors failed: %s", name, strerror(-n));
            return n;
        }
        spec->npatches = (size_t)n;
    }
    wrap->offset = off;
    wrap->gpt = gpt;
    return 0;
}

static int is_extended_type(uint8_t t)
{
    return t == 0x05 || t == 0x0f || t == 0x85;
}

/* --drop-unselected: table entries of the partitions left out disappear
 * from the image (patched sectors; the source keeps them).  *out is
 * allocated. */
static int drop_entries(struct p2v_layer *src, const char *name, const struct p2v_partition_table *t,
                        const struct p2v_layout_opts *o, struct p2v_patch **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!o->volumes) {
        p2v_err("--drop-unselected goes with --volumes: say which partitions stay");
        return -EINVAL;
    }
    if (!strcmp(t->type, "gpt")) {
        int keep[P2V_MAX_PARTITIONS];
        for (int i = 0; i < P2V_MAX_PARTITIONS; i++)
            keep[i] = 1;
        for (int i = 0; i < t->n; i++)
            if (t->part[i].number >= 1 && t->part[i].number <= P2V_MAX_PARTITIONS)
                keep[t->part[i].number - 1] = selected(o->volumes, t->part[i].number);
        int r = p2v_gpt_drop(src, keep, out, n);
        if (r < 0)
            p2v_err("%s: rewriting the GPT without the unselected entries failed: %s",
                    name, strerror(-r));
        return r;
    }
    /* MBR: clear primary entries; an extended container goes only when no
     * logical partition in it stays, and logicals cannot go one by one. */
    int logical_kept = 0, logical_dropped = 0;
    for (int i = 0; i < t->n; i++) {
        if (t->part[i].number >= 5)
            selected(o->volumes, t->part[i].number) ? logical_kept++ : logical_dropped++;
    }
    if (logical_kept && logical_dropped) {
        p2v_err("--drop-unselected: logical partitions inside one extended partition cannot be "
                "dropped one by one; keep them all, or leave out --drop-unselected");
        return -EINVAL;
    }
    *out = calloc(1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    int r = p2v_layer_read(src, (*out)->data, 512, 0);
    if (r < 0) {
        p2v_err("%s: reading the MBR failed: %s", name, strerror(-r));
        return r;
    }
    uint8_t before[512];
    memcpy(before, (*out)->data, 512);
    for (int i = 0; i < 4; i++) {
        uint8_t *e = (*out)->data + 446 + 16 * i;
        int drop = is_extended_type(e[4]) ? !logical_kept : !selected(o->volumes, i + 1);
        if (drop)
            memset(e, 0, 16);
    }
    *n = memcmp(before, (*out)->data, 512) != 0;
    return 0;
}

int p2v_layout_plan(struct p2v_layer *src, const char *name, struct p2v_partition_table *t,
                    const struct p2v_layout_opts *o, struct p2v_wrap *wrap,
                    struct p2v_layer **out)
{
    memset(wrap, 0, sizeof *wrap);
    struct p2v_layout_spec spec = { 0 };
    struct p2v_scrub_map scrub = { 0 };
    struct p2v_layer *below = src;
    int r = check_volumes(t, o->volumes, name);
    if (r == 0 && (!o->keep_free_space || o->volumes))
        r = map_filesystems(src, name, t, o, &spec.zero, &spec.used, &scrub);
    if (r == 0 && (r = p2v_scrub_open(src, &scrub, &below)) < 0)
        p2v_err("%s: setting up the scrub layer failed: %s", name, strerror(-r));
    p2v_scrub_map_free(&scrub);  /* taken over by the layer, or not used */
    uint8_t mbr[512];
    struct p2v_patch patches[2], *dropped = NULL;
    if (r == 0 && !t->type[0] && (t->whole.type[0] || o->volume)) {
        r = wrap_volume(src, name, t, o, wrap, &spec, mbr, patches);
    } else if (r == 0 && o->drop_unselected) {
        r = drop_entries(src, name, t, o, &dropped, &spec.npatches);
        spec.patches = dropped;
    }
    if (r == 0) {
        r = p2v_disklayout_open(below, &spec, out);
        if (r < 0)
            p2v_err("%s: setting up the disk layout failed: %s", name, strerror(-r));
    }
    if (r < 0 && below != src)
        p2v_layer_close(below);
    if (spec.head != mbr)
        free((void *)spec.head);
    free((void *)spec.tail);
    p2v_ranges_free(&spec.zero);
    p2v_ranges_free(&spec.used);
    free(dropped);
    return r;
}

int p2v_disk_view_volumes(const struct p2v_disk_view *v, struct p2v_volume *out, int max)
{
    return p2v_layout_volumes(v->table, v->wrap, v->source_size, out, max);
}

int p2v_layout_volumes(const struct p2v_partition_table *t, const struct p2v_wrap *wrap,
                       uint64_t vol_size, struct p2v_volume *out, int max)
{
    int n = 0;
    if (wrap->offset && n < max)
        out[n++] = (struct p2v_volume){ 1, wrap->offset, vol_size, t->whole.type };
    for (int i = 0; i < t->n && n < max; i++)
        if (!t->part[i].extended)
            out[n++] = (struct p2v_volume){ t->part[i].number, t->part[i].start,
                                            t->part[i].size, t->part[i].fs.type };
    return n;
}
