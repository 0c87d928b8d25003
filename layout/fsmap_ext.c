/* ext2/3/4 free blocks through libext2fs, read through the layer stack
 * (guest/ext_io.c). */
#include "fsmap.h"
#include "scrub_ext.h"
#include "guest/ext_io.h"

#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

/* Why the block bitmaps cannot be trusted (or even read: libext2fs 1.47.0
 * overruns its bitmap on some damaged filesystems), or NULL. */
static const char *unsafe_state(ext2_filsys fs)
{
    /* What e2fsck checks before it reads the bitmaps; ext2fs_open2 does not. */
    if (fs->super->s_first_data_block > 1 || ext2fs_check_desc(fs) != 0)
        return "damaged (its group descriptors are not consistent; e2fsck -n shows more)";
    if (fs->super->s_feature_ro_compat & ~EXT2_LIB_FEATURE_RO_COMPAT_SUPP)
        return "using features this libext2fs does not know";
    if (ext2fs_has_feature_journal_needs_recovery(fs->super))
        return "in need of journal recovery (mounted, or not unmounted cleanly)";
    if (!(fs->super->s_state & EXT2_VALID_FS) || (fs->super->s_state & EXT2_ERROR_FS))
        return "not clean (mounted, or with errors to fix with e2fsck)";
    return NULL;
}

static int add_free(ext2_filsys fs, uint64_t start, struct p2v_ranges *zero, uint64_t *bytes)
{
    ext2fs_block_bitmap map = fs->block_map;
    blk64_t b = ext2fs_get_block_bitmap_start2(map), end = ext2fs_get_block_bitmap_end2(map);
    uint64_t bs = fs->blocksize;
    /* Blocks outside [start, end] (block 0 of 1 KiB filesystems, any tail)
     * are not in the bitmap and are kept. */
    while (b <= end) {
        blk64_t z, used;
        if (ext2fs_find_first_zero_block_bitmap2(map, b, end, &z) != 0)
            break;
        if (ext2fs_find_first_set_block_bitmap2(map, z, end, &used) != 0)
            used = end + 1;
        int r = p2v_ranges_add(zero, start + z * bs, (used - z) * bs);
        if (r < 0)
            return r;
        *bytes += (used - z) * bs;
        b = used;
    }
    return 0;
}

/* What the filesystem's own metadata occupies (each group's superblock
 * copy, first descriptor block, bitmaps and inode table) must be in use in
 * the block bitmap: a bitmap that says otherwise is damaged, and trusting
 * it would zero the filesystem.  The first such block, or 0 (block 0 is
 * never metadata p2v could zero: it is the boot block or the superblock,
 * kept in use). */
static blk64_t metadata_free(ext2_filsys fs, const char **what, dgrp_t *group)
{
    ext2fs_block_bitmap map = fs->block_map;
    blk64_t lo = ext2fs_get_block_bitmap_start2(map), hi = ext2fs_get_block_bitmap_end2(map);
#define MUST_BE_USED(blk, name)                                                                \
    do {                                                                                   \
        blk64_t b_ = (blk);                                                                \
        if (b_ >= lo && b_ <= hi && !ext2fs_test_block_bitmap2(map, b_)) {                 \
            *what = (name);                                                                \
            *group = g;                                                                    \
            return b_;                                                                     \
        }                                                                                  \
    } while (0)
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        if (ext2fs_bg_has_super(fs, g)) {
            blk64_t super = 0, old_desc = 0, new_desc = 0;
            blk_t used = 0;
            if (ext2fs_super_and_bgd_loc2(fs, g, &super, &old_desc, &new_desc, &used) == 0) {
                MUST_BE_USED(ext2fs_group_first_block2(fs, g), "superblock");
                if (old_desc)
                    MUST_BE_USED(old_desc, "group descriptors");
                if (new_desc)
                    MUST_BE_USED(new_desc, "group descriptors");
            }
        }
        MUST_BE_USED(ext2fs_block_bitmap_loc(fs, g), "block bitmap");
        MUST_BE_USED(ext2fs_inode_bitmap_loc(fs, g), "inode bitmap");
        blk64_t t = ext2fs_inode_table_loc(fs, g);
        for (blk64_t i = 0; t && i < fs->inode_blocks_per_group; i++)
            MUST_BE_USED(t + i, "inode table");
    }
#undef MUST_BE_USED
    return 0;
}

int p2v_fsmap_ext(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name,
                  unsigned flags, struct p2v_ranges *zero, struct p2v_scrub_map *scrub,
                  struct p2v_fsmap_stats *st)
{
    ext2_filsys fs = NULL;
    errcode_t err = p2v_ext_open(l, start, size, &fs);
    if (err) {
        p2v_err("%s: the ext2/3/4 filesystem cannot be opened (%s); it may be damaged: run "
                "e2fsck on it, or pass --keep-free-space to copy it unmodified", name,
                error_message(err));
        return -EIO;
    }
    int r = 0;
    const char *why = unsafe_state(fs);
    st->state = why ? "unclean" : "clean";
    if (why && (flags & P2V_FS_INSPECT)) {
        /* the caller reports it */
    } else if (why) {
        p2v_warn("%s: the ext filesystem is %s; copying it whole, free space included", name, why);
    } else if ((err = ext2fs_read_block_bitmap(fs)) != 0) {
        p2v_err("%s: reading the ext block bitmaps failed (%s)", name, error_message(err));
        r = -EIO;
    } else {
        const char *what = NULL;
        dgrp_t g = 0;
        blk64_t b = metadata_free(fs, &what, &g);
        if (b)
            p2v_warn("%s: the ext block bitmap says block %llu (the %s of group %u) is free, "
                     "which it cannot be: the bitmap is damaged. Copying the filesystem whole, "
                     "free space included; run e2fsck -f on the source", name,
                     (unsigned long long)b, what, (unsigned)g);
        else if ((r = add_free(fs, start, zero, &st->free_bytes)) == 0 &&
                 (r = p2v_scrub_ext_inodes(fs, start, name, zero, &st->scrub.ext_free_inode_bytes)) == 0 &&
                 (r = p2v_scrub_ext_journal(fs, start, name, zero, &st->scrub.ext_journal_bytes)) == 0 &&
                 scrub)
            r = p2v_scrub_ext_dirs(fs, start, size, name, scrub);
    }
    p2v_ext_close(&fs);
    return r;
}
