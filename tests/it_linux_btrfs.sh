#!/bin/bash
# p2v-test: background (most of its time is one emulated CPU: see run-integration.sh)
# A btrfs root in subvolume @, as SUSE and Ubuntu install it: the dracut
# variant of tests/mkdebian.sh (a real Debian 12 from the mirror, its
# initramfs holding SATA drivers only) on an MBR disk with GRUB for BIOS
# from the guest's own grub-install, root=/dev/sda1 rootflags=subvol=@ on
# the kernel's command line (tests/mkguestfsdisk.sh: built in libguestfs's
# appliance).  inventory reads it through libguestfs; after the default
# plan it boots on virtio.  What p2v reports is compared with lsinitramfs
# and btrfs check, never with p2v itself; the source is hashed before and
# after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixup_lib.sh"

PATH=$PATH:/usr/sbin:/sbin
if ! DTAR=$(bash tests/mkdebian.sh --variant dracut 2>"$T/mkdebian.log"); then
    bad "building the Debian 12 system (dracut): $(tail -3 "$T/mkdebian.log")"
    finish
    exit 1
fi
use_guest_kernel "$DTAR"
tree=$T/tree
mkdir "$tree"
tar -xf "$DTAR" -C "$tree" ./boot ./usr/lib/os-release 2>/dev/null
. "$tree/usr/lib/os-release"
K=$(cd "$tree/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -1)
src=$T/btrfs.img
if disk=$(bash tests/mkguestfsdisk.sh "$DTAR" btrfs 2>"$T/mkdisk.log"); then
    cp --sparse=always "$disk" "$src"
fi
check "the btrfs disk is built (guestfish, the guest's grub-install)" test -s "$src"
[ -s "$src" ] || { tail -5 "$T/mkdisk.log"; finish; exit 1; }
before=$(hash_of "$src")

"$P2V" inventory --source "$src" -o "$T/m.xml" 2>"$T/inv.err"
check_eq "inventory exits 0" 0 $?
check "the configuration validates against machine.rng" \
    xmllint --noout --relaxng machine/machine.rng "$T/m.xml"
xq() { xmllint --xpath "string($1)" "$T/m.xml" 2>/dev/null; }
lsinitramfs "$tree/boot/initrd.img-$K" >"$T/ls.txt" 2>/dev/null
want=''
for d in virtio_blk virtio_scsi virtio_pci ahci ata_piix hv_storvsc hv_vmbus; do
    grep -qE "/$d\.ko(\.[a-z]+)?$" "$T/ls.txt" && want+="${want:+,}$d"
done
check_eq "Linux found through libguestfs $(tail -1 "$T/inv.err")" "$PRETTY_NAME" "$(xq /machine/os/name)"
check_eq "the kernel, its dracut initramfs and the drivers lsinitramfs lists" "$K dracut $want" \
    "$(xq "concat(/machine/os/kernels/kernel[1]/@version,' ',/machine/os/kernels/kernel[1]/@generator,' ',/machine/os/kernels/kernel[1]/@initramfs-drivers)")"
check_eq "no virtio_blk in the dracut initramfs (the host-only case)" "" "$(grep -E '/virtio_blk\.ko' "$T/ls.txt")"
check "its btrfs driver is (lsinitramfs)" grep -qE '/btrfs\.ko(\.[a-z]+)?$' "$T/ls.txt"
check_eq "fstab's root (a label, subvolume @) and the command line's" "LABEL=p2vroot /dev/sda1" \
    "$(xq "concat(/machine/os/device-references/reference[@where='fstab']/@device,' ',/machine/os/device-references/reference[@where='cmdline']/@device)")"
check_eq "the architecture from /bin/sh" x86_64 "$(xq /machine/os/arch)"
check_eq "GRUB for BIOS" grub-bios "$(xq /machine/os/bootloader/@type)"

rule() {  # rule CONFIG ID: "status message"
    "$P2V" check --config "$1" --target virtio --json 2>/dev/null |
        python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["results"] if x["id"]==sys.argv[1]]; print(r[0]["status"], r[0]["message"][:300] if r else "missing")' "$2"
}
check_eq "boot-driver: the dracut initramfs lacks virtio" fail "$(rule "$T/m.xml" boot-driver | cut -d' ' -f1)"
r=$(rule "$T/m.xml" device-names)
check_eq "device-names: root=/dev/sda1 becomes /dev/vda1" fail "${r%% *}"
case $r in *"/boot/grub/grub.cfg"*) ok "  and names grub.cfg" ;; *) bad "device-names: $r" ;; esac
check_eq "boot-loader: GRUB found" pass "$(rule "$T/m.xml" boot-loader | cut -d' ' -f1)"
check_eq "efi-fallback: a BIOS disk has none to check" skip "$(rule "$T/m.xml" efi-fallback | cut -d' ' -f1)"

# --- Fix-ups ------------------------------------------------------------------
# From the inventory above: the guest is not inspected again.
"$P2V" fixup plan --target virtio --inventory "$T/m.xml" -o "$T/plan" "$src" 2>"$T/plan.err"
check_eq "fixup plan --inventory exits 0" 0 $?
truncate -s 1M "$T/other.img"
check_fails "fixup plan --inventory refuses another source's inventory" "is not the inventory of" \
    "$P2V" fixup plan --inventory "$T/m.xml" "$T/other.img"
rm -f "$T/other.img"
check_eq "the default plan's actions" \
    "linux-device-names|linux-nic enp3s0 00:1b:21:3c:4d:5e|linux-remove-package open-vm-tools|linux-initramfs virtio_blk virtio_scsi virtio_pci" \
    "$(grep -v '^#' "$T/plan" | grep . | paste -sd'|')"
apply_plan "$src" "$T/plan"
for w in /boot/grub/grub.cfg /etc/default/grub /etc/dracut.conf.d/p2v-virt.conf "/boot/initrd.img-$K" \
    "package open-vm-tools"; do
    check "apply changed $w" grep -q "^[0-9]* [a-z-]* $w True " "$T/apply.txt"
done
check "fstab (by label) is left alone" bash -c "! grep -q '^[0-9]* [a-z-]* /etc/fstab True ' '$T/apply.txt'"
# (check --state after apply is it_linux's and it_linux_uefi's: one more
# appliance here would say the same.)

mnt=$T/mnt
p2v_mount "$src" "$mnt" --state "$T/st"
check "btrfs check --readonly: the fixed-up volume is clean" \
    btrfs check --readonly "$mnt/partitions/1.raw"
uuid=$(blkid -o value -s UUID "$mnt/partitions/1.raw")
python3 tests/linux-boot-check.py "$mnt/disk.vhd" vpc --bus virtio --mac 00:1b:21:3c:4d:5e \
    --nic enp3s0 --pkg open-vm-tools --mount / --log "$T/boot.log" >"$T/boot.facts" 2>&1
fact() { awk -v k="$1" '$1 == k {print $2}' "$T/boot.facts"; }
check_eq "the fixed-up VM boots on virtio to a login prompt" yes "$(fact booted)"
check_eq "multi-user.target is active" active "$(fact target)"
check_eq "its root (btrfs) is read-write" "rw btrfs" "$(fact root) $(awk '$1 == "mnt" && $2 == "/" {print $3}' "$T/boot.facts")"
check_eq "the kernel's root= is the volume's UUID (blkid's)" "UUID=$uuid" "$(fact cmdroot)"
check_eq "the static address is up on enp3s0" 10.0.2.15/24 "$(fact addr)"
check_eq "it answers QEMU's gateway 10.0.2.2" ok "$(fact ping)"
check_eq "open-vm-tools is gone" absent "$(awk '$1 == "pkg" && $2 == "open-vm-tools" {print $3}' "$T/boot.facts")"
[ "$(fact booted)" = yes ] || tail -30 "$T/boot.log" | sed 's/^/       | /'
p2v_umount "$mnt"

check_eq "the source is unchanged" "$before" "$(hash_of "$src")"
finish
