/* Machine configuration files (p2v check --config, p2v vm create --config,
 * p2v batch's <config>) on arbitrary bytes: the whole path a file takes in
 * p2v.  machine/machine_in.c reads it (libxml2, then machine.rng,
 * then XPath); when it loads, the convertibility rules judge it for every
 * target, machine_out.c writes it back as XML and JSON, and the VM writers
 * make libvirt, Hyper-V and QEMU definitions of it.  Checked on the way:
 * the facts stay within their arrays and their schema's values, the JSON
 * is JSON, the XML written back loads again and gives the same XML (as
 * p2v commit does with --config), and the libvirt domain is well-formed. */
#include "tests/fuzz/harness.h"
#include "core/log.h"
#include "machine/machine.h"
#include "machine/rules.h"
#include "machine/vmdef.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libxml/parser.h>

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_machine: " __VA_ARGS__);                             \
            fputc('\n', stderr);                                                       \
            abort();                                                                   \
        }                                                                              \
    } while (0)

static char dir[64], in_path[96], back_path[96], vhd_path[96], vhdx_path[96];

static void cleanup(void)
{
    unlink(in_path);
    unlink(back_path);
    unlink(vhd_path);
    unlink(vhdx_path);
    rmdir(dir);
}

static void put_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");
    CHECK(f && fwrite(data, 1, len, f) == len && fclose(f) == 0, "writing %s", path);
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/p2v-fuzz-machine-XXXXXX",
             tmp && *tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(in_path, sizeof in_path, "%s/machine.xml", dir);
    snprintf(back_path, sizeof back_path, "%s/back.xml", dir);
    snprintf(vhd_path, sizeof vhd_path, "%s/disk.vhd", dir);
    snprintf(vhdx_path, sizeof vhdx_path, "%s/disk.vhdx", dir);
    /* Images the VM writers name: only their signatures are read. */
    uint8_t img[1024] = { 0 };
    memcpy(img + 512, "conectix", 8);
    put_file(vhd_path, img, sizeof img);
    memset(img, 0, sizeof img);
    memcpy(img, "vhdxfile", 8);
    put_file(vhdx_path, img, sizeof img);
    atexit(cleanup);
    p2v_log_quiet(1);
}

/* ---- a JSON syntax check (RFC 8259), strings as UTF-8 ---------------- */

static const char *j_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *j_value(const char *p, int depth);

static const char *j_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 5;
            } else if (*p && strchr("\"\\/bfnrt", *p)) {
                p++;
            } else {
                return NULL;
            }
            continue;
        }
        int n = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3
              : c >= 0xF0 && c < 0xF5 ? 4 : 0;
        if (!n)
            return NULL;
        for (int i = 1; i < n; i++)
            if (((unsigned char)p[i] & 0xC0) != 0x80)
                return NULL;
        p += n;
    }
}

static const char *j_number(const char *p)
{
    const char *s = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    return p > s ? p : NULL;  /* p2v writes integers only */
}

static const char *j_value(const char *p, int depth)
{
    if (depth > 32)
        return NULL;
    p = j_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = j_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if (!(p = j_string(j_ws(p))))
                    return NULL;
                p = j_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            if (!(p = j_value(p, depth + 1)))
                return NULL;
            p = j_ws(p);
            if (*p == close)
                return p + 1;
            if (*p++ != ',')
                return NULL;
        }
    }
    if (*p == '"')
        return j_string(p);
    if (!strncmp(p, "true", 4))
        return p + 4;
    if (!strncmp(p, "false", 5))
        return p + 5;
    if (!strncmp(p, "null", 4))
        return p + 4;
    return j_number(p);
}

static void check_json(const char *s, size_t len)
{
    CHECK(strlen(s) == len, "JSON output holds a NUL byte");
    const char *end = j_value(s, 0);
    CHECK(end && !*j_ws(end), "JSON output is not JSON near offset %ld:\n%s",
          end ? (long)(end - s) : -1L, s);
}

/* ---- what a loaded machine must look like ----------------------------- */

static void str_in(const char *s, size_t cap, const char *what)
{
    CHECK(strnlen(s, cap) < cap, "%s is not terminated", what);
}
#define STR(field) str_in(field, sizeof field, #field)

/* One of the schema's values; "" where the schema leaves it optional. */
static void one_of(const char *s, const char *what, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return;
    CHECK(0, "%s is '%s', which the schema does not allow", what, s);
}

static void check_fs(const struct p2v_m_fs *fs)
{
    static const char *const states[] = { "", "clean", "hibernated", "dirty", "unclean", NULL };
    STR(fs->type);
    STR(fs->label);
    STR(fs->uuid);
    STR(fs->state);
    one_of(fs->state, "filesystem state", states);
}

static void check_machine(const struct p2v_machine *m)
{
    static const char *const origins[] = { "running", "source", NULL };
    static const char *const firmwares[] = { "", "bios", "uefi", NULL };
    static const char *const families[] = { "windows", "linux", "unknown", NULL };
    static const char *const tables[] = { "dos", "gpt", "none", NULL };
    static const char *const kinds[] = { "service", "program", NULL };
    static const char *const inet[] = { "ipv4", "ipv6", NULL };
    STR(m->origin);
    STR(m->source);
    STR(m->hostname);
    STR(m->cpu.arch);
    STR(m->cpu.vendor);
    STR(m->cpu.model);
    STR(m->firmware);
    one_of(m->origin, "origin", origins);
    one_of(m->firmware, "firmware", firmwares);
    CHECK(m->acpi == P2V_UNKNOWN || m->acpi == P2V_YES || m->acpi == P2V_NO, "acpi %d", m->acpi);
    /* positiveInteger in the schema: never negative once read. */
    CHECK(m->cpu.count >= 0 && m->cpu.sockets >= 0 && m->cpu.cores >= 0 &&
          m->cpu.threads >= 0 && m->os.partition >= 0,
          "a count read back negative: cpu %d/%d/%d/%d, os partition %d", m->cpu.count,
          m->cpu.sockets, m->cpu.cores, m->cpu.threads, m->os.partition);
    STR(m->os.family);
    one_of(m->os.family, "os family", families);
    STR(m->os.name);
    STR(m->os.id);
    STR(m->os.version);
    STR(m->os.build);
    STR(m->os.arch);
    STR(m->os.edition);
    STR(m->os.installation_type);
    STR(m->os.kernel);
    STR(m->os.systemroot);
    CHECK(m->os.ndrivers >= 0 && m->os.ndrivers <= P2V_M_MAX_ITEMS, "ndrivers %d", m->os.ndrivers);
    CHECK(m->os.ntools >= 0 && m->os.ntools <= P2V_M_MAX_ITEMS, "ntools %d", m->os.ntools);
    CHECK(m->os.nmounts >= 0 && m->os.nmounts <= P2V_M_MAX_ITEMS, "nmounts %d", m->os.nmounts);
    for (int i = 0; i < m->os.ndrivers; i++)
        STR(m->os.driver[i].name);
    for (int i = 0; i < m->os.ntools; i++) {
        STR(m->os.tool[i].name);
        STR(m->os.tool[i].kind);
        one_of(m->os.tool[i].kind, "tool kind", kinds);
    }
    for (int i = 0; i < m->os.nmounts; i++) {
        STR(m->os.mount[i].spec);
        STR(m->os.mount[i].file);
        STR(m->os.mount[i].type);
        STR(m->os.mount[i].options);
    }
    CHECK(m->nnics >= 0 && m->nnics <= P2V_M_MAX_NICS, "nnics %d", m->nnics);
    for (int i = 0; i < m->nnics; i++) {
        const struct p2v_m_nic *n = &m->nic[i];
        STR(n->name);
        STR(n->mac);
        STR(n->driver);
        STR(n->gateway);
        STR(n->dns);
        CHECK(n->naddrs >= 0 && n->naddrs <= P2V_M_MAX_ADDRS, "naddrs %d", n->naddrs);
        for (int k = 0; k < n->naddrs; k++) {
            STR(n->addr[k].family);
            STR(n->addr[k].addr);
            one_of(n->addr[k].family, "address family", inet);
        }
    }
    CHECK(m->ndisks >= 0 && m->ndisks <= P2V_M_MAX_DISKS, "ndisks %d", m->ndisks);
    for (int i = 0; i < m->ndisks; i++) {
        const struct p2v_m_disk *d = &m->disk[i];
        STR(d->name);
        STR(d->path);
        STR(d->model);
        STR(d->serial);
        STR(d->table);
        STR(d->table_id);
        one_of(d->table, "partition table", tables);
        CHECK(d->logical_sector == 512 || d->logical_sector == 4096, "logical sector %u",
              d->logical_sector);
        check_fs(&d->whole);
        CHECK(d->nparts >= 0 && d->nparts <= P2V_M_MAX_PARTS, "nparts %d", d->nparts);
        for (int k = 0; k < d->nparts; k++) {
            const struct p2v_m_part *p = &d->part[k];
            CHECK(p->number > 0, "partition number %d (a positiveInteger)", p->number);
            STR(p->type);
            STR(p->name);
            STR(p->uuid);
            check_fs(&p->fs);
        }
        (void)p2v_disk_firmware(d);
    }
}

/* ---- the rules and the writers ----------------------------------------- */

static void check_rules(const struct p2v_machine *m)
{
    static const struct p2v_check_opts opts[] = {
        { .target = "virtio", .generation = 1, .format = &p2v_vhd_format },
        { .target = "qemu-sata", .generation = 1, .format = &p2v_vhdx_format },
        { .target = "qemu-ide", .generation = 1, .format = &p2v_vhd_format },
        { .target = "hyperv", .generation = 1, .format = &p2v_vhd_format },
        { .target = "hyperv", .generation = 2, .format = &p2v_vhdx_format },
        { .target = "hyperv", .generation = 2, .format = &p2v_vhd_format },
    };
    struct p2v_result res[P2V_MAX_RESULTS];
    for (enum p2v_image_kind k = P2V_IMAGE_AUTO; k <= P2V_IMAGE_VHDX; k++)
        if (!p2v_machine_format(m, k))
            abort();
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) {
        struct p2v_check_opts o = opts[i];
        if (i == 0) {
            /* As p2v check --config --dest: what the disks need, summed. */
            o.dest = dir;
            for (int k = 0; k < m->ndisks; k++)
                o.need_bytes += m->disk[k].size;
        }
        memset(res, 0x55, sizeof res);
        int n = p2v_check_rules(m, &o, res);
        CHECK(n > 0 && n <= P2V_MAX_RESULTS, "%d results", n);
        for (int k = 0; k < n; k++) {
            CHECK(res[k].id && res[k].id[0], "a result without an id");
            CHECK(res[k].status == P2V_PASS || res[k].status == P2V_FAIL ||
                  res[k].status == P2V_SKIP, "rule %s: status %d", res[k].id, res[k].status);
            CHECK(res[k].severity == P2V_BLOCKER || res[k].severity == P2V_WARNING,
                  "rule %s: severity %d", res[k].id, res[k].severity);
            STR(res[k].message);
            STR(res[k].remedy);
            CHECK(res[k].message[0], "rule %s says nothing", res[k].id);
            CHECK(res[k].status != P2V_FAIL || res[k].remedy[0], "rule %s fails without a remedy",
                  res[k].id);
        }
    }
}

static char *to_string(void (*write)(FILE *, const struct p2v_machine *),
                       const struct p2v_machine *m, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    CHECK(f, "open_memstream");
    write(f, m);
    CHECK(fclose(f) == 0, "fclose");
    return buf;
}

static void check_vms(const struct p2v_machine *m)
{
    static const struct {
        const char *format, *target, *image;
        void (*write)(FILE *, const struct p2v_vm *);
    } defs[] = {
        { "libvirt", "virtio", vhd_path, p2v_vm_libvirt },
        { "libvirt", "qemu-ide", vhd_path, p2v_vm_libvirt },
        { "qemu", "qemu-sata", vhdx_path, p2v_vm_qemu },
        { "hyperv", NULL, vhdx_path, p2v_vm_hyperv },
    };
    struct p2v_vm *vm = malloc(sizeof *vm);
    CHECK(vm, "malloc");
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++) {
        struct p2v_vm_opts o = { .format = defs[i].format, .target = defs[i].target,
                                 .out_dir = dir };
        if (p2v_vm_plan(m, defs[i].image, &o, vm) != 0)
            continue;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f, "open_memstream");
        defs[i].write(f, vm);
        CHECK(fclose(f) == 0, "fclose");
        CHECK(strlen(buf) == len, "%s definition holds a NUL byte", defs[i].format);
        if (defs[i].write == p2v_vm_libvirt) {
            xmlDocPtr doc = xmlReadMemory(buf, (int)len, "domain.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                                          XML_PARSE_NOWARNING);
            CHECK(doc, "the libvirt domain is not well-formed XML:\n%s", buf);
            xmlFreeDoc(doc);
        }
        free(buf);
    }
    free(vm);
}

static void machine_xml(FILE *f, const struct p2v_machine *m) { p2v_machine_xml(f, m); }
static void machine_json(FILE *f, const struct p2v_machine *m) { p2v_machine_json(f, m); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    if (size > 1 << 20)
        return 0;
    put_file(in_path, data, size);
    /* 1.5 MB each: static, since a fresh mapping per input costs more than
     * the rest; p2v_machine_load clears them first, so nothing carries
     * over from one input to the next. */
    static struct p2v_machine m_store, back_store;
    struct p2v_machine *m = &m_store, *back = &back_store;
    if (p2v_machine_load(in_path, m) == 0) {
        check_machine(m);
        check_rules(m);
        size_t xlen, jlen;
        char *xml = to_string(machine_xml, m, &xlen);
        char *json = to_string(machine_json, m, &jlen);
        check_json(json, jlen);
        check_vms(m);
        /* What p2v writes, p2v reads back: the same facts, the same bytes. */
        CHECK(strlen(xml) == xlen, "XML output holds a NUL byte");
        put_file(back_path, xml, xlen);
        int loads = p2v_machine_load(back_path, back) == 0;
        CHECK(loads, "the XML written from a loaded configuration does not load:\n%s", xml);
        if (loads) {
            check_machine(back);
            size_t x2len, j2len;
            char *xml2 = to_string(machine_xml, back, &x2len);
            char *json2 = to_string(machine_json, back, &j2len);
            CHECK(xlen == x2len && !memcmp(xml, xml2, xlen),
                  "the XML changes when read back:\n%s\n-- read back and written again --\n%s",
                  xml, xml2);
            /* Not the same JSON: XML has no control characters, and shows
             * bytes that are not UTF-8 (a value cut to its field) as '?'. */
            check_json(json2, j2len);
            free(xml2);
            free(json2);
        }
        free(xml);
        free(json);
    }
    return 0;
}
