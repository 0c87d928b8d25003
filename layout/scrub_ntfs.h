/* Deleted data an NTFS volume keeps in its metadata (issue 20,
 * docs/scrub-design.md §1), as a map for the scrub layer and zero ranges
 * for the disk layout:
 *
 * - MFT records of $MFT and $MFTMirr (the same records, the same rewrite:
 *   ntfs-3g compares them on every mount): free records >= 24 become the
 *   record ntfs-3g lays out, records in use lose their slack;
 * - $MFT past its initialized size: zeros (mkntfs leaves zeros there);
 * - INDX blocks of every index ($I30, $SDH, $SII, $O, $Q, $R): blocks in
 *   use per the index's $BITMAP lose their slack, the others read as zeros
 *   (ntfs-3g builds a new block from scratch);
 * - $LogFile reads as all 0xFF, the empty log mkntfs writes;
 * - file slack: [initialized_size, allocated_size) of non-resident $DATA
 *   attributes of files (records >= 24; not compressed, not encrypted)
 *   whose runlist is in one record: zeros, as NTFS reads them anyway.
 *
 * Called only for a clean volume whose allocation bitmap passed its checks
 * (fsmap_ntfs.c): the log is then empty and the bitmaps are current. */
#ifndef P2V_SCRUB_NTFS_H
#define P2V_SCRUB_NTFS_H

#include "core/ranges.h"
#include "scrub.h"

#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <ntfs-3g/types.h>
#include <ntfs-3g/volume.h>

/* Adds the volume at [start, start+size) of the source (mounted as vol) to
 * scrub, and its zero ranges to zero (source offsets); what the zero
 * ranges hold to c (mft_free_bytes, index_unused_bytes, file_slack_bytes;
 * the rewrites are counted by p2v_scrub_count).  Damaged structures are
 * left as they are, with one warning per kind.  0, -ENOMEM, or -EIO with a
 * message naming the volume when $MFT or its bitmap cannot be read. */
int p2v_scrub_ntfs(ntfs_volume *vol, uint64_t start, uint64_t size, const char *name,
                   struct p2v_ranges *zero, struct p2v_scrub_map *scrub,
                   struct p2v_scrub_counts *c);

#endif
