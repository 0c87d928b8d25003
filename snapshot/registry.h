/* The snapshots p2v has made, one small record each in the run directory
 * ($P2V_RUN_DIR, default /run/p2v; owner-only), so that `p2v snapshot
 * list|delete` can find them again, also after a mount was killed. */
#ifndef P2V_REGISTRY_H
#define P2V_REGISTRY_H

#include <stddef.h>
#include <time.h>

struct p2v_snap_record {
    char id[32];
    char provider[16];     /* "reflink" or "lvm" */
    char origin[4096];     /* what was snapshotted */
    char path[4096];       /* what to read: the clone file or the LV node */
    char lv[256];          /* lvm: VG/LV of the snapshot, for lvremove */
    char mountpoint[4096]; /* the mount that releases it, or "" */
    time_t created;
    int keep;              /* kept past the mount (snapshot create, --keep-snapshot) */
    /* What the snapshot was when made (reflink: the clone's st_dev and
     * st_ino; 0: not known), so that a file that took its name is never
     * read or removed as the snapshot. */
    unsigned long long dev, ino;
};

/* Writes (or replaces) the record.  0 or -errno with a message. */
int p2v_registry_save(const struct p2v_snap_record *r);
int p2v_registry_remove(const char *id);
/* Loads every record; *out is malloc'd.  Returns the count or -errno. */
int p2v_registry_list(struct p2v_snap_record **out);
/* The record whose path is path (a source that is a snapshot already). */
int p2v_registry_find_path(const char *path, struct p2v_snap_record *out);
/* The lock a view's process holds for as long as it lives, so that
 * `p2v umount` can wait until it has closed its source: a file in the run
 * directory named after the mount point. create: open (making it) and take
 * the lock, waiting up to 30 s for a previous view of the mount point to
 * end; else open it only if it is there. The descriptor (close-on-exec), or
 * -errno (-ENOENT: none; -EWOULDBLOCK: still held). Prints nothing. */
int p2v_registry_view_lock(const char *mountpoint, int create);
/* When the view ends: removes its lock file (if its name is still that
 * file) while holding the lock, then closes fd (the lock is let go). */
void p2v_registry_view_end(int fd, const char *mountpoint);
/* "kept", "mounted" or "stale" (its mount is gone). */
const char *p2v_registry_state(const struct p2v_snap_record *r);

#endif
