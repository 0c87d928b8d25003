/* Layout planning: from the probed partition table and the user's options
 * to the disk layout layer over the source.  It decides what reads as
 * zeros (free clusters, pagefiles, partitions left out with --volumes),
 * which table entries disappear (--drop-unselected), and how a bare volume
 * becomes a disk (an MBR, or a GPT with --gpt or when an MBR cannot
 * address it). */
#ifndef P2V_LAYOUT_PLAN_H
#define P2V_LAYOUT_PLAN_H

#include "core/layer.h"
#include "guest/volume.h"
#include "partitions.h"

struct p2v_layout_opts {
    int keep_free_space;    /* copy free clusters too (forensics) */
    unsigned fs_flags;      /* P2V_FS_* */
    const char *volumes;    /* "1,3": only these partitions' data; NULL: all */
    int drop_unselected;    /* with volumes: also remove the others' table entries */
    int volume;             /* the source is one volume, even if it looks partitioned */
    uint64_t offset;        /* where a bare volume goes in its new disk; 0: 1 MiB */
    int have_signature;
    uint32_t disk_signature; /* of the MBR made around a bare volume */
    int gpt;                /* wrap a bare volume in GPT rather than MBR */
};

/* How a bare volume was wrapped; offset 0 when it was not. */
struct p2v_wrap {
    uint64_t offset;
    int gpt;
    uint32_t signature;     /* MBR */
    uint8_t disk_guid[16];  /* GPT, RFC 4122 byte order */
};

/* Builds the disk layout layer over src (the source disk, size src->size;
 * name used in messages and to derive identifiers).  Fills t's filesystem
 * usage.  On success *out owns src; on failure src is left open and a
 * message has been printed. */
int p2v_layout_plan(struct p2v_layer *src, const char *name, struct p2v_partition_table *t,
                    const struct p2v_layout_opts *o, struct p2v_wrap *wrap,
                    struct p2v_layer **out);

/* The volumes of the planned disk (guest/volume.h): its data partitions,
 * or the wrapped volume.  t describes the disk, wrapped at wrap->offset
 * when set, with vol_size bytes.  Returns how many (at most max). */
int p2v_layout_volumes(const struct p2v_partition_table *t, const struct p2v_wrap *wrap,
                       uint64_t vol_size, struct p2v_volume *out, int max);

/* The disk as the layout planned it, for what looks inside it (inventory,
 * inspection, fix-ups): its bytes and what they hold. */
struct p2v_disk_view {
    struct p2v_layer *layer;                  /* the disk's bytes (with the overlay, if any) */
    const struct p2v_partition_table *table;  /* the source's table and filesystems */
    const struct p2v_wrap *wrap;              /* how a bare volume became a disk */
    uint64_t source_size;                     /* the source's bytes: a wrapped volume's size */
    uint32_t logical_sector;
    const char *name;                         /* the source, for messages */
    unsigned windows_flags;                   /* how to open its Windows (guest/windows.h) */
};

/* p2v_layout_volumes of a disk view. */
int p2v_disk_view_volumes(const struct p2v_disk_view *v, struct p2v_volume *out, int max);

/* The biggest disk an MBR describes: 2^32 - 1 sectors of 512 bytes. */
#define P2V_MBR_MAX_SECTORS 0xFFFFFFFFull

#endif
