/* The partition part of `p2v info`: a table for people, JSON for scripts. */
#include "commands.h"

#include "stack.h"

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

static void fs_json(FILE *f, const struct p2v_filesystem *fs)
{
    fputs("{\"type\": ", f);
    json_string(f, fs->type);
    fputs(", \"label\": ", f);
    json_string(f, fs->label);
    fputs(", \"uuid\": ", f);
    json_string(f, fs->uuid);
    fprintf(f, ", \"mapped\": %s, \"free_bytes\": %" PRIu64 ", \"pagefile_bytes\": %" PRIu64 "}",
            fs->mapped ? "true" : "false", fs->free_bytes, fs->pagefile_bytes);
}

void info_partitions_json(FILE *f, const struct p2v_stack *st)
{
    const struct p2v_partition_table *t = st->table;
    fputs("\"partition_table\": {\"type\": ", f);
    json_string(f, t->type);
    fputs(", \"id\": ", f);
    json_string(f, t->id);
    fprintf(f, ", \"from_backup_gpt\": %s, \"backup_gpt_damaged\": %s}, \"filesystem\": ",
            t->from_backup_gpt ? "true" : "false", t->backup_gpt_damaged ? "true" : "false");
    fs_json(f, &t->whole);
    char g[37] = "";
    if (st->wrap.gpt)
        uuid_unparse(st->wrap.disk_guid, g);
    fprintf(f, ", \"wrapped\": %s, \"wrap_table\": \"%s\", \"wrap_offset\": %" PRIu64
            ", \"disk_signature\": \"%08x\", \"disk_guid\": \"%s\"",
            st->wrap.offset ? "true" : "false", !st->wrap.offset ? "" : st->wrap.gpt ? "gpt" : "dos",
            st->wrap.offset, st->wrap.signature, g);
    fputs(", \"partitions\": [", f);
    for (int i = 0; i < t->n; i++) {
        const struct p2v_partition *p = &t->part[i];
        fprintf(f, "%s{\"number\": %d, \"start\": %" PRIu64 ", \"size\": %" PRIu64 ", \"type\": ",
                i ? ", " : "", p->number, p->start, p->size);
        json_string(f, p->type);
        fputs(", \"name\": ", f);
        json_string(f, p->name);
        fputs(", \"uuid\": ", f);
        json_string(f, p->uuid);
        fprintf(f, ", \"bootable\": %s, \"extended\": %s, \"data_bytes\": %" PRIu64
                ", \"filesystem\": ", p->bootable ? "true" : "false",
                p->extended ? "true" : "false", p->extended ? 0 : data_bytes(st, p));
        fs_json(f, &p->fs);
        fputc('}', f);
    }
    fputc(']', f);
}
