/* Free inodes and an empty journal of ext2/3/4 as zero ranges (see
 * scrub_ext.h for why zeros are what the filesystem itself would hold). */
#include "scrub_ext.h"

#include "core/bytes.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <et/com_err.h>

#define JBD2_MAGIC 0xC03B3998u

/* The runs of free inodes of group g from inode `from` on, in the bitmap:
 * fn(ctx, first inode of the group, first free, one past the run).  Stops
 * at fn's first non-zero return, and returns it. */
typedef int (*run_fn)(void *ctx, ext2_ino_t group_first, ext2_ino_t z, ext2_ino_t end);

static int free_runs(ext2_filsys fs, dgrp_t g, ext2_ino_t from, run_fn fn, void *ctx)
{
    uint32_t ipg = fs->super->s_inodes_per_group;
    ext2_ino_t first = (ext2_ino_t)g * ipg + 1, last = first + ipg - 1;
    if (last > fs->super->s_inodes_count)
        last = fs->super->s_inodes_count;
    for (ext2_ino_t at = first > from ? first : from; at <= last;) {
        ext2_ino_t z, used;
        if (ext2fs_find_first_zero_inode_bitmap2(fs->inode_map, at, last, &z) != 0)
            break;
        if (ext2fs_find_first_set_inode_bitmap2(fs->inode_map, z, last, &used) != 0)
            used = last + 1;
        int r = fn(ctx, first, z, used);
        if (r)
            return r;
        at = used;
    }
    return 0;
}

static int count_run(void *ctx, ext2_ino_t group_first, ext2_ino_t z, ext2_ino_t end)
{
    (void)group_first;
    *(uint32_t *)ctx += end - z;
    return 0;
}

/* Why the inode bitmap cannot be trusted to say which slots are free, or
 * NULL.  Zeroing an inode in use would lose its file: the bitmap must
 * agree with every group's free count, and the reserved inodes (root,
 * journal, resize) must be in use. */
static const char *bitmap_doubt(ext2_filsys fs, dgrp_t *group)
{
    for (ext2_ino_t i = 1; i < EXT2_FIRST_INO(fs->super) && i <= fs->super->s_inodes_count; i++)
        if (!ext2fs_test_inode_bitmap2(fs->inode_map, i)) {
            *group = 0;
            return "a reserved inode is marked free";
        }
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        uint32_t n = 0;
        free_runs(fs, g, 1, count_run, &n);
        if (n != ext2fs_bg_free_inodes_count(fs, g)) {
            *group = g;
            return "its free inodes do not add up to the group's free count";
        }
    }
    return NULL;
}

/* A bitmap and counts that agree can still call a live inode free (a
 * damaged or hostile filesystem): zeroing it would lose its file.  A
 * deleted inode has no links left (the kernel and debugfs clear them), so
 * a free one with links is doubt enough.  Only the initialized part of each
 * table is read (uninit_bg and metadata_csum say how far that is). 1 with
 * *ino set when one is found, 0 when none, -errno when a read fails. */
static int live_free_inode(ext2_filsys fs, ext2_ino_t *ino)
{
    uint32_t ipg = fs->super->s_inodes_per_group, isz = EXT2_INODE_SIZE(fs->super);
    uint32_t per_block = fs->blocksize / isz, chunk = 64;
    uint8_t *buf = malloc((size_t)chunk * fs->blocksize);
    if (!buf)
        return -ENOMEM;
    int r = 0;
    for (dgrp_t g = 0; r == 0 && g < fs->group_desc_count; g++) {
        blk64_t table = ext2fs_inode_table_loc(fs, g);
        uint32_t used = ipg;
        if (ext2fs_has_group_desc_csum(fs)) {
            if (ext2fs_bg_flags_test(fs, g, EXT2_BG_INODE_UNINIT))
                continue;
            used = ipg - (ext2fs_bg_itable_unused(fs, g) < ipg ? ext2fs_bg_itable_unused(fs, g) : ipg);
        }
        uint32_t blocks = (used + per_block - 1) / per_block;
        for (uint32_t b = 0; table && r == 0 && b < blocks; b += chunk) {
            uint32_t n = blocks - b < chunk ? blocks - b : chunk;
            errcode_t err = io_channel_read_blk64(fs->io, table + b, (int)n, buf);
            if (err) {
                r = -EIO;
                break;
            }
            for (uint32_t k = 0; k < n * per_block && b * per_block + k < used; k++) {
                ext2_ino_t i = (ext2_ino_t)g * ipg + b * per_block + k + 1;
                if (i > fs->super->s_inodes_count)
                    break;
                if (i >= EXT2_FIRST_INO(fs->super) &&
                    !ext2fs_test_inode_bitmap2(fs->inode_map, i) &&
                    get_le16(buf + (size_t)k * isz + 26) != 0) {  /* i_links_count */
                    *ino = i;
                    r = 1;
                    break;
                }
            }
        }
    }
    free(buf);
    return r;
}

struct slots {
    ext2_filsys fs;
    uint64_t start;
    struct p2v_ranges *zero;
    uint64_t *bytes;
    blk64_t table;  /* the group's inode table */
};

/* A run of free inodes' slots, as a zero range. */
static int zero_run(void *ctx, ext2_ino_t group_first, ext2_ino_t z, ext2_ino_t end)
{
    struct slots *sl = ctx;
    uint32_t isz = EXT2_INODE_SIZE(sl->fs->super);
    uint64_t off = sl->table * sl->fs->blocksize + (uint64_t)(z - group_first) * isz;
    uint64_t len = (uint64_t)(end - z) * isz;
    if (p2v_ranges_add(sl->zero, sl->start + off, len) < 0)
        return -ENOMEM;
    *sl->bytes += len;
    return 0;
}

int p2v_scrub_ext_inodes(ext2_filsys fs, uint64_t start, const char *name,
                         struct p2v_ranges *zero, uint64_t *bytes)
{
    errcode_t err = ext2fs_read_inode_bitmap(fs);
    if (err) {
        p2v_warn("%s: the ext inode bitmaps cannot be read (%s); free inodes are copied as "
                 "they are", name, error_message(err));
        return 0;
    }
    dgrp_t bad = 0;
    const char *why = bitmap_doubt(fs, &bad);
    if (why) {
        p2v_warn("%s: the ext inode bitmap of group %u is damaged (%s); free inodes are copied "
                 "as they are (deleted files' data in them included): run e2fsck -f on the "
                 "source", name, (unsigned)bad, why);
        return 0;
    }
    ext2_ino_t live = 0;
    int l = live_free_inode(fs, &live);
    if (l == -ENOMEM)
        return l;
    if (l) {
        if (l > 0)
            p2v_warn("%s: the ext inode bitmap calls inode %u free, yet it has links: the "
                     "bitmap is damaged. Free inodes are copied as they are (deleted files' "
                     "data in them included); run e2fsck -f on the source", name, (unsigned)live);
        else
            p2v_warn("%s: the ext inode tables cannot be read (%s); free inodes are copied as "
                     "they are", name, strerror(-l));
        return 0;
    }
    struct slots sl = { fs, start, zero, bytes, 0 };
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        sl.table = ext2fs_inode_table_loc(fs, g);
        if (sl.table && free_runs(fs, g, EXT2_FIRST_INO(fs->super), zero_run, &sl) < 0)
            return -ENOMEM;
    }
    return 0;
}

struct jwalk {
    uint64_t start, bs, run, run_len, bytes;
    struct p2v_ranges *zero;
    int r;
};

static int flush(struct jwalk *w)
{
    if (w->run_len && p2v_ranges_add(w->zero, w->start + w->run * w->bs, w->run_len * w->bs) < 0)
        return -ENOMEM;
    w->bytes += w->run_len * w->bs;
    w->run_len = 0;
    return 0;
}

/* Each data block of the journal after logical block 0 (its superblock),
 * merged into runs of consecutive blocks. */
static int journal_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref,
                         int ref_offset, void *ctx)
{
    (void)fs, (void)ref, (void)ref_offset;
    struct jwalk *w = ctx;
    if (blockcnt < 1)
        return 0;
    if (w->run_len && w->run + w->run_len == *blocknr) {
        w->run_len++;
        return 0;
    }
    if ((w->r = flush(w)) < 0)
        return BLOCK_ABORT;
    w->run = *blocknr;
    w->run_len = 1;
    return 0;
}

int p2v_scrub_ext_journal(ext2_filsys fs, uint64_t start, const char *name,
                          struct p2v_ranges *zero, uint64_t *bytes)
{
    ext2_ino_t ino = fs->super->s_journal_inum;
    if (!ext2fs_has_feature_journal(fs->super) || !ino)
        return 0;  /* no journal, or an external one: not on this volume */
    struct ext2_inode inode;
    blk64_t sb = 0;
    uint8_t *buf = malloc(fs->blocksize);
    if (!buf)
        return -ENOMEM;
    errcode_t err = ext2fs_read_inode(fs, ino, &inode);
    if (!err)
        err = ext2fs_bmap2(fs, ino, &inode, NULL, 0, 0, NULL, &sb);
    if (!err && sb)
        err = io_channel_read_blk64(fs->io, sb, 1, buf);
    /* Empty: the magic, a superblock's type (v1 or v2), and no transaction
     * to replay (s_start 0). */
    int empty = !err && sb && get_be32(buf) == JBD2_MAGIC &&
                (get_be32(buf + 4) == 3 || get_be32(buf + 4) == 4) && get_be32(buf + 28) == 0;
    free(buf);
    if (!empty) {
        if (err)
            p2v_warn("%s: the ext journal cannot be read (%s); it is copied as it is", name,
                     error_message(err));
        return 0;
    }
    struct jwalk w = { .start = start, .bs = fs->blocksize, .zero = zero };
    err = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_DATA_ONLY | BLOCK_FLAG_READ_ONLY, NULL,
                                journal_block, &w);
    if (w.r == 0)
        w.r = flush(&w);
    if (w.r < 0)
        return w.r;
    if (err) {
        /* Ranges already added are blocks of the journal: still right. */
        p2v_warn("%s: walking the ext journal's blocks failed (%s); the rest is copied as it is",
                 name, error_message(err));
    }
    *bytes += w.bytes;
    return 0;
}
