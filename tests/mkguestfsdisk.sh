#!/bin/bash
# Linux disks whose root the fast path (libext2fs) cannot read, built with
# libguestfs in its appliance (this machine has no device-mapper, so no
# LVM of its own, and may have no btrfs driver):
#   tests/mkguestfsdisk.sh DRACUT_TARBALL uefi-lvm|btrfs
# prints the path of the disk image, cached beside the tarball under
# $P2V_CACHE (default /var/cache/p2v-tests) and named after this script's,
# grubcfg.sh's and the tarball's names, so a rerun takes no time.  Tests
# copy it and never use the cached file as a source.
# Both are the dracut variant of tests/mkdebian.sh, whose GRUB is installed
# by the guest's own grub-install:
# uefi-lvm: the RHEL-like system on GPT, partition 1 an EFI System
#          Partition (FAT32), partition 2 an LVM physical volume, VG p2vvg,
#          LV root (XFS, label p2vroot).  GRUB for UEFI with --no-nvram (the
#          boot entry it would write lives in a machine's NVRAM, which a
#          disk image does not carry), so the ESP holds
#          \EFI\debian\grubx64.efi and no fallback \EFI\BOOT\BOOTX64.EFI.
#          fstab names the root /dev/mapper/p2vvg-root and the ESP /dev/sda1.
# btrfs:   MBR, partition 1 btrfs labelled p2vroot, the root in subvolume
#          @ (fstab: LABEL=p2vroot / btrfs subvol=@), as SUSE and Ubuntu
#          install it; GRUB for BIOS, its files in /@/boot/grub as GRUB sees
#          the volume; root=/dev/sda1 rootflags=subvol=@ on the kernel's
#          command line.
# Needs guestfish (libguestfs-tools) and libguestfs-xfs; on a machine
# without a kernel of its own, the appliance boots SUPERMIN_KERNEL/MODULES,
# else the tarball's.
set -euo pipefail
die() { echo "mkguestfsdisk: $*" >&2; exit 1; }
DTAR=${1:-} NAME=${2:-}
[ -f "$DTAR" ] && [[ $NAME =~ ^(uefi-lvm|btrfs)$ ]] || die "usage: $0 DRACUT_TARBALL uefi-lvm|btrfs"
HERE=$(dirname "$0")
CACHE=${P2V_CACHE:-/var/cache/p2v-tests}
KEY=$( { cat "$0" "$HERE/grubcfg.sh"; basename "$DTAR"; } | sha256sum | cut -c1-12)
OUT=$CACHE/$NAME-$KEY.img
[ -s "$OUT" ] && { echo "$OUT"; exit 0; }
mkdir -p "$CACHE"
chmod 700 "$CACHE"
exec 9>"$CACHE/.build-$NAME.lock"
flock 9
[ -s "$OUT" ] && { echo "$OUT"; exit 0; }
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
WORK=$(mktemp -d "$CACHE/disk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
K=$(tar -tf "$DTAR" --wildcards './boot/vmlinuz-*' | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
[ -n "$K" ] || die "no kernel in $DTAR"
if ! ls /boot/vmlinuz-* >/dev/null 2>&1 && [ -z "${SUPERMIN_KERNEL:-}" ]; then
    tar -xf "$DTAR" -C "$WORK" "./boot/vmlinuz-$K" "./usr/lib/modules/$K"
    export SUPERMIN_KERNEL=$WORK/boot/vmlinuz-$K SUPERMIN_MODULES=$WORK/usr/lib/modules/$K
fi
img=$WORK/$NAME.img
truncate -s 2G "$img"

if [ "$NAME" = uefi-lvm ]; then
    cat >"$WORK/fstab" <<'EOF'
# <file system>         <mount point>  <type> <options>  <dump> <pass>
/dev/mapper/p2vvg-root  /              xfs    defaults   0      1
/dev/sda1               /boot/efi      vfat   umask=0077 0      1
EOF
    bash "$HERE/grubcfg.sh" "$K" "part_gpt lvm xfs" "--label p2vroot" \
        root=/dev/mapper/p2vvg-root >"$WORK/grub.cfg"
    guestfish -a "$img" >"$WORK/log" 2>&1 <<EOF || { tail -20 "$WORK/log" >&2; die "guestfish failed (log above)"; }
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
EOF
else
    printf 'LABEL=p2vroot / btrfs defaults,subvol=@ 0 0\n' >"$WORK/fstab"
    bash "$HERE/grubcfg.sh" "$K" "part_msdos btrfs" "--label p2vroot" \
        "root=/dev/sda1 rootflags=subvol=@" /@ >"$WORK/grub.cfg"
    guestfish -a "$img" >"$WORK/log" 2>&1 <<EOF || { tail -20 "$WORK/log" >&2; die "guestfish failed (log above)"; }
run
part-init /dev/sda mbr
part-add /dev/sda p 2048 -2048
part-set-bootable /dev/sda 1 true
mkfs btrfs /dev/sda1 label:p2vroot
mount /dev/sda1 /
btrfs-subvolume-create /@
umount /
mount-options subvol=@ /dev/sda1 /
tar-in $DTAR / xattrs:true
upload $WORK/fstab /etc/fstab
command "grub-install --target=i386-pc /dev/sda"
upload $WORK/grub.cfg /boot/grub/grub.cfg
umount-all
EOF
fi
mv "$img" "$OUT"
# Disks an older version of this script or of the tarball built.
for old in "$CACHE/$NAME"-*.img; do [ "$old" = "$OUT" ] || rm -f "$old"; done
echo "$OUT"
