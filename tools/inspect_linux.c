/* `p2v inspect` of a Linux guest: the facts of its inventory that decide
 * whether it boots as a VM (kernels and their initramfs, boot loader,
 * device references, network, other hypervisors' tools). */
#include "info.h"

#include "core/json.h"
#include "machine/machine.h"

#include <stdio.h>
#include <string.h>

/* Guest strings reach a terminal: control characters are shown as '?'. */
static const char *p2v_safe(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = 0;
    return buf;
}

void inspect_linux_json(const struct p2v_machine *m)
{
    struct p2v_json j;
    p2v_json_init(&j, stdout);
    p2v_json_object(&j, NULL);
    p2v_json_str(&j, "os", "linux");
    p2v_json_int(&j, "partition", m->os.partition);
    p2v_json_str(&j, "product_name", m->os.name);
    p2v_json_str(&j, "distro", m->os.id);
    p2v_json_str(&j, "version", m->os.version);
    p2v_json_str(&j, "arch", m->os.arch);
    p2v_json_str(&j, "hostname", m->hostname);
    p2v_json_str(&j, "bootloader", m->os.bootloader);
    p2v_json_str(&j, "bootloader_config", m->os.bootloader_config);
    p2v_json_array(&j, "kernels");
    for (int i = 0; i < m->os.nkernels; i++) {
        const struct p2v_m_kernel *k = &m->os.kernels[i];
        p2v_json_object(&j, NULL);
        p2v_json_str(&j, "version", k->version);
        p2v_json_str(&j, "initramfs", k->initramfs);
        p2v_json_str(&j, "state", k->state);
        p2v_json_str(&j, "generator", k->generator);
        p2v_json_str(&j, "initramfs_drivers", k->drivers);
        p2v_json_str(&j, "builtin", k->builtin);
        p2v_json_end(&j);
    }
    p2v_json_end(&j);
    p2v_json_array(&j, "device_references");
    for (int i = 0; i < m->os.nrefs; i++) {
        p2v_json_object(&j, NULL);
        p2v_json_str(&j, "where", m->os.ref[i].where);
        p2v_json_str(&j, "file", m->os.ref[i].file);
        p2v_json_str(&j, "device", m->os.ref[i].device);
        p2v_json_end(&j);
    }
    p2v_json_end(&j);
    p2v_json_array(&j, "network");
    for (int i = 0; i < m->nnics; i++) {
        const struct p2v_m_nic *n = &m->nic[i];
        p2v_json_object(&j, NULL);
        p2v_json_str(&j, "name", n->name);
        p2v_json_str(&j, "mac", n->mac);
        p2v_json_str(&j, "config", n->config);
        p2v_json_str(&j, "config_kind", n->config_kind);
        p2v_json_str(&j, "dhcp", n->dhcp == P2V_UNKNOWN ? "" : p2v_tristate_name(n->dhcp));
        p2v_json_str(&j, "address", n->naddrs ? n->addr[0].addr : "");
        p2v_json_str(&j, "gateway", n->gateway);
        p2v_json_str(&j, "pin", n->pin);
        p2v_json_end(&j);
    }
    p2v_json_end(&j);
    p2v_json_array(&j, "vendor_tools");
    for (int i = 0; i < m->os.ntools; i++)
        p2v_json_str(&j, NULL, m->os.tool[i].name);
    p2v_json_end(&j);
    p2v_json_finish(&j);
}

void inspect_linux_text(const struct p2v_machine *m)
{
    char buf[512];
    printf("operating system:  %s\n", p2v_safe(m->os.name[0] ? m->os.name : "Linux", buf, sizeof buf));
    printf("architecture:      %s\n", m->os.arch[0] ? m->os.arch : "-");
    printf("hostname:          %s\n", m->hostname[0] ? p2v_safe(m->hostname, buf, sizeof buf) : "-");
    printf("root:              partition %d\n", m->os.partition);
    printf("boot loader:       %s%s%s\n", m->os.bootloader[0] ? m->os.bootloader : "-",
           m->os.bootloader_config[0] ? ", " : "", m->os.bootloader_config);
    for (int i = 0; i < m->os.nkernels; i++) {
        const struct p2v_m_kernel *k = &m->os.kernels[i];
        printf("kernel:            %s, initramfs %s%s%s%s, storage drivers in it: %s%s%s\n",
               p2v_safe(k->version, buf, sizeof buf), k->initramfs[0] ? k->initramfs : "-",
               k->generator[0] ? " (" : "", k->generator, k->generator[0] ? ")" : "",
               k->drivers[0] ? k->drivers : "none", k->builtin[0] ? "; built in: " : "",
               k->builtin);
    }
    for (int i = 0; i < m->os.nrefs; i++)
        printf("device reference:  %s %s in %s\n", m->os.ref[i].where,
               p2v_safe(m->os.ref[i].device, buf, sizeof buf), m->os.ref[i].file);
    for (int i = 0; i < m->nnics; i++) {
        const struct p2v_m_nic *n = &m->nic[i];
        printf("network:           %s%s%s %s%s%s%s%s\n", p2v_safe(n->name, buf, sizeof buf),
               n->mac[0] ? " " : "", n->mac,
               n->dhcp == P2V_YES ? "dhcp" : n->naddrs ? n->addr[0].addr : "-",
               n->config[0] ? " (" : "", n->config, n->config[0] ? ")" : "",
               n->pin[0] ? ", name pinned to its MAC" : "");
    }
    for (int i = 0; i < m->os.ntools; i++)
        printf("vendor tools:      %s\n", p2v_safe(m->os.tool[i].name, buf, sizeof buf));
}
