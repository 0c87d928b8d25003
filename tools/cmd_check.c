/* p2v check: the convertibility rules over a machine configuration, taken
 * from SOURCE, from --config, or from the running machine. */
#include "commands.h"

#include "stack.h"
#include "machine/machine.h"
#include "machine/rules.h"
#include "core/log.h"
#include "layout/fsmap.h"
#include "vhdwriter/vhd.h"
#include "vhdwriter/vhdx.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_JSON = 0x200, OPT_CONFIG, OPT_TARGET, OPT_GENERATION, OPT_DEST, OPT_STATE };

#define VHD_LIMIT 2190433320960ull

/* The format auto picks for this machine (as p2v mount does). */
static int pick_vhdx(const struct p2v_machine *m, int image)
{
    if (image != P2V_IMAGE_AUTO)
        return image == P2V_IMAGE_VHDX;
    int v = !strcmp(m->firmware, "uefi");
    for (int i = 0; i < m->ndisks; i++)
        v |= m->disk[i].size > VHD_LIMIT || m->disk[i].logical_sector == 4096;
    return v;
}

/* What the image needs at the destination: its exact size when the
 * encoder can lay it out, else the disk's. */
static int image_need(struct p2v_stack *st, const struct p2v_stack_opts *so, int vhdx,
                      struct p2v_check_opts *co)
{
    co->need_bytes = st->disk->size;
    struct p2v_layer *img = NULL;
    int r = -1;
    p2v_log_quiet(1);
    if (vhdx && p2v_vhdx_check(st->disk->size, st->src.logical_sector,
                               so->block_size ? so->block_size : 32u << 20) == 0) {
        struct p2v_vhdx_params xp = { .dynamic = so->dynamic, .block_size = so->block_size,
                                      .logical_sector = st->src.logical_sector,
                                      .physical_sector = st->src.physical_sector };
        r = p2v_vhdx_open(st->disk, &xp, &img);
    } else if (!vhdx && st->disk->size <= VHD_LIMIT && st->src.logical_sector == 512) {
        struct p2v_vhd_params vp = { .dynamic = so->dynamic };
        r = p2v_vhd_open(st->disk, &vp, &img);
    }
    p2v_log_quiet(0);
    if (r < 0)
        return 0;  /* over the limits: the rules say so; the disk's size stands */
    st->vhd = img;  /* closing the stack closes it, and the disk below */
    co->need_bytes = img->size;
    co->need_exact = 1;
    return 0;
}

static void merge(struct p2v_machine *m, const struct p2v_machine *cfg);

static int from_source(const char *source, struct p2v_stack_opts *so, const struct p2v_machine *cfg,
                       struct p2v_check_opts *co, struct p2v_machine *m)
{
    so->quiet = 1;
    so->no_image = 1;
    so->layout.fs_flags |= P2V_FS_INSPECT;
    /* Only the free space check needs to know what is allocated. */
    int dynamic = so->dynamic;
    so->dynamic = dynamic && co->dest;
    struct p2v_stack st;
    int r = p2v_stack_open(source, so, &st);
    if (r < 0)
        return r;
    r = p2v_inventory_stack(&st, m);
    if (r == 0 && cfg)
        merge(m, cfg);
    co->vhdx = pick_vhdx(m, so->image);
    so->dynamic = dynamic;
    if (r == 0 && co->dest)
        r = image_need(&st, so, co->vhdx, co);
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
           co->vhdx ? "vhdx" : "vhd");
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
    printf("{\"source\": ");
    json_string(stdout, what);
    printf(", \"target\": \"%s\", \"generation\": %d, \"format\": \"%s\", \"blockers\": %d, "
           "\"warnings\": %d, \"results\": [", co->target, co->generation, co->vhdx ? "vhdx" : "vhd",
           blockers, warnings);
    for (int i = 0; i < n; i++) {
        printf("%s{\"id\": \"%s\", \"severity\": \"%s\", \"status\": \"%s\", \"message\": ",
               i ? ", " : "", res[i].id, res[i].severity == P2V_BLOCKER ? "blocker" : "warning",
               res[i].status == P2V_PASS ? "pass" : res[i].status == P2V_FAIL ? "fail" : "skip");
        json_string(stdout, res[i].message);
        printf(", \"remedy\": ");
        json_string(stdout, res[i].status == P2V_FAIL ? res[i].remedy : "");
        putchar('}');
    }
    printf("]}\n");
}

static const char usage[] =
    "usage: p2v check [--json] [--config MACHINE.xml] [--target T] [--generation 1|2]\n"
    "                 [--format auto|vhd|vhdx] [-t dynamic|fixed] [--dest DIR] [--state DIR]\n"
    "                 [SOURCE]\n";

int cmd_check(int argc, char **argv)
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
    struct p2v_stack_opts so = { .dynamic = 1 };
    struct p2v_check_opts co = { .target = "virtio" };
    const char *config = NULL;
    static const char *const gens[] = { "1", "2", NULL };
    int json = 0, c, v;
    while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_CONFIG: config = optarg; break;
        case OPT_TARGET:
            if (parse_choice("check", "--target", optarg, p2v_targets) < 0)
                return 2;
            co.target = optarg;
            break;
        case OPT_GENERATION:
            if ((v = parse_choice("check", "--generation", optarg, gens)) < 0)
                return 2;
            co.generation = v + 1;
            break;
        case OPT_DEST: co.dest = optarg; break;
        case OPT_STATE: so.state = optarg; break;
        case 'h':
            fputs(usage, stdout);
            fputs("Checks whether SOURCE (a disk or image), the machine described by --config,\n"
                  "or this running machine can be converted for the target, rule by rule:\n"
                  "memory, acpi, os, arch, disk-size, sector-size, ntfs-state, bitlocker,\n"
                  "dynamic-disk, uefi-vhd, boot-driver, static-ip, vendor-tools, dest-space.\n"
                  "Exit status: 0 no blocker, 1 blockers found, 2 could not check.\n"
                  "      --json                machine-readable results\n"
                  "      --config FILE         machine configuration from 'p2v inventory' (with\n"
                  "                            SOURCE: adds the running machine's memory, CPU, NICs)\n"
                  "      --target T            virtio (default), qemu-sata, qemu-ide or hyperv\n"
                  "      --generation 1|2      Hyper-V generation (default: 2 for UEFI, else 1)\n"
                  "      --dest DIR            check that the image fits there\n"
                  "      --state DIR           SOURCE with the fix-ups in DIR applied\n"
                  P2V_STACK_HELP, stdout);
            return 0;
        default:
            if ((c = parse_stack_option(c, optarg, &so)) <= 0)
                return 2;
        }
    }
    if (argc - optind > 1) {
        fputs(usage, stderr);
        return 2;
    }
    const char *source = optind < argc ? argv[optind] : NULL;
    if (so.state && !source) {
        fprintf(stderr, "p2v check: --state needs a SOURCE\n");
        return 2;
    }
    struct p2v_machine *m = calloc(1, sizeof *m), *cfg = calloc(1, sizeof *cfg);
    struct p2v_result *res = calloc(P2V_MAX_RESULTS, sizeof *res);
    int r = m && cfg && res ? 0 : -ENOMEM;
    if (r == 0 && config)
        r = p2v_machine_load(config, cfg);
    if (r == 0 && source) {
        r = from_source(source, &so, config ? cfg : NULL, &co, m);
    } else if (r == 0 && config) {
        *m = *cfg;
        co.vhdx = pick_vhdx(m, so.image);
    } else if (r == 0) {
        r = p2v_inventory_local(m);
        co.vhdx = pick_vhdx(m, so.image);
    }
    int status = 2;
    if (r == 0) {
        if (!source) {
            /* No layout to ask: the disks as they are, at most. */
            for (int i = 0; i < m->ndisks; i++)
                co.need_bytes += m->disk[i].size;
        }
        if (!co.generation)
            co.generation = !strcmp(m->firmware, "uefi") ? 2 : 1;
        int n = p2v_check_rules(m, &co, res), blockers = 0, warnings = 0;
        for (int i = 0; i < n; i++)
            if (res[i].status == P2V_FAIL)
                res[i].severity == P2V_BLOCKER ? blockers++ : warnings++;
        const char *what = source ? source : config ? config : "this machine";
        (json ? print_json : print_text)(what, &co, res, n, blockers, warnings);
        status = blockers ? 1 : 0;
    } else if (r == -ENOMEM) {
        p2v_err("out of memory");
    }
    free(m);
    free(cfg);
    free(res);
    return status;
}
