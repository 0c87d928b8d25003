/* p2v batch MANIFEST: the command line of the batch (transfer/batch.h),
 * and the jobs' summaries printed at the end. */
#include "commands.h"

#include "core/json_read.h"
#include "core/output.h"
#include "core/plural.h"
#include "transfer/batch.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_JOBS = 0x200, OPT_JSON, OPT_SCHEMA };

struct batch_opts {
    const char *manifest;
    int jobs, json;
    int schema;                /* --schema: print the manifest schema, nothing else */
};

static void write_schema(FILE *f, const void *unused)
{
    (void)unused;
    fputs(p2v_manifest_rng, f);
}

static void help(void)
{
    puts("usage: p2v batch [--jobs N] [--json] MANIFEST\n"
         "       p2v batch --schema\n"
         "Converts every job of MANIFEST (an XML file; see p2v-batch(1)): fixup apply with\n"
         "its plan, check, mount, commit to its destination, umount.  Up to N jobs run\n"
         "at once (default 1).  Each job writes DESTINATION/p2v-summary.json and logs\n"
         "to DESTINATION/.p2v-job/log; the summaries are printed at the end.  Run it\n"
         "again after a failure: finished jobs find their image there, interrupted\n"
         "copies resume.  Exit status: 0 when every job succeeded.\n"
         "      --jobs N              run up to N jobs at once (default 1)\n"
         "      --json                the summaries as JSON\n"
         "      --schema              print the manifest's RELAX NG schema");
}

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct batch_opts *o)
{
    static const struct option longopts[] = {
        { "jobs", required_argument, NULL, OPT_JOBS },
        { "json", no_argument, NULL, OPT_JSON },
        { "schema", no_argument, NULL, OPT_SCHEMA },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;
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
            o->jobs = (int)v;
            break;
        }
        case OPT_JSON: o->json = 1; break;
        case OPT_SCHEMA:
            /* At once: what follows on the command line does not count. */
            o->schema = 1;
            return 0;
        case 'h': help(); return -1;
        case '?': return option_hint(argv);
        default: return 2;
        }
    }
    if (argc - optind != 1) {
        fputs("usage: p2v batch [--jobs N] [--json] MANIFEST\n", stderr);
        return 2;
    }
    o->manifest = argv[optind];
    return 0;
}

/* The error a job's summary line gives, for the text listing. */
static void summary_error(const char *line, char *out, size_t len)
{
    struct p2v_jdoc doc;
    struct p2v_jerror err;
    out[0] = 0;
    if (!line[0])
        return;   /* a job that ended without one: its log tells */
    if (p2v_jread(line, strlen(line), NULL, &doc, &err) < 0) {
        snprintf(out, len, "(its summary cannot be read: %s)", err.msg);
        return;
    }
    const char *e = p2v_jget_str(doc.root, "error");
    snprintf(out, len, "%s", e ? e : "");
    p2v_jread_free(&doc);
}

static void print_results(const struct batch_opts *o, const struct p2v_job *job, int n,
                          const struct p2v_batch_result *res, int failed)
{
    if (o->json)
        putchar('[');
    for (int i = 0; i < n; i++) {
        const char *line = res[i].summary;
        if (o->json) {
            printf("%s%s", i ? ",\n " : "", line[0] ? line : "null");
        } else {
            char err[600];
            summary_error(line, err, sizeof err);
            printf("%-20s %-7s %s\n", job[i].name, res[i].status ? "FAILED" : "ok",
                   res[i].status ? err : job[i].dest);
        }
    }
    if (o->json)
        puts("]");
    else
        printf("%d of %d job%s succeeded\n", n - failed, n, p2v_s((uint64_t)n));
}

static int run(const struct batch_opts *o)
{
    if (o->schema)
        return p2v_write_output(NULL, 0, write_schema, NULL) < 0;
    struct p2v_job *job;
    int n;
    if (p2v_manifest_load(o->manifest, &job, &n) < 0)
        return 2;
    struct p2v_batch_result *res;
    int failed = p2v_batch_run(job, n, o->jobs, &res);
    if (failed >= 0) {
        print_results(o, job, n, res, failed);
        free(res);
    }
    free(job);
    return failed != 0 ? 1 : 0;
}

int cmd_batch(int argc, char **argv)
{
    struct batch_opts o = { .jobs = 1 };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
