#include "stack.h"

#include "progress.h"
#include "../core/log.h"
#include "../core/uuid5.h"
#include "../fixup/bootsector.h"
#include "../fixup/disklayout.h"
#include "../fixup/fsmap.h"
#include "../vhdwriter/allocmap.h"
#include "../vhdwriter/vhd.h"
#include "../vhdwriter/vhd_format.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

/* A block device's own name and times say nothing about the disk in it:
 * /dev/sdb can be another disk tomorrow, and its node's mtime is when the
 * node was made.  So it is known by its hardware identifier where sysfs has
 * one, else by its path, plus a sample of its content. */
static void device_id(dev_t rdev, const char *path, char *out, size_t len)
{
    static const char *const keys[] = {
        "device/wwid", "wwid", "device/serial", "serial", "dm/uuid",
        "loop/backing_file", "../device/wwid", "../wwid", "../device/serial",
    };
    char f[128];
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        snprintf(f, sizeof f, "/sys/dev/block/%u:%u/%s", major(rdev), minor(rdev), keys[i]);
        FILE *fp = fopen(f, "re");
        if (!fp)
            continue;
        char *got = fgets(out, (int)len, fp);
        fclose(fp);
        if (got && out[0] && out[0] != '\n') {
            out[strcspn(out, "\n")] = 0;
            /* A partition: the disk's identifier plus the partition number. */
            snprintf(f, sizeof f, "/sys/dev/block/%u:%u/partition", major(rdev), minor(rdev));
            if ((fp = fopen(f, "re"))) {
                size_t n = strlen(out);
                if (n + 2 < len && fgets(out + n + 1, (int)(len - n - 1), fp))
                    out[n] = '#';
                fclose(fp);
                out[strcspn(out, "\n")] = 0;
            }
            return;
        }
    }
    snprintf(out, len, "%s", path);
}

/* Appends the wrapping of a bare volume to an identity name. */
static void n_wrap(char *head, size_t len, const struct p2v_stack *s)
{
    size_t n = strlen(head);
    if (s->wrap_offset && n < len)
        snprintf(head + n, len - n, "|wrap:%llu:%08x", (unsigned long long)s->wrap_offset,
                 s->disk_signature);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}

static int fold_extent(void *ctx, uint64_t off, uint64_t len, int is_data)
{
    uint64_t *h = ctx;
    if (is_data)
        *h = mix(mix(*h, off), len);
    return 0;
}

/* The identity covers what determines the bytes: the source and the output
 * options.  An unchanged source mounted again gets the same UniqueId and
 * timestamp, so copies resume; a changed one gets new ones. */
static int derive_identity(struct p2v_stack *s, const struct p2v_stack_opts *o)
{
    enum { SAMPLE = 1024 * 1024 };
    char head[8704];
    const char *type = o->dynamic ? "dynamic" : "fixed";
    size_t sample = 0;
    uint8_t *name = NULL;
    if (!s->src.is_blockdev) {
        snprintf(head, sizeof head, "p2v-vhd-1|file|%s|%llu|%lld.%09ld|%s|%d|%u|%s", s->src.path,
                 (unsigned long long)s->src.size, (long long)s->src.mtime.tv_sec,
                 s->src.mtime.tv_nsec, type, o->keep_free_space, o->fs_flags | (unsigned)o->drop_unselected << 8,
                 o->volumes ? o->volumes : "all");
        n_wrap(head, sizeof head, s);
        s->timestamp = vhd_timestamp((int64_t)s->src.mtime.tv_sec);
    } else {
        char id[4200];
        uint64_t alloc = 0;
        device_id(s->src.rdev, s->src.path, id, sizeof id);
        int r = p2v_layer_extents(s->disk, 0, s->disk->size, fold_extent, &alloc);
        if (r < 0)
            return r;
        snprintf(head, sizeof head, "p2v-vhd-1|blockdev|%s|%llu|%016llx|%s|%d|%u|%s", id,
                 (unsigned long long)s->src.size, (unsigned long long)alloc, type,
                 o->keep_free_space, o->fs_flags | (unsigned)o->drop_unselected << 8,
                 o->volumes ? o->volumes : "all");
        n_wrap(head, sizeof head, s);
        sample = 2 * SAMPLE;  /* first and last MiB: partition tables, boot code */
        /* No modification time to take: the VHD epoch, until snapshots fix
         * the time of the copy. */
        s->timestamp = 0;
    }
    size_t hlen = strlen(head);
    name = malloc(hlen + sample);
    if (!name)
        return -ENOMEM;
    memcpy(name, head, hlen);
    int r = 0;
    if (sample) {
        r = p2v_layer_read(s->disk, name + hlen, SAMPLE, 0);
        if (r == 0)
            r = p2v_layer_read(s->disk, name + hlen + SAMPLE, SAMPLE, s->disk->size - SAMPLE);
    }
    if (r == 0)
        p2v_uuid5(s->unique_id, name, hlen + sample);
    free(name);
    s->mtime.tv_sec = (time_t)(VHD_EPOCH + s->timestamp);
    s->mtime.tv_nsec = 0;
    return r;
}

#define SWAP_HEADER 4096u

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
static int check_volumes(const struct p2v_partition_table *t, const char *list, const char *path)
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
                    "the partition numbers", list, (int)strcspn(p, ","), p, path);
            return -EINVAL;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* Free space of every filesystem p2v can read becomes zeros. */
static int map_filesystems(struct p2v_stack *s, struct p2v_layer *src,
                           const struct p2v_stack_opts *o, struct p2v_ranges *zero,
                           struct p2v_ranges *used)
{
    struct p2v_partition_table *t = s->table;
    char name[4200];
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
            snprintf(name, sizeof name, "%s", s->src.path);
        else
            snprintf(name, sizeof name, "%s partition %d", s->src.path, t->part[i].number);
        if (!fs->type[0] && (i < 0 || !t->part[i].extended) && p2v_fsmap_ntfs_signature(src, start)) {
            /* NTFS by its OEM id, yet not valid enough to identify: damaged. */
            p2v_err("%s: its NTFS boot sector is damaged; run chkdsk on it, or pass "
                    "--keep-free-space to copy it as it is", name);
            r = -EINVAL;
            break;
        }
        struct p2v_fsmap_stats st = { 0 };
        if (strcmp(fs->type, "ntfs") == 0)
            r = p2v_fsmap_ntfs(src, start, size, name, o->fs_flags, zero, &st);
        else if (!strcmp(fs->type, "ext2") || !strcmp(fs->type, "ext3") || !strcmp(fs->type, "ext4"))
            r = p2v_fsmap_ext(src, start, size, name, o->fs_flags, zero, &st);
        else if (strcmp(fs->type, "swap") == 0 && size > SWAP_HEADER) {
            /* Swap holds nothing worth moving; its first page (signature,
             * label, UUID) stays so the guest still finds it. */
            st.free_bytes = size - SWAP_HEADER;
            r = p2v_ranges_add(zero, start + SWAP_HEADER, size - SWAP_HEADER);
        } else {
            continue;
        }
        fs->mapped = r == 0 && (st.free_bytes || st.pagefile_bytes);
        fs->free_bytes = st.free_bytes;
        fs->pagefile_bytes = st.pagefile_bytes;
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

/* A bare volume becomes a bootable disk: p2v's MBR with one active
 * partition at the offset, and the NTFS boot sectors told where they now
 * are.  Zero ranges found on the volume move with it. */
static int wrap_volume(struct p2v_stack *s, struct p2v_layer *vol, const struct p2v_stack_opts *o,
                       struct p2v_layout_spec *spec, uint8_t mbr[512], struct p2v_patch patches[2])
{
    uint64_t off = o->offset ? o->offset : 1024 * 1024;
    if (off % 512 || off / 512 > UINT32_MAX) {
        p2v_err("--offset %llu: must be a multiple of 512 below 2 TiB", (unsigned long long)off);
        return -EINVAL;
    }
    uint64_t sectors = vol->size / 512, disk_sectors = off / 512 + sectors;
    if (sectors > UINT32_MAX) {
        p2v_err("%s: a volume of 2 TiB or more needs a GPT disk, which p2v cannot make yet",
                s->src.path);
        return -EFBIG;
    }
    for (size_t i = 0; i < spec->zero.n; i++) {
        spec->zero.r[i].start += off;
        spec->zero.r[i].end += off;
    }
    for (size_t i = 0; i < spec->used.n; i++) {
        spec->used.r[i].start += off;
        spec->used.r[i].end += off;
    }
    uint32_t sig = o->disk_signature;
    if (!o->have_signature) {
        /* Derived from what the volume is, not when it was touched. */
        char name[4200];
        uint8_t u[16];
        int n = snprintf(name, sizeof name, "p2v-mbr|%s|%llu", s->src.path,
                         (unsigned long long)vol->size);
        p2v_uuid5(u, name, (size_t)n < sizeof name ? (size_t)n : sizeof name - 1);
        sig = (uint32_t)u[0] << 24 | u[1] << 16 | u[2] << 8 | u[3];
    }
    p2v_build_mbr(mbr, sig, mbr_type(s->table->whole.type), off / 512, sectors, disk_sectors);
    spec->head = mbr;
    spec->head_len = 512;
    spec->vol_offset = off;
    spec->patches = patches;
    if (!strcmp(s->table->whole.type, "ntfs")) {
        int n = p2v_ntfs_boot_patches(vol, 0, vol->size, off / 512, disk_sectors, patches);
        if (n < 0) {
            p2v_err("%s: reading the NTFS boot sectors failed: %s", s->src.path, strerror(-n));
            return n;
        }
        spec->npatches = (size_t)n;
    }
    s->wrap_offset = off;
    s->disk_signature = sig;
    return 0;
}

static int is_extended_type(uint8_t t)
{
    return t == 0x05 || t == 0x0f || t == 0x85;
}

/* --drop-unselected: table entries of the partitions left out disappear
 * from the image (patched sectors; the source keeps them).  *out is
 * allocated. */
static int drop_entries(struct p2v_stack *s, struct p2v_layer *src, const struct p2v_stack_opts *o,
                        struct p2v_patch **out, size_t *n)
{
    const struct p2v_partition_table *t = s->table;
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
        int fd = open(s->src.path, O_RDONLY | O_CLOEXEC);
        int r = fd < 0 ? -errno : p2v_gpt_drop(fd, keep, out, n);
        if (fd >= 0)
            close(fd);
        if (r < 0)
            p2v_err("%s: rewriting the GPT without the unselected entries failed: %s",
                    s->src.path, strerror(-r));
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
    if (r < 0)
        return r;
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

int p2v_stack_open(const char *source, const struct p2v_stack_opts *o, struct p2v_stack *s)
{
    memset(s, 0, sizeof *s);
    struct p2v_layer *src;
    int r = p2v_source_open(source, o->source_flags, &src, &s->src);
    if (r < 0)
        return r;
    if (s->src.logical_sector != P2V_SECTOR) {
        p2v_err("source %s has %u-byte logical sectors; VHD supports only 512-byte "
                "sectors (VHDX output is planned for 4Kn disks)", source, s->src.logical_sector);
        p2v_layer_close_stack(src);
        return -EINVAL;
    }
    r = p2v_vhd_check_size(src->size);
    if (r < 0) {
        p2v_layer_close_stack(src);
        return r;
    }
    /* A damaged table is refused before any scan or mount. */
    s->table = malloc(sizeof *s->table);
    r = s->table ? p2v_partitions_probe(s->src.path, s->src.real_size, o->volume, s->table)
                 : -ENOMEM;
    if (r < 0) {
        free(s->table);
        s->table = NULL;
        p2v_layer_close_stack(src);
        return r;
    }
    struct p2v_ranges zero = { 0 }, used = { 0 };
    struct p2v_layer *layout = NULL;
    r = check_volumes(s->table, o->volumes, s->src.path);
    if (r == 0 && (!o->keep_free_space || o->volumes))
        r = map_filesystems(s, src, o, &zero, &used);
    struct p2v_layout_spec spec = { .zero = zero, .used = used };
    zero = used = (struct p2v_ranges){ 0 };
    uint8_t mbr[512];
    struct p2v_patch patches[2], *dropped = NULL;
    if (r == 0 && !s->table->type[0] && (s->table->whole.type[0] || o->volume))
        r = wrap_volume(s, src, o, &spec, mbr, patches);
    else if (r == 0 && o->drop_unselected) {
        r = drop_entries(s, src, o, &dropped, &spec.npatches);
        spec.patches = dropped;
    }
    if (r == 0)
        r = p2v_disklayout_open(src, &spec, &layout);
    p2v_ranges_free(&spec.zero);
    p2v_ranges_free(&spec.used);
    free(dropped);
    if (r < 0) {
        free(s->table);
        p2v_layer_close_stack(src);
        return r;
    }
    /* Only a dynamic image needs to know which blocks are zero; a fixed
     * one keeps the source's own holes and starts at once. */
    struct p2v_progress prog = { .what = s->src.path, .quiet = o->quiet };
    src = layout;
    r = p2v_allocmap_open(src, o->dynamic ? P2V_ALLOC_SCAN : P2V_ALLOC_PASSTHROUGH,
                          p2v_progress_update, &prog, &s->disk);
    p2v_progress_done(&prog);
    if (r < 0) {
        p2v_err("scanning source %s failed: %s", source, strerror(-r));
        p2v_layer_close_stack(src);
        free(s->table);
        return r;
    }
    r = derive_identity(s, o);
    if (r < 0) {
        p2v_layer_close_stack(s->disk);
        free(s->table);
        return r;
    }
    struct p2v_vhd_params vp = { .dynamic = o->dynamic, .timestamp = s->timestamp };
    memcpy(vp.unique_id, s->unique_id, 16);
    r = p2v_vhd_open(s->disk, &vp, &s->vhd);
    if (r < 0) {
        p2v_layer_close_stack(s->disk);
        free(s->table);
        return r;
    }
    return 0;
}

void p2v_stack_close(struct p2v_stack *s)
{
    p2v_layer_close_stack(s->vhd);
    s->vhd = s->disk = NULL;
    free(s->table);
    s->table = NULL;
}
