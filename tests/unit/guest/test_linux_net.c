/* Linux network configuration, each format as its own documentation shows
 * it: the interface name, the MAC it is bound to, DHCP or the first static
 * address and gateway; what pins a name to a MAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "guest/linux_net.h"

static void ifupdown(void **state)
{
    (void)state;
    struct p2v_lnet e[4];
    const char *t = "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\n"
                    "allow-hotplug enp3s0\niface enp3s0 inet static\n    address 10.0.2.15\n"
                    "    netmask 255.255.255.0\n    gateway 10.0.2.2\n    hwaddress ether 00:1B:21:3C:4D:5E\n"
                    "iface enp3s0 inet6 auto\n\nauto eno1\niface eno1 inet dhcp\n";
    assert_int_equal(p2v_lnet_ifupdown(t, e, 4), 2);
    assert_string_equal(e[0].name, "enp3s0");
    assert_int_equal(e[0].dhcp, 0);
    assert_string_equal(e[0].addr, "10.0.2.15");
    assert_int_equal(e[0].prefix, 24);
    assert_string_equal(e[0].gateway, "10.0.2.2");
    assert_string_equal(e[0].mac, "00:1b:21:3c:4d:5e");
    assert_int_equal(e[0].line, 7);
    assert_string_equal(e[1].name, "eno1");
    assert_int_equal(e[1].dhcp, 1);
    assert_string_equal(e[1].kind, "ifupdown");
    assert_int_equal(p2v_lnet_ifupdown("iface x inet static\n address 1.2.3.4/16\n", e, 0), 0);
}

static void nm_keyfile(void **state)
{
    (void)state;
    struct p2v_lnet e[2];
    const char *t = "[connection]\nid=Wired\nuuid=0f3c\ntype=ethernet\ninterface-name=enp3s0\n\n"
                    "[ethernet]\nmac-address=00:1B:21:3C:4D:5E\n\n[ipv4]\n"
                    "address1=192.168.1.10/24,192.168.1.1\nmethod=manual\n";
    assert_int_equal(p2v_lnet_nm_keyfile(t, "Wired.nmconnection", e, 2), 1);
    assert_string_equal(e[0].name, "enp3s0");
    assert_string_equal(e[0].mac, "00:1b:21:3c:4d:5e");
    assert_int_equal(e[0].dhcp, 0);
    assert_string_equal(e[0].addr, "192.168.1.10");
    assert_int_equal(e[0].prefix, 24);
    assert_string_equal(e[0].gateway, "192.168.1.1");
    assert_int_equal(p2v_lnet_nm_keyfile("[connection]\ntype=wifi\n", "w", e, 2), 0);
    assert_int_equal(p2v_lnet_nm_keyfile("[connection]\ntype=ethernet\n[ipv4]\nmethod=auto\n", "x", e, 2), 1);
    assert_int_equal(e[0].dhcp, 1);
    assert_string_equal(e[0].name, "");
}

static void netplan(void **state)
{
    (void)state;
    struct p2v_lnet e[4];
    const char *t = "network:\n  version: 2\n  ethernets:\n    enp3s0:\n      addresses:\n"
                    "        - 10.0.0.5/8\n      routes:\n        - to: default\n          via: 10.0.0.1\n"
                    "    lan:\n      match:\n        macaddress: \"AA:BB:CC:DD:EE:FF\"\n"
                    "      set-name: lan0\n      dhcp4: true\n    eth1:\n      addresses: [172.16.0.2/12]\n"
                    "  bridges:\n    br0:\n      dhcp4: yes\n";
    assert_int_equal(p2v_lnet_netplan(t, e, 4), 3);
    assert_string_equal(e[0].name, "enp3s0");
    assert_int_equal(e[0].dhcp, 0);
    assert_string_equal(e[0].addr, "10.0.0.5");
    assert_int_equal(e[0].prefix, 8);
    assert_string_equal(e[0].gateway, "10.0.0.1");
    assert_string_equal(e[1].name, "lan0");
    assert_string_equal(e[1].mac, "aa:bb:cc:dd:ee:ff");
    assert_int_equal(e[1].dhcp, 1);
    assert_string_equal(e[2].name, "eth1");
    assert_string_equal(e[2].addr, "172.16.0.2");
}

static void ifcfg(void **state)
{
    (void)state;
    struct p2v_lnet e[2];
    const char *t = "TYPE=Ethernet\nBOOTPROTO=none\nDEVICE=ens192\nONBOOT=yes\n"
                    "IPADDR=10.1.1.5\nNETMASK=255.255.0.0\nGATEWAY=10.1.0.1\nHWADDR=\"00:50:56:AA:BB:CC\"\n";
    assert_int_equal(p2v_lnet_ifcfg(t, "/etc/sysconfig/network-scripts/ifcfg-ens192", e, 2), 1);
    assert_string_equal(e[0].name, "ens192");
    assert_int_equal(e[0].dhcp, 0);
    assert_string_equal(e[0].addr, "10.1.1.5");
    assert_int_equal(e[0].prefix, 16);
    assert_string_equal(e[0].mac, "00:50:56:aa:bb:cc");
    assert_int_equal(p2v_lnet_ifcfg("DEVICE=lo\n", "/x/ifcfg-lo", e, 2), 0);
    assert_int_equal(p2v_lnet_ifcfg("BOOTPROTO=dhcp\n", "/x/ifcfg-eth0", e, 2), 1);
    assert_string_equal(e[0].name, "eth0");
    assert_int_equal(e[0].dhcp, 1);
}

static void systemd_files(void **state)
{
    (void)state;
    struct p2v_lnet e[2];
    assert_int_equal(p2v_lnet_networkd("[Match]\nName=enp1s0\n\n[Network]\nAddress=192.0.2.7/24\n"
                                       "Gateway=192.0.2.1\n", e, 2), 1);
    assert_string_equal(e[0].name, "enp1s0");
    assert_int_equal(e[0].dhcp, 0);
    assert_string_equal(e[0].gateway, "192.0.2.1");
    assert_int_equal(p2v_lnet_networkd("[Match]\nName=en*\n[Network]\nDHCP=yes\n", e, 2), 1);
    assert_int_equal(e[0].dhcp, 1);
    assert_false(p2v_lnet_hardware_name(e[0].name));  /* a pattern fits any NIC */
    assert_int_equal(p2v_lnet_link("[Match]\nMACAddress=52:54:00:12:34:56\n\n[Link]\nName=wan0\n", e, 2), 1);
    assert_string_equal(e[0].name, "wan0");
    assert_string_equal(e[0].mac, "52:54:00:12:34:56");
    assert_int_equal(e[0].dhcp, -1);
    assert_int_equal(p2v_lnet_link("[Match]\nOriginalName=*\n[Link]\nNamePolicy=kernel\n", e, 2), 0);
}

static void udev_rules(void **state)
{
    (void)state;
    struct p2v_lnet e[4];
    const char *t = "# comment NAME=\"x\"\n"
                    "SUBSYSTEM==\"net\", ACTION==\"add\", DRIVERS==\"?*\", ATTR{address}==\"00:1B:21:3C:4D:5E\", "
                    "ATTR{dev_id}==\"0x0\", ATTR{type}==\"1\", KERNEL==\"eth*\", NAME=\"eth0\"\n"
                    "SUBSYSTEM==\"block\", KERNEL==\"sda\", NAME=\"disk\"\n";
    assert_int_equal(p2v_lnet_udev(t, e, 4), 1);
    assert_string_equal(e[0].name, "eth0");
    assert_string_equal(e[0].mac, "00:1b:21:3c:4d:5e");
    assert_int_equal(e[0].line, 2);
    assert_true(p2v_lnet_hardware_name("eth0"));
    assert_true(p2v_lnet_hardware_name("enp3s0"));
    assert_false(p2v_lnet_hardware_name("lo"));
    assert_false(p2v_lnet_hardware_name("br0"));
    assert_false(p2v_lnet_hardware_name(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ifupdown), cmocka_unit_test(nm_keyfile), cmocka_unit_test(netplan),
        cmocka_unit_test(ifcfg),    cmocka_unit_test(systemd_files), cmocka_unit_test(udev_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
