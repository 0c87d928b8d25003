#!/bin/bash
# p2v-test: background (most of its time is one emulated CPU: see run-integration.sh)
# The RHEL-like Linux guest: the dracut variant of tests/mkdebian.sh (a real
# Debian 12 from the mirror, its initramfs holding SATA drivers only) on XFS
# in LVM, booted by GRUB for UEFI that the guest's own grub-install put in
# \EFI\debian with no removable-media fallback (tests/mkguestfsdisk.sh:
# built in libguestfs's appliance, as this machine has no device-mapper).
# A new VM's firmware has no boot entry for it, so before the fix-ups it
# cannot boot; after the default plan it boots on virtio under OVMF with an
# empty variable store.  (The btrfs root is it_linux_btrfs.sh's.)
# What p2v reports is compared with lsinitramfs, mtools, fsck.fat and
# xfs_repair (in the appliance), never with p2v itself; the source is
# hashed before and after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixup_lib.sh"

PATH=$PATH:/usr/sbin:/sbin
dracut_system || { finish; exit 1; }
src=$T/uefi-lvm.img
guestfs_disk uefi-lvm "$src" || { finish; exit 1; }
before=$(hash_of "$src")
export MTOOLS_SKIP_CHECK=1
esp="$src@@1048576"

"$P2V" inventory --source "$src" -o "$T/m.xml" 2>"$T/uefi-lvm.err"
xq() { xmllint --xpath "string($1)" "$T/m.xml" 2>/dev/null; }
want=$(storage_drivers "$tree/boot/initrd.img-$K")
check "uefi-lvm: the configuration validates against machine.rng" \
    xmllint --noout --relaxng machine/machine.rng "$T/m.xml"
check_eq "uefi-lvm: Linux found through libguestfs $(tail -1 "$T/uefi-lvm.err")" "$PRETTY_NAME" "$(xq /machine/os/name)"
check_eq "uefi-lvm: the kernel, its dracut initramfs and the drivers lsinitramfs lists" "$K dracut $want" \
    "$(xq "concat(/machine/os/kernels/kernel[1]/@version,' ',/machine/os/kernels/kernel[1]/@generator,' ',/machine/os/kernels/kernel[1]/@initramfs-drivers)")"
check_eq "uefi-lvm: fstab's root and ESP" "/dev/mapper/p2vvg-root /dev/sda1" \
    "$(xq "concat(/machine/os/device-references/reference[@where='fstab'][1]/@device,' ',/machine/os/device-references/reference[@where='fstab'][2]/@device)")"
check_eq "uefi-lvm: the architecture from /bin/sh" x86_64 "$(xq /machine/os/arch)"
check_eq "no virtio_blk in the dracut initramfs (the host-only case)" "" "$(grep -E '/virtio_blk\.ko' "$T/ls.txt")"
check_eq "uefi-lvm: GRUB for UEFI" grub-efi "$(xq /machine/os/bootloader/@type)"
# The ESP as mtools sees it: the loader, and no \EFI\BOOT.
check "mtools: \\EFI\\debian\\grubx64.efi is on the ESP" mdir -i "$esp" ::/EFI/debian/grubx64.efi
check "mtools: no \\EFI\\BOOT on the ESP" bash -c "! mdir -i '$esp' ::/EFI/BOOT"
check_eq "uefi-lvm: ESP 1, no fallback loader, GRUB the loader" "1 missing /EFI/debian/grubx64.efi" \
    "$(xq "concat(/machine/firmware/@esp,' ',/machine/firmware/@fallback,' ',/machine/firmware/@loader)")"

check_eq "boot-driver: the dracut initramfs lacks virtio" fail "$(rule "$T/m.xml" boot-driver | cut -d' ' -f1)"
r=$(rule "$T/m.xml" device-names)
check_eq "device-names: the ESP's /dev/sda1 becomes /dev/vda1" fail "${r%% *}"
r=$(rule "$T/m.xml" efi-fallback)
check_eq "efi-fallback: a blocker" fail "${r%% *}"
case $r in *"/EFI/debian/grubx64.efi"*) ok "  and names the loader" ;; *) bad "efi-fallback: $r" ;; esac
check_eq "boot-loader: GRUB found" pass "$(rule "$T/m.xml" boot-loader | cut -d' ' -f1)"

# --- Fix-ups ------------------------------------------------------------------
# From the inventory above: the guest is not inspected again.
"$P2V" fixup plan --target virtio --inventory "$T/m.xml" -o "$T/plan" "$src" 2>"$T/plan.err"
check_eq "fixup plan --inventory exits 0" 0 $?
check_eq "the default plan's actions" \
    "linux-device-names|linux-nic enp3s0 00:1b:21:3c:4d:5e|linux-remove-package open-vm-tools|linux-initramfs virtio_blk virtio_scsi virtio_pci|efi-fallback /EFI/debian/grubx64.efi" \
    "$(grep -v '^#' "$T/plan" | grep . | paste -sd'|')"
apply_plan "$src" "$T/plan"
for w in /etc/fstab /etc/dracut.conf.d/p2v-virt.conf "/boot/initrd.img-$K" "ESP /EFI/BOOT/BOOTX64.EFI" \
    "package open-vm-tools"; do
    check "apply changed $w" grep -q "^[0-9]* [a-z-]* $w True " "$T/apply.txt"
done
"$P2V" inventory --source "$src" --state "$T/st" -o "$T/after.xml" 2>/dev/null
for id in boot-driver device-names nic-names vendor-tools efi-fallback; do
    check_eq "after apply, $id passes" pass "$(rule "$T/after.xml" $id | cut -d' ' -f1)"
done

mnt=$T/mnt
p2v_mount "$src" "$mnt" --state "$T/st"
check "fsck.fat -n: the fixed-up ESP is clean" fsck.fat -n "$mnt/partitions/1.raw"
mcopy -n -i "$mnt/partitions/1.raw" ::/EFI/BOOT/BOOTX64.EFI "$T/fallback.efi" 2>/dev/null
mcopy -n -i "$mnt/partitions/1.raw" ::/EFI/debian/grubx64.efi "$T/grub.efi" 2>/dev/null
check "mtools: \\EFI\\BOOT\\BOOTX64.EFI is the guest's grubx64.efi" cmp "$T/grub.efi" "$T/fallback.efi"
# xfs_repair -n (nomodify) in the appliance, on the view, beside the boot.
guestfish --ro -a "$mnt/disk.raw" -- run : xfs-repair /dev/p2vvg/root nomodify:true \
    >"$T/xfs_repair.out" 2>&1 &
xpid=$!
python3 tests/linux-boot-check.py "$mnt/disk.vhdx" vhdx --uefi --bus virtio --mac 00:1b:21:3c:4d:5e \
    --nic enp3s0 --pkg open-vm-tools --mount / --mount /boot/efi --log "$T/boot.log" \
    >"$T/boot.facts" 2>&1
wait "$xpid"
check_eq "xfs_repair -n: the fixed-up root LV is clean $(tail -2 "$T/xfs_repair.out" | tr '\n' ' ')" 0 \
    "$(tail -1 "$T/xfs_repair.out")"
check_eq "OVMF (no boot entries) boots the fixed-up VM on virtio to a login prompt" yes "$(fact booted)"
check_eq "its root (XFS on LVM) is read-write" "rw xfs" "$(fact root) $(mnt_fs /)"
check_eq "the ESP is mounted at /boot/efi (fstab by UUID now)" vfat \
    "$(mnt_fs /boot/efi)"
boot_common
p2v_umount "$mnt"

check_eq "the source is unchanged" "$before" "$(hash_of "$src")"
finish
