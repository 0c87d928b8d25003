#define _GNU_SOURCE
#include "room.h"

#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The bytes of [from, size) that are not holes (SEEK_DATA/SEEK_HOLE; a
 * file without them is all data). */
static uint64_t data_bytes(int fd, uint64_t from, uint64_t size)
{
    uint64_t data = 0;
    for (uint64_t pos = from; pos < size;) {
        off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
        if (d < 0)
            return errno == ENXIO ? data : data + (size - pos);
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h < 0 || (uint64_t)h > size)
            h = (off_t)size;
        if ((uint64_t)d >= size)
            break;
        data += (uint64_t)(h - d);
        pos = (uint64_t)h;
    }
    return data;
}

int p2v_copy_room(int sfd, const char *src, uint64_t from, uint64_t size, int sparse,
                  const char *dest)
{
    uint64_t data = data_bytes(sfd, from, size);
    uint64_t need = sparse ? data : size - from;
    struct statvfs fs;
    if (statvfs(dest, &fs) < 0) {
        p2v_warn("cannot tell how much room %s has (%s); copying %llu bytes anyway", dest,
                 strerror(errno), (unsigned long long)need);
        return 0;
    }
    uint64_t avail = (uint64_t)fs.f_bavail * fs.f_frsize;
    if (need <= avail)
        return 0;
    char alt[200] = "";
    if (!sparse && data <= avail)
        snprintf(alt, sizeof alt, " (--sparse would need only the %llu bytes of data, but "
                 "Windows refuses sparse VHD/VHDX files)", (unsigned long long)data);
    p2v_err("%s has %llu bytes free, and the copy of %s needs %llu more bytes there%s; free "
            "at least %llu bytes there or commit to a directory with more room%s, then run "
            "p2v commit again", dest, (unsigned long long)avail, src, (unsigned long long)need,
            sparse ? " (its data: holes stay holes)" : "",
            (unsigned long long)(need - avail), alt);
    return -ENOSPC;
}
