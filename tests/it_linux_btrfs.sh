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
dracut_system || { finish; exit 1; }
src=$T/btrfs.img
guestfs_disk btrfs "$src" || { finish; exit 1; }
before=$(hash_of "$src")

"$P2V" inventory --source "$src" -o "$T/m.xml" 2>"$T/inv.err"
check_eq "inventory exits 0" 0 $?
check "the configuration validates against machine.rng" \
    xmllint --noout --relaxng machine/machine.rng "$T/m.xml"
xq() { xmllint --xpath "string($1)" "$T/m.xml" 2>/dev/null; }
want=$(storage_drivers "$tree/boot/initrd.img-$K")
check_eq "Linux found through libguestfs $(tail -1 "$T/inv.err")" "$PRETTY_NAME" "$(xq /machine/os/name)"
check_eq "the kernel, its dracut initramfs and the drivers lsinitramfs lists" "$K dracut $want" \
    "$(xq "concat(/machine/os/kernels/kernel[1]/@version,' ',/machine/os/kernels/kernel[1]/@generator,' ',/machine/os/kernels/kernel[1]/@initramfs-drivers)")"
check_eq "no virtio_blk in the dracut initramfs (the host-only case)" "" "$(grep -E '/virtio_blk\.ko' "$T/ls.txt")"
check "its btrfs driver is (lsinitramfs)" grep -qE '/btrfs\.ko(\.[a-z]+)?$' "$T/ls.txt"
check_eq "fstab's root (a label, subvolume @) and the command line's" "LABEL=p2vroot /dev/sda1" \
    "$(xq "concat(/machine/os/device-references/reference[@where='fstab']/@device,' ',/machine/os/device-references/reference[@where='cmdline']/@device)")"
check_eq "the architecture from /bin/sh" x86_64 "$(xq /machine/os/arch)"
check_eq "GRUB for BIOS" grub-bios "$(xq /machine/os/bootloader/@type)"

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
check_eq "the fixed-up VM boots on virtio to a login prompt" yes "$(fact booted)"
check_eq "its root (btrfs) is read-write" "rw btrfs" "$(fact root) $(mnt_fs /)"
check_eq "the kernel's root= is the volume's UUID (blkid's)" "UUID=$uuid" "$(fact cmdroot)"
boot_common
p2v_umount "$mnt"

check_eq "the source is unchanged" "$before" "$(hash_of "$src")"
finish
