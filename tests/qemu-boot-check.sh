#!/bin/bash
# qemu-boot-check.sh [--efi] IMAGE FORMAT
#
# Boot IMAGE (raw, vpc or vhdx) in QEMU/TCG with the serial console on stdio
# and check that the guest printed both markers its builder planted:
#   BIOS (tests/mkbootdisk.sh):
#     P2V-GRUB-BOOT-OK  GRUB's core image ran (MBR + post-MBR gap intact)
#     P2V-NTFS-FILE-OK  GRUB read hello.txt from the NTFS partition
#   --efi, under OVMF (tests/mkefidisk.sh):
#     P2V-EFI-BOOT-OK   OVMF ran /EFI/BOOT/BOOTX64.EFI (GPT + ESP intact)
#     P2V-EFI-FILE-OK   GRUB read hello.txt from the ext4 partition
# No marker appears literally in a GRUB config (they are assembled from
# variables or exist only inside hello.txt), so GRUB echoing its config
# cannot fake a PASS.  GRUB halts the VM itself; `timeout` is only a safety
# net for hangs.
set -eu

efi=0
[ "${1:-}" = --efi ] && { efi=1; shift; }
[ $# -eq 2 ] || { echo "usage: $0 [--efi] IMAGE FORMAT(raw|vpc|vhdx)" >&2; exit 2; }
img=$1
fmt=$2
case $fmt in raw|vpc|vhdx) ;; *) echo "$0: unsupported format $fmt" >&2; exit 2 ;; esac
[ -r "$img" ] || { echo "$0: cannot read $img" >&2; exit 2; }
case $img in *,*) echo "$0: image path must not contain ',' (QEMU -drive syntax)" >&2; exit 2 ;; esac

# QEMU_BOOT_LOG=path keeps the serial log there; otherwise a temp log is
# used and removed on PASS (kept on FAIL for inspection).
keep_log=${QEMU_BOOT_LOG:+1}
log=${QEMU_BOOT_LOG:-$(mktemp "${TMPDIR:-/tmp}/qemu-boot.XXXXXX.log")}
limit=${QEMU_BOOT_TIMEOUT:-180}

machine=() markers=(P2V-GRUB-BOOT-OK P2V-NTFS-FILE-OK)
if ((efi)); then
    ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
    for f in "$ovmf_code" "$ovmf_vars"; do
        [ -r "$f" ] || { echo "$0: $f missing (package ovmf)" >&2; exit 2; }
    done
    # OVMF records boot options in its variable store on the first boot: a
    # private copy keeps the system's template pristine and every run equal.
    vars=$(mktemp "${TMPDIR:-/tmp}/qemu-efi-vars.XXXXXX.fd")
    trap 'rm -f "$vars"' EXIT
    trap 'exit 1' HUP INT TERM
    cp "$ovmf_vars" "$vars"
    # q35 is what OVMF is built and tested for.  -nic none: otherwise OVMF
    # also loads the NIC's iPXE ROM and tries network boot after a failure.
    machine=(-machine q35 -m 256 -nic none
             -drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf_code"
             -drive "if=pflash,format=raw,unit=1,file=$vars")
    markers=(P2V-EFI-BOOT-OK P2V-EFI-FILE-OK)
else
    machine=(-m 128)
fi

start=$(date +%s%N)
rc=0
# A truly read-only attach, as users must attach p2v's image: QEMU's ide-hd
# refuses read-only nodes, virtio-blk takes them and SeaBIOS and OVMF boot
# from it.  stdin from /dev/null: nothing can be typed into GRUB and QEMU
# leaves the caller's terminal alone.  TCG is forced so results do not
# depend on KVM.
timeout "$limit" qemu-system-x86_64 -nographic -no-reboot -accel tcg "${machine[@]}" \
    -drive "file=$img,format=$fmt,readonly=on,if=virtio" \
    </dev/null >"$log" 2>&1 || rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

fail=""
[ "$rc" -eq 124 ] && fail="timed out after ${limit}s"
[ -z "$fail" ] && [ "$rc" -ne 0 ] && fail="qemu exited with status $rc"
for m in "${markers[@]}"; do
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
