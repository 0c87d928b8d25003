/* The snapshot view: what the disk layout reads.  It opens the source as
 * asked (a snapshot of it, or the source itself when offline or allowed
 * live), as raw bytes or through libvhdi for a VHD/VHDX, and stacks the
 * bad-sector policy and the consistency guard on it:
 *
 *   source (raw | vhdi) -> bad sectors -> guard -> (disk layout)
 */
#ifndef P2V_SNAPVIEW_H
#define P2V_SNAPVIEW_H

#include "badsectors.h"
#include "holders.h"
#include "snapshot.h"
#include "source.h"
#include "vhdi_source.h"

struct p2v_srcview_opts {
    int take_snapshot;          /* mount, snapshot create: else never a snapshot */
    struct p2v_snap_opts snap;
    int allow_live;             /* read a source in use read-write (guarded) */
    enum p2v_bad_policy bad;
    enum p2v_source_format format;
    unsigned source_flags;      /* P2V_SOURCE_* */
};

struct p2v_srcview {
    struct p2v_source_info info;  /* info.path: the source the user named (canonical) */
    char read_from[4096];         /* what is read: the source or its snapshot */
    enum p2v_source_format format;
    struct p2v_snapshot snap;
    int live;                     /* in use read-write, read anyway (--allow-live) */
    char held_by[P2V_HOLDERS_MAX][P2V_HOLDER_LEN];
    int nheld;
    /* What names the data for the image identity: kind, path or hardware
     * id, size, mtime (of the origin, for a snapshot). */
    char ident[8192];
    /* A path libblkid can read the same bytes from (a snapshot's through
     * /proc/self/fd, never its name), or "" (then probe through the layer). */
    char probe_path[4096];
    /* The parents of a differencing VHD/VHDX: watched by the guard too. */
    char parents[8][4096];
    int nparents;
    struct p2v_layer *top;        /* the guard: what the layers above read */
    struct p2v_layer *bad;        /* the bad-sector layer, for the report */
};

/* 0 or -errno with a message.  On success v->top owns the layers. */
int p2v_srcview_open(const char *source, const struct p2v_srcview_opts *o,
                     struct p2v_srcview *v);
/* After the layers are closed: release the snapshot (unless kept). */
void p2v_srcview_release(struct p2v_srcview *v);

#endif
