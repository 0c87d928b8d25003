#!/bin/bash
# p2v vm create: libvirt domains pass virt-xml-validate and carry the
# machine's values; the Hyper-V script has the cmdlets with those values;
# the QEMU script, pointed at FUSE-mounted images, boots the BIOS/MBR GRUB
# fixture (SeaBIOS) and the GPT/ESP GRUB EFI fixture (OVMF) to their
# markers.  Same inputs give the same bytes.  Sources hashed before/after.
. "$(dirname "$0")/lib.sh"

xq() { xmllint --xpath "string($2)" "$1" 2>/dev/null; }  # xq FILE XPATH

win=$T/win.img boot=$T/boot.img efi=$T/efi.img
bash tests/mkwinfixture.sh "$win" 2>"$T/mk.log" || { bad "Windows fixture: $(cat "$T/mk.log")"; finish; exit; }
bash tests/mkbootdisk.sh "$boot" 64 >"$T/mk.log" 2>&1 || { bad "BIOS boot fixture: $(cat "$T/mk.log")"; finish; exit; }
bash tests/mkefidisk.sh "$efi" >"$T/mk.log" 2>&1 || { bad "EFI boot fixture: $(cat "$T/mk.log")"; finish; exit; }
declare -A before
for s in "$win" "$boot" "$efi"; do before[$s]=$(hash_of "$s"); done
check "control: the EFI fixture itself boots under OVMF" bash tests/qemu-boot-check.sh --efi "$efi" raw

# A machine configuration: the Windows fixture's inventory with the running
# machine's memory, CPUs and a NIC with a MAC, as a P2V agent would give.
"$P2V" inventory --source "$win" -o "$T/win.xml"
python3 - "$T/win.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1]); m = t.getroot()
cpu = m.find("cpu"); cpu.set("count", "4"); cpu.set("sockets", "2"); cpu.set("cores", "2"); cpu.set("threads", "1")
mem = ET.Element("memory", unit="KiB"); mem.text = str(3 * 1024 * 1024 + 100)
m.insert(list(m).index(cpu) + 1, mem)
nic = ET.SubElement(m.find("nics"), "nic", name="eth0", mac="00:1b:21:3a:4b:5c", driver="e1000e")
t.write(sys.argv[1], encoding="UTF-8", xml_declaration=True)
PY
check "edited configuration still validates" xmllint --noout --relaxng machine/machine.rng "$T/win.xml"

# ---- libvirt -------------------------------------------------------------
mnt=$T/mnt-win
p2v_mount "$win" "$mnt" || bad "mounting the Windows fixture failed"
d=$T/win-domain.xml
check "libvirt: vm create from the configuration" \
    "$P2V" vm create --format libvirt --config "$T/win.xml" -o "$d" "$mnt"
check "libvirt: virt-xml-validate accepts the domain" virt-xml-validate "$d" domain
check_eq "libvirt: name = the source's hostname" P2V-TESTHOST "$(xq "$d" /domain/name)"
check_eq "libvirt: memory rounded up to MiB (even)" 3074 "$(xq "$d" /domain/memory)"
check_eq "libvirt: memory unit" MiB "$(xq "$d" /domain/memory/@unit)"
check_eq "libvirt: vCPUs = the source's CPU count" 4 "$(xq "$d" /domain/vcpu)"
check_eq "libvirt: topology sockets from the source" 2 "$(xq "$d" /domain/cpu/topology/@sockets)"
check_eq "libvirt: BIOS (no firmware attribute) for an MBR disk" "" "$(xq "$d" /domain/os/@firmware)"
check_eq "libvirt: Windows keeps its clock in local time" localtime "$(xq "$d" /domain/clock/@offset)"
check_eq "libvirt: virtio disk target" vda "$(xq "$d" '/domain/devices/disk/target/@dev')"
check_eq "libvirt: the MAC of the source NIC" 00:1b:21:3a:4b:5c "$(xq "$d" '/domain/devices/interface/mac/@address')"
check_eq "libvirt: one NIC (the Windows interfaces have no MAC)" 1 "$(xmllint --xpath 'count(/domain/devices/interface)' "$d")"
check_eq "libvirt: serial console" serial "$(xq "$d" '/domain/devices/console/target/@type')"
# The mount is read-only: by default the VM writes to a qcow2 overlay backed by disk.vhd.
check_eq "libvirt: overlay mode on a mount: qcow2 on top" qcow2 "$(xq "$d" '/domain/devices/disk/driver/@type')"
check_eq "libvirt: overlay file beside the definition" "$T/P2V-TESTHOST-overlay.qcow2" "$(xq "$d" '/domain/devices/disk/source/@file')"
check_eq "libvirt: backing store is disk.vhd" "$mnt/disk.vhd" "$(xq "$d" '/domain/devices/disk/backingStore/source/@file')"
check_eq "libvirt: backing store format vpc" vpc "$(xq "$d" '/domain/devices/disk/backingStore/format/@type')"
check "libvirt: the comment gives the qemu-img command" grep -q "qemu-img create -f qcow2 -F vpc -b '$mnt/disk.vhd'" "$d"
check_eq "libvirt: definition is private (0600)" 600 "$(stat -c %a "$d")"

"$P2V" vm create --format libvirt --config "$T/win.xml" --target qemu-sata --disk-mode direct \
    --name conv --memory 1024 --vcpus 3 --network lan -o "$T/sata.xml" "$mnt/disk.vhd"
check "libvirt sata: validates" virt-xml-validate "$T/sata.xml" domain
check_eq "libvirt sata: direct mode names disk.vhd (vpc)" "vpc $mnt/disk.vhd" \
    "$(xq "$T/sata.xml" '/domain/devices/disk/driver/@type') $(xq "$T/sata.xml" '/domain/devices/disk/source/@file')"
check_eq "libvirt sata: sda on the sata bus" "sda sata" \
    "$(xq "$T/sata.xml" '/domain/devices/disk/target/@dev') $(xq "$T/sata.xml" '/domain/devices/disk/target/@bus')"
check_eq "libvirt sata: overrides (name, memory, vcpus, network)" "conv 1024 3 lan" \
    "$(xq "$T/sata.xml" /domain/name) $(xq "$T/sata.xml" /domain/memory) $(xq "$T/sata.xml" /domain/vcpu) $(xq "$T/sata.xml" '/domain/devices/interface/source/@network')"
check_eq "libvirt sata: q35 machine, e1000e NIC" "q35 e1000e" \
    "$(xq "$T/sata.xml" '/domain/os/type/@machine') $(xq "$T/sata.xml" '/domain/devices/interface/model/@type')"

"$P2V" vm create --format libvirt --target qemu-ide --disk-mode direct -o "$T/ide.xml" "$mnt"
check "libvirt ide: validates" virt-xml-validate "$T/ide.xml" domain
check_eq "libvirt ide: pc machine, hda on ide" "pc hda ide" \
    "$(xq "$T/ide.xml" '/domain/os/type/@machine') $(xq "$T/ide.xml" '/domain/devices/disk/target/@dev') $(xq "$T/ide.xml" '/domain/devices/disk/target/@bus')"
check_eq "libvirt without --config: facts from the image (hostname)" P2V-TESTHOST "$(xq "$T/ide.xml" /domain/name)"
check_eq "libvirt without --config: 2048 MiB, 2 vCPUs" "2048 2" "$(xq "$T/ide.xml" /domain/memory) $(xq "$T/ide.xml" /domain/vcpu)"
mac=$(xq "$T/ide.xml" '/domain/devices/interface/mac/@address')
check "libvirt without --config: a derived MAC in QEMU's range" grep -qE '^52:54:00(:[0-9a-f]{2}){3}$' <<<"$mac"
"$P2V" vm create --format libvirt --target qemu-ide --disk-mode direct -o "$T/ide2.xml" "$mnt"
check "libvirt: the same inputs give the same bytes (uuid and MAC included)" cmp "$T/ide.xml" "$T/ide2.xml"
"$P2V" vm create --format libvirt --disk-mode readonly "$mnt" >"$T/ro.xml"
check "libvirt readonly: validates, with <readonly/>" \
    sh -c "virt-xml-validate '$T/ro.xml' domain && grep -q '<readonly/>' '$T/ro.xml'"

# ---- Hyper-V -------------------------------------------------------------
ps=$T/win.ps1
check "hyperv: vm create" "$P2V" vm create --format hyperv --config "$T/win.xml" -o "$ps" "$mnt"
check "hyperv: New-VM Generation 1 with the memory" grep -qF 'New-VM -Name $Name -Generation 1 -MemoryStartupBytes 3074MB -NoVHD' "$ps"
check "hyperv: processor count" grep -qF 'Set-VMProcessor -VM $vm -Count 4' "$ps"
check "hyperv: disk on IDE 0:0" grep -qF 'Add-VMHardDiskDrive -VM $vm -ControllerType IDE -ControllerNumber 0 -ControllerLocation 0 -Path $DiskPath' "$ps"
check "hyperv: DVD drive on IDE 1:0" grep -qF 'Add-VMDvdDrive -VM $vm -ControllerNumber 1 -ControllerLocation 0' "$ps"
check "hyperv: static MAC of the source NIC" grep -qF -- "-StaticMacAddress '001B213A4B5C'" "$ps"
check "hyperv: disk path defaults to the image beside the script" grep -qF "(Join-Path \$PSScriptRoot 'disk.vhd')" "$ps"
check "hyperv: BIOS boot order" grep -qF 'Set-VMBios' "$ps"
check "hyperv: stops on errors" grep -qF "\$ErrorActionPreference = 'Stop'" "$ps"
check_eq "hyperv: script is 0700" 700 "$(stat -c %a "$ps")"
"$P2V" vm create --format hyperv --disk-mode overlay --name "it's" "$mnt" >"$T/diff.ps1"
check "hyperv overlay: a differencing disk" grep -qF 'New-VHD -Path $child -ParentPath $DiskPath -Differencing' "$T/diff.ps1"
check "hyperv: names are cleaned of quotes" grep -qF "[string]\$Name = 'it-s'" "$T/diff.ps1"
check_fails "hyperv: Generation 2 needs VHDX" 'Generation 2 attaches VHDX' \
    "$P2V" vm create --format hyperv --generation 2 "$mnt"
p2v_umount "$mnt"

# ---- QEMU: boot the BIOS fixture through the FUSE mount ------------------
export P2V_ACCEL=tcg P2V_DISPLAY=none
mnt=$T/mnt-boot
p2v_mount "$boot" "$mnt" || bad "mounting the BIOS boot fixture failed"
mkdir -p "$T/q"
check "qemu: vm create for the mounted disk.vhd" "$P2V" vm create --format qemu -o "$T/q/bios.sh" "$mnt"
check "qemu: script passes sh -n" sh -n "$T/q/bios.sh"
check "qemu: disk format vpc, overlay mode on a mount" grep -q '^fmt=vpc$' "$T/q/bios.sh"
check "qemu: BIOS machine without pflash" sh -c "! grep -q pflash '$T/q/bios.sh'"
before_vhd=$(hash_of "$mnt/disk.vhd")
if timeout 300 "$T/q/bios.sh" -no-reboot </dev/null >"$T/bios.log" 2>&1; then ok "qemu BIOS: the script ran QEMU to power-off"
else bad "qemu BIOS: the script failed"; tail -5 "$T/bios.log"; fi
check "qemu BIOS: GRUB printed its marker" grep -qa P2V-GRUB-BOOT-OK "$T/bios.log"
check "qemu BIOS: GRUB read the NTFS file" grep -qa P2V-NTFS-FILE-OK "$T/bios.log"
check "qemu BIOS: the VM's writes went to the overlay" test -s "$T/q/p2v-vm-overlay.qcow2"
check "qemu BIOS: overlay backed by the mounted disk.vhd" \
    sh -c "qemu-img info -U '$T/q/p2v-vm-overlay.qcow2' | grep -qF 'backing file: $mnt/disk.vhd'"
check_eq "qemu BIOS: disk.vhd unchanged by the boot" "$before_vhd" "$(hash_of "$mnt/disk.vhd")"
# Issue 19, 4: the overlay is bound to its image (the VHD footer's unique
# id): another image under the same name is refused before QEMU starts.
check_eq "qemu BIOS: the overlay records the image's unique id (the footer's bytes 68-83)" \
    "$(tail -c 512 "$mnt/disk.vhd" | od -An -tx1 -j68 -N16 | tr -d ' \n')" "$(cat "$T/q/p2v-vm-overlay.qcow2.image-id")"
qemu-img create -q -f vpc "$T/q/other.vhd" 64M
ovl_before=$(hash_of "$T/q/p2v-vm-overlay.qcow2")
P2V_DISK=$T/q/other.vhd sh "$T/q/bios.sh" -no-reboot </dev/null >"$T/other.log" 2>&1
check_eq "qemu: another image with the old overlay is refused (exit 1)" 1 $?
check "  saying the overlay holds changes to another image" grep -q "holds the VM's changes to another image" "$T/other.log"
check "  QEMU did not start (no GRUB marker)" sh -c "! grep -qa P2V-GRUB-BOOT-OK '$T/other.log'"
check_eq "  the overlay untouched" "$ovl_before" "$(hash_of "$T/q/p2v-vm-overlay.qcow2")"
sh "$T/q/bios.sh" -p2v-no-such-option </dev/null >"$T/same.log" 2>&1
check "qemu: the same image passes the check (QEMU itself refuses the bogus option)" \
    grep -q "p2v-no-such-option" "$T/same.log"
# Read-only mode attaches the image itself.
"$P2V" vm create --format qemu --disk-mode readonly --name ro -o "$T/q/ro.sh" "$mnt"
if timeout 300 "$T/q/ro.sh" -no-reboot </dev/null >"$T/ro.log" 2>&1 && grep -qa P2V-NTFS-FILE-OK "$T/ro.log"; then
    ok "qemu BIOS read-only: boots from disk.vhd itself"
else bad "qemu BIOS read-only: did not boot"; tail -5 "$T/ro.log"; fi
check_fails "qemu: read-only on IDE is refused" 'cannot attach an ide disk read-only' \
    "$P2V" vm create --format qemu --target qemu-ide --disk-mode readonly "$mnt"
p2v_umount "$mnt"

# ---- QEMU: boot the GPT + ESP fixture with GRUB EFI under OVMF -----------
mnt=$T/mnt-efi
p2v_mount "$efi" "$mnt" || bad "mounting the EFI boot fixture failed"
check "EFI: a UEFI disk becomes disk.vhdx by default" test -f "$mnt/disk.vhdx"
"$P2V" inventory --source "$mnt/disk.vhdx" -o "$T/efi.xml"
check_eq "EFI: the image's inventory says uefi" uefi "$(xq "$T/efi.xml" /machine/firmware/@type)"
check "qemu EFI: vm create" "$P2V" vm create --format qemu --config "$T/efi.xml" --name efi -o "$T/q/efi.sh" "$mnt"
check "qemu EFI: OVMF code and a private VARS copy" \
    sh -c "grep -q 'if=pflash,format=raw,unit=0,readonly=on' '$T/q/efi.sh' && grep -q 'OVMF_VARS_4M.fd' '$T/q/efi.sh'"
if timeout 300 "$T/q/efi.sh" -no-reboot </dev/null >"$T/efi.log" 2>&1; then ok "qemu EFI: the script ran QEMU to power-off"
else bad "qemu EFI: the script failed"; tail -5 "$T/efi.log"; fi
check "qemu EFI: GRUB EFI printed its marker" grep -qa P2V-EFI-BOOT-OK "$T/efi.log"
check "qemu EFI: GRUB read the ext4 file" grep -qa P2V-EFI-FILE-OK "$T/efi.log"
check "qemu EFI: the VARS store was copied beside the script" test -s "$T/q/efi-VARS.fd"
check_fails "libvirt: a VHDX is refused (libvirt has no VHDX format)" 'libvirt does not take VHDX' \
    "$P2V" vm create --format libvirt "$mnt"
check "qemu EFI: the script attaches the VHDX" grep -q '^fmt=vhdx$' "$T/q/efi.sh"
gen2=$T/efi.ps1
check "hyperv EFI: vm create from the VHDX" "$P2V" vm create --format hyperv -o "$gen2" "$mnt"
check "hyperv EFI: Generation 2" grep -qF -- '-Generation 2 ' "$gen2"
check "hyperv EFI: disk on SCSI" grep -qF 'Add-VMHardDiskDrive -VM $vm -ControllerType SCSI -ControllerNumber 0 -ControllerLocation 0' "$gen2"
check "hyperv EFI: DVD on SCSI 0:1" grep -qF 'Add-VMDvdDrive -VM $vm -ControllerNumber 0 -ControllerLocation 1' "$gen2"
check "hyperv EFI: boots from the disk, Secure Boot off for an unknown OS" \
    grep -qF 'Set-VMFirmware -VM $vm -FirstBootDevice $disk -EnableSecureBoot Off' "$gen2"
check "hyperv EFI: the disk path is disk.vhdx" grep -qF "(Join-Path \$PSScriptRoot 'disk.vhdx')" "$gen2"
check_fails "hyperv EFI: Generation 1 cannot boot UEFI" 'Generation 2 only' \
    "$P2V" vm create --format hyperv --generation 1 "$mnt"
check_eq "p2v umount of a mount without a snapshot says nothing" "" "$("$P2V" umount "$mnt" 2>&1)"
p2v_mount "$efi" "$mnt" --format vhd || bad "mounting the EFI fixture as a VHD failed"
"$P2V" vm create --format libvirt --config "$T/efi.xml" -o "$T/efi-domain.xml" "$mnt"
check "libvirt EFI: validates" virt-xml-validate "$T/efi-domain.xml" domain
check_eq "libvirt EFI: firmware efi" efi "$(xq "$T/efi-domain.xml" /domain/os/@firmware)"
check_fails "hyperv EFI: a VHD cannot be Generation 2" 'Generation 2 attaches VHDX' \
    "$P2V" vm create --format hyperv "$mnt"
p2v_umount "$mnt"

# ---- Errors ---------------------------------------------------------------
check_fails "no --format: usage" 'usage' "$P2V" vm create "$T/boot.img"
"$P2V" vm create "$boot" >/dev/null 2>&1; check_eq "no --format: exit 2" 2 $?
check_fails "unknown format" "--format is libvirt, hyperv or qemu, not 'vmx'" "$P2V" vm create --format vmx "$boot"
check_fails "hyperv target with the libvirt format" 'does not go with --format libvirt' \
    "$P2V" vm create --format libvirt --target hyperv "$boot"
check_fails "missing image" 'No such file' "$P2V" vm create --format qemu "$T/nothing.vhd"
echo '<machine version="1" origin="running"><cpu/></machine>' >"$T/bad.xml"
check_fails "a configuration that does not validate names the file" "machine configuration $T/bad.xml" \
    "$P2V" vm create --format qemu --config "$T/bad.xml" "$boot"
check_fails "bad --memory" 'memory takes a number' "$P2V" vm create --format qemu --memory 0 "$boot"

for s in "$win" "$boot" "$efi"; do check_eq "source $(basename "$s") unchanged" "${before[$s]}" "$(hash_of "$s")"; done
finish
