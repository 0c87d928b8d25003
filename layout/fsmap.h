/* Filesystem maps: which byte ranges of a volume hold nothing worth
 * copying (free clusters, pagefile contents).  They read as zeros in every
 * view and are left out of dynamic images. */
#ifndef P2V_FSMAP_H
#define P2V_FSMAP_H

#include "core/layer.h"
#include "core/ranges.h"
#include "scrub.h"

enum {
    P2V_FS_FORCE = 1,          /* map hibernated or unclean NTFS anyway (no trimming) */
    P2V_FS_KEEP_PAGEFILE = 2,  /* keep pagefile.sys, hiberfil.sys, swapfile.sys */
    P2V_FS_INSPECT = 4,        /* as FORCE, without the warning: the caller reports the state */
};

struct p2v_fsmap_stats {
    uint64_t free_bytes;       /* free clusters */
    uint64_t pagefile_bytes;   /* contents of paging and hibernation files */
    /* Deleted data removed from metadata (issue 20): the kinds that are
     * zero ranges or fills, known when the map is made (the rewritten
     * units are counted by p2v_scrub_count). */
    struct p2v_scrub_counts scrub;
    const char *state;         /* clean, hibernated, dirty, unclean; NULL unknown */
};

/* Adds the NTFS volume at [start, start+size) of l to zero, and when scrub
 * is not NULL what it keeps of deleted data to zero and scrub.  0, or
 * -errno with a message (damaged, hibernated or unclean volume). */
int p2v_fsmap_ntfs(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name,
                   unsigned flags, struct p2v_ranges *zero, struct p2v_scrub_map *scrub,
                   struct p2v_fsmap_stats *st);

/* The same for ext2/3/4.  An unclean filesystem is copied whole, with a
 * warning: its bitmaps may be stale. */
int p2v_fsmap_ext(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name,
                  unsigned flags, struct p2v_ranges *zero, struct p2v_scrub_map *scrub,
                  struct p2v_fsmap_stats *st);

/* "clean" or "unclean" from the log of the XFS volume at [start,
 * start+size) of l, or NULL when it cannot be told (an external log, a
 * log that does not parse).  XFS is copied whole: there is no map. */
const char *p2v_fsmap_xfs_state(struct p2v_layer *l, uint64_t start, uint64_t size);

/* 1 if the sector at start carries the NTFS OEM id ("NTFS    "). */
int p2v_fsmap_ntfs_signature(struct p2v_layer *l, uint64_t start);

#endif
