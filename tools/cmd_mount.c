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
#include <sys/stat.h>
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

struct mount_opts {
    struct p2v_stack_opts so;
    struct p2v_view_opts vo;
    const char *fuse_opts[33];
    int nopts;
    const char *source;
    char mnt[PATH_MAX];
    char logpath[PATH_MAX];
    char state[PATH_MAX + 8];   /* an absolute --state, or MOUNTPOINT.p2v */
    char fsname[PATH_MAX + 16];
};

/* --log: the daemon changes to /, so the path is made absolute; the file
 * is opened now so a bad path fails before anything is mounted. */
static int open_log(struct mount_opts *o, const char *arg)
{
    char cwd[PATH_MAX / 2];
    if (arg[0] == '/')
        snprintf(o->logpath, sizeof o->logpath, "%s", arg);
    else if (getcwd(cwd, sizeof cwd))
        snprintf(o->logpath, sizeof o->logpath, "%s/%s", cwd, arg);
    else
        return 1;
    int r = p2v_log_open_file(o->logpath);
    if (r == -ELOOP)
        p2v_err("log file %s is a symbolic link, which p2v does not follow: give the file it "
                "points to", o->logpath);
    else if (r == -EINVAL)
        p2v_err("log file %s is not a regular file", o->logpath);
    else if (r == -EPERM)
        p2v_err("log file %s belongs to another user: give a file of your own", o->logpath);
    else if (r == -EACCES)
        p2v_err("log file %s is open to other users (its mode lets the group or others read or "
                "write it): chmod 600 it, or give a new file", o->logpath);
    else if (r < 0)
        p2v_err("cannot open log file %s: %s", o->logpath, strerror(-r));
    if (r < 0)
        return 1;
    o->vo.log_to_file = 1;
    return 0;
}

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct mount_opts *o)
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
    int c, h;
    while ((c = getopt_long(argc, argv, "t:fo:qdh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': o->vo.foreground = 1; break;
        case 'o':
            if (o->nopts == 32) {
                fprintf(stderr, "p2v mount: too many -o options (32 at most)\n");
                return 2;
            }
            o->fuse_opts[o->nopts++] = optarg;
            break;
        case 'A': o->vo.allow_other = 1; break;
        case 'D': o->vo.direct_io = 1; break;
        case 'L':
            if (open_log(o, optarg))
                return 1;
            break;
        case 'q': o->so.quiet = 1; p2v_log_quiet(1); break;
        case 'Z': o->so.state = optarg; break;
        case 'W': o->so.writable = 1; break;
        case 'd': o->vo.debug = o->vo.foreground = 1; break;
        case 'h': mount_usage(stdout); return -1;
        case '?': return option_hint(argv);
        default:
            if ((h = parse_stack_option(c, optarg, &o->so)) == 0)
                h = parse_snapshot_option(c, optarg, &o->so);
            if (h == 0)
                mount_usage(stderr);
            if (h <= 0)
                return 2;
        }
    }
    if (argc - optind != 2) {
        mount_usage(stderr);
        return 2;
    }
    o->source = argv[optind];
    if (!realpath(argv[optind + 1], o->mnt)) {
        p2v_view_preflight(argv[optind + 1]);  /* says what is wrong */
        return 1;
    }
    return 0;
}

/* The state directory beside the mount point is used when it exists (and
 * made for --writable); a relative --state is made absolute, since the
 * daemon changes to /. */
static int resolve_state(struct mount_opts *o)
{
    struct p2v_stack_opts *so = &o->so;
    if (!so->state) {
        snprintf(o->state, sizeof o->state, "%s.p2v", o->mnt);
        /* Nobody named it: a link or a directory someone else made there
         * (the mount point's parent may be /tmp) is not taken as ours. */
        struct stat ls;
        if (lstat(o->state, &ls) == 0 && (S_ISLNK(ls.st_mode) || ls.st_uid != geteuid())) {
            p2v_err("%s (the state directory beside the mount point) is %s; p2v does not use "
                    "it unasked: remove it, or name a state directory with --state DIR",
                    o->state, S_ISLNK(ls.st_mode) ? "a symbolic link" : "another user's");
            return -1;
        }
        if (so->writable || p2v_overlay_exists(o->state))
            so->state = o->state;
    } else if (so->state[0] != '/') {
        char cwd[PATH_MAX / 2];
        if (!getcwd(cwd, sizeof cwd)) {
            p2v_err("cannot resolve --state %s: %s", so->state, strerror(errno));
            return -1;
        }
        snprintf(o->state, sizeof o->state, "%s/%s", cwd, so->state);
        so->state = o->state;
    }
    return 0;
}

static int serve(struct mount_opts *o, struct p2v_stack *st, int *view_lock)
{
    struct p2v_view_file files[P2V_VIEW_MAX_FILES];
    int n = mount_files(st, &o->so, files);
    if (n < 0)
        return 1;
    struct p2v_view_opts *vo = &o->vo;
    vo->mountpoint = o->mnt;
    vo->fuse_opts = o->fuse_opts;
    vo->mtime = st->mtime;
    if (o->so.writable) {
        vo->sync = sync_overlay;
        vo->sync_ctx = st->overlay;
    }
    /* `p2v umount` reads the state directory back from here, to wait
     * until this process has saved and let go of it. */
    if (o->so.state && !strpbrk(o->so.state, ",\\")) {
        snprintf(o->fsname, sizeof o->fsname, "p2v:%s", o->so.state);
        vo->fsname = o->fsname;
    }
    /* Held until this process (the view's, after the fork in
     * p2v_view_serve) has closed its source: p2v umount waits for it. Best
     * effort: a previous view of this mount point still ending holds it a
     * moment. */
    *view_lock = p2v_registry_view_lock(o->mnt, 1);
    int r = p2v_view_serve(files, n, vo);
    mount_files_close(files, n);
    return r < 0 ? 1 : 0;
}

static int run(struct mount_opts *o)
{
    if (p2v_view_preflight(o->mnt) < 0)
        return 1;
    o->so.src.snap.mountpoint = o->mnt;  /* the snapshot is released with this mount */
    if (resolve_state(o) < 0)
        return 1;
    struct p2v_stack st;
    if (p2v_stack_open(o->source, &o->so, &st) < 0)
        return 1;
    /* What auto chose, or what was asked for. */
    p2v_note("snapshot: %s%s%s", st.sv.snap.why, st.sv.snap.used != P2V_SNAP_NONE ? ": " : "",
             st.sv.snap.used != P2V_SNAP_NONE ? st.sv.snap.rec.path : "");
    if (p2v_stack_volume_boots(&st) == 0)
        p2v_warn("%s is a bare volume whose boot sector holds no boot loader: the image will not "
                 "boot (it is fine as a data disk); convert the whole disk it came from, or "
                 "install a boot loader in the VM", o->source);
    int view_lock = -1;
    int rc = serve(o, &st, &view_lock);
    p2v_stack_close(&st);
    p2v_registry_view_end(view_lock, o->mnt);  /* its lock file goes with it */
    return rc;
}

int cmd_mount(int argc, char **argv)
{
    static struct mount_opts o;  /* big: paths */
    o = (struct mount_opts){ .so = { .dynamic = 1, .src.take_snapshot = 1 } };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
