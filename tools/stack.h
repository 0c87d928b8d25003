/* Builds the data path for one source:
 *   source -> disk layout -> [COW overlay] -> allocation map (disk.raw)
 *          -> VHD encoder (disk.vhd)
 * and derives the image's identity (UUIDv5, timestamp) from the source. */
#ifndef P2V_STACK_H
#define P2V_STACK_H

#include "core/layer.h"
#include "layout/layout_plan.h"
#include "snapshot/snapview.h"

struct p2v_stack_opts {
    int dynamic;
    struct p2v_srcview_opts src;  /* snapshot, source format, bad sectors, live */
    int quiet;              /* no progress output */
    struct p2v_layout_opts layout;
    const char *state;      /* job state directory with the overlay; NULL: none */
    int writable;           /* the overlay takes writes (created if missing) */
    int dry_run;            /* the overlay takes writes in memory only */
    int no_image;           /* inspection only: no VHD layer, so no VHD limits
                             * (vhd is then the disk itself) */
    int image;              /* P2V_IMAGE_AUTO, _VHD or _VHDX */
    uint32_t block_size;    /* VHDX block size; 0: 32 MiB */
};

/* The image format: auto picks VHDX for a UEFI disk (GPT with an EFI
 * System Partition), 4096-byte sectors, or a disk over the VHD limit. */
enum { P2V_IMAGE_AUTO, P2V_IMAGE_VHD, P2V_IMAGE_VHDX };

/* What the image file is, whichever the format. */
struct p2v_image_layout {
    int vhdx;
    uint64_t file_size;
    uint32_t block_size;
    uint64_t blocks_total, blocks_present;
};

struct p2v_stack {
    struct p2v_srcview sv;   /* the snapshot view: snapshot, guard, bad sectors */
    struct p2v_source_info src;  /* = sv.info: the source as the user named it */
    struct p2v_layer *disk;  /* the virtual disk as plain bytes */
    struct p2v_layer *vhd;   /* the image file (VHD or VHDX); owns the layers below */
    int vhdx;                /* the image is a VHDX (disk.vhdx) */
    uint8_t unique_id[16];
    uint32_t timestamp;
    struct timespec mtime;   /* shown on the view's files: the timestamp's time */
    struct p2v_partition_table *table;  /* what the source holds */
    struct p2v_wrap wrap;    /* how a bare volume became a disk */
    uint8_t base_id[16];     /* the source and layout options: what an overlay binds to */
    struct p2v_layer *overlay;  /* the COW overlay, when a state directory is used */
};

int p2v_stack_open(const char *source, const struct p2v_stack_opts *o, struct p2v_stack *s);
void p2v_stack_close(struct p2v_stack *s);
void p2v_stack_image(const struct p2v_stack *s, struct p2v_image_layout *out);
/* 1 if the table describes a UEFI disk: GPT with an EFI System Partition. */
int p2v_table_uefi(const struct p2v_partition_table *t);

struct p2v_windows;
struct p2v_gfs;
/* Finds Windows on the stack's disk (the overlay when there is one), with
 * a message when there is none.  gfs: as p2v_windows_find. */
int p2v_stack_windows(struct p2v_stack *s, struct p2v_layer *disk, int rw,
                      struct p2v_windows *w, struct p2v_gfs **gfs);

#endif
