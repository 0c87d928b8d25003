/* One walk over a byte range made of regions: a layer that is a map of
 * pieces (an image file's footer, tables and data blocks; a disk's
 * synthetic head, the volume and zeros; a differencing image's own and
 * inherited sectors) says which region holds an offset, and the walk
 * hands each region's part of the asked range to a visitor, which
 * switches on the region's kind.  So the arithmetic of cutting a request
 * at region boundaries is written once.  (nbdkit's common/regions is the
 * model; p2v's maps are computed, not lists, so a layer finds a region
 * with arithmetic instead of a search.) */
#ifndef P2V_REGIONS_H
#define P2V_REGIONS_H

#include <stdint.h>

struct p2v_region {
    int kind;              /* the layer's own */
    uint64_t start, len;   /* where the region lies; it holds the offset asked */
    uint64_t arg;          /* the layer's own (where the region's bytes come from) */
};

/* Fills *r with the region holding off (off lies inside the map). */
typedef int (*p2v_region_find_fn)(void *map, uint64_t off, struct p2v_region *r);

/* Called for each part [off, off+len) of the walk, in order; done is how
 * many bytes of the asked range came before it.  Non-zero stops the walk
 * and is returned. */
typedef int (*p2v_region_visit_fn)(void *ctx, const struct p2v_region *r, uint64_t off,
                                   uint64_t len, uint64_t done);

/* Walks [off, off+len): find, then visit the part of the region inside
 * the range.  0, or the first non-zero result of find or visit. */
int p2v_regions_walk(void *map, p2v_region_find_fn find, uint64_t off, uint64_t len,
                     p2v_region_visit_fn visit, void *ctx);

#endif
