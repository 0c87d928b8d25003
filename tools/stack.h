/* Builds the data path for one source:
 *   snapshot view -> disk layout -> [COW overlay] -> allocation map (disk.raw)
 *          -> image encoder (disk.vhd or disk.vhdx)
 * and derives the image's identity (UUIDv5, timestamp) from the source. */
#ifndef P2V_STACK_H
#define P2V_STACK_H

#include "core/layer.h"
#include "layout/layout_plan.h"
#include "snapshot/snapview.h"
#include "vhdwriter/image_format.h"

struct p2v_stack_opts {
    int dynamic;
    struct p2v_srcview_opts src;  /* snapshot, source format, bad sectors, live */
    int quiet;              /* no progress output */
    struct p2v_layout_opts layout;
    const char *state;      /* job state directory with the overlay; NULL: none */
    int writable;           /* the overlay takes writes (created if missing) */
    int dry_run;            /* the overlay takes writes in memory only */
    int no_image;           /* inspection only: no image layer, so no format limits
                             * (image is then the disk itself) */
    int ignore_hive_logs;   /* a dirty hive whose logs cannot be replayed is used as it is */
    enum p2v_image_kind image;  /* --format */
    uint32_t block_size;    /* --block-size; 0: the format's default */
};

struct p2v_stack {
    struct p2v_srcview sv;   /* the snapshot view: snapshot, guard, bad sectors */
    struct p2v_source_info src;  /* = sv.info: the source as the user named it */
    struct p2v_layer *disk;  /* the virtual disk as plain bytes (the allocation map) */
    struct p2v_layer *image; /* the image file; the disk itself with no_image */
    struct p2v_layer *top;   /* the highest layer built: it owns those below */
    const struct p2v_image_format *format;  /* NULL with no_image */
    uint8_t unique_id[16];
    uint32_t timestamp;
    struct timespec mtime;   /* shown on the view's files: the timestamp's time */
    struct p2v_partition_table *table;  /* what the source holds */
    struct p2v_wrap wrap;    /* how a bare volume became a disk */
    uint8_t base_id[16];     /* the source and layout options: what an overlay binds to */
    struct p2v_layer *overlay;  /* the COW overlay, when a state directory is used */
    unsigned windows_flags;  /* how its Windows is opened (P2V_WIN_*, guest/windows.h) */
};

/* 0, or -errno with a message; a stack that fails half-way is closed. */
int p2v_stack_open(const char *source, const struct p2v_stack_opts *o, struct p2v_stack *s);
/* Closes what is open of s (also a half-built stack, and twice). */
void p2v_stack_close(struct p2v_stack *s);
void p2v_stack_image(const struct p2v_stack *s, struct p2v_image_layout *out);
/* The disk as the layout planned it, read through layer (the stack's disk,
 * or its overlay). */
struct p2v_disk_view p2v_stack_view(const struct p2v_stack *s, struct p2v_layer *layer);

struct p2v_windows;
struct p2v_gfs;
/* Finds Windows on layer (the stack's disk or its overlay), with a message
 * when there is none.  gfs: as p2v_windows_find. */
int p2v_stack_windows(struct p2v_stack *s, struct p2v_layer *layer, int rw,
                      struct p2v_windows *w, struct p2v_gfs **gfs);

/* For a bare volume made a disk: 1 if the volume's boot sector holds
 * code for p2v's boot code to start, 0 if it is blank (a Linux filesystem:
 * the disk will not boot), -1 if it cannot be read.  1 when not wrapped. */
int p2v_stack_volume_boots(const struct p2v_stack *s);

struct p2v_machine;
/* Opens source with o (made read-only and inspection-only here), takes
 * its inventory and closes it again.  m is allocated (free it). */
int p2v_inventory_source(const char *source, struct p2v_stack_opts *o, struct p2v_machine **m);

#endif
