/* The VHD encoder layer: presents the layer below as a fixed or dynamic
 * VHD file.  Nothing is materialised: any (offset, length) of the file is
 * mapped arithmetically onto footer, header, BAT, bitmap, padding and data
 * pieces.  Memory is O(number of 2 MiB blocks). */
#ifndef P2V_VHD_H
#define P2V_VHD_H

#include "core/layer.h"

struct p2v_vhd_params {
    int dynamic;              /* 0: fixed, 1: dynamic */
    uint32_t timestamp;       /* VHD epoch seconds */
    uint8_t unique_id[16];
};

struct p2v_vhd_layout {
    uint64_t file_size;
    uint32_t blocks_total;      /* 2 MiB blocks covering the disk */
    uint32_t blocks_allocated;  /* blocks present in a dynamic file */
};

/* Fails with a clear message when the disk is outside VHD's limits. */
int p2v_vhd_open(struct p2v_layer *below, const struct p2v_vhd_params *p,
                 struct p2v_layer **out);
void p2v_vhd_describe(struct p2v_layer *vhd, struct p2v_vhd_layout *out);
/* Checks the limits: the size, and the logical sector size unless it is 0
 * (unknown); name is the source, for messages, which are printed only
 * when say is set.  0 or -errno. */
int p2v_vhd_check(uint64_t size, uint32_t logical_sector, const char *name, int say);

#endif
