/* The allocation map layer: decides which ranges of the virtual disk hold
 * data.  Reads pass through; extents come from a bitmap of 64 KiB chunks
 * built once when the layer opens, so encoders and lseek(SEEK_HOLE) ask
 * a bitmap instead of the disk.
 *
 * P2V_ALLOC_SCAN reads every data extent of the layer below and marks the
 * chunks that are not all zeros.  P2V_ALLOC_PASSTHROUGH keeps the extents
 * of the layer below (a sparse source's holes) and reads nothing. */
#ifndef P2V_ALLOCMAP_H
#define P2V_ALLOCMAP_H

#include "core/layer.h"

#define P2V_ALLOC_CHUNK (64u * 1024)

enum p2v_alloc_mode { P2V_ALLOC_PASSTHROUGH, P2V_ALLOC_SCAN };

/* Called during a scan with bytes examined so far and the total to examine. */
typedef void (*p2v_progress_fn)(void *ctx, uint64_t done, uint64_t total);

int p2v_allocmap_open(struct p2v_layer *below, enum p2v_alloc_mode mode,
                      p2v_progress_fn progress, void *progress_ctx,
                      struct p2v_layer **out);

#endif
