/* Inside the FUSE view: the state its operations share (fuse_view.c)
 * and what mounting it (fuse_mount.c) needs of them. */
#ifndef P2V_VIEW_H
#define P2V_VIEW_H

#include "fuse_view.h"

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_DIRS 4

struct view {
    const struct p2v_view_file *files;
    int n;
    /* Directories below the root, and each file's directory (0: root). */
    char dirs[MAX_DIRS][32];
    int ndirs;
    int *dir_of;
    int writable;        /* some file takes writes */
    int (*sync)(void *ctx);
    void *sync_ctx;
    uint64_t *blocks;    /* st_blocks per file: 512-byte units holding data */
    uid_t uid;
    gid_t gid;
    mode_t others;       /* --allow-other: read (and search) for group and others */
    struct timespec mtime;
    unsigned max_read;   /* from -o max_read=N: init must repeat it */
    int direct_io;
    int initialized;
};

extern const struct fuse_lowlevel_ops p2v_view_ops;

/* The view's own tables: its directories and each file's allocated
 * blocks (for st_blocks), and the per-thread read buffers.  0 or -errno. */
int p2v_view_init(struct view *v, const struct p2v_view_file *files, int nfiles,
                  const struct p2v_view_opts *o, unsigned max_read);
void p2v_view_free(struct view *v);

#endif
