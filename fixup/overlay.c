#define _GNU_SOURCE
#include "overlay.h"

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

struct overlay {
    struct p2v_layer l;
    pthread_rwlock_t lock;
    char *dir;
    int data_fd, lock_fd, dir_fd;
    int scratch_fd;            /* dry runs: new blocks live in memory (memfd) */
    int writable, dirty;
    int write_errno;           /* the last failed write's, logged once */
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
    ssize_t got = pread(scratch ? o->scratch_fd : o->data_fd, blk, BLK, at);
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
        ssize_t put = pwrite(scratch ? o->scratch_fd : o->data_fd, next, BLK, at);
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

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ENOSPC;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int commit_locked(struct overlay *o)
{
    if (!o->dirty)
        return 0;
    if (o->scratch_fd >= 0)
        return -EROFS;  /* a dry run keeps nothing */
    int r = 0;
    /* Names relative to the directory's descriptor: a daemon that changed
     * its working directory still saves in the right place. */
    /* 1. The data the new index points at is on disk before the index. */
    if (fdatasync(o->data_fd) < 0) {
        r = -errno;
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
    int fd = openat(o->dir_fd, "overlay.index.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        r = -errno;
    if (r == 0)
        r = write_all(fd, buf, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && renameat(o->dir_fd, "overlay.index.tmp", o->dir_fd, "overlay.index") < 0)
        r = -errno;
    if (r == 0 && fsync(o->dir_fd) < 0)
        r = -errno;
    free(buf);
    if (r < 0) {
        p2v_err("%s: saving the overlay index failed: %s; the previous state is intact",
                o->dir, strerror(-r));
        unlinkat(o->dir_fd, "overlay.index.tmp", 0);
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
    if (o->data_fd >= 0)
        close(o->data_fd);
    if (o->dir_fd >= 0)
        close(o->dir_fd);
    if (o->lock_fd >= 0)
        close(o->lock_fd);  /* releases the flock */
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
    int ifd = openat(o->dir_fd, "overlay.index", O_RDONLY | O_CLOEXEC);
    FILE *f = ifd >= 0 ? fdopen(ifd, "rb") : NULL;
    if (!f) {
        r = errno;
        if (ifd >= 0)
            close(ifd);
        return r == ENOENT ? 0 : -r;
    }
    uint8_t h[HEADER];
    const char *why = NULL;
    if (fread(h, 1, HEADER, f) != HEADER)
        why = "it is shorter than its header";
    else if (memcmp(h, MAGIC, 8) != 0 || get_le32(h + 8) != 1 || get_le32(h + 12) != BLK)
        why = "it is not a p2v overlay index of this version";
    else if (get_le32(h + 68) != (uint32_t)crc32(0, h, 68))
        why = "its header checksum does not match";
    uint64_t n = why ? 0 : get_le64(h + 56), data_len = why ? 0 : get_le64(h + 48);
    struct stat ist;
    if (!why && fstat(ifd, &ist) < 0) {
        r = -errno;
        fclose(f);
        p2v_err("%s: %s", path, strerror(-r));
        return r;
    }
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
    if (!why && buf && fread(buf, 1, n * ENTRY, f) != n * ENTRY)
        why = "it is shorter than its entries";
    if (!why && buf && get_le32(h + 64) != (uint32_t)crc32(0, buf, (uInt)(n * ENTRY)))
        why = "its entries checksum does not match";
    fclose(f);
    if (!why && buf && memcmp(h + 16, o->base_id, 16) != 0)
        why = "it was made for another source or other layout options (--volumes, --gpt, "
              "--offset...)";
    if (!why && buf && get_le64(h + 32) != o->l.size)
        why = "it was made for a disk of another size";
    if (!why && buf) {
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
        o->n = o->cap = (size_t)n;
        o->generation = get_le64(h + 40);
        o->data_blocks = data_len / BLK;
    }
    free(buf);
    if (why) {
        p2v_err("%s: %s; leave this state alone or start over with p2v fixup discard --state %s",
                path, why, o->dir);
        return -EINVAL;
    }
    return r;
}

int p2v_overlay_open(struct p2v_layer *below, const char *dir, const uint8_t base_id[16],
                     unsigned flags, struct p2v_layer **out)
{
    int scratch = (flags & P2V_OVERLAY_SCRATCH) != 0;
    int writable = (flags & P2V_OVERLAY_WRITE) != 0 && !scratch;
    if (scratch && (flags & P2V_OVERLAY_CREATE) && !p2v_overlay_exists(dir))
        flags &= ~(unsigned)P2V_OVERLAY_CREATE;  /* a dry run creates nothing */
    if ((flags & P2V_OVERLAY_CREATE) && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int r = -errno;
        p2v_err("state directory %s: cannot create it: %s", dir, strerror(-r));
        return r;
    }
    struct overlay *o = calloc(1, sizeof *o);
    if (!o || !(o->dir = strdup(dir))) {
        free(o);
        return -ENOMEM;
    }
    o->l.ops = writable || scratch ? &overlay_ops : &overlay_ro_ops;
    o->l.below = below;
    o->l.size = below->size;
    o->writable = writable;
    o->data_fd = o->lock_fd = o->scratch_fd = -1;
    memcpy(o->base_id, base_id, 16);
    pthread_rwlock_init(&o->lock, NULL);
    int r = 0;
    const char *what = "opening it";
    o->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (o->dir_fd < 0 && scratch && errno == ENOENT) {
        /* A dry run against a state that does not exist yet: empty. */
        if ((o->scratch_fd = memfd_create("p2v-dry-run", MFD_CLOEXEC)) < 0 ||
            (o->data_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
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
    if (r == 0 && fstat(o->dir_fd, &ds) == 0 &&
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
        o->lock_fd = openat(o->dir_fd, "lock", (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
        if (o->lock_fd < 0 && !writable && errno == ENOENT)
            o->lock_fd = openat(o->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (o->lock_fd < 0)
            r = -errno;
        else if (flock(o->lock_fd, (writable ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
            r = errno == EWOULDBLOCK ? -EBUSY : -errno;
            if (r == -EBUSY) {
                p2v_err("state directory %s is in use: %s; unmount it or wait for that to "
                        "finish", dir, writable ? "mounted, or a fix-up is being applied"
                                                : "a fix-up is being applied, or it is mounted --writable");
                goto fail_quiet;
            }
        }
    }
    if (r == 0) {
        what = "reading its index";
        r = load_index(o);
        if (r == -EINVAL)
            goto fail_quiet;
    }
    if (r == 0) {
        what = "opening overlay.data";
        o->data_fd = openat(o->dir_fd, "overlay.data", (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0600);
        if (o->data_fd < 0 && errno == ENOENT && o->n == 0)
            o->data_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);  /* an empty state */
        if (o->data_fd < 0)
            r = -errno;
    }
    if (r == 0 && writable)
        unlinkat(o->dir_fd, "overlay.index.tmp", 0);  /* an interrupted commit's leftover */
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

int p2v_overlay_exists(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/overlay.index", dir);
    return n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0;
}

int p2v_overlay_discard(const char *dir)
{
    static const char *const files[] = { "overlay.index", "overlay.index.tmp", "overlay.data",
                                         "fixups.json", "fixups.json.tmp" };
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        int r = -errno;
        p2v_err("state directory %s: %s", dir, strerror(-r));
        return r;
    }
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        p2v_err("state directory %s is in use (mounted, or a fix-up is being applied); "
                "unmount it first", dir);
        return -EBUSY;
    }
    int r = 0;
    /* The index first: without it the state is empty, whatever remains. */
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (unlink(path) < 0 && errno != ENOENT && r == 0) {
            r = -errno;
            p2v_err("%s: cannot remove it: %s", path, strerror(-r));
        }
    }
    if (fd >= 0)
        close(fd);
    return r;
}
