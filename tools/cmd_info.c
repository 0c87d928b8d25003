#define _GNU_SOURCE
#include "commands.h"

#include "stack.h"
#include "core/progress.h"
#include "status.h"
#include "core/log.h"
#include "core/mountinfo.h"
#include "vhdwriter/vhd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static void uuid_str(const uint8_t u[16], char out[37])
{
    static const int dash[16] = { [4] = 1, [6] = 1, [8] = 1, [10] = 1 };
    char *p = out;
    for (int i = 0; i < 16; i++)
        p += sprintf(p, "%s%02x", dash[i] ? "-" : "", u[i]);
}

/* Reads every data extent of the snapshot view once: bad sectors are
 * found, logged and listed by the layer on the way. */
struct scan { struct p2v_layer *l; uint8_t *buf; uint64_t done, total; struct p2v_progress *p; };

static int scan_extent(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct scan *s = ctx;
    enum { CHUNK = 1 << 20 };
    if (kind == P2V_EXTENT_ZERO)
        return 0;
    for (uint64_t at = off; at < off + len; at += CHUNK) {
        size_t n = off + len - at < CHUNK ? (size_t)(off + len - at) : CHUNK;
        int r = p2v_layer_read(s->l, s->buf, n, at);
        if (r < 0 && r != -EIO)
            return r;
        s->done += n;
        p2v_progress_update(s->p, s->done, s->total);
    }
    return 0;
}

static int scan_source(struct p2v_stack *st, int quiet)
{
    struct p2v_progress prog = { .what = st->src.path, .quiet = quiet };
    struct scan s = { .l = st->sv.top, .p = &prog };
    s.buf = aligned_alloc(4096, 1 << 20);
    if (!s.buf)
        return -ENOMEM;
    int r = p2v_layer_data_bytes(s.l, 0, s.l->size, &s.total);
    if (r == 0)
        r = p2v_layer_extents(s.l, 0, s.l->size, scan_extent, &s);
    p2v_progress_done(&prog);
    free(s.buf);
    if (r < 0)
        p2v_err("scanning %s failed: %s", st->src.path, strerror(-r));
    return r;
}

static void bad_text(struct p2v_stack *st)
{
    struct p2v_ranges r;
    if (p2v_badsectors_get(st->sv.bad, &r) < 0)
        return;
    if (r.n == 0)
        printf("bad sectors:       none\n");
    else
        printf("bad sectors:       %" PRIu64 " (in %zu ranges, --bad-sectors %s)\n",
               p2v_ranges_total(&r) / 512, r.n,
               p2v_bad_policy_name(p2v_badsectors_policy(st->sv.bad)));
    for (size_t i = 0; i < r.n; i++)
        printf("  LBA %" PRIu64 "-%" PRIu64 " (%" PRIu64 " sectors)\n", r.r[i].start / 512,
               r.r[i].end / 512 - 1, (r.r[i].end - r.r[i].start) / 512);
    p2v_ranges_free(&r);
}

/* `p2v info MNT` on a p2v mount: the mount's own report. */
static int info_mount(const char *mnt, int json)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/status.json", mnt);
    FILE *f = fopen(path, "re");
    if (!f) {
        p2v_err("%s: %s", path, strerror(errno));
        return 1;
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (!json)
        printf("p2v mount %s; its report (status.json):\n", mnt);
    fputs(buf, stdout);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "scan", no_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    struct p2v_stack_opts so = { .dynamic = 1 };
    int json = 0, scan = 0, c;
    while ((c = getopt_long(argc, argv, "t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 's': scan = 1; break;
        case 'q': so.quiet = 1; break;
        case 'h':
            fputs("usage: p2v info [--json] [--scan] [-q] [OPTIONS] SOURCE\n"
                  "       p2v info [--json] MOUNTPOINT\n"
                  "Prints the source, its partitions and filesystems, and the VHD it gives;\n"
                  "for a p2v mount point, the mount's report (snapshot, consistency, bad sectors).\n"
                  "      --json                machine-readable output\n"
                  "      --scan                read the whole source and list unreadable sectors\n"
                  "  -q, --quiet               no progress output\n" P2V_STACK_HELP, stdout);
            return 0;
        default:
            if ((c = parse_stack_option(c, optarg, &so)) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: p2v info [--json] [--scan] [--type dynamic|fixed] SOURCE\n");
        return 2;
    }
    char real[PATH_MAX], fstype[64];
    if (realpath(argv[optind], real) &&
        p2v_mountinfo_find(real, fstype, sizeof fstype, NULL, 0) == 1 &&
        !strcmp(fstype, "fuse.p2v"))
        return info_mount(real, json);
    struct p2v_stack st;
    if (p2v_stack_open(argv[optind], &so, &st) < 0)
        return 1;
    struct p2v_image_layout lay;
    p2v_stack_image(&st, &lay);
    char uuid[37];
    uuid_str(st.unique_id, uuid);
    const char *type = so.dynamic ? "dynamic" : "fixed";
    const char *kind = st.src.is_blockdev ? "block device" : "file";
    const char *kind_text = st.src.is_blockdev          ? "block device"
                            : st.sv.format == P2V_FMT_VHD  ? "VHD file"
                            : st.sv.format == P2V_FMT_VHDX ? "VHDX file" : "file";
    if (scan && scan_source(&st, so.quiet || json) < 0) {
        p2v_stack_close(&st);
        return 1;
    }
    /* A fixed VHD is the disk and a footer; a fixed VHDX has every block. */
    uint64_t fixed_size = lay.vhdx ? lay.file_size - lay.blocks_present * lay.block_size +
                                         lay.blocks_total * lay.block_size
                                   : st.disk->size + 512;

    if (json) {
        printf("{\"source\": ");
        json_string(stdout, st.src.path);
        printf(", \"kind\": \"%s\", \"size\": %" PRIu64 ", \"source_bytes\": %" PRIu64
               ", \"logical_sector_size\": %u, \"physical_sector_size\": %u"
               ", \"type\": \"%s\", \"image_size\": %" PRIu64 ", \"fixed_image_size\": %" PRIu64
               ", \"image_format\": \"%s\", \"block_size\": %u, \"blocks_total\": %" PRIu64
               ", \"blocks_allocated\": %" PRIu64
               ", \"unique_id\": \"%s\", \"timestamp\": %u, ",
               kind, st.disk->size, st.src.real_size, st.src.logical_sector,
               st.src.physical_sector, type, lay.file_size, fixed_size,
               lay.vhdx ? "vhdx" : "vhd", lay.block_size, lay.blocks_total, lay.blocks_present,
               uuid, st.timestamp);
        printf("\"format\": \"%s\", ", p2v_format_name(st.sv.format));
        status_consistency_json(stdout, &st);
        fputs(", ", stdout);
        if (scan) {
            status_bad_sectors_json(stdout, &st);
            fputs(", ", stdout);
        }
        info_partitions_json(stdout, &st);
        puts("}");
    } else {
        printf("source:            %s (%s)\n", st.src.path, kind_text);
        printf("disk size:         %" PRIu64 " bytes (%.2f GiB)%s\n", st.src.size,
               st.src.size / 1073741824.0, st.src.size != st.src.real_size ? ", zero-padded" : "");
        printf("sector size:       %u logical, %u physical\n", st.src.logical_sector,
               st.src.physical_sector);
        printf("image:             %s %s (disk.%s), %" PRIu64 " bytes\n", type,
               lay.vhdx ? "VHDX" : "VHD", lay.vhdx ? "vhdx" : "vhd", lay.file_size);
        printf("fixed image size:  %" PRIu64 " bytes\n", fixed_size);
        printf("blocks (%u MiB):%s %" PRIu64 " allocated of %" PRIu64 "%s\n",
               lay.block_size >> 20, lay.block_size >> 20 >= 100 ? "" : lay.block_size >> 20 >= 10 ? " " : "  ",
               lay.blocks_present, lay.blocks_total, so.dynamic ? "" : " (fixed: all present)");
        printf("unique id:         %s\n", uuid);
        status_text(stdout, &st);
        if (scan)
            bad_text(&st);
        info_partitions_text(stdout, &st);
    }
    p2v_stack_close(&st);
    return 0;
}
