/* The Linux rules (rules.h): the storage drivers the kernel has at boot,
 * device names and NIC names that change on the target, hibernation,
 * unclean filesystems and the boot loader.  Each judges the facts
 * inventory_linux.c reads, and names the file to fix. */
#include "rules.h"
#include "rules_int.h"

#include "guest/linux_net.h"

#include <stdio.h>
#include <string.h>

/* Linux: what the kernel needs from its storage stack on the target, as
 * groups of which each needs one member (virtio_blk or virtio_scsi, and
 * virtio_pci under them). */
struct need { const char *any[3]; };
static int linux_needs(const struct p2v_check_opts *o, const struct need **out)
{
    static const struct need virtio[] = { { { "virtio_blk", "virtio_scsi" } }, { { "virtio_pci" } } };
    static const struct need sata[] = { { { "ahci" } } };
    static const struct need ide[] = { { { "ata_piix" } } };
    static const struct need hv[] = { { { "hv_storvsc" } }, { { "hv_vmbus" } } };
    int is_ide = !strcmp(o->target, "qemu-ide") || (!strcmp(o->target, "hyperv") && o->generation == 1);
    *out = !strcmp(o->target, "virtio") ? virtio : !strcmp(o->target, "qemu-sata") ? sata
         : is_ide ? ide : hv;
    return *out == virtio || *out == hv ? 2 : 1;
}

static void need_words(const struct need *nd, int nn, char *out, size_t len)
{
    out[0] = 0;
    for (int g = 0; g < nn; g++)
        for (int i = 0; i < 3 && nd[g].any[i]; i++)
            snprintf(out + strlen(out), len - strlen(out), "%s%s",
                     !g && !i ? "" : i ? " or " : " and ", nd[g].any[i]);
}

/* The groups a kernel lacks at boot (no member built in or in its
 * initramfs), named by their first member into miss; 1 if any.  *absent
 * is set when a lacking group has no member among the kernel's modules
 * either (no initramfs rebuild can help). */
static int kernel_lacks(const struct p2v_m_kernel *k, const struct need *nd, int nn, char *miss,
                        size_t len, int *absent)
{
    miss[0] = 0;
    for (int g = 0; g < nn; g++) {
        int ok = 0, mod = 0;
        for (int i = 0; i < 3 && nd[g].any[i]; i++) {
            ok |= p2v_m_listed(k->builtin, nd[g].any[i]) || p2v_m_listed(k->drivers, nd[g].any[i]);
            mod |= p2v_m_listed(k->available, nd[g].any[i]);
        }
        if (ok)
            continue;
        *absent |= !mod;
        snprintf(miss + strlen(miss), len - strlen(miss), "%s%s", miss[0] ? ", " : "",
                 nd[g].any[0]);
    }
    return miss[0] != 0;
}

static void linux_remedy(const struct p2v_machine *m, const char *all, struct p2v_result *r)
{
    const char *gen = m->os.nkernels ? m->os.kernels[0].generator : "";
    if (!strcmp(gen, "dracut"))
        remedy(r, "on the source: add_drivers+=\" %s \" in /etc/dracut.conf.d/virt.conf, then "
                  "dracut -f --regenerate-all; or convert for a --target whose driver the "
                  "initramfs holds", all);
    else if (!strcmp(gen, "mkinitcpio"))
        remedy(r, "on the source: add %s to MODULES in /etc/mkinitcpio.conf, then mkinitcpio -P; "
                  "or convert for a --target whose driver the initramfs holds", all);
    else
        remedy(r, "on the source: add %s to /etc/initramfs-tools/modules (one per line), then "
                  "update-initramfs -u -k all; or convert for a --target whose driver the "
                  "initramfs holds", all);
}

void p2v_rule_linux_boot_driver(const struct p2v_machine *m, const struct p2v_check_opts *o,
                              struct p2v_result *r)
{
    const struct need *nd;
    int nn = linux_needs(o, &nd);
    char want[96], all[96] = "";
    need_words(nd, nn, want, sizeof want);
    for (int g = 0; g < nn; g++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", g ? " " : "", nd[g].any[0]);
    if (!m->os.nkernels) {
        /* A running machine, or a configuration from before kernels were
         * listed: the main driver among the modules is all that is known. */
        if (!m->os.kernel[0])
            RETURN_SAY(r, P2V_SKIP, "no kernel modules found (/lib/modules)");
        need_words(nd, 1, want, sizeof want);
        for (int g = 0; g < 1; g++) {
            int ok = 0;
            for (int i = 0; i < 3 && nd[g].any[i]; i++) {
                const struct p2v_m_driver *d = p2v_rule_driver(m, nd[g].any[i]);
                ok |= d && d->file == P2V_YES;
            }
            if (!ok) {
                say(r, P2V_FAIL, "kernel %s has no %s driver: it cannot find its root disk on "
                    "the %s target", m->os.kernel, want, o->target);
                remedy(r, "install a kernel with %s, or convert for another --target", want);
                return;
            }
        }
        RETURN_SAY(r, P2V_PASS, "kernel %s has %s (whether its initramfs holds them is not known)",
                   m->os.kernel, want);
    }
    char bad[sizeof r->message - 200] = "";
    int nbad = 0, absent = 0;
    for (int i = 0; i < m->os.nkernels; i++) {
        const struct p2v_m_kernel *k = &m->os.kernels[i];
        char miss[96], have[96] = "";
        if (!kernel_lacks(k, nd, nn, miss, sizeof miss, &absent))
            continue;
        nbad++;
        snprintf(have, sizeof have, "%s", k->drivers[0] ? k->drivers : "no storage driver");
        size_t used = strlen(bad);
        if (!strcmp(k->state, "read"))
            snprintf(bad + used, sizeof bad - used, "%skernel %s: its initramfs %s (%s) holds %s, "
                     "not %s", used ? "; " : "", k->version, k->initramfs,
                     k->generator[0] ? k->generator : "built by an unknown tool", have, miss);
        else
            snprintf(bad + used, sizeof bad - used, "%skernel %s: %s initramfs, and %s is not "
                     "built in", used ? "; " : "", k->version,
                     !strcmp(k->state, "missing") ? "no" : "an unreadable", miss);
    }
    if (!nbad)
        RETURN_SAY(r, P2V_PASS, "%d kernel%s, each with %s built in or in its initramfs (%s)",
                   m->os.nkernels, m->os.nkernels == 1 ? "" : "s", want,
                   m->os.kernels[0].version);
    say(r, P2V_FAIL, "%s: the kernel cannot find its root disk on the %s target (\"ALERT! ... "
        "does not exist\" at boot)", bad, o->target);
    if (absent)
        remedy(r, "install a kernel that has %s as modules or built in, or convert for another "
                  "--target", want);
    else
        linux_remedy(m, all, r);
}

static int is_linux(const struct p2v_machine *m) { return !strcmp(m->os.family, "linux"); }

/* The kernel's own disk names: the virtio target names disks vdX, the
 * others (libata, Hyper-V's storvsc) sdX, and nothing names them hdX or
 * xvdX any more. */
static int name_changes(const char *dev, const char *target)
{
    if (!p2v_m_unstable_device(dev))
        return 0;
    return strncmp(dev, !strcmp(target, "virtio") ? "/dev/vd" : "/dev/sd", 7) != 0;
}

void p2v_rule_device_names(const struct p2v_machine *m, const struct p2v_check_opts *o,
                              struct p2v_result *r)
{
    if (!is_linux(m))
        RETURN_SAY(r, P2V_SKIP, "not a Linux guest");
    char list[sizeof r->message - 200] = "";
    int n = 0, stay = 0;
    for (int i = 0; i < m->os.nrefs; i++) {
        const struct p2v_m_ref *f = &m->os.ref[i];
        if (!name_changes(f->device, o->target)) {
            stay += p2v_m_unstable_device(f->device);
            continue;
        }
        size_t used = strlen(list);
        if (used < sizeof list - 100)
            snprintf(list + used, sizeof list - used, "%s%s%s in %s", n ? "; " : "",
                     !strcmp(f->where, "cmdline") ? "root=" : !strcmp(f->where, "resume")
                     ? "resume=" : "", f->device, f->file);
        n++;
    }
    if (!m->os.nrefs)
        RETURN_SAY(r, P2V_SKIP, "no device references found (fstab, crypttab, kernel command "
                   "line)");
    if (!n)
        RETURN_SAY(r, P2V_PASS, "%d device reference%s, none by a name the %s target changes%s",
                   m->os.nrefs, m->os.nrefs == 1 ? "" : "s", o->target,
                   stay ? " (some use kernel names, which stay the same only while the disk "
                          "order does)" : "");
    say(r, P2V_FAIL, "%d device reference%s by a name that changes on the %s target (%s "
        "names disks %s): %s", n, n == 1 ? "" : "s", o->target, o->target,
        !strcmp(o->target, "virtio") ? "/dev/vdX" : "/dev/sdX", list);
    remedy(r, "on the source, replace them with UUID= or LABEL= (blkid lists both), in fstab, "
              "crypttab, /etc/default/grub (then update-grub) and the resume setting");
}

void p2v_rule_nic_names(const struct p2v_machine *m, struct p2v_result *r)
{
    if (!is_linux(m))
        RETURN_SAY(r, P2V_SKIP, "not a Linux guest");
    char list[sizeof r->message - 200] = "";
    int n = 0, kept = 0;
    for (int i = 0; i < m->nnics; i++) {
        const struct p2v_m_nic *c = &m->nic[i];
        int named = c->config[0] && p2v_lnet_hardware_name(c->name);
        /* linux-nic's .link file names the VM's NIC (the source's MAC, which
         * p2v vm create gives it) as the configuration expects. */
        if (!strncmp(c->pin, "/etc/systemd/network/10-p2v-", 28)) {
            kept++;
            continue;
        }
        if (!named && !c->pin[0])
            continue;
        size_t used = strlen(list);
        if (used < sizeof list - 120)
            snprintf(list + used, sizeof list - used, "%s%s (%s%s%s%s%s%s%s)", n ? "; " : "",
                     c->name, c->dhcp == P2V_NO ? "static " : c->dhcp == P2V_YES ? "DHCP, " : "",
                     c->naddrs ? c->addr[0].addr : "", c->naddrs ? ", " : "",
                     c->config[0] ? c->config : "", c->config[0] && c->pin[0] ? "; " : "",
                     c->pin[0] ? "name pinned to its MAC by " : "", c->pin);
        n++;
    }
    if (!n && kept)
        RETURN_SAY(r, P2V_PASS, "%d interface name%s kept on the VM's NIC by p2v's .link file "
                   "(linux-nic)", kept, kept == 1 ? "" : "s");
    if (!n)
        RETURN_SAY(r, P2V_PASS, "no network configuration bound to the source's NIC names or "
                   "MACs");
    say(r, P2V_FAIL, "%d interface%s configured by the source's NIC name or MAC, which the VM's "
        "NIC will not have: %s", n, n == 1 ? "" : "s", list);
    remedy(r, "after the first boot, rename the configuration to the VM's interface (ip link "
              "lists it) and remove the MAC pin; or, on the source, match the configuration by "
              "a name pattern instead");
}

void p2v_rule_hibernation(const struct p2v_machine *m, struct p2v_result *r)
{
    for (int d = 0; d < m->ndisks; d++)
        for (int i = 0; i < m->disk[d].nparts; i++)
            if (!strcmp(m->disk[d].part[i].fs.type, "swsuspend")) {
                say(r, P2V_FAIL, "swap partition %d of %s holds a hibernation image: the kernel "
                    "would resume the source's memory on the new hardware, over a disk that has "
                    "moved on", m->disk[d].part[i].number, m->disk[d].name);
                remedy(r, "start the source, let it resume, and shut it down (not hibernate); "
                          "or, if its unsaved state may go, run mkswap on that partition");
                return;
            }
    RETURN_SAY(r, P2V_PASS, "no hibernation image in swap");
}

void p2v_rule_fs_state(const struct p2v_machine *m, struct p2v_result *r)
{
    char list[256] = "";
    int n = 0, seen = 0;
    for (int d = 0; d < m->ndisks; d++)
        for (int i = -1; i < m->disk[d].nparts; i++) {
            /* i = -1: a filesystem on the whole disk (a bare volume) */
            const struct p2v_m_fs *fs = i < 0 ? &m->disk[d].whole : &m->disk[d].part[i].fs;
            if (strncmp(fs->type, "ext", 3) != 0 && strcmp(fs->type, "xfs") != 0)
                continue;
            seen++;
            if (strcmp(fs->state, "unclean") != 0 && strcmp(fs->state, "dirty") != 0)
                continue;
            size_t used = strlen(list);
            if (used < 200 && i < 0)
                snprintf(list + used, sizeof list - used, "%sthe %s volume %s", n ? ", " : "",
                         fs->type, m->disk[d].name);
            else if (used < 200)
                snprintf(list + used, sizeof list - used, "%spartition %d (%s)", n ? ", " : "",
                         m->disk[d].part[i].number, fs->type);
            n++;
        }
    if (!seen)
        RETURN_SAY(r, P2V_SKIP, "no ext or XFS volume");
    if (!n)
        RETURN_SAY(r, P2V_PASS, "ext and XFS volumes were unmounted cleanly (or their state is "
                   "not known)");
    say(r, P2V_FAIL, "%s not unmounted cleanly: the journal is replayed at first boot, and what "
        "was not yet written is missing", list);
    remedy(r, "shut the source down cleanly before converting, or freeze its filesystems while "
              "snapshotting (p2v snapshot)");
}

void p2v_rule_boot_loader(const struct p2v_machine *m, struct p2v_result *r)
{
    if (!is_linux(m))
        RETURN_SAY(r, P2V_SKIP, "not a Linux guest");
    /* A running machine's "none" means its table could not be read. */
    int bare = m->ndisks && !strcmp(m->disk[0].table, "none") && !strcmp(m->origin, "source");
    if (bare) {
        say(r, P2V_FAIL, "the source is a bare volume: p2v wraps it in a disk whose boot code "
            "starts the volume's own boot sector, and a Linux volume has no boot loader there, "
            "so the disk will not boot");
        remedy(r, "convert the whole disk the volume came from, or boot the VM from a rescue "
                  "medium and install GRUB on its disk (grub-install, update-grub)");
        return;
    }
    if (!m->os.bootloader[0])
        RETURN_SAY(r, P2V_SKIP, "the boot loader is not known");
    if (!strcmp(m->os.bootloader, "none")) {
        say(r, P2V_FAIL, "no boot loader found (no /boot/grub or /boot/grub2 with a grub.cfg, "
            "no systemd-boot entries): the disk will not boot");
        remedy(r, "install the boot loader on the source (grub-install, update-grub), or "
                  "convert the disk that holds it");
        return;
    }
    RETURN_SAY(r, P2V_PASS, "%s%s%s", m->os.bootloader, m->os.bootloader_config[0] ? ", " : "",
               m->os.bootloader_config);
}

