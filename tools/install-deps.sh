#!/bin/sh
# Installs the Debian 12 packages p2v builds, tests and benchmarks with.
# Idempotent and quiet when everything is already there, so `make check`
# and `make demo` can call it every time.
set -eu

BUILD="gcc binutils make pkg-config scdoc libfuse3-dev uuid-dev libblkid-dev ntfs-3g-dev libext2fs-dev libhivex-dev libvhdi-dev nettle-dev zlib1g-dev libxml2-dev libcmocka-dev libarchive-dev libguestfs-dev"
RUNTIME="fuse3"
TESTS="valgrind man-db bash-completion dpkg-dev debhelper lintian libhivex-bin fdisk e2fsprogs procps util-linux qemu-utils libvhdi-utils grub-pc-bin grub-common ntfs-3g qemu-system-x86 xmount xxd python3 xfsprogs lvm2 libxml2-utils libvirt-clients ovmf grub-efi-amd64-bin dosfstools mtools rsync curl nginx-light faketime libwin-hivex-perl python3-hivex debootstrap zstd cpio initramfs-tools-core libguestfs-tools libguestfs-xfs btrfs-progs"

want="$BUILD $RUNTIME"
case "${1:-all}" in
    build) ;;
    all) want="$want $TESTS" ;;
    *) echo "usage: $0 [build|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "p2v: missing packages:$missing; run as root or: sudo apt-get install$missing" >&2
    exit 1
fi
echo "p2v: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps qemu-system from pulling a desktop stack.
apt-get install -y -qq --no-install-recommends $missing >/dev/null
