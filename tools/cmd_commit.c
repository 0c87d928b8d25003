/* p2v commit MNT DEST: the image out of a view, with what a hypervisor
 * host needs beside it: VM definitions, the machine configuration, the
 * fix-up and job reports, and a SHA256SUMS manifest. */
#define _GNU_SOURCE
#include "commands.h"

#include "core/output.h"
#include "stack.h"
#include "transfer/copy.h"
#include "machine/machine.h"
#include "machine/vmdef.h"
#include "core/json.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_SPARSE = 0x200, OPT_NO_VERIFY, OPT_CONFIG, OPT_NAME, OPT_JSON, OPT_TARGET };

#define MAX_FILES 8

struct written {
    char name[128];
    char sha[65];
};

struct commit {
    const char *dest;
    struct written files[MAX_FILES];
    int n;
};

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static int file_sha(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct sha256_ctx h;
    uint8_t buf[65536], d[32];
    ssize_t n;
    sha256_init(&h);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        sha256_update(&h, (size_t)n, buf);
    int r = n < 0 ? -errno : 0;
    close(fd);
    sha256_digest(&h, sizeof d, d);
    hex(d, sizeof d, out);
    return r;
}

static void sha_of(const void *data, size_t len, char out[65])
{
    struct sha256_ctx h;
    uint8_t d[32];
    sha256_init(&h);
    sha256_update(&h, len, data);
    sha256_digest(&h, sizeof d, d);
    hex(d, sizeof d, out);
}

struct blob { const char *data; size_t len; };
static void write_blob(FILE *f, const void *ctx)
{
    const struct blob *b = ctx;
    fwrite(b->data, 1, b->len, f);
}

/* Writes DEST/name (atomically) and records its hash for SHA256SUMS.  A
 * file already there with these bytes is left alone, so a second commit
 * to a read-only copy still checks out. */
static int put(struct commit *c, const char *name, mode_t mode, void (*w)(FILE *, const void *),
               const void *ctx)
{
    char path[PATH_MAX], *data = NULL, have[65] = "";
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", c->dest, name);
    FILE *mem = open_memstream(&data, &len);
    if (!mem)
        return -1;
    w(mem, ctx);
    if (fclose(mem) != 0) {
        free(data);
        return -1;
    }
    struct written *f = &c->files[c->n];
    snprintf(f->name, sizeof f->name, "%s", name);
    sha_of(data, len, f->sha);
    struct stat st;
    int same = stat(path, &st) == 0 && (size_t)st.st_size == len && file_sha(path, have) == 0 &&
               !strcmp(have, f->sha);
    struct blob b = { data, len };
    int r = same ? 0 : p2v_write_output(path, mode, write_blob, &b);
    free(data);
    if (r < 0)
        return -1;
    c->n++;
    return 0;
}

static void write_xml(FILE *f, const void *m) { p2v_machine_xml(f, m); }
static void write_libvirt(FILE *f, const void *vm) { p2v_vm_libvirt(f, vm); }
static void write_hyperv(FILE *f, const void *vm) { p2v_vm_hyperv(f, vm); }
static void write_qemu(FILE *f, const void *vm) { p2v_vm_qemu(f, vm); }
static void write_sums(FILE *f, const void *ctx)
{
    const struct commit *c = ctx;
    for (int i = 0; i < c->n; i++)
        fprintf(f, "%s  %s\n", c->files[i].sha, c->files[i].name);
}

/* A report the view renders (fixups.json, status.json), read before the
 * copy: the view may be gone by the end.  0 with *out NULL when absent. */
static int read_report(const char *mnt, const char *name, struct blob *out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", mnt, name);
    out->data = NULL;
    out->len = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        p2v_err("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *data = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&data, &len);
    char buf[65536];
    size_t n;
    while (m && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, m);
    int bad = ferror(f) || !m;
    fclose(f);
    if (m && fclose(m) != 0)
        bad = 1;
    if (bad) {
        p2v_err("reading %s failed", path);
        free(data);
        return -1;
    }
    out->data = data;
    out->len = len;
    return 0;
}

/* The machine: --config, else what the view's disk shows (mnt NULL: the
 * image was named directly). */
static struct p2v_machine *machine_of(const char *config, const char *mnt, const char *image)
{
    struct p2v_machine *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (config) {
        if (p2v_machine_load(config, m) == 0)
            return m;
        free(m);
        return NULL;
    }
    /* A view's disk.raw is the same disk without the VHD to decode. */
    char raw[PATH_MAX];
    snprintf(raw, sizeof raw, "%s/disk.raw", mnt ? mnt : "");
    struct p2v_stack_opts so = { 0 };
    struct p2v_machine *found;
    free(m);
    if (p2v_inventory_source(mnt && access(raw, R_OK) == 0 ? raw : image, &so, &found) == 0) {
        /* Name the copy, not the view that will be gone. */
        p2v_m_copy(found->source, sizeof found->source, image);
        if (found->ndisks == 1) {
            p2v_m_copy(found->disk[0].path, sizeof found->disk[0].path, image);
            p2v_m_copy(found->disk[0].name, sizeof found->disk[0].name,
                       strrchr(image, '/') ? strrchr(image, '/') + 1 : image);
        }
        return found;
    }
    p2v_warn("the image's machine configuration could not be read; the VM definitions use "
             "defaults (give --config FILE from p2v inventory)");
    m = calloc(1, sizeof *m);
    if (m) {
        p2v_m_copy(m->origin, sizeof m->origin, "source");
        p2v_m_copy(m->os.family, sizeof m->os.family, "unknown");
    }
    return m;
}

static int definitions(struct commit *c, const struct p2v_machine *m, const char *final,
                       const char *name, const char *target)
{
    static const struct { const char *format, *ext; mode_t mode; void (*w)(FILE *, const void *); } fmts[] = {
        { "libvirt", "xml", 0600, write_libvirt },
        { "qemu", "sh", 0700, write_qemu },
        { "hyperv", "ps1", 0700, write_hyperv },
    };
    struct p2v_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return -1;
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof fmts / sizeof *fmts; i++) {
        int hv = !strcmp(fmts[i].format, "hyperv");
        struct p2v_vm_opts o = { .format = fmts[i].format, .name = name, .disk_mode = "direct",
                                 .out_dir = c->dest, .target = hv ? NULL : target };
        int vhdx = strstr(final, ".vhdx") != NULL;
        /* No definition that cannot work: Generation 2 takes VHDX only,
         * libvirt takes no VHDX. */
        if (!strcmp(fmts[i].format, "hyperv") && !strcmp(m->firmware, "uefi") && !vhdx) {
            p2v_note("no Hyper-V script: this UEFI machine needs Generation 2, which takes VHDX only");
            continue;
        }
        if (!strcmp(fmts[i].format, "libvirt") && vhdx) {
            p2v_note("no libvirt domain: libvirt takes no VHDX disks (mount with --format vhd)");
            continue;
        }
        if (p2v_vm_plan(m, final, &o, vm) < 0)
            return -1;
        char fname[128];
        snprintf(fname, sizeof fname, "%s.%s", vm->name, fmts[i].ext);
        r = put(c, fname, fmts[i].mode, fmts[i].w, vm);
    }
    free(vm);
    return r;
}

static const char usage[] =
    "usage: p2v commit [--sparse] [--no-verify] [--config MACHINE.xml] [--name NAME]\n"
    "                  [--target T] [--json] [-q] MNT DEST_DIR\n";

int cmd_commit(int argc, char **argv)
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
    struct p2v_copy_opts co = { .verify = 1 };
    const char *config = NULL, *name = NULL, *target = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_SPARSE: co.sparse = 1; break;
        case OPT_NO_VERIFY: co.verify = 0; break;
        case OPT_CONFIG: config = optarg; break;
        case OPT_NAME: name = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_TARGET: {
            static const char *const t[] = { "virtio", "qemu-sata", "qemu-ide", NULL };
            if (parse_choice("commit", "--target", optarg, t) < 0)
                return 2;
            target = optarg;
            break;
        }
        case 'q': co.quiet = 1; break;
        case 'h':
            fputs(usage, stdout);
            fputs("Copies the image of the view MNT (disk.vhdx, else disk.vhd) to DEST_DIR, and\n"
                  "writes beside it VM definitions (NAME.xml for libvirt, NAME.sh for QEMU,\n"
                  "NAME.ps1 for Hyper-V), machine.xml, fixups.json and status.json, and a\n"
                  "SHA256SUMS manifest (sha256sum -c SHA256SUMS checks them).  An interrupted\n"
                  "commit resumes when run again; the image appears under its name only when\n"
                  "it is complete.\n"
                  "      --sparse          keep holes (default: allocate them; Windows refuses\n"
                  "                        sparse VHD/VHDX files)\n"
                  "      --no-verify       do not re-read both sides at the end\n"
                  "      --config FILE     machine configuration for the definitions\n"
                  "                        (default: what the image shows)\n"
                  "      --name NAME       the VM's name (default: the hostname, else p2v-vm)\n"
                  "      --target T        disk bus of the libvirt and QEMU definitions: virtio\n"
                  "                        (default), qemu-sata or qemu-ide\n"
                  "      --json            a JSON summary on stdout\n"
                  "  -q, --quiet           no progress\n", stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *mnt = argv[optind], *dest = argv[optind + 1];
    char image[PATH_MAX];
    if (p2v_vm_image_path(mnt, image, sizeof image) < 0)
        return 1;
    if (mkdir(dest, 0700) < 0 && errno != EEXIST) {
        p2v_err("cannot create %s: %s", dest, strerror(errno));
        return 1;
    }
    const char *base = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
    char final[PATH_MAX];
    if (!realpath(dest, final) || strlen(final) + strlen(base) + 2 > sizeof final) {
        p2v_err("%s: %s", dest, strerror(errno));
        return 1;
    }
    strcat(strcat(final, "/"), base);
    /* Everything read from the view or the user comes first: a bad
     * --config fails before hours of copying, and the reports are kept
     * even if the view is lost during the copy. */
    struct stat st;
    int is_dir = stat(mnt, &st) == 0 && S_ISDIR(st.st_mode);
    struct blob fixups = { 0 }, status = { 0 };
    struct p2v_machine *m = machine_of(config, is_dir ? mnt : NULL, final);
    int r = m ? 0 : -1;
    if (r == 0 && is_dir)
        r = read_report(mnt, "fixups.json", &fixups);
    if (r == 0 && is_dir)
        r = read_report(mnt, "status.json", &status);
    struct p2v_copy_result res;
    if (r == 0) {
        r = p2v_copy_image(image, dest, base, &co, &res);
        if (r == -EINTR)
            r = -130;
    }
    struct commit cm = { .dest = dest };
    if (r == 0) {
        p2v_m_copy(cm.files[0].name, sizeof cm.files[0].name, base);
        hex(res.sha256, sizeof res.sha256, cm.files[0].sha);
        cm.n = 1;
        r = put(&cm, "machine.xml", 0600, write_xml, m);
    }
    if (r == 0)
        r = definitions(&cm, m, final, name, target);
    if (r == 0 && fixups.data)
        r = put(&cm, "fixups.json", 0600, write_blob, &fixups);
    if (r == 0 && status.data)
        r = put(&cm, "status.json", 0600, write_blob, &status);
    if (r == 0)
        r = put(&cm, "SHA256SUMS", 0600, write_sums, &cm);
    free(m);
    free((void *)fixups.data);
    free((void *)status.data);
    if (r < 0)
        return r == -130 ? 130 : 1;
    if (json) {
        printf("{\"image\": ");
        json_string(stdout, final);
        printf(", \"size\": %llu, \"sha256\": \"%s\", \"resumed_at\": %llu, \"already\": %s, "
               "\"verified\": %s, \"sparse\": %s, \"files\": [",
               (unsigned long long)res.size, cm.files[0].sha, (unsigned long long)res.resumed_at,
               res.already ? "true" : "false", co.verify ? "true" : "false",
               co.sparse ? "true" : "false");
        for (int i = 0; i < cm.n; i++) {
            printf("%s", i ? ", " : "");
            json_string(stdout, cm.files[i].name);
        }
        printf("]}\n");
    } else {
        printf("%s: %llu bytes, sha256 %s%s%s\n", final, (unsigned long long)res.size,
               cm.files[0].sha, res.already ? " (already there)" : "",
               co.verify ? ", verified" : "");
        for (int i = 1; i < cm.n; i++)
            printf("  + %s\n", cm.files[i].name);
    }
    return 0;
}
