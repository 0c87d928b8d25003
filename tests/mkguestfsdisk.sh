#!/bin/bash
# Linux disks whose root the fast path (libext2fs) cannot read, built with
# libguestfs in one appliance (this machine has no device-mapper, so no
# LVM of its own):
#   tests/mkguestfsdisk.sh TARBALL DIR
# DIR/xfs-lvm.img: MBR, partition 1 an LVM physical volume, VG p2vvg, LV
#          root (XFS); fstab names it /dev/mapper/p2vvg-root.
# DIR/btrfs.img: MBR, partition 1 btrfs labelled p2vroot, the root in
#          subvolume @ (fstab: LABEL=p2vroot / btrfs subvol=@), as SUSE and
#          Ubuntu install it.
# The tree is the part of the Debian system (tests/mkdebian.sh) that
# inspection reads: /etc, /boot, the kernels' module lists, dpkg's status,
# the shell.  It is not meant to boot.  Needs guestfish (libguestfs-tools),
# libguestfs-xfs and, on a machine without a kernel of its own,
# SUPERMIN_KERNEL/MODULES.
set -euo pipefail
die() { echo "mkguestfsdisk: $*" >&2; exit 1; }
TAR=${1:-} DIR=${2:-}
[ -f "$TAR" ] && [ -d "$DIR" ] || die "usage: $0 TARBALL DIR"
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkguestfsdisk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mkdir "$WORK/t"
tar -xf "$TAR" -C "$WORK/t" ./etc ./boot ./var/lib/dpkg/status ./usr/lib/os-release ./usr/bin/dash ./usr/bin/sh \
    ./bin ./sbin ./lib ./lib64 --wildcards './usr/lib/modules/*/modules.dep' \
    './usr/lib/modules/*/modules.builtin' 2>/dev/null || die "the tarball lacks the system's files"
for kind in xfs-lvm btrfs; do
    if [ $kind = xfs-lvm ]; then
        printf '/dev/mapper/p2vvg-root / xfs defaults 0 1\n' >"$WORK/t/etc/fstab"
    else
        printf 'LABEL=p2vroot / btrfs defaults,subvol=@ 0 0\n' >"$WORK/t/etc/fstab"
    fi
    tar --numeric-owner -C "$WORK/t" -cf "$WORK/$kind.tar" .
    rm -f "$DIR/$kind.img"
    truncate -s 512M "$DIR/$kind.img"
done
guestfish -a "$DIR/xfs-lvm.img" -a "$DIR/btrfs.img" <<EOF
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 -2048
part-set-mbr-id /dev/sda 1 0x8e
pvcreate /dev/sda1
vgcreate p2vvg /dev/sda1
lvcreate-free root p2vvg 100
mkfs xfs /dev/p2vvg/root
mount /dev/p2vvg/root /
tar-in $WORK/xfs-lvm.tar /
umount-all
part-init /dev/sdb mbr
part-add /dev/sdb p 2048 -2048
mkfs btrfs /dev/sdb1 label:p2vroot
mount /dev/sdb1 /
btrfs-subvolume-create /@
umount /
mount-options subvol=@ /dev/sdb1 /
tar-in $WORK/btrfs.tar /
umount-all
EOF
