/* libntfs-3g on a partition of a p2v layer: custom device operations, so
 * NTFS is read through the layer stack and never from a file of its own. */
#ifndef P2V_NTFS_DEVICE_H
#define P2V_NTFS_DEVICE_H

#include "core/layer.h"

#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <ntfs-3g/types.h>
#include <ntfs-3g/volume.h>

/* Mounts the NTFS volume at [start, start+size) of l read-only; NULL with
 * errno set on failure.  name appears in messages. */
ntfs_volume *p2v_ntfs_mount(struct p2v_layer *l, uint64_t start, uint64_t size,
                            const char *name);
/* The same, read-write: l must take writes (the COW overlay).  libntfs-3g
 * refuses a hibernated or unclean volume here (errno EPERM/EOPNOTSUPP). */
ntfs_volume *p2v_ntfs_mount_rw(struct p2v_layer *l, uint64_t start, uint64_t size,
                               const char *name);
/* Unmounts, flushing what libntfs-3g still holds; -errno if that fails. */
int p2v_ntfs_umount(ntfs_volume *vol);

/* 1 when the boot sector or $MFT record 0 of the NTFS volume at
 * [start, start+size) of l is damaged, with why set to what is wrong, where,
 * and what to do (one sentence, no volume name); 0 when both look sound;
 * -errno when they cannot be read. */
int p2v_ntfs_damage(struct p2v_layer *l, uint64_t start, uint64_t size, char *why, size_t len);

#endif
