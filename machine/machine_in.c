/* Reads a machine configuration file back: validated against the built-in
 * schema (core/xml_valid.c), then taken apart with XPath. */
#include "machine.h"

#include "core/xml_valid.h"
#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/xpath.h>

/* An attribute of a node, or with attr NULL its text; NULL when absent. */
static xmlChar *value(xmlNodePtr n, const char *attr)
{
    return !n ? NULL : attr ? xmlGetProp(n, (const xmlChar *)attr) : xmlNodeGetContent(n);
}

/* Attribute or text of a node into a buffer; "" when absent. */
static void get(xmlNodePtr n, const char *attr, char *out, size_t len)
{
    xmlChar *v = value(n, attr);
    p2v_m_copy(out, len, v ? (const char *)v : "");
    xmlFree(v);
}

/* The value without the blanks around it: enumerated and numeric values
 * are tokens to the schema (blanks around them do not count).  The
 * trimming comes before any cut to a field's size, or a value padded with
 * blanks would lose its end. */
static const char *trimmed(const char *s, size_t *len)
{
    s += strspn(s, " \t\r\n");
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        n--;
    *len = n;
    return s;
}

static void get_token(xmlNodePtr n, const char *attr, char *out, size_t len)
{
    xmlChar *v = value(n, attr);
    size_t tl;
    const char *t = trimmed(v ? (const char *)v : "", &tl);
    if (tl > len - 1)
        tl = len - 1;
    memcpy(out, t, tl);
    out[tl] = 0;
    xmlFree(v);
}

/* Numbers the schema accepted, parsed from the whole value (leading zeros
 * of any length; strtoll/strtoull saturate) and clamped to what p2v keeps;
 * dflt when absent. */
static long get_num(xmlNodePtr n, const char *attr, long dflt)
{
    xmlChar *v = value(n, attr);
    size_t tl;
    const char *t = trimmed(v ? (const char *)v : "", &tl);
    long long r = tl ? strtoll(t, NULL, 10) : dflt;
    xmlFree(v);
    return r > INT_MAX ? INT_MAX : r < INT_MIN ? INT_MIN : (long)r;
}

static uint64_t get_u64(xmlNodePtr n, const char *attr)
{
    xmlChar *v = value(n, attr);
    size_t tl;
    const char *t = trimmed(v ? (const char *)v : "", &tl);
    uint64_t r = tl ? strtoull(t, NULL, 10) : 0;
    xmlFree(v);
    return r;
}

static enum p2v_tristate get_tri(xmlNodePtr n, const char *attr)
{
    char buf[16];
    get_token(n, attr, buf, sizeof buf);
    return !strcmp(buf, "yes") ? P2V_YES : !strcmp(buf, "no") ? P2V_NO : P2V_UNKNOWN;
}

/* Nodes matching an XPath expression (relative to the root). */
static xmlXPathObjectPtr nodes(xmlXPathContextPtr xc, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, xc);
    if (o && (!o->nodesetval || !o->nodesetval->nodeNr)) {
        xmlXPathFreeObject(o);
        return NULL;
    }
    return o;
}

static xmlNodePtr first(xmlXPathContextPtr xc, const char *expr)
{
    xmlXPathObjectPtr o = nodes(xc, expr);
    xmlNodePtr n = o ? o->nodesetval->nodeTab[0] : NULL;
    xmlXPathFreeObject(o);
    return n;
}

static void text_of(xmlXPathContextPtr xc, const char *expr, char *out, size_t len)
{
    xmlNodePtr n = first(xc, expr);
    out[0] = 0;
    if (n)
        get(n, NULL, out, len);
}

static void read_fs(xmlNodePtr parent, struct p2v_m_fs *fs)
{
    for (xmlNodePtr c = parent->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !xmlStrcmp(c->name, (const xmlChar *)"filesystem")) {
            get(c, "type", fs->type, sizeof fs->type);
            get(c, "label", fs->label, sizeof fs->label);
            get(c, "uuid", fs->uuid, sizeof fs->uuid);
            get_token(c, "state", fs->state, sizeof fs->state);
        }
}

static void read_os(xmlXPathContextPtr xc, struct p2v_machine *m)
{
    xmlNodePtr os = first(xc, "/machine/os");
    get_token(os, "family", m->os.family, sizeof m->os.family);
    m->os.partition = (int)get_num(os, "partition", 0);
    const struct { const char *x; char *out; size_t len; } t[] = {
        { "/machine/os/name", m->os.name, sizeof m->os.name },
        { "/machine/os/id", m->os.id, sizeof m->os.id },
        { "/machine/os/version", m->os.version, sizeof m->os.version },
        { "/machine/os/build", m->os.build, sizeof m->os.build },
        { "/machine/os/arch", m->os.arch, sizeof m->os.arch },
        { "/machine/os/edition", m->os.edition, sizeof m->os.edition },
        { "/machine/os/installation-type", m->os.installation_type, sizeof m->os.installation_type },
        { "/machine/os/kernel", m->os.kernel, sizeof m->os.kernel },
        { "/machine/os/systemroot", m->os.systemroot, sizeof m->os.systemroot },
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        text_of(xc, t[i].x, t[i].out, t[i].len);
    uint64_t major = get_u64(first(xc, "/machine/os/major"), NULL);
    uint64_t minor = get_u64(first(xc, "/machine/os/minor"), NULL);
    m->os.major = major > UINT_MAX ? UINT_MAX : (unsigned)major;
    m->os.minor = minor > UINT_MAX ? UINT_MAX : (unsigned)minor;
    xmlXPathObjectPtr o = nodes(xc, "/machine/os/storage-drivers/driver");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->os.ndrivers < P2V_M_MAX_ITEMS; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_driver *d = &m->os.driver[m->os.ndrivers++];
        get(n, "name", d->name, sizeof d->name);
        d->start = (int)get_num(n, "start", -1);
        d->start_override = (int)get_num(n, "start-override", -1);
        get(n, "path", d->file_path, sizeof d->file_path);
        d->builtin = get_tri(n, "builtin") == P2V_YES;
        d->file = get_tri(n, "file");
    }
    xmlXPathFreeObject(o);
    o = nodes(xc, "/machine/os/vendor-tools/tool");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->os.ntools < P2V_M_MAX_ITEMS; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_tool *t2 = &m->os.tool[m->os.ntools++];
        get(n, "name", t2->name, sizeof t2->name);
        get_token(n, "kind", t2->kind, sizeof t2->kind);
        t2->start = (int)get_num(n, "start", -1);
        get_token(n, "uninstall", t2->uninstall, sizeof t2->uninstall);
    }
    xmlXPathFreeObject(o);
    o = nodes(xc, "/machine/os/hives/hive");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->os.nhives < P2V_M_MAX_HIVES; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_hive *h = &m->os.hive[m->os.nhives++];
        get(n, "name", h->name, sizeof h->name);
        get_token(n, "state", h->state, sizeof h->state);
        h->entries = (int)get_num(n, "entries", 0);
        h->ignored = get_tri(n, "ignored") == P2V_YES;
        get(n, "why", h->why, sizeof h->why);
    }
    xmlXPathFreeObject(o);
    xmlNodePtr bl = first(xc, "/machine/os/bootloader");
    if (bl) {
        get_token(bl, "type", m->os.bootloader, sizeof m->os.bootloader);
        get(bl, "config", m->os.bootloader_config, sizeof m->os.bootloader_config);
    }
    xmlNodePtr ga = first(xc, "/machine/os/guest-agents");
    if (ga) {
        get(ga, "installed", m->os.agents_installed, sizeof m->os.agents_installed);
        get(ga, "on-disk", m->os.agents_on_disk, sizeof m->os.agents_on_disk);
    }
    o = nodes(xc, "/machine/os/kernels/kernel");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->os.nkernels < P2V_M_MAX_KERNELS; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_kernel *k = &m->os.kernels[m->os.nkernels++];
        get(n, "version", k->version, sizeof k->version);
        get(n, "initramfs", k->initramfs, sizeof k->initramfs);
        get_token(n, "state", k->state, sizeof k->state);
        get_token(n, "generator", k->generator, sizeof k->generator);
        get(n, "initramfs-drivers", k->drivers, sizeof k->drivers);
        get(n, "builtin", k->builtin, sizeof k->builtin);
        get(n, "modules", k->available, sizeof k->available);
    }
    xmlXPathFreeObject(o);
    o = nodes(xc, "/machine/os/device-references/reference");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->os.nrefs < P2V_M_MAX_ITEMS; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_ref *r = &m->os.ref[m->os.nrefs++];
        get_token(n, "where", r->where, sizeof r->where);
        get(n, "file", r->file, sizeof r->file);
        get(n, "device", r->device, sizeof r->device);
    }
    xmlXPathFreeObject(o);
    o = nodes(xc, "/machine/os/fstab/mount");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->os.nmounts < P2V_M_MAX_ITEMS; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_mount *e = &m->os.mount[m->os.nmounts++];
        get(n, "spec", e->spec, sizeof e->spec);
        get(n, "file", e->file, sizeof e->file);
        get(n, "type", e->type, sizeof e->type);
        get(n, "options", e->options, sizeof e->options);
    }
    xmlXPathFreeObject(o);
}

static void read_nics(xmlXPathContextPtr xc, struct p2v_machine *m)
{
    xmlXPathObjectPtr o = nodes(xc, "/machine/nics/nic");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->nnics < P2V_M_MAX_NICS; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_nic *nic = &m->nic[m->nnics++];
        get(n, "name", nic->name, sizeof nic->name);
        get(n, "mac", nic->mac, sizeof nic->mac);
        get(n, "driver", nic->driver, sizeof nic->driver);
        get(n, "config", nic->config, sizeof nic->config);
        get_token(n, "config-kind", nic->config_kind, sizeof nic->config_kind);
        get(n, "pin", nic->pin, sizeof nic->pin);
        nic->dhcp = get_tri(n, "dhcp");
        for (xmlNodePtr c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!xmlStrcmp(c->name, (const xmlChar *)"address") && nic->naddrs < P2V_M_MAX_ADDRS) {
                struct p2v_m_addr *a = &nic->addr[nic->naddrs++];
                get_token(c, "family", a->family, sizeof a->family);
                get(c, NULL, a->addr, sizeof a->addr);
                a->prefix = (int)get_num(c, "prefix", -1);
            } else if (!xmlStrcmp(c->name, (const xmlChar *)"gateway")) {
                get(c, NULL, nic->gateway, sizeof nic->gateway);
            } else if (!xmlStrcmp(c->name, (const xmlChar *)"dns")) {
                get(c, NULL, nic->dns, sizeof nic->dns);
            }
        }
    }
    xmlXPathFreeObject(o);
}

static void read_disks(xmlXPathContextPtr xc, struct p2v_machine *m)
{
    xmlXPathObjectPtr o = nodes(xc, "/machine/disks/disk");
    for (int i = 0; o && i < o->nodesetval->nodeNr && m->ndisks < P2V_M_MAX_DISKS; i++) {
        xmlNodePtr n = o->nodesetval->nodeTab[i];
        struct p2v_m_disk *d = &m->disk[m->ndisks++];
        get(n, "name", d->name, sizeof d->name);
        get(n, "path", d->path, sizeof d->path);
        d->size = get_u64(n, "size");
        d->logical_sector = (unsigned)get_num(n, "logical-sector", 512);
        for (xmlNodePtr c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!xmlStrcmp(c->name, (const xmlChar *)"model"))
                get(c, NULL, d->model, sizeof d->model);
            else if (!xmlStrcmp(c->name, (const xmlChar *)"serial"))
                get(c, NULL, d->serial, sizeof d->serial);
            if (xmlStrcmp(c->name, (const xmlChar *)"table") != 0)
                continue;
            get_token(c, "type", d->table, sizeof d->table);
            get(c, "id", d->table_id, sizeof d->table_id);
            read_fs(c, &d->whole);
            for (xmlNodePtr p = c->children; p; p = p->next) {
                if (p->type != XML_ELEMENT_NODE || xmlStrcmp(p->name, (const xmlChar *)"partition") ||
                    d->nparts == P2V_M_MAX_PARTS)
                    continue;
                struct p2v_m_part *part = &d->part[d->nparts++];
                part->number = (int)get_num(p, "number", 0);
                part->start = get_u64(p, "start");
                part->size = get_u64(p, "size");
                get(p, "type", part->type, sizeof part->type);
                get(p, "name", part->name, sizeof part->name);
                get(p, "uuid", part->uuid, sizeof part->uuid);
                part->bootable = get_tri(p, "bootable") == P2V_YES;
                read_fs(p, &part->fs);
            }
        }
    }
    xmlXPathFreeObject(o);
}

int p2v_machine_load(const char *path, struct p2v_machine *m)
{
    memset(m, 0, sizeof *m);
    xmlDocPtr doc = p2v_xml_load(path, p2v_machine_rng, "machine configuration",
                                 "make a new one with 'p2v inventory', or check it against "
                                 "'p2v inventory --schema' with xmllint --relaxng");
    if (!doc)
        return -EINVAL;
    xmlXPathContextPtr xc = xmlXPathNewContext(doc);
    if (!xc) {
        xmlFreeDoc(doc);
        return -ENOMEM;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    get_token(root, "origin", m->origin, sizeof m->origin);
    text_of(xc, "/machine/source", m->source, sizeof m->source);
    text_of(xc, "/machine/hostname", m->hostname, sizeof m->hostname);
    xmlNodePtr cpu = first(xc, "/machine/cpu");
    get(cpu, "arch", m->cpu.arch, sizeof m->cpu.arch);
    m->cpu.count = (int)get_num(cpu, "count", 0);
    m->cpu.sockets = (int)get_num(cpu, "sockets", 0);
    m->cpu.cores = (int)get_num(cpu, "cores", 0);
    m->cpu.threads = (int)get_num(cpu, "threads", 0);
    text_of(xc, "/machine/cpu/vendor", m->cpu.vendor, sizeof m->cpu.vendor);
    text_of(xc, "/machine/cpu/model", m->cpu.model, sizeof m->cpu.model);
    m->memory_kib = get_u64(first(xc, "/machine/memory"), NULL);
    xmlNodePtr fw = first(xc, "/machine/firmware");
    get_token(fw, "type", m->firmware, sizeof m->firmware);
    m->acpi = get_tri(fw, "acpi");
    m->efi.partition = (int)get_num(fw, "esp", 0);
    get_token(fw, "fallback", m->efi.fallback, sizeof m->efi.fallback);
    get(fw, "loader", m->efi.loader, sizeof m->efi.loader);
    read_os(xc, m);
    read_nics(xc, m);
    read_disks(xc, m);
    xmlXPathFreeContext(xc);
    xmlFreeDoc(doc);
    return 0;
}
