#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int p2v_spawn(char *const argv[], char *const env[], int timeout_ms)
{
    /* Report exec failures through a close-on-exec pipe. */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(2, 1);  /* stdout may be p2v's --json */
        for (int i = 0; env && env[i]; i++)
            putenv(env[i]);
        execve(argv[0], argv, environ);
        int e = errno;
        ssize_t w = write(pfd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(pfd[1]);
    int e = 0;
    ssize_t n = read(pfd[0], &e, sizeof e);
    close(pfd[0]);
    long long deadline = timeout_ms ? now_ms() + timeout_ms : 0;
    int status, r = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, timeout_ms ? WNOHANG : 0);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            r = -errno;
            break;
        }
        if (timeout_ms && now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return -ETIMEDOUT;
        }
        if (timeout_ms) {
            struct timespec ts = { 0, 10 * 1000000 };
            nanosleep(&ts, NULL);
        }
    }
    if (r < 0)
        return r;
    if (n == (ssize_t)sizeof e && e)
        return -e;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -ECHILD;
}
