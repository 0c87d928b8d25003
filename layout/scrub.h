/* The scrub layer (issue 20, docs/scrub-design.md): deleted data that
 * filesystems keep inside metadata they still use, removed as it is read.
 * It sits right under the disk layout, at source offsets:
 *
 *   source -> snapshot view -> [scrub] -> disk layout -> ...
 *
 * Its map is a sorted list of runs of self-contained units (MFT records,
 * INDX blocks, ext directory leaf blocks) that are rewritten on every read
 * by the pure functions of scrub_unit.c, and of byte ranges that read as
 * 0xFF (an empty NTFS $LogFile).  Whatever can become plain zeros (free
 * inodes, unused index blocks, file slack) goes to the disk layout's zero
 * ranges instead, as free clusters do.  The rewrites depend only on the
 * unit's own bytes and the map, so every mount serves the same bytes. */
#ifndef P2V_SCRUB_H
#define P2V_SCRUB_H

#include "core/layer.h"
#include "scrub_unit.h"

#include <stddef.h>
#include <stdint.h>

enum p2v_scrub_kind {
    P2V_SCRUB_MFT = 1,   /* MFT records ($MFT or $MFTMirr); first = number of the first */
    P2V_SCRUB_INDX,      /* INDX blocks in use per their index's $BITMAP */
    P2V_SCRUB_EXT_DIR,   /* ext directory leaf blocks; first = inode, aux = i_generation */
    P2V_SCRUB_FILL_FF,   /* reads as 0xFF; unit 0 */
};

struct p2v_scrub_run {
    uint64_t start;   /* offset in the layer below */
    uint64_t len;     /* bytes; a multiple of unit */
    uint64_t first;   /* see the kinds */
    uint32_t unit;    /* bytes per unit: 512..65536, a multiple of 512 */
    uint32_t aux;
    uint16_t vol;     /* the filesystem's context (p2v_scrub_map_vol) */
    uint8_t kind;
};

/* What the rewrites of one filesystem need beyond a unit's bytes. */
struct p2v_scrub_vol {
    uint64_t start, size;   /* the filesystem, in the layer below (for counting) */
    /* NTFS: $MFT:$BITMAP (one bit per record; records past it count as in
     * use) and the version, P2V_NTFS_VERSION(major, minor). */
    uint8_t *mft_bitmap;    /* malloc'd; the map frees it */
    uint64_t mft_bits;
    unsigned ntfs_version;
    /* ext: the metadata_csum seed (libext2fs fs->csum_seed) and whether
     * leaf blocks end in a checksum entry. */
    uint32_t csum_seed;
    int has_csum_tail;
};

struct p2v_scrub_map {
    struct p2v_scrub_run *run;
    size_t n, cap;
    struct p2v_scrub_vol *vol;
    size_t nvol;
};

/* Adds a filesystem's context; *index is what its runs carry in vol.  The
 * map takes over v->mft_bitmap (freed here on failure too).  0 or -ENOMEM. */
int p2v_scrub_map_vol(struct p2v_scrub_map *m, const struct p2v_scrub_vol *v, uint16_t *index);

/* Adds a run (any order).  Runs of units of the same kind, unit size and
 * context that continue each other (next start, next first) are merged.
 * 0, -EINVAL for a run the map cannot hold (unit not a multiple of 512 or
 * over 65536, len not a multiple of unit, unknown vol), or -ENOMEM. */
int p2v_scrub_map_add(struct p2v_scrub_map *m, const struct p2v_scrub_run *r);

void p2v_scrub_map_free(struct p2v_scrub_map *m);

/* The scrub layer over below.  Takes over m (also on failure): the runs are
 * sorted, and a run that overlaps an earlier one is dropped with a warning
 * (a filesystem whose structures claim the same bytes twice is damaged;
 * what is dropped is served as it is).  An empty map: *out = below, no
 * layer.  0, or -ENOMEM. */
int p2v_scrub_open(struct p2v_layer *below, struct p2v_scrub_map *m, struct p2v_layer **out);

/* Reads every unit of the filesystem at [start, start+size) of the layer
 * below l's scrub layer and adds what the rewrites change to c (MFT, INDX
 * and ext directory kinds; logfile_bytes for the 0xFF fill).  l may be any
 * layer above the scrub layer, or the scrub layer; without one nothing is
 * added.  0, or -errno from a read. */
int p2v_scrub_count(struct p2v_layer *l, uint64_t start, uint64_t size,
                    struct p2v_scrub_counts *c);

#endif
