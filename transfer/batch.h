/* p2v batch: several sources converted from one manifest (manifest.rng),
 * up to N at once.  Each job runs in its own process with its own state
 * directory and mount under DESTINATION/.p2v-job/, as the p2v commands a
 * user would type: fixup apply (with a plan), check, mount, commit,
 * umount.  A failing job stops only itself; every job leaves a JSON
 * summary, DESTINATION/p2v-summary.json. */
#ifndef P2V_BATCH_H
#define P2V_BATCH_H

#include <limits.h>

struct p2v_job {
    char name[72];           /* the schema allows 64 characters */
    char source[PATH_MAX], dest[PATH_MAX], plan[PATH_MAX], config[PATH_MAX];
    char type[8], format[8], volumes[64], target[12];
    int sparse, no_check;
};

/* Reads and validates a manifest; relative paths are made relative to its
 * directory.  *jobs is malloc'd.  0 or -errno with a message. */
int p2v_manifest_load(const char *path, struct p2v_job **jobs, int *n);
extern const char p2v_manifest_rng[];

/* Runs one job to the end (in the calling process); writes its summary.
 * self is the p2v binary.  0 if it succeeded. */
int p2v_job_run(const struct p2v_job *j, const char *self);

/* What became of one job of a batch. */
struct p2v_batch_result {
    int status;              /* its exit status; 1 when it could not start or never did */
    char summary[8192];      /* the summary line it printed (no newline), or for a job
                              * the batch never started, one saying so; "" if none */
};

/* Runs the n jobs, each in a child process of its own (p2v_job_run), up
 * to parallel at once, and logs on stderr when each starts and ends.
 * SIGINT or SIGTERM starts no more jobs; the running ones are waited for.
 * *results (malloc'd, one per job, in manifest order) is set on success.
 * Returns how many jobs failed, or -1 when none could run: the p2v binary
 * was not found (with a message) or memory ran out. */
int p2v_batch_run(const struct p2v_job *jobs, int n, int parallel,
                  struct p2v_batch_result **results);

#endif
