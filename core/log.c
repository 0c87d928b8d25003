#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static enum p2v_log_target target = P2V_LOG_STDERR;
static FILE *logfile;
static int quiet;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int p2v_log_open_file(const char *path)
{
    FILE *f = fopen(path, "ae");
    if (!f)
        return -errno;
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

static void emit(int prio, const char *tag, const char *fmt, va_list ap)
{
    pthread_mutex_lock(&lock);
    if (target == P2V_LOG_SYSLOG) {
        vsyslog(prio, fmt, ap);
    } else {
        FILE *f = target == P2V_LOG_FILE ? logfile : stderr;
        /* Before a mount goes to the background, --log FILE gets a copy:
         * the file then holds the whole story (bad sectors found by the
         * scan at mount time, say). */
        if (target == P2V_LOG_STDERR && logfile) {
            va_list aq;
            va_copy(aq, ap);
            stamp_to(logfile);
            fprintf(logfile, "p2v: %s", tag);
            vfprintf(logfile, fmt, aq);
            fputc('\n', logfile);
            va_end(aq);
        }
        if (target == P2V_LOG_FILE)
            stamp_to(f);
        fprintf(f, "p2v: %s", tag);
        vfprintf(f, fmt, ap);
        fputc('\n', f);
    }
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
