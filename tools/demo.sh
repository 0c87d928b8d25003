#!/bin/bash
# make demo: builds a small bootable sample disk (MBR, NTFS, GRUB), checks
# it can be converted, shows it as a dynamic VHD through p2v, checks that
# with qemu-img, writes VM definitions and boots the VM with the QEMU one.
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

step "Can it become a VM? Every rule, with a remedy for each failure"
run "$P2V" check "$dir/source.img"

step "Mount it: a synthetic dynamic VHD appears, computed on demand"
run "$P2V" mount "$dir/source.img" "$mnt"
run ls -l "$mnt"

step "Real readers accept it"
run qemu-img info -f vpc "$mnt/disk.vhd"
run qemu-img compare -f raw -F vpc "$mnt/disk.raw" "$mnt/disk.vhd"

step "Copy it out with any tool; every mount gives the same bytes"
run cp "$mnt/disk.vhd" "$dir/copy.vhd"
run sha256sum "$mnt/disk.vhd" "$dir/copy.vhd"

step "VM definitions for the image: libvirt domain XML, and a QEMU script"
run "$P2V" vm create --format libvirt --name demo -o "$dir/demo.xml" "$mnt"
run virt-xml-validate "$dir/demo.xml" domain
rm -f "$dir/demo-overlay.qcow2"
run "$P2V" vm create --format qemu --name demo -o "$dir/demo.sh" "$mnt"

step "Boot it with that script (the VM writes to an overlay; GRUB reads a file from NTFS)"
printf '$ P2V_ACCEL=tcg P2V_DISPLAY=none %s -no-reboot\n' "$dir/demo.sh"
P2V_ACCEL=tcg P2V_DISPLAY=none timeout 300 "$dir/demo.sh" -no-reboot </dev/null | tr -d '\033' \
    | tee "$dir/boot.log" | grep -a P2V- || true
grep -qa P2V-NTFS-FILE-OK "$dir/boot.log" || { echo "demo: the VM did not boot" >&2; exit 1; }

step "Unmount; the source was never written"
run "$P2V" umount "$mnt"
run sha256sum -c "$dir/source.sha256"
