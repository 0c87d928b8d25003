#!/bin/bash
# Linux disks whose root the fast path (libext2fs) cannot read, built with
# libguestfs in one appliance (this machine has no device-mapper, so no
# LVM of its own):
#   tests/mkguestfsdisk.sh DRACUT_TARBALL DIR
# DIR/uefi-lvm.img: the RHEL-like system, bootable: the dracut variant of
#          tests/mkdebian.sh on GPT, partition 1 an EFI System Partition
#          (FAT32), partition 2 an LVM physical volume, VG p2vvg, LV root
#          (XFS, label p2vroot).  GRUB for UEFI installed by the guest's own
#          grub-install (--no-nvram: the boot entry it would write lives in
#          a machine's NVRAM, which a disk image does not carry), so the ESP
#          holds \EFI\debian\grubx64.efi and no fallback \EFI\BOOT\BOOTX64.EFI.
#          fstab names the root /dev/mapper/p2vvg-root and the ESP /dev/sda1.
# DIR/btrfs.img: MBR, partition 1 btrfs labelled p2vroot, the root in
#          subvolume @ (fstab: LABEL=p2vroot / btrfs subvol=@), as SUSE and
#          Ubuntu install it: the part of the same system that inspection
#          reads (/etc, /boot, the kernels' module lists, dpkg's
#          status, the shell), not meant to boot.
# Needs guestfish (libguestfs-tools), libguestfs-xfs and, on a machine
# without a kernel of its own, SUPERMIN_KERNEL/MODULES.
set -euo pipefail
die() { echo "mkguestfsdisk: $*" >&2; exit 1; }
DTAR=${1:-} DIR=${2:-}
[ -f "$DTAR" ] && [ -d "$DIR" ] || die "usage: $0 DRACUT_TARBALL DIR"
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mkguestfsdisk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mkdir "$WORK/t"
tar -xf "$DTAR" -C "$WORK/t" ./etc ./boot ./var/lib/dpkg/status ./usr/lib/os-release ./usr/bin/dash ./usr/bin/sh \
    ./bin ./sbin ./lib ./lib64 --wildcards './usr/lib/modules/*/modules.dep' \
    './usr/lib/modules/*/modules.builtin' 2>/dev/null || die "the tarball lacks the system's files"
printf 'LABEL=p2vroot / btrfs defaults,subvol=@ 0 0\n' >"$WORK/t/etc/fstab"
tar --numeric-owner -C "$WORK/t" -cf "$WORK/btrfs.tar" .
rm -rf "$WORK/t"
K=$(tar -tf "$DTAR" --wildcards './boot/vmlinuz-*' | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
[ -n "$K" ] || die "no kernel in $DTAR"
cat >"$WORK/fstab" <<'EOF'
# <file system>         <mount point>  <type> <options>  <dump> <pass>
/dev/mapper/p2vvg-root  /              xfs    defaults   0      1
/dev/sda1               /boot/efi      vfat   umask=0077 0      1
EOF
bash "$(dirname "$0")/grubcfg.sh" "$K" "part_gpt lvm xfs" "--label p2vroot" \
    root=/dev/mapper/p2vvg-root >"$WORK/grub.cfg"
for img in uefi-lvm btrfs; do rm -f "$DIR/$img.img"; done
truncate -s 2G "$DIR/uefi-lvm.img"
truncate -s 512M "$DIR/btrfs.img"
guestfish -a "$DIR/uefi-lvm.img" -a "$DIR/btrfs.img" <<EOF
run
part-init /dev/sda gpt
part-add /dev/sda p 2048 206847
part-add /dev/sda p 206848 -2048
part-set-gpt-type /dev/sda 1 C12A7328-F81F-11D2-BA4B-00A0C93EC93B
part-set-gpt-type /dev/sda 2 E6D6D379-F507-44C2-A23C-238F2A3DF928
mkfs vfat /dev/sda1 label:ESP
pvcreate /dev/sda2
vgcreate p2vvg /dev/sda2
lvcreate-free root p2vvg 100
mkfs xfs /dev/p2vvg/root label:p2vroot
mount /dev/p2vvg/root /
tar-in $DTAR / xattrs:true
mkdir-p /boot/efi
mount /dev/sda1 /boot/efi
upload $WORK/fstab /etc/fstab
command "grub-install --target=x86_64-efi --efi-directory=/boot/efi --bootloader-id=debian --no-nvram --no-uefi-secure-boot"
upload $WORK/grub.cfg /boot/grub/grub.cfg
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
