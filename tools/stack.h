/* Builds the data path for one source:
 *   source -> allocation map (disk.raw) -> VHD encoder (disk.vhd)
 * and derives the image's identity (UUIDv5, timestamp) from the source. */
#ifndef P2V_STACK_H
#define P2V_STACK_H

#include "../core/layer.h"
#include "../fixup/partitions.h"
#include "../snapshot/source.h"

struct p2v_stack_opts {
    int dynamic;
    unsigned source_flags;  /* P2V_SOURCE_* */
    int quiet;              /* no progress output */
    int keep_free_space;    /* copy free clusters too (forensics) */
    unsigned fs_flags;      /* P2V_FS_* */
    const char *volumes;    /* "1,3": only these partitions' data; NULL: all */
    int drop_unselected;    /* with volumes: also remove the others' table entries */
    int volume;             /* the source is one volume, even if it looks partitioned */
    uint64_t offset;        /* where a bare volume goes in its new disk; 0: 1 MiB */
    int have_signature;
    uint32_t disk_signature; /* of the MBR made around a bare volume */
};

struct p2v_stack {
    struct p2v_source_info src;
    struct p2v_layer *disk;  /* the virtual disk as plain bytes */
    struct p2v_layer *vhd;   /* the image file; owns the layers below */
    uint8_t unique_id[16];
    uint32_t timestamp;
    struct timespec mtime;   /* shown on the view's files: the timestamp's time */
    struct p2v_partition_table *table;  /* what the source holds */
    uint64_t wrap_offset;    /* a bare volume was put in a new MBR disk here; 0: not */
    uint32_t disk_signature; /* of that MBR */
};

int p2v_stack_open(const char *source, const struct p2v_stack_opts *o, struct p2v_stack *s);
void p2v_stack_close(struct p2v_stack *s);

#endif
