#!/bin/bash
# qemu-efi-boot-check.sh IMAGE FORMAT
#
# Boot IMAGE (raw, vpc or vhdx) in QEMU/TCG with OVMF (UEFI) firmware and the
# serial console on stdio, and check that the guest printed both markers
# written by mkefidisk.sh:
#   P2V-EFI-BOOT-OK  - OVMF found and ran /EFI/BOOT/BOOTX64.EFI (GPT + ESP ok)
#   P2V-EFI-FILE-OK  - GRUB read hello.txt from the ext4 partition
# Neither marker appears literally in the GRUB config (the first is assembled
# from two variables, the second exists only inside hello.txt), so GRUB
# echoing its config or commands cannot fake a PASS.
# GRUB halts the VM itself (EFI ResetSystem shutdown, QEMU exits); `timeout`
# is only a safety net for hangs.
set -eu

[ $# -eq 2 ] || { echo "usage: $0 IMAGE FORMAT(raw|vpc|vhdx)" >&2; exit 2; }
img=$1
fmt=$2
case $fmt in raw|vpc|vhdx) ;; *) echo "$0: unsupported format $fmt" >&2; exit 2 ;; esac
[ -r "$img" ] || { echo "$0: cannot read $img" >&2; exit 2; }
case $img in *,*) echo "$0: image path must not contain ',' (QEMU -drive syntax)" >&2; exit 2 ;; esac

ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
for f in "$ovmf_code" "$ovmf_vars"; do
    [ -r "$f" ] || { echo "$0: $f missing (package ovmf)" >&2; exit 2; }
done

# QEMU_BOOT_LOG=path keeps the serial log there; otherwise a temp log is
# used and removed on PASS (kept on FAIL for inspection).
keep_log=${QEMU_BOOT_LOG:+1}
log=${QEMU_BOOT_LOG:-$(mktemp "${TMPDIR:-/tmp}/qemu-efi-boot.XXXXXX.log")}
limit=${QEMU_BOOT_TIMEOUT:-180}

# OVMF writes its variable store (it records boot options on the first boot),
# so it gets a private copy: the system's template stays pristine and every
# run starts from the same state. (This non-secure-boot build also boots with
# a read-only store, but a writable one is the supported setup.)
vars=$(mktemp "${TMPDIR:-/tmp}/qemu-efi-vars.XXXXXX.fd")
trap 'rm -f "$vars"' EXIT
trap 'exit 1' HUP INT TERM                   # run the EXIT trap on signals too
cp "$ovmf_vars" "$vars"

start=$(date +%s%N)
rc=0
# q35 is the machine OVMF is mainly built and tested for (its secure-boot
# builds need it for SMM; this plain build would also run on -machine pc).
# A truly read-only virtio-blk attach, as users must attach p2v's image; OVMF
# boots it through the removable-media path \EFI\BOOT\BOOTX64.EFI.
# -nic none: otherwise QEMU adds a NIC whose iPXE ROM OVMF loads too, and
# after a failed disk boot it would try network boot before giving up.
# stdin from /dev/null: nothing can be typed into OVMF/GRUB and QEMU leaves
# the caller's terminal alone. TCG is forced so results do not depend on KVM.
timeout "$limit" qemu-system-x86_64 -nographic -no-reboot -m 256 \
    -machine q35 -accel tcg -nic none \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code" \
    -drive "if=pflash,format=raw,unit=1,file=$vars" \
    -drive "file=$img,format=$fmt,readonly=on,if=virtio" \
    </dev/null >"$log" 2>&1 || rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

fail=""
[ "$rc" -eq 124 ] && fail="timed out after ${limit}s"
[ -z "$fail" ] && [ "$rc" -ne 0 ] && fail="qemu exited with status $rc"
for m in P2V-EFI-BOOT-OK P2V-EFI-FILE-OK; do
    grep -q "$m" "$log" || fail="${fail:+$fail; }marker $m missing"
done

if [ -z "$fail" ]; then
    if [ -n "$keep_log" ]; then
        echo "PASS: $img ($fmt) booted, both markers seen in ${elapsed_ms} ms (log: $log)"
    else
        rm -f "$log"
        echo "PASS: $img ($fmt) booted, both markers seen in ${elapsed_ms} ms"
    fi
    exit 0
fi
echo "FAIL: $img ($fmt): $fail (after ${elapsed_ms} ms, log: $log)"
echo "---- last 40 lines of $log ----"
tail -n 40 "$log" | tr -d '\033' | cat -v
exit 1
