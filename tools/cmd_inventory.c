/* p2v inventory: the machine configuration of the running machine or of
 * an offline source, as XML (machine.rng) or JSON. */
#include "commands.h"

#include "core/output.h"
#include "stack.h"
#include "machine/machine.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_JSON = 0x200, OPT_SOURCE, OPT_SCHEMA, OPT_STATE };

struct inventory_opts {
    struct p2v_stack_opts so;
    const char *out;        /* -o, or NULL for stdout */
    const char *source;     /* --source, or NULL for the running machine */
    int json, schema;
};

static void write_xml(FILE *f, const void *m) { p2v_machine_xml(f, m); }
static void write_json(FILE *f, const void *m) { p2v_machine_json(f, m); }
static void write_schema(FILE *f, const void *unused)
{
    (void)unused;
    fputs(p2v_machine_rng, f);
}

static void help(void)
{
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
}

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct inventory_opts *o)
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
    int c;
    while ((c = getopt_long(argc, argv, "o:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: o->json = 1; break;
        case 'o': o->out = optarg; break;
        case OPT_SOURCE: o->source = optarg; break;
        case OPT_SCHEMA: o->schema = 1; break;
        case OPT_STATE: o->so.state = optarg; break;
        case 'h': help(); return -1;
        case '?': return option_hint(argv);
        default:
            if ((c = parse_stack_option(c, optarg, &o->so)) <= 0)
                return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "p2v inventory: unexpected argument '%s' (the source goes after --source)\n",
                argv[optind]);
        return 2;
    }
    /* --schema takes no machine: the other options do not matter then. */
    if (!o->schema && o->so.state && !o->source) {
        fprintf(stderr, "p2v inventory: --state needs --source\n");
        return 2;
    }
    return 0;
}

static int run(struct inventory_opts *o)
{
    if (o->schema)
        return p2v_write_output(o->out, 0644, write_schema, NULL) < 0 ? 1 : 0;
    struct p2v_machine *m = NULL;
    int r;
    if (o->source) {
        r = p2v_inventory_source(o->source, &o->so, &m);
    } else {
        m = calloc(1, sizeof *m);
        r = m ? p2v_inventory_local(m) : -ENOMEM;
    }
    if (r == 0)
        r = p2v_write_output(o->out, 0600, o->json ? write_json : write_xml, m);
    free(m);
    return r < 0 ? 1 : 0;
}

int cmd_inventory(int argc, char **argv)
{
    struct inventory_opts o = { 0 };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
