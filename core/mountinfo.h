/* Lookups in /proc/self/mountinfo, which never touch the mounted
 * filesystem itself (a stat of our own mount point would deadlock before
 * the session loop runs). */
#ifndef P2V_MOUNTINFO_H
#define P2V_MOUNTINFO_H

#include <stddef.h>

/* 1 and fills fstype/majmin if path (canonical) is a mount point, 0 if not,
 * -errno on failure.  Either output may be NULL. */
int p2v_mountinfo_find(const char *path, char *fstype, size_t fslen,
                       char *majmin, size_t mmlen);

/* The mount's source (FUSE's fsname); same returns. */
int p2v_mountinfo_source(const char *path, char *source, size_t len);

#endif
