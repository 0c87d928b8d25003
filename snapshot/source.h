/* The bottom layer: a raw disk image file or a block device, read-only.
 * Reads are plain pread(2), so any number of threads can read at once
 * without a lock.  Aligned reads use O_DIRECT: the FUSE view caches the
 * image already, and a second cached copy of the source would cost a copy
 * per byte and memory (measured: a quarter of the CPU time). */
#ifndef P2V_SOURCE_H
#define P2V_SOURCE_H

#include "core/layer.h"

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define P2V_SECTOR 512u

struct p2v_source_info {
    char path[4096];          /* canonical (realpath) */
    int is_blockdev;
    uint64_t real_size;       /* bytes the source really has */
    uint64_t size;            /* size of the layer (real_size, padded with --pad) */
    uint32_t logical_sector;  /* 512 for files; the device's for block devices */
    uint32_t physical_sector;
    struct timespec mtime;
    struct timespec ctime;
    dev_t rdev;
};

enum {
    P2V_SOURCE_PAD = 1,     /* zero-pad a size that is not a multiple of 512 */
    P2V_SOURCE_CACHED = 2,  /* read through the page cache, not with O_DIRECT */
};

/* Opens and checks path; prints a clear message on failure.  0 or -errno. */
int p2v_source_open(const char *path, unsigned flags, struct p2v_layer **out,
                    struct p2v_source_info *info);
/* The same from a descriptor open for reading, which the layer then owns
 * (closed on failure too); name is what messages and info->path say. */
int p2v_source_open_fd(int fd, const char *name, unsigned flags, struct p2v_layer **out,
                       struct p2v_source_info *info);

#endif
