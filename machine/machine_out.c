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
            fputs("/>\n", f);
        }
        fputs("    </vendor-tools>\n", f);
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
    fprintf(f, " acpi=\"%s\"/>\n", p2v_tristate_name(m->acpi));
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

/* "key": "v", after a comma when asked; a key written {"key opens an
 * object first. */
static void j_str(FILE *f, const char *key, const char *v, int comma)
{
    if (comma)
        fputs(", ", f);
    if (!strncmp(key, "{\"", 2)) {
        fputc('{', f);
        key += 2;
    }
    fprintf(f, "\"%s\": ", key);
    json_string(f, v);
}

static void j_fs(FILE *f, const char *key, const struct p2v_m_fs *fs)
{
    fprintf(f, ", \"%s\": ", key);
    if (!fs->type[0]) {
        fputs("null", f);
        return;
    }
    j_str(f, "{\"type", fs->type, 0);
    j_str(f, "label", fs->label, 1);
    j_str(f, "uuid", fs->uuid, 1);
    j_str(f, "state", fs->state, 1);
    fputc('}', f);
}

void p2v_machine_json(FILE *f, const struct p2v_machine *m)
{
    fprintf(f, "{\"version\": 1");
    j_str(f, "origin", m->origin, 1);
    j_str(f, "source", m->source, 1);
    j_str(f, "hostname", m->hostname, 1);
    j_str(f, "cpu\": {\"arch", m->cpu.arch, 1);
    j_str(f, "vendor", m->cpu.vendor, 1);
    j_str(f, "model", m->cpu.model, 1);
    fprintf(f, ", \"count\": %d, \"sockets\": %d, \"cores\": %d, \"threads\": %d}", m->cpu.count,
            m->cpu.sockets, m->cpu.cores, m->cpu.threads);
    if (m->memory_kib)
        fprintf(f, ", \"memory_kib\": %" PRIu64, m->memory_kib);
    else
        fputs(", \"memory_kib\": null", f);
    j_str(f, "firmware", m->firmware, 1);
    j_str(f, "acpi", p2v_tristate_name(m->acpi), 1);
    j_str(f, "os\": {\"family", m->os.family[0] ? m->os.family : "unknown", 1);
    j_str(f, "name", m->os.name, 1);
    j_str(f, "id", m->os.id, 1);
    j_str(f, "version", m->os.version, 1);
    j_str(f, "build", m->os.build, 1);
    fprintf(f, ", \"major\": %u, \"minor\": %u", m->os.major, m->os.minor);
    j_str(f, "arch", m->os.arch, 1);
    j_str(f, "edition", m->os.edition, 1);
    j_str(f, "installation_type", m->os.installation_type, 1);
    j_str(f, "kernel", m->os.kernel, 1);
    fprintf(f, ", \"partition\": %d", m->os.partition);
    j_str(f, "systemroot", m->os.systemroot, 1);
    fputs(", \"storage_drivers\": [", f);
    for (int i = 0; i < m->os.ndrivers; i++) {
        const struct p2v_m_driver *d = &m->os.driver[i];
        j_str(f, "{\"name", d->name, i > 0);
        if (d->start >= 0)
            fprintf(f, ", \"start\": %d, \"builtin\": null", d->start);
        else
            fprintf(f, ", \"start\": null, \"builtin\": %s", d->builtin ? "true" : "false");
        j_str(f, "file", p2v_tristate_name(d->file), 1);
        fputc('}', f);
    }
    fputs("], \"vendor_tools\": [", f);
    for (int i = 0; i < m->os.ntools; i++) {
        j_str(f, "{\"name", m->os.tool[i].name, i > 0);
        j_str(f, "kind", m->os.tool[i].kind, 1);
        if (m->os.tool[i].start >= 0)
            fprintf(f, ", \"start\": %d}", m->os.tool[i].start);
        else
            fputs(", \"start\": null}", f);
    }
    fputs("], \"fstab\": [", f);
    for (int i = 0; i < m->os.nmounts; i++) {
        j_str(f, "{\"spec", m->os.mount[i].spec, i > 0);
        j_str(f, "file", m->os.mount[i].file, 1);
        j_str(f, "type", m->os.mount[i].type, 1);
        j_str(f, "options", m->os.mount[i].options, 1);
        fputc('}', f);
    }
    fputs("]}, \"nics\": [", f);
    for (int i = 0; i < m->nnics; i++) {
        const struct p2v_m_nic *n = &m->nic[i];
        j_str(f, "{\"name", n->name, i > 0);
        j_str(f, "mac", n->mac, 1);
        j_str(f, "driver", n->driver, 1);
        j_str(f, "dhcp", n->dhcp == P2V_UNKNOWN ? "" : p2v_tristate_name(n->dhcp), 1);
        fputs(", \"addresses\": [", f);
        for (int k = 0; k < n->naddrs; k++) {
            j_str(f, "{\"family", n->addr[k].family, k > 0);
            j_str(f, "address", n->addr[k].addr, 1);
            if (n->addr[k].prefix >= 0)
                fprintf(f, ", \"prefix\": %d}", n->addr[k].prefix);
            else
                fputs(", \"prefix\": null}", f);
        }
        fputc(']', f);
        j_str(f, "gateway", n->gateway, 1);
        j_str(f, "dns", n->dns, 1);
        fputc('}', f);
    }
    fputs("], \"disks\": [", f);
    for (int i = 0; i < m->ndisks; i++) {
        const struct p2v_m_disk *d = &m->disk[i];
        j_str(f, "{\"name", d->name, i > 0);
        j_str(f, "path", d->path, 1);
        fprintf(f, ", \"size\": %" PRIu64 ", \"logical_sector\": %u", d->size,
                d->logical_sector ? d->logical_sector : 512);
        j_str(f, "model", d->model, 1);
        j_str(f, "serial", d->serial, 1);
        j_str(f, "table", d->table[0] ? d->table : "none", 1);
        j_str(f, "table_id", d->table_id, 1);
        j_fs(f, "filesystem", &d->whole);
        fputs(", \"partitions\": [", f);
        for (int k = 0; k < d->nparts; k++) {
            const struct p2v_m_part *p = &d->part[k];
            fprintf(f, "%s{\"number\": %d, \"start\": %" PRIu64 ", \"size\": %" PRIu64,
                    k ? ", " : "", p->number, p->start, p->size);
            j_str(f, "type", p->type, 1);
            j_str(f, "name", p->name, 1);
            j_str(f, "uuid", p->uuid, 1);
            fprintf(f, ", \"bootable\": %s", p->bootable ? "true" : "false");
            j_fs(f, "filesystem", &p->fs);
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputs("]}\n", f);
}
