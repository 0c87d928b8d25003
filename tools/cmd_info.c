#define _GNU_SOURCE
#include "commands.h"

#include "stack.h"
#include "../fixup/fsmap.h"
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
        { "type", required_argument, NULL, 't' },
        { "pad", no_argument, NULL, 'P' },
        { "source-cache", no_argument, NULL, 'C' },
        { "keep-free-space", no_argument, NULL, 'K' },
        { "keep-pagefile", no_argument, NULL, 'G' },
        { "force", no_argument, NULL, 'F' },
        { "volumes", required_argument, NULL, 'V' },
        { "volume", no_argument, NULL, 'U' },
        { "drop-unselected", no_argument, NULL, 'X' },
        { "offset", required_argument, NULL, 'O' },
        { "disk-signature", required_argument, NULL, 'S' },
        { "gpt", no_argument, NULL, 'T' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct p2v_stack_opts so = { .dynamic = 1 };
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 't':
            if ((so.dynamic = parse_type(optarg)) < 0) {
                fprintf(stderr, "p2v info: --type must be dynamic or fixed, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'P': so.source_flags |= P2V_SOURCE_PAD; break;
        case 'C': so.source_flags |= P2V_SOURCE_CACHED; break;
        case 'K': so.keep_free_space = 1; break;
        case 'G': so.fs_flags |= P2V_FS_KEEP_PAGEFILE; break;
        case 'F': so.fs_flags |= P2V_FS_FORCE; break;
        case 'V': so.volumes = optarg; break;
        case 'U': so.volume = 1; break;
        case 'X': so.drop_unselected = 1; break;
        case 'O':
        case 'S':
            if (parse_wrap_option(c, optarg, &so) < 0)
                return 2;
            break;
        case 'T':
            fprintf(stderr, "p2v: --gpt: wrapping a volume in a GPT disk is not implemented yet; "
                            "the default MBR disk boots on BIOS machines\n");
            return 2;
        case 'q': so.quiet = 1; break;
        case 'h':
            puts("usage: p2v info [--json] [--type dynamic|fixed] [--pad] [--source-cache]\n"
                 "                [--keep-free-space] [--keep-pagefile] [--force] [-q] SOURCE\n"
                 "Prints the source's size and sector size and the VHD it gives.\n"
                 "With --type dynamic (the default) the source is scanned for zero blocks.");
            return 0;
        default: return 2;
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
    uint64_t fixed_size = st.src.size + 512;

    if (json) {
        printf("{\"source\": ");
        json_string(stdout, st.src.path);
        printf(", \"kind\": \"%s\", \"size\": %" PRIu64 ", \"source_bytes\": %" PRIu64
               ", \"logical_sector_size\": %u, \"physical_sector_size\": %u"
               ", \"type\": \"%s\", \"image_size\": %" PRIu64 ", \"fixed_image_size\": %" PRIu64
               ", \"block_size\": 2097152, \"blocks_total\": %u, \"blocks_allocated\": %u"
               ", \"unique_id\": \"%s\", \"timestamp\": %u, ",
               kind, st.src.size, st.src.real_size, st.src.logical_sector,
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
