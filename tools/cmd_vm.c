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

static int vm_create(int argc, char **argv)
{
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
    static const char *const formats[] = { "libvirt", "hyperv", "qemu", NULL };
    static const char *const firmwares[] = { "bios", "uefi", NULL };
    static const char *const gens[] = { "1", "2", NULL };
    static const char *const modes[] = { "direct", "overlay", "readonly", NULL };
    struct p2v_vm_opts o = { 0 };
    const char *config = NULL, *out = NULL;
    long v;
    int c;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FMT:
            if (parse_choice("vm create", "--format", optarg, formats) < 0)
                return 2;
            o.format = optarg;
            break;
        case OPT_CONFIG: config = optarg; break;
        case OPT_NAME: o.name = optarg; break;
        case OPT_MEMORY:
            if ((v = number("--memory", optarg, 16L << 20)) < 0)
                return 2;
            o.memory_mib = (uint64_t)v;
            break;
        case OPT_VCPUS:
            if ((v = number("--vcpus", optarg, 1024)) < 0)
                return 2;
            o.vcpus = (int)v;
            break;
        case OPT_TARGET:
            if (parse_choice("vm create", "--target", optarg, p2v_targets) < 0)
                return 2;
            o.target = optarg;
            break;
        case OPT_FIRMWARE:
            if (parse_choice("vm create", "--firmware", optarg, firmwares) < 0)
                return 2;
            o.firmware = optarg;
            break;
        case OPT_GENERATION:
            if (parse_choice("vm create", "--generation", optarg, gens) < 0)
                return 2;
            o.generation = optarg[0] - '0';
            break;
        case OPT_DISK_MODE:
            if (parse_choice("vm create", "--disk-mode", optarg, modes) < 0)
                return 2;
            o.disk_mode = optarg;
            break;
        case OPT_DISK_PATH: o.disk_path = optarg; break;
        case OPT_NETWORK: o.network = optarg; break;
        case 'o': out = optarg; break;
        case 'h':
            fputs(usage, stdout);
            fputs("Writes a VM definition for IMAGE (a VHD, VHDX or raw file, or a p2v mount\n"
                  "point): libvirt domain XML, a Hyper-V PowerShell script, or a shell script\n"
                  "running qemu-system-x86_64.  Memory, CPUs, firmware and NIC MACs come from\n"
                  "the machine configuration (p2v inventory), else from the image itself.\n"
                  "  --target T        disk controller: virtio (default), qemu-sata, qemu-ide;\n"
                  "                    hyperv with --format hyperv\n"
                  "  --disk-mode M     direct: the VM writes to IMAGE (default for a writable\n"
                  "                    copy); overlay: writes go to a separate file (default for\n"
                  "                    a p2v mount); readonly: attached read-only (virtio)\n"
                  "  --disk-path PATH  the image's path on the host that runs the VM\n"
                  "  --network NAME    libvirt network (default 'default'), Hyper-V switch\n"
                  "  -o, --output FILE write to FILE (0600, scripts 0700) instead of stdout\n", stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!o.format || argc - optind != 1) {
        fputs(usage, stderr);
        return 2;
    }
    const char *image = argv[optind];
    struct p2v_machine *m = NULL;
    int r;
    if (config) {
        m = calloc(1, sizeof *m);
        r = m ? p2v_machine_load(config, m) : -ENOMEM;
    } else {
        /* No configuration: what the image itself shows (OS, firmware). */
        char path[4096];
        r = p2v_vm_image_path(image, path, sizeof path);
        struct p2v_stack_opts so = { 0 };
        if (r == 0)
            r = p2v_inventory_source(path, &so, &m);
    }
    /* A libvirt overlay goes beside the definition. */
    char dir[4096];
    const char *slash = out ? strrchr(out, '/') : NULL;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
    if (slash == out)
        snprintf(dir, sizeof dir, "/");
    char *abs = realpath(dir, NULL);
    o.out_dir = abs;
    struct p2v_vm *vm = calloc(1, sizeof *vm);
    if (r == 0 && !abs) {
        p2v_err("output directory %s: %s", dir, strerror(errno));
        r = -errno;
    }
    if (r == 0)
        r = vm ? p2v_vm_plan(m, image, &o, vm) : -ENOMEM;
    if (r == 0) {
        int script = strcmp(o.format, "libvirt") != 0;
        r = p2v_write_output(out, script ? 0700 : 0600,
                             !strcmp(o.format, "libvirt") ? write_libvirt
                             : !strcmp(o.format, "hyperv") ? write_hyperv : write_qemu, vm);
    }
    free(vm);
    free(m);
    free(abs);
    return r < 0 ? 1 : 0;
}

int cmd_vm(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create"))
        return vm_create(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    fputs(usage, stderr);
    return 2;
}
