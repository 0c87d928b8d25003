/* One batch job: the steps a user would type, each a p2v process with its
 * output in the job's log, and a summary at the end. */
#define _GNU_SOURCE
#include "batch.h"

#include "core/output.h"
#include "core/json.h"
#include "core/json_read.h"
#include "core/log.h"
#include "core/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct run {
    const struct p2v_job *j;
    const char *self;
    char work[PATH_MAX], state[PATH_MAX], mnt[PATH_MAX], log[PATH_MAX];
    const char *failed;     /* the step that failed, or NULL */
    char error[PATH_MAX + 1024];
    int blockers, warnings;
};

static void on_int(int sig)
{
    (void)sig;  /* the step in progress gets the signal and stops; the job cleans up */
}

/* Runs p2v with args (NULL-terminated, without argv[0]); stdout goes to
 * out (or the log), stderr to the log.  Returns the exit status. */
static int step(struct run *r, const char *out, const char *const *args)
{
    const char *argv[32] = { r->self };
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    FILE *lf = fopen(r->log, "ae");
    if (lf) {
        fprintf(lf, "$ p2v");
        for (int i = 1; i < n; i++)
            fprintf(lf, " %s", argv[i]);
        fputc('\n', lf);
        fclose(lf);
    }
    pid_t pid = fork();
    if (pid == 0) {
        int lfd = open(r->log, O_WRONLY | O_APPEND | O_CREAT, 0600);
        int ofd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600) : lfd;
        int nul = open("/dev/null", O_RDONLY);
        if (lfd < 0 || ofd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(ofd, 1) < 0 || dup2(lfd, 2) < 0)
            _exit(127);
        execv(r->self, (char *const *)argv);
        _exit(127);
    }
    int st;
    pid_t w = -1;
    /* Ctrl-C reaches the step too; the job waits for it to stop cleanly. */
    while (pid > 0 && (w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (pid < 0 || w < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The last error p2v logged: what the summary shows. */
static void last_error(struct run *r, const char *what, int status)
{
    FILE *f = fopen(r->log, "re");
    char line[1024];
    r->error[0] = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "p2v: error: ", 12) || !strncmp(line, "p2v ", 4)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(r->error, sizeof r->error, "%s", line + (line[3] == ':' ? 12 : 0));
        }
    if (f)
        fclose(f);
    if (!r->error[0])
        snprintf(r->error, sizeof r->error, "%s exited with status %d", what, status);
    r->failed = what;
}

/* The blockers and warnings of p2v check's report (0 and 0 when there is
 * none: the check's own failure is what the summary reports then). */
static void check_counts(const char *path, int *blockers, int *warnings)
{
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    int64_t b = 0, w = 0;
    *blockers = *warnings = 0;
    if (p2v_jread_file(path, NULL, &doc, &err) < 0)
        return;
    if (p2v_jget_int(doc.root, "blockers", &b) == 0 && b >= 0 && b <= INT_MAX)
        *blockers = (int)b;
    if (p2v_jget_int(doc.root, "warnings", &w) == 0 && w >= 0 && w <= INT_MAX)
        *warnings = (int)w;
    p2v_jread_free(&doc);
}

struct summary { const struct run *r; double seconds; const char *image; const char *sha; long long size; };

static void write_summary(FILE *f, const void *ctx)
{
    const struct summary *s = ctx;
    const struct run *r = s->r;
    struct p2v_json w;
    p2v_json_init(&w, f);
    p2v_json_object(&w, NULL);
    p2v_json_str(&w, "name", r->j->name);
    p2v_json_str(&w, "source", r->j->source);
    p2v_json_str(&w, "destination", r->j->dest);
    p2v_json_str(&w, "status", r->failed ? "failed" : "ok");
    p2v_json_str_or_null(&w, "failed_step", r->failed);
    p2v_json_str(&w, "error", r->failed ? r->error : "");
    p2v_json_str(&w, "image", s->image);
    p2v_json_int(&w, "size", s->size);
    p2v_json_str(&w, "sha256", s->sha);
    p2v_json_int(&w, "blockers", r->blockers);
    p2v_json_int(&w, "warnings", r->warnings);
    p2v_json_fmt(&w, "seconds", "%.1f", s->seconds);
    p2v_json_str(&w, "log", r->log);
    p2v_json_finish(&w);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* A mount left by an earlier run that was killed. */
static void unmount_stale(struct run *r)
{
    char fstype[64] = "";
    if (p2v_mountinfo_find(r->mnt, fstype, sizeof fstype, NULL, 0) > 0 && !strcmp(fstype, "fuse.p2v")) {
        const char *args[] = { "umount", r->mnt, NULL };
        step(r, NULL, args);
    }
}

static void steps(struct run *r)
{
    const struct p2v_job *j = r->j;
    const char *state_args[2] = { NULL, NULL }, *vol_args[2] = { NULL, NULL };
    if (j->plan[0])
        state_args[0] = "--state", state_args[1] = r->state;
    if (j->volumes[0])
        vol_args[0] = "--volumes", vol_args[1] = j->volumes;
    int st;
    if (j->plan[0]) {
        const char *args[12] = { "fixup", "apply", "--state", r->state, "--plan", j->plan };
        int k = 6;
        if (vol_args[0])
            args[k++] = vol_args[0], args[k++] = vol_args[1];
        args[k++] = j->source;
        args[k] = NULL;
        if ((st = step(r, NULL, args)) != 0)
            return last_error(r, "fixup", st);
    }
    char check_out[PATH_MAX + 16];
    snprintf(check_out, sizeof check_out, "%s/check.json", r->work);
    if (!j->no_check) {
        const char *args[16] = { "check", "--json", "--target", j->target, "--format", j->format,
                                 "-t", j->type };
        int k = 8;
        if (state_args[0])
            args[k++] = state_args[0], args[k++] = state_args[1];
        if (vol_args[0])
            args[k++] = vol_args[0], args[k++] = vol_args[1];
        args[k++] = j->source;
        args[k] = NULL;
        st = step(r, check_out, args);
        check_counts(check_out, &r->blockers, &r->warnings);
        if (st == 1) {
            r->failed = "check";
            snprintf(r->error, sizeof r->error, "p2v check found %d blocker%s (see %s); fix them, "
                     "or add <no-check/> to the job", r->blockers, r->blockers == 1 ? "" : "s",
                     check_out);
            return;
        }
        if (st != 0)
            return last_error(r, "check", st);
    }
    {
        const char *args[20] = { "mount", "-q", "--type", j->type };
        int k = 4;
        args[k++] = "--format", args[k++] = j->format;
        if (state_args[0])
            args[k++] = state_args[0], args[k++] = state_args[1];
        if (vol_args[0])
            args[k++] = vol_args[0], args[k++] = vol_args[1];
        args[k++] = j->source;
        args[k++] = r->mnt;
        args[k] = NULL;
        if ((st = step(r, NULL, args)) != 0)
            return last_error(r, "mount", st);
    }
    char commit_out[PATH_MAX + 16];
    snprintf(commit_out, sizeof commit_out, "%s/commit.json", r->work);
    const char *args[18] = { "commit", "--json", "-q", "--name", j->name };
    int k = 5;
    if (strcmp(j->target, "hyperv") != 0)  /* the libvirt and QEMU definitions' bus */
        args[k++] = "--target", args[k++] = j->target;
    if (j->sparse)
        args[k++] = "--sparse";
    if (j->config[0])
        args[k++] = "--config", args[k++] = j->config;
    args[k++] = r->mnt;
    args[k++] = j->dest;
    args[k] = NULL;
    int cst = step(r, commit_out, args);
    const char *u[] = { "umount", r->mnt, NULL };
    int ust = step(r, NULL, u);
    if (cst != 0)
        return last_error(r, "commit", cst);
    if (ust != 0)
        return last_error(r, "umount", ust);
}

/* mkdir -p, new directories 0700. */
static int mkdir_p(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int p2v_job_run(const struct p2v_job *j, const char *self)
{
    struct run r = { .j = j, .self = self };
    double t0 = now();
    struct sigaction sa = { .sa_handler = on_int };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    snprintf(r.work, sizeof r.work, "%.4000s/.p2v-job", j->dest);
    snprintf(r.state, sizeof r.state, "%.4000s/state", r.work);
    snprintf(r.mnt, sizeof r.mnt, "%.4000s/mnt", r.work);
    snprintf(r.log, sizeof r.log, "%.4000s/log", r.work);
    if (mkdir_p(j->dest) < 0 || (mkdir(r.work, 0700) < 0 && errno != EEXIST) ||
        (mkdir(r.mnt, 0700) < 0 && errno != EEXIST)) {
        r.failed = "prepare";
        snprintf(r.error, sizeof r.error, "cannot create %s: %s", r.work, strerror(errno));
    } else {
        int fd = open(r.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        unmount_stale(&r);
        steps(&r);
    }
    /* The image and its hash, from the manifest commit wrote. */
    char sums[PATH_MAX + 16], line[512] = "", sha[65] = "", name[256] = "", image[PATH_MAX + 300] = "";
    snprintf(sums, sizeof sums, "%s/SHA256SUMS", j->dest);
    FILE *f = r.failed ? NULL : fopen(sums, "re");
    if (f && fgets(line, sizeof line, f) && sscanf(line, "%64s %255s", sha, name) == 2)
        snprintf(image, sizeof image, "%s/%s", j->dest, name);
    if (f)
        fclose(f);
    struct stat st;
    struct summary s = { &r, now() - t0, image, sha, image[0] && stat(image, &st) == 0 ? (long long)st.st_size : 0 };
    char out[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/p2v-summary.json", j->dest);
    if (access(j->dest, W_OK) == 0)
        p2v_write_output(out, 0600, write_summary, &s);
    write_summary(stdout, &s);
    /* The caller leaves with _exit: nothing buffered may stay behind. */
    if (fflush(stdout) != 0)
        return 1;
    return r.failed ? 1 : 0;
}
