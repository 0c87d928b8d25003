/* p2v vm create: a VM definition for an image, from its machine
 * configuration (--config) or from what the image itself shows. */
#include "commands.h"

#include "core/output.h"
#include "stack.h"
#include "machine/machine.h"
#include "machine/vmdef.h"
#include "core/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_FMT = 0x200, OPT_CONFIG, OPT_NAME, OPT_MEMORY, OPT_VCPUS, OPT_TARGET, OPT_FIRMWARE,
       OPT_GENERATION, OPT_DISK_MODE, OPT_DISK_PATH, OPT_NETWORK };

static const char usage[] =
    "usage: p2v vm create --format libvirt|hyperv|qemu [--config MACHINE.xml] [--name NAME]\n"
    "                     [--memory MIB] [--vcpus N] [--target T] [--firmware bios|uefi]\n"
    "                     [--generation 1|2] [--disk-mode direct|overlay|readonly]\n"
    "                     [--disk-path PATH] [--network NAME] [-o FILE] IMAGE\n";

static long number(const char *opt, const char *arg, long max)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 1 || v > max) {
        fprintf(stderr, "p2v vm create: %s takes a number from 1 to %ld, not '%s'\n", opt, max, arg);
        return -1;
    }
    return v;
}

static void write_libvirt(FILE *f, const void *vm) { p2v_vm_libvirt(f, vm); }
static void write_hyperv(FILE *f, const void *vm) { p2v_vm_hyperv(f, vm); }
static void write_qemu(FILE *f, const void *vm) { p2v_vm_qemu(f, vm); }

struct vm_create_opts {
    struct p2v_vm_opts vm;  /* out_dir is set by run, beside out */
    const char *config;     /* --config */
    const char *out;        /* -o, or NULL for stdout */
    const char *image;      /* IMAGE */
};

static void help(void)
{
    fputs(usage, stdout);
    fputs("Writes a VM definition for IMAGE (a VHD, VHDX or raw file, or a p2v mount\n"
          "point): libvirt domain XML, a Hyper-V PowerShell script, or a shell script\n"
          "running qemu-system-x86_64.  Memory, CPUs, firmware and NIC MACs come from\n"
          "the machine configuration (p2v inventory), else from the image itself.\n"
          "      --format libvirt|hyperv|qemu  the definition to write (required)\n"
          "      --config MACHINE.xml  machine configuration from p2v inventory\n"
          "      --name NAME           the VM's name (default: the hostname, else p2v-vm)\n"
          "      --memory MIB          memory in MiB (default: the machine's, else 2048)\n"
          "      --vcpus N             virtual CPUs (default: the machine's, else 2)\n"
          "      --target virtio|qemu-sata|qemu-ide|hyperv  disk controller (default\n"
          "                            virtio, and hyperv with --format hyperv)\n"
          "      --firmware bios|uefi  firmware (default: the machine's, UEFI for an image\n"
          "                            with an EFI System Partition, else BIOS)\n"
          "      --generation 1|2      Hyper-V generation (default: 2 for UEFI, else 1)\n"
          "      --disk-mode direct|overlay|readonly  direct: the VM writes to IMAGE\n"
          "                            (default for a writable copy); overlay: writes go\n"
          "                            to a separate file (default for a p2v mount);\n"
          "                            readonly: attached read-only (virtio)\n"
          "      --disk-path PATH      the image's path on the host that runs the VM\n"
          "      --network NAME        libvirt network (default 'default'), Hyper-V switch\n"
          "  -o, --output FILE         write to FILE (0600, scripts 0700) instead of stdout\n",
          stdout);
}

static const struct option longopts[] = {
    { "format", required_argument, NULL, OPT_FMT },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "name", required_argument, NULL, OPT_NAME },
    { "memory", required_argument, NULL, OPT_MEMORY },
    { "vcpus", required_argument, NULL, OPT_VCPUS },
    { "target", required_argument, NULL, OPT_TARGET },
    { "firmware", required_argument, NULL, OPT_FIRMWARE },
    { "generation", required_argument, NULL, OPT_GENERATION },
    { "disk-mode", required_argument, NULL, OPT_DISK_MODE },
    { "disk-path", required_argument, NULL, OPT_DISK_PATH },
    { "network", required_argument, NULL, OPT_NETWORK },
    { "output", required_argument, NULL, 'o' },
    { "help", no_argument, NULL, 'h' },
    { 0 },
};

/* The choice arg for opt, if it is one of choices; NULL after a message. */
static const char *choice(const char *opt, const char *arg, const char *const *choices)
{
    return parse_choice("vm create", opt, arg, choices) < 0 ? NULL : arg;
}

/* 0 to run, -1 after --help, else the exit status. */
static int parse(int argc, char **argv, struct vm_create_opts *o)
{
    static const char *const formats[] = { "libvirt", "hyperv", "qemu", NULL };
    static const char *const firmwares[] = { "bios", "uefi", NULL };
    static const char *const gens[] = { "1", "2", NULL };
    static const char *const modes[] = { "direct", "overlay", "readonly", NULL };
    struct p2v_vm_opts *vo = &o->vm;
    long v;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FMT:
            if (!(vo->format = choice("--format", optarg, formats)))
                return 2;
            break;
        case OPT_CONFIG: o->config = optarg; break;
        case OPT_NAME: vo->name = optarg; break;
        case OPT_MEMORY:
            if ((v = number("--memory", optarg, 16L << 20)) < 0)
                return 2;
            vo->memory_mib = (uint64_t)v;
            break;
        case OPT_VCPUS:
            if ((v = number("--vcpus", optarg, 1024)) < 0)
                return 2;
            vo->vcpus = (int)v;
            break;
        case OPT_TARGET:
            if (!(vo->target = choice("--target", optarg, p2v_targets)))
                return 2;
            break;
        case OPT_FIRMWARE:
            if (!(vo->firmware = choice("--firmware", optarg, firmwares)))
                return 2;
            break;
        case OPT_GENERATION:
            if (!choice("--generation", optarg, gens))
                return 2;
            vo->generation = optarg[0] - '0';
            break;
        case OPT_DISK_MODE:
            if (!(vo->disk_mode = choice("--disk-mode", optarg, modes)))
                return 2;
            break;
        case OPT_DISK_PATH: vo->disk_path = optarg; break;
        case OPT_NETWORK: vo->network = optarg; break;
        case 'o': o->out = optarg; break;
        case 'h': help(); return -1;
        case '?': return option_hint(argv);
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!vo->format || argc - optind != 1) {
        fputs(usage, stderr);
        return 2;
    }
    o->image = argv[optind];
    return 0;
}

/* The machine: from --config, else what the image itself shows (OS,
 * firmware).  0, or -errno with a message. */
static int load_machine(const struct vm_create_opts *o, struct p2v_machine **m)
{
    if (o->config) {
        *m = calloc(1, sizeof **m);
        return *m ? p2v_machine_load(o->config, *m) : -ENOMEM;
    }
    char path[4096];
    int r = p2v_vm_image_path(o->image, path, sizeof path);
    struct p2v_stack_opts so = { 0 };
    return r < 0 ? r : p2v_inventory_source(path, &so, m);
}

/* The directory the definition goes to, made absolute (a libvirt overlay
 * goes beside the definition).  0, or -errno with a message. */
static int out_dir(const char *out, char **abs)
{
    char dir[4096];
    const char *slash = out ? strrchr(out, '/') : NULL;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
    if (slash == out)
        snprintf(dir, sizeof dir, "/");
    if ((*abs = realpath(dir, NULL)))
        return 0;
    int e = errno;
    p2v_err("output directory %s: %s", dir, strerror(e));
    return -e;
}

static int run(struct vm_create_opts *o)
{
    struct p2v_machine *m = NULL;
    struct p2v_vm *vm = NULL;
    char *abs = NULL;
    int r = load_machine(o, &m);
    if (r == 0)
        r = out_dir(o->out, &abs);
    o->vm.out_dir = abs;
    if (r == 0)
        r = (vm = calloc(1, sizeof *vm)) ? p2v_vm_plan(m, o->image, &o->vm, vm) : -ENOMEM;
    if (r == 0) {
        const char *format = o->vm.format;
        int script = strcmp(format, "libvirt") != 0;
        r = p2v_write_output(o->out, script ? 0700 : 0600,
                             !strcmp(format, "libvirt") ? write_libvirt
                             : !strcmp(format, "hyperv") ? write_hyperv : write_qemu, vm);
    }
    free(vm);
    free(m);
    free(abs);
    return r < 0 ? 1 : 0;
}

static int vm_create(int argc, char **argv)
{
    struct vm_create_opts o = { 0 };
    int r = parse(argc, argv, &o);
    return r < 0 ? 0 : r > 0 ? r : run(&o);
}

int cmd_vm(int argc, char **argv)
{
    static char name[48];
    if (argc >= 2 && !strcmp(argv[1], "create")) {
        name_command(argv + 1, "p2v vm", name, sizeof name);
        return vm_create(argc - 1, argv + 1);
    }
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        help();
        return 0;
    }
    fputs(usage, stderr);
    return 2;
}
