/* Network configuration of a Linux guest, read from the text of its files:
 * ifupdown (/etc/network/interfaces), NetworkManager keyfiles, netplan,
 * ifcfg (RHEL, SUSE), systemd-networkd .network files, and what pins an
 * interface name to a MAC (udev rules, systemd .link files).  Pure
 * functions over text; the caller reads the files. */
#ifndef P2V_LINUX_NET_H
#define P2V_LINUX_NET_H

#include <stddef.h>

struct p2v_lnet {
    char kind[16];          /* ifupdown, networkmanager, netplan, ifcfg, networkd, udev, link */
    char name[64];          /* the interface name it configures or sets; "" none */
    char mac[18];           /* the MAC it matches or pins, lower case; "" none */
    int dhcp;               /* 1 DHCP, 0 static, -1 not an address setting (a pin) */
    char addr[48];          /* the first static address, without its prefix */
    int prefix;             /* -1 unknown */
    char gateway[48];
    int line;               /* where in the file it starts (1-based) */
};

/* Each returns how many entries it wrote to out (at most max), or -1 when
 * the text is not what the parser reads.  file is only used to name the
 * interface where the format does (ifcfg-NAME, NAME.nmconnection). */
int p2v_lnet_ifupdown(const char *text, struct p2v_lnet *out, int max);
int p2v_lnet_nm_keyfile(const char *text, const char *file, struct p2v_lnet *out, int max);
int p2v_lnet_netplan(const char *text, struct p2v_lnet *out, int max);
int p2v_lnet_ifcfg(const char *text, const char *file, struct p2v_lnet *out, int max);
int p2v_lnet_networkd(const char *text, struct p2v_lnet *out, int max);
int p2v_lnet_link(const char *text, struct p2v_lnet *out, int max);
int p2v_lnet_udev(const char *text, struct p2v_lnet *out, int max);

/* 1 if name is a name the kernel or udev gives to real hardware and that
 * a new machine's NIC would not have (enp3s0, eno1, eth0 pinned ...): any
 * name but lo and virtual devices (br*, bond*, vlan, wg*, tun*, docker*). */
int p2v_lnet_hardware_name(const char *name);

#endif
