/* The disk layout layer: the disk as the image will hold it.  Today it
 * knows two kinds of region: bytes of the layer below, and ranges that read
 * as zeros (free clusters of a filesystem, the contents of pagefile.sys),
 * so deleted data never leaves the machine.  Synthetic and patched
 * sectors join here later. */
#ifndef P2V_DISKLAYOUT_H
#define P2V_DISKLAYOUT_H

#include "../core/layer.h"
#include "../core/ranges.h"

/* Takes ownership of zero (finished ranges, disk offsets). */
int p2v_disklayout_open(struct p2v_layer *below, struct p2v_ranges *zero,
                        struct p2v_layer **out);

#endif
