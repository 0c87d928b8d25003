/* p2v batch MANIFEST: the jobs of a manifest, up to --jobs at once, each
 * in a process of its own, so one failing (or crashing) job stops only
 * itself. */
#include "commands.h"

#include "core/output.h"
#include "transfer/batch.h"
#include "core/log.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OPT_JOBS = 0x200, OPT_JSON, OPT_SCHEMA };

static volatile sig_atomic_t stopping;
static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void write_schema(FILE *f, const void *unused)
{
    (void)unused;
    fputs(p2v_manifest_rng, f);
}

int cmd_batch(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "jobs", required_argument, NULL, OPT_JOBS },
        { "json", no_argument, NULL, OPT_JSON },
        { "schema", no_argument, NULL, OPT_SCHEMA },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int jobs = 1, json = 0, c;
    while ((c = getopt_long(argc, argv, "j:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
        case OPT_JOBS: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 64) {
                fprintf(stderr, "p2v batch: --jobs takes 1 to 64, not '%s'\n", optarg);
                return 2;
            }
            jobs = (int)v;
            break;
        }
        case OPT_JSON: json = 1; break;
        case OPT_SCHEMA: return p2v_write_output(NULL, 0, write_schema, NULL) < 0;
        case 'h':
            puts("usage: p2v batch [--jobs N] [--json] MANIFEST\n"
                 "       p2v batch --schema\n"
                 "Converts every job of MANIFEST (an XML file; see README.md): fixup apply with\n"
                 "its plan, check, mount, commit to its destination, umount.  Up to N jobs run\n"
                 "at once (default 1).  Each job writes DESTINATION/p2v-summary.json and logs\n"
                 "to DESTINATION/.p2v-job/log; the summaries are printed at the end.  Run it\n"
                 "again after a failure: finished jobs find their image there, interrupted\n"
                 "copies resume.  Exit status: 0 when every job succeeded.");
            return 0;
        default:
            return 2;
        }
    }
    if (argc - optind != 1) {
        fputs("usage: p2v batch [--jobs N] [--json] MANIFEST\n", stderr);
        return 2;
    }
    struct p2v_job *job;
    int n;
    if (p2v_manifest_load(argv[optind], &job, &n) < 0)
        return 2;
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        p2v_err("cannot find the p2v binary (/proc/self/exe): %s", strerror(errno));
        free(job);
        return 1;
    }
    self[len] = 0;
    /* Each job prints its summary to a pipe-free file: its own stdout is a
     * temporary file read back here, in manifest order. */
    FILE **outs = calloc((size_t)n, sizeof *outs);
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int *status = calloc((size_t)n, sizeof *status);
    if (!outs || !pids || !status) {
        free(job), free(outs), free(pids), free(status);
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    /* Ctrl-C stops the jobs' steps (they get it too); the batch waits for
     * the jobs to clean up and still prints their summaries. */
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int next = 0, running = 0, done = 0, failed = 0;
    while (done < n) {
        while (running < jobs && next < n && !stopping) {
            int i = next++;
            outs[i] = tmpfile();
            pids[i] = outs[i] ? fork() : -1;
            if (pids[i] == 0) {
                if (dup2(fileno(outs[i]), 1) < 0)
                    _exit(1);
                _exit(p2v_job_run(&job[i], self));
            }
            if (pids[i] < 0) {
                p2v_err("job %s: cannot start it: %s", job[i].name, strerror(errno));
                status[i] = 1, done++, failed++;
                continue;
            }
            fprintf(stderr, "p2v batch: [%d/%d] %s: started (%s -> %s)\n", i + 1, n, job[i].name,
                    job[i].source, job[i].dest);
            running++;
        }
        if (!running)
            break;
        int st;
        pid_t pid = wait(&st);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (pids[i] != pid)
                continue;
            status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
            running--, done++;
            failed += status[i] != 0;
            fprintf(stderr, "p2v batch: [%d/%d] %s: %s\n", i + 1, n, job[i].name,
                    status[i] ? "FAILED" : "ok");
        }
    }
    for (int i = next; i < n; i++) {  /* never started: the batch was stopped */
        status[i] = 1;
        failed++;
    }
    if (json)
        putchar('[');
    for (int i = 0; i < n; i++) {
        char line[8192] = "";
        if (outs[i]) {
            rewind(outs[i]);
            if (!fgets(line, sizeof line, outs[i]))
                line[0] = 0;
            fclose(outs[i]);
        }
        line[strcspn(line, "\n")] = 0;
        if (!line[0] && i >= next)
            snprintf(line, sizeof line, "{\"name\": \"%s\", \"status\": \"failed\", "
                     "\"failed_step\": null, \"error\": \"not started: the batch was interrupted\"}",
                     job[i].name);
        if (json) {
            printf("%s%s", i ? ",\n " : "", line[0] ? line : "null");
        } else {
            const char *e = strstr(line, "\"error\": \"");
            char err[600] = "";
            if (e)
                snprintf(err, sizeof err, "%.*s", (int)strcspn(e + 10, "\""), e + 10);
            printf("%-20s %-7s %s\n", job[i].name, status[i] ? "FAILED" : "ok",
                   status[i] ? err : job[i].dest);
        }
    }
    if (json)
        puts("]");
    else
        printf("%d of %d jobs succeeded\n", n - failed, n);
    free(job), free(outs), free(pids), free(status);
    return failed ? 1 : 0;
}
