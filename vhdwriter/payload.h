/* What the VHD and VHDX encoders share: their data pieces are the disk
 * below at a file offset, and a last block may reach past the disk's end. */
#ifndef P2V_PAYLOAD_H
#define P2V_PAYLOAD_H

#include "core/layer.h"

/* Reads disk bytes [vofs, vofs+len) of below; bytes past its end (the
 * tail of a partial last block) are zeros. */
int p2v_payload_read(struct p2v_layer *below, uint8_t *buf, size_t len, uint64_t vofs);
/* Reports the extents of disk bytes [vofs, vofs+len) of below as file
 * ranges starting at file_off; past the disk's end they are holes. */
int p2v_payload_extents(struct p2v_layer *below, uint64_t vofs, uint64_t len, uint64_t file_off,
                        p2v_extent_fn fn, void *ctx);

#endif
