/* Mounting and serving a view: the checks before a mount, the FUSE
 * session, going to the background at the right moment, and the loop. */
#define _GNU_SOURCE
#include "view.h"

#include "daemon.h"
#include "core/log.h"
#include "core/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int p2v_view_preflight(const char *mountpoint)
{
    struct stat st;
    if (stat(mountpoint, &st) < 0) {
        int e = errno;
        if (e == ENOTCONN)
            p2v_err("mount point %s: a p2v view that was mounted there has died; "
                    "clear it with: p2v umount %s", mountpoint, mountpoint);
        else
            p2v_err("mount point %s: %s; create it with mkdir first", mountpoint, strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode)) {
        p2v_err("mount point %s is not a directory", mountpoint);
        return -ENOTDIR;
    }
    int r = p2v_mountinfo_find(mountpoint, NULL, 0, NULL, 0);
    if (r < 0) {
        p2v_err("cannot read /proc/self/mountinfo: %s", strerror(-r));
        return r;
    }
    if (r > 0) {
        p2v_err("mount point %s is busy: something is mounted there already; "
                "unmount it first (p2v umount %s)", mountpoint, mountpoint);
        return -EBUSY;
    }
    /* Users other than root reach /dev/fuse through the setuid fusermount3,
     * so they can only check that it exists. */
    int fd = -1;
    if (geteuid() == 0 ? (fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0
                       : access("/dev/fuse", F_OK) < 0) {
        int e = errno;
        p2v_err("cannot open /dev/fuse: %s; load the fuse module (modprobe fuse) "
                "and install fuse3", strerror(e));
        return -e;
    }
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Kernel readahead on a FUSE mount defaults to 128 KiB and sets the request
 * size of buffered reads; 1 MiB requests are several times faster. */
static void raise_readahead(const char *mountpoint)
{
    char majmin[32], path[96];
    if (geteuid() != 0 || p2v_mountinfo_find(mountpoint, NULL, 0, majmin, sizeof majmin) <= 0)
        return;
    snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", majmin);
    FILE *f = fopen(path, "we");
    if (!f || fputs("1024", f) < 0 || fclose(f) != 0)
        p2v_warn("could not raise readahead in %s; reads stay at 128 KiB", path);
}

/* libfuse insists that init() repeat a max_read given as a mount option. */
static unsigned find_max_read(const char *const *opts)
{
    unsigned found = 0;
    for (; opts && *opts; opts++) {
        for (const char *p = *opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
            if (strncmp(p, "max_read=", 9) == 0)
                found = (unsigned)strtoul(p + 9, NULL, 10);
        }
    }
    return found;
}

/* Handles the kernel's INIT request before going to the background, so a
 * failure there is reported by `p2v mount` itself and, once it returns,
 * the view is ready. */
static int first_request(struct fuse_session *se, struct view *v)
{
    struct fuse_buf buf = { 0 };
    int n = fuse_session_receive_buf(se, &buf);
    if (n > 0)
        fuse_session_process_buf(se, &buf);
    free(buf.mem);
    if (n <= 0 || !v->initialized || fuse_session_exited(se)) {
        p2v_err("the kernel's FUSE initialisation failed (see the message above)");
        return -EPROTO;
    }
    return 0;
}

/* Private by default: read-only unless writable, default_permissions, no
 * allow_other unless asked; then the user's -o options. */
static int add_mount_args(struct fuse_args *args, const struct view *v,
                          const struct p2v_view_opts *o)
{
    char base[4200];
    snprintf(base, sizeof base, "%sdefault_permissions,fsname=%s,subtype=p2v%s",
             v->writable ? "" : "ro,", o->fsname ? o->fsname : "p2v",
             o->allow_other ? ",allow_other" : "");
    if (fuse_opt_add_arg(args, "p2v") || fuse_opt_add_arg(args, "-o") ||
        fuse_opt_add_arg(args, base))
        return -ENOMEM;
    for (const char *const *p = o->fuse_opts; p && *p; p++)
        if (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, *p))
            return -ENOMEM;
    if (o->debug && fuse_opt_add_arg(args, "-d"))
        return -ENOMEM;
    return 0;
}

/* The line scripts can wait for: the view answers from now on. */
static void say_ready(const struct p2v_view_file *files, int nfiles, const struct p2v_view_opts *o)
{
    char list[512] = "";
    for (int i = 0, at = 0; i < nfiles && at < (int)sizeof list; i++)
        if (files[i].layer)
            at += snprintf(list + at, sizeof list - (size_t)at, "%s%s %llu bytes",
                           at ? ", " : "", files[i].name,
                           (unsigned long long)files[i].layer->size);
    p2v_note("ready: %s: %s", o->mountpoint, list);
    if (!o->foreground) {
        p2v_log_target(o->log_to_file ? P2V_LOG_FILE : P2V_LOG_SYSLOG);
        p2v_daemon_ready();
    }
}

/* Serves until unmounted or stopped by a signal (a clean stop). */
static int loop(struct fuse_session *se)
{
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (!cfg)
        return -ENOMEM;
    fuse_loop_cfg_set_max_threads(cfg, 16);
    fuse_loop_cfg_set_idle_threads(cfg, 8);
    /* A positive result is the signal that ended the loop: a clean stop. */
    int r = fuse_session_loop_mt(se, cfg) < 0 ? -EIO : 0;
    fuse_loop_cfg_destroy(cfg);
    return r;
}

int p2v_view_serve(const struct p2v_view_file *files, int nfiles,
                   const struct p2v_view_opts *o)
{
    struct view v;
    int r = p2v_view_init(&v, files, nfiles, o, find_max_read(o->fuse_opts));
    if (r < 0)
        return r;
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    if ((r = add_mount_args(&args, &v, o)) < 0)
        goto out_args;
    r = -EINVAL;
    struct fuse_session *se = fuse_session_new(&args, &p2v_view_ops, sizeof p2v_view_ops, &v);
    if (!se) {
        p2v_err("FUSE rejected the mount options (see the message above)");
        goto out_args;
    }
    if (fuse_set_signal_handlers(se) != 0) {
        p2v_err("cannot install signal handlers for the FUSE session");
        goto out_session;
    }
    /* Into the background before mounting, not after: the process that
     * mounts is the one that serves, so no kill of `p2v mount` can leave a
     * mount without its server (a dead mount, ENOTCONN). */
    if (!o->foreground && (r = p2v_daemon_start()) < 0)
        goto out_signals;
    r = -EINVAL;
    if (fuse_session_mount(se, o->mountpoint) != 0) {
        p2v_err("mounting on %s failed (see the message above)", o->mountpoint);
        goto out_signals;
    }
    if ((r = first_request(se, &v)) < 0)
        goto out_unmount;
    raise_readahead(o->mountpoint);
    /* A Ctrl-C (or SIGTERM) since the mount: not ready, and not a success.
     * Once "ready:" is out, a signal is a clean stop instead. */
    if (fuse_session_exited(se)) {
        p2v_err("stopped by a signal before the view was ready; unmounting %s", o->mountpoint);
        r = -EINTR;
        goto out_unmount;
    }
    say_ready(files, nfiles, o);
    r = loop(se);
out_unmount:
    fuse_session_unmount(se);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
out_args:
    fuse_opt_free_args(&args);
    p2v_view_free(&v);
    return r;
}
