#define _GNU_SOURCE
#include "log.h"
#include "plural.h"
#include "term_safe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum p2v_log_target target = P2V_LOG_STDERR;
static FILE *logfile;
static int quiet;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int p2v_log_open_file(const char *path)
{
    /* The log may name the source's paths and what was wrong with it: a
     * symlink planted by another user is not followed, the file is the
     * caller's own, and nobody else reads it. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;  /* -ELOOP: a symlink */
    struct stat st;
    int r = fstat(fd, &st) < 0          ? -errno
            : !S_ISREG(st.st_mode)      ? -EINVAL
            : st.st_uid != geteuid()    ? -EPERM
            : (st.st_mode & 077)        ? -EACCES : 0;
    if (r < 0) {
        close(fd);
        return r;
    }
    FILE *f = fdopen(fd, "ae");
    if (!f) {
        r = -errno;
        close(fd);
        return r;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    logfile = f;
    return 0;
}

void p2v_log_target(enum p2v_log_target t)
{
    if (t == P2V_LOG_SYSLOG)
        openlog("p2v", LOG_PID, LOG_DAEMON);
    if (t != P2V_LOG_FILE || logfile)
        target = t;
}

void p2v_log_quiet(int q)
{
    quiet = q;
}

static void stamp_to(FILE *f)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    fputs(stamp, f);
}

/* A damaged source can make one message repeat for every sector read:
 * each message (by its format) is shown LOG_REPEATS times, then counted,
 * and the counts are said at exit. */
#define LOG_REPEATS 20
#define LOG_SITES 64
static struct { const char *fmt, *tag; unsigned long n; char last[160]; } sites[LOG_SITES];

static void say_counts(void)
{
    pthread_mutex_lock(&lock);
    FILE *f = target == P2V_LOG_FILE && logfile ? logfile : stderr;
    for (int i = 0; i < LOG_SITES && sites[i].fmt; i++)
        if (sites[i].n > LOG_REPEATS) {
            if (target == P2V_LOG_SYSLOG)
                syslog(LOG_WARNING, "%lu more message%s like: %s", sites[i].n - LOG_REPEATS,
                       p2v_s(sites[i].n - LOG_REPEATS), sites[i].last);
            else
                fprintf(f, "p2v: %s%lu more message%s like this one %s not shown: %s\n",
                        sites[i].tag, sites[i].n - LOG_REPEATS, p2v_s(sites[i].n - LOG_REPEATS),
                        sites[i].n - LOG_REPEATS == 1 ? "was" : "were", sites[i].last);
        }
    pthread_mutex_unlock(&lock);
}

/* 1 when this message is past its repeats (lock held). */
static int repeated(const char *fmt, const char *tag, va_list ap)
{
    static int registered;
    for (int i = 0; i < LOG_SITES; i++) {
        if (!sites[i].fmt) {
            sites[i].fmt = fmt, sites[i].tag = tag;
        } else if (sites[i].fmt != fmt) {
            continue;
        }
        if (++sites[i].n == LOG_REPEATS) {
            va_list aq;
            va_copy(aq, ap);
            vsnprintf(sites[i].last, sizeof sites[i].last, fmt, aq);
            va_end(aq);
        }
        if (sites[i].n <= LOG_REPEATS)
            return 0;
        if (!registered++)
            atexit(say_counts);
        return 1;
    }
    return 0;  /* more call sites than the table: shown */
}

static void emit(int prio, const char *tag, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&lock);
    if (prio != LOG_DEBUG && repeated(fmt, tag, ap)) {
        pthread_mutex_unlock(&lock);
        return;
    }
    /* Rendered once, with control bytes escaped: a volume label or a guest
     * string must not drive the reader's terminal, nor start a fake line. */
    char *raw = NULL, *msg = NULL;
    if (vasprintf(&raw, fmt, ap) < 0)
        raw = NULL;
    size_t need = raw ? 4 * strlen(raw) + 1 : 0;
    if (raw && (msg = malloc(need)) != NULL)
        p2v_term_safe(raw, msg, need, 0);
    if (!msg) {
        free(raw);
        pthread_mutex_unlock(&lock);
        return;  /* out of memory: nothing sensible to say */
    }
    if (target == P2V_LOG_SYSLOG) {
        syslog(prio, "%s", msg);
    } else {
        FILE *f = target == P2V_LOG_FILE ? logfile : stderr;
        /* Before a mount goes to the background, --log FILE gets a copy:
         * the file then holds the whole story (bad sectors found by the
         * scan at mount time, say). */
        if (target == P2V_LOG_STDERR && logfile) {
            stamp_to(logfile);
            fprintf(logfile, "p2v: %s%s\n", tag, msg);
        }
        if (target == P2V_LOG_FILE)
            stamp_to(f);
        fprintf(f, "p2v: %s%s\n", tag, msg);
    }
    free(raw);
    free(msg);
    pthread_mutex_unlock(&lock);
}

void p2v_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(LOG_ERR, "error: ", fmt, ap);
    va_end(ap);
}

void p2v_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

void p2v_note(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(LOG_INFO, "", fmt, ap);
    va_end(ap);
}

void p2v_trace(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(LOG_DEBUG, "trace: ", fmt, ap);
    va_end(ap);
}
