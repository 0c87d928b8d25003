/* The partition part of `p2v info`: a table for people, JSON for scripts. */
#include "info.h"

#include "stack.h"

#include "core/log.h"
#include "layout/scrub.h"

#include <inttypes.h>
#include <uuid/uuid.h>

/* Bytes of the partition that hold data: what the dynamic image keeps. */
static uint64_t data_bytes(const struct p2v_stack *st, const struct p2v_partition *p)
{
    uint64_t n;
    return p2v_layer_data_bytes(st->disk, p->start, p->size, &n) < 0 ? 0 : n;
}

static const char *or_dash(const char *s)
{
    return s[0] ? s : "-";
}

void info_partitions_text(FILE *f, const struct p2v_stack *st)
{
    const struct p2v_partition_table *t = st->table;
    if (!t->type[0]) {
        fprintf(f, "partition table:   none; %s\n",
                t->whole.type[0] ? "the whole disk is one filesystem" : "no filesystem found");
        if (t->whole.type[0])
            fprintf(f, "filesystem:        %s, label %s\n", t->whole.type, or_dash(t->whole.label));
        if (st->wrap.offset && st->wrap.gpt) {
            char g[37];
            uuid_unparse(st->wrap.disk_guid, g);
            fprintf(f, "new disk:          the volume at byte %" PRIu64 " of a GPT disk with p2v's "
                    "boot code, GUID %s\n", st->wrap.offset, g);
        } else if (st->wrap.offset) {
            fprintf(f, "new disk:          the volume at byte %" PRIu64 " of an MBR disk with p2v's "
                    "boot code, signature %08x\n", st->wrap.offset, st->wrap.signature);
        }
        if (st->wrap.offset && p2v_stack_volume_boots(st) == 0)
            fprintf(f, "boots:             no: p2v's boot code starts the volume's boot sector, "
                    "which holds no boot loader (a Linux filesystem keeps none there); convert "
                    "the whole disk, or install a boot loader in the VM\n");
        return;
    }
    fprintf(f, "partition table:   %s, id %s%s\n", t->type, or_dash(t->id),
            t->from_backup_gpt ? " (from the backup GPT header)" : "");
    fprintf(f, "  %-3s %14s %14s  %-8s %-10s %-16s %14s %14s\n", "#", "start", "size", "type",
            "fs", "label", "free (zeroed)", "data bytes");
    for (int i = 0; i < t->n; i++) {
        const struct p2v_partition *p = &t->part[i];
        char type[16];
        snprintf(type, sizeof type, "%.8s%s", p->type, p->type[8] ? "~" : "");
        char free_s[24] = "-";
        if (p->fs.mapped)
            snprintf(free_s, sizeof free_s, "%" PRIu64, p->fs.free_bytes + p->fs.pagefile_bytes);
        fprintf(f, "  %-3d %14" PRIu64 " %14" PRIu64 "  %-8s %-10s %-16s %14s %14" PRIu64 "%s\n",
                p->number, p->start, p->size, type,
                p->extended ? "(extended)" : or_dash(p->fs.type), or_dash(p->fs.label), free_s,
                p->extended ? 0 : data_bytes(st, p), p->bootable ? "  active" : "");
    }
}

/* Deleted data removed from the filesystem's metadata, by kind: the zero
 * ranges known from the mount, and what the rewritten units change, found
 * by rewriting a copy of each (bytes whose value changes). */
static void scrub_json(struct p2v_json *j, const struct p2v_stack *st,
                       const struct p2v_filesystem *fs, uint64_t start, uint64_t size)
{
    struct p2v_scrub_counts c = fs->scrubbed;
    /* Only a filesystem's own units: the disk's entry (no filesystem of
     * its own when it has a table) spans every partition. */
    if (fs->type[0] && p2v_scrub_count(st->disk, start, size, &c) < 0) {
        p2v_warn("counting the deleted data scrubbed from the %s filesystem at byte %llu "
                 "failed: a read of the source failed; its scrubbed counts are incomplete",
                 fs->type, (unsigned long long)start);
        c.skipped_units = UINT64_MAX;  /* not a count to trust */
    }
    p2v_json_object(j, "scrubbed");
    const struct { const char *key; uint64_t v; } kinds[] = {
        { "mft_free_records", c.mft_free_records },
        { "mft_free_bytes", c.mft_free_bytes },
        { "mft_slack_bytes", c.mft_slack_bytes },
        { "index_slack_bytes", c.index_slack_bytes },
        { "index_unused_bytes", c.index_unused_bytes },
        { "logfile_bytes", c.logfile_bytes },
        { "file_slack_bytes", c.file_slack_bytes },
        { "ext_free_inode_bytes", c.ext_free_inode_bytes },
        { "ext_dirent_slack_bytes", c.ext_dirent_slack_bytes },
        { "ext_journal_bytes", c.ext_journal_bytes },
        { "skipped_units", c.skipped_units },
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        p2v_json_uint(j, kinds[i].key, kinds[i].v);
    p2v_json_end(j);
}

static void fs_json(struct p2v_json *j, const struct p2v_stack *st, const struct p2v_filesystem *fs,
                    uint64_t start, uint64_t size)
{
    p2v_json_object(j, "filesystem");
    p2v_json_str(j, "type", fs->type);
    p2v_json_str(j, "label", fs->label);
    p2v_json_str(j, "uuid", fs->uuid);
    p2v_json_bool(j, "mapped", fs->mapped);
    p2v_json_uint(j, "free_bytes", fs->free_bytes);
    p2v_json_uint(j, "pagefile_bytes", fs->pagefile_bytes);
    scrub_json(j, st, fs, start, size);
    p2v_json_end(j);
}

void info_partitions_json(struct p2v_json *j, const struct p2v_stack *st)
{
    const struct p2v_partition_table *t = st->table;
    p2v_json_object(j, "partition_table");
    p2v_json_str(j, "type", t->type);
    p2v_json_str(j, "id", t->id);
    p2v_json_bool(j, "from_backup_gpt", t->from_backup_gpt);
    p2v_json_bool(j, "backup_gpt_damaged", t->backup_gpt_damaged);
    p2v_json_end(j);
    fs_json(j, st, &t->whole, 0, st->src.size);
    char g[37] = "";
    if (st->wrap.gpt)
        uuid_unparse(st->wrap.disk_guid, g);
    p2v_json_bool(j, "wrapped", st->wrap.offset != 0);
    p2v_json_str(j, "wrap_table", !st->wrap.offset ? "" : st->wrap.gpt ? "gpt" : "dos");
    p2v_json_uint(j, "wrap_offset", st->wrap.offset);
    p2v_json_bool(j, "volume_boot_code", p2v_stack_volume_boots(st) != 0);
    char sig[9];
    snprintf(sig, sizeof sig, "%08x", st->wrap.signature);
    p2v_json_str(j, "disk_signature", sig);
    p2v_json_str(j, "disk_guid", g);
    p2v_json_array(j, "partitions");
    for (int i = 0; i < t->n; i++) {
        const struct p2v_partition *p = &t->part[i];
        p2v_json_object(j, NULL);
        p2v_json_int(j, "number", p->number);
        p2v_json_uint(j, "start", p->start);
        p2v_json_uint(j, "size", p->size);
        p2v_json_str(j, "type", p->type);
        p2v_json_str(j, "name", p->name);
        p2v_json_str(j, "uuid", p->uuid);
        p2v_json_bool(j, "bootable", p->bootable);
        p2v_json_bool(j, "extended", p->extended);
        p2v_json_uint(j, "data_bytes", p->extended ? 0 : data_bytes(st, p));
        fs_json(j, st, &p->fs, p->start, p->extended ? 0 : p->size);
        p2v_json_end(j);
    }
    p2v_json_end(j);
}
