#!/bin/bash
# A real Debian 12 system, built with debootstrap from the Debian mirror and
# configured the way physical machines often are, for the Linux guest tests:
#   tests/mkdebian.sh [--variant initramfs-tools|dracut]
# prints the path of a tarball of the root tree (numeric owners, xattrs).
# The tarball is cached under $P2V_CACHE (default /var/cache/p2v-tests),
# named after this script's hash, so a rerun takes no time and a change
# here rebuilds.  A new machine needs the mirror and a few minutes.
#
# What makes it a hard case for a conversion (issue 18):
#   - the initramfs holds only a SATA machine's storage drivers
#     (initramfs-tools MODULES=list with ahci, sd_mod, ext4; dracut with
#     drivers="ahci sd_mod xfs dm_mod btrfs" and the dracut modules
#     host-only mode would pick, so none of its qemu modules).
#     MODULES=dep or dracut's host-only mode would probe the machine the
#     test runs on, which may itself be a virtio VM, so the list is given
#     instead: the same result as dep on a SATA box;
#   - fstab names /dev/sda1; GRUB_DISABLE_LINUX_UUID=true puts root=/dev/sda1
#     on the kernel command line;
#   - a static ifupdown stanza on enp3s0 (10.0.2.15/24, gateway 10.0.2.2),
#     and a udev rule from an older release pinning that name to the
#     physical NIC's MAC;
#   - open-vm-tools installed;
#   - (initramfs-tools variant) qemu-guest-agent not installed, but its
#     package files and their dependencies in apt's cache, as a machine
#     prepared for conversion has them: the fix-up installs it offline.
# The dracut variant is the RHEL-like system: it also carries lvm2, xfsprogs,
# btrfs-progs and GRUB for UEFI (tests/mkguestfsdisk.sh puts it on XFS in LVM
# behind an EFI System Partition, and on btrfs in a subvolume).
set -euo pipefail

die() { echo "mkdebian: $*" >&2; exit 1; }
VARIANT=initramfs-tools
while (($#)); do
    case $1 in
        --variant) VARIANT=${2:-}; shift ;;
        *) die "usage: $0 [--variant initramfs-tools|dracut]" ;;
    esac
    shift
done
case $VARIANT in initramfs-tools|dracut) ;; *) die "unknown variant '$VARIANT'" ;; esac
PATH=$PATH:/usr/sbin:/sbin
MIRROR=${P2V_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${P2V_CACHE:-/var/cache/p2v-tests}
SELF_HASH=$(sha256sum "$0" | cut -c1-12)
OUT=$CACHE/debian12-$VARIANT-$SELF_HASH.tar
[ -s "$OUT" ] && { echo "$OUT"; exit 0; }

command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
mkdir -p "$CACHE"
chmod 700 "$CACHE"
# Tests running side by side ask for the same tree: one builds, the others
# wait for it and take its tarball.
exec 9>"$CACHE/.build-$VARIANT.lock"
flock 9
[ -s "$OUT" ] && { echo "$OUT"; exit 0; }
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
ROOT=$WORK/root
cleanup() {
    for m in proc sys dev; do umount "$ROOT/$m" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

PKGS=linux-image-amd64,systemd-sysv,udev,kmod,ifupdown,iproute2,iputils-ping,e2fsprogs
PKGS=$PKGS,grub-pc-bin,grub2-common,open-vm-tools,$VARIANT
[ "$VARIANT" = dracut ] && PKGS=$PKGS,lvm2,xfsprogs,btrfs-progs,grub-efi-amd64-bin
echo "mkdebian: debootstrap bookworm ($VARIANT) from $MIRROR into $ROOT" >&2
# The initramfs settings must be in place before the kernel's postinst
# builds it, so debootstrap only unpacks the kernel's dependencies' base;
# the kernel and the rest are installed afterwards.
debootstrap --variant=minbase --include=systemd-sysv,udev,kmod,ifupdown,iproute2,iputils-ping,e2fsprogs \
    bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

mkdir -p "$ROOT/etc/initramfs-tools/conf.d" "$ROOT/etc/dracut.conf.d"
printf 'MODULES=list\n' >"$ROOT/etc/initramfs-tools/conf.d/p2v-test.conf"
printf 'ahci\nsd_mod\next4\n' >>"$ROOT/etc/initramfs-tools/modules"
# The modules host-only mode picks on such a machine (systemd, LVM on a
# SATA disk, an XFS root), named since the build machine is not that machine;
# btrfs too, as one tree is both test disks' system (XFS in LVM, btrfs).
cat >"$ROOT/etc/dracut.conf.d/p2v-test.conf" <<'EOF'
hostonly="no"
drivers="ahci sd_mod xfs dm_mod btrfs"
dracutmodules=" systemd systemd-initrd dracut-systemd kernel-modules rootfs-block udev-rules dm lvm btrfs base fs-lib shutdown "
EOF
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    ${PKGS//,/ } >"$WORK/apt.log" 2>&1 ||
    { tail -20 "$WORK/apt.log" >&2; die "apt-get install in the new system failed (log above)"; }
chroot "$ROOT" apt-get clean
if [ "$VARIANT" = initramfs-tools ]; then
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --download-only \
        --no-install-recommends qemu-guest-agent >>"$WORK/apt.log" 2>&1 ||
        { tail -20 "$WORK/apt.log" >&2; die "downloading qemu-guest-agent failed (log above)"; }
fi
rm -f "$ROOT/usr/sbin/policy-rc.d"
for m in proc sys dev; do umount "$ROOT/$m"; done

echo p2v-debian >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tp2v-debian\n' >"$ROOT/etc/hosts"
cat >"$ROOT/etc/fstab" <<'EOF'
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
/dev/sda1       /               ext4    errors=remount-ro 0     1
EOF
cat >"$ROOT/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

auto enp3s0
iface enp3s0 inet static
    address 10.0.2.15/24
    gateway 10.0.2.2
EOF
cat >"$ROOT/etc/udev/rules.d/70-persistent-net.rules" <<'EOF'
# This file was automatically generated by the /lib/udev/write_net_rules
# program, run by the persistent-net-generator.rules rules file.
SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="00:1b:21:3c:4d:5e", ATTR{dev_id}=="0x0", ATTR{type}=="1", NAME="enp3s0"
EOF
mkdir -p "$ROOT/etc/default"
cat >"$ROOT/etc/default/grub" <<'EOF'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0"
GRUB_DISABLE_LINUX_UUID=true
GRUB_TERMINAL=serial
EOF
# root can log in on the serial console without a password (a test VM).
sed -i 's/^root:[^:]*:/root::/' "$ROOT/etc/shadow"
ls "$ROOT"/boot/initrd.img-* >/dev/null 2>&1 || die "no initramfs was built in $ROOT/boot"

tar --numeric-owner --xattrs -C "$ROOT" -cf "$WORK/root.tar" .
mv "$WORK/root.tar" "$OUT"
# Trees an older version of this script built are no longer used.
for old in "$CACHE"/debian12-"$VARIANT"-*.tar; do [ "$old" = "$OUT" ] || rm -f "$old"; done
echo "$OUT"
