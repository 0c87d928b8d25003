#define _GNU_SOURCE
#include "commands.h"

#include "../core/log.h"
#include "../fs/mountinfo.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

int cmd_umount(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: p2v umount MOUNTPOINT\nUnmounts a p2v view (as fusermount3 -u does).");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: p2v umount MOUNTPOINT\n");
        return 2;
    }
    char mnt[PATH_MAX], fstype[64] = "";
    if (!realpath(argv[1], mnt)) {
        p2v_err("mount point %s: %s", argv[1], strerror(errno));
        return 1;
    }
    int r = p2v_mountinfo_find(mnt, fstype, sizeof fstype, NULL, 0);
    if (r <= 0) {
        p2v_err("%s is not mounted", mnt);
        return 1;
    }
    if (strcmp(fstype, "fuse.p2v") != 0) {
        p2v_err("%s is a %s mount, not a p2v view; not touching it", mnt, fstype);
        return 1;
    }
    if (geteuid() == 0) {
        if (umount2(mnt, UMOUNT_NOFOLLOW) == 0)
            return 0;
        p2v_err("unmounting %s failed: %s%s", mnt, strerror(errno),
                errno == EBUSY ? "; close the files open on it and try again" : "");
        return 1;
    }
    /* Unprivileged: the setuid helper checks that we own the mount. */
    pid_t pid = fork();
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", "--", mnt, (char *)NULL);
        p2v_err("cannot run fusermount3: %s", strerror(errno));
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
