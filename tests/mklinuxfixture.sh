#!/bin/bash
# Builds a disk image that looks like a Linux system disk, for integration
# tests of the offline inventory and checks:
#   tests/mklinuxfixture.sh OUT.img [--no-virtio] [--size MiB]
# MBR (signature 0x0BADCAFE), one active partition (type 83) from 1 MiB to
# the end, holding an ext4 root filesystem (label rootfs, UUID $FS_UUID):
#   /etc/os-release -> ../usr/lib/os-release   (a relative symlink, as on Debian)
#     PRETTY_NAME="P2V Test Linux 12 (fixture)", NAME="P2V Test Linux", ID=p2vtest, VERSION_ID="12"
#   /etc/hostname    p2v-linux-host
#   /etc/fstab       a comment, "UUID=$FS_UUID / ext4 errors=remount-ro 0 1",
#                    "/dev/sdb1 /data xfs defaults 0 2"
#   /lib/modules/6.1.0-p2vtest/  modules.dep: ahci (needs libahci), libahci,
#                    virtio_scsi, xfs; modules.builtin: virtio_blk, virtio_pci,
#                    loop; and the .ko files modules.dep names
#   /boot/initrd.img-6.1.0-p2vtest  gzip'd newc cpio holding those .ko files
#   /boot/grub/grub.cfg (root=UUID=...), /boot/grub/i386-pc/
# --no-virtio leaves virtio_blk and virtio_scsi out everywhere, so a virtio
# target has no boot driver.
# No loop devices or mounts: mkfs.ext4 -d fills the filesystem from a
# directory into a plain file, which is then copied into the disk.
# Needs sfdisk, mkfs.ext4 (e2fsprogs >= 1.43 for -d), debugfs and blkid.
set -euo pipefail

FS_UUID=7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
KVER=6.1.0-p2vtest
die() { echo "mklinuxfixture: $*" >&2; exit 1; }
usage() { die "usage: $0 OUT.img [--no-virtio] [--size MiB]"; }

OUT='' VIRTIO=1 SIZE=64
while (($#)); do
    case $1 in
        --no-virtio) VIRTIO=0 ;;
        --size) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; SIZE=$2; shift ;;
        -*) usage ;;
        *) [ -z "$OUT" ] || usage; OUT=$1 ;;
    esac
    shift
done
[ -n "$OUT" ] || usage
SIZE=$((10#$SIZE))  # "032" is not octal
((SIZE >= 8)) || die "--size must be at least 8 MiB"
PATH=$PATH:/usr/sbin:/sbin
for c in sfdisk mkfs.ext4 debugfs blkid; do command -v "$c" >/dev/null || die "$c not found"; done

tmp=$(mktemp -d /tmp/mklinuxfixture.XXXXXX) partial=0
cleanup() {  # runs on every exit: leave no half-built image
    rm -rf "$tmp"
    ((partial == 0)) || rm -f "$OUT"
}
trap cleanup EXIT

# --- The root filesystem's tree ------------------------------------------
root=$tmp/root
mods=$root/lib/modules/$KVER
mkdir -p "$root/etc" "$root/usr/lib" "$root/boot" "$mods"
cat >"$root/usr/lib/os-release" <<'EOF'
PRETTY_NAME="P2V Test Linux 12 (fixture)"
NAME="P2V Test Linux"
VERSION_ID="12"
ID=p2vtest
EOF
# A relative link: resolved against the image, it must not reach the host's /usr.
ln -s ../usr/lib/os-release "$root/etc/os-release"
echo p2v-linux-host >"$root/etc/hostname"
cat >"$root/etc/fstab" <<EOF
# <file system> <mount point> <type> <options> <dump> <pass>
UUID=$FS_UUID / ext4 errors=remount-ro 0 1
/dev/sdb1 /data xfs defaults 0 2
EOF
echo 'not a real kernel' >"$root/boot/vmlinuz-$KVER"

# Modules: paths relative to /lib/modules/KVER, "module: dependencies".
dep=(
    'kernel/drivers/ata/ahci.ko: kernel/drivers/ata/libahci.ko'
    'kernel/drivers/ata/libahci.ko:'
    'kernel/fs/xfs/xfs.ko:'
)
builtin=(kernel/drivers/block/loop.ko)
if ((VIRTIO)); then
    dep+=('kernel/drivers/scsi/virtio_scsi.ko:')
    builtin+=(kernel/drivers/block/virtio_blk.ko kernel/drivers/virtio/virtio_pci.ko)
fi
printf '%s\n' "${dep[@]}" >"$mods/modules.dep"
printf '%s\n' "${builtin[@]}" >"$mods/modules.builtin"
for d in "${dep[@]}"; do  # the .ko files themselves, so "file" is true either way it is judged
    ko=$mods/${d%%:*}
    mkdir -p "$(dirname "$ko")" && echo "fake module $(basename "$ko")" >"$ko"
done

# The initramfs: the kernel's modules as initramfs-tools lays them out
# (a gzip-compressed newc archive, conf/initramfs.conf telling its maker).
irt=$tmp/initramfs
mkdir -p "$irt/conf" "$irt/usr/lib/modules/$KVER"
echo 'MODULES=most' >"$irt/conf/initramfs.conf"
cp -r "$mods/kernel" "$irt/usr/lib/modules/$KVER/"
(cd "$irt" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible) | gzip -n -9 >"$root/boot/initrd.img-$KVER" ||
    die "cpio/gzip failed"
# GRUB's files as grub-install leaves them, and a grub.cfg entry by UUID.
mkdir -p "$root/boot/grub/i386-pc"
echo 'not a real module' >"$root/boot/grub/i386-pc/normal.mod"
printf 'menuentry "P2V Test Linux" {\n\tlinux /boot/vmlinuz-%s root=UUID=%s ro quiet\n\tinitrd /boot/initrd.img-%s\n}\n' \
    "$KVER" "$FS_UUID" "$KVER" >"$root/boot/grub/grub.cfg"

# --- Disk: MBR, then the filesystem copied in at 1 MiB -----------------------
partial=1  # from here on, a failure deletes OUT
rm -f "$OUT" && truncate -s "${SIZE}M" "$OUT"
printf 'label: dos\nlabel-id: 0x0badcafe\nstart=2048, type=83, bootable\n' | sfdisk -q "$OUT" || die "sfdisk failed"
sectors=$(sfdisk -d "$OUT" | sed -n 's/.*start= *2048, size= *\([0-9]*\).*/\1/p')
[ -n "$sectors" ] || die "partition not found after sfdisk"
truncate -s $((sectors * 512)) "$tmp/fs.img"
# root_owner: the root directory belongs to root whoever runs this; -U: a
# fixed UUID the fstab names (and tests compare against).
mkfs.ext4 -q -F -b 4096 -d "$root" -U "$FS_UUID" -E root_owner=0:0 -L rootfs "$tmp/fs.img" || die "mkfs.ext4 failed"
dd if="$tmp/fs.img" of="$OUT" bs=1M seek=1 conv=notrunc,sparse status=none || die "dd failed"

# --- Read it back from OUT with independent tools ----------------------------
fsat="$OUT?offset=1048576"   # debugfs opens the filesystem inside the disk
cat_fs() { debugfs -R "cat $1" "$fsat" 2>/dev/null; }
[ "$(sfdisk -d "$OUT" | sed -n 's/^label-id: *//p')" = 0x0badcafe ] || die "disk signature is not 0x0badcafe"
sfdisk -d "$OUT" | grep -q 'start= *2048, .*type=83, bootable' || die "partition 1 is not an active type 83 at 2048"
[ "$(blkid -p -O 1048576 -o value -s UUID "$OUT")" = "$FS_UUID" ] || die "blkid does not see the ext4 UUID"
[ "$(blkid -p -O 1048576 -o value -s LABEL "$OUT")" = rootfs ] || die "blkid does not see the label rootfs"
[ "$(cat_fs /etc/hostname)" = p2v-linux-host ] || die "/etc/hostname reads back wrong"
[ "$(debugfs -R 'stat /etc/os-release' "$fsat" 2>/dev/null | sed -n 's/^Fast link dest: "\(.*\)"$/\1/p')" = ../usr/lib/os-release ] \
    || die "/etc/os-release is not the relative symlink"
cat_fs /usr/lib/os-release | grep -qx 'ID=p2vtest' || die "os-release reads back wrong"
cat_fs /etc/fstab | grep -qx "UUID=$FS_UUID / ext4 errors=remount-ro 0 1" || die "/etc/fstab reads back wrong"
cat_fs "/lib/modules/$KVER/modules.dep" | cmp -s - "$mods/modules.dep" || die "modules.dep reads back wrong"
cat_fs "/lib/modules/$KVER/modules.builtin" | cmp -s - "$mods/modules.builtin" || die "modules.builtin reads back wrong"
debugfs -R 'stat /' "$fsat" 2>/dev/null | grep -Eq '^User: +0 +Group: +0 ' || die "/ is not owned by root"
if ((VIRTIO == 0)); then  # really none: no name, no file
    mkdir -p "$tmp/back" && debugfs -R "rdump / $tmp/back" "$fsat" >/dev/null 2>&1
    if grep -rq virtio "$tmp/back" || [ -n "$(find "$tmp/back" -name '*virtio*')" ]; then
        die "--no-virtio: virtio found in the image"
    fi
fi
partial=0
echo "mklinuxfixture: $OUT: ${SIZE} MiB, ext4 $FS_UUID, kernel $KVER$( ((VIRTIO)) || echo ', no virtio')" >&2
