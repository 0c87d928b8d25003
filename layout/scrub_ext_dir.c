/* The leaf blocks of ext2/3/4 directories as scrub units (scrub_ext.h):
 * this says where they are, the scrub layer rewrites them on every read
 * (p2v_scrub_ext_leaf).  Inode, block map and htree come from the disk
 * and are checked before use: a directory whose blocks or htree do not
 * add up is left out whole (copied as it is), never guessed at. */
#include "scrub_ext.h"

#include "core/bytes.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <et/com_err.h>

/* Logical blocks lblk..lblk+len-1 of a directory at pblk..: mapped,
 * initialized, under i_size. */
struct piece {
    uint32_t lblk, len;
    blk64_t pblk;
};

struct dirs {
    ext2_filsys fs;
    uint64_t start;
    blk64_t end;            /* one past the last block inside both volume and filesystem */
    struct p2v_scrub_map *scrub;
    uint16_t vol;
    /* The directory at hand. */
    uint32_t nblocks;       /* blocks under i_size */
    uint64_t mapped;        /* of them, in pieces */
    struct piece *p;
    size_t np, pcap;
    uint32_t *node;         /* htree: block 0 and the interior blocks, sorted */
    size_t nn, ncap;
    uint32_t *cur, *next;   /* htree: one level's blocks, and their children */
    size_t nc, ccap, nx, xcap;
    uint8_t *buf;           /* one block */
    int err;                /* -ENOMEM from a callback */
    const char *why;        /* why it is left out */
    /* What the warning says at the end. */
    size_t left_out;
    ext2_ino_t first_out;
    const char *first_why;
};

/* a with room for element n, or NULL (a is kept: the caller frees it). */
static void *room(void *a, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return a;
    size_t c = *cap ? *cap * 2 : 64;
    void *x = realloc(a, c * size);
    if (x)
        *cap = c;
    return x;
}

/* The directory is left out: 1, the reason kept for the warning. */
static int left(struct dirs *w, const char *why)
{
    w->why = why;
    return 1;
}

/* Adds logical blocks [lblk, lblk+len) at pblk, clipped to i_size (what
 * lies past it holds no entries); a piece grows while both numbers run on.
 * 0 or -ENOMEM. */
static int add_piece(struct dirs *w, uint64_t lblk, blk64_t pblk, uint64_t len)
{
    if (lblk >= w->nblocks || len == 0)
        return 0;
    if (len > w->nblocks - lblk)
        len = w->nblocks - lblk;
    struct piece *last = w->np ? &w->p[w->np - 1] : NULL;
    if (last && (uint64_t)last->lblk + last->len == lblk && last->pblk + last->len == pblk) {
        last->len += (uint32_t)len;  /* stays under nblocks */
        return 0;
    }
    struct piece *p = room(w->p, &w->pcap, w->np, sizeof *p);
    if (!p)
        return -ENOMEM;
    w->p = p;
    w->p[w->np++] = (struct piece){ (uint32_t)lblk, (uint32_t)len, pblk };
    return 0;
}

/* The leaf extents of an extent-mapped directory.  Uninitialized ones read
 * as zeros to the kernel: no entries there, whatever the blocks hold. */
static int map_extents(struct dirs *w, ext2_ino_t ino, struct ext2_inode *inode)
{
    ext2_extent_handle_t h;
    if (ext2fs_extent_open2(w->fs, ino, inode, &h) != 0)
        return left(w, "its extent tree cannot be read");
    /* A sane tree has no more leaf extents than blocks; a hostile one may
     * have millions past i_size. */
    uint64_t budget = (uint64_t)w->nblocks + 64;
    struct ext2fs_extent e;
    errcode_t err;
    int r = 0, op = EXT2_EXTENT_ROOT;
    while (r == 0 && (err = ext2fs_extent_get(h, op, &e)) == 0) {
        op = EXT2_EXTENT_NEXT_LEAF;
        if (!(e.e_flags & EXT2_EXTENT_FLAGS_LEAF))
            continue;  /* the root of a deeper tree: NEXT_LEAF goes down */
        if (budget-- == 0)
            r = left(w, "its extent tree has more extents than it has blocks");
        else if (!(e.e_flags & EXT2_EXTENT_FLAGS_UNINIT))
            r = add_piece(w, e.e_lblk, e.e_pblk, e.e_len);
    }
    if (r == 0 && err != EXT2_ET_EXTENT_NO_NEXT)
        r = left(w, "its extent tree cannot be read");
    ext2fs_extent_free(h);
    return r;
}

static int map_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref,
                     int ref_offset, void *ctx)
{
    (void)fs, (void)ref, (void)ref_offset;
    struct dirs *w = ctx;
    /* A block map lists blocks in logical order: past i_size, so is the rest. */
    if (blockcnt < 0)
        return 0;
    if ((uint64_t)blockcnt >= w->nblocks)
        return BLOCK_ABORT;
    if ((w->err = add_piece(w, (uint64_t)blockcnt, *blocknr, 1)) < 0)
        return BLOCK_ABORT;
    return 0;
}

/* The data blocks of a directory with a block map (ext2, ext3). */
static int map_blocks(struct dirs *w, ext2_ino_t ino)
{
    w->err = 0;
    errcode_t err = ext2fs_block_iterate3(w->fs, ino, BLOCK_FLAG_DATA_ONLY | BLOCK_FLAG_READ_ONLY,
                                          NULL, map_block, w);
    if (w->err < 0)
        return w->err;
    return err ? left(w, "its block map cannot be read") : 0;
}

static int by_lblk(const void *a, const void *b)
{
    const struct piece *x = a, *y = b;
    return x->lblk < y->lblk ? -1 : x->lblk > y->lblk;
}

/* The pieces sorted, none over another, all inside the filesystem (and
 * the volume: one claiming more blocks than its partition holds must not
 * reach the next) and in use in its block bitmap: a directory's block the
 * bitmap calls free means one of the two is wrong, and the block may hold
 * another file's data. */
static int check_pieces(struct dirs *w)
{
    ext2_filsys fs = w->fs;
    blk64_t first = fs->super->s_first_data_block, count = w->end;
    if (w->np)
        qsort(w->p, w->np, sizeof *w->p, by_lblk);
    w->mapped = 0;
    for (size_t i = 0; i < w->np; i++) {
        const struct piece *p = &w->p[i];
        blk64_t z;
        if (i && (uint64_t)w->p[i - 1].lblk + w->p[i - 1].len > p->lblk)
            return left(w, "its block map gives one block two places");
        if (p->pblk < first || p->pblk >= count || p->len > count - p->pblk)
            return left(w, "its block map points outside the filesystem or its volume");
        if (ext2fs_find_first_zero_block_bitmap2(fs->block_map, p->pblk, p->pblk + p->len - 1,
                                                 &z) != ENOENT)
            return left(w, "a block of it is free in the block bitmap");
        w->mapped += p->len;
    }
    return 0;
}

/* Where logical block lblk is: 1 with *pblk, or 0 when it is not mapped. */
static int phys(const struct dirs *w, uint32_t lblk, blk64_t *pblk)
{
    size_t lo = 0, hi = w->np;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct piece *p = &w->p[mid];
        if (lblk < p->lblk)
            hi = mid;
        else if (lblk - p->lblk >= p->len)
            lo = mid + 1;
        else {
            *pblk = p->pblk + (lblk - p->lblk);
            return 1;
        }
    }
    return 0;
}

static int read_block(struct dirs *w, uint32_t lblk)
{
    blk64_t pb;
    if (!phys(w, lblk, &pb))
        return left(w, "its htree points at a block it does not have");
    if (io_channel_read_blk64(w->fs->io, pb, 1, w->buf) != 0)
        return left(w, "a block of its htree cannot be read");
    return 0;
}

/* A dirent's rec_len as stored (65536-byte blocks store it folded). */
static uint32_t rec_len(const uint8_t *p, uint32_t bs)
{
    uint32_t len = get_le16(p);
    if (bs < 65536)
        return len;
    if (len == 65535 || len == 0)
        return bs;
    return (len & 65532) | ((len & 3) << 16);
}

/* The dx entries of the block in w->buf at off (limit and count in place
 * of the first hash) appended to w->next.  limit must be the kernel's for
 * that block (it refuses others), count 1..limit, and each child a mapped
 * block other than 0.  There can be no more children than blocks: that
 * bounds memory whatever the counts say. */
static int dx_children(struct dirs *w, uint32_t off, uint32_t limit)
{
    const uint8_t *b = w->buf;
    uint32_t lim = get_le16(b + off), count = get_le16(b + off + 2);
    if (lim != limit || count == 0 || count > limit)
        return left(w, "its htree has a bad entry count");
    for (uint32_t i = 0; i < count; i++) {
        uint32_t blk = get_le32(b + off + 8 * i + 4) & EXT4_DX_BLOCK_MASK;
        blk64_t pb;
        if (blk == 0 || !phys(w, blk, &pb))
            return left(w, "its htree points at a block it does not have");
        if (w->nx >= w->mapped)
            return left(w, "its htree has more entries than the directory has blocks");
        uint32_t *n = room(w->next, &w->xcap, w->nx, sizeof *n);
        if (!n)
            return -ENOMEM;
        w->next = n;
        w->next[w->nx++] = blk;
    }
    return 0;
}

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int in_nodes(const struct dirs *w, uint32_t blk)
{
    return w->nn && bsearch(&blk, w->node, w->nn, sizeof *w->node, by_u32) != NULL;
}

/* Sorts the children of a level; a tree names each block once, so one
 * named twice, or also as a node above, is a malformed tree. */
static int level_ok(struct dirs *w)
{
    if (w->nx)
        qsort(w->next, w->nx, sizeof *w->next, by_u32);
    for (size_t i = 0; i < w->nx; i++)
        if ((i && w->next[i] == w->next[i - 1]) || in_nodes(w, w->next[i]))
            return left(w, "its htree names a block twice");
    return 0;
}

/* The children found become the level to read next, and nodes. */
static int take_level(struct dirs *w)
{
    int r = level_ok(w);
    if (r)
        return r;
    if (w->nn + w->nx > w->ncap) {
        uint32_t *n = realloc(w->node, (w->nn + w->nx) * sizeof *n);
        if (!n)
            return -ENOMEM;
        w->node = n;
        w->ncap = w->nn + w->nx;
    }
    memcpy(w->node + w->nn, w->next, w->nx * sizeof *w->next);
    w->nn += w->nx;
    qsort(w->node, w->nn, sizeof *w->node, by_u32);
    uint32_t *t = w->cur;
    size_t tcap = w->ccap;
    w->cur = w->next, w->ccap = w->xcap, w->nc = w->nx;
    w->next = t, w->xcap = tcap, w->nx = 0;
    return 0;
}

/* An htree directory's dx_root (block 0) and interior dx_node blocks, in
 * w->node: they hold no entries to scrub, and rewriting one as a leaf
 * would break the directory.  Every entry up to its count is followed, as
 * the kernel's dx_probe reads them, indirect_levels below the root. */
static int walk_htree(struct dirs *w)
{
    ext2_filsys fs = w->fs;
    uint32_t bs = fs->blocksize, tail = ext2fs_has_feature_metadata_csum(fs->super) ? 8 : 0;
    const uint8_t *b = w->buf;
    w->nn = w->nx = w->nc = 0;
    int r = read_block(w, 0);
    if (r)
        return r;
    /* "." in 12 bytes, ".." over the rest of the block, dx_root_info
     * (reserved 0, length 8, levels, flags) at 24, the entries at 32. */
    if (rec_len(b + 4, bs) != 12 || b[6] != 1 || b[8] != '.' || b[18] != 2 || b[20] != '.' ||
        b[21] != '.' || 12 + rec_len(b + 16, bs) != bs || get_le32(b + 24) != 0 ||
        b[29] != 8 || (b[31] & 1))
        return left(w, "its htree root is malformed");
    unsigned levels = b[30];
    if (levels >= ext2_dir_htree_level(fs))
        return left(w, "its htree is deeper than the kernel allows");
    uint32_t *n = room(w->next, &w->xcap, 0, sizeof *n);
    if (!n)
        return -ENOMEM;
    w->next = n;
    w->next[w->nx++] = 0;
    if ((r = take_level(w)) != 0 || (r = dx_children(w, 32, (bs - 32 - tail) / 8)) != 0)
        return r;
    for (unsigned lvl = 1; lvl <= levels; lvl++) {
        if ((r = take_level(w)) != 0)
            return r;
        for (size_t i = 0; i < w->nc; i++) {
            /* A dx_node: an empty entry over the whole block, then the
             * entries at 8. */
            if ((r = read_block(w, w->cur[i])) != 0)
                return r;
            if (get_le32(b) != 0 || rec_len(b + 4, bs) != bs)
                return left(w, "an interior block of its htree is malformed");
            if ((r = dx_children(w, 8, (bs - 8 - tail) / 8)) != 0)
                return r;
        }
    }
    return level_ok(w);  /* the leaves: each named once, none a node */
}

/* The directory's pieces less its htree nodes, as runs of the map. */
static int emit(struct dirs *w, ext2_ino_t ino, uint32_t gen)
{
    uint32_t bs = w->fs->blocksize;
    struct p2v_scrub_run run = { .unit = bs, .first = ino, .aux = gen, .vol = w->vol,
                                 .kind = P2V_SCRUB_EXT_DIR };
    size_t k = 0;
    for (size_t i = 0; i < w->np; i++) {
        const struct piece *p = &w->p[i];
        uint64_t l = p->lblk, end = (uint64_t)p->lblk + p->len;
        while (k < w->nn && w->node[k] < l)
            k++;
        while (l < end) {
            uint64_t stop = k < w->nn && w->node[k] < end ? w->node[k] : end;
            if (stop > l) {
                run.start = w->start + (p->pblk + (l - p->lblk)) * bs;
                run.len = (stop - l) * bs;
                int r = p2v_scrub_map_add(w->scrub, &run);
                if (r < 0)
                    return r;
            }
            l = stop + 1;
            k += stop < end;
        }
    }
    return 0;
}

/* One directory in use: its leaf blocks to the map, or left out. */
static int scan_dir(struct dirs *w, ext2_ino_t ino, struct ext2_inode *inode)
{
    /* Inline directories live in the inode (its checksum would need
     * rewriting: not done); encrypted and casefolded ones carry a hash
     * after each name, which the leaf rewrite would take for slack. */
    if ((inode->i_flags & EXT4_INLINE_DATA_FL) ||
        ((inode->i_flags & EXT4_ENCRYPT_FL) && (inode->i_flags & EXT4_CASEFOLD_FL)))
        return 0;
    uint64_t bs = w->fs->blocksize, n = (EXT2_I_SIZE(inode) + bs - 1) / bs;
    w->nblocks = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;  /* logical blocks are 32-bit */
    w->np = w->nn = 0;
    w->why = NULL;
    /* A directory cannot hold more blocks than the filesystem, nor (i_blocks
     * counts 512-byte units, metadata blocks included) more than it has
     * allocated: a larger size is damage, and walking it would cost memory
     * and time in proportion to the lie. */
    uint64_t held = ext2fs_get_stat_i_blocks(w->fs, inode) * 512 / bs;
    int r = n > ext2fs_blocks_count(w->fs->super) || n > held
                ? left(w, "its size is more than the blocks it holds")
            : inode->i_flags & EXT4_EXTENTS_FL ? map_extents(w, ino, inode)
                                               : map_blocks(w, ino);
    if (r == 0)
        r = check_pieces(w);
    if (r == 0 && (inode->i_flags & EXT2_INDEX_FL))
        r = walk_htree(w);
    if (r == 0)
        return emit(w, ino, inode->i_generation);
    if (r > 0 && !w->left_out++) {
        w->first_out = ino;
        w->first_why = w->why;
    }
    return r < 0 ? r : 0;
}

/* A directory still in use: a directory inode that is in use in the inode
 * bitmap and has links (a deleted one may keep its mode and blocks, now
 * another file's).  Reserved inodes other than the root are not
 * directories. */
static int live_dir(ext2_filsys fs, ext2_ino_t ino, const struct ext2_inode *inode)
{
    return LINUX_S_ISDIR(inode->i_mode) && inode->i_links_count > 0 &&
           (ino == EXT2_ROOT_INO || ino >= EXT2_FIRST_INO(fs->super)) &&
           ext2fs_test_inode_bitmap2(fs->inode_map, ino);
}

/* The next group from g on that holds a directory, or the group count. */
static dgrp_t group_with_dirs(ext2_filsys fs, dgrp_t g)
{
    while (g < fs->group_desc_count && ext2fs_bg_used_dirs_count(fs, g) == 0)
        g++;
    return g;
}

/* Every inode table, skipping groups without directories (their count is
 * checked by e2fsck; were it wrong, directories would only be left out). */
static int scan_inodes(struct dirs *w, const char *name)
{
    ext2_filsys fs = w->fs;
    ext2_inode_scan scan;
    errcode_t err = ext2fs_open_inode_scan(fs, 32, &scan);
    if (err) {
        p2v_warn("%s: the ext inode tables cannot be scanned (%s); directories keep the slack "
                 "of their entries, deleted names included", name, error_message(err));
        return 0;
    }
    ext2fs_inode_scan_flags(scan, EXT2_SF_SKIP_MISSING_ITABLE, 0);
    uint32_t ipg = fs->super->s_inodes_per_group;
    dgrp_t seen = (dgrp_t)-1;
    ext2_ino_t ino = 0;
    int r = 0;
    while (r == 0) {
        struct ext2_inode inode;
        err = ext2fs_get_next_inode(scan, &ino, &inode);
        if (err != 0 && err != EXT2_ET_INODE_CSUM_INVALID && err != EXT2_ET_INODE_IS_GARBAGE &&
            err != EXT2_ET_BAD_BLOCK_IN_INODE_TABLE) {
            p2v_warn("%s: scanning the ext inode tables stopped after inode %u (%s); the "
                     "directories after it keep the slack of their entries, deleted names "
                     "included", name, (unsigned)ino, error_message(err));
            break;
        }
        if (ino == 0 || ino > fs->super->s_inodes_count)
            break;
        dgrp_t g = (ino - 1) / ipg;
        if (g != seen) {
            seen = g;
            dgrp_t next = group_with_dirs(fs, g);
            if (next >= fs->group_desc_count)
                break;
            if (next != g) {
                err = ext2fs_inode_scan_goto_blockgroup(scan, (int)next);
                if (err) {
                    p2v_warn("%s: the ext inode table of group %u cannot be scanned (%s); "
                             "directories from there on keep the slack of their entries, "
                             "deleted names included", name, (unsigned)next, error_message(err));
                    break;
                }
                continue;
            }
        }
        if (!live_dir(fs, ino, &inode))
            continue;
        if (err) {
            /* A checksum that fails: nothing in the inode can be trusted. */
            if (!w->left_out++) {
                w->first_out = ino;
                w->first_why = "its inode fails its checksum";
            }
            continue;
        }
        r = scan_dir(w, ino, &inode);
    }
    ext2fs_close_inode_scan(scan);
    return r;
}

int p2v_scrub_ext_dirs(ext2_filsys fs, uint64_t start, uint64_t size, const char *name,
                       struct p2v_scrub_map *scrub)
{
    errcode_t err = 0;
    if (!fs->inode_map)
        err = ext2fs_read_inode_bitmap(fs);
    if (!err && !fs->block_map)
        err = ext2fs_read_block_bitmap(fs);
    if (err) {
        p2v_warn("%s: the ext bitmaps cannot be read (%s); directories keep the slack of "
                 "their entries, deleted names included", name, error_message(err));
        return 0;
    }
    struct p2v_scrub_vol v = { .start = start, .size = size, .csum_seed = fs->csum_seed,
                               .has_csum_tail = ext2fs_has_feature_metadata_csum(fs->super) };
    blk64_t in_volume = size / fs->blocksize;
    struct dirs w = { .fs = fs, .start = start, .scrub = scrub,
                      .end = ext2fs_blocks_count(fs->super) < in_volume ?
                             ext2fs_blocks_count(fs->super) : in_volume };
    int r = p2v_scrub_map_vol(scrub, &v, &w.vol);
    if (r < 0)
        return r;
    if (!(w.buf = malloc(fs->blocksize)))
        return -ENOMEM;
    r = scan_inodes(&w, name);
    if (r == 0 && w.left_out)
        p2v_warn("%s: the slack of the entries of %zu ext director%s is copied as it is, "
                 "deleted names included (the first: inode %u, %s); e2fsck -f on the source "
                 "may tell why", name, w.left_out, w.left_out == 1 ? "y" : "ies",
                 (unsigned)w.first_out, w.first_why);
    free(w.buf);
    free(w.p);
    free(w.node);
    free(w.cur);
    free(w.next);
    return r;
}
