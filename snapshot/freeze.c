#define _GNU_SOURCE
#include "freeze.h"

#include "core/log.h"
#include "core/spawn.h"
#include "core/mountinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_HOOKS 64

struct hooks {
    char path[MAX_HOOKS][PATH_MAX];
    int n;
};

/* Hooks run as root with the machine frozen: only programs nobody else
 * could have changed. */
static int trusted(const char *path, const struct stat *st)
{
    if (st->st_uid != 0 && st->st_uid != geteuid()) {
        p2v_err("hook %s is owned by uid %u, not by root or you: refused", path,
                (unsigned)st->st_uid);
        return 0;
    }
    if (st->st_mode & 022) {
        p2v_err("hook %s is writable by group or others: refused (chmod go-w)", path);
        return 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_hooks(const char *dir, struct hooks *h)
{
    h->n = 0;
    if (!dir)
        return 0;
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        p2v_err("--hooks %s: not a directory", dir);
        return -ENOTDIR;
    }
    if (!trusted(dir, &st))
        return -EPERM;
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char *names[MAX_HOOKS];
    int n = 0, r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == MAX_HOOKS) {
            p2v_err("--hooks %s: more than %d hooks", dir, MAX_HOOKS);
            r = -E2BIG;
            break;
        }
        names[n++] = strdup(e->d_name);
        if (!names[n - 1]) {
            r = -ENOMEM;
            n--;
            break;
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        free(names[i]);
        if (r < 0)
            continue;
        if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
            p2v_warn("--hooks: %s is not an executable file; skipped", p);
            continue;
        }
        if (!trusted(p, &st)) {
            r = -EPERM;
            continue;
        }
        snprintf(h->path[h->n++], PATH_MAX, "%s", p);
    }
    return r;
}

static int run_hook(const struct p2v_freeze_opts *o, const char *hook, const char *arg)
{
    char src[PATH_MAX + 16], frz[P2V_FREEZE_MAX * (PATH_MAX + 1) + 16];
    snprintf(src, sizeof src, "P2V_SOURCE=%s", o->source ? o->source : "");
    size_t n = (size_t)snprintf(frz, sizeof frz, "P2V_FREEZE=");
    for (int i = 0; i < o->nmounts && n < sizeof frz; i++)
        n += (size_t)snprintf(frz + n, sizeof frz - n, "%s%s", i ? " " : "", o->mounts[i]);
    char *env[] = { src, frz, NULL };
    char *argv[] = { (char *)hook, (char *)arg, NULL };
    int t = o->hook_timeout_s > 0 ? o->hook_timeout_s : 60;
    int r = p2v_spawn(argv, env, t * 1000);
    if (r == 0)
        return 0;
    if (r == -ETIMEDOUT)
        p2v_err("hook %s %s did not finish within %d s (--hook-timeout); killed", hook, arg, t);
    else if (r > 0)
        p2v_err("hook %s %s failed with exit status %d", hook, arg, r);
    else
        p2v_err("hook %s %s could not run: %s", hook, arg, strerror(r == -ECHILD ? EINTR : -r));
    return r > 0 ? -EIO : r;
}

/* Each --freeze target must be a mount point: FIFREEZE of a directory
 * would freeze the filesystem that happens to hold it. */
static int check_mounts(const struct p2v_freeze_opts *o)
{
    for (int i = 0; i < o->nmounts; i++) {
        char real[PATH_MAX];
        if (!realpath(o->mounts[i], real) ||
            p2v_mountinfo_find(real, NULL, 0, NULL, 0) != 1) {
            p2v_err("--freeze %s: not a mount point", o->mounts[i]);
            return -EINVAL;
        }
    }
    return 0;
}

static void thaw_all(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        ioctl(fds[i], FITHAW, 0);
}

/* The watchdog: waits for "done" from p2v.  End of file (p2v died, by any
 * signal) or the timeout: thaw.  On a timeout it tells p2v, which then
 * discards the snapshot.  It ignores terminal signals and leaves the
 * session, so a Ctrl-C or a kill of p2v's process group spares it. */
static void watchdog(int sock, const int *fds, int n, const struct p2v_freeze_opts *o)
{
    prctl(PR_SET_NAME, "p2v-thaw", 0, 0, 0);
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int timeout = (o->freeze_timeout_s > 0 ? o->freeze_timeout_s : 30) * 1000;
    struct pollfd p = { .fd = sock, .events = POLLIN };
    int r;
    do
        r = poll(&p, 1, timeout);
    while (r < 0 && errno == EINTR);
    char c = 0;
    if (r > 0 && read(sock, &c, 1) == 1 && c == 'D')
        _exit(0);
    thaw_all(fds, n);
    if (r == 0) {
        fprintf(stderr, "p2v-thaw: the freeze lasted longer than %d s (--freeze-timeout): "
                "thawed\n", timeout / 1000);
        ssize_t w = send(sock, "T", 1, MSG_NOSIGNAL);
        (void)w;
        _exit(1);
    }
    fprintf(stderr, "p2v-thaw: p2v ended during the freeze: thawed\n");
    _exit(2);
}

static pid_t start_watchdog(const int *fds, int n, const struct p2v_freeze_opts *o, int *sock)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* Keep only its end of the socket, the mount points and stderr. */
        for (int fd = 3; fd < 1024; fd++) {
            int keep = fd == sv[1];
            for (int i = 0; i < n; i++)
                keep |= fd == fds[i];
            if (!keep)
                close(fd);
        }
        watchdog(sv[1], fds, n, o);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -1;
    }
    *sock = sv[0];
    return pid;
}

/* Has the watchdog thawed already (the timeout)? */
static int timed_out(int sock, int wait_ms)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };
    return poll(&p, 1, wait_ms) > 0;
}

/* Tests hold the freeze open here to act while it lasts (until they close
 * the FIFO, or the watchdog's timeout). */
static void test_pause(int sock)
{
    const char *fifo = getenv("P2V_TEST_FREEZE_FIFO");
    if (!fifo || !*fifo)
        return;
    /* Only a FIFO of the caller's own: the variable must not make root
     * open whatever path someone else put there. */
    int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid() ||
                    fcntl(fd, F_SETFL, 0) < 0)) {
        close(fd);
        fd = -1;
    }
    char buf[64];
    while (fd >= 0) {
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = sock, .events = POLLIN } };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents || ((p[0].revents & (POLLIN | POLLHUP)) && read(fd, buf, sizeof buf) <= 0))
            break;
    }
    if (fd >= 0)
        close(fd);
}

static int freeze_and_snap(const struct p2v_freeze_opts *o, int (*snap)(void *), void *ctx)
{
    int fds[P2V_FREEZE_MAX], n = 0, frozen = 0, r = 0;
    for (; n < o->nmounts; n++) {
        if ((fds[n] = open(o->mounts[n], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
            r = -errno;
            p2v_err("cannot open %s to freeze it: %s", o->mounts[n], strerror(-r));
            break;
        }
    }
    int sock = -1;
    pid_t dog = r == 0 ? start_watchdog(fds, n, o, &sock) : 0;
    if (dog < 0) {
        r = -errno;
        p2v_err("cannot start the thaw watchdog: %s", strerror(-r));
    }
    for (; r == 0 && frozen < n; frozen++) {
        if (ioctl(fds[frozen], FIFREEZE, 0) < 0) {
            r = -errno;
            p2v_err("cannot freeze %s: %s%s", o->mounts[frozen], strerror(-r),
                    r == -EBUSY ? " (it is frozen already)"
                    : r == -EOPNOTSUPP ? " (its filesystem cannot be frozen)" : "");
        }
    }
    int late = 0;
    if (r == 0) {
        test_pause(sock);
        /* Past the timeout the filesystems are thawed: no snapshot then. */
        if (timed_out(sock, 0))
            late = 1;
        else
            r = snap(ctx);
    }
    /* Thaw ourselves; a filesystem that is not frozen any more was thawed
     * by the watchdog: the freeze ran out of time during the snapshot. */
    for (int i = 0; i < frozen; i++)
        if (ioctl(fds[i], FITHAW, 0) < 0 && errno == EINVAL)
            late = 1;
    if (dog > 0) {
        /* If this fails the watchdog is gone, and has thawed already. */
        ssize_t w = send(sock, "D", 1, MSG_NOSIGNAL);
        (void)w;
        int st = 0;
        while (waitpid(dog, &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
            late = 1;
        close(sock);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    if (late && r >= 0) {
        p2v_err("the freeze lasted longer than %d s (--freeze-timeout) and the watchdog thawed "
                "the filesystems before the snapshot was complete; it is discarded",
                o->freeze_timeout_s > 0 ? o->freeze_timeout_s : 30);
        return -ETIMEDOUT;
    }
    return r;
}

int p2v_freeze_run(const struct p2v_freeze_opts *o, int (*snap)(void *ctx), void *ctx)
{
    struct hooks *h = malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    int r = check_mounts(o), ran = 0;
    if (r == 0)
        r = list_hooks(o->hooks, h);
    /* A hook that fails may have quiesced part of its work: it counts as
     * run, and gets thaw too. */
    for (; r == 0 && ran < h->n; ran++)
        r = run_hook(o, h->path[ran], "freeze");
    if (r == 0)
        r = freeze_and_snap(o, snap, ctx);
    for (int i = ran - 1; i >= 0; i--) {
        int t = run_hook(o, h->path[i], "thaw");
        if (t < 0)
            p2v_warn("the application of hook %s may still be quiesced: check it", h->path[i]);
    }
    free(h);
    return r;
}
