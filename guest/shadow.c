#define _GNU_SOURCE
#include "shadow.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Messages on the socket: a u64 length and the bytes; replies: the i32
 * result of the operation in the twin. */

static int io_all(int fd, void *p, size_t len, int out)
{
    uint8_t *b = p;
    while (len) {
        ssize_t n = out ? send(fd, b, len, MSG_NOSIGNAL) : recv(fd, b, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        b += n;
        len -= (size_t)n;
    }
    return 0;
}

_Noreturn static void twin(int sock, p2v_shadow_fn fn, void *ctx)
{
    /* abort's default action (a sanitizer's or a fuzzer's handler would
     * turn it into an exit); the library's own message is not for the
     * user; no core file. */
    signal(SIGABRT, SIG_DFL);
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (nul >= 0)
        dup2(nul, 2);
    /* Nothing else of the process: another twin's socket kept here would
     * hide that twin's end from it (and deadlock its reaping), and a lock
     * or a source must not outlive the process in us. */
    if (close_range(3, (unsigned)sock - 1, 0) < 0 || close_range((unsigned)sock + 1, ~0u, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);  /* kernels before 5.9 */
        for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
            if (fd != sock)
                close(fd);
    }
    for (;;) {
        uint64_t len;
        if (io_all(sock, &len, sizeof len, 0) < 0 || len > (64u << 20))
            _exit(0);  /* the process closed us (or is gone) */
        void *msg = malloc(len ? len : 1);
        if (!msg || io_all(sock, msg, len, 0) < 0)
            _exit(0);
        int32_t r = fn(ctx, msg, len);
        free(msg);
        if (io_all(sock, &r, sizeof r, 1) < 0)
            _exit(0);
    }
}

static int start(struct p2v_shadow *s, p2v_shadow_fn fn, void *ctx)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int r = -errno;
        close(sv[0]);
        close(sv[1]);
        return r;
    }
    if (pid == 0) {
        close(sv[0]);
        twin(sv[1], fn, ctx);
    }
    close(sv[1]);
    s->pid = pid;
    s->sock = sv[0];
    return 0;
}

/* Reaps the twin: the signal that ended it, else 0. */
static int reap(struct p2v_shadow *s)
{
    int st = 0;
    pid_t w;
    /* shutdown, not only close: it ends the connection even if some other
     * process holds a copy of our end, so the twin sees it and exits. */
    shutdown(s->sock, SHUT_RDWR);
    close(s->sock);
    do
        w = waitpid(s->pid, &st, 0);
    while (w < 0 && errno == EINTR);
    s->pid = 0;
    s->sock = -1;
    return w > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

int p2v_shadow_try(struct p2v_shadow *s, p2v_shadow_fn fn, void *ctx, const void *msg,
                   size_t len)
{
    int r = s->pid > 0 ? 0 : start(s, fn, ctx);
    if (r < 0)
        return r;
    uint64_t n = len;
    int32_t res;
    r = io_all(s->sock, &n, sizeof n, 1);
    if (r == 0)
        r = io_all(s->sock, (void *)msg, len, 1);
    if (r == 0)
        r = io_all(s->sock, &res, sizeof res, 0);
    if (r == 0) {
        s->last = res;
        return 0;
    }
    /* No answer: the operation ended the twin. */
    int sig = reap(s);
    return sig > 0 ? sig : r;
}

void p2v_shadow_made(struct p2v_shadow *s, int result)
{
    if (s->pid > 0 && result != s->last)
        reap(s);
}

void p2v_shadow_stop(struct p2v_shadow *s)
{
    if (s->pid > 0)
        reap(s);
}
