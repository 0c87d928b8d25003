#define _GNU_SOURCE
#include "partitions.h"

#include "core/log.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <strings.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void copy_value(blkid_probe pr, const char *name, char *out, size_t len)
{
    const char *v = NULL;
    out[0] = 0;
    if (blkid_probe_lookup_value(pr, name, &v, NULL) == 0 && v)
        snprintf(out, len, "%s", v);
}

/* Identifies the filesystem in [off, off+size) of fd.  0, or -errno. */
static int probe_fs(int fd, uint64_t off, uint64_t size, struct p2v_filesystem *fs)
{
    memset(fs, 0, sizeof *fs);
    blkid_probe pr = blkid_new_probe();
    if (!pr)
        return -ENOMEM;
    int r = -EIO;
    if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off, (blkid_loff_t)size) == 0 &&
        blkid_probe_enable_partitions(pr, 0) == 0 &&
        blkid_probe_enable_superblocks(pr, 1) == 0 &&
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL |
                                              BLKID_SUBLKS_UUID) == 0) {
        int rc = blkid_do_safeprobe(pr);
        r = 0;
        if (rc == 0) {
            copy_value(pr, "TYPE", fs->type, sizeof fs->type);
            copy_value(pr, "LABEL", fs->label, sizeof fs->label);
            copy_value(pr, "UUID", fs->uuid, sizeof fs->uuid);
        } else if (rc == -2) {
            /* Two signatures: trusting either could lose data later. */
            snprintf(fs->type, sizeof fs->type, "ambiguous");
        } else if (rc < 0) {
            r = -EIO;
        }
    }
    blkid_free_probe(pr);
    return r;
}

static void read_entry(blkid_partition p, int gpt, struct p2v_partition *out)
{
    memset(out, 0, sizeof *out);
    out->number = blkid_partition_get_partno(p);
    out->start = (uint64_t)blkid_partition_get_start(p) * 512;  /* always 512-byte units */
    out->size = (uint64_t)blkid_partition_get_size(p) * 512;
    out->extended = blkid_partition_is_extended(p);
    const char *s;
    if (gpt) {
        if ((s = blkid_partition_get_type_string(p)))
            snprintf(out->type, sizeof out->type, "%s", s);
        if ((s = blkid_partition_get_name(p)))
            snprintf(out->name, sizeof out->name, "%s", s);
        if ((s = blkid_partition_get_uuid(p)))
            snprintf(out->uuid, sizeof out->uuid, "%s", s);
    } else {
        snprintf(out->type, sizeof out->type, "0x%02x", (unsigned)blkid_partition_get_type(p));
        out->bootable = (blkid_partition_get_flags(p) & 0x80) != 0;
    }
}

static int by_start(const void *a, const void *b)
{
    const struct p2v_partition *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Partitions must lie inside the disk, after its first sector, and must
 * not overlap one another (an extended container overlaps its logicals by
 * design, and nothing else). */
static int check_layout(const struct p2v_partition_table *t, uint64_t disk_size, const char *path)
{
    struct p2v_partition sorted[P2V_MAX_PARTITIONS];
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        const struct p2v_partition *p = &t->part[i];
        if (p->start + p->size > disk_size || p->start + p->size < p->start) {
            p2v_err("%s: partition %d (bytes %llu to %llu) runs past the end of the disk "
                    "(%llu bytes); the table is damaged or the image is truncated", path,
                    p->number, (unsigned long long)p->start,
                    (unsigned long long)(p->start + p->size), (unsigned long long)disk_size);
            return -EINVAL;
        }
        /* Sector 0 is the table itself (isohybrid images put a partition
         * there): zeroing such a partition, or leaving it out, would take the
         * table with it. */
        if (p->start < 512) {
            p2v_err("%s: partition %d starts at byte %llu, over the partition table in the "
                    "disk's first sector (an isohybrid image, or a damaged table); p2v does not "
                    "convert a disk whose partitions overlap its table", path, p->number,
                    (unsigned long long)p->start);
            return -EINVAL;
        }
        if (!p->extended)
            sorted[n++] = *p;
    }
    /* An MBR extended container holds the logical partitions (5 on) only. */
    for (int e = 0; e < t->n; e++) {
        const struct p2v_partition *x = &t->part[e];
        for (int i = 0; x->extended && i < t->n; i++) {
            const struct p2v_partition *p = &t->part[i];
            if (i == e || p->number > 4 || p->start + p->size <= x->start ||
                p->start >= x->start + x->size)
                continue;
            p2v_err("%s: primary partition %d (bytes %llu to %llu) lies inside the extended "
                    "partition %d, where only logical partitions belong; the table is damaged",
                    path, p->number, (unsigned long long)p->start,
                    (unsigned long long)(p->start + p->size), x->number);
            return -EINVAL;
        }
    }
    qsort(sorted, (size_t)n, sizeof *sorted, by_start);
    for (int i = 1; i < n; i++) {
        if (sorted[i].start < sorted[i - 1].start + sorted[i - 1].size) {
            p2v_err("%s: partitions %d and %d overlap (byte %llu); the table is damaged",
                    path, sorted[i - 1].number, sorted[i].number,
                    (unsigned long long)sorted[i].start);
            return -EINVAL;
        }
    }
    return 0;
}

static int read_table(blkid_probe pr, int fd, uint64_t disk_size, const char *path,
                      struct p2v_partition_table *t)
{
    /* A protective MBR with no valid GPT is only visible as PTTYPE of a
     * full probe: it yields no table object. */
    char pttype[16];
    if (blkid_do_safeprobe(pr) == 0)
        copy_value(pr, "PTTYPE", pttype, sizeof pttype);
    else
        pttype[0] = 0;
    blkid_partlist ls = blkid_probe_get_partitions(pr);
    blkid_parttable tab = ls ? blkid_partlist_get_table(ls) : NULL;
    const char *type = tab ? blkid_parttable_get_type(tab) : pttype;
    const char *id = tab ? blkid_parttable_get_id(tab) : NULL;
    uint64_t want;
    if (type && strcmp(type, "PMBR") == 0 && p2v_gpt_truncated(fd, disk_size, &want)) {
        p2v_err("%s: the GPT says the disk ends at LBA %llu, but it has only %llu sectors: "
                "the image is truncated; copy the whole disk again", path,
                (unsigned long long)want, (unsigned long long)(disk_size / 512));
        return -EINVAL;
    }
    if (type && strcmp(type, "PMBR") == 0) {
        p2v_err("%s: a protective MBR announces a GPT, but neither the primary nor the "
                "backup GPT header is valid; repair the table (e.g. gdisk) or pass the "
                "partition itself as the source", path);
        return -EINVAL;
    }
    if (!tab)
        return 0;  /* no partition table */
    snprintf(t->type, sizeof t->type, "%s", type ? type : "");
    snprintf(t->id, sizeof t->id, "%s", id ? id : "");
    int gpt = strcmp(t->type, "gpt") == 0;
    /* The primary GPT header sits at LBA 1; anything else is the backup. */
    if (gpt && blkid_parttable_get_offset(tab) != 512) {
        t->from_backup_gpt = 1;
        p2v_warn("%s: the primary GPT header is damaged; using the backup header at the "
                 "end of the disk", path);
    }
    int n = blkid_partlist_numof_partitions(ls);
    if (n > P2V_MAX_PARTITIONS) {
        p2v_err("%s: %d partitions; p2v handles at most %d", path, n, P2V_MAX_PARTITIONS);
        return -E2BIG;
    }
    for (int i = 0; i < n; i++)
        read_entry(blkid_partlist_get_partition(ls, i), gpt, &t->part[i]);
    t->n = n;
    return 0;
}

int p2v_partitions_probe(const char *path, const char *name, uint64_t disk_size, int as_volume,
                         struct p2v_partition_table *t)
{
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        p2v_err("cannot open %s to read its partition table: %s", name, strerror(e));
        return -e;
    }
    path = name;  /* messages name the source, not a private probe mount */
    int r = 0;
    if (!as_volume) {
        blkid_probe pr = blkid_new_probe();
        r = -ENOMEM;
        if (pr && blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)disk_size) == 0 &&
            blkid_probe_enable_superblocks(pr, 0) == 0 &&
            blkid_probe_enable_partitions(pr, 1) == 0 &&
            blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS) == 0)
            r = read_table(pr, fd, disk_size, path, t);
        else if (pr)
            p2v_err("%s: libblkid cannot probe it", path);
        if (pr)
            blkid_free_probe(pr);
    }
    if (r == 0 && !strcmp(t->type, "gpt") && !t->from_backup_gpt)
        t->backup_gpt_damaged = p2v_gpt_check_backup(fd, disk_size, path);
    if (r == 0)
        r = check_layout(t, disk_size, path);
    for (int i = 0; r == 0 && i < t->n; i++) {
        struct p2v_partition *p = &t->part[i];
        if (!p->extended && (r = probe_fs(fd, p->start, p->size, &p->fs)) < 0)
            p2v_err("%s: reading partition %d failed", path, p->number);
    }
    if (r == 0 && t->n == 0 && (r = probe_fs(fd, 0, disk_size, &t->whole)) < 0)
        p2v_err("%s: identifying its filesystem failed", path);
    close(fd);
    return r;
}

int p2v_table_uefi(const struct p2v_partition_table *t)
{
    if (strcmp(t->type, "gpt") != 0)
        return 0;
    for (int i = 0; i < t->n; i++)
        if (!strcasecmp(t->part[i].type, P2V_GPT_TYPE_ESP))
            return 1;
    return 0;
}
