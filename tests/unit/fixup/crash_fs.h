/* A file system in memory behind the overlay's I/O table, which forgets
 * like a disk losing power (after SQLite's crash simulation).
 *
 * Every file has durable bytes and the writes since its last fsync or
 * fdatasync, in order; every directory has durable entries and the
 * operations (create, rename, unlink) since its last fsync.  A crash image
 * is the durable state with each pending write dropped, kept, or torn at
 * 512-byte sectors (a prefix, or any subset of sectors, or only the size
 * grown with zeros), and each pending directory operation kept or dropped
 * on its own; a rename stays atomic: the new name binds the file, or
 * nothing changed.  Header-only, for the crash tests; not thread-safe.
 *
 * The working directory of the simulated process is inode 0; "st" in it
 * is a state directory. */
#ifndef P2V_TEST_CRASH_FS_H
#define P2V_TEST_CRASH_FS_H

#include "fixup/overlay_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CFS_INODES 40
#define CFS_FDS 16
#define CFS_FD0 700  /* far from real descriptors: a mix-up fails loudly */
#define CFS_NAME 24
#define CFS_ENTRIES 8
#define CFS_DIROPS 16
#define CFS_SECTOR 512u

struct cfs_write {
    int truncate;      /* 1: the file cut (or grown) to off; no data */
    uint64_t off;
    size_t len;
    uint8_t *data;
};

struct cfs_entry {
    char name[CFS_NAME];
    int ino;
};

enum { CFS_LINK, CFS_UNLINK, CFS_RENAME };

struct cfs_dirop {
    int kind;
    char a[CFS_NAME], b[CFS_NAME];  /* the name (LINK, UNLINK); old and new (RENAME) */
    int ino;
};

struct cfs_bytes {
    uint8_t *p;
    size_t len, cap;
};

struct cfs_inode {
    int used, dir, parent;
    struct cfs_bytes cur, dur;             /* a file's bytes: as seen, as synced */
    struct cfs_write *w;                   /* a file's pending writes */
    size_t nw, wcap;
    struct cfs_entry cur_e[CFS_ENTRIES], dur_e[CFS_ENTRIES];
    int ncur, ndur;
    struct cfs_dirop op[CFS_DIROPS];       /* a directory's pending operations */
    int nop;
};

struct cfs {
    struct cfs_inode ino[CFS_INODES];
    int fd_ino[CFS_FDS];                   /* -1: free */
    uint64_t fd_pos[CFS_FDS];
    /* Called before every operation that changes or syncs something (the
     * moments a crash can come); NULL in images being checked. */
    void (*crash_point)(void *ctx, int is_sync);
    void *ctx;
};

static struct cfs *cfs_now;  /* the file system the table works on */

static inline void cfs_fail(const char *what)
{
    fail_msg("crash_fs: %s", what);
}

static inline void cfs_put(struct cfs_bytes *b, uint64_t off, const uint8_t *p, size_t len)
{
    size_t end = (size_t)off + len;
    if (end > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < end)
            cap *= 2;
        uint8_t *n = realloc(b->p, cap);
        if (!n)
            cfs_fail("out of memory");
        b->p = n;
        b->cap = cap;
    }
    if (off > b->len)
        memset(b->p + b->len, 0, (size_t)off - b->len);
    if (p)
        memcpy(b->p + off, p, len);
    else
        memset(b->p + off, 0, len);
    if (end > b->len)
        b->len = end;
}

static inline void cfs_resize(struct cfs_bytes *b, uint64_t len)
{
    if (len > b->len)
        cfs_put(b, len, NULL, 0);
    else
        b->len = (size_t)len;
}

static inline void cfs_copy(struct cfs_bytes *to, const struct cfs_bytes *from)
{
    to->len = 0;
    if (from->len)
        cfs_put(to, 0, from->p, from->len);
}

static inline int cfs_new_inode(struct cfs *fs, int dir, int parent)
{
    for (int i = 0; i < CFS_INODES; i++) {
        if (!fs->ino[i].used) {
            struct cfs_inode *n = &fs->ino[i];
            n->used = 1;
            n->dir = dir;
            n->parent = parent;
            return i;
        }
    }
    cfs_fail("out of inodes");
    return -1;
}

static inline void cfs_init(struct cfs *fs)
{
    memset(fs, 0, sizeof *fs);
    for (int i = 0; i < CFS_FDS; i++)
        fs->fd_ino[i] = -1;
    cfs_new_inode(fs, 1, 0);  /* the working directory, its own parent */
}

static inline void cfs_free(struct cfs *fs)
{
    for (int i = 0; i < CFS_INODES; i++) {
        struct cfs_inode *n = &fs->ino[i];
        for (size_t k = 0; k < n->nw; k++)
            free(n->w[k].data);
        free(n->w);
        free(n->cur.p);
        free(n->dur.p);
    }
    memset(fs, 0, sizeof *fs);
}

/* Empties fs (as cfs_init leaves it) but keeps its buffers: an image made
 * thousands of times costs no allocations. */
static inline void cfs_recycle(struct cfs *fs)
{
    for (int i = 0; i < CFS_INODES; i++) {
        struct cfs_inode *n = &fs->ino[i];
        for (size_t k = 0; k < n->nw; k++)
            free(n->w[k].data);
        struct cfs_bytes cur = n->cur, dur = n->dur;
        struct cfs_write *w = n->w;
        size_t wcap = n->wcap;
        memset(n, 0, sizeof *n);
        n->cur = (struct cfs_bytes){ cur.p, 0, cur.cap };
        n->dur = (struct cfs_bytes){ dur.p, 0, dur.cap };
        n->w = w;
        n->wcap = wcap;
    }
    for (int i = 0; i < CFS_FDS; i++)
        fs->fd_ino[i] = -1;
    fs->crash_point = NULL;
    fs->ctx = NULL;
    cfs_new_inode(fs, 1, 0);
}

/* ---- entries ---- */

static inline int cfs_find(const struct cfs_entry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].name, name))
            return i;
    return -1;
}

static inline void cfs_bind(struct cfs_entry *e, int *n, const char *name, int ino)
{
    int i = cfs_find(e, *n, name);
    if (i < 0) {
        if (*n == CFS_ENTRIES)
            cfs_fail("directory full");
        i = (*n)++;
        snprintf(e[i].name, CFS_NAME, "%s", name);
    }
    e[i].ino = ino;
}

static inline void cfs_unbind(struct cfs_entry *e, int *n, const char *name)
{
    int i = cfs_find(e, *n, name);
    if (i >= 0)
        e[i] = e[--*n];
}

/* Applies one directory operation to a set of entries. */
static inline void cfs_apply_op(struct cfs_entry *e, int *n, const struct cfs_dirop *op)
{
    if (op->kind == CFS_LINK) {
        cfs_bind(e, n, op->a, op->ino);
    } else if (op->kind == CFS_UNLINK) {
        cfs_unbind(e, n, op->a);
    } else {
        int i = cfs_find(e, *n, op->a);
        if (i >= 0 && e[i].ino == op->ino)
            cfs_unbind(e, n, op->a);
        cfs_bind(e, n, op->b, op->ino);
    }
}

static inline void cfs_dirop(struct cfs_inode *d, int kind, const char *a, const char *b, int ino)
{
    if (d->nop == CFS_DIROPS)
        cfs_fail("too many pending directory operations");
    struct cfs_dirop *op = &d->op[d->nop++];
    op->kind = kind;
    snprintf(op->a, CFS_NAME, "%s", a);
    snprintf(op->b, CFS_NAME, "%s", b ? b : "");
    op->ino = ino;
    cfs_apply_op(d->cur_e, &d->ncur, op);
}

static inline void cfs_pending_write(struct cfs_inode *f, int truncate, uint64_t off,
                                     const void *p, size_t len)
{
    if (f->nw == f->wcap) {
        size_t cap = f->wcap ? f->wcap * 2 : 16;
        struct cfs_write *w = realloc(f->w, cap * sizeof *w);
        if (!w)
            cfs_fail("out of memory");
        f->w = w;
        f->wcap = cap;
    }
    struct cfs_write *w = &f->w[f->nw++];
    w->truncate = truncate;
    w->off = off;
    w->len = len;
    w->data = NULL;
    if (len) {
        w->data = malloc(len);
        if (!w->data)
            cfs_fail("out of memory");
        memcpy(w->data, p, len);
    }
    if (truncate)
        cfs_resize(&f->cur, off);
    else
        cfs_put(&f->cur, off, p, len);
}

/* ---- the crash image ---- */

struct cfs_rng {
    uint64_t s;
};

static inline uint64_t cfs_next(struct cfs_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

enum { CFS_DROP_ALL, CFS_KEEP_ALL, CFS_RANDOM };

/* One pending write as the disk kept it. */
static inline void cfs_land(struct cfs_bytes *b, const struct cfs_write *w, int mode,
                            struct cfs_rng *r, unsigned *torn)
{
    unsigned pick = mode == CFS_KEEP_ALL ? 1
                  : mode == CFS_DROP_ALL ? 0 : (unsigned)(cfs_next(r) % 6);
    if (w->truncate) {
        if (pick & 1)
            cfs_resize(b, w->off);
        return;
    }
    uint64_t end = w->off + w->len;
    if (pick == 0)
        return;                           /* dropped */
    if (pick == 1 || pick == 3) {
        cfs_put(b, w->off, w->data, w->len);  /* kept */
        return;
    }
    if (pick == 5) {                      /* the size grew, the data never came */
        if (end > b->len)
            cfs_resize(b, end);
        return;
    }
    /* Torn at sectors: a prefix (2), or any of them (4). */
    uint64_t keep_to = w->off + cfs_next(r) % (w->len + 1);
    for (uint64_t s = w->off; s < end;) {
        uint64_t next = (s / CFS_SECTOR + 1) * CFS_SECTOR;
        if (next > end)
            next = end;
        int keep = pick == 2 ? next <= keep_to : (int)(cfs_next(r) & 1);
        if (keep)
            cfs_put(b, s, w->data + (s - w->off), (size_t)(next - s));
        s = next;
    }
    (*torn)++;
}

/* img (initialized, any content) becomes what fs would show after power
 * came back: nothing open. */
static inline void cfs_crash(const struct cfs *fs, struct cfs *img, int mode, struct cfs_rng *r,
                             unsigned *torn)
{
    cfs_recycle(img);
    for (int i = 0; i < CFS_INODES; i++) {
        const struct cfs_inode *n = &fs->ino[i];
        struct cfs_inode *m = &img->ino[i];
        if (!n->used)
            continue;
        m->used = 1;
        m->dir = n->dir;
        m->parent = n->parent;
        if (n->dir) {
            memcpy(m->dur_e, n->dur_e, sizeof m->dur_e);
            m->ndur = n->ndur;
            for (int k = 0; k < n->nop; k++) {
                int keep = mode == CFS_KEEP_ALL || (mode == CFS_RANDOM && (cfs_next(r) & 1));
                if (keep)
                    cfs_apply_op(m->dur_e, &m->ndur, &n->op[k]);
            }
            memcpy(m->cur_e, m->dur_e, sizeof m->cur_e);
            m->ncur = m->ndur;
        } else {
            cfs_copy(&m->dur, &n->dur);
            for (size_t k = 0; k < n->nw; k++)
                cfs_land(&m->dur, &n->w[k], mode, r, torn);
            cfs_copy(&m->cur, &m->dur);
        }
    }
}

/* ---- the table ---- */

static inline struct cfs_inode *cfs_fd(int fd, int *slot)
{
    int i = fd - CFS_FD0;
    if (i < 0 || i >= CFS_FDS || cfs_now->fd_ino[i] < 0) {
        errno = EBADF;
        return NULL;
    }
    if (slot)
        *slot = i;
    return &cfs_now->ino[cfs_now->fd_ino[i]];
}

static inline void cfs_point(int is_sync)
{
    if (cfs_now->crash_point)
        cfs_now->crash_point(cfs_now->ctx, is_sync);
}

static inline struct cfs_inode *cfs_dir_of(int dirfd)
{
    if (dirfd == AT_FDCWD)
        return &cfs_now->ino[0];
    struct cfs_inode *d = cfs_fd(dirfd, NULL);
    if (d && !d->dir) {
        errno = ENOTDIR;
        return NULL;
    }
    return d;
}

static inline int cfs_mkdir(const char *path, mode_t mode)
{
    (void)mode;
    struct cfs_inode *root = &cfs_now->ino[0];
    if (cfs_find(root->cur_e, root->ncur, path) >= 0) {
        errno = EEXIST;
        return -1;
    }
    cfs_point(0);
    cfs_dirop(root, CFS_LINK, path, NULL, cfs_new_inode(cfs_now, 1, 0));
    return 0;
}

static inline int cfs_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    (void)mode;
    struct cfs_inode *d = cfs_dir_of(dirfd);
    if (!d)
        return -1;
    int ino;
    if (!strcmp(name, "..")) {
        ino = d->parent;
    } else {
        int i = cfs_find(d->cur_e, d->ncur, name);
        if (i < 0 && !(flags & O_CREAT)) {
            errno = ENOENT;
            return -1;
        }
        if (i < 0) {
            cfs_point(0);
            ino = cfs_new_inode(cfs_now, 0, (int)(d - cfs_now->ino));
            cfs_dirop(d, CFS_LINK, name, NULL, ino);
        } else {
            ino = d->cur_e[i].ino;
        }
    }
    struct cfs_inode *n = &cfs_now->ino[ino];
    if ((flags & O_DIRECTORY) && !n->dir) {
        errno = ENOTDIR;
        return -1;
    }
    if ((flags & O_TRUNC) && !n->dir && n->cur.len) {
        cfs_point(0);
        cfs_pending_write(n, 1, 0, NULL, 0);
    }
    for (int i = 0; i < CFS_FDS; i++) {
        if (cfs_now->fd_ino[i] < 0) {
            cfs_now->fd_ino[i] = ino;
            cfs_now->fd_pos[i] = 0;
            return CFS_FD0 + i;
        }
    }
    errno = EMFILE;
    return -1;
}

static inline int cfs_close(int fd)
{
    int slot;
    if (!cfs_fd(fd, &slot))
        return -1;
    cfs_now->fd_ino[slot] = -1;
    return 0;
}

static inline int cfs_flock(int fd, int op)
{
    (void)op;
    return cfs_fd(fd, NULL) ? 0 : -1;
}

static inline ssize_t cfs_pread(int fd, void *buf, size_t len, off_t off)
{
    struct cfs_inode *f = cfs_fd(fd, NULL);
    if (!f)
        return -1;
    if (f->dir) {
        errno = EISDIR;
        return -1;
    }
    if ((uint64_t)off >= f->cur.len)
        return 0;
    size_t n = f->cur.len - (size_t)off < len ? f->cur.len - (size_t)off : len;
    memcpy(buf, f->cur.p + off, n);
    return (ssize_t)n;
}

static inline ssize_t cfs_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    struct cfs_inode *f = cfs_fd(fd, NULL);
    if (!f)
        return -1;
    cfs_point(0);
    cfs_pending_write(f, 0, (uint64_t)off, buf, len);
    return (ssize_t)len;
}

static inline ssize_t cfs_write(int fd, const void *buf, size_t len)
{
    int slot;
    if (!cfs_fd(fd, &slot))
        return -1;
    ssize_t n = cfs_pwrite(fd, buf, len, (off_t)cfs_now->fd_pos[slot]);
    if (n > 0)
        cfs_now->fd_pos[slot] += (uint64_t)n;
    return n;
}

static inline int cfs_fsync(int fd)
{
    struct cfs_inode *n = cfs_fd(fd, NULL);
    if (!n)
        return -1;
    cfs_point(1);
    if (n->dir) {
        memcpy(n->dur_e, n->cur_e, sizeof n->dur_e);
        n->ndur = n->ncur;
        n->nop = 0;
        return 0;
    }
    cfs_copy(&n->dur, &n->cur);
    for (size_t k = 0; k < n->nw; k++)
        free(n->w[k].data);
    n->nw = 0;
    return 0;
}

static inline int cfs_renameat(int od, const char *on, int nd, const char *nn)
{
    struct cfs_inode *d = cfs_dir_of(od);
    if (!d)
        return -1;
    if (cfs_dir_of(nd) != d) {
        errno = EXDEV;  /* the overlay renames inside its directory only */
        return -1;
    }
    int i = cfs_find(d->cur_e, d->ncur, on);
    if (i < 0) {
        errno = ENOENT;
        return -1;
    }
    cfs_point(0);
    cfs_dirop(d, CFS_RENAME, on, nn, d->cur_e[i].ino);
    return 0;
}

static inline int cfs_unlinkat(int dirfd, const char *name, int flags)
{
    (void)flags;
    struct cfs_inode *d = cfs_dir_of(dirfd);
    if (!d)
        return -1;
    if (cfs_find(d->cur_e, d->ncur, name) < 0) {
        errno = ENOENT;
        return -1;
    }
    cfs_point(0);
    cfs_dirop(d, CFS_UNLINK, name, NULL, -1);
    return 0;
}

static inline int cfs_fstat(int fd, struct stat *st)
{
    struct cfs_inode *n = cfs_fd(fd, NULL);
    if (!n)
        return -1;
    memset(st, 0, sizeof *st);
    st->st_mode = n->dir ? S_IFDIR | 0700 : S_IFREG | 0600;
    st->st_uid = geteuid();
    st->st_size = n->dir ? 4096 : (off_t)n->cur.len;
    return 0;
}

static const struct p2v_overlay_io cfs_io = {
    .mkdir = cfs_mkdir,
    .openat = cfs_openat,
    .flock = cfs_flock,
    .pread = cfs_pread,
    .pwrite = cfs_pwrite,
    .write = cfs_write,
    .fsync = cfs_fsync,
    .fdatasync = cfs_fsync,  /* the size is part of what fdatasync keeps */
    .renameat = cfs_renameat,
    .unlinkat = cfs_unlinkat,
    .fstat = cfs_fstat,
    .close = cfs_close,
};

#endif
