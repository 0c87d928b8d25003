/* p2v check: the convertibility rules over a machine configuration, taken
 * from SOURCE, from --config, or from the running machine. */
#include "commands.h"

#include "stack.h"
#include "core/json.h"
#include "core/log.h"
#include "layout/fsmap.h"
#include "machine/machine.h"
#include "machine/rules.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_JSON = 0x200, OPT_CONFIG, OPT_TARGET, OPT_GENERATION, OPT_DEST, OPT_STATE };

struct check_opts {
    struct p2v_stack_opts so;
    struct p2v_check_opts co;
    const char *config;     /* --config */
    const char *source;     /* SOURCE, or NULL */
    int json;
};

/* What the image needs at the destination: its exact size when the
 * encoder can lay it out, else the disk's (over the limits: the rules say
 * so, and the disk's size stands). */
static void image_need(struct p2v_stack *st, const struct p2v_stack_opts *so,
                       struct p2v_check_opts *co)
{
    const struct p2v_image_format *f = co->format;
    struct p2v_image_disk d = { .name = st->src.path, .size = st->disk->size,
                                .logical_sector = st->src.logical_sector,
                                .physical_sector = st->src.physical_sector };
    struct p2v_image_params p = { .dynamic = so->dynamic, .block_size = so->block_size,
                                  .logical_sector = st->src.logical_sector,
                                  .physical_sector = st->src.physical_sector };
    co->need_bytes = st->disk->size;
    struct p2v_layer *img;
    if (f->check(&d, so->block_size, 0) < 0 || f->open(st->disk, &p, &img) < 0)
        return;
    st->image = st->top = img;  /* closing the stack closes it, and the disk below */
    co->need_bytes = img->size;
    co->need_exact = 1;
}

static void merge(struct p2v_machine *m, const struct p2v_machine *cfg);

static int from_source(struct check_opts *o, const struct p2v_machine *cfg, struct p2v_machine *m)
{
    struct p2v_stack_opts *so = &o->so;
    so->quiet = 1;
    so->no_image = 1;
    so->layout.fs_flags |= P2V_FS_INSPECT;
    /* Only the free space check needs to know what is allocated. */
    int dynamic = so->dynamic;
    so->dynamic = dynamic && o->co.dest;
    struct p2v_stack st;
    int r = p2v_stack_open(o->source, so, &st);
    if (r < 0)
        return r;
    struct p2v_disk_view dv = p2v_stack_view(&st, st.disk);
    r = p2v_inventory_disk(&dv, m);
    if (r == 0 && cfg)
        merge(m, cfg);
    o->co.format = p2v_machine_format(m, so->image);
    so->dynamic = dynamic;
    if (r == 0 && o->co.dest)
        image_need(&st, so, &o->co);
    p2v_stack_close(&st);
    return r;
}

/* A source's disk facts with the machine facts of its configuration file:
 * what only the running machine could tell (memory, CPU, NICs). */
static void merge(struct p2v_machine *m, const struct p2v_machine *cfg)
{
    m->memory_kib = cfg->memory_kib;
    m->cpu = cfg->cpu;
    if (cfg->acpi != P2V_UNKNOWN)
        m->acpi = cfg->acpi;
    if (cfg->firmware[0])
        p2v_m_copy(m->firmware, sizeof m->firmware, cfg->firmware);
    if (!m->hostname[0])
        p2v_m_copy(m->hostname, sizeof m->hostname, cfg->hostname);
    for (int i = 0; i < cfg->nnics && m->nnics < P2V_M_MAX_NICS; i++)
        if (cfg->nic[i].mac[0])
            m->nic[m->nnics++] = cfg->nic[i];
}

static const char *result_word(const struct p2v_result *r)
{
    if (r->status == P2V_PASS)
        return "ok";
    if (r->status == P2V_SKIP)
        return "skip";
    return r->severity == P2V_BLOCKER ? "BLOCKER" : "WARNING";
}

static void print_text(const char *what, const struct p2v_check_opts *co, const struct p2v_result *res,
                       int n, int blockers, int warnings)
{
    printf("p2v check: %s, target %s%s, format %s\n\n", what, co->target,
           !strcmp(co->target, "hyperv") ? (co->generation == 2 ? " generation 2" : " generation 1") : "",
           co->format->name);
    printf("%-13s %-8s %s\n", "RULE", "RESULT", "MESSAGE");
    for (int i = 0; i < n; i++) {
        printf("%-13s %-8s %s\n", res[i].id, result_word(&res[i]), res[i].message);
        if (res[i].status == P2V_FAIL && res[i].remedy[0])
            printf("%-13s %-8s remedy: %s\n", "", "", res[i].remedy);
    }
    printf("\n%d blocker%s, %d warning%s\n", blockers, blockers == 1 ? "" : "s", warnings,
           warnings == 1 ? "" : "s");
}

static void print_json(const char *what, const struct p2v_check_opts *co, const struct p2v_result *res,
                       int n, int blockers, int warnings)
{
    struct p2v_json j;
    p2v_json_init(&j, stdout);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "source", what);
    p2v_json_str(&j, "target", co->target);
    p2v_json_int(&j, "generation", co->generation);
    p2v_json_str(&j, "format", co->format->name);
    p2v_json_int(&j, "blockers", blockers);
    p2v_json_int(&j, "warnings", warnings);
    p2v_json_array(&j, "results");
    for (int i = 0; i < n; i++) {
        p2v_json_object(&j, NULL);
        p2v_json_str(&j, "id", res[i].id);
        p2v_json_str(&j, "severity", res[i].severity == P2V_BLOCKER ? "blocker" : "warning");
        p2v_json_str(&j, "status", res[i].status == P2V_PASS   ? "pass"
                                   : res[i].status == P2V_FAIL ? "fail" : "skip");
        p2v_json_str(&j, "message", res[i].message);
        p2v_json_str(&j, "remedy", res[i].status == P2V_FAIL ? res[i].remedy : "");
        p2v_json_end(&j);
    }
    p2v_json_end(&j);
    p2v_json_finish(&j);
}

static const char usage[] =
    "usage: p2v check [--json] [--config MACHINE.xml] [--target T] [--generation 1|2]\n"
    "                 [--format auto|vhd|vhdx] [-t dynamic|fixed] [--dest DIR] [--state DIR]\n"
    "                 [SOURCE]\n";

static void help(void)
{
    fputs(usage, stdout);
    fputs("Checks whether SOURCE (a disk or image), the machine described by --config,\n"
          "or this running machine can be converted for the target, rule by rule:\n"
          "memory, acpi, os, arch, disk-size, sector-size, ntfs-state, hive-state,\n"
          "bitlocker, dynamic-disk, uefi-vhd, boot-driver, static-ip, device-names,\n"
          "nic-names, hibernation, fs-state, boot-loader, efi-fallback, vendor-tools,\n"
          "dest-space.\n"
          "Exit status: 0 no blocker, 1 blockers found, 2 could not check.\n"
          "      --json                machine-readable results\n"
          "      --config FILE         machine configuration from 'p2v inventory' (with\n"
          "                            SOURCE: adds the running machine's memory, CPU, NICs)\n"
          "      --target virtio|qemu-sata|qemu-ide|hyperv  the virtual disk controller\n"
          "                            (default virtio)\n"
          "      --generation 1|2      Hyper-V generation (default: 2 for UEFI, else 1)\n"
          "      --dest DIR            check that the image fits there\n"
          "      --state DIR           SOURCE with the fix-ups in DIR applied\n"
          P2V_STACK_HELP, stdout);
}

/* 0 to run, else the exit status. */
static int parse(int argc, char **argv, struct check_opts *o)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "target", required_argument, NULL, OPT_TARGET },
        { "generation", required_argument, NULL, OPT_GENERATION },
        { "dest", required_argument, NULL, OPT_DEST },
        { "state", required_argument, NULL, OPT_STATE },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    static const char *const gens[] = { "1", "2", NULL };
    int c, v;
    while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: o->json = 1; break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_TARGET:
            if (parse_choice("check", "--target", optarg, p2v_targets) < 0)
                return 2;
            o->co.target = optarg;
            break;
        case OPT_GENERATION:
            if ((v = parse_choice("check", "--generation", optarg, gens)) < 0)
                return 2;
            o->co.generation = v + 1;
            break;
        case OPT_DEST: o->co.dest = optarg; break;
        case OPT_STATE: o->so.state = optarg; break;
        case 'h': help(); return -1;
        case '?': return option_hint(argv);
        default:
            if ((c = parse_stack_option(c, optarg, &o->so)) <= 0)
                return 2;
        }
    }
    if (argc - optind > 1) {
        fputs(usage, stderr);
        return 2;
    }
    o->source = optind < argc ? argv[optind] : NULL;
    if (o->so.state && !o->source) {
        fprintf(stderr, "p2v check: --state needs a SOURCE\n");
        return 2;
    }
    return 0;
}

/* The machine to judge: from SOURCE (and --config), --config, or this one. */
static int gather(struct check_opts *o, struct p2v_machine *m, struct p2v_machine *cfg)
{
    int r = o->config ? p2v_machine_load(o->config, cfg) : 0;
    if (r < 0)
        return r;
    if (o->source)
        return from_source(o, o->config ? cfg : NULL, m);
    if (o->config)
        *m = *cfg;
    else if ((r = p2v_inventory_local(m)) < 0)
        return r;
    o->co.format = p2v_machine_format(m, o->so.image);
    /* No layout to ask: the disks as they are, at most. */
    for (int i = 0; i < m->ndisks; i++)
        o->co.need_bytes += m->disk[i].size;
    return 0;
}

static int run(struct check_opts *o)
{
    struct p2v_machine *m = calloc(1, sizeof *m), *cfg = calloc(1, sizeof *cfg);
    struct p2v_result *res = calloc(P2V_MAX_RESULTS, sizeof *res);
    int r = m && cfg && res ? gather(o, m, cfg) : -ENOMEM;
    int status = 2;
    if (r == 0) {
        if (!o->co.generation)
            o->co.generation = !strcmp(m->firmware, "uefi") ? 2 : 1;
        int n = p2v_check_rules(m, &o->co, res), blockers = 0, warnings = 0;
        for (int i = 0; i < n; i++)
            if (res[i].status == P2V_FAIL)
                res[i].severity == P2V_BLOCKER ? blockers++ : warnings++;
        const char *what = o->source ? o->source : o->config ? o->config : "this machine";
        (o->json ? print_json : print_text)(what, &o->co, res, n, blockers, warnings);
        status = blockers ? 1 : 0;
    } else if (r == -ENOMEM) {
        p2v_err("out of memory");
    }
    free(m);
    free(cfg);
    free(res);
    return status;
}

int cmd_check(int argc, char **argv)
{
    struct check_opts o = { .so = { .dynamic = 1 }, .co = { .target = "virtio" } };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
