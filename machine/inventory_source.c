/* An offline source: its disk as libblkid and the disk layout see it, and
 * the operating system on it.  Windows facts come from the SYSTEM and
 * SOFTWARE hives (read with libntfs-3g and hivex), Linux facts by
 * inventory_linux.c.  Nothing is written. */
#define _GNU_SOURCE
#include "inventory.h"

#include "core/bytes.h"
#include "core/log.h"
#include "guest/ext_io.h"
#include "guest/guest_fs.h"
#include "guest/hive.h"
#include "guest/windows.h"
#include "guest/windows_drivers.h"
#include "guest/windows_programs.h"
#include "layout/layout_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *p2v_disk_firmware(const struct p2v_m_disk *d)
{
    if (strcmp(d->table, "gpt") != 0)
        return "bios";
    for (int i = 0; i < d->nparts; i++)
        if (!strcasecmp(d->part[i].type, P2V_GPT_TYPE_ESP))
            return "uefi";
    return "bios";
}

void p2v_machine_table(struct p2v_m_disk *d, const struct p2v_partition_table *t)
{
    p2v_m_copy(d->table, sizeof d->table, t->type[0] ? t->type : "none");
    /* An MBR signature reads as the hex number it is. */
    if (!strcmp(t->type, "dos") && t->id[0] && strncmp(t->id, "0x", 2) != 0)
        snprintf(d->table_id, sizeof d->table_id, "0x%.30s", t->id);
    else
        p2v_m_copy(d->table_id, sizeof d->table_id, t->id);
    const struct p2v_filesystem *w = &t->whole;
    p2v_m_copy(d->whole.type, sizeof d->whole.type, w->type);
    p2v_m_copy(d->whole.label, sizeof d->whole.label, w->label);
    p2v_m_copy(d->whole.uuid, sizeof d->whole.uuid, w->uuid);
    p2v_m_copy(d->whole.state, sizeof d->whole.state, w->state);
    d->nparts = 0;
    for (int i = 0; i < t->n && d->nparts < P2V_M_MAX_PARTS; i++) {
        const struct p2v_partition *s = &t->part[i];
        struct p2v_m_part *p = &d->part[d->nparts++];
        p->number = s->number;
        p->start = s->start;
        p->size = s->size;
        p2v_m_copy(p->type, sizeof p->type, s->type);
        p2v_m_copy(p->name, sizeof p->name, s->name);
        p2v_m_copy(p->uuid, sizeof p->uuid, s->uuid);
        p->bootable = s->bootable;
        p2v_m_copy(p->fs.type, sizeof p->fs.type, s->fs.type);
        p2v_m_copy(p->fs.label, sizeof p->fs.label, s->fs.label);
        p2v_m_copy(p->fs.uuid, sizeof p->fs.uuid, s->fs.uuid);
        p2v_m_copy(p->fs.state, sizeof p->fs.state, s->fs.state);
    }
}

void p2v_os_release_value(const char *text, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    out[0] = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, klen) != 0 || l[klen] != '=')
            continue;
        const char *v = l + klen + 1;
        size_t n = strcspn(v, "\n");
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
            v++;
            n -= 2;
        }
        if (n >= len)
            n = len - 1;
        memcpy(out, v, n);
        out[n] = 0;
        return;
    }
}

/* ---- Windows ------------------------------------------------------ */

/* Boot storage drivers the convertibility rules ask about. */
static const char *const win_drivers[] = { "viostor", "vioscsi", "storahci", "msahci", "iaStorV",
                                           "atapi",   "intelide", "pciide", "storvsc" };

/* Start, and StartOverride\0 (-1 when absent), which wins over it (a
 * known cause of 0x7B). */
static int get_override(struct p2v_hive *sys, const char *svc)
{
    char key[192];
    uint32_t v;
    snprintf(key, sizeof key, "%s\\StartOverride", svc);
    return p2v_hive_get_dword(sys, key, "0", &v) == 0 ? (int)v : -1;
}

static int get_start(struct p2v_hive *sys, const char *svc)
{
    uint32_t v;
    return p2v_hive_get_dword(sys, svc, "Start", &v) == 0 ? (int)v : -1;
}

/* What Windows uses: the override when there is one. */
static int effective_start(struct p2v_hive *sys, const char *svc)
{
    int o = get_override(sys, svc);
    return o >= 0 ? o : get_start(sys, svc);
}

static void win_drivers_and_tools(struct p2v_gfs *g, const struct p2v_windows *w,
                                  struct p2v_hive *sys, struct p2v_machine *m)
{
    char svc[160], path[512];
    for (size_t i = 0; i < sizeof win_drivers / sizeof *win_drivers; i++) {
        snprintf(svc, sizeof svc, "%s\\Services\\%s", w->ccs, win_drivers[i]);
        if (!p2v_hive_key_exists(sys, svc) || m->os.ndrivers == P2V_M_MAX_ITEMS)
            continue;
        struct p2v_m_driver *d = &m->os.driver[m->os.ndrivers++];
        p2v_m_copy(d->name, sizeof d->name, win_drivers[i]);
        d->start = get_start(sys, svc);
        if (d->start < 0)
            d->start = 3;  /* Windows' default for a service without Start */
        d->start_override = get_override(sys, svc);
        p2v_windows_service_file(sys, w, win_drivers[i], path, sizeof path);
        p2v_m_copy(d->file_path, sizeof d->file_path, path);
        int r = p2v_gfs_stat(g, path, NULL, NULL);
        d->file = r == 1 ? P2V_YES : r == 0 ? P2V_NO : P2V_UNKNOWN;
    }
    /* Services from the built-in vendor list ("service NAME" lines). */
    for (const char *l = p2v_vendor_services; *l; l = strchr(l, '\n') + 1) {
        char name[96];
        if (sscanf(l, "service %95s", name) == 1 && m->os.ntools < P2V_M_MAX_ITEMS) {
            snprintf(svc, sizeof svc, "%s\\Services\\%s", w->ccs, name);
            if (p2v_hive_key_exists(sys, svc)) {
                struct p2v_m_tool *t = &m->os.tool[m->os.ntools++];
                p2v_m_copy(t->name, sizeof t->name, name);
                p2v_m_copy(t->kind, sizeof t->kind, "service");
                t->start = effective_start(sys, svc);
                if (t->start < 0)
                    t->start = 3;
            }
        }
        if (!strchr(l, '\n'))
            break;
    }
}

/* Other vendors' programs, and whether uninstall-program has scheduled
 * their removal (its script in place) or could. */
static void win_programs(struct p2v_gfs *g, const struct p2v_windows *w, struct p2v_hive *sw,
                         struct p2v_machine *m)
{
    struct p2v_win_program *p;
    size_t n;
    if (p2v_windows_programs(sw, &p, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (p[i].vendor && m->os.ntools < P2V_M_MAX_ITEMS) {
            struct p2v_m_tool *t = &m->os.tool[m->os.ntools++];
            p2v_m_copy(t->name, sizeof t->name, p[i].name);
            p2v_m_copy(t->kind, sizeof t->kind, "program");
            t->start = -1;
            char script[512];
            p2v_windows_uninstall_script(&p[i], w->systemroot, script, sizeof script);
            p2v_m_copy(t->uninstall, sizeof t->uninstall,
                       p2v_gfs_stat(g, script, NULL, NULL) == 1 ? "first-boot"
                       : p[i].command[0]                       ? "unattended" : "manual");
        }
    }
    free(p);
}

static int mask_bits(const char *mask)
{
    unsigned a, b, c, d;
    if (sscanf(mask, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
        return -1;
    return __builtin_popcount((a << 24 | b << 16 | c << 8 | d) & 0xFFFFFFFFu);
}

/* A comma-separated list of a MULTI_SZ (or a REG_SZ with blanks or commas). */
static void join_values(struct p2v_hive *h, const char *key, const char *value, char *out,
                        size_t len)
{
    char **v;
    size_t n;
    out[0] = 0;
    if (p2v_hive_get_multi(h, key, value, &v, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        for (char *p = v[i]; *p; p++)
            if (*p == ' ')
                *p = ',';
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", used ? "," : "", v[i]);
    }
    p2v_strv_free(v, n);
}

/* Static settings per interface (Tcpip\Parameters\Interfaces\{GUID}):
 * the virtual NIC is a new adapter, so the user needs to know them. */
static void win_nics(struct p2v_hive *sys, const struct p2v_windows *w, struct p2v_machine *m)
{
    char base[160], key[320];
    snprintf(base, sizeof base, "%s\\Services\\Tcpip\\Parameters\\Interfaces", w->ccs);
    char **ifs;
    size_t n;
    if (p2v_hive_subkeys(sys, base, &ifs, &n) < 0)
        return;
    for (size_t i = 0; i < n && m->nnics < P2V_M_MAX_NICS; i++) {
        snprintf(key, sizeof key, "%s\\%s", base, ifs[i]);
        uint32_t dhcp;
        int have_dhcp = p2v_hive_get_dword(sys, key, "EnableDHCP", &dhcp) == 0;
        char **ips = NULL, **masks = NULL;
        size_t nip = 0, nmask = 0;
        if (p2v_hive_get_multi(sys, key, "IPAddress", &ips, &nip) < 0)
            nip = 0;
        if (p2v_hive_get_multi(sys, key, "SubnetMask", &masks, &nmask) < 0)
            nmask = 0;
        struct p2v_m_nic *nic = &m->nic[m->nnics];
        memset(nic, 0, sizeof *nic);
        for (size_t k = 0; k < nip && nic->naddrs < P2V_M_MAX_ADDRS; k++) {
            if (!strcmp(ips[k], "0.0.0.0"))
                continue;
            struct p2v_m_addr *a = &nic->addr[nic->naddrs++];
            p2v_m_copy(a->family, sizeof a->family, strchr(ips[k], ':') ? "ipv6" : "ipv4");
            p2v_m_copy(a->addr, sizeof a->addr, ips[k]);
            a->prefix = k < nmask ? mask_bits(masks[k]) : -1;
        }
        p2v_strv_free(ips, nip);
        p2v_strv_free(masks, nmask);
        /* Interfaces Windows made for tunnels and adapters never configured
         * carry neither: leave them out. */
        if (!have_dhcp && !nic->naddrs)
            continue;
        p2v_m_copy(nic->name, sizeof nic->name, ifs[i]);
        nic->dhcp = have_dhcp ? (dhcp ? P2V_YES : P2V_NO) : P2V_UNKNOWN;
        join_values(sys, key, "DefaultGateway", nic->gateway, sizeof nic->gateway);
        join_values(sys, key, "NameServer", nic->dns, sizeof nic->dns);
        m->nnics++;
    }
    p2v_strv_free(ifs, n);
}

/* How each hive was found: the hive-state rule judges it. */
static void hive_states(const struct p2v_windows *w, struct p2v_machine *m)
{
    for (int i = 0; i < w->nhives && m->os.nhives < P2V_M_MAX_HIVES; i++) {
        const struct p2v_hive_status *s = &w->hives[i];
        struct p2v_m_hive *h = &m->os.hive[m->os.nhives++];
        p2v_m_copy(h->name, sizeof h->name, s->name);
        p2v_m_copy(h->state, sizeof h->state, p2v_hive_state_name(s->state));
        h->entries = s->entries;
        h->ignored = s->ignored;
        p2v_m_copy(h->why, sizeof h->why, s->why);
    }
}

static int inventory_windows(const struct p2v_disk_view *dv, struct p2v_machine *m)
{
    struct p2v_windows w;
    struct p2v_gfs *g;
    struct p2v_volume vols[P2V_MAX_PARTITIONS];
    int n = p2v_disk_view_volumes(dv, vols, P2V_MAX_PARTITIONS);
    /* BitLocker volumes cannot be looked into; the rules report them. */
    int k = 0;
    for (int i = 0; i < n; i++) {
        uint8_t b[16];
        int fve = p2v_layer_read(dv->layer, b, sizeof b, vols[i].start) == 0 &&
                  !memcmp(b + 3, "-FVE-FS-", 8);
        if (!fve && strcmp(vols[i].fstype, "BitLocker") != 0)
            vols[k++] = vols[i];
    }
    int r = p2v_windows_find(dv->layer, vols, k, dv->name,
                             dv->windows_flags | P2V_WIN_TOLERATE_DIRTY, &w, &g);
    if (r < 0)
        return r;
    p2v_m_copy(m->os.family, sizeof m->os.family, "windows");
    p2v_m_copy(m->os.name, sizeof m->os.name, w.product);
    p2v_m_copy(m->os.version, sizeof m->os.version, w.version);
    p2v_m_copy(m->os.build, sizeof m->os.build, w.build);
    p2v_m_copy(m->os.arch, sizeof m->os.arch, strcmp(w.arch, "unknown") ? w.arch : "");
    p2v_m_copy(m->os.edition, sizeof m->os.edition, w.edition);
    p2v_m_copy(m->os.installation_type, sizeof m->os.installation_type, w.installation_type);
    p2v_m_copy(m->os.systemroot, sizeof m->os.systemroot, w.systemroot);
    p2v_m_copy(m->os.id, sizeof m->os.id, "windows");
    p2v_m_copy(m->hostname, sizeof m->hostname, w.hostname);
    m->os.major = w.major;
    m->os.minor = w.minor;
    m->os.partition = w.vol.number;
    hive_states(&w, m);
    struct p2v_hive *sys = NULL, *sw = NULL;
    r = p2v_windows_load_hive(g, &w, "SYSTEM", &sys);
    if (r == 0) {
        win_drivers_and_tools(g, &w, sys, m);
        win_nics(sys, &w, m);
        char key[160];
        snprintf(key, sizeof key, "%s\\Enum\\Root\\ACPI_HAL", w.ccs);
        /* Every Windows from Vista on needs ACPI; older ones say by their HAL. */
        m->acpi = w.major >= 6 || p2v_hive_key_exists(sys, key) ? P2V_YES : P2V_UNKNOWN;
        p2v_hive_close(sys);
    }
    if (r == 0 && (r = p2v_windows_load_hive(g, &w, "SOFTWARE", &sw)) == 0) {
        win_programs(g, &w, sw, m);
        p2v_hive_close(sw);
    }
    int c = p2v_gfs_close(g);
    return r < 0 ? r : c;
}

int p2v_inventory_disk(const struct p2v_disk_view *dv, struct p2v_machine *m)
{
    memset(m, 0, sizeof *m);
    p2v_m_copy(m->origin, sizeof m->origin, "source");
    p2v_m_copy(m->source, sizeof m->source, dv->name);
    p2v_m_copy(m->os.family, sizeof m->os.family, "unknown");
    struct p2v_m_disk *d = &m->disk[m->ndisks++];
    const char *base = strrchr(dv->name, '/');
    p2v_m_copy(d->name, sizeof d->name, base ? base + 1 : dv->name);
    p2v_m_copy(d->path, sizeof d->path, dv->name);
    d->size = dv->layer->size;
    d->logical_sector = dv->logical_sector;
    p2v_machine_table(d, dv->table);
    /* libblkid names BitLocker only when its metadata is complete; the boot
     * sector's OEM id says it already. */
    for (int i = 0; i < d->nparts; i++) {
        uint8_t b[16];
        if (d->part[i].size >= sizeof b &&
            p2v_layer_read(dv->layer, b, sizeof b, d->part[i].start) == 0 &&
            !memcmp(b + 3, "-FVE-FS-", 8))
            p2v_m_copy(d->part[i].fs.type, sizeof d->part[i].fs.type, "BitLocker");
    }
    p2v_m_copy(m->firmware, sizeof m->firmware, p2v_disk_firmware(d));
    int r = inventory_windows(dv, m);
    if (r == -ENOENT)
        r = p2v_inventory_linux(dv, m);
    if (r == 0 || r == -ENOENT)
        p2v_inventory_efi(dv, m);
    if (r == -ENOENT)
        return 0;  /* no OS found: the disk facts stand alone */
    if (r == 0)
        p2v_m_copy(m->cpu.arch, sizeof m->cpu.arch, m->os.arch);
    return r;
}
