/* A Linux guest's network configuration (inventory, through linux_guest.h):
 * ifupdown, NetworkManager keyfiles, netplan, ifcfg and systemd-networkd
 * (parsed by guest/linux_net.c), and the udev rules and .link files that
 * pin an interface's name to a MAC. */
#define _GNU_SOURCE
#include "linux_guest.h"

#include "guest/hive.h"
#include "guest/linux_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG (1u << 20)

static int cmp_name(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* ---- network ------------------------------------------------------- */

typedef int (*net_parser)(const char *text, const char *file, struct p2v_lnet *out, int max);

static int p_ifupdown(const char *t, const char *f, struct p2v_lnet *o, int max)
{
    (void)f;
    return p2v_lnet_ifupdown(t, o, max);
}
static int p_netplan(const char *t, const char *f, struct p2v_lnet *o, int max)
{
    (void)f;
    return p2v_lnet_netplan(t, o, max);
}
static int p_networkd(const char *t, const char *f, struct p2v_lnet *o, int max)
{
    (void)f;
    size_t n = strlen(f);
    if (n > 5 && !strcmp(f + n - 5, ".link"))
        return p2v_lnet_link(t, o, max);
    return n > 8 && !strcmp(f + n - 8, ".network") ? p2v_lnet_networkd(t, o, max) : 0;
}
static int p_udev(const char *t, const char *f, struct p2v_lnet *o, int max)
{
    size_t n = strlen(f);
    return n > 6 && !strcmp(f + n - 6, ".rules") ? p2v_lnet_udev(t, o, max) : 0;
}
static int p_ifcfg(const char *t, const char *f, struct p2v_lnet *o, int max)
{
    const char *b = strrchr(f, '/');
    return !strncmp(b ? b + 1 : f, "ifcfg-", 6) ? p2v_lnet_ifcfg(t, f, o, max) : 0;
}

static void add_net(struct p2v_machine *m, const struct p2v_lnet *e, const char *file)
{
    struct p2v_m_nic *nic = NULL;
    for (int i = 0; i < m->nnics && !nic; i++)
        if ((e->name[0] && !strcmp(m->nic[i].name, e->name)) ||
            (!e->name[0] && e->mac[0] && !strcmp(m->nic[i].mac, e->mac)))
            nic = &m->nic[i];
    if (!nic) {
        if (m->nnics >= P2V_M_MAX_NICS)
            return;
        nic = &m->nic[m->nnics++];
        memset(nic, 0, sizeof *nic);
        p2v_m_copy(nic->name, sizeof nic->name, e->name[0] ? e->name : e->mac);
    }
    if (e->mac[0] && !nic->mac[0])
        p2v_m_copy(nic->mac, sizeof nic->mac, e->mac);
    if (e->dhcp < 0) {  /* a pin: a name bound to a MAC */
        p2v_m_copy(nic->pin, sizeof nic->pin, file);
        return;
    }
    p2v_m_copy(nic->config, sizeof nic->config, file);
    p2v_m_copy(nic->config_kind, sizeof nic->config_kind, e->kind);
    nic->dhcp = e->dhcp ? P2V_YES : P2V_NO;
    if (e->addr[0] && !nic->naddrs) {
        struct p2v_m_addr *a = &nic->addr[nic->naddrs++];
        p2v_m_copy(a->family, sizeof a->family, strchr(e->addr, ':') ? "ipv6" : "ipv4");
        p2v_m_copy(a->addr, sizeof a->addr, e->addr);
        a->prefix = e->prefix;
    }
    if (e->gateway[0])
        p2v_m_copy(nic->gateway, sizeof nic->gateway, e->gateway);
}

static void net_file(struct guest *g, struct p2v_machine *m, const char *file, net_parser p)
{
    char *text;
    size_t len;
    if (p2v_lg_read(g, file, MAX_CONFIG, &text, &len) < 0)
        return;
    struct p2v_lnet e[16];
    int n = p(text, file, e, 16);
    free(text);
    for (int i = 0; i < n; i++)
        add_net(m, &e[i], file);
}

static void net_dir(struct guest *g, struct p2v_machine *m, const char *dir, net_parser p)
{
    char **v;
    size_t n;
    if (p2v_lg_list(g, dir, &v, &n) < 0)
        return;
    qsort(v, n, sizeof *v, cmp_name);
    for (size_t i = 0; i < n; i++) {  /* in name order, as the tools read them */
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, v[i]);
        net_file(g, m, path, p);
    }
    p2v_strv_free(v, n);
}

static int p_nm(const char *t, const char *f, struct p2v_lnet *o, int max)
{
    return p2v_lnet_nm_keyfile(t, f, o, max);
}

void p2v_lg_read_network(struct guest *g, struct p2v_machine *m)
{
    net_file(g, m, "/etc/network/interfaces", p_ifupdown);
    net_dir(g, m, "/etc/network/interfaces.d", p_ifupdown);
    net_dir(g, m, "/etc/NetworkManager/system-connections", p_nm);
    net_dir(g, m, "/etc/netplan", p_netplan);
    net_dir(g, m, "/etc/sysconfig/network-scripts", p_ifcfg);
    net_dir(g, m, "/etc/sysconfig/network", p_ifcfg);
    net_dir(g, m, "/etc/systemd/network", p_networkd);
    net_dir(g, m, "/etc/udev/rules.d", p_udev);
}

