#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include "fuse_view.h"

#include "mountinfo.h"
#include "../core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define ROOT_INO 1
#define TIMEOUT 86400.0  /* the tree never changes while mounted */

struct view {
    const struct p2v_view_file *files;
    int n;
    uint64_t *blocks;    /* st_blocks per file: 512-byte units holding data */
    uid_t uid;
    gid_t gid;
    struct timespec mtime;
    unsigned max_read;   /* from -o max_read=N: init must repeat it */
    int direct_io;
    int initialized;
};

static pthread_key_t buf_key;

/* One read buffer per worker thread, freed when the thread ends.  Page
 * aligned, so the source can read into it with O_DIRECT. */
struct tbuf { size_t cap; void *data; };

static void free_tbuf(void *p)
{
    struct tbuf *b = p;
    free(b->data);
    free(b);
}

static void *thread_buf(size_t size)
{
    struct tbuf *b = pthread_getspecific(buf_key);
    if (!b) {
        if (!(b = calloc(1, sizeof *b)))
            return NULL;
        pthread_setspecific(buf_key, b);
    }
    if (b->cap < size) {
        free(b->data);
        b->cap = (size + 4095) / 4096 * 4096;
        b->data = aligned_alloc(4096, b->cap);
        if (!b->data)
            b->cap = 0;
    }
    return b->data;
}

static const struct p2v_view_file *file_of(struct view *v, fuse_ino_t ino)
{
    if (ino < ROOT_INO + 1 || ino > (fuse_ino_t)(ROOT_INO + v->n))
        return NULL;
    return &v->files[ino - ROOT_INO - 1];
}

static void fill_attr(struct view *v, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_uid = v->uid;
    st->st_gid = v->gid;
    st->st_atim = st->st_mtim = st->st_ctim = v->mtime;
    st->st_blksize = 1024 * 1024;
    if (ino == ROOT_INO) {
        st->st_mode = S_IFDIR | 0500;
        st->st_nlink = 2;
        return;
    }
    const struct p2v_view_file *f = file_of(v, ino);
    st->st_mode = S_IFREG | 0400;
    st->st_nlink = 1;
    st->st_size = (off_t)f->layer->size;
    st->st_blocks = (blkcnt_t)v->blocks[ino - ROOT_INO - 1];
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    struct view *v = userdata;
    v->initialized = 1;
    if (v->max_read)
        conn->max_read = v->max_read;
    /* Many 1 MiB readahead requests in flight; the default of 12 starves
     * the worker threads. */
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    /* Splicing was measured slower than copying for this workload. */
    conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct view *v = fuse_req_userdata(req);
    if (parent != ROOT_INO) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    for (int i = 0; i < v->n; i++) {
        if (strcmp(v->files[i].name, name) == 0) {
            struct fuse_entry_param e = { .ino = (fuse_ino_t)(ROOT_INO + 1 + i),
                                          .attr_timeout = TIMEOUT,
                                          .entry_timeout = TIMEOUT };
            fill_attr(v, e.ino, &e.attr);
            fuse_reply_entry(req, &e);
            return;
        }
    }
    fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct view *v = fuse_req_userdata(req);
    if (ino != ROOT_INO && !file_of(v, ino)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    struct stat st;
    fill_attr(v, ino, &st);
    fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    struct view *v = fuse_req_userdata(req);
    if (ino != ROOT_INO) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    char *buf = calloc(1, size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    /* Entry i: 0 ".", 1 "..", 2.. the files; off is the next entry. */
    for (off_t i = off; i < v->n + 2; i++) {
        struct stat st = { .st_ino = i < 2 ? ROOT_INO : (ino_t)(ROOT_INO + i - 1) };
        st.st_mode = i < 2 ? S_IFDIR : S_IFREG;
        const char *name = i == 0 ? "." : i == 1 ? ".." : v->files[i - 2].name;
        size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct view *v = fuse_req_userdata(req);
    if (!file_of(v, ino)) {
        fuse_reply_err(req, ino == ROOT_INO ? EISDIR : ENOENT);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EROFS);
        return;
    }
    fi->keep_cache = 1;       /* contents never change while mounted */
    /* O_DIRECT (e.g. QEMU cache=none) or --direct-io: each read goes
     * straight to p2v and into the reader's buffer, one copy fewer. */
    if (v->direct_io || (fi->flags & O_DIRECT))
        fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)fi;
    struct view *v = fuse_req_userdata(req);
    const struct p2v_view_file *f = file_of(v, ino);
    if (!f) {
        fuse_reply_err(req, EBADF);
        return;
    }
    uint64_t fsize = f->layer->size;
    if (off < 0 || (uint64_t)off >= fsize) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if (size > fsize - (uint64_t)off)
        size = (size_t)(fsize - (uint64_t)off);
    void *buf = thread_buf(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int r = p2v_layer_read(f->layer, buf, size, (uint64_t)off);
    if (r < 0) {
        p2v_err("%s: read of %zu bytes at byte offset %lld failed: %s", f->name, size,
                (long long)off, strerror(-r));
        fuse_reply_err(req, -r);
        return;
    }
    fuse_reply_buf(req, buf, size);
}

struct seek { int want_data; int found; uint64_t at; };

static int seek_cb(void *ctx, uint64_t off, uint64_t len, int is_data)
{
    (void)len;
    struct seek *s = ctx;
    if ((is_data != P2V_EXTENT_ZERO) != s->want_data)
        return 0;
    s->found = 1;
    s->at = off;
    return 1;
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                     struct fuse_file_info *fi)
{
    (void)fi;
    struct view *v = fuse_req_userdata(req);
    const struct p2v_view_file *f = file_of(v, ino);
    if (!f || (whence != SEEK_DATA && whence != SEEK_HOLE)) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    uint64_t size = f->layer->size;
    if (off < 0 || (uint64_t)off >= size) {
        fuse_reply_err(req, ENXIO);
        return;
    }
    struct seek s = { .want_data = whence == SEEK_DATA };
    int r = p2v_layer_extents(f->layer, (uint64_t)off, size - (uint64_t)off, seek_cb, &s);
    if (r < 0) {
        fuse_reply_err(req, -r);
        return;
    }
    if (!s.found) {
        if (whence == SEEK_DATA) {
            fuse_reply_err(req, ENXIO);
            return;
        }
        s.at = size;  /* the implicit hole at end of file */
    }
    fuse_reply_lseek(req, (off_t)s.at);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct view *v = fuse_req_userdata(req);
    struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096, .f_namemax = 255 };
    for (int i = 0; i < v->n; i++)
        sv.f_blocks += (v->files[i].layer->size + 4095) / 4096;
    sv.f_files = (fsfilcnt_t)v->n + 1;
    fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .lseek = op_lseek,
    .statfs = op_statfs,
};

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

int p2v_view_serve(const struct p2v_view_file *files, int nfiles,
                   const struct p2v_view_opts *o)
{
    struct view v = { .files = files, .n = nfiles, .uid = getuid(), .gid = getgid(),
                      .mtime = o->mtime, .max_read = find_max_read(o->fuse_opts),
                      .direct_io = o->direct_io };
    v.blocks = calloc((size_t)nfiles, sizeof *v.blocks);
    if (!v.blocks)
        return -ENOMEM;
    for (int i = 0; i < nfiles; i++) {
        uint64_t data;
        int r = p2v_layer_data_bytes(files[i].layer, 0, files[i].layer->size, &data);
        if (r < 0) {
            free(v.blocks);
            return r;
        }
        v.blocks[i] = (data + 511) / 512;
    }
    if (pthread_key_create(&buf_key, free_tbuf) != 0) {
        free(v.blocks);
        return -ENOMEM;
    }

    char base[128];
    snprintf(base, sizeof base, "ro,default_permissions,fsname=p2v,subtype=p2v%s",
             o->allow_other ? ",allow_other" : "");
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    int r = -ENOMEM;
    if (fuse_opt_add_arg(&args, "p2v") || fuse_opt_add_arg(&args, "-o") ||
        fuse_opt_add_arg(&args, base))
        goto out_args;
    for (const char *const *p = o->fuse_opts; p && *p; p++)
        if (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, *p))
            goto out_args;
    if (o->debug && fuse_opt_add_arg(&args, "-d"))
        goto out_args;

    r = -EINVAL;
    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, &v);
    if (!se) {
        p2v_err("FUSE rejected the mount options (see the message above)");
        goto out_args;
    }
    if (fuse_set_signal_handlers(se) != 0) {
        p2v_err("cannot install signal handlers for the FUSE session");
        goto out_session;
    }
    if (fuse_session_mount(se, o->mountpoint) != 0) {
        p2v_err("mounting on %s failed (see the message above)", o->mountpoint);
        goto out_signals;
    }
    r = first_request(se, &v);
    if (r < 0)
        goto out_unmount;
    raise_readahead(o->mountpoint);
    /* The line scripts can wait for: the view answers from now on. */
    char list[512] = "";
    for (int i = 0, at = 0; i < nfiles && at < (int)sizeof list; i++)
        at += snprintf(list + at, sizeof list - (size_t)at, "%s%s %llu bytes", i ? ", " : "",
                       files[i].name, (unsigned long long)files[i].layer->size);
    p2v_note("ready: %s: %s", o->mountpoint, list);
    if (!o->foreground)
        p2v_log_target(o->log_to_file ? P2V_LOG_FILE : P2V_LOG_SYSLOG);
    if (fuse_daemonize(o->foreground) != 0) {
        r = -ECHILD;
        goto out_unmount;
    }
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (!cfg) {
        r = -ENOMEM;
        goto out_unmount;
    }
    fuse_loop_cfg_set_max_threads(cfg, 16);
    fuse_loop_cfg_set_idle_threads(cfg, 8);
    /* A positive result is the signal that ended the loop: a clean stop. */
    r = fuse_session_loop_mt(se, cfg) < 0 ? -EIO : 0;
    fuse_loop_cfg_destroy(cfg);
out_unmount:
    fuse_session_unmount(se);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
out_args:
    fuse_opt_free_args(&args);
    pthread_key_delete(buf_key);
    free(v.blocks);
    return r;
}
