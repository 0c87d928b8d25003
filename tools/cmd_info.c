#define _GNU_SOURCE
#include "commands.h"

#include "stack.h"
#include "../core/log.h"
#include "../vhdwriter/vhd.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

static void uuid_str(const uint8_t u[16], char out[37])
{
    static const int dash[16] = { [4] = 1, [6] = 1, [8] = 1, [10] = 1 };
    char *p = out;
    for (int i = 0; i < 16; i++)
        p += sprintf(p, "%s%02x", dash[i] ? "-" : "", u[i]);
}

int cmd_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    struct p2v_stack_opts so = { .dynamic = 1 };
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'q': so.quiet = 1; break;
        case 'h':
            fputs("usage: p2v info [--json] [-q] [OPTIONS] SOURCE\n"
                  "Prints the source, its partitions and filesystems, and the VHD it gives.\n"
                  "      --json                machine-readable output\n"
                  "  -q, --quiet               no progress output\n" P2V_STACK_HELP, stdout);
            return 0;
        default:
            if ((c = parse_stack_option(c, optarg, &so)) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: p2v info [--json] [--type dynamic|fixed] SOURCE\n");
        return 2;
    }
    struct p2v_stack st;
    if (p2v_stack_open(argv[optind], &so, &st) < 0)
        return 1;
    struct p2v_vhd_layout lay;
    p2v_vhd_describe(st.vhd, &lay);
    char uuid[37];
    uuid_str(st.unique_id, uuid);
    const char *type = so.dynamic ? "dynamic" : "fixed";
    const char *kind = st.src.is_blockdev ? "block device" : "file";
    uint64_t fixed_size = st.disk->size + 512;

    if (json) {
        printf("{\"source\": ");
        json_string(stdout, st.src.path);
        printf(", \"kind\": \"%s\", \"size\": %" PRIu64 ", \"source_bytes\": %" PRIu64
               ", \"logical_sector_size\": %u, \"physical_sector_size\": %u"
               ", \"type\": \"%s\", \"image_size\": %" PRIu64 ", \"fixed_image_size\": %" PRIu64
               ", \"block_size\": 2097152, \"blocks_total\": %u, \"blocks_allocated\": %u"
               ", \"unique_id\": \"%s\", \"timestamp\": %u, ",
               kind, st.disk->size, st.src.real_size, st.src.logical_sector,
               st.src.physical_sector, type, lay.file_size, fixed_size, lay.blocks_total,
               lay.blocks_allocated, uuid, st.timestamp);
        info_partitions_json(stdout, &st);
        puts("}");
    } else {
        printf("source:            %s (%s)\n", st.src.path, kind);
        printf("disk size:         %" PRIu64 " bytes (%.2f GiB)%s\n", st.src.size,
               st.src.size / 1073741824.0, st.src.size != st.src.real_size ? ", zero-padded" : "");
        printf("sector size:       %u logical, %u physical\n", st.src.logical_sector,
               st.src.physical_sector);
        printf("image:             %s VHD, %" PRIu64 " bytes\n", type, lay.file_size);
        printf("fixed image size:  %" PRIu64 " bytes\n", fixed_size);
        printf("blocks (2 MiB):    %u allocated of %u%s\n", lay.blocks_allocated,
               lay.blocks_total, so.dynamic ? "" : " (fixed: all present)");
        printf("unique id:         %s\n", uuid);
        info_partitions_text(stdout, &st);
    }
    p2v_stack_close(&st);
    return 0;
}
