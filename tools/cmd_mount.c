#define _GNU_SOURCE
#include "commands.h"

#include "stack.h"
#include "../fixup/fsmap.h"
#include "../core/log.h"
#include "../fs/fuse_view.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void mount_usage(FILE *f)
{
    fprintf(f,
        "usage: p2v mount [OPTIONS] SOURCE MOUNTPOINT\n"
        "Shows SOURCE (a raw disk image or block device, opened read-only) as\n"
        "MOUNTPOINT/disk.vhd and MOUNTPOINT/disk.raw.\n\n"
        "  -t, --type dynamic|fixed  VHD type (default dynamic: zero blocks left out)\n"
        "  -f, --foreground          stay in the foreground, log to stderr\n"
        "  -o OPT[,OPT...]           extra FUSE mount options\n"
        "      --allow-other         let other users read the view (default: owner only)\n"
        "      --pad                 zero-pad a source that is not a whole number of sectors\n"
        "      --source-cache        read the source through the page cache (default: O_DIRECT)\n"
        "      --volumes N[,N...]    only these partitions' data; the others read as zeros\n"
        "      --drop-unselected     with --volumes: remove the others' table entries too\n"
        "      --volume              SOURCE is one volume (found by itself when it has no table)\n"
        "      --offset BYTES        where a bare volume goes in its new disk (default 1 MiB)\n"
        "      --disk-signature HEX  that disk's MBR signature (default: derived from SOURCE)\n"
        "      --keep-free-space     copy free clusters too (forensics); default: they read as zeros\n"
        "      --keep-pagefile       keep the contents of pagefile.sys, hiberfil.sys, swapfile.sys\n"
        "      --force               accept a hibernated or unclean NTFS volume (copied whole)\n"
        "      --direct-io           no page cache for the view: fastest for large sequential\n"
        "                            reads (cp, dd bs=1M), no mmap\n"
        "      --log FILE            log here once in the background (default: syslog)\n"
        "  -q, --quiet               no progress output\n"
        "  -d, --debug               FUSE debug output (implies -f)\n");
}

int cmd_mount(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "type", required_argument, NULL, 't' },
        { "foreground", no_argument, NULL, 'f' },
        { "allow-other", no_argument, NULL, 'A' },
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
        { "direct-io", no_argument, NULL, 'D' },
        { "log", required_argument, NULL, 'L' },
        { "quiet", no_argument, NULL, 'q' },
        { "debug", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct p2v_stack_opts so = { .dynamic = 1 };
    struct p2v_view_opts vo = { 0 };
    const char *fuse_opts[33] = { 0 };
    int nopts = 0, c;
    char logpath[PATH_MAX];

    while ((c = getopt_long(argc, argv, "t:fo:qdh", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if ((so.dynamic = parse_type(optarg)) < 0) {
                fprintf(stderr, "p2v mount: --type must be dynamic or fixed, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'f': vo.foreground = 1; break;
        case 'o':
            if (nopts == 32) {
                fprintf(stderr, "p2v mount: too many -o options (32 at most)\n");
                return 2;
            }
            fuse_opts[nopts++] = optarg;
            break;
        case 'A': vo.allow_other = 1; break;
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
        case 'D': vo.direct_io = 1; break;
        case 'L': {
            /* The daemon changes to /, so keep an absolute path. */
            char cwd[PATH_MAX / 2];
            if (optarg[0] == '/')
                snprintf(logpath, sizeof logpath, "%s", optarg);
            else if (getcwd(cwd, sizeof cwd))
                snprintf(logpath, sizeof logpath, "%s/%s", cwd, optarg);
            else
                return 1;
            if ((vo.log_to_file = p2v_log_open_file(logpath)) < 0) {
                p2v_err("cannot open log file %s: %s", logpath, strerror(-vo.log_to_file));
                return 1;
            }
            vo.log_to_file = 1;
            break;
        }
        case 'q': so.quiet = 1; p2v_log_quiet(1); break;
        case 'd': vo.debug = vo.foreground = 1; break;
        case 'h': mount_usage(stdout); return 0;
        default: mount_usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        mount_usage(stderr);
        return 2;
    }
    const char *source = argv[optind];
    char mnt[PATH_MAX];
    if (!realpath(argv[optind + 1], mnt)) {
        p2v_view_preflight(argv[optind + 1]);  /* says what is wrong */
        return 1;
    }
    if (p2v_view_preflight(mnt) < 0)
        return 1;

    struct p2v_stack st;
    if (p2v_stack_open(source, &so, &st) < 0)
        return 1;
    struct p2v_view_file files[] = {
        { "disk.vhd", st.vhd },
        { "disk.raw", st.disk },
    };
    vo.mountpoint = mnt;
    vo.fuse_opts = fuse_opts;
    vo.mtime = st.mtime;
    int r = p2v_view_serve(files, 2, &vo);
    p2v_stack_close(&st);
    return r < 0 ? 1 : 0;
}
