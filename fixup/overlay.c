#define _GNU_SOURCE
#include "overlay.h"
#include "overlay_io.h"

#include "core/bytes.h"
#include "core/log.h"
#include "core/uuid5.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define BLK P2V_OVERLAY_BLOCK
#define MAGIC "P2VOVL01"
#define HEADER 72
#define ENTRY 16

/* The index on disk, little-endian:
 *   0 magic, 8 version, 12 block size, 16 base id (16), 32 disk size,
 *   40 generation, 48 data length, 56 entry count, 64 entries CRC,
 *   68 header CRC (of bytes 0..67), then per changed block, ascending:
 *   u64 disk block, u32 data block, u32 CRC-32 of the stored 4 KiB. */

struct entry {
    uint64_t blk;
    uint32_t dblk;  /* block number in overlay.data; SCRATCH_BIT: in scratch_fd */
    uint32_t crc;
};

#define SCRATCH_BIT 0x80000000u

/* The state files (the directory and its parent's sync, overlay.data,
 * overlay.index and its temporary, the lock) go through o->io, so the
 * crash tests can lose what was not synced; a dry run's memfd is memory
 * anyway, and stays libc's, as do exists and discard (overlay_discard.c). */

struct overlay {
    struct p2v_layer l;
    const struct p2v_overlay_io *io;  /* the table it was opened with */
    pthread_rwlock_t lock;
    char *dir;
    int data_fd, lock_fd, dir_fd;
    int scratch_fd;            /* dry runs: new blocks live in memory (memfd) */
    int writable, dirty;
    int quiet_base;            /* P2V_OVERLAY_QUIET_BASE */
    int write_errno;           /* the last failed write's, logged once */
    int sync_errno;  /* a failed sync: later ones prove nothing, commits are refused */
    uint8_t base_id[16];
    uint64_t generation;
    uint64_t data_blocks;      /* appended so far (committed or not) */
    uint64_t scratch_blocks;
    struct entry *e;
    size_t n, cap;
    uint8_t digest[16];
};

static int load_index(struct overlay *o);

static int path_in(const struct overlay *o, const char *name, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s", o->dir, name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* First entry with blk >= b. */
static size_t find(const struct overlay *o, uint64_t b)
{
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->e[mid].blk < b)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void compute_digest(struct overlay *o)
{
    size_t len = 16 + o->n * sizeof(uint64_t) * 2;
    uint8_t *buf = malloc(len);
    if (!buf) {
        /* Cannot fingerprint: make the identity unique to this open. */
        memset(o->digest, 0xff, 16);
        memcpy(o->digest, &o->generation, sizeof o->generation);
        return;
    }
    memcpy(buf, o->base_id, 16);
    for (size_t i = 0; i < o->n; i++) {
        put_le64(buf + 16 + 16 * i, o->e[i].blk);
        put_le64(buf + 24 + 16 * i, o->e[i].crc);
    }
    p2v_uuid5(o->digest, buf, len);
    free(buf);
}

/* Reads the stored copy of entry i into blk (4 KiB) and checks it. */
static int read_stored(struct overlay *o, size_t i, uint8_t *blk)
{
    int scratch = (o->e[i].dblk & SCRATCH_BIT) != 0;
    off_t at = (off_t)(o->e[i].dblk & ~SCRATCH_BIT) * BLK;
    ssize_t got = scratch ? pread(o->scratch_fd, blk, BLK, at)
                          : o->io->pread(o->data_fd, blk, BLK, at);
    if (got != (ssize_t)BLK) {
        p2v_err("%s/overlay.data: reading changed block %llu at offset %lld failed: %s",
                o->dir, (unsigned long long)o->e[i].blk, (long long)at,
                got < 0 ? strerror(errno) : "file too short");
        return -EIO;
    }
    if ((uint32_t)crc32(0, blk, BLK) != o->e[i].crc) {
        p2v_err("%s/overlay.data: changed block %llu (offset %lld) fails its checksum; the "
                "state is damaged: p2v fixup discard --state %s and apply again",
                o->dir, (unsigned long long)o->e[i].blk, (long long)at, o->dir);
        return -EIO;
    }
    return 0;
}

/* Reads without taking the lock. */
static int read_locked(struct overlay *o, uint8_t *p, size_t len, uint64_t off)
{
    uint64_t end = off + len;
    size_t i = find(o, off / BLK);
    while (off < end) {
        uint64_t b = off / BLK;
        if (i < o->n && o->e[i].blk == b) {
            uint8_t blk[BLK];
            int r = read_stored(o, i, blk);
            if (r < 0)
                return r;
            uint64_t stop = (b + 1) * BLK < end ? (b + 1) * BLK : end;
            memcpy(p, blk + (off - b * BLK), (size_t)(stop - off));
            p += stop - off;
            off = stop;
            i++;
            continue;
        }
        /* Unchanged up to the next changed block: one read below. */
        uint64_t stop = i < o->n && o->e[i].blk * BLK < end ? o->e[i].blk * BLK : end;
        int r = p2v_layer_read(o->l.below, p, (size_t)(stop - off), off);
        if (r < 0)
            return r;
        p += stop - off;
        off = stop;
    }
    return 0;
}

static int overlay_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct overlay *o = (struct overlay *)l;
    pthread_rwlock_rdlock(&o->lock);
    int r = read_locked(o, buf, len, off);
    pthread_rwlock_unlock(&o->lock);
    return r;
}

struct walk {
    struct overlay *o;
    p2v_extent_fn fn;
    void *ctx;
};

/* Splits an extent of the layer below at changed blocks, which are data. */
static int split(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    struct walk *w = ctx;
    struct overlay *o = w->o;
    uint64_t end = off + len;
    for (size_t i = find(o, off / BLK); off < end;) {
        if (i >= o->n || o->e[i].blk * BLK >= end)
            return w->fn(w->ctx, off, end - off, kind);
        uint64_t cs = o->e[i].blk * BLK > off ? o->e[i].blk * BLK : off;
        int r;
        if (cs > off && (r = w->fn(w->ctx, off, cs - off, kind)) != 0)
            return r;
        /* A run of consecutive changed blocks. */
        uint64_t b = o->e[i].blk;
        while (i + 1 < o->n && o->e[i + 1].blk == b + 1 && (b + 1) * BLK < end)
            b = o->e[++i].blk;
        i++;
        uint64_t ce = (b + 1) * BLK < end ? (b + 1) * BLK : end;
        if ((r = w->fn(w->ctx, cs, ce - cs, P2V_EXTENT_DATA)) != 0)
            return r;
        off = ce;
    }
    return 0;
}

static int overlay_extents(struct p2v_layer *l, uint64_t off, uint64_t len,
                           p2v_extent_fn fn, void *ctx)
{
    struct overlay *o = (struct overlay *)l;
    struct walk w = { o, fn, ctx };
    pthread_rwlock_rdlock(&o->lock);
    int r = p2v_layer_extents(l->below, off, len, split, &w);
    pthread_rwlock_unlock(&o->lock);
    return r;
}

static int put_entry(struct overlay *o, size_t i, uint64_t b, uint32_t dblk, uint32_t crc)
{
    if (i < o->n && o->e[i].blk == b) {
        o->e[i].dblk = dblk;
        o->e[i].crc = crc;
        return 0;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 256;
        struct entry *e = realloc(o->e, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        o->e = e;
        o->cap = cap;
    }
    memmove(o->e + i + 1, o->e + i, (o->n - i) * sizeof *o->e);
    o->e[i] = (struct entry){ b, dblk, crc };
    o->n++;
    return 0;
}

static int overlay_write(struct p2v_layer *l, const void *buf, size_t len, uint64_t off)
{
    struct overlay *o = (struct overlay *)l;
    const uint8_t *p = buf;
    uint64_t end = off + len;
    int r = 0;
    pthread_rwlock_wrlock(&o->lock);
    while (r == 0 && off < end) {
        uint64_t b = off / BLK, bstart = b * BLK;
        uint64_t bend = bstart + BLK < l->size ? bstart + BLK : l->size;
        uint64_t stop = bend < end ? bend : end;
        uint8_t cur[BLK], next[BLK];
        memset(cur, 0, sizeof cur);
        r = read_locked(o, cur, (size_t)(bend - bstart), bstart);
        if (r < 0)
            break;
        memcpy(next, cur, sizeof next);
        memcpy(next + (off - bstart), p, (size_t)(stop - off));
        p += stop - off;
        off = stop;
        if (memcmp(cur, next, sizeof cur) == 0)
            continue;  /* unchanged: nothing to store, and re-applying stays a no-op */
        int scratch = o->scratch_fd >= 0;
        uint64_t slot = scratch ? o->scratch_blocks : o->data_blocks;
        if (slot >= SCRATCH_BIT) {  /* 8 TiB of changes: the index cannot number more */
            r = -EFBIG;
            break;
        }
        off_t at = (off_t)(slot * BLK);
        ssize_t put = scratch ? pwrite(o->scratch_fd, next, BLK, at)
                              : o->io->pwrite(o->data_fd, next, BLK, at);
        if (put != (ssize_t)BLK) {
            r = put < 0 ? -errno : -ENOSPC;
            /* Once per cause: ntfs-3g retries, and each retry fails alike. */
            if (o->write_errno != r)
                p2v_err("%s/overlay.data: writing %u bytes at offset %lld failed: %s", o->dir,
                        BLK, (long long)at, strerror(-r));
            o->write_errno = r;
            break;
        }
        r = put_entry(o, find(o, b), b, (uint32_t)slot | (scratch ? SCRATCH_BIT : 0),
                      (uint32_t)crc32(0, next, BLK));
        if (scratch)
            o->scratch_blocks++;
        else
            o->data_blocks++;
        o->dirty = 1;
    }
    pthread_rwlock_unlock(&o->lock);
    return r;
}

static int commit_locked(struct overlay *o)
{
    if (!o->dirty)
        return 0;
    if (o->scratch_fd >= 0)
        return -EROFS;  /* a dry run keeps nothing */
    int r = 0;
    if (o->sync_errno) {
        p2v_err("%s: not saving the overlay index: an earlier sync of this state failed (%s), "
                "so blocks it would point at may not be on disk; check the storage, then "
                "p2v fixup discard --state %s and apply again", o->dir, strerror(o->sync_errno),
                o->dir);
        return -o->sync_errno;
    }
    /* Names relative to the directory's descriptor: a daemon that changed
     * its working directory still saves in the right place. */
    /* 1. The data the new index points at is on disk before the index. */
    if (o->io->fdatasync(o->data_fd) < 0) {
        r = -errno;
        o->sync_errno = -r;
        p2v_err("%s/overlay.data: sync failed: %s", o->dir, strerror(-r));
        return r;
    }
    size_t len = HEADER + o->n * ENTRY;
    uint8_t *buf = calloc(1, len);
    if (!buf)
        return -ENOMEM;
    uint64_t gen = o->generation + 1;
    memcpy(buf, MAGIC, 8);
    put_le32(buf + 8, 1);
    put_le32(buf + 12, BLK);
    memcpy(buf + 16, o->base_id, 16);
    put_le64(buf + 32, o->l.size);
    put_le64(buf + 40, gen);
    put_le64(buf + 48, o->data_blocks * BLK);
    put_le64(buf + 56, o->n);
    for (size_t i = 0; i < o->n; i++) {
        uint8_t *e = buf + HEADER + i * ENTRY;
        put_le64(e, o->e[i].blk);
        put_le32(e + 8, o->e[i].dblk);
        put_le32(e + 12, o->e[i].crc);
    }
    put_le32(buf + 64, (uint32_t)crc32(0, buf + HEADER, (uInt)(len - HEADER)));
    put_le32(buf + 68, (uint32_t)crc32(0, buf, 68));
    /* 2. The new index under a temporary name, synced; 3. renamed over the
     * old one (atomic); 4. the directory synced so the rename lasts. */
    const struct p2v_overlay_io *io = o->io;
    int fd = io->openat(o->dir_fd, "overlay.index.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0600);
    if (fd < 0)
        r = -errno;
    if (r == 0)
        r = p2v_overlay_io_write_all(io, fd, buf, len);
    if (r == 0 && io->fsync(fd) < 0)
        o->sync_errno = -(r = -errno);
    if (fd >= 0 && io->close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && io->renameat(o->dir_fd, "overlay.index.tmp", o->dir_fd, "overlay.index") < 0)
        r = -errno;
    int renamed = r == 0;
    if (r == 0 && io->fsync(o->dir_fd) < 0)
        o->sync_errno = -(r = -errno);
    free(buf);
    if (r < 0 && renamed) {
        p2v_err("%s: the new overlay index is in place, but syncing the directory failed: "
                "%s; a power loss may bring back the previous state: check the storage, then "
                "p2v fixup discard --state %s and apply again", o->dir, strerror(-r), o->dir);
        return r;
    }
    if (r < 0) {
        p2v_err("%s: saving the overlay index failed: %s; the previous state is intact",
                o->dir, strerror(-r));
        io->unlinkat(o->dir_fd, "overlay.index.tmp", 0);  /* best effort: open removes it too */
        return r;
    }
    o->generation = gen;
    o->dirty = 0;
    compute_digest(o);
    return 0;
}

static const struct p2v_layer_ops overlay_ops, overlay_ro_ops;

/* The checked cast: an overlay opened for writes or read-only. */
static struct overlay *as_overlay(struct p2v_layer *l)
{
    if (l && l->ops == &overlay_ro_ops)
        return (struct overlay *)l;
    return p2v_layer_cast(l, &overlay_ops);
}

int p2v_overlay_commit(struct p2v_layer *l)
{
    struct overlay *o = as_overlay(l);
    if (!o)
        return -EINVAL;
    pthread_rwlock_wrlock(&o->lock);
    int r = commit_locked(o);
    pthread_rwlock_unlock(&o->lock);
    return r;
}

void p2v_overlay_abandon(struct p2v_layer *l)
{
    struct overlay *o = as_overlay(l);
    if (!o)
        return;
    pthread_rwlock_wrlock(&o->lock);
    if (o->dirty) {
        /* Back to the index on disk; the blocks appended since stay as
         * garbage past its data length and are overwritten next time. */
        free(o->e);
        o->e = NULL;
        o->n = o->cap = 0;
        o->dirty = 0;
        if (o->scratch_fd < 0 && load_index(o) < 0)
            o->n = 0;
    }
    pthread_rwlock_unlock(&o->lock);
}

void p2v_overlay_digest(struct p2v_layer *l, uint8_t out[16])
{
    struct overlay *o = as_overlay(l);
    memset(out, 0, 16);
    if (!o)
        return;
    pthread_rwlock_rdlock(&o->lock);
    memcpy(out, o->digest, 16);
    pthread_rwlock_unlock(&o->lock);
}

void p2v_overlay_digest_hex(struct p2v_layer *l, char out[33])
{
    uint8_t d[16];
    p2v_overlay_digest(l, d);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int p2v_overlay_changes(struct p2v_layer *l, p2v_extent_fn fn, void *ctx)
{
    struct overlay *o = as_overlay(l);
    if (!o)
        return -EINVAL;
    int r = 0;
    pthread_rwlock_rdlock(&o->lock);
    for (size_t i = 0; r == 0 && i < o->n;) {
        uint64_t first = o->e[i].blk, last = first;
        while (i + 1 < o->n && o->e[i + 1].blk == last + 1)
            last = o->e[++i].blk;
        i++;
        uint64_t end = (last + 1) * BLK < l->size ? (last + 1) * BLK : l->size;
        r = fn(ctx, first * BLK, end - first * BLK, P2V_EXTENT_DATA);
    }
    pthread_rwlock_unlock(&o->lock);
    return r;
}

static void overlay_close(struct p2v_layer *l)
{
    struct overlay *o = (struct overlay *)l;
    if (o->dirty && o->scratch_fd < 0)
        commit_locked(o);  /* a writable mount's last writes; errors were logged */
    if (o->scratch_fd >= 0)
        close(o->scratch_fd);
    /* Read-only descriptors, or written ones already synced by the commit:
     * close has nothing left to report. */
    if (o->data_fd >= 0)
        o->io->close(o->data_fd);
    if (o->dir_fd >= 0)
        o->io->close(o->dir_fd);
    if (o->lock_fd >= 0)
        o->io->close(o->lock_fd);  /* releases the flock */
    pthread_rwlock_destroy(&o->lock);
    free(o->e);
    free(o->dir);
    free(o);
}

static const struct p2v_layer_ops overlay_ops = {
    .name = "overlay",
    .read = overlay_read,
    .extents = overlay_extents,
    .write = overlay_write,
    .close = overlay_close,
};

static const struct p2v_layer_ops overlay_ro_ops = {
    .name = "overlay",
    .read = overlay_read,
    .extents = overlay_extents,
    .close = overlay_close,
};

/* Loads overlay.index, if there is one, and checks it end to end. */
static int load_index(struct overlay *o)
{
    char path[PATH_MAX];
    int r = path_in(o, "overlay.index", path, sizeof path);  /* for messages */
    if (r < 0)
        return r;
    int ifd = o->io->openat(o->dir_fd, "overlay.index", O_RDONLY | O_CLOEXEC, 0);
    if (ifd < 0)
        return errno == ENOENT ? 0 : -errno;
    uint8_t h[HEADER];
    const char *why = NULL;
    struct stat ist;
    ssize_t got = o->io->fstat(ifd, &ist) < 0 ? -errno
                                               : p2v_overlay_io_read_full(o->io, ifd, h, HEADER, 0);
    if (got < 0) {
        o->io->close(ifd);  /* read-only: nothing to report */
        p2v_err("%s: %s", path, strerror((int)-got));
        return (int)got;
    }
    if (got != HEADER)
        why = "it is shorter than its header";
    else if (memcmp(h, MAGIC, 8) != 0 || get_le32(h + 8) != 1 || get_le32(h + 12) != BLK)
        why = "it is not a p2v overlay index of this version";
    else if (get_le32(h + 68) != (uint32_t)crc32(0, h, 68))
        why = "its header checksum does not match";
    uint64_t n = why ? 0 : get_le64(h + 56), data_len = why ? 0 : get_le64(h + 48);
    /* Sized from the file before anything is allocated from the header; and
     * block numbers stay below SCRATCH_BIT, which marks a dry run's blocks. */
    if (!why && (n > data_len / BLK || (uint64_t)ist.st_size < HEADER ||
                 n > ((uint64_t)ist.st_size - HEADER) / ENTRY))
        why = "its entry count is impossible";
    else if (!why && data_len > (uint64_t)SCRATCH_BIT * BLK)
        why = "its data length is past the 8 TiB an overlay can hold";
    uint8_t *buf = NULL;
    if (!why && !(buf = malloc(n ? n * ENTRY : 1)))
        r = -ENOMEM;
    if (!why && buf) {
        got = p2v_overlay_io_read_full(o->io, ifd, buf, (size_t)(n * ENTRY), HEADER);
        if (got < 0)
            r = (int)got;
        else if ((uint64_t)got != n * ENTRY)
            why = "it is shorter than its entries";
    }
    if (!why && buf && r == 0 && get_le32(h + 64) != (uint32_t)crc32(0, buf, (uInt)(n * ENTRY)))
        why = "its entries checksum does not match";
    o->io->close(ifd);
    if (!why && buf && r == 0 && memcmp(h + 16, o->base_id, 16) != 0) {
        if (o->quiet_base) {  /* the caller explains it: it knows the source */
            free(buf);
            return -ESTALE;
        }
        why = "it was made for another source or other layout options (--volumes, --gpt, "
              "--offset...)";
    }
    if (!why && buf && r == 0 && get_le64(h + 32) != o->l.size)
        why = "it was made for a disk of another size";
    if (!why && buf && r == 0) {
        o->e = calloc(n ? n : 1, sizeof *o->e);
        if (!o->e)
            r = -ENOMEM;
        for (uint64_t i = 0; o->e && i < n && !why; i++) {
            const uint8_t *e = buf + i * ENTRY;
            o->e[i] = (struct entry){ get_le64(e), get_le32(e + 8), get_le32(e + 12) };
            /* Compared as block numbers: blk * BLK could wrap around. */
            if ((i && o->e[i].blk <= o->e[i - 1].blk) ||
                o->e[i].blk >= (o->l.size + BLK - 1) / BLK ||
                (uint64_t)o->e[i].dblk * BLK >= data_len)
                why = "an entry is out of order or out of range";
        }
        if (o->e) {
            o->n = o->cap = (size_t)n;
            o->generation = get_le64(h + 40);
            o->data_blocks = data_len / BLK;
        }
    }
    free(buf);
    if (why) {
        p2v_err("%s: %s; leave this state alone or start over with p2v fixup discard --state %s",
                path, why, o->dir);
        return -EINVAL;
    }
    if (r < 0 && r != -ENOMEM)
        p2v_err("%s: %s", path, strerror(-r));
    return r;
}

/* DIR/lock, shared by readers and exclusive for the writer.  0, -EBUSY
 * (with a message) or -errno. */
static int take_lock(struct overlay *o)
{
    const struct p2v_overlay_io *io = o->io;
    int w = o->writable;
    o->lock_fd = io->openat(o->dir_fd, "lock", (w ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
    if (o->lock_fd < 0 && !w && errno == ENOENT)
        o->lock_fd = io->openat(o->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (o->lock_fd < 0)
        return -errno;
    if (io->flock(o->lock_fd, (w ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
        return 0;
    if (errno != EWOULDBLOCK)
        return -errno;
    p2v_err("state directory %s is in use: %s; unmount it or wait for that to finish", o->dir,
            w ? "mounted, or a fix-up is being applied"
              : "a fix-up is being applied, or it is mounted --writable");
    return -EBUSY;
}

/* A writable open removes an interrupted commit's overlay.index.tmp and
 * makes the names it relies on durable before any commit can point at
 * them: a new state directory in its parent, overlay.data in the
 * directory.  A file's name lasts only once its directory is synced, and a
 * commit's own directory sync comes after the rename that publishes the
 * index: without this, a power loss could keep the index and lose the
 * name of the data it points at (found by test_overlay_crash). */
static int sync_names(struct overlay *o)
{
    if (o->io->unlinkat(o->dir_fd, "overlay.index.tmp", 0) < 0 && errno != ENOENT)
        return -errno;
    /* The parent too: an earlier open may have made the directory and died. */
    int r = p2v_overlay_io_sync_dir(o->io, o->dir_fd, "..");
    if (r == -EACCES)
        r = 0;  /* a parent we may not read: its entry is left to the file system */
    if (r == 0 && o->io->fsync(o->dir_fd) < 0)
        r = -errno;
    return r;
}

int p2v_overlay_open(struct p2v_layer *below, const char *dir, const uint8_t base_id[16],
                     unsigned flags, struct p2v_layer **out)
{
    const struct p2v_overlay_io *io = p2v_overlay_io();
    int scratch = (flags & P2V_OVERLAY_SCRATCH) != 0;
    int writable = (flags & P2V_OVERLAY_WRITE) != 0 && !scratch;
    if (scratch && (flags & P2V_OVERLAY_CREATE) && !p2v_overlay_exists(dir))
        flags &= ~(unsigned)P2V_OVERLAY_CREATE;  /* a dry run creates nothing */
    if (flags & P2V_OVERLAY_CREATE) {
        if (io->mkdir(dir, 0700) < 0 && errno != EEXIST) {
            int r = -errno;
            p2v_err("state directory %s: cannot create it: %s", dir, strerror(-r));
            return r;
        }
    }
    struct overlay *o = calloc(1, sizeof *o);
    if (!o || !(o->dir = strdup(dir))) {
        free(o);
        return -ENOMEM;
    }
    o->io = io;
    o->l.ops = writable || scratch ? &overlay_ops : &overlay_ro_ops;
    o->l.below = below;
    o->l.size = below->size;
    o->writable = writable;
    o->quiet_base = (flags & P2V_OVERLAY_QUIET_BASE) != 0;
    o->data_fd = o->lock_fd = o->scratch_fd = -1;
    memcpy(o->base_id, base_id, 16);
    pthread_rwlock_init(&o->lock, NULL);
    int r = 0;
    const char *what = "opening it";
    o->dir_fd = io->openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (o->dir_fd < 0 && scratch && errno == ENOENT) {
        /* A dry run against a state that does not exist yet: empty, and its
         * blocks all in the memfd (data_fd is never read). */
        if ((o->scratch_fd = memfd_create("p2v-dry-run", MFD_CLOEXEC)) < 0) {
            r = -errno;
            goto fail_quiet;
        }
        compute_digest(o);
        *out = &o->l;
        return 0;
    }
    if (o->dir_fd < 0)
        r = -errno;
    struct stat ds;
    /* Fix-ups are private, and nobody else may swap their files. */
    if (r == 0 && io->fstat(o->dir_fd, &ds) == 0 &&
        (ds.st_uid != geteuid() || (ds.st_mode & (S_IWGRP | S_IWOTH)))) {
        p2v_err("state directory %s belongs to uid %u or may be written by others; p2v keeps "
                "fix-ups private: use a directory of your own (chmod go-w)", dir,
                (unsigned)ds.st_uid);
        r = -EPERM;
        goto fail_quiet;
    }
    if (r == 0 && scratch && (o->scratch_fd = memfd_create("p2v-dry-run", MFD_CLOEXEC)) < 0)
        r = -errno;
    if (r == 0) {
        what = "its lock";
        r = take_lock(o);
        if (r == -EBUSY)
            goto fail_quiet;
    }
    if (r == 0) {
        what = "reading its index";
        r = load_index(o);
        if (r == -EINVAL || r == -ESTALE)
            goto fail_quiet;
    }
    if (r == 0) {
        what = "opening overlay.data";
        o->data_fd = io->openat(o->dir_fd, "overlay.data",
                                (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
        if (o->data_fd < 0 && errno == ENOENT && o->n == 0)
            r = 0;  /* an empty state: data_fd is never read */
        else if (o->data_fd < 0)
            r = -errno;
    }
    if (r == 0 && writable) {
        what = "syncing it";
        r = sync_names(o);
    }
    if (r < 0) {
        p2v_err("state directory %s: %s failed: %s", dir, what, strerror(-r));
        goto fail_quiet;
    }
    compute_digest(o);
    *out = &o->l;
    return 0;
fail_quiet:
    o->dirty = 0;
    overlay_close(&o->l);
    return r;
}
