/* One differencing VHD read by p2v itself, over the layer of its parent:
 * a sector whose bit is set in its block's bitmap comes from this file,
 * every other one from the parent.  libvhdi 20210425 gets this wrong for a
 * clear bit after a set one in the same bitmap byte (it shifts without
 * masking), which would serve stale child bytes instead of the parent's;
 * libvhdi still opens, validates and finds the parents. */
#ifndef P2V_VHD_DIFF_H
#define P2V_VHD_DIFF_H

#include "core/layer.h"

/* Opens path (a differencing VHD whose checksums were checked) over its
 * parent's layer.  0 or -errno with a message. */
int p2v_vhd_diff_open(const char *path, struct p2v_layer *parent, struct p2v_layer **out);

#endif
