#define _GNU_SOURCE
#include "commands.h"

#include "fixed_clock.h"
#include "stack.h"
#include "core/json.h"
#include "core/log.h"
#include "fixup/apply.h"
#include "fixup/overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fixup_usage(FILE *f)
{
    fputs("usage: p2v fixup plan [--target T] [-o FILE] [--drivers DIR] [OPTIONS] SOURCE\n"
          "       p2v fixup apply --state DIR --plan FILE [--dry-run] [--json] [OPTIONS] SOURCE\n"
          "       p2v fixup discard --state DIR\n\n"
          "plan     writes the default fix-up plan for a target (hyperv, qemu-ide,\n"
          "         qemu-sata, virtio; default virtio) to FILE or stdout\n"
          "apply    carries out a plan into the copy-on-write overlay in DIR (SOURCE is\n"
          "         never written), and saves the list of changes as DIR/fixups.json;\n"
          "         --dry-run prints the same list and changes nothing\n"
          "discard  drops the overlay and report in DIR\n\n"
          "Plan actions (one per line, # comments, \"quotes\" around blanks):\n"
          "  enable-driver NAME [pci=ID,...] [class={GUID}]\n"
          "  inject-driver NAME FILE.sys [FILE.inf] [pci=ID,...] [class={GUID}]\n"
          "  disable-service NAME\n"
          "  disable-vendor-services [FILE]\n"
          "  no-auto-reboot\n"
          "  reg-set KEY VALUE dword|qword|sz|expand|multi|binary DATA...\n"
          "  reg-delete KEY [VALUE]\n"
          "  file-put LOCAL-FILE GUEST-PATH\n"
          "  file-delete GUEST-PATH\n"
          "  firstboot SCRIPT.cmd\n"
          "  boot-geometry\n"
          "KEY is HKLM\\SYSTEM\\... or HKLM\\SOFTWARE\\... (CurrentControlSet allowed);\n"
          "GUEST-PATH may start with %SystemRoot%.\n\n" P2V_STACK_HELP,
          f);
}

struct svc_ctx {
    struct p2v_hive *h;
    const char *ccs;
};

static int has_service(void *p, const char *name)
{
    struct svc_ctx *c = p;
    char key[160];
    snprintf(key, sizeof key, "%s\\Services\\%s", c->ccs, name);
    return p2v_hive_key_exists(c->h, key);
}

static void windows_json(FILE *f, const struct p2v_windows *w)
{
    fprintf(f, "\"windows\": {\"partition\": %d, \"systemroot\": ", w->vol.number);
    json_string(f, w->systemroot);
    fputs(", \"product_name\": ", f);
    json_string(f, w->product);
    fputs(", \"version\": ", f);
    json_string(f, w->version);
    fputs(", \"build\": ", f);
    json_string(f, w->build);
    fputs(", \"arch\": ", f);
    json_string(f, w->arch);
    fputs(", \"current_control_set\": ", f);
    json_string(f, w->ccs);
    fprintf(f, ", \"driver_database\": %s}", w->driver_database ? "true" : "false");
}

struct ext_out {
    FILE *f;
    int first;
};

static int extent_json_f(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    (void)kind;
    struct ext_out *e = ctx;
    fprintf(e->f, "%s[%" PRIu64 ", %" PRIu64 "]", e->first ? "" : ", ", off, len);
    e->first = 0;
    return 0;
}

/* The disk ranges the overlay holds: everything that differs from the
 * source lies inside them. */
static void overlay_json(FILE *f, struct p2v_layer *overlay)
{
    struct ext_out e = { f, 1 };
    uint8_t d[16];
    p2v_overlay_digest(overlay, d);
    /* Ties the report to the overlay it describes (checked at mount). */
    fputs("\"overlay_digest\": \"", f);
    for (int i = 0; i < 16; i++)
        fprintf(f, "%02x", d[i]);
    fputs("\", \"overlay_extents\": [", f);
    p2v_overlay_changes(overlay, extent_json_f, &e);
    fputs("], ", f);
}

static void report_json(FILE *f, const char *source, const char *plan, int dry_run,
                        const struct p2v_windows *w, const struct p2v_changes *c,
                        struct p2v_layer *overlay)
{
    fputs("{\"source\": ", f);
    json_string(f, source);
    fputs(", \"plan\": ", f);
    json_string(f, plan);
    fprintf(f, ", \"dry_run\": %s, ", dry_run ? "true" : "false");
    if (w->systemroot[0]) {
        windows_json(f, w);
        fputs(", ", f);
    }
    overlay_json(f, overlay);
    p2v_changes_json(f, c);
    fputs("}\n", f);
}

/* DIR/fixups.json, replaced atomically. */
static int save_report(const char *dir, const char *source, const char *plan,
                       const struct p2v_windows *w, const struct p2v_changes *c,
                       struct p2v_layer *overlay)
{
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/fixups.json.tmp", dir);
    snprintf(final, sizeof final, "%s/fixups.json", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int r = f ? 0 : -errno;
    if (f) {
        report_json(f, source, plan, 0, w, c, overlay);
        if (fflush(f) != 0 || fsync(fd) != 0)
            r = -errno;
        if (fclose(f) != 0 && r == 0)
            r = -errno;
    } else if (fd >= 0) {
        close(fd);
    }
    if (r == 0 && rename(tmp, final) < 0)
        r = -errno;
    if (r < 0) {
        p2v_err("%s: saving the fix-up report failed: %s", final, strerror(-r));
        unlink(tmp);
    }
    return r;
}

static int do_plan(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "target", required_argument, NULL, 'T' + 256 },
        { "output", required_argument, NULL, 'o' },
        { "drivers", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    struct p2v_stack_opts so = { .quiet = 1 };
    const char *target = "virtio", *output = NULL, *drivers = "drivers";
    int c;
    while ((c = getopt_long(argc, argv, "t:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'T' + 256: target = optarg; break;
        case 'o': output = optarg; break;
        case 'R': drivers = optarg; break;
        case 'h': fixup_usage(stdout); return 0;
        default:
            if (parse_stack_option(c, optarg, &so) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1) {
        fixup_usage(stderr);
        return 2;
    }
    if (strcmp(target, "hyperv") && strcmp(target, "qemu-ide") && strcmp(target, "qemu-sata") &&
        strcmp(target, "virtio")) {
        fprintf(stderr, "p2v fixup plan: --target must be hyperv, qemu-ide, qemu-sata or "
                        "virtio, not '%s'\n", target);
        return 2;
    }
    struct p2v_stack st;
    if (p2v_stack_open(argv[optind], &so, &st) < 0)
        return 1;
    struct p2v_windows w;
    struct p2v_gfs *g = NULL;
    struct p2v_hive *sys = NULL;
    int r = p2v_stack_windows(&st, st.disk, 0, &w, &g);
    if (r == 0)
        r = p2v_windows_load_hive(g, &w, "SYSTEM", &sys);
    FILE *f = NULL;
    if (r == 0) {
        f = output ? fopen(output, "we") : stdout;
        if (!f) {
            r = -errno;
            p2v_err("cannot write the plan to %s: %s", output, strerror(errno));
        }
    }
    if (r == 0) {
        struct svc_ctx ctx = { sys, w.ccs };
        r = p2v_plan_default(f, target, &w, st.src.path, drivers, has_service, &ctx);
    }
    if (f && f != stdout && fclose(f) != 0 && r == 0)
        r = -errno;
    p2v_hive_close(sys);
    p2v_gfs_close(g);
    p2v_stack_close(&st);
    return r < 0 ? 1 : 0;
}

/* The bottom of the stack: the source itself. */
static struct p2v_layer *bottom(struct p2v_layer *l)
{
    while (l->below)
        l = l->below;
    return l;
}

static int do_apply(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "state", required_argument, NULL, 'Z' },
        { "plan", required_argument, NULL, 'p' },
        { "dry-run", no_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    struct p2v_stack_opts so = { .quiet = 1 };
    const char *plan_path = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "t:p:nh", longopts, NULL)) != -1) {
        switch (c) {
        case 'Z': so.state = optarg; break;
        case 'p': plan_path = optarg; break;
        case 'n': so.dry_run = 1; break;
        case 'j': json = 1; break;
        case 'h': fixup_usage(stdout); return 0;
        default:
            if (parse_stack_option(c, optarg, &so) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1 || !so.state || !plan_path) {
        fprintf(stderr, "usage: p2v fixup apply --state DIR --plan FILE [--dry-run] [--json] "
                        "SOURCE\n");
        return 2;
    }
    so.writable = !so.dry_run;
    struct p2v_plan plan;
    if (p2v_plan_load(plan_path, &plan) < 0)
        return 1;
    struct p2v_stack st;
    if (p2v_stack_open(argv[optind], &so, &st) < 0) {
        p2v_plan_free(&plan);
        return 1;
    }
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    struct p2v_apply_in in = {
        .disk = st.overlay, .base = bottom(st.disk), .base_shift = st.wrap.offset,
        .vols = vols, .name = st.src.path,
    };
    in.nvols = p2v_layout_volumes(st.table, &st.wrap, st.src.size, vols, P2V_MAX_PARTITIONS);
    struct p2v_windows w;
    struct p2v_changes ch;
    memset(&w, 0, sizeof w);
    /* Files and records the apply writes carry the snapshot's time, so
     * the same source and plan always give the same image. */
    p2v_fixed_clock(&st.mtime);
    int r = p2v_apply(&in, &plan, &ch, &w);
    if (r == 0 && !so.dry_run)
        r = p2v_overlay_commit(st.overlay);
    if (r < 0) {
        p2v_overlay_abandon(st.overlay);
        p2v_err("nothing was applied: the state in %s is as it was", so.state);
    } else {
        if (!so.dry_run &&
            save_report(so.state, st.src.path, plan.path, &w, &ch, st.overlay) < 0) {
            /* The overlay is the truth and is saved; only its description
             * is missing, and a mount says the old one does not match. */
            p2v_err("the fix-ups were applied and saved in %s, but their report (fixups.json) "
                    "was not; free some space there and run the same fixup apply again: it "
                    "changes nothing more and writes the report", so.state);
            r = -EIO;
        }
        /* What was applied, even when its report could not be saved. */
        if (json) {
            report_json(stdout, st.src.path, plan.path, so.dry_run, &w, &ch, st.overlay);
        } else {
            if (so.dry_run)
                printf("dry run: nothing is changed\n");
            p2v_changes_text(stdout, &ch);
        }
    }
    p2v_changes_free(&ch);
    p2v_stack_close(&st);
    p2v_plan_free(&plan);
    return r < 0 ? 1 : 0;
}

static int do_discard(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "state", required_argument, NULL, 'Z' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *state = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'Z')
            state = optarg;
        else if (c == 'h') {
            fixup_usage(stdout);
            return 0;
        } else
            return 2;
    }
    if (!state || optind != argc) {
        fprintf(stderr, "usage: p2v fixup discard --state DIR\n");
        return 2;
    }
    return p2v_overlay_discard(state) < 0 ? 1 : 0;
}

int cmd_fixup(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fixup_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "plan"))
        return do_plan(argc - 1, argv + 1);
    if (!strcmp(argv[1], "apply"))
        return do_apply(argc - 1, argv + 1);
    if (!strcmp(argv[1], "discard"))
        return do_discard(argc - 1, argv + 1);
    fprintf(stderr, "p2v fixup: unknown subcommand '%s' (plan, apply, discard)\n", argv[1]);
    return 2;
}
