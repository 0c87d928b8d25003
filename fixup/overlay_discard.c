/* Whether a state directory holds an overlay, and removing it: on libc,
 * not the overlay's I/O table, since neither is part of a commit. */
#include "overlay.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int p2v_overlay_exists(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s/overlay.index", dir);
    return n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0;
}

int p2v_overlay_discard(const char *dir)
{
    static const char *const files[] = { "overlay.index", "overlay.index.tmp", "overlay.data",
                                         "fixups.json", "fixups.json.tmp" };
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        int r = -errno;
        p2v_err("state directory %s: %s", dir, strerror(-r));
        return r;
    }
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        p2v_err("state directory %s is in use (mounted, or a fix-up is being applied); "
                "unmount it first", dir);
        return -EBUSY;
    }
    int r = 0;
    /* The index first, and its removal synced before the data goes: a
     * power loss must not keep an index whose data is gone.  Without the
     * index the state is empty, whatever remains. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (unlink(path) < 0 && errno != ENOENT && r == 0) {
            r = -errno;
            p2v_err("%s: cannot remove it: %s", path, strerror(-r));
        }
        if ((i == 0 || i + 1 == sizeof files / sizeof *files) && r == 0 &&
            (dfd < 0 || fsync(dfd) < 0)) {
            r = -errno;
            p2v_err("state directory %s: syncing it failed: %s", dir, strerror(-r));
        }
    }
    if (dfd >= 0)
        close(dfd);
    if (fd >= 0)
        close(fd);
    return r;
}
