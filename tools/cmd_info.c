#define _GNU_SOURCE
#include "commands.h"

#include "info.h"
#include "stack.h"
#include "status.h"
#include "core/log.h"
#include "core/mountinfo.h"
#include "core/plural.h"
#include "core/progress.h"

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
        printf("bad sectors:       %" PRIu64 " (in %zu range%s, --bad-sectors %s)\n",
               p2v_ranges_total(&r) / 512, r.n, p2v_s(r.n),
               p2v_bad_policy_name(p2v_badsectors_policy(st->sv.bad)));
    for (size_t i = 0; i < r.n; i++) {
        uint64_t first = r.r[i].start / 512, n = (r.r[i].end - r.r[i].start) / 512;
        if (n == 1)
            printf("  LBA %" PRIu64 " (1 sector)\n", first);
        else
            printf("  LBA %" PRIu64 "-%" PRIu64 " (%" PRIu64 " sectors)\n", first, first + n - 1, n);
    }
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

struct info_opts {
    struct p2v_stack_opts so;
    const char *source;
    int json, scan;
};

static void help(void)
{
    fputs("usage: p2v info [--json] [--scan] [-q] [OPTIONS] SOURCE\n"
          "       p2v info [--json] MOUNTPOINT\n"
          "Prints the source, its partitions and filesystems, and the VHD it gives;\n"
          "for a p2v mount point, the mount's report (snapshot, consistency, bad sectors).\n"
          "      --json                machine-readable output\n"
          "      --scan                read the whole source and list unreadable sectors\n"
          "  -q, --quiet               no progress output\n" P2V_STACK_HELP, stdout);
}

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct info_opts *o)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "scan", no_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = 1; break;
        case 's': o->scan = 1; break;
        case 'q': o->so.quiet = 1; break;
        case 'h': help(); return -1;
        case '?': return option_hint(argv);
        default:
            if ((c = parse_stack_option(c, optarg, &o->so)) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: p2v info [--json] [--scan] [--type dynamic|fixed] SOURCE\n");
        return 2;
    }
    o->source = argv[optind];
    return 0;
}

static void print_json(struct p2v_stack *st, const struct info_opts *o,
                       const struct p2v_image_layout *lay, const char *uuid)
{
    struct p2v_json j;
    p2v_json_init(&j, stdout);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "source", st->src.path);
    p2v_json_str(&j, "kind", st->src.is_blockdev ? "block device" : "file");
    p2v_json_uint(&j, "size", st->disk->size);
    p2v_json_uint(&j, "source_bytes", st->src.real_size);
    p2v_json_uint(&j, "logical_sector_size", st->src.logical_sector);
    p2v_json_uint(&j, "physical_sector_size", st->src.physical_sector);
    p2v_json_str(&j, "type", o->so.dynamic ? "dynamic" : "fixed");
    p2v_json_uint(&j, "image_size", lay->file_size);
    p2v_json_uint(&j, "fixed_image_size", lay->fixed_file_size);
    p2v_json_str(&j, "image_format", st->format->name);
    p2v_json_uint(&j, "block_size", lay->block_size);
    p2v_json_uint(&j, "blocks_total", lay->blocks_total);
    p2v_json_uint(&j, "blocks_allocated", lay->blocks_present);
    p2v_json_str(&j, "unique_id", uuid);
    p2v_json_uint(&j, "timestamp", st->timestamp);
    p2v_json_str(&j, "format", p2v_format_name(st->sv.format));
    status_consistency_json(&j, st);
    if (o->scan)
        status_bad_sectors_json(&j, st);
    info_partitions_json(&j, st);
    p2v_json_finish(&j);
}

static void print_text(struct p2v_stack *st, const struct info_opts *o,
                       const struct p2v_image_layout *lay, const char *uuid)
{
    const char *kind_text = st->src.is_blockdev          ? "block device"
                            : st->sv.format == P2V_FMT_VHD  ? "VHD file"
                            : st->sv.format == P2V_FMT_VHDX ? "VHDX file" : "file";
    printf("source:            %s (%s)\n", st->src.path, kind_text);
    printf("disk size:         %" PRIu64 " bytes (%.2f GiB)%s\n", st->src.size,
           st->src.size / 1073741824.0, st->src.size != st->src.real_size ? ", zero-padded" : "");
    printf("sector size:       %u logical, %u physical\n", st->src.logical_sector,
           st->src.physical_sector);
    printf("image:             %s %s (%s), %" PRIu64 " bytes\n",
           o->so.dynamic ? "dynamic" : "fixed", st->format->label, st->format->file,
           lay->file_size);
    printf("fixed image size:  %" PRIu64 " bytes\n", lay->fixed_file_size);
    unsigned mib = lay->block_size >> 20;
    printf("blocks (%u MiB):%s %" PRIu64 " allocated of %" PRIu64 "%s\n", mib,
           mib >= 100 ? "" : mib >= 10 ? " " : "  ", lay->blocks_present, lay->blocks_total,
           o->so.dynamic ? "" : " (fixed: all present)");
    printf("unique id:         %s\n", uuid);
    status_text(stdout, st);
    if (o->scan)
        bad_text(st);
    info_partitions_text(stdout, st);
}

static int run(struct info_opts *o)
{
    char real[PATH_MAX], fstype[64];
    if (realpath(o->source, real) &&
        p2v_mountinfo_find(real, fstype, sizeof fstype, NULL, 0) == 1 &&
        !strcmp(fstype, "fuse.p2v"))
        return info_mount(real, o->json);
    struct p2v_stack st;
    if (p2v_stack_open(o->source, &o->so, &st) < 0)
        return 1;
    if (o->scan && scan_source(&st, o->so.quiet || o->json) < 0) {
        p2v_stack_close(&st);
        return 1;
    }
    struct p2v_image_layout lay;
    p2v_stack_image(&st, &lay);
    char uuid[37];
    uuid_str(st.unique_id, uuid);
    (o->json ? print_json : print_text)(&st, o, &lay, uuid);
    p2v_stack_close(&st);
    return 0;
}

int cmd_info(int argc, char **argv)
{
    struct info_opts o = { .so = { .dynamic = 1 } };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
