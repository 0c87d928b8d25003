/* The disk's partition table and the filesystem in each partition, read
 * with libblkid, checked for what would make an image wrong: partitions
 * past the end of the disk, overlapping partitions, a GPT whose headers
 * are both damaged. */
#ifndef P2V_PARTITIONS_H
#define P2V_PARTITIONS_H

#include "scrub_unit.h"

#include <stddef.h>
#include <stdint.h>

#define P2V_MAX_PARTITIONS 128

struct p2v_filesystem {
    char type[24];         /* "ntfs", "ext4", ... ; "" when none was found */
    char label[64];
    char uuid[64];
    int mapped;            /* its free space is known (and reads as zeros) */
    uint64_t free_bytes;   /* free clusters */
    uint64_t pagefile_bytes;
    struct p2v_scrub_counts scrubbed;  /* deleted data removed from metadata */
    char state[16];        /* clean, hibernated, dirty, unclean; "" unknown */
};

struct p2v_partition {
    int number;            /* as the OS numbers it: 1-4 primary, 5.. logical */
    uint64_t start, size;  /* bytes */
    char type[40];         /* MBR: "0x07"; GPT: the type GUID */
    char name[80];         /* GPT partition name */
    char uuid[40];         /* GPT partition GUID */
    int bootable;          /* MBR active flag */
    int extended;          /* MBR extended container (holds the logicals) */
    struct p2v_filesystem fs;
};

struct p2v_partition_table {
    char type[16];         /* "dos", "gpt", or "" when there is no table */
    char id[40];           /* MBR disk signature or GPT disk GUID */
    int from_backup_gpt;   /* the primary GPT header was damaged */
    int backup_gpt_damaged;  /* the primary is used; the backup needs repair */
    int n;
    struct p2v_partition part[P2V_MAX_PARTITIONS];
    struct p2v_filesystem whole;  /* a filesystem on the bare disk, no table */
};

/* The type GUID of an EFI System Partition, as libblkid spells it. */
#define P2V_GPT_TYPE_ESP "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
/* 1 if t describes a disk that boots through UEFI: GPT with an EFI System
 * Partition. */
int p2v_table_uefi(const struct p2v_partition_table *t);

/* Reads the table of the disk at path (disk_size bytes; messages call it
 * name).  Prints a clear message and returns -errno when the table is
 * damaged or inconsistent.
 * as_volume (--volume): no table is looked for; the whole source is one
 * filesystem, described in t->whole. */
int p2v_partitions_probe(const char *path, const char *name, uint64_t disk_size, int as_volume,
                         struct p2v_partition_table *t);
struct p2v_patch;
struct p2v_layer;
/* Patches that clear the GPT entries of partitions whose keep[index] is 0,
 * in both copies of the GPT on disk l, with new CRCs.  *out is allocated
 * (free it). */
int p2v_gpt_drop(struct p2v_layer *l, const int *keep, struct p2v_patch **out, size_t *n);


/* Checks the backup GPT header and entries of a disk whose primary is
 * valid; warns and returns 1 if the backup is damaged, else 0. */
int p2v_gpt_check_backup(int fd, uint64_t disk_size, const char *path);
/* 1 if the primary GPT header is intact but places the backup (and so the
 * disk's end) past disk_size: a truncated image.  Sets *expected_lba. */
int p2v_gpt_truncated(int fd, uint64_t disk_size, uint64_t *expected_lba);

#endif
