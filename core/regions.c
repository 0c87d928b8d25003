#include "regions.h"

#include <errno.h>

int p2v_regions_walk(void *map, p2v_region_find_fn find, uint64_t off, uint64_t len,
                     p2v_region_visit_fn visit, void *ctx)
{
    uint64_t end = off + len, done = 0;
    while (off < end) {
        struct p2v_region r;
        int rc = find(map, off, &r);
        if (rc)
            return rc;
        /* A finder that misses the offset would loop or skip bytes. */
        if (off < r.start || off - r.start >= r.len)
            return -EIO;
        uint64_t stop = r.start + r.len < end ? r.start + r.len : end;
        if ((rc = visit(ctx, &r, off, stop - off, done)) != 0)
            return rc;
        done += stop - off;
        off = stop;
    }
    return 0;
}
