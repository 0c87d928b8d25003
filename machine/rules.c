/* The convertibility rules.  Facts come from the machine configuration
 * only, so the same rules judge a running machine, an offline source and
 * a configuration file; sources of the limits are in README.md. */
#include "rules.h"
#include "rules_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>

#define MIN_MEMORY_KIB (512u * 1024)            /* SCVMM's P2V minimum */
#define GUID_LDM_META "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3"
#define GUID_LDM_DATA "af9b60a0-1431-4f62-bc68-3311714a69ad"

static struct p2v_result *add(struct p2v_result *out, int *n, const char *id, enum p2v_severity sev)
{
    struct p2v_result *r = &out[(*n)++];
    memset(r, 0, sizeof *r);
    r->id = id;
    r->severity = sev;
    return r;
}

void p2v_rule_say(struct p2v_result *r, enum p2v_status st, const char *fmt, ...)
{
    r->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

void p2v_rule_remedy(struct p2v_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->remedy, sizeof r->remedy, fmt, ap);
    va_end(ap);
}

static void rule_memory(const struct p2v_machine *m, struct p2v_result *r)
{
    if (!m->memory_kib)
        RETURN_SAY(r, P2V_SKIP, "memory size not known (an offline source: give --config)");
    uint64_t mib = m->memory_kib / 1024;
    if (m->memory_kib >= MIN_MEMORY_KIB)
        RETURN_SAY(r, P2V_PASS, "%" PRIu64 " MiB of memory (at least 512 MiB)", mib);
    say(r, P2V_FAIL, "only %" PRIu64 " MiB of memory; a converted machine needs at least 512 MiB", mib);
    remedy(r, "give the VM more memory than the source had: p2v vm create --memory 1024 (or more)");
}

static void rule_acpi(const struct p2v_machine *m, struct p2v_result *r)
{
    if (m->acpi == P2V_UNKNOWN)
        RETURN_SAY(r, P2V_SKIP, "whether the system uses ACPI is not known");
    if (m->acpi == P2V_YES)
        RETURN_SAY(r, P2V_PASS, "ACPI firmware and an ACPI-aware operating system");
    say(r, P2V_FAIL, "the machine does not use ACPI; virtual machines on KVM and Hyper-V need it");
    remedy(r, "switch the source to an ACPI HAL / kernel (enable ACPI in its firmware and OS) "
              "before converting");
}

static void rule_os(const struct p2v_machine *m, struct p2v_result *r)
{
    if (!strcmp(m->os.family, "windows")) {
        if (m->os.major && m->os.major < 5) {
            r->severity = P2V_BLOCKER;
            say(r, P2V_FAIL, "%s (NT %u.%u) is older than Windows 2000: no supported target "
                "boots it", m->os.name, m->os.major, m->os.minor);
            remedy(r, "upgrade the source first, or keep it on physical hardware");
            return;
        }
        RETURN_SAY(r, P2V_PASS, "%s %s%s%s", m->os.name[0] ? m->os.name : "Windows",
                   m->os.version, m->os.build[0] ? " build " : "", m->os.build);
    }
    if (!strcmp(m->os.family, "linux"))
        RETURN_SAY(r, P2V_PASS, "%s", m->os.name[0] ? m->os.name : "Linux");
    say(r, P2V_FAIL, "no operating system found (no Windows directory, no Linux /etc/os-release): "
        "the disk is copied as it is, without fix-ups");
    remedy(r, "nothing, if this is a data disk; otherwise check that the system partition is "
              "readable (p2v info SOURCE shows what was found)");
}

static int x86(const char *a)
{
    return !strcmp(a, "x86_64") || !strcmp(a, "amd64") || !strcmp(a, "i386") ||
           !strcmp(a, "i686") || !strcmp(a, "x86");
}

static void rule_arch(const struct p2v_machine *m, struct p2v_result *r)
{
    const char *os = m->os.arch, *cpu = m->cpu.arch;
    if (!os[0] && !cpu[0])
        RETURN_SAY(r, P2V_SKIP, "architecture not known");
    const char *bad = os[0] && !x86(os) ? os : cpu[0] && !x86(cpu) ? cpu : NULL;
    if (!bad)
        RETURN_SAY(r, P2V_PASS, "%s, which x86-64 hypervisors run", os[0] ? os : cpu);
    if (!strcmp(bad, "ia64"))
        say(r, P2V_FAIL, "Itanium (ia64): no x86-64 hypervisor can run it");
    else
        say(r, P2V_FAIL, "architecture %s: the targets (KVM/QEMU x86-64, Hyper-V) run x86 "
            "systems only", bad);
    remedy(r, "reinstall the workload on an x86-64 system; its disk cannot be converted");
}

static void rule_disk_size(const struct p2v_machine *m, const struct p2v_check_opts *o,
                           struct p2v_result *r)
{
    if (!m->ndisks)
        RETURN_SAY(r, P2V_SKIP, "no disks in the machine configuration");
    const struct p2v_image_format *f = o->format;
    for (int i = 0; i < m->ndisks; i++) {
        if (m->disk[i].size <= f->max_size)
            continue;
        say(r, P2V_FAIL, "disk %s is %" PRIu64 " bytes, over the %s limit of %" PRIu64 " bytes (%s)",
            m->disk[i].name, m->disk[i].size, f->label, f->max_size, f->max_text);
        if (f->max_size >= p2v_vhdx_format.max_size)
            remedy(r, "convert only some volumes (p2v mount --volumes N,...), or shrink the "
                      "largest partition before converting");
        else
            remedy(r, "make a VHDX instead (--format vhdx, up to %s)", p2v_vhdx_format.max_text);
        return;
    }
    say(r, P2V_PASS, "every disk fits in a %s (%s at most)", f->label, f->max_text);
}

static void rule_sector(const struct p2v_machine *m, const struct p2v_check_opts *o,
                        struct p2v_result *r)
{
    if (!m->ndisks)
        RETURN_SAY(r, P2V_SKIP, "no disks in the machine configuration");
    for (int i = 0; i < m->ndisks; i++) {
        if (m->disk[i].logical_sector != 4096)
            continue;
        if (o->format->sector_4k)
            RETURN_SAY(r, P2V_PASS, "disk %s has 4096-byte sectors, which %s keeps",
                       m->disk[i].name, o->format->label);
        say(r, P2V_FAIL, "disk %s has 4096-byte logical sectors; %s has 512-byte sectors only",
            m->disk[i].name, o->format->label);
        remedy(r, "make a VHDX instead (--format vhdx), which keeps 4096-byte sectors");
        return;
    }
    say(r, P2V_PASS, "512-byte logical sectors");
}

typedef int (*fs_test)(const struct p2v_m_fs *fs, const struct p2v_m_part *p);

/* The first filesystem (or partition) matching t: "disk NAME partition N". */
static int find_fs(const struct p2v_machine *m, fs_test t, char *where, size_t len,
                   const struct p2v_m_fs **found)
{
    for (int i = 0; i < m->ndisks; i++) {
        const struct p2v_m_disk *d = &m->disk[i];
        if (t(&d->whole, NULL)) {
            snprintf(where, len, "disk %s", d->name);
            *found = &d->whole;
            return 1;
        }
        for (int k = 0; k < d->nparts; k++)
            if (t(&d->part[k].fs, &d->part[k])) {
                snprintf(where, len, "disk %s partition %d", d->name, d->part[k].number);
                *found = &d->part[k].fs;
                return 1;
            }
    }
    return 0;
}

static int is_ntfs(const struct p2v_m_fs *fs, const struct p2v_m_part *p)
{
    (void)p;
    return !strcmp(fs->type, "ntfs");
}

static int ntfs_unsafe(const struct p2v_m_fs *fs, const struct p2v_m_part *p)
{
    return is_ntfs(fs, p) && fs->state[0] && strcmp(fs->state, "clean") != 0;
}

static int ntfs_known(const struct p2v_m_fs *fs, const struct p2v_m_part *p)
{
    return is_ntfs(fs, p) && fs->state[0];
}

static void rule_ntfs(const struct p2v_machine *m, struct p2v_result *r)
{
    char where[96];
    const struct p2v_m_fs *fs;
    if (find_fs(m, ntfs_unsafe, where, sizeof where, &fs)) {
        say(r, P2V_FAIL, "%s: the NTFS volume is %s%s", where, fs->state,
            !strcmp(fs->state, "hibernated") ? " (hibernation or Windows Fast Startup)"
                                             : " (not shut down cleanly)");
        remedy(r, "start Windows and shut it down fully (shutdown /s /t 0; turn Fast Startup "
                  "off with powercfg /h off), then take the snapshot again; --force copies it "
                  "as it is");
        return;
    }
    if (find_fs(m, ntfs_known, where, sizeof where, &fs))
        RETURN_SAY(r, P2V_PASS, "every NTFS volume was shut down cleanly");
    if (find_fs(m, is_ntfs, where, sizeof where, &fs))
        RETURN_SAY(r, P2V_SKIP, "NTFS state not known (%s: read it offline with --source)", where);
    say(r, P2V_SKIP, "no NTFS volume");
}

/* A registry hive whose newest data sit in transaction logs p2v could not
 * replay: the VM would boot without them, or Windows would replay stale
 * log entries over what p2v wrote. */
static void rule_hives(const struct p2v_machine *m, struct p2v_result *r)
{
    if (strcmp(m->os.family, "windows") != 0)
        RETURN_SAY(r, P2V_SKIP, "no Windows registry");
    if (!m->os.nhives)
        RETURN_SAY(r, P2V_SKIP, "registry hive state not known (read it offline with --source)");
    char recovered[160] = "";
    for (int i = 0; i < m->os.nhives; i++) {
        const struct p2v_m_hive *h = &m->os.hive[i];
        size_t n = strlen(recovered);
        if (!strcmp(h->state, "recovered") && n < sizeof recovered)
            snprintf(recovered + n, sizeof recovered - n, "%s%s from %d log entries",
                     n ? ", " : "", h->name, h->entries);
        if (strcmp(h->state, "dirty") != 0)
            continue;
        if (h->ignored) {
            r->severity = P2V_WARNING;
            say(r, P2V_FAIL, "the %s hive was not shut down cleanly and its transaction logs are "
                "ignored (--ignore-hive-logs): the changes they held are lost (%s)", h->name,
                h->why);
            remedy(r, "start Windows and shut it down fully (shutdown /s /t 0), then take the "
                      "snapshot again without --ignore-hive-logs");
            return;
        }
        say(r, P2V_FAIL, "the %s hive was not shut down cleanly and its transaction logs cannot "
            "be replayed (%s): its newest changes are only in the logs", h->name, h->why);
        remedy(r, "start Windows and shut it down fully (shutdown /s /t 0), then take the "
                  "snapshot again; or accept losing what the logs hold with --ignore-hive-logs");
        return;
    }
    if (recovered[0])
        RETURN_SAY(r, P2V_PASS, "registry hives consistent (recovered from their transaction "
                   "logs: %s)", recovered);
    say(r, P2V_PASS, "registry hives shut down cleanly");
}

static int is_bitlocker(const struct p2v_m_fs *fs, const struct p2v_m_part *p)
{
    (void)p;
    return !strcasecmp(fs->type, "BitLocker");
}

static void rule_bitlocker(const struct p2v_machine *m, struct p2v_result *r)
{
    char where[96];
    const struct p2v_m_fs *fs;
    if (!m->ndisks)
        RETURN_SAY(r, P2V_SKIP, "no disks in the machine configuration");
    if (!find_fs(m, is_bitlocker, where, sizeof where, &fs))
        RETURN_SAY(r, P2V_PASS, "no BitLocker volume");
    say(r, P2V_FAIL, "%s is BitLocker-encrypted: p2v cannot read or fix it up", where);
    remedy(r, "decrypt it on the source (manage-bde -off C:, wait until manage-bde -status says "
              "Fully Decrypted), then convert");
}

static int is_ldm(const struct p2v_m_fs *fs, const struct p2v_m_part *p)
{
    (void)fs;
    return p && (!strcasecmp(p->type, "0x42") || !strcasecmp(p->type, GUID_LDM_META) ||
                 !strcasecmp(p->type, GUID_LDM_DATA));
}

static void rule_ldm(const struct p2v_machine *m, struct p2v_result *r)
{
    char where[96];
    const struct p2v_m_fs *fs;
    if (!m->ndisks)
        RETURN_SAY(r, P2V_SKIP, "no disks in the machine configuration");
    if (!find_fs(m, is_ldm, where, sizeof where, &fs))
        RETURN_SAY(r, P2V_PASS, "basic disks only");
    say(r, P2V_FAIL, "%s belongs to a Windows dynamic disk (LDM): its volumes are not "
        "partitions, and a system on one does not boot converted", where);
    remedy(r, "convert the disk to a basic disk on the source (back up, then Disk Management "
              "'Convert to Basic Disk' or a tool that converts in place) and take the snapshot again");
}

static void rule_uefi_vhd(const struct p2v_machine *m, const struct p2v_check_opts *o,
                          struct p2v_result *r)
{
    if (strcmp(o->target, "hyperv") != 0)
        RETURN_SAY(r, P2V_PASS, "the %s target boots %s from either format", o->target,
                   m->firmware[0] ? m->firmware : "the image");
    if (o->generation != 2 && strcmp(m->firmware, "uefi") != 0)
        RETURN_SAY(r, P2V_PASS, "Hyper-V Generation 1 (BIOS) takes a VHD");
    if (o->format->hyperv_gen2)
        RETURN_SAY(r, P2V_PASS, "Hyper-V Generation 2 (UEFI) with a %s", o->format->label);
    say(r, P2V_FAIL, "%s needs Hyper-V Generation 2, which attaches VHDX files only",
        !strcmp(m->firmware, "uefi") ? "this UEFI machine" : "--generation 2");
    remedy(r, "make a VHDX (--format vhdx)");
}

/* A new VM's firmware has none of the source's boot entries (they live in
 * the old machine's NVRAM), so a UEFI disk boots on it only through the
 * removable-media fallback loader. */
static void rule_efi_fallback(const struct p2v_machine *m, struct p2v_result *r)
{
    if (strcmp(m->firmware, "uefi") != 0)
        RETURN_SAY(r, P2V_SKIP, "%s firmware: no EFI System Partition to boot from",
                   m->firmware[0] ? "BIOS" : "unknown");
    if (!m->efi.partition)
        RETURN_SAY(r, P2V_SKIP, "the EFI System Partition was not read (inventory the source "
                   "disk or its snapshot to check it)");
    if (!m->efi.fallback[0]) {
        r->severity = P2V_WARNING;
        say(r, P2V_FAIL, "partition %d (the EFI System Partition) is not a FAT volume p2v can "
            "read, so whether the VM's firmware finds a loader is unknown", m->efi.partition);
        remedy(r, "check the partition on the source (fsck.fat -n) and that "
                  "\\EFI\\BOOT holds the fallback loader");
        return;
    }
    if (!strcmp(m->efi.fallback, "present"))
        RETURN_SAY(r, P2V_PASS, "the removable-media fallback loader is on partition %d",
                   m->efi.partition);
    if (!m->efi.loader[0]) {
        say(r, P2V_FAIL, "partition %d (the EFI System Partition) holds neither the fallback "
            "loader \\EFI\\BOOT nor a loader p2v knows (Windows Boot Manager, shim, GRUB, "
            "systemd-boot): the VM's firmware finds nothing to start", m->efi.partition);
        remedy(r, "install the boot loader on the source's ESP, with its removable-media "
                  "fallback (grub-install --removable, bootctl install, bcdboot /f UEFI)");
        return;
    }
    say(r, P2V_FAIL, "no fallback loader on partition %d: the VM's firmware has no boot entry "
        "for %s and so starts nothing", m->efi.partition, m->efi.loader);
    remedy(r, "apply the fix-up plan: its efi-fallback action copies %s to the fallback path",
           m->efi.loader);
}

/* Boot storage drivers for the target's disk controller. */
int p2v_driver_start(const struct p2v_m_driver *d)
{
    return d->start_override >= 0 ? d->start_override : d->start;
}

/* The driver directory of virtio-win's ISO for the guest's architecture. */
static const char *win_arch_dir(const struct p2v_machine *m)
{
    return !strcmp(m->os.arch, "i386") ? "x86" : !strcmp(m->os.arch, "arm64") ? "ARM64" : "amd64";
}

const struct p2v_m_driver *p2v_rule_driver(const struct p2v_machine *m, const char *name)
{
    for (int i = 0; i < m->os.ndrivers; i++)
        if (!strcasecmp(m->os.driver[i].name, name))
            return &m->os.driver[i];
    return NULL;
}

/* "Start=3" or "Start=0, StartOverride=3": what Windows has, named. */
static void start_words(const struct p2v_m_driver *d, char *out, size_t len)
{
    if (d->start_override >= 0)
        snprintf(out, len, "Start=%d, StartOverride=%d", d->start, d->start_override);
    else
        snprintf(out, len, "Start=%d", d->start);
}

/* What a Windows boot driver lacks: 0 nothing; 1 it does not start at
 * boot (the default plan enables it: a warning); 2 its file is missing
 * or it is not installed (a blocker). */
static int win_lack(const struct p2v_m_driver *d)
{
    if (!d || d->file == P2V_NO)
        return 2;
    return p2v_driver_start(d) == 0 && d->file == P2V_YES ? 0 : d->file == P2V_YES ? 1 : 2;
}

/* Says what one Windows driver lacks for the target; returns its lack. */
static int win_driver_verdict(const struct p2v_machine *m, const struct p2v_check_opts *o,
                              const char *name, struct p2v_result *r)
{
    const struct p2v_m_driver *d = p2v_rule_driver(m, name);
    int lack = win_lack(d);
    char words[64];
    if (lack == 0)
        return 0;
    if (!d) {
        say(r, P2V_FAIL, "no %s driver in this Windows: it would stop with 0x7B "
            "INACCESSIBLE_BOOT_DEVICE on the %s target", name, o->target);
    } else if (d->file != P2V_YES) {
        say(r, P2V_FAIL, "%s is registered but its file %s is %s: Windows would stop with 0x7B "
            "on the %s target", name, d->file_path[0] ? d->file_path : "(System32\\drivers)",
            d->file == P2V_NO ? "missing" : "not known to be there", o->target);
    } else {
        start_words(d, words, sizeof words);
        r->severity = P2V_WARNING;
        say(r, P2V_FAIL, "%s is installed but does not start at boot (%s): as it is, Windows "
            "stops with 0x7B INACCESSIBLE_BOOT_DEVICE on the %s target", name, words, o->target);
        remedy(r, "apply the default fix-up plan, whose enable-driver %s fixes it: p2v fixup plan "
                  "--target %s SOURCE > plan.txt; p2v fixup apply --state DIR --plan plan.txt "
                  "SOURCE", name, o->target);
        return lack;
    }
    if (!strcmp(name, "viostor") || !strcmp(name, "vioscsi"))
        remedy(r, "inject virtio-win's %s: p2v fixup plan --target virtio --drivers "
                  "VIRTIO-WIN/%s/OS/%s SOURCE > plan.txt (its inject-driver %s line), then p2v "
                  "fixup apply --state DIR --plan plan.txt SOURCE; or convert for --target "
                  "qemu-ide", name, name, win_arch_dir(m), name);
    else
        remedy(r, "put the driver in place with the plan action inject-driver %s %s.sys (from "
                  "the installation media, %s), then p2v fixup apply; or convert for another "
                  "--target", name, name, win_arch_dir(m));
    return lack;
}

/* IDE (QEMU i440fx, Hyper-V Generation 1): the PIIX controller's driver
 * (intelide; pciide on systems without it) and the channel driver atapi
 * must both start at boot: one alone is not enough. */
static void win_ide(const struct p2v_machine *m, const struct p2v_check_opts *o,
                    struct p2v_result *r)
{
    const char *ctl = p2v_rule_driver(m, "intelide") || !p2v_rule_driver(m, "pciide") ? "intelide" : "pciide";
    struct p2v_result tmp = *r;
    int a = win_driver_verdict(m, o, ctl, r);
    if (a == 2)
        return;
    int b = win_driver_verdict(m, o, "atapi", &tmp);
    if (b > a || (b && !a))
        *r = tmp;
    if (!a && !b)
        say(r, P2V_PASS, "%s and atapi are installed and start at boot", ctl);
}

/* Any one of the target's drivers is enough (virtio, SATA, Hyper-V Gen 2):
 * the first that boots passes; else the verdict on the first installed,
 * else on the one the default plan injects. */
static void win_any(const struct p2v_machine *m, const struct p2v_check_opts *o,
                    const char *const *names, struct p2v_result *r)
{
    const char *best = names[0];
    int best_lack = 3;
    for (int i = 0; names[i]; i++) {
        int lack = win_lack(p2v_rule_driver(m, names[i]));
        if (lack == 0)
            RETURN_SAY(r, P2V_PASS, "%s is installed and starts at boot", names[i]);
        if (p2v_rule_driver(m, names[i]) && lack < best_lack)
            best = names[i], best_lack = lack;
    }
    win_driver_verdict(m, o, best, r);
}

static void rule_boot_driver(const struct p2v_machine *m, const struct p2v_check_opts *o,
                             struct p2v_result *r)
{
    static const char *const w_virtio[] = { "viostor", "vioscsi", NULL };
    static const char *const w_sata[] = { "storahci", "msahci", "iaStorV", NULL };
    static const char *const w_hv2[] = { "storvsc", NULL };
    int win = !strcmp(m->os.family, "windows");
    if (!win && strcmp(m->os.family, "linux") != 0)
        RETURN_SAY(r, P2V_SKIP, "no operating system found");
    int ide = !strcmp(o->target, "qemu-ide") || (!strcmp(o->target, "hyperv") && o->generation == 1);
    if (!win)
        p2v_rule_linux_boot_driver(m, o, r);
    else if (ide)
        win_ide(m, o, r);
    else
        win_any(m, o, !strcmp(o->target, "virtio") ? w_virtio
                      : !strcmp(o->target, "qemu-sata") ? w_sata : w_hv2, r);
}

static void rule_static_ip(const struct p2v_machine *m, struct p2v_result *r)
{
    if (!strcmp(m->os.family, "unknown") || !m->os.family[0])
        RETURN_SAY(r, P2V_SKIP, "no operating system found");
    if (!strcmp(m->os.family, "linux"))
        RETURN_SAY(r, P2V_SKIP, "Linux keeps its addresses in its own configuration files, "
                   "which go with the disk (nic-names checks the names they use)");
    char list[sizeof r->message - 160] = "";
    int n = 0;
    for (int i = 0; i < m->nnics; i++) {
        const struct p2v_m_nic *nic = &m->nic[i];
        if (nic->dhcp != P2V_NO || !nic->naddrs)
            continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s %s/%d%s%s", n++ ? "; " : "", nic->name,
                 nic->addr[0].addr, nic->addr[0].prefix, nic->gateway[0] ? " gateway " : "",
                 nic->gateway);
    }
    if (!n)
        RETURN_SAY(r, P2V_PASS, "no static IP settings to carry over");
    say(r, P2V_FAIL, "%d interface%s with static addresses (%s); the VM's NICs are new adapters, "
        "which Windows sets up for DHCP", n, n == 1 ? "" : "s", list);
    remedy(r, "note the settings (p2v inventory --source SOURCE lists them) and enter them "
              "on the new adapters, or run a firstboot script in the fix-up plan that sets them "
              "(netsh interface ip set address)");
}

/* Other hypervisors' tools.  A service disabled (Start=4, what
 * disable-vendor-services does) or a program whose removal is scheduled
 * for first boot (uninstall-program) is no danger any more; a program
 * still installed is named with how it can go. */
static void rule_vendor_tools(const struct p2v_machine *m, struct p2v_result *r)
{
    if (!strcmp(m->os.family, "unknown") || !m->os.family[0])
        RETURN_SAY(r, P2V_SKIP, "no operating system found");
    if (!m->os.ntools)
        RETURN_SAY(r, P2V_PASS, "no other hypervisor's tools found");
    char active[256] = "", idle[256] = "";
    int running = 0, removable = 0, manual = 0;
    for (int i = 0; i < m->os.ntools; i++) {
        const struct p2v_m_tool *t = &m->os.tool[i];
        int service = !strcmp(t->kind, "service");
        int off = service ? t->start == 4 : !strcmp(t->uninstall, "first-boot");
        char *list = off ? idle : active;
        size_t used = strlen(list);
        if (used < 200)
            snprintf(list + used, 256 - used, "%s%s%s", used ? ", " : "", t->name,
                     !off || service ? "" : " (removed at first boot)");
        running += service && !off;
        removable += !service && !off && !strcmp(t->uninstall, "unattended");
        manual += !service && !off && strcmp(t->uninstall, "unattended") != 0;
    }
    if (!running && !removable) {
        if (!manual)
            RETURN_SAY(r, P2V_PASS, "other hypervisors' tools are disabled or removed at first "
                       "boot (%s)", idle);
        RETURN_SAY(r, P2V_PASS, "%s%s%sprograms remain that p2v cannot remove unattended (%s): "
                   "uninstall them from the VM", idle[0] ? "other hypervisors' tools are disabled "
                   "or removed at first boot (" : "", idle, idle[0] ? "); " : "", active);
    }
    say(r, P2V_FAIL, "other hypervisors' tools are installed (%s%s%s): their services fail or hang "
        "on the new hardware", active, idle[0] ? "; disabled already: " : "", idle);
    remedy(r, "the fix-up plan's disable-vendor-services disables their services and "
              "uninstall-program \"NAME\" removes a program at first boot (p2v fixup plan SOURCE)%s",
           manual ? "; programs without an unattended uninstall: remove them from the VM" : "");
}


static void rule_dest(const struct p2v_check_opts *o, struct p2v_result *r)
{
    if (!o->dest)
        RETURN_SAY(r, P2V_SKIP, "no destination given (--dest DIR)");
    struct statvfs sv;
    if (statvfs(o->dest, &sv) != 0) {
        say(r, P2V_FAIL, "cannot check %s: %s", o->dest, strerror(errno));
        remedy(r, "give an existing directory the image will be copied to");
        return;
    }
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (avail >= o->need_bytes)
        RETURN_SAY(r, P2V_PASS, "%s has %" PRIu64 " bytes free; the image needs %s%" PRIu64,
                   o->dest, avail, o->need_exact ? "" : "up to ", o->need_bytes);
    say(r, P2V_FAIL, "%s has %" PRIu64 " bytes free; the image needs %s%" PRIu64, o->dest, avail,
        o->need_exact ? "" : "up to ", o->need_bytes);
    remedy(r, "free %" PRIu64 " bytes there, choose another destination, or make a dynamic "
              "image (--type dynamic), which leaves unused space out",
           o->need_bytes - avail);
}

int p2v_check_rules(const struct p2v_machine *m, const struct p2v_check_opts *o,
                    struct p2v_result *out)
{
    int n = 0;
    rule_memory(m, add(out, &n, "memory", P2V_BLOCKER));
    rule_acpi(m, add(out, &n, "acpi", P2V_BLOCKER));
    rule_os(m, add(out, &n, "os", P2V_WARNING));
    rule_arch(m, add(out, &n, "arch", P2V_BLOCKER));
    rule_disk_size(m, o, add(out, &n, "disk-size", P2V_BLOCKER));
    rule_sector(m, o, add(out, &n, "sector-size", P2V_BLOCKER));
    rule_ntfs(m, add(out, &n, "ntfs-state", P2V_BLOCKER));
    rule_hives(m, add(out, &n, "hive-state", P2V_BLOCKER));
    rule_bitlocker(m, add(out, &n, "bitlocker", P2V_BLOCKER));
    rule_ldm(m, add(out, &n, "dynamic-disk", P2V_BLOCKER));
    rule_uefi_vhd(m, o, add(out, &n, "uefi-vhd", P2V_BLOCKER));
    rule_boot_driver(m, o, add(out, &n, "boot-driver", P2V_BLOCKER));
    rule_static_ip(m, add(out, &n, "static-ip", P2V_WARNING));
    p2v_rule_device_names(m, o, add(out, &n, "device-names", P2V_BLOCKER));
    p2v_rule_nic_names(m, add(out, &n, "nic-names", P2V_WARNING));
    p2v_rule_hibernation(m, add(out, &n, "hibernation", P2V_BLOCKER));
    p2v_rule_fs_state(m, add(out, &n, "fs-state", P2V_WARNING));
    p2v_rule_boot_loader(m, add(out, &n, "boot-loader", P2V_BLOCKER));
    rule_efi_fallback(m, add(out, &n, "efi-fallback", P2V_BLOCKER));
    rule_vendor_tools(m, add(out, &n, "vendor-tools", P2V_WARNING));
    rule_dest(o, add(out, &n, "dest-space", P2V_BLOCKER));
    return n;
}

const struct p2v_image_format *p2v_machine_format(const struct p2v_machine *m,
                                                  enum p2v_image_kind asked)
{
    struct p2v_image_disk whole = { .name = m->source, .uefi = !strcmp(m->firmware, "uefi") };
    const struct p2v_image_format *f = p2v_image_choose(asked, &whole);
    for (int i = 0; i < m->ndisks; i++) {
        struct p2v_image_disk d = { .name = m->disk[i].name, .size = m->disk[i].size,
                                    .logical_sector = m->disk[i].logical_sector,
                                    .uefi = whole.uefi };
        if (p2v_image_choose(asked, &d) != f)
            f = &p2v_vhdx_format;  /* one disk needs it: the machine does */
    }
    return f;
}
