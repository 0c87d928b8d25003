/* A private, read-only, single-file FUSE mount of a layer, for libraries
 * that read by path (libblkid) when the bytes exist only in p2v's layers
 * (a VHD/VHDX source, bad sectors read as zeros).  It lives in its own
 * thread for the duration of a probe; the directory is 0700. */
#ifndef P2V_PROBE_MOUNT_H
#define P2V_PROBE_MOUNT_H

#include "core/layer.h"

#include <stddef.h>

struct p2v_probe_mount;

/* Mounts l; path gets the file to open.  0 or -errno with a message. */
int p2v_probe_mount(struct p2v_layer *l, struct p2v_probe_mount **pm, char *path, size_t len);
void p2v_probe_umount(struct p2v_probe_mount *pm);

#endif
