/* Files inside a guest NTFS volume, read and written with libntfs-3g
 * through the layer stack (guest/ntfs_device.c), so every write lands in
 * the COW overlay.  Paths use '/' or '\' and match case-insensitively, as
 * Windows does. */
#ifndef P2V_GUEST_FS_H
#define P2V_GUEST_FS_H

#include "core/layer.h"

#include <stddef.h>
#include <stdint.h>

struct p2v_gfs;

/* Opens the NTFS volume at [start, start+size) of l; rw needs a writable
 * l.  0 or -errno, with a message naming the volume. */
int p2v_gfs_open(struct p2v_layer *l, uint64_t start, uint64_t size, const char *name, int rw,
                 struct p2v_gfs **out);
/* Unmounts; with rw, flushes what libntfs-3g holds.  0 or -errno. */
int p2v_gfs_close(struct p2v_gfs *g);

/* 1 if path exists (*is_dir set when not NULL), 0 if not, -errno. */
int p2v_gfs_stat(struct p2v_gfs *g, const char *path, int *is_dir, uint64_t *size);
/* The whole unnamed data stream; *data is malloc'd.  -ENOENT if missing. */
int p2v_gfs_read(struct p2v_gfs *g, const char *path, uint8_t **data, size_t *len);
/* Creates or replaces path with data, making missing parent directories. */
int p2v_gfs_write(struct p2v_gfs *g, const char *path, const void *data, size_t len);
/* The name of dir's entry name as the volume spells it (its long name,
 * "WINDOWS" where name is "Windows"), into out.  1 found, 0 not, -errno. */
int p2v_gfs_spelling(struct p2v_gfs *g, const char *dir, const char *name, char *out,
                     size_t len);
/* Removes a file; -ENOENT if it is not there. */
int p2v_gfs_delete(struct p2v_gfs *g, const char *path);

#endif
