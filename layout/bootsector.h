/* Synthetic and patched sectors of the disk layout: the MBR p2v writes
 * around a bare volume, and the NTFS boot sector fields that must agree
 * with where the volume sits and the geometry the image advertises. */
#ifndef P2V_BOOTSECTOR_H
#define P2V_BOOTSECTOR_H

#include "disklayout.h"

extern const uint8_t p2v_mbr_code[440];  /* layout/mbr_boot.S, built by make */

/* An MBR with p2v's boot code and one active partition of the given type
 * covering [start_lba, start_lba+sectors), CHS from the disk geometry. */
void p2v_build_mbr(uint8_t mbr[512], uint32_t signature, uint8_t type, uint64_t start_lba,
                   uint64_t sectors, uint64_t disk_sectors);

/* Patches for the primary and backup NTFS boot sectors of the volume at
 * vol_off of l (placed at disk_lba on a disk of disk_sectors): hidden
 * sectors, sectors per track and heads.  Only sectors whose bytes change
 * are returned.  Returns the count (0..2) or -errno. */
int p2v_ntfs_boot_patches(struct p2v_layer *l, uint64_t vol_off, uint64_t vol_size,
                          uint64_t disk_lba, uint64_t disk_sectors, struct p2v_patch out[2]);

#endif
