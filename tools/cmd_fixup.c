#define _GNU_SOURCE
#include "commands.h"

#include "info.h"
#include "stack.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "fixup/apply.h"
#include "fixup/overlay.h"
#include "fixup/record.h"
#include "machine/linux_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fixup_usage(FILE *f)
{
    fputs("usage: p2v fixup plan [--target T] [-o FILE] [--drivers DIR] [--inventory MACHINE.xml]\n"
          "                        [OPTIONS] SOURCE\n"
          "       p2v fixup apply --state DIR --plan FILE [--dry-run] [--json] [OPTIONS] SOURCE\n"
          "       p2v fixup discard --state DIR\n\n"
          "plan     writes the default fix-up plan for a target (hyperv, qemu-ide,\n"
          "         qemu-sata, virtio; default virtio) to FILE or stdout; --inventory\n"
          "         takes the guest's facts from what 'p2v inventory --source SOURCE'\n"
          "         wrote instead of inspecting SOURCE again (about 30 s for a Linux\n"
          "         root that is not on ext2/3/4)\n"
          "apply    carries out a plan into the copy-on-write overlay in DIR (SOURCE is\n"
          "         never written), prints its changes and adds them to DIR/fixups.json,\n"
          "         the record of every change since the source (SOURCE_DATE_EPOCH, when\n"
          "         set, dates the apply); --dry-run prints the same list and changes\n"
          "         nothing\n"
          "discard  drops the overlay and its record in DIR\n\n"
          "Plan actions (one per line, # comments, \"quotes\" around blanks):\n"
          "  enable-driver NAME [pci=ID,...] [class={GUID}]\n"
          "  inject-driver NAME FILE.sys [FILE.inf] [pci=ID,...] [class={GUID}]\n"
          "  disable-service NAME\n"
          "  disable-vendor-services [FILE]\n"
          "  uninstall-program \"DISPLAY NAME\"\n"
          "  no-auto-reboot\n"
          "  reg-set KEY VALUE dword|qword|sz|expand|multi|binary DATA...\n"
          "  reg-delete KEY [VALUE]\n"
          "  file-put LOCAL-FILE GUEST-PATH\n"
          "  file-delete GUEST-PATH\n"
          "  firstboot SCRIPT.cmd\n"
          "  boot-geometry\n"
          "  linux-device-names               (Linux guests, through libguestfs)\n"
          "  linux-nic NAME MAC\n"
          "  linux-remove-package PACKAGE\n"
          "  linux-install-package PACKAGE    (from package files on the disk)\n"
          "  linux-initramfs DRIVER...\n"
          "  efi-fallback LOADER              (UEFI disks: LOADER on the ESP becomes\n"
          "                                    \\EFI\\BOOT\\BOOTX64.EFI)\n"
          "KEY is HKLM\\SYSTEM\\... or HKLM\\SOFTWARE\\... (CurrentControlSet allowed);\n"
          "GUEST-PATH may start with %SystemRoot%.\n\n"
          "      --target virtio|qemu-sata|qemu-ide|hyperv  plan: the virtual disk\n"
          "                            controller the plan prepares for (default virtio)\n"
          "  -o, --output FILE         plan: write the plan to FILE instead of stdout\n"
          "      --drivers DIR         plan: where inject-driver lines take driver files\n"
          "                            (default drivers, relative to the plan's directory)\n"
          "      --inventory MACHINE.xml  plan: the guest's facts from p2v inventory\n"
          "      --state DIR           apply, discard: the job state directory (overlay\n"
          "                            and fixups.json; created by the first apply)\n"
          "      --plan FILE           apply: the plan to carry out\n"
          "      --dry-run             apply: print the changes, change nothing\n"
          "      --json                apply: the changes as JSON\n"
          P2V_STACK_HELP,
          f);
}

struct svc_ctx {
    struct p2v_hive *h;
    const struct p2v_windows *w;
    struct p2v_gfs *g;
};

/* P2V_DRIVER_*: is the service there, and its file? */
static int has_service(void *p, const char *name)
{
    struct svc_ctx *c = p;
    char key[160], file[256];
    snprintf(key, sizeof key, "%s\\Services\\%s", c->w->ccs, name);
    if (!p2v_hive_key_exists(c->h, key))
        return P2V_DRIVER_ABSENT;
    p2v_windows_service_file(c->h, c->w, name, file, sizeof file);
    return p2v_gfs_stat(c->g, file, NULL, NULL) == 1 ? P2V_DRIVER_READY : P2V_DRIVER_NO_FILE;
}

static void windows_json(struct p2v_json *j, const struct p2v_windows *w)
{
    p2v_json_object(j, "windows");
    p2v_json_int(j, "partition", w->vol.number);
    p2v_json_str(j, "systemroot", w->systemroot);
    p2v_json_str(j, "product_name", w->product);
    p2v_json_str(j, "version", w->version);
    p2v_json_str(j, "build", w->build);
    p2v_json_str(j, "arch", w->arch);
    p2v_json_str(j, "current_control_set", w->ccs);
    p2v_json_bool(j, "driver_database", w->driver_database);
    info_hives_json(j, w);
    p2v_json_end(j);
}

static int extent_json(void *ctx, uint64_t off, uint64_t len, enum p2v_extent_kind kind)
{
    (void)kind;
    struct p2v_json *j = ctx;
    p2v_json_array(j, NULL);
    p2v_json_uint(j, NULL, off);
    p2v_json_uint(j, NULL, len);
    p2v_json_end(j);
    return 0;
}

/* The disk ranges the overlay holds: everything that differs from the
 * source lies inside them.  0 or -errno. */
static int overlay_json(struct p2v_json *j, struct p2v_layer *overlay)
{
    char hex[33];
    p2v_overlay_digest_hex(overlay, hex);
    /* Ties the report to the overlay it describes (checked at mount). */
    p2v_json_str(j, "overlay_digest", hex);
    p2v_json_array(j, "overlay_extents");
    int r = p2v_overlay_changes(overlay, extent_json, j);
    p2v_json_end(j);
    return r;
}

/* The report of fixup apply: what was applied to which overlay, with this
 * apply's changes (c: what it prints), or the record of every apply on the
 * state (rec: what it saves).  0, or -errno when the overlay cannot be
 * listed. */
static int report_json(FILE *f, const char *source, const char *plan, int dry_run,
                       const struct p2v_windows *w, const struct p2v_changes *c,
                       const struct p2v_record *rec, struct p2v_layer *overlay)
{
    struct p2v_json j;
    p2v_json_init(&j, f);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "source", source);
    p2v_json_str(&j, "plan", plan);
    p2v_json_bool(&j, "dry_run", dry_run);
    if (w->systemroot[0])
        windows_json(&j, w);
    int r = overlay_json(&j, overlay);
    if (rec)
        p2v_record_json(&j, rec);
    else
        p2v_changes_json(&j, c);
    p2v_json_finish(&j);
    return r;
}

/* DIR/fixups.json, the record, replaced atomically. */
static int save_report(const char *dir, const char *source, const char *plan,
                       const struct p2v_windows *w, const struct p2v_record *rec,
                       struct p2v_layer *overlay)
{
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/fixups.json.tmp", dir);
    snprintf(final, sizeof final, "%s/fixups.json", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int r = f ? 0 : -errno;
    if (f) {
        r = report_json(f, source, plan, 0, w, NULL, rec, overlay);
        if ((fflush(f) != 0 || fsync(fd) != 0) && r == 0)
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

/* ---- fixup plan ---- */

struct plan_opts {
    struct p2v_stack_opts so;
    const char *target, *output, *drivers, *source, *inventory;
};

/* 0 to run, -1 after --help, else the exit status. */
static int plan_parse(int argc, char **argv, struct plan_opts *o)
{
    static const struct option longopts[] = {
        { "target", required_argument, NULL, 'T' + 256 },
        { "output", required_argument, NULL, 'o' },
        { "drivers", required_argument, NULL, 'R' },
        { "inventory", required_argument, NULL, 'I' + 256 },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "t:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'T' + 256: o->target = optarg; break;
        case 'I' + 256: o->inventory = optarg; break;
        case 'o': o->output = optarg; break;
        case 'R': o->drivers = optarg; break;
        case 'h': fixup_usage(stdout); return -1;
        case '?': return option_hint(argv);
        default:
            if (parse_stack_option(c, optarg, &o->so) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1) {
        fixup_usage(stderr);
        return 2;
    }
    if (strcmp(o->target, "hyperv") && strcmp(o->target, "qemu-ide") &&
        strcmp(o->target, "qemu-sata") && strcmp(o->target, "virtio")) {
        fprintf(stderr, "p2v fixup plan: --target must be hyperv, qemu-ide, qemu-sata or "
                        "virtio, not '%s'\n", o->target);
        return 2;
    }
    o->source = argv[optind];
    return 0;
}

/* A Linux guest's plan, from its inventory.  1 when the source holds no
 * Linux (the caller tries Windows), else the exit status. */
static int linux_plan(struct plan_opts *o, const struct p2v_machine *m)
{
    int r = 1;
    if (!strcmp(m->os.family, "linux")) {
        FILE *f = o->output ? fopen(o->output, "we") : stdout;
        if (!f)
            p2v_err("cannot write the plan to %s: %s", o->output, strerror(errno));
        r = f && p2v_linux_plan_default(f, o->target, 1, m, o->source) == 0 ? 0 : 1;
        if (f && f != stdout && fclose(f) != 0)
            r = 1;
    } else if (strcmp(m->os.family, "windows") != 0) {
        p2v_err("%s: no operating system found (no Windows directory, no Linux /etc/os-release "
                "found on any of its filesystems); fixup plan supports Windows and Linux guests",
                o->source);
        r = 2;
    }
    return r;
}

/* --inventory: the facts inventory found on this source.  A file made
 * for another source (or the running machine) would plan for the wrong
 * guest, so it is refused. */
static int saved_inventory(const struct plan_opts *o, struct p2v_machine **out)
{
    struct p2v_machine *m = calloc(1, sizeof *m);
    char real[4096];
    if (!m)
        return -ENOMEM;
    if (p2v_machine_load(o->inventory, m) < 0) {
        free(m);
        return -EINVAL;
    }
    if (!realpath(o->source, real) || strcmp(m->origin, "source") != 0 ||
        strcmp(m->source, real) != 0) {
        p2v_err("%s is not the inventory of %s (it describes %s); run p2v inventory --source "
                "%s -o FILE and plan with that", o->inventory, o->source,
                !strcmp(m->origin, "source") ? m->source : "a running machine", o->source);
        free(m);
        return -EINVAL;
    }
    *out = m;
    return 0;
}

static int plan_run(struct plan_opts *o)
{
    struct p2v_stack_opts so = o->so;
    struct p2v_machine *m = NULL;
    if (o->inventory) {
        if (saved_inventory(o, &m) < 0)
            return 1;
    } else if (p2v_inventory_source(o->source, &so, &m) < 0) {
        free(m);
        m = NULL;
    }
    int lr = m ? linux_plan(o, m) : 1;
    if (lr != 1) {
        free(m);
        return lr == 2 ? 1 : lr;
    }
    struct p2v_stack st;
    if (p2v_stack_open(o->source, &o->so, &st) < 0)
        return 1;
    struct p2v_windows w;
    struct p2v_gfs *g = NULL;
    struct p2v_hive *sys = NULL, *sw = NULL;
    struct p2v_win_program *progs = NULL;
    size_t nprogs = 0;
    int r = p2v_stack_windows(&st, st.disk, 0, &w, &g);
    if (r == 0)
        r = p2v_windows_load_hive(g, &w, "SYSTEM", &sys);
    if (r == 0 && (r = p2v_windows_load_hive(g, &w, "SOFTWARE", &sw)) == 0)
        r = p2v_windows_programs(sw, &progs, &nprogs);
    FILE *f = NULL;
    if (r == 0) {
        f = o->output ? fopen(o->output, "we") : stdout;
        if (!f) {
            r = -errno;
            p2v_err("cannot write the plan to %s: %s", o->output, strerror(errno));
        }
    }
    if (r == 0) {
        struct svc_ctx ctx = { sys, &w, g };
        r = p2v_plan_default(f, o->target, &w, st.src.path, o->drivers, has_service, &ctx,
                             progs, nprogs);
        if (r == 0 && m && p2v_efi_plan_default(f, m) < 0)
            r = -EIO;
    }
    free(m);
    if (f && f != stdout && fclose(f) != 0 && r == 0)
        r = -errno;
    free(progs);
    p2v_hive_close(sw);
    p2v_hive_close(sys);
    p2v_gfs_close(g);
    p2v_stack_close(&st);
    return r < 0 ? 1 : 0;
}

/* ---- fixup apply ---- */

struct apply_opts {
    struct p2v_stack_opts so;   /* so.state: the job state directory */
    const char *plan, *source;
    int json;
};

/* 0 to run, -1 after --help, else the exit status. */
static int apply_parse(int argc, char **argv, struct apply_opts *o)
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
    int c;
    while ((c = getopt_long(argc, argv, "t:p:nh", longopts, NULL)) != -1) {
        switch (c) {
        case 'Z': o->so.state = optarg; break;
        case 'p': o->plan = optarg; break;
        case 'n': o->so.dry_run = 1; break;
        case 'j': o->json = 1; break;
        case 'h': fixup_usage(stdout); return -1;
        case '?': return option_hint(argv);
        default:
            if (parse_stack_option(c, optarg, &o->so) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1 || !o->so.state || !o->plan) {
        fprintf(stderr, "usage: p2v fixup apply --state DIR --plan FILE [--dry-run] [--json] "
                        "SOURCE\n");
        return 2;
    }
    o->so.writable = !o->so.dry_run;
    o->source = argv[optind];
    return 0;
}

/* After a successful apply: this apply added to the record (rec, at the
 * time when), which is saved (unless a dry run); this apply's changes
 * shown.  0 or -errno. */
static int apply_report(const struct apply_opts *o, struct p2v_stack *st, const char *plan,
                        const struct p2v_windows *w, const struct p2v_changes *ch,
                        struct p2v_record *rec, const char *when)
{
    int r = 0;
    if (!o->so.dry_run && (p2v_record_add(rec, ch, plan, when) < 0 ||
                           save_report(o->so.state, st->src.path, plan, w, rec, st->overlay) < 0)) {
        /* The overlay is the truth and is saved; only its description
         * is missing, and a mount says the old one does not match. */
        p2v_err("the fix-ups were applied and saved in %s, but their report (fixups.json) "
                "was not; free some space there and run the same fixup apply again: it "
                "changes nothing more and writes the report (marked \"record_restarted\": "
                "the values this apply replaced are not known to it)", o->so.state);
        r = -EIO;
    }
    /* What was applied, even when its report could not be saved. */
    if (o->json) {
        int jr = report_json(stdout, st->src.path, plan, o->so.dry_run, w, ch, NULL, st->overlay);
        if (r == 0)
            r = jr;
    } else {
        if (o->so.dry_run)
            printf("dry run: nothing is changed\n");
        p2v_changes_text(stdout, ch);
    }
    return r;
}

static int apply_run(struct apply_opts *o)
{
    time_t now;
    struct p2v_plan plan;
    if (p2v_clock_record_time(&now) < 0 || p2v_plan_load(o->plan, &plan) < 0)
        return 1;
    struct p2v_stack st;
    if (p2v_stack_open(o->source, &o->so, &st) < 0) {
        p2v_plan_free(&plan);
        return 1;
    }
    /* The record so far, read while the overlay is as it describes it. */
    struct p2v_record rec = { 0 };
    char path[4200];
    snprintf(path, sizeof path, "%s/fixups.json", o->so.state);
    if (!o->so.dry_run && p2v_record_load(path, st.overlay, &rec) < 0) {
        p2v_stack_close(&st);
        p2v_plan_free(&plan);
        return 1;
    }
    /* base: the source as the stack serves it (bad-sector policy and
     * consistency guard included), for the values it had before. */
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    struct p2v_apply_in in = {
        .disk = st.overlay, .base = st.sv.top, .base_shift = st.wrap.offset,
        .vols = vols, .name = st.src.path, .time = st.mtime, .windows_flags = st.windows_flags,
    };
    in.nvols = p2v_layout_volumes(st.table, &st.wrap, st.src.size, vols, P2V_MAX_PARTITIONS);
    struct p2v_windows w;
    struct p2v_changes ch;
    memset(&w, 0, sizeof w);
    int r = p2v_apply(&in, &plan, &ch, &w);
    if (r == 0 && !o->so.dry_run)
        r = p2v_overlay_commit(st.overlay);
    if (r < 0) {
        p2v_overlay_abandon(st.overlay);
        p2v_err("nothing was applied: the state in %s is as it was", o->so.state);
    } else {
        char when[32];
        p2v_clock_rfc3339(now, when);
        r = apply_report(o, &st, plan.path, &w, &ch, &rec, when);
    }
    p2v_record_free(&rec);
    p2v_changes_free(&ch);
    p2v_stack_close(&st);
    p2v_plan_free(&plan);
    return r < 0 ? 1 : 0;
}

/* ---- fixup discard ---- */

struct discard_opts {
    const char *state;
};

/* 0 to run, -1 after --help, else the exit status. */
static int discard_parse(int argc, char **argv, struct discard_opts *o)
{
    static const struct option longopts[] = {
        { "state", required_argument, NULL, 'Z' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'Z')
            o->state = optarg;
        else if (c == 'h') {
            fixup_usage(stdout);
            return -1;
        } else
            return c == '?' ? option_hint(argv) : 2;
    }
    if (!o->state || optind != argc) {
        fprintf(stderr, "usage: p2v fixup discard --state DIR\n");
        return 2;
    }
    return 0;
}

static int discard_run(struct discard_opts *o)
{
    return p2v_overlay_discard(o->state) < 0 ? 1 : 0;
}

/* ---- the subcommands ---- */

static int fixup_plan(int argc, char **argv)
{
    struct plan_opts o = { .so = { .quiet = 1 }, .target = "virtio", .drivers = "drivers" };
    int r = plan_parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : plan_run(&o);
}

static int fixup_apply(int argc, char **argv)
{
    struct apply_opts o = { .so = { .quiet = 1 } };
    int r = apply_parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : apply_run(&o);
}

static int fixup_discard(int argc, char **argv)
{
    struct discard_opts o = { 0 };
    int r = discard_parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : discard_run(&o);
}

int cmd_fixup(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fixup_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static char name[48];
    const char *sub = argv[1];
    name_command(argv + 1, "p2v fixup", name, sizeof name);
    if (!strcmp(sub, "plan"))
        return fixup_plan(argc - 1, argv + 1);
    if (!strcmp(sub, "apply"))
        return fixup_apply(argc - 1, argv + 1);
    if (!strcmp(sub, "discard"))
        return fixup_discard(argc - 1, argv + 1);
    fprintf(stderr, "p2v fixup: unknown subcommand '%s' (plan, apply, discard)\n", sub);
    return 2;
}
