/* p2v commit's work: the copy, then machine.xml, the VM definitions, the
 * view's reports and SHA256SUMS beside the image. */
#define _GNU_SOURCE
#include "commit.h"

#include "core/log.h"
#include "core/output.h"
#include "machine/vmdef.h"
#include "vhdwriter/image_format.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The last component of a path. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

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
static int put(struct p2v_commit *c, const char *name, mode_t mode,
               void (*w)(FILE *, const void *), const void *ctx)
{
    char path[PATH_MAX], *data = NULL, have[65] = "";
    size_t len = 0;
    if (c->nfiles >= P2V_COMMIT_MAX_FILES) {
        p2v_err("commit to %s: more than %d files to write", c->dest, P2V_COMMIT_MAX_FILES);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s", c->dest, name);
    FILE *mem = open_memstream(&data, &len);
    if (!mem)
        return -1;
    w(mem, ctx);
    if (fclose(mem) != 0) {
        free(data);
        return -1;
    }
    struct p2v_commit_file *f = &c->files[c->nfiles];
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
    c->nfiles++;
    return 0;
}

static void write_xml(FILE *f, const void *m) { p2v_machine_xml(f, m); }
static void write_libvirt(FILE *f, const void *vm) { p2v_vm_libvirt(f, vm); }
static void write_hyperv(FILE *f, const void *vm) { p2v_vm_hyperv(f, vm); }
static void write_qemu(FILE *f, const void *vm) { p2v_vm_qemu(f, vm); }
static void write_sums(FILE *f, const void *ctx)
{
    const struct p2v_commit *c = ctx;
    for (int i = 0; i < c->nfiles; i++)
        fprintf(f, "%s  %s\n", c->files[i].sha, c->files[i].name);
}

/* A report the view renders (fixups.json, status.json), read before the
 * copy: the view may be gone by the end.  0 with out->data NULL when
 * absent. */
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

/* The format of the image at path, as its name says: the first format
 * whose file extension appears in it (VHDX first), else NULL. */
static const struct p2v_image_format *named_format(const char *path)
{
    for (size_t i = 0; i < sizeof p2v_image_formats / sizeof *p2v_image_formats; i++) {
        const char *ext = strrchr(p2v_image_formats[i]->file, '.');
        if (ext && strstr(path, ext))
            return p2v_image_formats[i];
    }
    return NULL;
}

/* Whether a definition of this kind can work with the image: none that
 * cannot (with a note saying why). */
static int definition_works(const char *format, const struct p2v_machine *m,
                            const struct p2v_image_format *f)
{
    if (!strcmp(format, "hyperv") && !strcmp(m->firmware, "uefi") && !(f && f->hyperv_gen2)) {
        p2v_note("no Hyper-V script: this UEFI machine needs Generation 2, which takes VHDX only");
        return 0;
    }
    if (!strcmp(format, "libvirt") && f == &p2v_vhdx_format) {
        p2v_note("no libvirt domain: libvirt takes no VHDX disks (mount with --format vhd)");
        return 0;
    }
    return 1;
}

/* NAME.xml (libvirt), NAME.sh (QEMU) and NAME.ps1 (Hyper-V). */
static int definitions(struct p2v_commit *c, const struct p2v_machine *m)
{
    static const struct {
        const char *format, *ext;
        mode_t mode;
        void (*w)(FILE *, const void *);
    } kinds[] = {
        { "libvirt", "xml", 0600, write_libvirt },
        { "qemu", "sh", 0700, write_qemu },
        { "hyperv", "ps1", 0700, write_hyperv },
    };
    const struct p2v_image_format *f = named_format(c->final);
    struct p2v_vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return -1;
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof kinds / sizeof *kinds; i++) {
        int hv = !strcmp(kinds[i].format, "hyperv");
        struct p2v_vm_opts o = { .format = kinds[i].format, .name = c->name, .disk_mode = "direct",
                                 .out_dir = c->dest, .target = hv ? NULL : c->target };
        if (!definition_works(kinds[i].format, m, f))
            continue;
        if (p2v_vm_plan(m, c->final, &o, vm) < 0) {
            r = -1;
            break;
        }
        char fname[128];
        snprintf(fname, sizeof fname, "%s.%s", vm->name, kinds[i].ext);
        r = put(c, fname, kinds[i].mode, kinds[i].w, vm);
    }
    free(vm);
    return r;
}

static const char *file_kind(mode_t m)
{
    return S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISREG(m) ? "a file" : S_ISFIFO(m) ? "a pipe" : S_ISSOCK(m) ? "a socket"
         : "a special file";
}

int p2v_commit_prepare(struct p2v_commit *c)
{
    if (p2v_vm_image_path(c->mnt, c->image, sizeof c->image) < 0)
        return -1;
    if (mkdir(c->dest, 0700) < 0 && errno != EEXIST) {
        p2v_err("cannot create %s: %s", c->dest, strerror(errno));
        return -1;
    }
    struct stat ds;
    if (stat(c->dest, &ds) < 0) {
        p2v_err("cannot use %s as the destination: %s", c->dest, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(ds.st_mode)) {
        /* /dev/null would get "Not a directory" for a partial inside it. */
        p2v_err("%s is %s, not a directory: p2v commit writes the image and the files beside "
                "it into DEST_DIR; name a directory (it is created if missing)", c->dest,
                file_kind(ds.st_mode));
        return -1;
    }
    const char *base = base_name(c->image);
    if (!realpath(c->dest, c->final) || strlen(c->final) + strlen(base) + 2 > sizeof c->final) {
        p2v_err("%s: %s", c->dest, strerror(errno));
        return -1;
    }
    strcat(strcat(c->final, "/"), base);
    struct stat st;
    c->from_view = stat(c->mnt, &st) == 0 && S_ISDIR(st.st_mode);
    return 0;
}

/* The copy, then the files beside it, SHA256SUMS last. */
static int copy_and_write(struct p2v_commit *c, const struct p2v_machine *m,
                             const struct blob *fixups, const struct blob *status)
{
    const char *base = base_name(c->image);
    int r = p2v_copy_image(c->image, c->dest, base, &c->copy, &c->res);
    if (r < 0)
        return r;
    p2v_m_copy(c->files[0].name, sizeof c->files[0].name, base);
    hex(c->res.sha256, sizeof c->res.sha256, c->files[0].sha);
    c->nfiles = 1;
    r = put(c, "machine.xml", 0600, write_xml, m);
    if (r == 0)
        r = definitions(c, m);
    if (r == 0 && fixups->data)
        r = put(c, "fixups.json", 0600, write_blob, fixups);
    if (r == 0 && status->data)
        r = put(c, "status.json", 0600, write_blob, status);
    if (r == 0)
        r = put(c, "SHA256SUMS", 0600, write_sums, c);
    return r < 0 ? -1 : 0;
}

int p2v_commit_run(struct p2v_commit *c, const struct p2v_machine *m)
{
    /* The reports come first: they are kept even if the view is lost
     * during the copy. */
    struct blob fixups = { 0 }, status = { 0 };
    int r = 0;
    if (c->from_view)
        r = read_report(c->mnt, "fixups.json", &fixups);
    if (r == 0 && c->from_view)
        r = read_report(c->mnt, "status.json", &status);
    if (r == 0)
        r = copy_and_write(c, m, &fixups, &status);
    free((void *)fixups.data);
    free((void *)status.data);
    return r;
}
