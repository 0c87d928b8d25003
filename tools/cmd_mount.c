#define _GNU_SOURCE
#include "commands.h"
#include "snapshot/registry.h"

#include "stack.h"
#include "view_files.h"
#include "core/log.h"
#include "fixup/overlay.h"
#include "fs/fuse_view.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sync_overlay(void *ctx)
{
    return p2v_overlay_commit(ctx);
}

static void mount_usage(FILE *f)
{
    fprintf(f,
        "usage: p2v mount [OPTIONS] SOURCE MOUNTPOINT\n"
        "Shows SOURCE (a raw disk image, a VHD/VHDX or a block device, opened read-only,\n"
        "or a snapshot of it) as\n"
        "MOUNTPOINT/disk.vhd (or disk.vhdx: --format) and MOUNTPOINT/disk.raw, each partition as\n"
        "MOUNTPOINT/partitions/N.raw, the fix-up report as MOUNTPOINT/fixups.json and\n"
        "the job's report (snapshot, consistency, bad sectors) as MOUNTPOINT/status.json.\n\n"
        "  -f, --foreground          stay in the foreground, log to stderr\n"
        "  -o OPT[,OPT...]           extra FUSE mount options\n"
        "      --allow-other         let other users read the view (default: owner only)\n"
        "      --direct-io           no page cache for the view: fastest for large sequential\n"
        "                            reads (cp, dd bs=1M), no mmap\n"
        "      --log FILE            log here once in the background (default: syslog)\n"
        "      --state DIR           the job state directory: fix-ups applied there show in\n"
        "                            the view (default: MOUNTPOINT.p2v when it exists)\n"
        "      --writable            writes to disk.raw and partitions/N.raw go to the state\n"
        "                            directory (never to SOURCE); no disk.vhd until remounted\n"
        "  -q, --quiet               no progress output\n"
        "  -d, --debug               FUSE debug output (implies -f)\n"
        P2V_STACK_HELP P2V_SNAPSHOT_HELP);
}

int cmd_mount(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "foreground", no_argument, NULL, 'f' },
        { "allow-other", no_argument, NULL, 'A' },
        { "direct-io", no_argument, NULL, 'D' },
        { "log", required_argument, NULL, 'L' },
        { "quiet", no_argument, NULL, 'q' },
        { "debug", no_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { "state", required_argument, NULL, 'Z' },
        { "writable", no_argument, NULL, 'W' },
        P2V_STACK_LONGOPTS,
        P2V_SNAPSHOT_LONGOPTS,
        { 0 },
    };
    struct p2v_stack_opts so = { .dynamic = 1, .src.take_snapshot = 1 };
    struct p2v_view_opts vo = { 0 };
    const char *fuse_opts[33] = { 0 };
    int nopts = 0, c;
    char logpath[PATH_MAX];

    while ((c = getopt_long(argc, argv, "t:fo:qdh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': vo.foreground = 1; break;
        case 'o':
            if (nopts == 32) {
                fprintf(stderr, "p2v mount: too many -o options (32 at most)\n");
                return 2;
            }
            fuse_opts[nopts++] = optarg;
            break;
        case 'A': vo.allow_other = 1; break;
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
        case 'Z': so.state = optarg; break;
        case 'W': so.writable = 1; break;
        case 'd': vo.debug = vo.foreground = 1; break;
        case 'h': mount_usage(stdout); return 0;
        default: {
            int h = parse_stack_option(c, optarg, &so);
            if (h == 0)
                h = parse_snapshot_option(c, optarg, &so);
            if (h == 0)
                mount_usage(stderr);
            if (h <= 0)
                return 2;
        }
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
    so.src.snap.mountpoint = mnt;  /* the snapshot is released with this mount */

    /* The state directory beside the mount point is used when it exists
     * (and made for --writable). */
    char state[PATH_MAX + 8], fsname[PATH_MAX + 16];
    if (!so.state) {
        snprintf(state, sizeof state, "%s.p2v", mnt);
        if (so.writable || p2v_overlay_exists(state))
            so.state = state;
    } else if (so.state[0] != '/') {
        /* The daemon changes to /: keep an absolute path. */
        char cwd[PATH_MAX / 2];
        if (!getcwd(cwd, sizeof cwd)) {
            p2v_err("cannot resolve --state %s: %s", so.state, strerror(errno));
            return 1;
        }
        snprintf(state, sizeof state, "%s/%s", cwd, so.state);
        so.state = state;
    }
    struct p2v_stack st;
    if (p2v_stack_open(source, &so, &st) < 0)
        return 1;
    /* What auto chose, or what was asked for. */
    p2v_note("snapshot: %s%s%s", st.sv.snap.why, st.sv.snap.used != P2V_SNAP_NONE ? ": " : "",
             st.sv.snap.used != P2V_SNAP_NONE ? st.sv.snap.rec.path : "");
    struct p2v_view_file files[P2V_VIEW_MAX_FILES];
    int n = mount_files(&st, &so, files);
    if (n < 0) {
        p2v_stack_close(&st);
        return 1;
    }
    vo.mountpoint = mnt;
    vo.fuse_opts = fuse_opts;
    vo.mtime = st.mtime;
    if (so.writable) {
        vo.sync = sync_overlay;
        vo.sync_ctx = st.overlay;
    }
    /* `p2v umount` reads the state directory back from here, to wait
     * until this process has saved and let go of it. */
    if (so.state && !strpbrk(so.state, ",\\")) {
        snprintf(fsname, sizeof fsname, "p2v:%s", so.state);
        vo.fsname = fsname;
    }
    /* Held, never closed, until this process (the view's, after the fork
     * in p2v_view_serve) exits: p2v umount waits for it. Best effort: a
     * previous view of this mount point still ending holds it a moment. */
    int view_lock = p2v_registry_view_lock(mnt, 1);
    (void)view_lock;
    int r = p2v_view_serve(files, n, &vo);
    mount_files_close(files, n);
    p2v_stack_close(&st);
    return r < 0 ? 1 : 0;
}
