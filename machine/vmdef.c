/* The decisions shared by every VM writer: name, memory, CPUs, firmware,
 * disk bus and mode, NICs.  Each refusal names the option that fixes it. */
#define _GNU_SOURCE
#include "vmdef.h"

#include "core/log.h"
#include "core/vhd_facts.h"
#include "core/uuid5.h"
#include "vhdwriter/image_format.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void p2v_sh_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        *s == '\'' ? fputs("'\\''", f) : fputc(*s, f);
    fputc('\'', f);
}

void p2v_ps_quote(FILE *f, const char *s)
{
    /* In a single-quoted PowerShell string only the quote is special
     * (doubled), including its typographic forms. */
    fputc('\'', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\'')
            fputs("''", f);
        else if (p[0] == 0xE2 && p[1] == 0x80 && p[2] >= 0x98 && p[2] <= 0x9B)
            fputs("''", f), p += 2;
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

/* A view whose process ended still answers stat from the kernel's cache
 * for a while; opening the file is what tells. */
static int gone(const char *image, const char *path, int e)
{
    if (e == ENOTCONN || e == ECONNABORTED)
        p2v_err("the view mounted on %s is gone (its process ended): run 'p2v umount %s', "
                "mount the source again, and rerun", image, image);
    else
        p2v_err("image %s: %s", path, strerror(e));
    return -e;
}

int p2v_vm_image_path(const char *image, char *out, size_t len)
{
    struct stat st;
    if (stat(image, &st) != 0)
        return gone(image, image, errno);
    if (!S_ISDIR(st.st_mode)) {
        snprintf(out, len, "%s", image);
        return 0;
    }
    /* A p2v mount point: its image file (the formats come VHDX first). */
    for (size_t i = 0; i < sizeof p2v_image_formats / sizeof *p2v_image_formats; i++) {
        snprintf(out, len, "%s/%s", image, p2v_image_formats[i]->file);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
            int fd = open(out, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                return gone(image, out, errno);
            close(fd);
            return 0;
        }
    }
    p2v_err("%s is a directory without %s or %s: give the image file, or the mount point of "
            "'p2v mount'", image, p2v_vhd_format.file, p2v_vhdx_format.file);
    return -ENOENT;
}

/* The image format of the file at path, from its own signature (a VHD's
 * cookie is in its footer, and at its head too when it is dynamic); NULL
 * for a raw file.  0, or -errno with a message. */
static int disk_format(const char *path, const struct p2v_image_format **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;  /* p2v_err may change errno */
        p2v_err("image %s: %s", path, strerror(e));
        return -e;
    }
    uint8_t head[8] = { 0 }, foot[8] = { 0 };
    struct stat st;
    int r = fstat(fd, &st) == 0 && pread(fd, head, 8, 0) == 8 ? 0 : -EIO;
    if (r == 0 && st.st_size >= 512 && pread(fd, foot, 8, st.st_size - 512) != 8)
        r = -EIO;
    close(fd);
    if (r < 0) {
        p2v_err("image %s: reading its first and last sectors failed", path);
        return r;
    }
    if (!memcmp(head, VHDX_SIGNATURE, 8))
        *out = &p2v_vhdx_format;
    else if (!memcmp(head, VHD_COOKIE, 8) || !memcmp(foot, VHD_COOKIE, 8))
        *out = &p2v_vhd_format;
    else
        *out = NULL;
    return 0;
}

/* The image file vm attaches (absolute) and its format, with QEMU's name
 * for it in vm->disk_format ("raw" is QEMU's, not one of p2v's formats). */
static int plan_image(const char *image, struct p2v_vm *vm, const struct p2v_image_format **f)
{
    *f = NULL;
    char path[PATH_MAX];
    int r = p2v_vm_image_path(image, path, sizeof path);
    if (r < 0)
        return r;
    if (!realpath(path, vm->image)) {
        int e = errno;  /* p2v_err may change errno */
        p2v_err("image %s: %s", path, strerror(e));
        return -e;
    }
    if ((r = disk_format(vm->image, f)) < 0)
        return r;
    p2v_m_copy(vm->disk_format, sizeof vm->disk_format, *f ? (*f)->qemu : "raw");
    return 0;
}

/* Names that every hypervisor and file system takes. */
static void clean_name(const char *in, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < len; p++)
        out[n++] = isalnum((unsigned char)*p) || strchr("._-", *p) ? *p : '-';
    out[n] = 0;
}

static void derive_macs(const struct p2v_machine *m, const char *fmt, struct p2v_vm *vm)
{
    for (int i = 0; i < m->nnics && vm->nnics < P2V_VM_MAX_NICS; i++) {
        const struct p2v_m_nic *n = &m->nic[i];
        /* A running machine's virtual interfaces (bridges, tunnels) have
         * MACs but no hardware to carry over. */
        if (n->mac[0] && (n->driver[0] || strcmp(m->origin, "running") != 0) &&
            strcmp(n->mac, "00:00:00:00:00:00") != 0)
            p2v_m_copy(vm->mac[vm->nnics++], sizeof vm->mac[0], n->mac);
    }
    if (vm->nnics)
        return;
    /* None known: one NIC with a MAC of the hypervisor's range, the same
     * for the same VM on every run. */
    uint8_t id[16];
    char seed[128];
    snprintf(seed, sizeof seed, "p2v-mac|%s", vm->name);
    p2v_uuid5(id, seed, strlen(seed));
    int hv = !strcmp(fmt, "hyperv");
    snprintf(vm->mac[0], sizeof vm->mac[0], "%s:%02x:%02x:%02x", hv ? "00:15:5d" : "52:54:00",
             id[0], id[1], id[2]);
    vm->nnics = 1;
}

int p2v_vm_plan(const struct p2v_machine *m, const char *image, const struct p2v_vm_opts *o,
                struct p2v_vm *vm)
{
    memset(vm, 0, sizeof *vm);
    int hyperv = !strcmp(o->format, "hyperv");
    const struct p2v_image_format *f;
    int r = plan_image(image, vm, &f);
    if (r < 0)
        return r;

    if (!strcmp(o->format, "libvirt") && f == &p2v_vhdx_format) {
        p2v_err("libvirt does not take VHDX disks (it knows raw, qcow2 and vpc): mount the "
                "source with --format vhd for libvirt, or convert the copy with qemu-img "
                "convert -f vhdx -O qcow2");
        return -EINVAL;
    }
    clean_name(o->name ? o->name : m->hostname[0] ? m->hostname : "p2v-vm", vm->name,
               sizeof vm->name);
    if (!vm->name[0])
        clean_name("p2v-vm", vm->name, sizeof vm->name);
    vm->memory_mib = o->memory_mib ? o->memory_mib
                   : m->memory_kib ? (m->memory_kib + 1023) / 1024 : 2048;
    vm->memory_mib += vm->memory_mib & 1;  /* Hyper-V takes multiples of 2 MiB */
    vm->vcpus = o->vcpus ? o->vcpus : m->cpu.count ? m->cpu.count : 2;
    if (!o->vcpus && (long long)m->cpu.sockets * m->cpu.cores * m->cpu.threads == vm->vcpus) {
        vm->sockets = m->cpu.sockets;
        vm->cores = m->cpu.cores;
        vm->threads = m->cpu.threads;
    } else {
        vm->sockets = 1, vm->cores = vm->vcpus, vm->threads = 1;
    }
    p2v_m_copy(vm->firmware, sizeof vm->firmware,
               o->firmware ? o->firmware : !strcmp(m->firmware, "uefi") ? "uefi" : "bios");
    p2v_m_copy(vm->os_family, sizeof vm->os_family, m->os.family[0] ? m->os.family : "unknown");
    p2v_m_copy(vm->os_name, sizeof vm->os_name, m->os.name);
    vm->acpi = m->acpi != P2V_NO;

    const char *target = o->target ? o->target : hyperv ? "hyperv" : "virtio";
    if (hyperv != !strcmp(target, "hyperv")) {
        p2v_err("--target %s does not go with --format %s: use --target hyperv with the hyperv "
                "format, and virtio, qemu-sata or qemu-ide with libvirt and qemu", target, o->format);
        return -EINVAL;
    }
    p2v_m_copy(vm->target, sizeof vm->target, target);
    vm->generation = o->generation ? o->generation : !strcmp(vm->firmware, "uefi") ? 2 : 1;
    if (hyperv && vm->generation == 1 && !strcmp(vm->firmware, "uefi")) {
        p2v_err("this machine boots with UEFI, which Hyper-V has in Generation 2 only: drop "
                "--generation 1, or give --firmware bios if it also boots with a BIOS");
        return -EINVAL;
    }
    if (hyperv && vm->generation == 2 && !(f && f->hyperv_gen2)) {
        p2v_err("Hyper-V Generation 2 attaches VHDX files only, and %s is %s%s: make a VHDX "
                "(p2v mount --format vhdx), or use --generation 1 for a BIOS machine", vm->image,
                f ? "a " : "", f ? f->label : "raw");
        return -EINVAL;
    }
    const char *bus = !strcmp(target, "virtio") ? "virtio" : !strcmp(target, "qemu-sata") ? "sata"
                    : !strcmp(target, "qemu-ide") ? "ide" : vm->generation == 2 ? "scsi" : "ide";
    p2v_m_copy(vm->bus, sizeof vm->bus, bus);

    const char *mode = o->disk_mode;
    if (!mode)
        mode = hyperv || access(vm->image, W_OK) == 0 ? "direct" : "overlay";
    if (!strcmp(mode, "readonly") && strcmp(bus, "virtio") != 0) {
        p2v_err("QEMU cannot attach an %s disk read-only: use --disk-mode overlay (the VM "
                "writes to a separate file) or --target virtio", bus);
        return -EINVAL;
    }
    if (hyperv && !strcmp(mode, "readonly")) {
        p2v_err("Hyper-V boots from writable disks only: use --disk-mode overlay (a "
                "differencing disk) or direct");
        return -EINVAL;
    }
    p2v_m_copy(vm->disk_mode, sizeof vm->disk_mode, mode);
    if (!strcmp(mode, "overlay"))
        snprintf(vm->overlay, sizeof vm->overlay, "%.3000s/%s-overlay.qcow2",
                 o->out_dir ? o->out_dir : ".", vm->name);
    if (o->disk_path)
        p2v_m_copy(vm->disk_path, sizeof vm->disk_path, o->disk_path);
    else if (hyperv)  /* beside the script on the Hyper-V host */
        p2v_m_copy(vm->disk_path, sizeof vm->disk_path, strrchr(vm->image, '/') + 1);
    else
        p2v_m_copy(vm->disk_path, sizeof vm->disk_path, vm->image);
    p2v_m_copy(vm->network, sizeof vm->network, o->network ? o->network : hyperv ? "" : "default");
    derive_macs(m, o->format, vm);

    char seed[PATH_MAX + 96];
    snprintf(seed, sizeof seed, "p2v-vm|%s|%s", vm->name, vm->disk_path);
    p2v_uuid5(vm->uuid, seed, strlen(seed));
    return 0;
}
