#define _GNU_SOURCE
#include "view.h"

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

const struct fuse_lowlevel_ops p2v_view_ops = {
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

/* The view's own tables: its directories and each file's allocated
 * blocks (for st_blocks), and the per-thread read buffers' key. */
int p2v_view_init(struct view *v, const struct p2v_view_file *files, int nfiles,
                  const struct p2v_view_opts *o, unsigned max_read)
{
    *v = (struct view){ .files = files, .n = nfiles, .uid = getuid(), .gid = getgid(),
                        .others = o->allow_other ? 1 : 0,
                        .mtime = o->mtime, .max_read = max_read,
                        .direct_io = o->direct_io, .sync = o->sync, .sync_ctx = o->sync_ctx };
    int r = build_dirs(v);
    if (r == 0 && !(v->blocks = calloc((size_t)nfiles, sizeof *v->blocks)))
        r = -ENOMEM;
    for (int i = 0; r == 0 && i < nfiles; i++) {
        uint64_t data;
        if (!files[i].layer)
            continue;
        r = p2v_layer_data_bytes(files[i].layer, 0, files[i].layer->size, &data);
        v->blocks[i] = (data + 511) / 512;
    }
    if (r == 0 && pthread_key_create(&buf_key, free_tbuf) != 0)
        r = -ENOMEM;
    if (r < 0) {
        free(v->blocks);
        free(v->dir_of);
    }
    return r;
}

void p2v_view_free(struct view *v)
{
    pthread_key_delete(buf_key);
    free(v->blocks);
    free(v->dir_of);
}
