/* p2v commit MNT DEST: the command line of transfer/commit.h, and the
 * machine configuration it needs (a --config file, else what the image
 * shows, read through the stack builder). */
#define _GNU_SOURCE
#include "commands.h"

#include "stack.h"
#include "core/json.h"
#include "core/log.h"
#include "machine/machine.h"
#include "transfer/commit.h"

#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_SPARSE = 0x200, OPT_NO_VERIFY, OPT_CONFIG, OPT_NAME, OPT_JSON, OPT_TARGET };

struct commit_opts {
    struct p2v_copy_opts copy;
    const char *config, *name, *target;
    const char *mnt, *dest;
    int json;
};

/* The machine read from a view's disk (or from the image named directly,
 * not from its copy, which is not there yet), named after its copy. */
static struct p2v_machine *machine_found(const char *mnt, const char *src, const char *image)
{
    /* A view's disk.raw is the same disk without the VHD to decode. */
    char raw[PATH_MAX];
    snprintf(raw, sizeof raw, "%s/disk.raw", mnt ? mnt : "");
    struct p2v_stack_opts so = { 0 };
    struct p2v_machine *found;
    if (p2v_inventory_source(mnt && access(raw, R_OK) == 0 ? raw : src, &so, &found) != 0) {
        free(found);
        return NULL;
    }
    /* Name the copy, not the view that will be gone. */
    p2v_m_copy(found->source, sizeof found->source, image);
    if (found->ndisks == 1) {
        p2v_m_copy(found->disk[0].path, sizeof found->disk[0].path, image);
        p2v_m_copy(found->disk[0].name, sizeof found->disk[0].name,
                   strrchr(image, '/') ? strrchr(image, '/') + 1 : image);
    }
    return found;
}

/* The machine: --config, else what the view's disk shows (mnt NULL: the
 * image src was named directly), else defaults; image: the copy. */
static struct p2v_machine *machine_of(const char *config, const char *mnt, const char *src,
                                      const char *image)
{
    struct p2v_machine *m;
    if (config) {
        m = calloc(1, sizeof *m);
        if (m && p2v_machine_load(config, m) != 0) {
            free(m);
            m = NULL;
        }
        return m;
    }
    if ((m = machine_found(mnt, src, image)))
        return m;
    p2v_warn("the image's machine configuration could not be read; the VM definitions use "
             "defaults (give --config FILE from p2v inventory)");
    m = calloc(1, sizeof *m);
    if (m) {
        p2v_m_copy(m->origin, sizeof m->origin, "source");
        p2v_m_copy(m->os.family, sizeof m->os.family, "unknown");
    }
    return m;
}

static const char usage[] =
    "usage: p2v commit [--sparse] [--no-verify] [--config MACHINE.xml] [--name NAME]\n"
    "                  [--target T] [--json] [-q] MNT DEST_DIR\n";

static void help(void)
{
    fputs(usage, stdout);
    fputs("Copies the image of the view MNT (disk.vhdx, else disk.vhd) to DEST_DIR, and\n"
          "writes beside it VM definitions (NAME.xml for libvirt, NAME.sh for QEMU,\n"
          "NAME.ps1 for Hyper-V), machine.xml, fixups.json and status.json, and a\n"
          "SHA256SUMS manifest (sha256sum -c SHA256SUMS checks them).  An interrupted\n"
          "commit resumes when run again, after comparing what it copied with the\n"
          "view (chunks that differ are copied again); the image appears under its\n"
          "name only when it is complete.  DEST_DIR must have room for what is left\n"
          "to write, or the commit is refused before it starts.\n"
          "      --sparse          keep holes (default: allocate them; Windows refuses\n"
          "                        sparse VHD/VHDX files)\n"
          "      --no-verify       do not re-read both sides at the end\n"
          "      --config FILE     machine configuration for the definitions\n"
          "                        (default: what the image shows)\n"
          "      --name NAME       the VM's name (default: the hostname, else p2v-vm)\n"
          "      --target virtio|qemu-sata|qemu-ide  disk bus of the libvirt and QEMU\n"
          "                        definitions (default virtio)\n"
          "      --json            a JSON summary on stdout\n"
          "  -q, --quiet           no progress\n", stdout);
}

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct commit_opts *o)
{
    static const struct option longopts[] = {
        { "sparse", no_argument, NULL, OPT_SPARSE },
        { "no-verify", no_argument, NULL, OPT_NO_VERIFY },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "name", required_argument, NULL, OPT_NAME },
        { "json", no_argument, NULL, OPT_JSON },
        { "target", required_argument, NULL, OPT_TARGET },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    static const char *const targets[] = { "virtio", "qemu-sata", "qemu-ide", NULL };
    int c;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SPARSE: o->copy.sparse = 1; break;
        case OPT_NO_VERIFY: o->copy.verify = 0; break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_NAME: o->name = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_TARGET:
            if (parse_choice("commit", "--target", optarg, targets) < 0)
                return 2;
            o->target = optarg;
            break;
        case 'q': o->copy.quiet = 1; break;
        case 'h': help(); return -1;
        case '?': return option_hint(argv);
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fputs(usage, stderr);
        return 2;
    }
    o->mnt = argv[optind];
    o->dest = argv[optind + 1];
    return 0;
}

static void print_json(const struct p2v_commit *c)
{
    struct p2v_json j;
    p2v_json_init(&j, stdout);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "image", c->final);
    p2v_json_uint(&j, "size", c->res.size);
    p2v_json_str(&j, "sha256", c->files[0].sha);
    p2v_json_uint(&j, "resumed_at", c->res.resumed_at);
    p2v_json_uint(&j, "recopied", c->res.recopied);
    p2v_json_bool(&j, "already", c->res.already);
    p2v_json_bool(&j, "verified", c->copy.verify);
    p2v_json_bool(&j, "sparse", c->copy.sparse);
    p2v_json_array(&j, "files");
    for (int i = 0; i < c->nfiles; i++)
        p2v_json_str(&j, NULL, c->files[i].name);
    p2v_json_finish(&j);
}

static void print_text(const struct p2v_commit *c)
{
    printf("%s: %llu bytes, sha256 %s%s%s\n", c->final, (unsigned long long)c->res.size,
           c->files[0].sha, c->res.already ? " (already there)" : "",
           c->copy.verify ? ", verified" : "");
    for (int i = 1; i < c->nfiles; i++)
        printf("  + %s\n", c->files[i].name);
}

static int run(const struct commit_opts *o)
{
    struct p2v_commit c = { .mnt = o->mnt, .dest = o->dest, .name = o->name,
                            .target = o->target, .copy = o->copy };
    if (p2v_commit_prepare(&c) < 0)
        return 1;
    /* Everything read from the view or the user comes first: a bad
     * --config fails before hours of copying. */
    struct p2v_machine *m = machine_of(o->config, c.from_view ? c.mnt : NULL, c.image, c.final);
    int r = m ? p2v_commit_run(&c, m) : -1;
    free(m);
    if (r < 0)
        return r == -EINTR ? 128 + (c.res.signal ? c.res.signal : SIGINT) : 1;  /* as the shell says */
    (o->json ? print_json : print_text)(&c);
    return 0;
}

int cmd_commit(int argc, char **argv)
{
    struct commit_opts o = { .copy = { .verify = 1 } };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}
