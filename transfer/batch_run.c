/* The batch scheduler: up to N jobs at once, each in a child process of
 * its own running p2v_job_run, so one failing (or crashing) job stops only
 * itself.  A job's stdout is a temporary file, read back at the end: its
 * summary line, in manifest order. */
#include "batch.h"

#include "core/json.h"
#include "core/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;
static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

struct sched {
    const struct p2v_job *job;
    int n, parallel;
    char self[PATH_MAX];       /* the p2v binary the jobs run */
    FILE **outs;               /* each job's stdout */
    pid_t *pids;               /* 0: not started, -1: could not start */
    struct p2v_batch_result *res;
    int next, running, done, failed;
};

/* Starts the next job in a child whose stdout is a temporary file. */
static void start_next(struct sched *s)
{
    int i = s->next++;
    const struct p2v_job *j = &s->job[i];
    s->outs[i] = tmpfile();
    s->pids[i] = s->outs[i] ? fork() : -1;
    if (s->pids[i] == 0) {
        if (dup2(fileno(s->outs[i]), 1) < 0)
            _exit(1);
        _exit(p2v_job_run(j, s->self));
    }
    if (s->pids[i] < 0) {
        p2v_err("job %s: cannot start it: %s", j->name, strerror(errno));
        s->res[i].status = 1, s->done++, s->failed++;
        return;
    }
    fprintf(stderr, "p2v batch: [%d/%d] %s: started (%s -> %s)\n", i + 1, s->n, j->name,
            j->source, j->dest);
    s->running++;
}

/* A child ended with wait status st. */
static void ended(struct sched *s, pid_t pid, int st)
{
    for (int i = 0; i < s->n; i++) {
        if (s->pids[i] != pid)
            continue;
        s->res[i].status = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
        s->running--, s->done++;
        s->failed += s->res[i].status != 0;
        fprintf(stderr, "p2v batch: [%d/%d] %s: %s\n", i + 1, s->n, s->job[i].name,
                s->res[i].status ? "FAILED" : "ok");
    }
}

/* Keeps up to s->parallel jobs running until all have ended, or, once
 * SIGINT or SIGTERM came, until the running ones have. */
static void schedule(struct sched *s)
{
    while (s->done < s->n) {
        while (s->running < s->parallel && s->next < s->n && !stopping)
            start_next(s);
        if (!s->running)
            break;
        int st;
        pid_t pid = wait(&st);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        ended(s, pid, st);
    }
}

/* The summary of a job the batch never started, in the shape of a job's
 * own (batch_job.c). */
static void not_started(const struct p2v_job *j, char *out, size_t len)
{
    char *data = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&data, &n);
    if (!f)
        return;
    struct p2v_json w;
    p2v_json_init(&w, f);
    p2v_json_object(&w, NULL);
    p2v_json_str(&w, "name", j->name);
    p2v_json_str(&w, "status", "failed");
    p2v_json_null(&w, "failed_step");
    p2v_json_str(&w, "error", "not started: the batch was interrupted");
    p2v_json_end(&w);
    if (fclose(f) == 0)
        snprintf(out, len, "%s", data);
    free(data);
}

/* Each job's first line of output (its summary), in manifest order; the
 * jobs never started count as failed. */
static void collect(struct sched *s)
{
    for (int i = s->next; i < s->n; i++) {
        s->res[i].status = 1;
        s->failed++;
    }
    for (int i = 0; i < s->n; i++) {
        char *line = s->res[i].summary;
        if (s->outs[i]) {
            rewind(s->outs[i]);
            if (!fgets(line, sizeof s->res[i].summary, s->outs[i]))
                line[0] = 0;
            fclose(s->outs[i]);
        }
        line[strcspn(line, "\n")] = 0;
        if (!line[0] && i >= s->next)
            not_started(&s->job[i], line, sizeof s->res[i].summary);
    }
}

int p2v_batch_run(const struct p2v_job *jobs, int n, int parallel,
                  struct p2v_batch_result **results)
{
    struct sched s = { .job = jobs, .n = n, .parallel = parallel };
    ssize_t len = readlink("/proc/self/exe", s.self, sizeof s.self - 1);
    if (len <= 0) {
        p2v_err("cannot find the p2v binary (/proc/self/exe): %s", strerror(errno));
        return -1;
    }
    s.self[len] = 0;
    s.outs = calloc((size_t)n, sizeof *s.outs);
    s.pids = calloc((size_t)n, sizeof *s.pids);
    s.res = calloc((size_t)n, sizeof *s.res);
    if (!s.outs || !s.pids || !s.res) {
        free(s.outs), free(s.pids), free(s.res);
        return -1;
    }
    /* The children would flush what is buffered again. */
    fflush(stdout);
    fflush(stderr);
    /* Ctrl-C stops the jobs' steps (they get it too); the batch waits for
     * the jobs to clean up and still reports on them. */
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        p2v_warn("cannot catch SIGINT and SIGTERM (%s): stopping the batch will not wait for "
                 "its jobs", strerror(errno));
    schedule(&s);
    collect(&s);
    free(s.outs), free(s.pids);
    *results = s.res;
    return s.failed;
}
