/* The default fix-up plan for a Linux guest (linux_plan.h), from the same
 * facts check judges: the target's storage drivers into every initramfs,
 * kernel device names replaced by UUIDs, each NIC the configuration names
 * kept on the VM's NIC by its MAC, other hypervisors' packages removed.
 * The initramfs comes last: it copies fstab and udev's rules. */
#include "linux_plan.h"

#include "fixup/plan.h"
#include "guest/linux_net.h"

#include <string.h>

/* A word read from the guest: bare when it is plainly one, else quoted,
 * so a hostile name (blanks, '#', a line break) stays one word. */
static void word(FILE *f, const char *s)
{
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@+-") ==
                  strlen(s))
        fputs(s, f);
    else
        p2v_plan_put_word(f, s);
}

static const char *drivers_for(const char *target, int generation)
{
    if (!strcmp(target, "virtio"))
        return "virtio_blk virtio_scsi virtio_pci";
    if (!strcmp(target, "qemu-sata"))
        return "ahci";
    if (!strcmp(target, "qemu-ide") || (!strcmp(target, "hyperv") && generation == 1))
        return "ata_piix";
    return "hv_storvsc hv_vmbus";
}

int p2v_linux_plan_default(FILE *f, const char *target, int generation,
                           const struct p2v_machine *m, const char *source)
{
    /* Guest strings in comments are escaped: none can start a plan line. */
    fputs("# p2v fix-up plan for ", f);
    p2v_plan_put_text(f, m->os.name[0] ? m->os.name : "Linux");
    fputs(" on ", f);
    p2v_plan_put_text(f, source);
    fprintf(f, ", target %s (Linux).\n"
               "# Carried out in the guest by libguestfs, through the overlay: the source is\n"
               "# never written.  Edit freely; p2v fixup apply --dry-run shows every change.\n\n",
            target);
    fputs("# Kernel device names (/dev/sda1) change on the VM: UUID= instead, in fstab,\n"
          "# crypttab, the boot loader's configuration and the resume setting.\n"
          "linux-device-names\n\n", f);
    int nics = 0;
    for (int i = 0; i < m->nnics; i++) {
        const struct p2v_m_nic *n = &m->nic[i];
        if (!(n->config[0] && p2v_lnet_hardware_name(n->name)) && !n->pin[0])
            continue;
        if (!nics++)
            fputs("# The configuration names the physical NIC; the VM's NIC (same MAC, as\n"
                  "# p2v vm create sets it) is given that name by a systemd .link file, and\n"
                  "# udev rules pinning it to the old hardware are commented out.\n", f);
        if (n->mac[0] && strlen(n->mac) == 17) {
            fputs("linux-nic ", f);
            word(f, n->name);
            fputc(' ', f);
            word(f, n->mac);
            fputc('\n', f);
        } else {
            fputs("# linux-nic ", f);
            p2v_plan_put_text(f, n->name);
            fputs(" MAC  -- the MAC is not known; give the VM's (p2v vm create prints it)\n", f);
        }
    }
    if (nics)
        fputc('\n', f);
    int tools = 0;
    for (int i = 0; i < m->os.ntools; i++) {
        const struct p2v_m_tool *t = &m->os.tool[i];
        /* Hyper-V's daemons are the target's own tools on hyperv. */
        if (!strcmp(t->name, "hyperv-daemons") && !strcmp(target, "hyperv"))
            continue;
        if (!tools++)
            fputs("# Other hypervisors' tools, removed with the guest's package manager.\n", f);
        if (!strcmp(t->kind, "package")) {
            fputs("linux-remove-package ", f);
            word(f, t->name);
            fputc('\n', f);
        } else {
            fputs("# ", f);
            p2v_plan_put_text(f, t->name);
            fputs(" was installed by its vendor's installer, not a package: remove it from "
                  "the VM\n", f);
        }
    }
    if (tools)
        fputc('\n', f);
    /* The target's own agent: installed from the disk's package cache when
     * its files are there (the appliance has no network). */
    const char *agent = !strcmp(target, "hyperv") ? "hyperv-daemons" : "qemu-guest-agent";
    if (p2v_m_listed(m->os.agents_installed, agent))
        fprintf(f, "# %s, the target's guest agent, is installed.\n\n", agent);
    else if (p2v_m_listed(m->os.agents_on_disk, agent))
        fprintf(f, "# The target's guest agent, from the package files on the disk.\n"
                   "linux-install-package %s\n\n", agent);
    else
        fprintf(f, "# %s, the target's guest agent, is not installed and its package is not\n"
                   "# on the disk: install it on the VM with the guest's package manager.\n\n",
                agent);
    fprintf(f, "# The target's storage drivers, in every kernel's initramfs (the guest's own\n"
               "# update-initramfs, dracut or mkinitcpio, run in the appliance).\n"
               "linux-initramfs %s\n", drivers_for(target, generation));
    return p2v_efi_plan_default(f, m);
}
