/* The machine configuration as XML (machine.rng) and as JSON.  Both list
 * the same facts in the same order; unknown ones are left out of the XML
 * and empty (or null) in JSON, so scripts can rely on the keys. */
#include "machine.h"

#include "core/json.h"

#include <inttypes.h>
#include <string.h>

const char *p2v_tristate_name(enum p2v_tristate t)
{
    return t == P2V_YES ? "yes" : t == P2V_NO ? "no" : "unknown";
}

void p2v_m_copy(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* ---- XML ---------------------------------------------------------- */

static void x_elem(FILE *f, int indent, const char *name, const char *text)
{
    if (!text || !text[0])
        return;
    fprintf(f, "%*s<%s>", indent, "", name);
    xml_text(f, text);
    fprintf(f, "</%s>\n", name);
}

static void x_attr(FILE *f, const char *name, const char *text)
{
    if (!text || !text[0])
        return;
    fprintf(f, " %s=\"", name);
    xml_text(f, text);
    fputc('"', f);
}

static void x_uint(FILE *f, const char *name, uint64_t v)
{
    if (v)
        fprintf(f, " %s=\"%" PRIu64 "\"", name, v);
}

static void x_fs(FILE *f, int indent, const struct p2v_m_fs *fs)
{
    if (!fs->type[0])
        return;
    fprintf(f, "%*s<filesystem", indent, "");
    x_attr(f, "type", fs->type);
    x_attr(f, "label", fs->label);
    x_attr(f, "uuid", fs->uuid);
    x_attr(f, "state", fs->state);
    fputs("/>\n", f);
}

static void x_linux(FILE *f, const struct p2v_machine *m)
{
    if (m->os.bootloader[0]) {
        fputs("    <bootloader", f);
        x_attr(f, "type", m->os.bootloader);
        x_attr(f, "config", m->os.bootloader_config);
        fputs("/>\n", f);
    }
    if (m->os.agents_installed[0] || m->os.agents_on_disk[0]) {
        fputs("    <guest-agents", f);
        x_attr(f, "installed", m->os.agents_installed);
        x_attr(f, "on-disk", m->os.agents_on_disk);
        fputs("/>\n", f);
    }
    if (m->os.nkernels) {
        fputs("    <kernels>\n", f);
        for (int i = 0; i < m->os.nkernels; i++) {
            const struct p2v_m_kernel *k = &m->os.kernels[i];
            fputs("      <kernel version=\"", f);
            xml_text(f, k->version);
            fputc('"', f);
            x_attr(f, "initramfs", k->initramfs);
            x_attr(f, "state", k->state);
            x_attr(f, "generator", k->generator);
            x_attr(f, "initramfs-drivers", k->drivers);
            x_attr(f, "builtin", k->builtin);
            x_attr(f, "modules", k->available);
            fputs("/>\n", f);
        }
        fputs("    </kernels>\n", f);
    }
    if (m->os.nrefs) {
        fputs("    <device-references>\n", f);
        for (int i = 0; i < m->os.nrefs; i++) {
            const struct p2v_m_ref *r = &m->os.ref[i];
            fprintf(f, "      <reference where=\"%s\" file=\"", r->where);
            xml_text(f, r->file);
            fputs("\" device=\"", f);
            xml_text(f, r->device);
            fputs("\"/>\n", f);
        }
        fputs("    </device-references>\n", f);
    }
}

static void x_os(FILE *f, const struct p2v_machine *m)
{
    fprintf(f, "  <os family=\"%s\"", m->os.family[0] ? m->os.family : "unknown");
    x_uint(f, "partition", (uint64_t)m->os.partition);
    fputs(">\n", f);
    x_elem(f, 4, "name", m->os.name);
    x_elem(f, 4, "id", m->os.id);
    x_elem(f, 4, "version", m->os.version);
    x_elem(f, 4, "build", m->os.build);
    if (m->os.major || m->os.minor)
        fprintf(f, "    <major>%u</major>\n    <minor>%u</minor>\n", m->os.major, m->os.minor);
    x_elem(f, 4, "arch", m->os.arch);
    x_elem(f, 4, "edition", m->os.edition);
    x_elem(f, 4, "installation-type", m->os.installation_type);
    x_elem(f, 4, "kernel", m->os.kernel);
    x_elem(f, 4, "systemroot", m->os.systemroot);
    x_linux(f, m);
    if (m->os.ndrivers) {
        fputs("    <storage-drivers>\n", f);
        for (int i = 0; i < m->os.ndrivers; i++) {
            const struct p2v_m_driver *d = &m->os.driver[i];
            fputs("      <driver", f);
            x_attr(f, "name", d->name);
            if (d->start >= 0)
                fprintf(f, " start=\"%d\"", d->start);
            else
                fprintf(f, " builtin=\"%s\"", d->builtin ? "yes" : "no");
            if (d->start_override >= 0)
                fprintf(f, " start-override=\"%d\"", d->start_override);
            x_attr(f, "path", d->file_path);
            fprintf(f, " file=\"%s\"/>\n", p2v_tristate_name(d->file));
        }
        fputs("    </storage-drivers>\n", f);
    }
    if (m->os.ntools) {
        fputs("    <vendor-tools>\n", f);
        for (int i = 0; i < m->os.ntools; i++) {
            const struct p2v_m_tool *t = &m->os.tool[i];
            fputs("      <tool", f);
            x_attr(f, "name", t->name);
            x_attr(f, "kind", t->kind);
            if (t->start >= 0)
                fprintf(f, " start=\"%d\"", t->start);
            if (t->uninstall[0])
                x_attr(f, "uninstall", t->uninstall);
            fputs("/>\n", f);
        }
        fputs("    </vendor-tools>\n", f);
    }
    if (m->os.nhives) {
        fputs("    <hives>\n", f);
        for (int i = 0; i < m->os.nhives; i++) {
            const struct p2v_m_hive *h = &m->os.hive[i];
            fputs("      <hive", f);
            x_attr(f, "name", h->name);
            x_attr(f, "state", h->state);
            if (h->entries)
                fprintf(f, " entries=\"%d\"", h->entries);
            if (h->ignored)
                fputs(" ignored=\"yes\"", f);
            x_attr(f, "why", h->why);
            fputs("/>\n", f);
        }
        fputs("    </hives>\n", f);
    }
    if (m->os.nmounts) {
        fputs("    <fstab>\n", f);
        for (int i = 0; i < m->os.nmounts; i++) {
            const struct p2v_m_mount *e = &m->os.mount[i];
            fputs("      <mount", f);
            /* Required attributes, even when empty. */
            fputs(" spec=\"", f), xml_text(f, e->spec);
            fputs("\" file=\"", f), xml_text(f, e->file);
            fputs("\" type=\"", f), xml_text(f, e->type);
            fputs("\" options=\"", f), xml_text(f, e->options);
            fputs("\"/>\n", f);
        }
        fputs("    </fstab>\n", f);
    }
    fputs("  </os>\n", f);
}

static void x_nic(FILE *f, const struct p2v_m_nic *n)
{
    fputs("    <nic name=\"", f);
    xml_text(f, n->name);
    fputc('"', f);
    x_attr(f, "mac", n->mac);
    x_attr(f, "driver", n->driver);
    x_attr(f, "config", n->config);
    x_attr(f, "config-kind", n->config_kind);
    x_attr(f, "pin", n->pin);
    if (n->dhcp != P2V_UNKNOWN)
        fprintf(f, " dhcp=\"%s\"", p2v_tristate_name(n->dhcp));
    if (!n->naddrs && !n->gateway[0] && !n->dns[0]) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n", f);
    for (int i = 0; i < n->naddrs; i++) {
        fprintf(f, "      <address family=\"%s\"", n->addr[i].family);
        if (n->addr[i].prefix >= 0)
            fprintf(f, " prefix=\"%d\"", n->addr[i].prefix);
        fputc('>', f);
        xml_text(f, n->addr[i].addr);
        fputs("</address>\n", f);
    }
    x_elem(f, 6, "gateway", n->gateway);
    x_elem(f, 6, "dns", n->dns);
    fputs("    </nic>\n", f);
}

static void x_disk(FILE *f, const struct p2v_m_disk *d)
{
    fputs("    <disk name=\"", f);
    xml_text(f, d->name);
    fputc('"', f);
    x_attr(f, "path", d->path);
    fprintf(f, " size=\"%" PRIu64 "\" logical-sector=\"%u\">\n", d->size,
            d->logical_sector ? d->logical_sector : 512);
    x_elem(f, 6, "model", d->model);
    x_elem(f, 6, "serial", d->serial);
    fprintf(f, "      <table type=\"%s\"", d->table[0] ? d->table : "none");
    x_attr(f, "id", d->table_id);
    if (!d->nparts && !d->whole.type[0]) {
        fputs("/>\n    </disk>\n", f);
        return;
    }
    fputs(">\n", f);
    x_fs(f, 8, &d->whole);
    for (int i = 0; i < d->nparts; i++) {
        const struct p2v_m_part *p = &d->part[i];
        fprintf(f, "        <partition number=\"%d\" start=\"%" PRIu64 "\" size=\"%" PRIu64 "\"",
                p->number, p->start, p->size);
        fputs(" type=\"", f);
        xml_text(f, p->type);
        fputc('"', f);
        x_attr(f, "name", p->name);
        x_attr(f, "uuid", p->uuid);
        if (p->bootable)
            fputs(" bootable=\"yes\"", f);
        if (!p->fs.type[0]) {
            fputs("/>\n", f);
            continue;
        }
        fputs(">\n", f);
        x_fs(f, 10, &p->fs);
        fputs("        </partition>\n", f);
    }
    fputs("      </table>\n    </disk>\n", f);
}

void p2v_machine_xml(FILE *f, const struct p2v_machine *m)
{
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<machine version=\"1\" origin=\"%s\">\n", m->origin);
    x_elem(f, 2, "source", m->source);
    x_elem(f, 2, "hostname", m->hostname);
    fputs("  <cpu", f);
    x_attr(f, "arch", m->cpu.arch);
    x_uint(f, "count", (uint64_t)m->cpu.count);
    x_uint(f, "sockets", (uint64_t)m->cpu.sockets);
    x_uint(f, "cores", (uint64_t)m->cpu.cores);
    x_uint(f, "threads", (uint64_t)m->cpu.threads);
    if (m->cpu.vendor[0] || m->cpu.model[0]) {
        fputs(">\n", f);
        x_elem(f, 4, "vendor", m->cpu.vendor);
        x_elem(f, 4, "model", m->cpu.model);
        fputs("  </cpu>\n", f);
    } else {
        fputs("/>\n", f);
    }
    if (m->memory_kib)
        fprintf(f, "  <memory unit=\"KiB\">%" PRIu64 "</memory>\n", m->memory_kib);
    fputs("  <firmware", f);
    x_attr(f, "type", m->firmware);
    fprintf(f, " acpi=\"%s\"", p2v_tristate_name(m->acpi));
    if (m->efi.partition) {
        fprintf(f, " esp=\"%d\"", m->efi.partition);
        x_attr(f, "fallback", m->efi.fallback);
        x_attr(f, "loader", m->efi.loader);
    }
    fputs("/>\n", f);
    x_os(f, m);
    fputs("  <nics>\n", f);
    for (int i = 0; i < m->nnics; i++)
        x_nic(f, &m->nic[i]);
    fputs("  </nics>\n  <disks>\n", f);
    for (int i = 0; i < m->ndisks; i++)
        x_disk(f, &m->disk[i]);
    fputs("  </disks>\n</machine>\n", f);
}

/* ---- JSON --------------------------------------------------------- */

/* A start type or a prefix length; negative: unknown. */
static void j_int_or_null(struct p2v_json *j, const char *key, int v)
{
    if (v >= 0)
        p2v_json_int(j, key, v);
    else
        p2v_json_null(j, key);
}

static void j_fs(struct p2v_json *j, const struct p2v_m_fs *fs)
{
    if (!fs->type[0]) {
        p2v_json_null(j, "filesystem");
        return;
    }
    p2v_json_object(j, "filesystem");
    p2v_json_str(j, "type", fs->type);
    p2v_json_str(j, "label", fs->label);
    p2v_json_str(j, "uuid", fs->uuid);
    p2v_json_str(j, "state", fs->state);
    p2v_json_end(j);
}

static void j_cpu(struct p2v_json *j, const struct p2v_machine *m)
{
    p2v_json_object(j, "cpu");
    p2v_json_str(j, "arch", m->cpu.arch);
    p2v_json_str(j, "vendor", m->cpu.vendor);
    p2v_json_str(j, "model", m->cpu.model);
    p2v_json_int(j, "count", m->cpu.count);
    p2v_json_int(j, "sockets", m->cpu.sockets);
    p2v_json_int(j, "cores", m->cpu.cores);
    p2v_json_int(j, "threads", m->cpu.threads);
    p2v_json_end(j);
}

static void j_drivers(struct p2v_json *j, const struct p2v_machine *m)
{
    p2v_json_array(j, "storage_drivers");
    for (int i = 0; i < m->os.ndrivers; i++) {
        const struct p2v_m_driver *d = &m->os.driver[i];
        p2v_json_object(j, NULL);
        p2v_json_str(j, "name", d->name);
        /* A Windows service has a start type, a Linux module may be built in. */
        j_int_or_null(j, "start", d->start);
        j_int_or_null(j, "start_override", d->start_override);
        if (d->start >= 0)
            p2v_json_null(j, "builtin");
        else
            p2v_json_bool(j, "builtin", d->builtin);
        p2v_json_str(j, "file", p2v_tristate_name(d->file));
        p2v_json_str(j, "path", d->file_path);
        p2v_json_end(j);
    }
    p2v_json_end(j);
}

static void j_tools(struct p2v_json *j, const struct p2v_machine *m)
{
    p2v_json_array(j, "vendor_tools");
    for (int i = 0; i < m->os.ntools; i++) {
        const struct p2v_m_tool *t = &m->os.tool[i];
        p2v_json_object(j, NULL);
        p2v_json_str(j, "name", t->name);
        p2v_json_str(j, "kind", t->kind);
        j_int_or_null(j, "start", t->start);
        p2v_json_str_or_null(j, "uninstall", t->uninstall[0] ? t->uninstall : NULL);
        p2v_json_end(j);
    }
    p2v_json_end(j);
}

static void j_fstab(struct p2v_json *j, const struct p2v_machine *m)
{
    p2v_json_array(j, "fstab");
    for (int i = 0; i < m->os.nmounts; i++) {
        const struct p2v_m_mount *e = &m->os.mount[i];
        p2v_json_object(j, NULL);
        p2v_json_str(j, "spec", e->spec);
        p2v_json_str(j, "file", e->file);
        p2v_json_str(j, "type", e->type);
        p2v_json_str(j, "options", e->options);
        p2v_json_end(j);
    }
    p2v_json_end(j);
}

static void j_hives(struct p2v_json *j, const struct p2v_machine *m)
{
    p2v_json_array(j, "hives");
    for (int i = 0; i < m->os.nhives; i++) {
        const struct p2v_m_hive *h = &m->os.hive[i];
        p2v_json_object(j, NULL);
        p2v_json_str(j, "name", h->name);
        p2v_json_str(j, "state", h->state);
        p2v_json_int(j, "entries", h->entries);
        p2v_json_bool(j, "ignored", h->ignored);
        p2v_json_str(j, "why", h->why);
        p2v_json_end(j);
    }
    p2v_json_end(j);
}

static void j_linux(struct p2v_json *j, const struct p2v_machine *m)
{
    p2v_json_object(j, "bootloader");
    p2v_json_str(j, "type", m->os.bootloader);
    p2v_json_str(j, "config", m->os.bootloader_config);
    p2v_json_end(j);
    p2v_json_object(j, "guest_agents");
    p2v_json_str(j, "installed", m->os.agents_installed);
    p2v_json_str(j, "on_disk", m->os.agents_on_disk);
    p2v_json_end(j);
    p2v_json_array(j, "kernels");
    for (int i = 0; i < m->os.nkernels; i++) {
        const struct p2v_m_kernel *k = &m->os.kernels[i];
        p2v_json_object(j, NULL);
        p2v_json_str(j, "version", k->version);
        p2v_json_str(j, "initramfs", k->initramfs);
        p2v_json_str(j, "state", k->state);
        p2v_json_str(j, "generator", k->generator);
        p2v_json_str(j, "initramfs_drivers", k->drivers);
        p2v_json_str(j, "builtin", k->builtin);
        p2v_json_str(j, "modules", k->available);
        p2v_json_end(j);
    }
    p2v_json_end(j);
    p2v_json_array(j, "device_references");
    for (int i = 0; i < m->os.nrefs; i++) {
        const struct p2v_m_ref *r = &m->os.ref[i];
        p2v_json_object(j, NULL);
        p2v_json_str(j, "where", r->where);
        p2v_json_str(j, "file", r->file);
        p2v_json_str(j, "device", r->device);
        p2v_json_bool(j, "changes", p2v_m_unstable_device(r->device));
        p2v_json_end(j);
    }
    p2v_json_end(j);
}

static void j_os(struct p2v_json *j, const struct p2v_machine *m)
{
    p2v_json_object(j, "os");
    p2v_json_str(j, "family", m->os.family[0] ? m->os.family : "unknown");
    p2v_json_str(j, "name", m->os.name);
    p2v_json_str(j, "id", m->os.id);
    p2v_json_str(j, "version", m->os.version);
    p2v_json_str(j, "build", m->os.build);
    p2v_json_uint(j, "major", m->os.major);
    p2v_json_uint(j, "minor", m->os.minor);
    p2v_json_str(j, "arch", m->os.arch);
    p2v_json_str(j, "edition", m->os.edition);
    p2v_json_str(j, "installation_type", m->os.installation_type);
    p2v_json_str(j, "kernel", m->os.kernel);
    p2v_json_int(j, "partition", m->os.partition);
    p2v_json_str(j, "systemroot", m->os.systemroot);
    j_drivers(j, m);
    j_tools(j, m);
    j_hives(j, m);
    j_fstab(j, m);
    j_linux(j, m);
    p2v_json_end(j);
}

static void j_nic(struct p2v_json *j, const struct p2v_m_nic *n)
{
    p2v_json_object(j, NULL);
    p2v_json_str(j, "name", n->name);
    p2v_json_str(j, "mac", n->mac);
    p2v_json_str(j, "driver", n->driver);
    p2v_json_str(j, "config", n->config);
    p2v_json_str(j, "config_kind", n->config_kind);
    p2v_json_str(j, "pin", n->pin);
    p2v_json_str(j, "dhcp", n->dhcp == P2V_UNKNOWN ? "" : p2v_tristate_name(n->dhcp));
    p2v_json_array(j, "addresses");
    for (int i = 0; i < n->naddrs; i++) {
        p2v_json_object(j, NULL);
        p2v_json_str(j, "family", n->addr[i].family);
        p2v_json_str(j, "address", n->addr[i].addr);
        j_int_or_null(j, "prefix", n->addr[i].prefix);
        p2v_json_end(j);
    }
    p2v_json_end(j);
    p2v_json_str(j, "gateway", n->gateway);
    p2v_json_str(j, "dns", n->dns);
    p2v_json_end(j);
}

static void j_part(struct p2v_json *j, const struct p2v_m_part *p)
{
    p2v_json_object(j, NULL);
    p2v_json_int(j, "number", p->number);
    p2v_json_uint(j, "start", p->start);
    p2v_json_uint(j, "size", p->size);
    p2v_json_str(j, "type", p->type);
    p2v_json_str(j, "name", p->name);
    p2v_json_str(j, "uuid", p->uuid);
    p2v_json_bool(j, "bootable", p->bootable);
    j_fs(j, &p->fs);
    p2v_json_end(j);
}

static void j_disk(struct p2v_json *j, const struct p2v_m_disk *d)
{
    p2v_json_object(j, NULL);
    p2v_json_str(j, "name", d->name);
    p2v_json_str(j, "path", d->path);
    p2v_json_uint(j, "size", d->size);
    p2v_json_uint(j, "logical_sector", d->logical_sector ? d->logical_sector : 512);
    p2v_json_str(j, "model", d->model);
    p2v_json_str(j, "serial", d->serial);
    p2v_json_str(j, "table", d->table[0] ? d->table : "none");
    p2v_json_str(j, "table_id", d->table_id);
    j_fs(j, &d->whole);
    p2v_json_array(j, "partitions");
    for (int i = 0; i < d->nparts; i++)
        j_part(j, &d->part[i]);
    p2v_json_end(j);
    p2v_json_end(j);
}

void p2v_machine_json(FILE *f, const struct p2v_machine *m)
{
    struct p2v_json j;
    p2v_json_init(&j, f);
    p2v_json_object(&j, NULL);
    p2v_json_int(&j, "version", 1);
    p2v_json_str(&j, "origin", m->origin);
    p2v_json_str(&j, "source", m->source);
    p2v_json_str(&j, "hostname", m->hostname);
    j_cpu(&j, m);
    if (m->memory_kib)
        p2v_json_uint(&j, "memory_kib", m->memory_kib);
    else
        p2v_json_null(&j, "memory_kib");
    p2v_json_str(&j, "firmware", m->firmware);
    p2v_json_str(&j, "acpi", p2v_tristate_name(m->acpi));
    if (m->efi.partition) {
        p2v_json_object(&j, "efi");
        p2v_json_int(&j, "partition", m->efi.partition);
        p2v_json_str(&j, "fallback", m->efi.fallback);
        p2v_json_str(&j, "loader", m->efi.loader);
        p2v_json_end(&j);
    } else
        p2v_json_null(&j, "efi");
    j_os(&j, m);
    p2v_json_array(&j, "nics");
    for (int i = 0; i < m->nnics; i++)
        j_nic(&j, &m->nic[i]);
    p2v_json_end(&j);
    p2v_json_array(&j, "disks");
    for (int i = 0; i < m->ndisks; i++)
        j_disk(&j, &m->disk[i]);
    p2v_json_end(&j);
    p2v_json_finish(&j);
}
