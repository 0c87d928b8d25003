/* Deleted data an ext2/3/4 filesystem keeps in its metadata (issue 20):
 * the slots of free inodes in the inode tables (a deleted file's inline
 * data, extended attributes and block map stay there) and the blocks of a
 * clean journal after its superblock (copies of metadata blocks, names of
 * deleted files among them).  Both become zero ranges of the disk layout,
 * as free blocks do: valid as they are, since mke2fs leaves free inodes
 * and a fresh journal zeroed, and a journal whose superblock says it is
 * empty (s_start 0) is never replayed.  Directory-entry slack (names of
 * deleted entries left in the record before them, stale names after
 * htree splits) needs a rewrite of the block, not zeros: its leaf blocks
 * go to the scrub layer's map (scrub_ext_dir.c).
 *
 * Called only for a clean filesystem whose block bitmap passed its
 * checks (fsmap_ext.c). */
#ifndef P2V_SCRUB_EXT_H
#define P2V_SCRUB_EXT_H

#include "core/ranges.h"
#include "scrub.h"

#include <stdint.h>
#include <ext2fs/ext2fs.h>

/* Adds the free inodes' slots (inode numbers from s_first_ino on) to zero,
 * at byte offsets from start; their size to *bytes.  The inode bitmap is
 * checked first against the group descriptors' free counts and the
 * reserved inodes: when it disagrees nothing is added, with a warning
 * naming the group.  0, or -ENOMEM. */
int p2v_scrub_ext_inodes(ext2_filsys fs, uint64_t start, const char *name,
                         struct p2v_ranges *zero, uint64_t *bytes);

/* Adds the blocks of an internal journal after its superblock when the
 * journal is empty (its superblock's s_start is 0).  0, or -ENOMEM; a
 * journal that cannot be read or is not empty adds nothing. */
int p2v_scrub_ext_journal(ext2_filsys fs, uint64_t start, const char *name,
                          struct p2v_ranges *zero, uint64_t *bytes);

/* Adds the leaf blocks of every directory in use (in use in the inode
 * bitmap, with links) to scrub as P2V_SCRUB_EXT_DIR runs, one per run of
 * blocks consecutive on disk, with the filesystem's context (checksum
 * seed, metadata_csum).  Left out: blocks past i_size, holes and
 * uninitialized extents; an htree's root (block 0) and interior blocks;
 * inline directories (their entries are in the inode), directories both
 * encrypted and casefolded (a hash follows each name).  A directory whose
 * block map or htree does not add up (blocks outside the filesystem or
 * free in the block bitmap, bad counts or levels, blocks named twice) is
 * left out whole, with one warning for all of them.  0, or -ENOMEM. */
int p2v_scrub_ext_dirs(ext2_filsys fs, uint64_t start, uint64_t size, const char *name,
                       struct p2v_scrub_map *scrub);

#endif
