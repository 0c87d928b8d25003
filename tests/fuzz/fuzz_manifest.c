/* The batch manifest (transfer/manifest.c) on arbitrary bytes: libxml2
 * parses it, manifest.rng validates it, then p2v takes the jobs apart.  A
 * manifest may come from someone else, and every field it yields becomes
 * an argument of a p2v process and a path p2v creates: so the jobs that
 * come out are checked against what the schema and README promise. */
#include "tests/fuzz/harness.h"
#include "core/log.h"
#include "transfer/batch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], path[96];

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_manifest: " __VA_ARGS__);                            \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* A terminated string of a field, of the characters the schema allows. */
static size_t str_in(const char *s, size_t cap, const char *what)
{
    size_t n = strnlen(s, cap);
    CHECK(n < cap, "%s is not terminated", what);
    return n;
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return 1;
    return 0;
}

/* A path from a manifest: absolute and normalized (manifest.c says so:
 * no "//", "/./", "/../" or trailing '/', so two spellings of one
 * destination compare equal). */
static void check_path(const char *p, size_t cap, const char *what, int optional)
{
    size_t n = str_in(p, cap, what);
    if (!n && optional)
        return;
    CHECK(n && p[0] == '/', "%s '%s' is not absolute", what, p);
    CHECK(!strstr(p, "//"), "%s '%s' has '//'", what, p);
    CHECK(!strstr(p, "/./") && !strstr(p, "/../"), "%s '%s' has '.' or '..'", what, p);
    CHECK(n == 1 || p[n - 1] != '/', "%s '%s' ends in '/'", what, p);
    CHECK(!(n >= 2 && !strcmp(p + n - 2, "/.")) && !(n >= 3 && !strcmp(p + n - 3, "/..")),
          "%s '%s' ends in '.' or '..'", what, p);
    CHECK(!strchr(p, '\n'), "%s has a newline", what);
}

static void check_job(const struct p2v_job *j)
{
    static const char *const types[] = { "dynamic", "fixed", NULL };
    static const char *const formats[] = { "auto", "vhd", "vhdx", NULL };
    static const char *const targets[] = { "virtio", "qemu-sata", "qemu-ide", "hyperv", NULL };
    size_t n = str_in(j->name, sizeof j->name, "name");
    /* [A-Za-z0-9][A-Za-z0-9._-]{0,63}: it names files and processes. */
    CHECK(n >= 1 && n <= 64, "job name '%s' has %zu characters", j->name, n);
    for (size_t i = 0; i < n; i++) {
        char c = j->name[i];
        int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        CHECK(alnum || (i && (c == '.' || c == '_' || c == '-')), "job name '%s'", j->name);
    }
    check_path(j->source, sizeof j->source, "source", 0);
    check_path(j->dest, sizeof j->dest, "destination", 0);
    check_path(j->plan, sizeof j->plan, "plan", 1);
    check_path(j->config, sizeof j->config, "config", 1);
    str_in(j->type, sizeof j->type, "type");
    str_in(j->format, sizeof j->format, "format");
    str_in(j->target, sizeof j->target, "target");
    CHECK(one_of(j->type, types), "job %s: type '%s'", j->name, j->type);
    CHECK(one_of(j->format, formats), "job %s: format '%s'", j->name, j->format);
    CHECK(one_of(j->target, targets), "job %s: target '%s'", j->name, j->target);
    /* [0-9]+(,[0-9]+)* or nothing. */
    size_t vl = str_in(j->volumes, sizeof j->volumes, "volumes");
    for (size_t i = 0; i < vl; i++) {
        char c = j->volumes[i];
        CHECK((c >= '0' && c <= '9') || (c == ',' && i && i + 1 < vl && j->volumes[i - 1] != ','),
              "job %s: volumes '%s'", j->name, j->volumes);
    }
    CHECK(j->sparse == 0 || j->sparse == 1, "sparse");
    CHECK(j->no_check == 0 || j->no_check == 1, "no_check");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/p2v-fuzz-manifest-XXXXXX", tmp && *tmp && strlen(tmp) < 30 ? tmp : "/tmp");
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof path, "%s/manifest.xml", dir);
        atexit(cleanup);
        p2v_log_quiet(1);
    }
    if (size > 1 << 20)
        return 0;
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    struct p2v_job *jobs = NULL;
    int n = -1;
    if (p2v_manifest_load(path, &jobs, &n) == 0) {
        CHECK(n >= 1, "a loaded manifest has %d jobs (the schema wants one or more)", n);
        for (int i = 0; i < n; i++) {
            check_job(&jobs[i]);
            /* Two jobs may not share a name or a destination. */
            for (int k = 0; k < i; k++) {
                CHECK(strcmp(jobs[i].name, jobs[k].name) != 0, "two jobs named %s", jobs[i].name);
                CHECK(strcmp(jobs[i].dest, jobs[k].dest) != 0, "two jobs write to %s", jobs[i].dest);
            }
        }
        free(jobs);
    }
    return 0;
}
