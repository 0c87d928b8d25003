/* A window onto a layer: [start, start+size) of the layer below shown as
 * a layer of its own (a partition of the disk).  Writes pass through when
 * the layer below takes them.  It does not own the layer below: close it
 * with p2v_layer_close, which leaves that layer open. */
#ifndef P2V_SLICE_H
#define P2V_SLICE_H

#include "layer.h"

int p2v_slice_open(struct p2v_layer *below, uint64_t start, uint64_t size, struct p2v_layer **out);

#endif
