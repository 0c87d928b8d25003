/* Snapshot provider for image files on XFS or btrfs: a FICLONE copy that
 * shares the blocks of the original until either is written, made in
 * moments whatever the size. */
#ifndef P2V_REFLINK_H
#define P2V_REFLINK_H

#include <stddef.h>
#include <sys/stat.h>

/* Clones origin (canonical) into dir as ".NAME.p2v-snap-ID" (dir NULL:
 * origin's own directory; it must be on the same filesystem); out is its
 * canonical path.  *origin_st is the origin as it was when cloned
 * (unchanged across the clone).  The clone stays open: *clone_fd (read
 * only, close-on-exec) is what is read, never its path, and *clone_st its
 * identity, to check the path against before removing it.  Returns 0,
 * -EOPNOTSUPP when the filesystem cannot clone, or -errno; messages are
 * printed unless quiet (auto tries quietly). */
int p2v_reflink_create(const char *origin, const char *dir, const char *id, int quiet,
                       char *out, size_t len, struct stat *origin_st, int *clone_fd,
                       struct stat *clone_st);

#endif
