#define _GNU_SOURCE
#include "commands.h"

#include "stack.h"
#include "core/log.h"
#include "guest/windows.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

static void print_json(const struct p2v_windows *w)
{
    printf("{\"os\": \"windows\", \"partition\": %d, \"partition_start\": %" PRIu64
           ", \"systemroot\": ", w->vol.number, w->vol.start);
    json_string(stdout, w->systemroot);
    const struct { const char *k, *v; } s[] = {
        { "product_name", w->product }, { "version", w->version }, { "build", w->build },
        { "installation_type", w->installation_type }, { "edition", w->edition },
        { "arch", w->arch }, { "hostname", w->hostname }, { "current_control_set", w->ccs },
    };
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        printf(", \"%s\": ", s[i].k);
        json_string(stdout, s[i].v);
    }
    printf(", \"major_version\": %u, \"minor_version\": %u, \"driver_database\": %s}\n",
           w->major, w->minor, w->driver_database ? "true" : "false");
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
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "state", required_argument, NULL, 'Z' },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    struct p2v_stack_opts so = { .dynamic = 0, .quiet = 1 };
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'Z': so.state = optarg; break;
        case 'h':
            fputs("usage: p2v inspect [--json] [--state DIR] [OPTIONS] SOURCE\n"
                  "Finds the operating system on SOURCE and prints what it is: Windows\n"
                  "directory, version and build, architecture, hostname, control set.\n"
                  "      --json                machine-readable output\n"
                  "      --state DIR           inspect SOURCE with the fix-ups in DIR applied\n"
                  P2V_STACK_HELP, stdout);
            return 0;
        default:
            if ((c = parse_stack_option(c, optarg, &so)) <= 0)
                return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: p2v inspect [--json] [--state DIR] SOURCE\n");
        return 2;
    }
    struct p2v_stack st;
    if (p2v_stack_open(argv[optind], &so, &st) < 0)
        return 1;
    struct p2v_windows w;
    int r = p2v_stack_windows(&st, st.disk, 0, &w, NULL);
    if (r == 0)
        json ? print_json(&w) : print_text(&w);
    p2v_stack_close(&st);
    return r < 0 ? 1 : 0;
}
