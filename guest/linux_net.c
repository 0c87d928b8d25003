/* Linux network configuration parsers (linux_net.h).  Each reads only what
 * decides whether the VM's NIC comes up with the source's settings: the
 * interface name, the MAC it is bound to, DHCP or the first static
 * address with its gateway.  Formats: ifupdown's interfaces(5),
 * NetworkManager's nm-settings-keyfile(5), netplan's YAML (the subset its
 * generator documents for ethernets), ifcfg's shell variables,
 * systemd.network(5) and systemd.link(5), udev rules writing NAME=. */
#include "guest/linux_net.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOR_LINES(l, text, n)                                                                     \
    for (const char *l = (text); l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL, (n)++)

static void copyn(char *dst, size_t len, const char *src, size_t n)
{
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* The line at l without its newline and surrounding blanks. */
static void line_of(const char *l, char *out, size_t len)
{
    l += strspn(l, " \t");
    size_t n = strcspn(l, "\r\n");
    while (n && isspace((unsigned char)l[n - 1]))
        n--;
    copyn(out, len, l, n);
}

static void lower_mac(char *mac)
{
    for (; *mac; mac++)
        *mac = (char)tolower((unsigned char)*mac);
}

/* "10.0.2.15/24" into addr and prefix. */
static void put_addr(struct p2v_lnet *e, const char *v)
{
    size_t n = strcspn(v, "/ \t,\"'];");
    copyn(e->addr, sizeof e->addr, v, n);
    if (v[n] == '/')
        e->prefix = atoi(v + n + 1);
}

/* An entry that says nothing yet. */
static void blank(struct p2v_lnet *e)
{
    memset(e, 0, sizeof *e);
    e->dhcp = -1;
    e->prefix = -1;
}

static struct p2v_lnet *new_entry(struct p2v_lnet *out, int *n, int max, const char *kind,
                                  int line)
{
    if (*n >= max)
        return NULL;
    struct p2v_lnet *e = &out[(*n)++];
    blank(e);
    copyn(e->kind, sizeof e->kind, kind, strlen(kind));
    e->line = line;
    return e;
}

static const char *after_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(s, w, n) || (s[n] && !isspace((unsigned char)s[n])))
        return NULL;
    return s + n + strspn(s + n, " \t");
}

int p2v_lnet_ifupdown(const char *text, struct p2v_lnet *out, int max)
{
    int n = 0, ln = 1;
    struct p2v_lnet *cur = NULL;
    char l[512];
    FOR_LINES(p, text, ln) {
        line_of(p, l, sizeof l);
        const char *v;
        if (!l[0] || l[0] == '#')
            continue;
        if ((v = after_word(l, "iface"))) {
            char name[64], fam[16], method[16];
            cur = NULL;
            if (sscanf(v, "%63s %15s %15s", name, fam, method) != 3 || !strcmp(name, "lo") ||
                (strcmp(fam, "inet") && strcmp(fam, "inet6")))
                continue;
            if (!strcmp(method, "static") || !strcmp(method, "dhcp")) {
                /* one entry per interface: a second stanza (inet6) adds to it */
                for (int i = 0; i < n && !cur; i++)
                    if (!strcmp(out[i].name, name))
                        cur = &out[i];
                if (!cur && (cur = new_entry(out, &n, max, "ifupdown", ln)))
                    copyn(cur->name, sizeof cur->name, name, strlen(name));
                if (cur && (cur->dhcp == -1 || !strcmp(method, "static")))
                    cur->dhcp = !strcmp(method, "dhcp") && cur->dhcp != 0;
            }
        } else if (!strncmp(l, "auto", 4) || !strncmp(l, "allow-", 6) ||
                   !strncmp(l, "source", 6) || !strncmp(l, "mapping", 7)) {
            cur = NULL;
        } else if (cur && (v = after_word(l, "address")) && !cur->addr[0]) {
            put_addr(cur, v);
        } else if (cur && (v = after_word(l, "netmask")) && cur->prefix < 0) {
            unsigned a, b, c, d;
            if (sscanf(v, "%u.%u.%u.%u", &a, &b, &c, &d) == 4)
                cur->prefix = __builtin_popcount((a << 24 | b << 16 | c << 8 | d) & 0xffffffffu);
        } else if (cur && (v = after_word(l, "gateway")) && !cur->gateway[0]) {
            copyn(cur->gateway, sizeof cur->gateway, v, strcspn(v, " \t"));
        } else if (cur && (v = after_word(l, "hwaddress"))) {
            const char *m = after_word(v, "ether");
            m = m ? m : v;
            copyn(cur->mac, sizeof cur->mac, m, strcspn(m, " \t"));
            lower_mac(cur->mac);
        }
    }
    return n;
}

/* "key=value" of an ini-style line into key and value. */
static int ini_pair(const char *l, char *key, size_t klen, const char **val)
{
    const char *eq = strchr(l, '=');
    if (!eq || l[0] == '#' || l[0] == ';' || l[0] == '[')
        return 0;
    size_t n = (size_t)(eq - l);
    while (n && isspace((unsigned char)l[n - 1]))
        n--;
    copyn(key, klen, l, n);
    *val = eq + 1 + strspn(eq + 1, " \t");
    return 1;
}

static const char *base_of(const char *file)
{
    const char *b = strrchr(file, '/');
    return b ? b + 1 : file;
}

/* The next line of an ini-style file (NetworkManager, systemd): a
 * [section] line updates sect; 1 when it is a key=value line. */
static int ini_next(const char *p, char *l, size_t ll, char *sect, size_t sl, char *key,
                    size_t kl, const char **v)
{
    line_of(p, l, ll);
    if (l[0] == '[') {
        copyn(sect, sl, l + 1, strcspn(l + 1, "]"));
        return 0;
    }
    return ini_pair(l, key, kl, v);
}

/* e, collected over a whole file, as the file's one entry (line 1). */
static int emit(struct p2v_lnet *out, int *n, int max, const char *kind, struct p2v_lnet *e)
{
    struct p2v_lnet *o = new_entry(out, n, max, kind, 1);
    if (o) {
        memcpy(e->kind, o->kind, sizeof e->kind);
        e->line = 1;
        *o = *e;
    }
    return *n;
}

int p2v_lnet_nm_keyfile(const char *text, const char *file, struct p2v_lnet *out, int max)
{
    int n = 0, ln = 1, ethernet = 0;
    char l[512], sect[32] = "", key[64];
    struct p2v_lnet e;
    blank(&e);
    FOR_LINES(p, text, ln) {
        const char *v;
        if (!ini_next(p, l, sizeof l, sect, sizeof sect, key, sizeof key, &v))
            continue;
        if (!strcmp(sect, "connection") && !strcmp(key, "interface-name"))
            copyn(e.name, sizeof e.name, v, strcspn(v, " \t"));
        else if (!strcmp(sect, "connection") && !strcmp(key, "type"))
            ethernet = !strcmp(v, "ethernet") || !strcmp(v, "802-3-ethernet");
        else if ((!strcmp(sect, "ethernet") || !strcmp(sect, "802-3-ethernet")) &&
                 !strcmp(key, "mac-address")) {
            copyn(e.mac, sizeof e.mac, v, strcspn(v, " \t;"));
            lower_mac(e.mac);
        } else if (!strcmp(sect, "ipv4") && !strcmp(key, "method"))
            e.dhcp = !strcmp(v, "auto") ? 1 : !strcmp(v, "manual") ? 0 : e.dhcp;
        else if (!strcmp(sect, "ipv4") && !strncmp(key, "address", 7) && !e.addr[0]) {
            put_addr(&e, v);
            const char *gw = strchr(v, ',');  /* address1=ADDR/PREFIX,GATEWAY */
            if (gw)
                copyn(e.gateway, sizeof e.gateway, gw + 1, strcspn(gw + 1, " \t;"));
        } else if (!strcmp(sect, "ipv4") && !strcmp(key, "gateway"))
            copyn(e.gateway, sizeof e.gateway, v, strcspn(v, " \t;"));
    }
    if (!ethernet)
        return 0;
    (void)file;  /* the file's name is the connection's id, not an interface's */
    return emit(out, &n, max, "networkmanager", &e);
}

static int indent_of(const char *l) { return (int)strspn(l, " "); }

int p2v_lnet_netplan(const char *text, struct p2v_lnet *out, int max)
{
    int n = 0, ln = 1, eth_indent = -1, if_indent = -1, in_addrs = -1;
    struct p2v_lnet *cur = NULL;
    char l[512];
    FOR_LINES(p, text, ln) {
        line_of(p, l, sizeof l);
        int ind = indent_of(p);
        if (!l[0] || l[0] == '#')
            continue;
        if (eth_indent >= 0 && ind <= eth_indent)
            eth_indent = if_indent = -1, cur = NULL;
        if (!strcmp(l, "ethernets:")) {
            eth_indent = ind;
            continue;
        }
        if (eth_indent < 0)
            continue;
        if (if_indent < 0 || ind <= if_indent) {
            /* an interface's key (its name, or an id matched by MAC) */
            if_indent = ind;
            in_addrs = -1;
            cur = new_entry(out, &n, max, "netplan", ln);
            if (cur)
                copyn(cur->name, sizeof cur->name, l, strcspn(l, ":"));
            continue;
        }
        if (!cur)
            continue;
        if (in_addrs >= 0 && ind > in_addrs && l[0] == '-') {
            if (!cur->addr[0])
                put_addr(cur, l + 1 + strspn(l + 1, " \t\"'"));
            continue;
        }
        in_addrs = -1;
        const char *v = strchr(l, ':');
        if (!v)
            continue;
        v++;
        v += strspn(v, " \t\"'");
        if (!strncmp(l, "dhcp4:", 6))
            cur->dhcp = !strncmp(v, "true", 4) || !strncmp(v, "yes", 3) ? 1 : cur->dhcp;
        else if (!strncmp(l, "addresses:", 10)) {
            if (cur->dhcp != 1)
                cur->dhcp = 0;
            if (*v == '[') {
                v++;
                v += strspn(v, " \t\"'");
                if (!cur->addr[0] && *v && *v != ']')
                    put_addr(cur, v);
            } else
                in_addrs = ind;
        } else if (!strncmp(l, "gateway4:", 9) || !strncmp(l, "via:", 4)) {
            if (!cur->gateway[0])
                copyn(cur->gateway, sizeof cur->gateway, v, strcspn(v, " \t\"'"));
        } else if (!strncmp(l, "macaddress:", 11)) {
            copyn(cur->mac, sizeof cur->mac, v, strcspn(v, " \t\"'"));
            lower_mac(cur->mac);
        } else if (!strncmp(l, "set-name:", 9))
            copyn(cur->name, sizeof cur->name, v, strcspn(v, " \t\"'"));
        else if (!strncmp(l, "name:", 5) && cur->mac[0] == 0)
            copyn(cur->name, sizeof cur->name, v, strcspn(v, " \t\"'"));
    }
    return n;
}

/* An ifcfg value without its shell quotes. */
static void shell_value(const char *v, char *out, size_t len)
{
    char q = (*v == '"' || *v == '\'') ? *v++ : 0;
    copyn(out, len, v, q ? strcspn(v, q == '"' ? "\"" : "'") : strcspn(v, " \t#"));
}

int p2v_lnet_ifcfg(const char *text, const char *file, struct p2v_lnet *out, int max)
{
    int n = 0, ln = 1;
    char l[512], key[64], val[128], netmask[32] = "";
    struct p2v_lnet e;
    blank(&e);
    const char *b = base_of(file ? file : "");
    if (!strncmp(b, "ifcfg-", 6))
        copyn(e.name, sizeof e.name, b + 6, strlen(b + 6));
    if (!strcmp(e.name, "lo"))
        return 0;
    FOR_LINES(p, text, ln) {
        const char *v;
        line_of(p, l, sizeof l);
        if (!ini_pair(l, key, sizeof key, &v))
            continue;
        shell_value(v, val, sizeof val);
        if (!strcmp(key, "DEVICE") || (!strcmp(key, "NAME") && !e.name[0]))
            copyn(e.name, sizeof e.name, val, strlen(val));
        else if (!strcmp(key, "HWADDR") || !strcmp(key, "LLADDR")) {
            copyn(e.mac, sizeof e.mac, val, strlen(val));
            lower_mac(e.mac);
        } else if (!strcmp(key, "BOOTPROTO"))
            e.dhcp = !strcasecmp(val, "dhcp") ? 1 : (!strcasecmp(val, "static") ||
                                                     !strcasecmp(val, "none")) ? 0 : e.dhcp;
        else if ((!strcmp(key, "IPADDR") || !strcmp(key, "IPADDR0")) && !e.addr[0])
            put_addr(&e, val);
        else if (!strcmp(key, "PREFIX") || !strcmp(key, "PREFIX0"))
            e.prefix = atoi(val);
        else if (!strcmp(key, "NETMASK"))
            copyn(netmask, sizeof netmask, val, strlen(val));
        else if (!strcmp(key, "GATEWAY"))
            copyn(e.gateway, sizeof e.gateway, val, strlen(val));
    }
    unsigned a, c, d, f;
    if (e.prefix < 0 && sscanf(netmask, "%u.%u.%u.%u", &a, &c, &d, &f) == 4)
        e.prefix = __builtin_popcount((a << 24 | c << 16 | d << 8 | f) & 0xffffffffu);
    if (e.addr[0] && e.dhcp < 0)
        e.dhcp = 0;
    return emit(out, &n, max, "ifcfg", &e);
}

/* systemd's ini files: .network (Match Name/MACAddress, Network DHCP/
 * Address/Gateway) and .link (Match MACAddress, Link Name). */
static int systemd_unit(const char *text, const char *kind, int link, struct p2v_lnet *out,
                        int max)
{
    int n = 0, ln = 1;
    char l[512], sect[32] = "", key[64];
    struct p2v_lnet e;
    blank(&e);
    FOR_LINES(p, text, ln) {
        const char *v;
        if (!ini_next(p, l, sizeof l, sect, sizeof sect, key, sizeof key, &v))
            continue;
        if (!strcmp(sect, "Match") && !strcmp(key, "Name") && !link)
            copyn(e.name, sizeof e.name, v, strcspn(v, " \t"));
        else if (!strcmp(sect, "Match") && (!strcmp(key, "MACAddress") ||
                                            !strcmp(key, "PermanentMACAddress"))) {
            copyn(e.mac, sizeof e.mac, v, strcspn(v, " \t"));
            lower_mac(e.mac);
        } else if (!strcmp(sect, "Link") && !strcmp(key, "Name") && link)
            copyn(e.name, sizeof e.name, v, strcspn(v, " \t"));
        else if (!strcmp(sect, "Network") && !strcmp(key, "DHCP"))
            e.dhcp = !strcmp(v, "yes") || !strcmp(v, "ipv4") || !strcmp(v, "true") ? 1 : e.dhcp;
        else if ((!strcmp(sect, "Network") || !strcmp(sect, "Address")) &&
                 !strcmp(key, "Address") && !e.addr[0]) {
            put_addr(&e, v);
            if (e.dhcp < 0)
                e.dhcp = 0;
        } else if ((!strcmp(sect, "Network") || !strcmp(sect, "Route")) &&
                   !strcmp(key, "Gateway") && !e.gateway[0])
            copyn(e.gateway, sizeof e.gateway, v, strcspn(v, " \t"));
    }
    if (link && (!e.name[0] || !e.mac[0]))
        return 0;  /* a .link that names nothing by MAC pins nothing */
    return emit(out, &n, max, kind, &e);
}

int p2v_lnet_networkd(const char *text, struct p2v_lnet *out, int max)
{
    return systemd_unit(text, "networkd", 0, out, max);
}

int p2v_lnet_link(const char *text, struct p2v_lnet *out, int max)
{
    return systemd_unit(text, "link", 1, out, max);
}

/* The value of KEY=="v" or KEY="v" in a udev rule line. */
static int udev_value(const char *l, const char *key, char *out, size_t len)
{
    for (const char *p = strstr(l, key); p; p = strstr(p + 1, key)) {
        if (p > l && (isalnum((unsigned char)p[-1]) || p[-1] == '{'))
            continue;
        const char *q = p + strlen(key);
        q += strspn(q, " \t");
        if (*q == '=' && q[1] == '=')
            q += 2;
        else if (*q == '=' || (*q == ':' && q[1] == '='))
            q += *q == ':' ? 2 : 1;
        else
            continue;
        q += strspn(q, " \t");
        if (*q != '"')
            continue;
        copyn(out, len, q + 1, strcspn(q + 1, "\""));
        return 1;
    }
    return 0;
}

int p2v_lnet_udev(const char *text, struct p2v_lnet *out, int max)
{
    int n = 0, ln = 1;
    char l[1024], name[64], mac[32];
    FOR_LINES(p, text, ln) {
        line_of(p, l, sizeof l);
        if (!l[0] || l[0] == '#' || !strstr(l, "net"))
            continue;
        if (!udev_value(l, "ATTR{address}", mac, sizeof mac) || !udev_value(l, "NAME", name, sizeof name))
            continue;
        struct p2v_lnet *e = new_entry(out, &n, max, "udev", ln);
        if (!e)
            break;
        copyn(e->name, sizeof e->name, name, strlen(name));
        copyn(e->mac, sizeof e->mac, mac, strlen(mac));
        lower_mac(e->mac);
    }
    return n;
}

int p2v_lnet_hardware_name(const char *name)
{
    static const char *const virt[] = { "lo", "br", "bond", "team", "vlan", "virbr", "docker",
                                        "veth", "tun", "tap", "wg", "vnet", "dummy", NULL };
    if (!name[0] || strchr(name, '*') || strchr(name, '?'))
        return 0;  /* a pattern matches whatever the VM has */
    for (int i = 0; virt[i]; i++)
        if (!strncmp(name, virt[i], strlen(virt[i])))
            return 0;
    return 1;
}
