/* Deleted data an ext2/3/4 filesystem keeps in its metadata (issue 20):
 * the slots of free inodes in the inode tables (a deleted file's inline
 * data, extended attributes and block map stay there) and the blocks of a
 * clean journal after its superblock (copies of metadata blocks, names of
 * deleted files among them).  Both become zero ranges of the disk layout,
 * as free blocks do: valid as they are, since mke2fs leaves free inodes
 * and a fresh journal zeroed, and a journal whose superblock says it is
 * empty (s_start 0) is never replayed.  Directory-entry slack needs a
 * rewrite of the block, not zeros: not here.
 *
 * Called only for a clean filesystem whose block bitmap passed its
 * checks (fsmap_ext.c). */
#ifndef P2V_SCRUB_EXT_H
#define P2V_SCRUB_EXT_H

#include "core/ranges.h"

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

#endif
