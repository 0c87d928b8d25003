#!/bin/bash
# A bootable BIOS disk of a real Linux system (from tests/mkdebian.sh):
#   tests/mklinuxdisk.sh TARBALL OUT.img [--size MiB]
# MBR, one active partition from 1 MiB to the end holding the tree as ext4
# (label debroot, UUID $FS_UUID); GRUB installed and configured by the
# guest's own grub-install, in a chroot on loop devices; a grub.cfg whose
# kernel command line says root=/dev/sda1, the name the physical machine's
# disk had (what GRUB_DISABLE_LINUX_UUID=true in its /etc/default/grub
# makes grub-mkconfig write).
# Needs root, loop devices, sfdisk and mkfs.ext4 >= 1.43 (-d).
set -euo pipefail

FS_UUID=1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b
die() { echo "mklinuxdisk: $*" >&2; exit 1; }
TAR=${1:-} OUT=${2:-}
[ -f "$TAR" ] && [ -n "$OUT" ] || die "usage: $0 TARBALL OUT.img [--size MiB]"
shift 2
SIZE=1600
while (($#)); do
    case $1 in
        --size) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--size takes MiB"; SIZE=$((10#$2)); shift ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
PATH=$PATH:/usr/sbin:/sbin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mklinuxdisk.XXXXXX")
LOOP=''
cleanup() {
    for m in dev/pts dev proc sys ''; do umount "$WORK/mnt/$m" 2>/dev/null || true; done
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
    [ -n "${DISK:-}" ] && losetup -d "$DISK" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir "$WORK/root" "$WORK/mnt"
tar --numeric-owner --xattrs -xf "$TAR" -C "$WORK/root"
truncate -s $((SIZE - 1))M "$WORK/part.img"
mkfs.ext4 -q -F -L debroot -U "$FS_UUID" -d "$WORK/root" "$WORK/part.img"
rm -rf "$WORK/root"
rm -f "$OUT"
truncate -s ${SIZE}M "$OUT"
printf 'label: dos\nlabel-id: 0x5eb1a2c3\nstart=2048, type=83, bootable\n' | sfdisk -q "$OUT"
dd if="$WORK/part.img" of="$OUT" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$WORK/part.img"

# Loop devices here may not scan partitions: one for the partition (to
# mount), one for the whole disk (where grub-install puts its boot code).
LOOP=$(losetup -f --show -o 1048576 "$OUT") || die "no loop device"
DISK=$(losetup -f --show "$OUT") || die "no second loop device"
mount "$LOOP" "$WORK/mnt"
mount --bind /dev "$WORK/mnt/dev"
mount -t proc proc "$WORK/mnt/proc"
mount -t sysfs sys "$WORK/mnt/sys"
chroot "$WORK/mnt" grub-install --target=i386-pc --modules="part_msdos ext2" "$DISK" >"$WORK/grub.log" 2>&1 ||
    { cat "$WORK/grub.log" >&2; die "grub-install in the guest failed"; }
K=$(cd "$WORK/mnt/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -1)
[ -n "$K" ] || die "no kernel in /boot"
bash "$(dirname "$0")/grubcfg.sh" "$K" "part_msdos ext2" "--fs-uuid $FS_UUID" root=/dev/sda1 \
    >"$WORK/mnt/boot/grub/grub.cfg"
for m in dev proc sys ''; do umount "$WORK/mnt/$m"; done
losetup -d "$LOOP" "$DISK"
LOOP='' DISK=''
