#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include "fuse_view.h"

#include "daemon.h"
#include "core/mountinfo.h"
#include "core/log.h"

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

/* Inodes: 1 the root, 2.. the directories, then the files. */
static fuse_ino_t file_ino(const struct view *v, int i) { return (fuse_ino_t)(ROOT_INO + 1 + v->ndirs + i); }
static int is_dir(const struct view *v, fuse_ino_t ino) { return ino >= ROOT_INO && ino <= (fuse_ino_t)(ROOT_INO + v->ndirs); }
/* Directory number of a directory inode: 0 the root, 1.. the others. */
static int dir_index(fuse_ino_t ino) { return (int)(ino - ROOT_INO); }

static const struct p2v_view_file *file_of(struct view *v, fuse_ino_t ino)
{
    if (ino < file_ino(v, 0) || ino > file_ino(v, v->n - 1))
        return NULL;
    return &v->files[ino - file_ino(v, 0)];
}

static const char *base_name(const char *name)
{
    const char *slash = strchr(name, '/');
    return slash ? slash + 1 : name;
}

/* Sorts the files into the root and at most MAX_DIRS directories. */
static int build_dirs(struct view *v)
{
    v->dir_of = calloc((size_t)v->n, sizeof *v->dir_of);
    if (!v->dir_of)
        return -ENOMEM;
    for (int i = 0; i < v->n; i++) {
        const char *slash = strchr(v->files[i].name, '/');
        if (v->files[i].writable)
            v->writable = 1;
        if (!slash)
            continue;
        size_t len = (size_t)(slash - v->files[i].name);
        int d = 0;
        while (d < v->ndirs && (strlen(v->dirs[d]) != len || strncmp(v->dirs[d], v->files[i].name, len)))
            d++;
        if (d == v->ndirs) {
            if (d == MAX_DIRS || len >= sizeof v->dirs[0])
                return -EINVAL;
            memcpy(v->dirs[d], v->files[i].name, len);
            v->dirs[d][len] = 0;
            v->ndirs++;
        }
        v->dir_of[i] = d + 1;
    }
    return 0;
}

static void fill_attr(struct view *v, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_uid = v->uid;
    st->st_gid = v->gid;
    st->st_atim = st->st_mtim = st->st_ctim = v->mtime;
    st->st_blksize = 1024 * 1024;
    if (is_dir(v, ino)) {
        st->st_mode = S_IFDIR | 0500 | (v->others ? 0055 : 0);
        st->st_nlink = 2 + (ino == ROOT_INO ? (nlink_t)v->ndirs : 0);
        return;
    }
    const struct p2v_view_file *f = file_of(v, ino);
    st->st_mode = S_IFREG | (f->writable ? 0600 : 0400) | (v->others ? 0044 : 0);
    st->st_nlink = 1;
    if (f->render) {
        char *text;
        size_t len;
        if (f->render(f->render_ctx, &text, &len) == 0) {
            st->st_size = (off_t)len;
            st->st_blocks = (blkcnt_t)((len + 511) / 512);
            free(text);
        }
        return;
    }
    st->st_size = (off_t)f->layer->size;
    st->st_blocks = (blkcnt_t)v->blocks[f - v->files];
}

/* The text of a rendered file, made at open and kept until release, so
 * one reader sees one consistent report. */
struct rendered { char *text; size_t len; };

static struct rendered *rendered_of(struct fuse_file_info *fi)
{
    return (struct rendered *)(uintptr_t)fi->fh;
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
    if (!is_dir(v, parent)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    struct fuse_entry_param e = { .attr_timeout = TIMEOUT, .entry_timeout = TIMEOUT };
    for (int d = 0; parent == ROOT_INO && d < v->ndirs; d++)
        if (strcmp(v->dirs[d], name) == 0)
            e.ino = (fuse_ino_t)(ROOT_INO + 1 + d);
    for (int i = 0; !e.ino && i < v->n; i++)
        if (v->dir_of[i] == dir_index(parent) && strcmp(base_name(v->files[i].name), name) == 0)
            e.ino = file_ino(v, i);
    if (!e.ino) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fill_attr(v, e.ino, &e.attr);
    fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct view *v = fuse_req_userdata(req);
    if (!is_dir(v, ino) && !file_of(v, ino)) {
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
    if (!is_dir(v, ino)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    char *buf = calloc(1, size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    /* Entries in a fixed order: ".", "..", the directories (root only),
     * then the files; off is the next entry's number. */
    int d = dir_index(ino), nsub = d == 0 ? v->ndirs : 0;
    size_t used = 0;
    for (off_t i = off; i < 2 + nsub + v->n; i++) {
        struct stat st = { .st_ino = i == 0 ? ino : ROOT_INO, .st_mode = S_IFDIR };
        const char *name = i == 0 ? "." : "..";
        if (i >= 2 && i < 2 + nsub) {
            st.st_ino = (ino_t)(ROOT_INO + 1 + (i - 2));
            name = v->dirs[i - 2];
        } else if (i >= 2 + nsub) {
            int f = (int)(i - 2 - nsub);
            if (v->dir_of[f] != d)
                continue;
            st.st_ino = (ino_t)file_ino(v, f);
            st.st_mode = S_IFREG;
            name = base_name(v->files[f].name);
        }
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
    const struct p2v_view_file *f = file_of(v, ino);
    if (!f) {
        fuse_reply_err(req, is_dir(v, ino) ? EISDIR : ENOENT);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY && !f->writable) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (f->render) {
        struct rendered *t = calloc(1, sizeof *t);
        if (!t || f->render(f->render_ctx, &t->text, &t->len) < 0) {
            free(t);
            fuse_reply_err(req, ENOMEM);
            return;
        }
        fi->fh = (uint64_t)(uintptr_t)t;
        fi->direct_io = 1;  /* the size changes from one open to the next */
        fuse_reply_open(req, fi);
        return;
    }
    if (v->writable) {
        /* disk.raw and the partition files show the same bytes: no page
         * cache, or a write through one would leave the other stale. */
        fi->direct_io = 1;
        fuse_reply_open(req, fi);
        return;
    }
    fi->keep_cache = 1;       /* contents never change while mounted */
    /* O_DIRECT (e.g. QEMU cache=none) or --direct-io: each read goes
     * straight to p2v and into the reader's buffer, one copy fewer. */
    if (v->direct_io || (fi->flags & O_DIRECT))
        fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct view *v = fuse_req_userdata(req);
    const struct p2v_view_file *f = file_of(v, ino);
    if (f && f->render) {
        struct rendered *t = rendered_of(fi);
        free(t->text);
        free(t);
    }
    fuse_reply_err(req, 0);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct view *v = fuse_req_userdata(req);
    const struct p2v_view_file *f = file_of(v, ino);
    if (!f) {
        fuse_reply_err(req, EBADF);
        return;
    }
    if (f->render) {
        /* Replied from a copy: once the kernel has the reply it may send
         * RELEASE, and another thread frees the text while this one is
         * still inside writev (harmless to the kernel, which has copied
         * the bytes, but a use after free to ASan, which checks after). */
        struct rendered *t = rendered_of(fi);
        size_t at = off < 0 || (uint64_t)off >= t->len ? t->len : (size_t)off;
        size_t n = size < t->len - at ? size : t->len - at;
        void *buf = thread_buf(n ? n : 1);
        if (!buf) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        memcpy(buf, t->text + at, n);
        fuse_reply_buf(req, buf, n);
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
        /* EIO was named below (the bad sectors, the change seen). */
        if (r != -EIO)
            p2v_err("%s: read of %zu bytes at byte offset %lld failed: %s", f->name, size,
                    (long long)off, strerror(-r));
        fuse_reply_err(req, -r);
        return;
    }
    fuse_reply_buf(req, buf, size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)fi;
    struct view *v = fuse_req_userdata(req);
    const struct p2v_view_file *f = file_of(v, ino);
    if (!f || !f->writable) {
        fuse_reply_err(req, f ? EROFS : EBADF);
        return;
    }
    /* Fixed size: a disk does not grow. */
    if (off < 0 || (uint64_t)off >= f->layer->size) {
        fuse_reply_err(req, (uint64_t)off == f->layer->size && size == 0 ? 0 : ENOSPC);
        return;
    }
    if (size > f->layer->size - (uint64_t)off)
        size = (size_t)(f->layer->size - (uint64_t)off);
    int r = p2v_layer_write(f->layer, buf, size, (uint64_t)off);
    if (r < 0) {
        p2v_err("%s: write of %zu bytes at byte offset %lld failed: %s", f->name, size,
                (long long)off, strerror(-r));
        fuse_reply_err(req, -r);
        return;
    }
    fuse_reply_write(req, size);
}

static int sync_view(struct view *v)
{
    return v->sync ? v->sync(v->sync_ctx) : 0;
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino, (void)datasync, (void)fi;
    fuse_reply_err(req, -sync_view(fuse_req_userdata(req)));
}

/* close() waits for flush (release comes later, asynchronously): saving
 * here means a writer's close returns once its writes are durable. */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct view *v = fuse_req_userdata(req);
    const struct p2v_view_file *f = file_of(v, ino);
    int r = 0;
    if (f && f->writable && (fi->flags & O_ACCMODE) != O_RDONLY)
        r = sync_view(v);
    fuse_reply_err(req, -r);
}

static void op_destroy(void *userdata)
{
    struct view *v = userdata;
    int r = sync_view(v);
    if (r < 0)
        p2v_err("saving the last writes at unmount failed: %s", strerror(-r));
}

struct seek { int want_data; int found; uint64_t at; };

static int seek_cb(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    (void)len;
    struct seek *s = ctx;
    if ((kind != P2V_EXTENT_ZERO) != s->want_data)
        return 0;
    s->found = 1;
    s->at = off;
    return 1;
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                     struct fuse_file_info *fi)
{
    struct view *v = fuse_req_userdata(req);
    const struct p2v_view_file *f = file_of(v, ino);
    if (!f || (whence != SEEK_DATA && whence != SEEK_HOLE)) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (f->render) {  /* all data */
        size_t len = rendered_of(fi)->len;
        if (off < 0 || (uint64_t)off >= len)
            fuse_reply_err(req, ENXIO);
        else
            fuse_reply_lseek(req, whence == SEEK_DATA ? off : (off_t)len);
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
        if (v->files[i].layer)
            sv.f_blocks += (v->files[i].layer->size + 4095) / 4096;
    sv.f_files = (fsfilcnt_t)(v->n + 1 + v->ndirs);
    fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .lseek = op_lseek,
    .statfs = op_statfs,
    .write = op_write,
    .fsync = op_fsync,
    .flush = op_flush,
    .destroy = op_destroy,
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
                      .others = o->allow_other ? 1 : 0,
                      .mtime = o->mtime, .max_read = find_max_read(o->fuse_opts),
                      .direct_io = o->direct_io, .sync = o->sync, .sync_ctx = o->sync_ctx };
    int br = build_dirs(&v);
    if (br < 0) {
        free(v.dir_of);
        return br;
    }
    v.blocks = calloc((size_t)nfiles, sizeof *v.blocks);
    if (!v.blocks) {
        free(v.dir_of);
        return -ENOMEM;
    }
    for (int i = 0; i < nfiles; i++) {
        uint64_t data;
        if (!files[i].layer)
            continue;
        int r = p2v_layer_data_bytes(files[i].layer, 0, files[i].layer->size, &data);
        if (r < 0) {
            free(v.blocks);
            free(v.dir_of);
            return r;
        }
        v.blocks[i] = (data + 511) / 512;
    }
    if (pthread_key_create(&buf_key, free_tbuf) != 0) {
        free(v.blocks);
        free(v.dir_of);
        return -ENOMEM;
    }

    char base[4200];
    snprintf(base, sizeof base, "%sdefault_permissions,fsname=%s,subtype=p2v%s",
             v.writable ? "" : "ro,", o->fsname ? o->fsname : "p2v",
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
    r = first_request(se, &v);
    if (r < 0)
        goto out_unmount;
    raise_readahead(o->mountpoint);
    /* A Ctrl-C (or SIGTERM) since the mount: not ready, and not a success.
     * Once "ready:" is out, a signal is a clean stop instead. */
    if (fuse_session_exited(se)) {
        p2v_err("stopped by a signal before the view was ready; unmounting %s", o->mountpoint);
        r = -EINTR;
        goto out_unmount;
    }
    /* The line scripts can wait for: the view answers from now on. */
    char list[512] = "";
    for (int i = 0, at = 0; i < nfiles && at < (int)sizeof list; i++)
        if (files[i].layer)
            at += snprintf(list + at, sizeof list - (size_t)at, "%s%s %llu bytes",
                           at ? ", " : "", files[i].name,
                           (unsigned long long)files[i].layer->size);
    p2v_note("ready: %s: %s", o->mountpoint, list);
    if (!o->foreground)
        p2v_log_target(o->log_to_file ? P2V_LOG_FILE : P2V_LOG_SYSLOG);
    if (!o->foreground)
        p2v_daemon_ready();
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
    free(v.dir_of);
    return r;
}
