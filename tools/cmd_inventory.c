/* p2v inventory: the machine configuration of the running machine or of
 * an offline source, as XML (machine.rng) or JSON. */
#include "commands.h"

#include "core/output.h"
#include "stack.h"
#include "machine/machine.h"
#include "core/log.h"
#include "layout/fsmap.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_JSON = 0x200, OPT_SOURCE, OPT_SCHEMA, OPT_STATE };

static void write_xml(FILE *f, const void *m) { p2v_machine_xml(f, m); }
static void write_json(FILE *f, const void *m) { p2v_machine_json(f, m); }
static void write_schema(FILE *f, const void *unused)
{
    (void)unused;
    fputs(p2v_machine_rng, f);
}

int cmd_inventory(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "output", required_argument, NULL, 'o' },
        { "source", required_argument, NULL, OPT_SOURCE },
        { "schema", no_argument, NULL, OPT_SCHEMA },
        { "state", required_argument, NULL, OPT_STATE },
        { "help", no_argument, NULL, 'h' },
        P2V_STACK_LONGOPTS,
        { 0 },
    };
    struct p2v_stack_opts so = { 0 };
    const char *out = NULL, *source = NULL;
    int json = 0, schema = 0, c;
    while ((c = getopt_long(argc, argv, "o:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case 'o': out = optarg; break;
        case OPT_SOURCE: source = optarg; break;
        case OPT_SCHEMA: schema = 1; break;
        case OPT_STATE: so.state = optarg; break;
        case 'h':
            fputs("usage: p2v inventory [--json] [-o FILE] [--source SOURCE [--state DIR]]\n"
                  "       p2v inventory --schema\n"
                  "Writes the machine configuration: CPU, memory, firmware, NICs, disks and\n"
                  "operating system of the running machine, or with --source of an offline disk\n"
                  "or image (Windows facts from its registry, Linux facts from /etc).\n"
                  "  -o, --output FILE         write it to FILE (mode 0600) instead of stdout\n"
                  "      --json                JSON instead of XML\n"
                  "      --schema              print the XML's RELAX NG schema\n"
                  "      --source SOURCE       an offline disk, image, VHD or VHDX\n"
                  "      --state DIR           the source with the fix-ups in DIR applied\n"
                  P2V_STACK_HELP, stdout);
            return 0;
        default:
            if ((c = parse_stack_option(c, optarg, &so)) <= 0)
                return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "p2v inventory: unexpected argument '%s' (the source goes after --source)\n",
                argv[optind]);
        return 2;
    }
    if (schema)
        return p2v_write_output(out, 0644, write_schema, NULL) < 0 ? 1 : 0;
    if (so.state && !source) {
        fprintf(stderr, "p2v inventory: --state needs --source\n");
        return 2;
    }
    struct p2v_machine *m = NULL;
    int r;
    if (source) {
        r = p2v_inventory_source(source, &so, &m);
    } else {
        m = calloc(1, sizeof *m);
        r = m ? p2v_inventory_local(m) : -ENOMEM;
    }
    if (r == 0)
        r = p2v_write_output(out, 0600, json ? write_json : write_xml, m);
    free(m);
    return r < 0 ? 1 : 0;
}
