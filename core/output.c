#include "output.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int p2v_write_output(const char *path, mode_t mode, void (*write)(FILE *f, const void *ctx),
                     const void *ctx)
{
    if (!path || !strcmp(path, "-")) {
        write(stdout, ctx);
        return 0;
    }
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        p2v_err("creating %s failed: %s; check that its directory exists and is writable",
                path, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && fchmod(fd, mode) == 0;
    if (f) {
        write(f, ctx);
        ok = ok && fflush(f) == 0 && !ferror(f) && fsync(fd) == 0;
        ok = fclose(f) == 0 && ok;
    } else {
        close(fd);
    }
    if (ok && rename(tmp, path) == 0) {
        free(tmp);
        return 0;
    }
    p2v_err("writing %s failed: %s", path, strerror(errno ? errno : EIO));
    unlink(tmp);
    free(tmp);
    return -1;
}
