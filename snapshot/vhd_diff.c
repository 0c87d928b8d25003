#define _GNU_SOURCE
#include "vhd_diff.h"

#include "core/bytes.h"
#include "core/regions.h"
#include "core/vhd_facts.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512u
#define UNUSED 0xFFFFFFFFu

struct vhd_diff {
    struct p2v_layer l;
    int fd;
    uint32_t block_size;   /* bytes */
    uint32_t bitmap_len;   /* bytes on disk before each block's data */
    uint32_t nblocks;
    uint32_t *bat;         /* sector of each block's bitmap, or UNUSED */
    char path[4096];
};

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 && errno != EIO ? -errno : -EIO;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int present(const uint8_t *bitmap, uint32_t sector)
{
    return (bitmap[sector / 8] >> (7 - sector % 8)) & 1;
}

/* A read is a walk over runs of sectors that come from one place: this
 * file (its bitmap bit set) or the parent (bit clear, or the block not in
 * this file).  The bitmap of the block being walked is kept. */
enum { PARENT, CHILD };

struct runs {
    struct vhd_diff *d;
    uint32_t block;         /* whose bitmap is in bitmap, or UNUSED */
    uint8_t bitmap[SECTOR * 8];  /* blocks up to 16 MiB; checked at open */
    uint8_t *buf;
};

static int find_run(void *map, uint64_t off, struct p2v_region *r)
{
    struct runs *w = map;
    struct vhd_diff *d = w->d;
    uint32_t b = (uint32_t)(off / d->block_size);
    uint64_t bstart = (uint64_t)b * d->block_size;
    if (b >= d->nblocks || d->bat[b] == UNUSED) {
        *r = (struct p2v_region){ PARENT, bstart, d->block_size, 0 };
        return 0;
    }
    uint64_t base = (uint64_t)d->bat[b] * SECTOR;
    if (w->block != b) {
        int rc = pread_all(d->fd, w->bitmap, d->bitmap_len, base);
        if (rc < 0)
            return rc;
        w->block = b;
    }
    uint32_t s = (uint32_t)((off - bstart) / SECTOR), e = s + 1, nsec = d->block_size / SECTOR;
    int here = present(w->bitmap, s);
    while (e < nsec && present(w->bitmap, e) == here)
        e++;
    uint64_t start = bstart + (uint64_t)s * SECTOR;
    *r = (struct p2v_region){ here ? CHILD : PARENT, start, (uint64_t)(e - s) * SECTOR,
                              base + d->bitmap_len + (start - bstart) };
    return 0;
}

static int read_run(void *ctx, const struct p2v_region *r, uint64_t off, uint64_t n,
                    uint64_t done)
{
    struct runs *w = ctx;
    uint8_t *p = w->buf + done;
    if (r->kind == CHILD)
        return pread_all(w->d->fd, p, (size_t)n, r->arg + (off - r->start));
    return p2v_layer_read(w->d->l.below, p, (size_t)n, off);
}

static int diff_read(struct p2v_layer *l, void *buf, size_t len, uint64_t off)
{
    struct runs w = { .d = (struct vhd_diff *)l, .block = UNUSED, .buf = buf };
    return p2v_regions_walk(&w, find_run, off, len, read_run, &w);
}

static void diff_close(struct p2v_layer *l)
{
    struct vhd_diff *d = (struct vhd_diff *)l;
    close(d->fd);
    free(d->bat);
    free(d);
}

static const struct p2v_layer_ops diff_ops = {
    .name = "vhd-diff",
    .read = diff_read,
    .close = diff_close,
};

static int damaged(struct vhd_diff *d, const char *what)
{
    p2v_err("%s: damaged differencing VHD: %s", d->path, what);
    return -EINVAL;
}

int p2v_vhd_diff_open(const char *path, struct p2v_layer *parent, struct p2v_layer **out)
{
    struct vhd_diff *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->l.ops = &diff_ops;
    d->l.below = parent;
    d->l.size = parent->size;
    snprintf(d->path, sizeof d->path, "%s", path);
    d->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint8_t foot[512], head[1024];
    int r = d->fd < 0 || fstat(d->fd, &st) < 0 ? -errno : 0;
    if (r == 0 && (st.st_size < 1536 || pread_all(d->fd, foot, 512, (uint64_t)st.st_size - 512) < 0 ||
                   memcmp(foot, VHD_COOKIE, 8)))
        r = damaged(d, "no footer at its end");
    uint64_t hoff = r == 0 ? get_be64(foot + 16) : 0;
    if (r == 0 && (hoff > (uint64_t)st.st_size - 1024 || pread_all(d->fd, head, 1024, hoff) < 0 ||
                   memcmp(head, VHD_DYNHDR_COOKIE, 8)))
        r = damaged(d, "no dynamic header where its footer points");
    if (r == 0) {
        uint64_t bat = get_be64(head + 16);
        d->nblocks = get_be32(head + 28);
        d->block_size = get_be32(head + 32);
        uint64_t virt = get_be64(foot + 48);
        if (d->block_size < SECTOR || d->block_size % SECTOR || d->block_size > 16u << 20 ||
            (d->block_size & (d->block_size - 1)))
            r = damaged(d, "its block size is not a power of two from 512 B to 16 MiB");
        else if ((uint64_t)d->nblocks * d->block_size < virt || virt != parent->size)
            r = damaged(d, "its size disagrees with its table of blocks or its parent");
        d->bitmap_len = (d->block_size / SECTOR / 8 + SECTOR - 1) / SECTOR * SECTOR;
        /* The table must lie inside the file before we size a buffer from
         * a header field: a 2 KiB file could otherwise claim 16 GiB. */
        if (r == 0 && (bat > (uint64_t)st.st_size || (uint64_t)d->nblocks * 4 > (uint64_t)st.st_size - bat))
            r = damaged(d, "its table of blocks is cut off");
        d->bat = r == 0 ? malloc((size_t)d->nblocks * 4 + 1) : NULL;
        if (r == 0 && !d->bat)
            r = -ENOMEM;
        if (r == 0 && pread_all(d->fd, d->bat, (size_t)d->nblocks * 4, bat) < 0)
            r = damaged(d, "its table of blocks cannot be read");
        for (uint32_t i = 0; r == 0 && i < d->nblocks; i++) {
            d->bat[i] = get_be32((uint8_t *)&d->bat[i]);
            if (d->bat[i] != UNUSED &&
                (uint64_t)d->bat[i] * SECTOR + d->bitmap_len + d->block_size > (uint64_t)st.st_size)
                r = damaged(d, "a block lies past the end of the file (truncated?)");
        }
    }
    if (r < 0) {
        if (d->fd >= 0)
            close(d->fd);
        free(d->bat);
        free(d);
        return r;
    }
    *out = &d->l;
    return 0;
}
