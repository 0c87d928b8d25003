#define _GNU_SOURCE
#include "commands.h"

#include "info.h"
#include "stack.h"
#include "core/json.h"
#include "core/log.h"
#include "guest/windows.h"
#include "layout/layout_plan.h"
#include "machine/machine.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void print_json(const struct p2v_windows *w)
{
    struct p2v_json j;
    p2v_json_init(&j, stdout);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "os", "windows");
    p2v_json_int(&j, "partition", w->vol.number);
    p2v_json_uint(&j, "partition_start", w->vol.start);
    p2v_json_str(&j, "systemroot", w->systemroot);
    p2v_json_str(&j, "product_name", w->product);
    p2v_json_str(&j, "version", w->version);
    p2v_json_str(&j, "build", w->build);
    p2v_json_str(&j, "installation_type", w->installation_type);
    p2v_json_str(&j, "edition", w->edition);
    p2v_json_str(&j, "arch", w->arch);
    p2v_json_str(&j, "hostname", w->hostname);
    p2v_json_str(&j, "current_control_set", w->ccs);
    p2v_json_uint(&j, "major_version", w->major);
    p2v_json_uint(&j, "minor_version", w->minor);
    p2v_json_bool(&j, "driver_database", w->driver_database);
    info_hives_json(&j, w);
    p2v_json_finish(&j);
}

static void print_text(const struct p2v_windows *w)
{
    printf("operating system:  %s\n", w->product[0] ? w->product : "Windows (no product name)");
    printf("version:           %s, build %s%s%s\n", w->version, w->build,
           w->installation_type[0] ? ", " : "", w->installation_type);
    printf("architecture:      %s\n", w->arch);
    printf("hostname:          %s\n", w->hostname[0] ? w->hostname : "-");
    printf("windows directory: partition %d, %s\n", w->vol.number, w->systemroot);
    printf("control set:       %s\n", w->ccs);
    printf("driver store:      %s\n", w->driver_database
               ? "DriverDatabase (Windows 8 and later)"
               : "CriticalDeviceDatabase (Windows 7 and older)");
    info_hives_text(stdout, w);
}

struct inspect_opts {
    struct p2v_stack_opts so;
    const char *source;
    int json;
};

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct inspect_opts *o)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "state", required_argument, NULL, 'Z' },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': o->json = 1; break;
        case 'Z': o->so.state = optarg; break;
        case 'h':
            fputs("usage: p2v inspect [--json] [--state DIR] [OPTIONS] SOURCE\n"
                  "Finds the operating system on SOURCE and prints what it is.  Windows:\n"
                  "its directory, version and build, architecture, hostname, control set.\n"
                  "Linux: distribution, kernels with the storage drivers each initramfs\n"
                  "holds, boot loader, device references, network, other vendors' tools.\n"
                  "      --json                machine-readable output\n"
                  "      --state DIR           inspect SOURCE with the fix-ups in DIR applied\n"
                  P2V_STACK_HELP, stdout);
            return -1;
        case '?': return option_hint(argv);
        default:
            if ((c = parse_stack_option(c, optarg, &o->so)) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: p2v inspect [--json] [--state DIR] SOURCE\n");
        return 2;
    }
    o->source = argv[optind];
    return 0;
}

static int run(struct inspect_opts *o)
{
    struct p2v_stack_opts so = o->so;
    struct p2v_machine *m = NULL;
    if (p2v_inventory_source(o->source, &so, &m) < 0) {
        free(m);
        return 1;
    }
    int is_linux = !strcmp(m->os.family, "linux");
    if (is_linux)
        o->json ? inspect_linux_json(m) : inspect_linux_text(m);
    free(m);
    if (is_linux)
        return 0;
    struct p2v_stack st;
    if (p2v_stack_open(o->source, &o->so, &st) < 0)
        return 1;
    struct p2v_windows w;
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    struct p2v_disk_view dv = p2v_stack_view(&st, st.disk);
    int n = p2v_disk_view_volumes(&dv, vols, P2V_MAX_PARTITIONS);
    /* Finding Windows again says why it cannot be read (BitLocker ...). */
    int r = p2v_windows_find(st.disk, vols, n, st.src.path, st.windows_flags, &w, NULL);
    if (r == -ENOENT)
        p2v_err("%s: no operating system found (no Windows directory, no Linux /etc/os-release "
                "found on any of its filesystems); inspect knows Windows and Linux guests",
                o->source);
    if (r == 0)
        o->json ? print_json(&w) : print_text(&w);
    p2v_stack_close(&st);
    return r < 0 ? 1 : 0;
}

int cmd_inspect(int argc, char **argv)
{
    struct inspect_opts o = { .so = { .dynamic = 0, .quiet = 1 } };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
