#define _GNU_SOURCE
#include "commands.h"

#include "core/log.h"
#include "core/mountinfo.h"
#include "snapshot/registry.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
    (void)sig;  /* only interrupts flock */
}

/* Waits (bounded) for an exclusive lock on fd, which the holder releases
 * when it is done; what names it in the warning. */
static void wait_lock(int fd, const char *what)
{
    struct sigaction sa = { .sa_handler = on_alarm }, old;  /* no SA_RESTART */
    sigaction(SIGALRM, &sa, &old);
    alarm(30);
    if (flock(fd, LOCK_EX) == 0)
        flock(fd, LOCK_UN);
    else
        p2v_warn("%s is still in use 30 s after unmounting", what);
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
}

/* The view's process saves its last writes and lets go of its state
 * directory after the kernel has let go of the mount: wait for that (an
 * exclusive lock is free once it has), so that what comes next (an apply,
 * another mount) finds the state complete and free.  Bounded: another
 * mount of the same state would hold it for good. */
static void wait_for_state(const char *dir)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char what[PATH_MAX + 64];
    snprintf(what, sizeof what, "state directory %s (another mount of it?)", dir);
    wait_lock(fd, what);
    close(fd);
}

/* Snapshots this mount releases (not kept): their ids, before unmounting. */
static int releasing(const char *mnt, char ids[][32], int max)
{
    struct p2v_snap_record *all;
    int n = p2v_registry_list(&all), k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (!all[i].keep && !strcmp(all[i].mountpoint, mnt))
            snprintf(ids[k++], 32, "%s", all[i].id);
    if (n > 0)
        free(all);
    return k;
}

/* The view's process deletes its snapshot once the kernel has let go of
 * the mount: wait (bounded) until it has, so the clone is gone when
 * p2v umount returns. */
static void wait_for_release(char ids[][32], int n)
{
    struct timespec t = { 0, 20 * 1000000 };
    if (n == 0)
        return;
    for (int tries = 0; tries < 1500; tries++) {
        struct p2v_snap_record *all;
        int m = p2v_registry_list(&all), left = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                left += !strcmp(all[i].id, ids[j]);
        if (m > 0)
            free(all);
        if (left == 0 || m < 0)
            return;
        nanosleep(&t, NULL);
    }
    p2v_warn("the snapshot of this mount is still there 30 s after unmounting; "
             "p2v snapshot list shows it");
}

struct umount_opts {
    char mnt[PATH_MAX];
};

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct umount_opts *o)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: p2v umount [--] MOUNTPOINT\nUnmounts a p2v view (as fusermount3 -u does).");
        return -1;
    }
    /* "--" ends the options: a mount point may start with '-'. */
    if (argc == 3 && !strcmp(argv[1], "--")) {
        argc--;
        argv++;
    } else if (argc == 2 && argv[1][0] == '-' && argv[1][1]) {
        fprintf(stderr, "%s: unrecognized option '%s'\n", argv[0], argv[1]);
        return option_hint(argv);
    }
    if (argc != 2) {
        fprintf(stderr, "usage: p2v umount [--] MOUNTPOINT\n");
        return 2;
    }
    if (!realpath(argv[1], o->mnt)) {
        p2v_err("mount point %s: %s", argv[1], strerror(errno));
        return 1;
    }
    return 0;
}

/* What the view's process lets go of after the kernel lets go of the
 * mount: its source, its state directory, its snapshots. */
struct held {
    int view;                /* the view's lock, or -1 */
    const char *state;       /* its state directory, or NULL */
    char ids[8][32];         /* the snapshots it releases */
    int nids;
};

static void wait_for_view(const char *mnt, struct held *h)
{
    char what[PATH_MAX + 64];
    snprintf(what, sizeof what, "the source of the view on %s", mnt);
    if (h->view >= 0)
        wait_lock(h->view, what);
    if (h->state)
        wait_for_state(h->state);
    wait_for_release(h->ids, h->nids);
}

/* Unprivileged: the setuid helper checks that we own the mount. */
static int fusermount(const char *mnt)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", "--", mnt, (char *)NULL);
        p2v_err("cannot run fusermount3: %s", strerror(errno));
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int run(struct umount_opts *o)
{
    const char *mnt = o->mnt;
    char fstype[64] = "";
    int r = p2v_mountinfo_find(mnt, fstype, sizeof fstype, NULL, 0);
    if (r <= 0) {
        p2v_err("%s is not mounted", mnt);
        return 1;
    }
    if (strcmp(fstype, "fuse.p2v") != 0) {
        p2v_err("%s is a %s mount, not a p2v view; not touching it", mnt, fstype);
        return 1;
    }
    char source[PATH_MAX + 16] = "";
    p2v_mountinfo_source(mnt, source, sizeof source);
    struct held h = { .state = !strncmp(source, "p2v:/", 5) ? source + 4 : NULL };
    /* A view whose process died releases nothing: no wait then. */
    struct stat st;
    int dead = stat(mnt, &st) < 0 && errno == ENOTCONN;
    h.nids = dead ? 0 : releasing(mnt, h.ids, 8);
    /* The view's process, which closes its source as it exits. */
    h.view = dead ? -1 : p2v_registry_view_lock(mnt, 0);
    if (geteuid() != 0) {
        if (fusermount(mnt) < 0)
            return 1;
    } else if (umount2(mnt, UMOUNT_NOFOLLOW) < 0) {
        p2v_err("unmounting %s failed: %s%s", mnt, strerror(errno),
                errno == EBUSY ? "; close the files open on it and try again" : "");
        return 1;
    }
    wait_for_view(mnt, &h);
    return 0;
}

int cmd_umount(int argc, char **argv)
{
    struct umount_opts o;
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
