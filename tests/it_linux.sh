#!/bin/bash
# p2v-test: background (most of its time is one emulated CPU: see run-integration.sh)
# Linux guests on a real Debian 12 system (tests/mkdebian.sh: debootstrap
# from the Debian mirror, cached under /var/cache/p2v-tests) set up the way
# physical machines often are: an initramfs holding only SATA drivers,
# /dev/sda1 in fstab and on the kernel command line, a static ifupdown
# stanza on enp3s0 pinned to its MAC by a udev rule, open-vm-tools.  Its
# disk (tests/mklinuxdisk.sh) has GRUB from the guest's own grub-install.
# inventory and check must report every one of those facts and blockers;
# the initramfs's contents are compared with lsinitramfs (initramfs-tools'
# own lister, not p2v), the kernels with the tree, the packages with
# dpkg-query --admindir on the tree.  The source is hashed before and after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixup_lib.sh"

PATH=$PATH:/usr/sbin:/sbin
if ! TAR=$(bash tests/mkdebian.sh 2>"$T/mkdebian.log"); then
    bad "building the Debian 12 system: $(tail -3 "$T/mkdebian.log")"
    finish
    exit 1
fi
tree=$T/tree
mkdir "$tree"
tar -xf "$TAR" -C "$tree" ./etc ./boot ./var/lib/dpkg ./usr/lib/modules ./usr/lib/os-release ./var/cache/apt/archives 2>/dev/null ||
    tar -xf "$TAR" -C "$tree"
use_guest_kernel "$TAR"
src=$T/debian.img
check "the guest's disk is built (GRUB by its own grub-install)" \
    bash tests/mklinuxdisk.sh "$TAR" "$src"
before=$(hash_of "$src")

"$P2V" inventory --source "$src" -o "$T/m.xml" 2>"$T/inv.err"
check_eq "inventory exits 0" 0 $?
"$P2V" inventory --source "$src" --json -o "$T/m.json" 2>/dev/null
check "the configuration validates against machine.rng" \
    xmllint --noout --relaxng machine/machine.rng "$T/m.xml"
xq() { xmllint --xpath "string($1)" "$T/m.xml" 2>/dev/null; }
jv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/m.json" "$1"; }

. "$tree/etc/os-release"
check_eq "distribution from os-release" "$PRETTY_NAME" "$(xq /machine/os/name)"
check_eq "version" "$VERSION_ID" "$(xq /machine/os/version)"
kernels=$(cd "$tree/usr/lib/modules" && ls | sort -rV | paste -sd' ')
check_eq "every kernel under /lib/modules, newest first" "$kernels" \
    "$(jv '" ".join(k["version"] for k in d["os"]["kernels"])')"
K=${kernels%% *}
check_eq "the newest kernel's initramfs" "/boot/initrd.img-$K" \
    "$(xq "/machine/os/kernels/kernel[@version='$K']/@initramfs")"
check_eq "built by initramfs-tools" initramfs-tools \
    "$(xq "/machine/os/kernels/kernel[@version='$K']/@generator")"
# What the initramfs holds, as initramfs-tools' own lister sees it.
want=$(storage_drivers "$tree/boot/initrd.img-$K")
check_eq "its storage drivers are lsinitramfs's" "$want" \
    "$(xq "/machine/os/kernels/kernel[@version='$K']/@initramfs-drivers")"
check_eq "no virtio driver in it (the host-only case)" "" "$(grep -E '/virtio_(blk|pci)\.ko' "$T/ls.txt")"
check "virtio_blk is a module of the kernel (modules.dep)" \
    grep -q 'virtio_blk.ko' "$tree/usr/lib/modules/$K/modules.dep"
check_eq "the boot loader" "grub-bios" "$(xq /machine/os/bootloader/@type)"
check_eq "root= of grub.cfg's entry" "/dev/sda1" \
    "$(xq "/machine/os/device-references/reference[@where='cmdline']/@device")"
check_eq "fstab's root by kernel name" "/dev/sda1" \
    "$(xq "/machine/os/device-references/reference[@where='fstab']/@device")"
check_eq "the static NIC, its address and gateway" "enp3s0 10.0.2.15/24 10.0.2.2 no ifupdown" \
    "$(xq "concat(/machine/nics/nic/@name,' ',/machine/nics/nic/address,'/',/machine/nics/nic/address/@prefix,' ',/machine/nics/nic/gateway,' ',/machine/nics/nic/@dhcp,' ',/machine/nics/nic/@config-kind)")"
check_eq "the MAC pinned by the udev rule" "00:1b:21:3c:4d:5e /etc/udev/rules.d/70-persistent-net.rules" \
    "$(xq "concat(/machine/nics/nic/@mac,' ',/machine/nics/nic/@pin)")"
dpkg_tools=$(dpkg-query --admindir="$tree/var/lib/dpkg" -W -f='${Package} ${Status}\n' \
    'open-vm-tools*' 'virtualbox-guest*' 2>/dev/null | awk '$4 == "installed" {print $1}' | sort | paste -sd' ')
check_eq "other vendors' packages (dpkg-query's list)" "$dpkg_tools" \
    "$(jv '" ".join(sorted(t["name"] for t in d["os"]["vendor_tools"]))')"
check_eq "qemu-guest-agent: not installed, its package in apt's cache (ls)" \
    "$(ls "$tree/var/cache/apt/archives" 2>/dev/null | grep -q '^qemu-guest-agent_.*\.deb$' && echo ' qemu-guest-agent')" \
    "$(jv 'd["os"]["guest_agents"]["installed"] + " " + d["os"]["guest_agents"]["on_disk"]')"
check_eq "JSON and XML agree on the kernels' drivers" \
    "$(xq "/machine/os/kernels/kernel[1]/@initramfs-drivers")" \
    "$(jv 'd["os"]["kernels"][0]["initramfs_drivers"]')"

"$P2V" inspect "$src" >"$T/inspect.txt" 2>&1
check_eq "inspect exits 0 on Linux" 0 $?
check "inspect names the distribution" grep -qF "operating system:  $PRETTY_NAME" "$T/inspect.txt"
check "inspect lists the kernel, its initramfs and what it holds" \
    grep -qE "^kernel: +$K, initramfs /boot/initrd.img-$K \(initramfs-tools\), storage drivers in it: ahci$" "$T/inspect.txt"
"$P2V" inspect --json "$src" >"$T/inspect.json" 2>/dev/null
check_eq "inspect --json: the boot loader" grub-bios \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bootloader"])' "$T/inspect.json")"


r=$(rule "$T/m.xml" boot-driver virtio)
check_eq "virtio: the initramfs lacks virtio (blocker)" "fail" "${r%% *}"
case $r in *"virtio_blk"*"initrd.img-$K"*|*"initrd.img-$K"*"virtio_blk"*) ok "  and names the initramfs and the driver" ;;
    *) bad "boot-driver message: $r" ;; esac
check_eq "qemu-sata: its ahci is in the initramfs" pass "$(rule "$T/m.xml" boot-driver qemu-sata | cut -d' ' -f1)"
check_eq "qemu-ide: ata_piix is not" fail "$(rule "$T/m.xml" boot-driver qemu-ide | cut -d' ' -f1)"
r=$(rule "$T/m.xml" device-names virtio)
check_eq "virtio: /dev/sda1 becomes /dev/vda1 (blocker)" fail "${r%% *}"
case $r in *"/etc/fstab"*"/boot/grub/grub.cfg"*) ok "  both files named" ;; *) bad "device-names: $r" ;; esac
check_eq "qemu-sata: /dev/sda1 stays" pass "$(rule "$T/m.xml" device-names qemu-sata | cut -d' ' -f1)"
check_eq "nic-names: enp3s0 will not exist" fail "$(rule "$T/m.xml" nic-names virtio | cut -d' ' -f1)"
check_eq "static-ip is Windows' rule" skip "$(rule "$T/m.xml" static-ip virtio | cut -d' ' -f1)"
check_eq "vendor-tools: open-vm-tools" fail "$(rule "$T/m.xml" vendor-tools virtio | cut -d' ' -f1)"
check_eq "boot-loader: GRUB found" pass "$(rule "$T/m.xml" boot-loader virtio | cut -d' ' -f1)"
check_eq "efi-fallback: a BIOS disk has none to check" skip "$(rule "$T/m.xml" efi-fallback virtio | cut -d' ' -f1)"
check_eq "hibernation: none" pass "$(rule "$T/m.xml" hibernation virtio | cut -d' ' -f1)"
"$P2V" check --target virtio "$src" >"$T/check.out" 2>&1
check_eq "check SOURCE exits 1 (blockers)" 1 $?
check "its summary counts the two blockers (boot-driver, device-names)" grep -qE '^2 blockers' "$T/check.out"

# A hibernation image in swap (the kernel's swsusp signature), on a copy.
hib=$T/hib.img
cp --sparse=always "$src" "$hib"
printf 'label: dos\nlabel-id: 0x5eb1a2c3\nstart=2048, size=%d, type=83, bootable\ntype=82\n' \
    $(( ($(stat -c %s "$hib") / 512) - 2048 - 16384 )) | sfdisk -q --no-reread "$hib" 2>/dev/null
swapoff_start=$(( ($(stat -c %s "$hib") / 512) - 16384 ))
# mkswap's layout, then the signature hibernation writes over SWAPSPACE2.
dd if=/dev/zero of="$T/swap" bs=1M count=8 status=none
mkswap -q "$T/swap" >/dev/null
printf 'S1SUSPEND' | dd of="$T/swap" bs=1 seek=$((4096 - 10)) conv=notrunc status=none
dd if="$T/swap" of="$hib" bs=512 seek="$swapoff_start" conv=notrunc status=none
"$P2V" inventory --source "$hib" -o "$T/hib.xml" 2>/dev/null
"$P2V" check --config "$T/hib.xml" --target qemu-sata --json 2>/dev/null >"$T/hib.json"
check_eq "a hibernation image in swap is a blocker" fail \
    "$(python3 -c 'import json,sys; print([x["status"] for x in json.load(open(sys.argv[1]))["results"] if x["id"]=="hibernation"][0])' "$T/hib.json")"

# --- Fix-ups (libguestfs's appliance on p2v's NBD export of the overlay) ------
"$P2V" fixup plan --target virtio -o "$T/plan" "$src" 2>"$T/plan.err"
check_eq "fixup plan exits 0 for Linux" 0 $?
check_eq "the default plan's actions" \
    "linux-device-names|linux-nic enp3s0 00:1b:21:3c:4d:5e|linux-remove-package open-vm-tools|linux-install-package qemu-guest-agent|linux-initramfs virtio_blk virtio_scsi virtio_pci" \
    "$(grep -v '^#' "$T/plan" | grep . | paste -sd'|')"
apply_plan "$src" "$T/plan"
for w in /etc/fstab /boot/grub/grub.cfg /etc/default/grub /etc/systemd/network/10-p2v-enp3s0.link \
    /etc/udev/rules.d/70-persistent-net.rules "package open-vm-tools" "package qemu-guest-agent" \
    /etc/initramfs-tools/modules \
    "/boot/initrd.img-$K"; do
    check "apply changed $w" grep -q "^[0-9]* [a-z-]* $w True " "$T/apply.txt"
done

"$P2V" inventory --source "$src" --state "$T/st" -o "$T/after.xml" 2>/dev/null
for id in boot-driver device-names nic-names vendor-tools boot-loader; do
    check_eq "after apply, $id passes" pass "$(rule "$T/after.xml" $id | cut -d' ' -f1)"
done
"$P2V" inspect --state "$T/st" "$src" >"$T/inspect2.txt" 2>&1
check "inspect --state: fstab's / by UUID now" grep -q "^device reference:  fstab UUID=" "$T/inspect2.txt"
"$P2V" check --state "$T/st" --target virtio "$src" >"$T/check2.out" 2>&1
check_eq "check --state: no blockers left" 0 $?

mnt=$T/mnt
p2v_mount "$src" "$mnt" --state "$T/st"
check "e2fsck -fn: the fixed-up root is clean" e2fsck -fn "$mnt/partitions/1.raw"
debugfs -R "cat /boot/initrd.img-$K" "$mnt/partitions/1.raw" >"$T/initrd.new" 2>/dev/null
lsinitramfs "$T/initrd.new" >"$T/ls2.txt" 2>/dev/null
check "lsinitramfs: the new initramfs holds virtio_blk and virtio_pci" \
    bash -c "grep -q '/virtio_blk.ko' '$T/ls2.txt' && grep -q '/virtio_pci.ko' '$T/ls2.txt'"
debugfs -R 'cat /etc/fstab' "$mnt/partitions/1.raw" 2>/dev/null >"$T/fstab"
check_eq "fstab names / by UUID (blkid's)" "UUID=$(blkid -o value -s UUID "$mnt/partitions/1.raw")" \
    "$(awk '$2 == "/" {print $1}' "$T/fstab")"
# The VM: virtio disk and NIC, the source's MAC (as p2v vm create gives it).
python3 tests/linux-boot-check.py "$mnt/disk.vhd" vpc --bus virtio --mac 00:1b:21:3c:4d:5e \
    --nic enp3s0 --pkg open-vm-tools --pkg qemu-guest-agent --log "$T/boot.log" >"$T/boot.facts" 2>&1
check_eq "the fixed-up VM boots on virtio to a login prompt" yes "$(fact booted)"
check_eq "its root is read-write" rw "$(fact root)"
check_eq "qemu-guest-agent is installed" present "$(pkg_state qemu-guest-agent)"
boot_common
p2v_umount "$mnt"

# A bare Linux root volume: no boot loader in its boot sector, so the disk
# p2v wraps it in cannot boot, and info, mount and check say so.
mkdir -p "$T/bare/etc"
cp "$tree/usr/lib/os-release" "$T/bare/etc/os-release"
truncate -s 32M "$T/bare.img"
mkfs.ext4 -q -F -d "$T/bare" "$T/bare.img"
bare_before=$(hash_of "$T/bare.img")
"$P2V" info "$T/bare.img" >"$T/bare.info" 2>&1
check "info: a bare ext4 volume will not boot" grep -q "^boots: *no: " "$T/bare.info"
check_eq "info --json: volume_boot_code false" False \
    "$("$P2V" info --json "$T/bare.img" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["volume_boot_code"])')"
p2v_mount "$T/bare.img" "$T/bmnt" 2>"$T/bare.mount" || true
check "mount warns that the image will not boot" grep -q "will not boot" "$T/bare.mount"
p2v_umount "$T/bmnt"
"$P2V" inventory --source "$T/bare.img" -o "$T/bare.xml" 2>/dev/null
check_eq "check: boot-loader is a blocker for the bare volume" fail \
    "$("$P2V" check --config "$T/bare.xml" --json 2>/dev/null | python3 -c 'import json,sys; print([x["status"] for x in json.load(sys.stdin)["results"] if x["id"]=="boot-loader"][0])')"
check_eq "the bare volume is unchanged" "$bare_before" "$(hash_of "$T/bare.img")"

check_eq "the source is unchanged" "$before" "$(hash_of "$src")"
finish
