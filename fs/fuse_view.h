/* The FUSE view: a directory of files, each the top of a layer stack
 * (disk.vhd, disk.raw, partitions/N.raw, fixups.json), read-only unless a
 * file is marked writable.  Low-level libfuse API, multithreaded, no
 * lock on the read path. */
#ifndef P2V_FUSE_VIEW_H
#define P2V_FUSE_VIEW_H

#include "core/layer.h"

#include <sys/types.h>
#include <time.h>

struct p2v_view_file {
    const char *name;        /* "disk.raw", or one directory deep: "partitions/1.raw" */
    struct p2v_layer *layer;
    int writable;            /* writes go to the layer (mode 0600, no page cache) */
    /* A report made when it is opened (layer NULL): a malloc'd text that
     * shows the state of the mount at that moment (status.json). */
    int (*render)(void *ctx, char **text, size_t *len);
    void *render_ctx;
};

struct p2v_view_opts {
    const char *mountpoint;       /* absolute */
    int foreground;
    int allow_other;
    int debug;
    int direct_io;                /* every open bypasses the page cache */
    const char *const *fuse_opts; /* extra -o options, NULL-terminated */
    struct timespec mtime;        /* shown on every entry: fixed, for rsync */
    int log_to_file;              /* in the background: the file opened by
                                     p2v_log_open_file, else syslog */
    /* Makes writes durable: called on fsync, on every close of a writable
     * file (FUSE's flush, which close() waits for) and at unmount.  NULL
     * when nothing is writable. */
    int (*sync)(void *ctx);
    void *sync_ctx;
    /* The mount's source in mountinfo (default "p2v"); `p2v umount` reads
     * the state directory from "p2v:DIR" to wait until it is released. */
    const char *fsname;
};

/* Checks that a mount can be made there: exists, is a directory, is not a
 * mount point already, and /dev/fuse can be opened.  0 or -errno, with a
 * message. */
int p2v_view_preflight(const char *mountpoint);

/* Mounts, goes to the background unless foreground, serves until
 * unmounted.  Returns 0 after a clean unmount, or -errno if the mount
 * could not be made (nothing is left mounted then). */
int p2v_view_serve(const struct p2v_view_file *files, int nfiles,
                   const struct p2v_view_opts *opts);

#endif
