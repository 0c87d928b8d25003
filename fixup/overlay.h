/* The copy-on-write overlay: a layer that takes writes and keeps them in a
 * job state directory, so the source is never written.
 *
 * State directory (files 0600, directory 0700):
 *   overlay.data   changed blocks, appended: a block that changes again is
 *                  written anew, never over the copy the index points at
 *   overlay.index  which disk block lives where in overlay.data, with a
 *                  CRC; replaced by rename, after the data is synced
 *   lock           flock: shared while mounted, exclusive while written
 * So a crash at any moment leaves the old index (and the data it points
 * at, untouched) or the new one: never a torn state.  A power loss too,
 * which drops, keeps or tears whatever was not synced: the state files go
 * through overlay_io.h, and tests/unit/fixup/test_overlay_crash.c crashes
 * a simulated file system at every write and sync.
 *
 * Granularity: 4 KiB blocks.  That is the NTFS cluster and page size, so a
 * registry hive or a driver file rewritten by libntfs-3g costs its own
 * size, and a 512-byte boot sector patch costs one block. */
#ifndef P2V_OVERLAY_H
#define P2V_OVERLAY_H

#include "core/layer.h"

#define P2V_OVERLAY_BLOCK 4096u

enum {
    P2V_OVERLAY_WRITE = 1,   /* accept writes (exclusive lock); else read-only */
    P2V_OVERLAY_CREATE = 2,  /* make the directory and an empty state if missing */
    /* A dry run: writes are taken but kept in memory, the state directory
     * is only read (shared lock), and commit is refused. */
    P2V_OVERLAY_SCRATCH = 4,
    /* A state made for another base is refused with -ESTALE and no message:
     * the caller, who knows the source, explains why (stack.c). */
    P2V_OVERLAY_QUIET_BASE = 8,
};

/* Opens the overlay in dir over below.  base_id names what the overlay
 * applies to (source and layout); a state made for another base is
 * refused, since its blocks would land on the wrong disk (-EINVAL, or
 * -ESTALE with P2V_OVERLAY_QUIET_BASE).  0 or -errno, with a message. */
int p2v_overlay_open(struct p2v_layer *below, const char *dir, const uint8_t base_id[16],
                     unsigned flags, struct p2v_layer **out);

/* Makes the writes so far durable: data synced, then the index replaced
 * atomically, then the directory synced; once it returns 0 a power loss
 * gives this state back.  0 or -errno. */
int p2v_overlay_commit(struct p2v_layer *l);

/* Forgets the writes since the last commit (a failed fix-up): closing
 * will not save them, and the view shows the committed state again. */
void p2v_overlay_abandon(struct p2v_layer *l);

/* A digest of the committed index: part of the image identity, so a
 * changed overlay gives a changed UniqueId. */
void p2v_overlay_digest(struct p2v_layer *l, uint8_t out[16]);
/* The same as 32 lowercase hex digits: how the fix-up record names the
 * overlay it describes. */
void p2v_overlay_digest_hex(struct p2v_layer *l, char out[33]);

/* The changed extents (merged runs of changed blocks), ascending. */
int p2v_overlay_changes(struct p2v_layer *l, p2v_extent_fn fn, void *ctx);

/* Removes the overlay state in dir (refused while it is mounted). */
int p2v_overlay_discard(const char *dir);

/* 1 if dir holds an overlay state, 0 if not. */
int p2v_overlay_exists(const char *dir);

#endif
