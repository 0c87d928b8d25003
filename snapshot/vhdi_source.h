/* V2V input: a VHD or VHDX file (fixed, dynamic or differencing, with its
 * parents) read through libvhdi as the virtual disk it holds. */
#ifndef P2V_VHDI_SOURCE_H
#define P2V_VHDI_SOURCE_H

#include "source.h"

#include <stddef.h>

enum p2v_source_format { P2V_FMT_AUTO, P2V_FMT_RAW, P2V_FMT_VHD, P2V_FMT_VHDX };

/* What the file at path is: VHD (a "conectix" footer at the end, or its
 * copy at 0), VHDX ("vhdxfile" at 0), else raw.  -errno if unreadable. */
int p2v_vhdi_detect(const char *path, enum p2v_source_format *fmt);
const char *p2v_format_name(enum p2v_source_format fmt);

/* Opens path as a VHD/VHDX.  Parents of a differencing image are looked
 * for in parent_dir (the directory of the image the user named, which
 * differs from path's for a snapshot clone), by the name the child
 * records.  info is filled as for a raw source (size: the virtual disk);
 * ident gets the parents (paths, sizes, mtimes) for the image identity.
 * name is what messages call path (the image the user gave, when path is
 * a snapshot's /proc/self/fd name).  0 or -errno, with a message naming
 * the file. */
int p2v_vhdi_open(const char *path, const char *name, const char *parent_dir,
                  struct p2v_layer **out, struct p2v_source_info *info, char *ident,
                  size_t ident_len);
/* The parents p2v_vhdi_open found for the layer it returned, nearest
 * first: up to max paths into out.  Returns how many. */
int p2v_vhdi_parents(struct p2v_layer *l, char (*out)[4096], int max);

#endif
