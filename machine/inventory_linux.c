/* A Linux guest's facts, read from its ext2/3/4 root (and an ext /boot)
 * with libext2fs, or through libguestfs's appliance when the root is on
 * XFS, btrfs or LVM: os-release, hostname, every kernel under /lib/modules
 * with its initramfs and the storage drivers each holds, the boot loader
 * and the device names its command lines use, fstab and crypttab; network
 * configuration (inventory_linux_net.c) and packages
 * (inventory_linux_pkgs.c).  Nothing is written. */
#define _GNU_SOURCE
#include "inventory.h"
#include "linux_guest.h"

#include "core/bytes.h"
#include "core/log.h"
#include "guest/ext_io.h"
#include "guest/hive.h"
#include "guest/initramfs.h"
#include "guest/linux_guestfs.h"
#include "guest/linux_net.h"
#include "fs/nbd_export.h"
#include "layout/layout_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG (1u << 20)
#define MAX_INITRAMFS (1024u << 20)

/* Storage drivers the rules ask about.  virtio_pci carries virtio_blk and
 * virtio_scsi; hv_vmbus carries hv_storvsc. */
const char *const p2v_linux_storage_drivers[] = { "virtio_blk", "virtio_scsi", "virtio_pci",
                                                 "ahci", "ata_piix", "hv_storvsc", "hv_vmbus",
                                                 NULL };

int p2v_lg_read(struct guest *g, const char *path, size_t max, char **d, size_t *len)
{
    if (g->lg) {
        int r = p2v_lgfs_read(g->lg, path, d, len);
        if (r == 0 && *len > max) {
            free(*d);
            return -EFBIG;
        }
        return r;
    }
    if (g->boot && !strncmp(path, "/boot/", 6)) {
        int r = p2v_ext_read_file(g->boot, path + 5, max, d, len);
        if (r != -ENOENT)
            return r;
    }
    return p2v_ext_read_file(g->root, path, max, d, len);
}

int p2v_lg_list(struct guest *g, const char *path, char ***names, size_t *n)
{
    if (g->lg)
        return p2v_lgfs_ls(g->lg, path, names, n);
    if (g->boot && !strncmp(path, "/boot", 5) && (path[5] == '/' || !path[5]) &&
        p2v_ext_list_dir(g->boot, path[5] ? path + 5 : "/", names, n) == 0)
        return 0;
    return p2v_ext_list_dir(g->root, path, names, n);
}

int p2v_lg_exists(struct guest *g, const char *dir)
{
    char **v;
    size_t n;
    if (p2v_lg_list(g, dir, &v, &n) < 0)
        return 0;
    p2v_strv_free(v, n);
    return 1;
}


int p2v_m_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t w = strcspn(p, ",");
        if (w == n && !strncmp(p, name, n))
            return 1;
        p += w + (p[w] == ',');
    }
    return 0;
}

void p2v_lg_list_add(char *list, size_t len, const char *name)
{
    size_t used = strlen(list);
    if (!p2v_m_listed(list, name) && used + strlen(name) + 2 < len)
        snprintf(list + used, len - used, "%s%s", used ? "," : "", name);
}

int p2v_m_unstable_device(const char *dev)
{
    static const char *const pre[] = { "/dev/sd", "/dev/hd", "/dev/vd", "/dev/xvd", NULL };
    for (int i = 0; pre[i]; i++)
        if (!strncmp(dev, pre[i], strlen(pre[i])) && dev[strlen(pre[i])] >= 'a' &&
            dev[strlen(pre[i])] <= 'z')
            return 1;
    return 0;
}

static void add_ref(struct p2v_machine *m, const char *where, const char *file, const char *dev)
{
    for (int i = 0; i < m->os.nrefs; i++)
        if (!strcmp(m->os.ref[i].where, where) && !strcmp(m->os.ref[i].file, file) &&
            !strcmp(m->os.ref[i].device, dev))
            return;
    if (m->os.nrefs >= P2V_M_MAX_ITEMS)
        return;
    struct p2v_m_ref *r = &m->os.ref[m->os.nrefs++];
    p2v_m_copy(r->where, sizeof r->where, where);
    p2v_m_copy(r->file, sizeof r->file, file);
    p2v_m_copy(r->device, sizeof r->device, dev);
}

/* The module name of a modules.dep / modules.builtin path. */
static int module_is(const char *path, size_t len, const char *name)
{
    const char *base = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            base = path + i + 1;
    size_t blen = len - (size_t)(base - path), nlen = strlen(name);
    /* Module names use '_' and '-' interchangeably. */
    if (blen < nlen + 3)
        return 0;
    for (size_t i = 0; i < nlen; i++) {
        char a = base[i] == '-' ? '_' : base[i], b = name[i] == '-' ? '_' : name[i];
        if (a != b)
            return 0;
    }
    return !strncmp(base + nlen, ".ko", 3);
}

int p2v_linux_module_listed(const char *text, const char *name)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t len = strcspn(l, ":\n");
        if (module_is(l, len, name))
            return 1;
    }
    return 0;
}

/* The architecture from an ELF binary's header (e_machine). */
static void linux_arch(struct guest *g, struct p2v_machine *m)
{
    static const char *const bins[] = { "/bin/sh", "/usr/bin/env", "/sbin/init" };
    for (size_t i = 0; i < sizeof bins / sizeof *bins && !m->os.arch[0]; i++) {
        char *d;
        size_t len;
        if (p2v_lg_read(g, bins[i], 16 << 20, &d, &len) < 0)
            continue;
        if (len >= 20 && !memcmp(d, "\177ELF", 4)) {
            uint16_t mach = d[5] == 2 ? (uint16_t)((uint8_t)d[18] << 8 | (uint8_t)d[19])
                                      : get_le16((const uint8_t *)d + 18);
            const char *a = mach == 0x3e ? "x86_64" : mach == 0x03 ? "i386" : mach == 0xb7 ? "arm64"
                          : mach == 0x32 ? "ia64" : mach == 0x28 ? "arm" : "";
            p2v_m_copy(m->os.arch, sizeof m->os.arch, a);
        }
        free(d);
    }
}

/* ---- fstab, crypttab ---------------------------------------------- */

static void read_fstab(struct guest *g, struct p2v_machine *m)
{
    char *text;
    size_t len;
    if (p2v_lg_read(g, "/etc/fstab", MAX_CONFIG, &text, &len) < 0)
        return;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char spec[96], file[96], type[24], opts[96];
        l += strspn(l, " \t");
        if (*l == '#' || sscanf(l, "%95s %95s %23s %95s", spec, file, type, opts) < 3)
            continue;
        if (sscanf(l, "%*s %*s %*s %95s", opts) != 1)
            p2v_m_copy(opts, sizeof opts, "defaults");
        add_ref(m, "fstab", "/etc/fstab", spec);
        if (m->os.nmounts >= P2V_M_MAX_ITEMS)
            continue;
        struct p2v_m_mount *e = &m->os.mount[m->os.nmounts++];
        p2v_m_copy(e->spec, sizeof e->spec, spec);
        p2v_m_copy(e->file, sizeof e->file, file);
        p2v_m_copy(e->type, sizeof e->type, type);
        p2v_m_copy(e->options, sizeof e->options, opts);
    }
    free(text);
    if (p2v_lg_read(g, "/etc/crypttab", MAX_CONFIG, &text, &len) < 0)
        return;
    save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[96], dev[96];
        l += strspn(l, " \t");
        if (*l != '#' && sscanf(l, "%95s %95s", name, dev) == 2)
            add_ref(m, "crypttab", "/etc/crypttab", dev);
    }
    free(text);
}

/* ---- kernels and their initramfs ----------------------------------- */

static int cmp_ver_desc(const void *a, const void *b)
{
    return strverscmp(*(char *const *)b, *(char *const *)a);
}

/* Where the distributions put a kernel's initramfs. */
static int find_initramfs(struct guest *g, const char *ver, char *path, size_t len, char **d,
                          size_t *dlen)
{
    static const char *const forms[] = { "/boot/initrd.img-%s", "/boot/initramfs-%s.img",
                                         "/boot/initrd-%s", "/boot/initramfs-%s", NULL };
    for (int i = 0; forms[i]; i++) {
        snprintf(path, len, forms[i], ver);
        int r = p2v_lg_read(g, path, MAX_INITRAMFS, d, dlen);
        if (r != -ENOENT)
            return r;
    }
    path[0] = 0;
    return -ENOENT;
}

static void read_kernel(struct guest *g, const char *ver, struct p2v_m_kernel *k)
{
    char path[160], *dep = NULL, *builtin = NULL, *ir = NULL;
    size_t len;
    p2v_m_copy(k->version, sizeof k->version, ver);
    snprintf(path, sizeof path, "/lib/modules/%s/modules.dep", ver);
    if (p2v_lg_read(g, path, 64 << 20, &dep, &len) < 0)
        dep = NULL;
    snprintf(path, sizeof path, "/lib/modules/%s/modules.builtin", ver);
    if (p2v_lg_read(g, path, 64 << 20, &builtin, &len) < 0)
        builtin = NULL;
    for (size_t i = 0; p2v_linux_storage_drivers[i]; i++) {
        const char *name = p2v_linux_storage_drivers[i];
        if (builtin && p2v_linux_module_listed(builtin, name))
            p2v_lg_list_add(k->builtin, sizeof k->builtin, name);
        else if (dep && p2v_linux_module_listed(dep, name))
            p2v_lg_list_add(k->available, sizeof k->available, name);
    }
    free(dep);
    free(builtin);
    int r = find_initramfs(g, ver, path, sizeof path, &ir, &len);
    if (r < 0) {
        p2v_m_copy(k->state, sizeof k->state, r == -ENOENT ? "missing" : "damaged");
        if (r != -ENOENT)
            p2v_warn("the initramfs of kernel %s (%s) cannot be read: %s", ver, path,
                         strerror(-r));
        return;
    }
    p2v_m_copy(k->initramfs, sizeof k->initramfs, path);
    struct p2v_initramfs fs;
    char why[256];
    if (p2v_initramfs_read((const uint8_t *)ir, len, &fs, why, sizeof why) < 0) {
        p2v_m_copy(k->state, sizeof k->state, "damaged");
        p2v_warn("the initramfs %s of kernel %s cannot be read: %s", path, ver, why);
    } else {
        p2v_m_copy(k->state, sizeof k->state, "read");
        p2v_m_copy(k->generator, sizeof k->generator, fs.generator);
        for (size_t i = 0; p2v_linux_storage_drivers[i]; i++)
            if (p2v_initramfs_has(&fs, p2v_linux_storage_drivers[i]))
                p2v_lg_list_add(k->drivers, sizeof k->drivers, p2v_linux_storage_drivers[i]);
        p2v_initramfs_free(&fs);
    }
    free(ir);
}

static void read_kernels(struct guest *g, struct p2v_machine *m)
{
    char **v;
    size_t n;
    if (p2v_lg_list(g, "/lib/modules", &v, &n) < 0)
        return;
    qsort(v, n, sizeof *v, cmp_ver_desc);
    for (size_t i = 0; i < n && m->os.nkernels < P2V_M_MAX_KERNELS; i++) {
        char path[160];
        snprintf(path, sizeof path, "/lib/modules/%s/modules.dep", v[i]);
        char *d;
        size_t len;
        if (p2v_lg_read(g, path, 64 << 20, &d, &len) < 0)
            continue;  /* a leftover directory, no kernel */
        free(d);
        read_kernel(g, v[i], &m->os.kernels[m->os.nkernels++]);
    }
    p2v_strv_free(v, n);
    if (!m->os.nkernels)
        return;
    /* The newest kernel is the one the boot loader starts by default. */
    const struct p2v_m_kernel *k = &m->os.kernels[0];
    p2v_m_copy(m->os.kernel, sizeof m->os.kernel, k->version);
    for (size_t i = 0; p2v_linux_storage_drivers[i] && m->os.ndrivers < P2V_M_MAX_ITEMS; i++) {
        const char *name = p2v_linux_storage_drivers[i];
        int b = p2v_m_listed(k->builtin, name);
        if (!b && !p2v_m_listed(k->available, name))
            continue;
        struct p2v_m_driver *drv = &m->os.driver[m->os.ndrivers++];
        p2v_m_copy(drv->name, sizeof drv->name, name);
        drv->start = drv->start_override = -1;
        drv->builtin = b;
        drv->file = P2V_YES;
    }
}

/* ---- boot loader --------------------------------------------------- */

/* root= and resume= of a kernel command line. */
static void cmdline_refs(struct p2v_machine *m, const char *file, const char *l)
{
    for (const char *p = l; (p = strpbrk(p, "rR")) != NULL; p++) {
        if (p > l && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '"' && p[-1] != '\'')
            continue;
        int root = !strncmp(p, "root=", 5), resume = !strncmp(p, "resume=", 7);
        if (!root && !resume)
            continue;
        const char *v = p + (root ? 5 : 7);
        char dev[96];
        size_t n = strcspn(v, " \t\"'\n");
        if (!n || n >= sizeof dev)
            continue;
        memcpy(dev, v, n);
        dev[n] = 0;
        add_ref(m, root ? "cmdline" : "resume", file, dev);
    }
}

static void scan_lines(struct guest *g, struct p2v_machine *m, const char *file,
                       const char *const starts[])
{
    char *text;
    size_t len;
    if (p2v_lg_read(g, file, 16 << 20, &text, &len) < 0)
        return;
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *s = l + strspn(l, " \t");
        for (int i = 0; starts[i]; i++)
            if (!strncmp(s, starts[i], strlen(starts[i]))) {
                char line[1024];
                size_t n = strcspn(s, "\n");
                n = n < sizeof line - 1 ? n : sizeof line - 1;
                memcpy(line, s, n);
                line[n] = 0;
                cmdline_refs(m, file, line);
                break;
            }
    }
    free(text);
}

static void read_bootloader(struct guest *g, struct p2v_machine *m)
{
    static const char *const cfgs[] = { "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", NULL };
    static const char *const linux_lines[] = { "linux", NULL };
    static const char *const default_lines[] = { "GRUB_CMDLINE_LINUX", NULL };
    static const char *const options_lines[] = { "options", NULL };
    static const char *const resume_lines[] = { "RESUME=", NULL };
    for (int i = 0; cfgs[i] && !m->os.bootloader_config[0]; i++) {
        char *d;
        size_t len;
        if (p2v_lg_read(g, cfgs[i], 16 << 20, &d, &len) == 0) {
            free(d);
            p2v_m_copy(m->os.bootloader_config, sizeof m->os.bootloader_config, cfgs[i]);
        }
    }
    int bios = p2v_lg_exists(g, "/boot/grub/i386-pc") || p2v_lg_exists(g, "/boot/grub2/i386-pc");
    int efi = p2v_lg_exists(g, "/boot/grub/x86_64-efi") || p2v_lg_exists(g, "/boot/grub2/x86_64-efi");
    int sdboot = p2v_lg_exists(g, "/boot/loader/entries");
    const char *kind = bios ? "grub-bios" : efi ? "grub-efi" : sdboot ? "systemd-boot"
                     : m->os.bootloader_config[0] ? "grub-efi" : "none";
    /* A grub.cfg with no platform directory beside it: GRUB EFI keeps its
     * modules in the EFI System Partition (a signed grubx64.efi). */
    p2v_m_copy(m->os.bootloader, sizeof m->os.bootloader, kind);
    if (m->os.bootloader_config[0])
        scan_lines(g, m, m->os.bootloader_config, linux_lines);
    scan_lines(g, m, "/etc/default/grub", default_lines);
    scan_lines(g, m, "/etc/kernel/cmdline", (const char *const[]){ "", NULL });
    scan_lines(g, m, "/etc/initramfs-tools/conf.d/resume", resume_lines);
    char **v;
    size_t n;
    if (sdboot && p2v_lg_list(g, "/boot/loader/entries", &v, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            char path[160];
            snprintf(path, sizeof path, "/boot/loader/entries/%s", v[i]);
            scan_lines(g, m, path, options_lines);
        }
        p2v_strv_free(v, n);
        if (!m->os.bootloader_config[0])
            p2v_m_copy(m->os.bootloader_config, sizeof m->os.bootloader_config,
                       "/boot/loader/entries");
    }
    /* RESUME=UUID=... in initramfs-tools' file reads as a resume= reference. */
    for (int i = 0; i < m->os.nrefs; i++)
        if (!strcmp(m->os.ref[i].file, "/etc/initramfs-tools/conf.d/resume"))
            p2v_m_copy(m->os.ref[i].where, sizeof m->os.ref[i].where, "resume");
}

/* ---- the root ------------------------------------------------------ */

/* The ext volume fstab mounts on /boot, when it is another one. */
static ext2_filsys open_boot(const struct p2v_disk_view *dv, const struct p2v_machine *m,
                             const struct p2v_volume *vols, int n, int root)
{
    const char *spec = NULL;
    for (int i = 0; i < m->os.nmounts; i++)
        if (!strcmp(m->os.mount[i].file, "/boot"))
            spec = m->os.mount[i].spec;
    if (!spec || !m->ndisks)
        return NULL;
    const struct p2v_m_disk *d = &m->disk[0];
    for (int i = 0; i < d->nparts; i++) {
        const struct p2v_m_fs *fs = &d->part[i].fs;
        if (d->part[i].number == root || strncmp(fs->type, "ext", 3) != 0)
            continue;
        int match = (!strncmp(spec, "UUID=", 5) && !strcasecmp(spec + 5, fs->uuid)) ||
                    (!strncmp(spec, "LABEL=", 6) && !strcmp(spec + 6, fs->label));
        for (int k = 0; match && k < n; k++) {
            ext2_filsys b;
            if (vols[k].number == d->part[i].number &&
                p2v_ext_open(dv->layer, vols[k].start, vols[k].size, &b) == 0)
                return b;
        }
    }
    return NULL;
}

/* Everything but where the root is; text is its os-release. */
static void read_facts(struct guest *g, struct p2v_machine *m, char *text,
                       const struct p2v_disk_view *dv, const struct p2v_volume *vols, int n)
{
    size_t len;
    p2v_m_copy(m->os.family, sizeof m->os.family, "linux");
    p2v_os_release_value(text, "PRETTY_NAME", m->os.name, sizeof m->os.name);
    p2v_os_release_value(text, "ID", m->os.id, sizeof m->os.id);
    p2v_os_release_value(text, "VERSION_ID", m->os.version, sizeof m->os.version);
    free(text);
    if (p2v_lg_read(g, "/etc/hostname", 4096, &text, &len) == 0) {
        text[strcspn(text, " \t\r\n")] = 0;
        p2v_m_copy(m->hostname, sizeof m->hostname, text);
        free(text);
    }
    read_fstab(g, m);
    if (!g->lg)
        g->boot = open_boot(dv, m, vols, n, m->os.partition);
    read_kernels(g, m);
    read_bootloader(g, m);
    p2v_lg_read_network(g, m);
    p2v_lg_read_packages(g, m);
    linux_arch(g, m);
}

/* A root the fast path cannot read (XFS, btrfs, LVM): libguestfs's
 * appliance reads the disk from a read-only NBD export of the layer. */
static int inventory_guestfs(const struct p2v_disk_view *dv, struct p2v_machine *m)
{
    const char *tmp = getenv("TMPDIR");
    struct p2v_nbd *nbd;
    int r = p2v_nbd_start(dv->layer, tmp && *tmp ? tmp : "/tmp", 1, &nbd);
    if (r < 0)
        return r;
    p2v_note("the root is not on ext2/3/4: reading the guest with libguestfs's appliance "
             "(about 30 s without KVM)");
    struct guest g = { 0 };
    r = p2v_lgfs_open(p2v_nbd_socket(nbd), 1, &g.lg);
    char *text = NULL;
    size_t len;
    if (r == 0 && p2v_lg_read(&g, "/etc/os-release", MAX_CONFIG, &text, &len) < 0 &&
        p2v_lg_read(&g, "/usr/lib/os-release", MAX_CONFIG, &text, &len) < 0)
        r = -ENOENT;
    if (r == 0) {
        const char *root = p2v_lgfs_root(g.lg);
        size_t k = strlen(root);
        while (k && root[k - 1] >= '0' && root[k - 1] <= '9')
            k--;
        m->os.partition = !strncmp(root, "/dev/sd", 7) ? atoi(root + k) : 0;
        read_facts(&g, m, text, dv, NULL, 0);
    }
    if (g.lg)
        p2v_lgfs_close(g.lg);
    p2v_nbd_stop(nbd);
    return r;
}

int p2v_inventory_linux(const struct p2v_disk_view *dv, struct p2v_machine *m)
{
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    int n = p2v_disk_view_volumes(dv, vols, P2V_MAX_PARTITIONS);
    for (int i = 0; i < n; i++) {
        if (strncmp(vols[i].fstype, "ext", 3) != 0)
            continue;
        struct guest g = { 0 };
        if (p2v_ext_open(dv->layer, vols[i].start, vols[i].size, &g.root) != 0)
            continue;  /* the layout has already said what is wrong with it */
        char *text = NULL;
        size_t len;
        /* The root filesystem is the one with an os-release. */
        if (p2v_lg_read(&g, "/etc/os-release", MAX_CONFIG, &text, &len) < 0 &&
            p2v_lg_read(&g, "/usr/lib/os-release", MAX_CONFIG, &text, &len) < 0) {
            p2v_ext_close(&g.root);
            continue;
        }
        m->os.partition = vols[i].number;
        read_facts(&g, m, text, dv, vols, n);
        if (g.boot)
            p2v_ext_close(&g.boot);
        p2v_ext_close(&g.root);
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (!strcmp(vols[i].fstype, "xfs") || !strcmp(vols[i].fstype, "btrfs") ||
            !strcmp(vols[i].fstype, "LVM2_member")) {
            int r = inventory_guestfs(dv, m);
            /* The disk facts stand without the guest's: a data disk, or a
             * machine where the appliance cannot start, is still listed. */
            if (r < 0 && r != -ENOENT)
                p2v_warn("%s: the XFS, btrfs or LVM volumes could not be read (above); the "
                         "operating system's facts are left out", dv->name);
            return r == 0 ? 0 : -ENOENT;
        }
    return -ENOENT;
}
