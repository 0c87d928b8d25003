#!/bin/bash
# make demo: builds a small bootable sample disk (MBR, NTFS, GRUB), shows
# it as a dynamic VHD through p2v, checks it with qemu-img and boots it.
set -eu
P2V=$(realpath "${1:-build/p2v}")
cd "$(dirname "$0")/.."
dir=build/demo
mnt=$dir/mnt
mkdir -p "$mnt"
mountpoint -q "$mnt" && "$P2V" umount "$mnt"
trap 'mountpoint -q "$mnt" && "$P2V" umount "$mnt"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "A sample source disk: MBR, one NTFS partition, GRUB in the post-MBR gap"
[ -f "$dir/source.img" ] || bash tests/mkbootdisk.sh "$dir/source.img" 256
sha256sum "$dir/source.img" >"$dir/source.sha256"
cat "$dir/source.sha256"

step "What p2v sees in it"
run "$P2V" info "$dir/source.img"

step "Mount it: a synthetic dynamic VHD appears, computed on demand"
run "$P2V" mount "$dir/source.img" "$mnt"
run ls -l "$mnt"

step "Real readers accept it"
run qemu-img info -f vpc "$mnt/disk.vhd"
run qemu-img compare -f raw -F vpc "$dir/source.img" "$mnt/disk.vhd"

step "Copy it out with any tool; every mount gives the same bytes"
run cp "$mnt/disk.vhd" "$dir/copy.vhd"
run sha256sum "$mnt/disk.vhd" "$dir/copy.vhd"

step "Boot the mounted VHD in QEMU (read-only; GRUB reads a file from NTFS)"
run bash tests/qemu-boot-check.sh "$mnt/disk.vhd" vpc

step "Unmount; the source was never written"
run "$P2V" umount "$mnt"
run sha256sum -c "$dir/source.sha256"
