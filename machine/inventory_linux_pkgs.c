/* A Linux guest's packages that matter to a conversion (inventory, through
 * linux_guest.h): other hypervisors' tools, from dpkg's status or their
 * vendors' installers; and the targets' own guest agents, installed or with
 * their package files on the disk (apt's or dnf's cache), so the fix-up
 * can install them without a network. */
#define _GNU_SOURCE
#include "linux_guest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/dpkg_status.h"
#include "guest/hive.h"

/* ---- other hypervisors' tools ------------------------------------- */

static const char *const vendor_packages[] = {
    "open-vm-tools", "open-vm-tools-desktop", "open-vm-tools-sdmp", "virtualbox-guest-utils",
    "virtualbox-guest-x11", "virtualbox-guest-dkms", "xe-guest-utilities", "xe-guest-agent",
    "hyperv-daemons", NULL
};

/* The targets' agents: qemu-guest-agent for QEMU/KVM, hyperv-daemons for
 * Hyper-V (hyperv-daemons is also another hypervisor's tool elsewhere). */
static const char *const agents[] = { "qemu-guest-agent", "hyperv-daemons", NULL };

/* A package file of name in dir: "NAME_VERSION_ARCH.deb" or
 * "NAME-VERSION-RELEASE.ARCH.rpm". */
static int package_file_in(struct guest *g, const char *dir, const char *name)
{
    char **v;
    size_t n;
    if (p2v_lg_list(g, dir, &v, &n) < 0)
        return 0;
    size_t k = strlen(name);
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        size_t l = strlen(v[i]);
        found = !strncmp(v[i], name, k) &&
                ((v[i][k] == '_' && l > 4 && !strcmp(v[i] + l - 4, ".deb")) ||
                 (v[i][k] == '-' && v[i][k + 1] >= '0' && v[i][k + 1] <= '9' && l > 4 &&
                  !strcmp(v[i] + l - 4, ".rpm")));
    }
    p2v_strv_free(v, n);
    return found;
}

static void read_agents(struct guest *g, struct p2v_machine *m, const char *dpkg)
{
    char **repos = NULL;
    size_t nrepos = 0;
    if (p2v_lg_list(g, "/var/cache/dnf", &repos, &nrepos) < 0)
        nrepos = 0;
    for (int i = 0; agents[i]; i++) {
        if (p2v_dpkg_installed(dpkg, agents[i])) {
            p2v_lg_list_add(m->os.agents_installed, sizeof m->os.agents_installed, agents[i]);
            continue;
        }
        int on_disk = package_file_in(g, "/var/cache/apt/archives", agents[i]);
        for (size_t k = 0; k < nrepos && !on_disk; k++) {
            char dir[300];
            snprintf(dir, sizeof dir, "/var/cache/dnf/%s/packages", repos[k]);
            on_disk = package_file_in(g, dir, agents[i]);
        }
        if (on_disk)
            p2v_lg_list_add(m->os.agents_on_disk, sizeof m->os.agents_on_disk, agents[i]);
    }
    p2v_strv_free(repos, nrepos);
}

static void add_tool(struct p2v_machine *m, const char *name, const char *kind,
                     const char *uninstall)
{
    for (int i = 0; i < m->os.ntools; i++)
        if (!strcmp(m->os.tool[i].name, name))
            return;
    if (m->os.ntools >= P2V_M_MAX_ITEMS)
        return;
    struct p2v_m_tool *t = &m->os.tool[m->os.ntools++];
    p2v_m_copy(t->name, sizeof t->name, name);
    p2v_m_copy(t->kind, sizeof t->kind, kind);
    t->start = -1;
    p2v_m_copy(t->uninstall, sizeof t->uninstall, uninstall);
}

void p2v_lg_read_packages(struct guest *g, struct p2v_machine *m)
{
    char *text;
    size_t len;
    if (p2v_lg_read(g, "/var/lib/dpkg/status", 256u << 20, &text, &len) < 0)
        text = NULL;
    for (int i = 0; text && vendor_packages[i]; i++)
        if (p2v_dpkg_installed(text, vendor_packages[i]))
            add_tool(m, vendor_packages[i], "package", "unattended");
    read_agents(g, m, text);
    free(text);
    /* Installed from the vendor's own installer, not a package. */
    static const struct { const char *path, *name; } files[] = {
        { "/usr/bin/vmware-uninstall-tools.pl", "VMware Tools" },
        { "/etc/init.d/vboxadd", "VirtualBox Guest Additions" },
        { "/usr/sbin/xe-daemon", "XenServer guest agent" },
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (p2v_lg_read(g, files[i].path, 16 << 20, &text, &len) == 0) {
            free(text);
            add_tool(m, files[i].name, "program", "manual");
        }
}

