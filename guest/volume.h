/* A volume of a disk, as what looks inside guests finds it: where it is
 * and what filesystem libblkid saw there.  The layout (layout/) lists a
 * disk's volumes; guest/ opens them. */
#ifndef P2V_VOLUME_H
#define P2V_VOLUME_H

#include <stdint.h>

struct p2v_volume {
    int number;             /* partition number; 1 for a wrapped volume */
    uint64_t start, size;   /* bytes on the disk */
    const char *fstype;     /* "ntfs", "BitLocker", ... or "" */
};

#endif
