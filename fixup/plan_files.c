/* A plan's local files (file-put, inject-driver, firstboot,
 * disable-vendor-services FILE), opened as the plan's owner would open them.
 * A plan written by someone else and applied by root can then bring into
 * the image only what its owner could read: not a world-readable file in a
 * directory closed to them, not root's 0600 files.  When the owner is not
 * the caller, a child process takes the owner's user and groups, opens the
 * file, and hands the descriptor back over a socket: the kernel judges,
 * ACLs and all.  The kernel's own files (/proc, /sys, /dev) are refused
 * whoever asks: /proc/kallsyms reads differently for root. */
#define _GNU_SOURCE
#include "plan_files.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_GROUPS 256

static int open_flags(void)
{
    /* Non-blocking: a FIFO swapped in after the checks does not hang. */
    return O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
}

static int send_result(int sock, int fd, int err)
{
    char byte = 0;
    struct iovec iov = { &err, sizeof err };
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    (void)byte;
    if (fd >= 0) {
        msg.msg_control = u.b;
        msg.msg_controllen = sizeof u.b;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof err ? 0 : -1;
}

static int recv_result(int sock, int *fd)
{
    int err = EIO;
    struct iovec iov = { &err, sizeof err };
    union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                          .msg_controllen = sizeof u.b };
    *fd = -1;
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof err)
        return -EIO;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(c), sizeof *fd);
    if (err == 0 && *fd < 0)
        return -EIO;
    return -err;
}

/* Opens path as uid with its groups. */
static int open_as(uid_t uid, gid_t gid, const char *path, int *fd)
{
    gid_t groups[MAX_GROUPS];
    int ngroups = 1;
    groups[0] = gid;
    /* Looked up before fork: NSS is not for a forked child. */
    struct passwd *pw = getpwuid(uid);
    if (pw) {
        gid = pw->pw_gid;
        ngroups = MAX_GROUPS;
        if (getgrouplist(pw->pw_name, gid, groups, &ngroups) < 0)
            ngroups = 1, groups[0] = gid;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return -e;
    }
    if (pid == 0) {
        close(sv[0]);
        int f = -1, err = 0;
        if (setgroups((size_t)ngroups, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0)
            err = errno ? errno : EPERM;
        else if ((f = open(path, open_flags())) < 0)
            err = errno;
        _exit(send_result(sv[1], f, err) == 0 ? 0 : 1);
    }
    close(sv[1]);
    int r = recv_result(sv[0], fd);
    close(sv[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return r;
}

/* The kernel's pseudo-filesystems, by type, and /dev by name. */
static int kernel_file(int fd, const char *path)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) == 0) {
        switch ((unsigned long)sf.f_type) {
        case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case DEBUGFS_MAGIC: case SECURITYFS_MAGIC:
        case TRACEFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
        case DEVPTS_SUPER_MAGIC: case BPF_FS_MAGIC: case EFIVARFS_MAGIC:
            return 1;
        }
    }
    char real[4096];
    return realpath(path, real) && !strncmp(real, "/dev/", 5);
}

int p2v_plan_open_local(const struct p2v_plan *plan, const struct p2v_action *a,
                        const char *path, int *fd)
{
    struct stat ps, fs;
    *fd = -1;
    if (stat(plan->path, &ps) < 0)
        return -errno;
    /* Not even opened unless regular: a FIFO would block the open. */
    if (stat(path, &fs) == 0 && !S_ISREG(fs.st_mode)) {
        p2v_err("plan %s line %d (%s): %s is not a regular file", plan->path, a->line,
                a->argv[0], path);
        return -EINVAL;
    }
    int r = ps.st_uid == geteuid() ? 0 : open_as(ps.st_uid, ps.st_gid, path, fd);
    if (ps.st_uid == geteuid() && (*fd = open(path, open_flags())) < 0)
        r = -errno;
    if (r == -EACCES || r == -EPERM) {
        p2v_err("plan %s line %d (%s): the plan's owner (uid %u) cannot read %s; p2v reads a "
                "plan's files as its owner would, so a plan cannot bring into the image what its "
                "owner could not read. Copy the file next to the plan, readable by its owner, if "
                "it belongs there", plan->path, a->line, a->argv[0], (unsigned)ps.st_uid, path);
        return -EACCES;
    }
    if (r < 0) {
        p2v_err("plan %s line %d (%s): %s: %s", plan->path, a->line, a->argv[0], path,
                strerror(-r));
        return r == -ENOENT ? -ENOENT : r;
    }
    if (fstat(*fd, &fs) < 0 || !S_ISREG(fs.st_mode) || kernel_file(*fd, path)) {
        p2v_err("plan %s line %d (%s): %s is %s", plan->path, a->line, a->argv[0], path,
                S_ISREG(fs.st_mode) ? "one of the kernel's files (/proc, /sys, /dev): a plan "
                                      "may not copy those into the image"
                                    : "not a regular file");
        close(*fd);
        *fd = -1;
        return -EINVAL;
    }
    /* Back to blocking reads for the caller. */
    int fl = fcntl(*fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
    return 0;
}
