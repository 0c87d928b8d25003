#define _GNU_SOURCE
#include "daemon.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ready_fd = -1;

/* The waiting parent: a byte means ready; end of file means the child
 * ended (or failed) before that, and its exit status is ours. */
_Noreturn static void wait_child(pid_t child, int fd)
{
    char c;
    ssize_t n;
    do
        n = read(fd, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1)
        _exit(0);
    int st;
    pid_t w;
    do
        w = waitpid(child, &st, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        _exit(1);
    if (WIFEXITED(st))
        _exit(WEXITSTATUS(st));
    _exit(128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
}

int p2v_daemon_start(void)
{
    int p[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) {
        int r = -errno;
        p2v_err("going to the background: socketpair: %s", strerror(-r));
        return r;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int r = -errno;
        p2v_err("going to the background: fork: %s", strerror(-r));
        close(p[0]);
        close(p[1]);
        return r;
    }
    if (pid > 0) {
        /* Only waiting here: a signal that ends the command may end it (the
         * child, in the same process group until it is ready, gets Ctrl-C
         * too and stops; a kill of this process alone leaves it serving). */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        close(p[1]);
        wait_child(pid, p[0]);
    }
    close(p[0]);
    ready_fd = p[1];
    return 0;
}

void p2v_daemon_ready(void)
{
    if (ready_fd < 0)
        return;
    /* Out of the terminal's session first, as fuse_daemonize does: once the
     * command has returned, a hangup of its terminal must not reach us. The
     * warnings still go to the terminal; nothing here fails in practice,
     * and if it does the view serves all the same. */
    if (setsid() < 0)
        p2v_warn("going to the background: setsid: %s", strerror(errno));
    if (chdir("/") < 0)
        p2v_warn("going to the background: chdir /: %s", strerror(errno));
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; nul >= 0 && fd <= 2; fd++)
        if (dup2(nul, fd) < 0)
            p2v_warn("going to the background: stdio on /dev/null: %s", strerror(errno));
    if (nul >= 0)
        close(nul);
    /* The parent may be gone (killed): a failed send is no error, and
     * MSG_NOSIGNAL keeps it from being fatal. */
    ssize_t n = send(ready_fd, "1", 1, MSG_NOSIGNAL);
    (void)n;
    close(ready_fd);
    ready_fd = -1;
}
