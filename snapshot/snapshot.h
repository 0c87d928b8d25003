/* Snapshot providers: which one to use (auto picks the best available and
 * says which), taking it inside a freeze, recording it, releasing it. */
#ifndef P2V_SNAPSHOT_H
#define P2V_SNAPSHOT_H

#include "freeze.h"
#include "registry.h"

#include <sys/stat.h>

enum p2v_snap_provider { P2V_SNAP_AUTO, P2V_SNAP_NONE, P2V_SNAP_REFLINK, P2V_SNAP_LVM };

struct p2v_snap_opts {
    enum p2v_snap_provider provider;
    const char *dir;          /* reflink: where the clone goes (default: beside) */
    const char *lvm_size;     /* lvm: copy-on-write size (default 20%ORIGIN) */
    int keep;                 /* kept after the mount (--keep-snapshot) */
    const char *mountpoint;   /* the mount that releases it */
    struct p2v_freeze_opts freeze;
};

struct p2v_snapshot {
    enum p2v_snap_provider used;   /* NONE: read the origin itself */
    const char *why;               /* how auto chose, for the user */
    struct p2v_snap_record rec;    /* when used != NONE */
    struct stat origin_st;         /* reflink: the origin at the moment cloned */
    /* The snapshot, open since it was made (the clone, the LV), or a p2v
     * snapshot given as the source, checked against its record; or -1.
     * What is read is this, never its name, which others may reach. */
    int fd;
};

int p2v_snap_provider_parse(const char *s, enum p2v_snap_provider *p);
const char *p2v_snap_provider_name(enum p2v_snap_provider p);

/* Takes a snapshot of origin (canonical path) as o says.  NONE is a valid
 * outcome of auto (nothing to release, but s->fd may hold the origin when
 * it is a recorded snapshot).  0 or -errno with a message. */
int p2v_snapshot_take(const char *origin, const struct p2v_snap_opts *o,
                      struct p2v_snapshot *s);
/* Closes s->fd and removes the snapshot unless it is kept. */
int p2v_snapshot_release(struct p2v_snapshot *s);
/* Removes a recorded snapshot whatever its keep flag.  A clone whose name
 * now holds another file (not the recorded inode, or not the caller's) is
 * left alone, with a warning, and only the record goes. */
int p2v_snapshot_delete(const struct p2v_snap_record *r);

#endif
