/* The disk layout layer: the disk as the image will hold it, as regions:
 *
 *   [0, head_len)              synthetic bytes (an MBR made by p2v), if any
 *   [head_len, vol_offset)     zeros
 *   [vol_offset, +below size)  the layer below (the source disk or volume)
 *   [.., size - tail_len)      zeros
 *   [size - tail_len, size)    synthetic bytes (a backup GPT), if any
 *
 * Over that, zero ranges (free clusters, pagefile contents, partitions left
 * out) read as zeros, and patched sectors (boot sector fixes) replace the
 * bytes below them.  The source is never written. */
#ifndef P2V_DISKLAYOUT_H
#define P2V_DISKLAYOUT_H

#include "core/layer.h"
#include "core/ranges.h"

struct p2v_patch {
    uint64_t off;          /* disk offset, 512-aligned */
    uint8_t data[512];
};

struct p2v_layout_spec {
    uint64_t size;         /* 0: the size of the layer below */
    uint64_t vol_offset;   /* where byte 0 of the layer below appears */
    const uint8_t *head;   /* copied; head_len <= vol_offset */
    size_t head_len;
    const uint8_t *tail;   /* copied; the disk's last tail_len bytes */
    size_t tail_len;
    struct p2v_ranges zero;        /* disk offsets; taken over by the layer */
    const struct p2v_patch *patches;  /* copied, sorted by the layer */
    size_t npatches;
    /* Volumes whose filesystem was mapped: what is not zero in them is in
     * use, reported as P2V_EXTENT_USED.  Taken over by the layer. */
    struct p2v_ranges used;
};

int p2v_disklayout_open(struct p2v_layer *below, struct p2v_layout_spec *spec,
                        struct p2v_layer **out);

#endif
