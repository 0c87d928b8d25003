/* The VHDX encoder layer: presents the layer below as a dynamic VHDX file,
 * computed on demand like the VHD encoder.  Layout, every piece 1 MiB
 * aligned:
 *   0        file type identifier, header 1 (64 KiB), header 2 (128 KiB),
 *            region table and its copy (192 and 256 KiB)
 *   1 MiB    the log (empty: zeros)
 *   2 MiB    metadata: table, then the five required items
 *   3 MiB    BAT (payload entries with a bitmap entry after each chunk)
 *   after    the present blocks, in disk order, BlockSize each
 * Blocks without data are not present (a fixed image has them all).
 * Memory: two bits per block (a bitmap and rank counts), so 64 TiB in
 * 1 MiB blocks stays small. */
#ifndef P2V_VHDX_H
#define P2V_VHDX_H

#include "core/layer.h"

struct p2v_vhdx_params {
    int dynamic;               /* 0: every block present */
    uint32_t block_size;       /* 0: 32 MiB */
    uint32_t logical_sector;   /* 512 or 4096 */
    uint32_t physical_sector;  /* 512 or 4096 */
    uint8_t unique_id[16];     /* the image identity: the GUIDs derive from it */
};

struct p2v_vhdx_layout {
    uint64_t file_size;
    uint64_t blocks_total, blocks_present;
    uint32_t block_size;
};

/* Checks the limits (64 TiB, a multiple of the sector size, block size);
 * a clear message on failure when say is set. */
int p2v_vhdx_check(uint64_t size, uint32_t logical_sector, uint32_t block_size, int say);
int p2v_vhdx_open(struct p2v_layer *below, const struct p2v_vhdx_params *p,
                  struct p2v_layer **out);
void p2v_vhdx_describe(struct p2v_layer *vhdx, struct p2v_vhdx_layout *out);
/* 1 if l is a VHDX encoder layer. */
int p2v_is_vhdx(const struct p2v_layer *l);

#endif
