#!/bin/bash
# qemu-boot-check.sh IMAGE FORMAT
#
# Boot IMAGE (raw, vpc or vhdx) in QEMU/TCG with the serial console on stdio
# and check that the guest printed both markers written by mkbootdisk.sh:
#   P2V-GRUB-BOOT-OK  - GRUB's core image ran (MBR + post-MBR gap intact)
#   P2V-NTFS-FILE-OK  - GRUB read hello.txt from the NTFS partition
# GRUB halts the VM itself; `timeout` is only a safety net for hangs.
set -eu

[ $# -eq 2 ] || { echo "usage: $0 IMAGE FORMAT(raw|vpc|vhdx)" >&2; exit 2; }
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

start=$(date +%s%N)
rc=0
# A truly read-only attach, as users must attach p2v's image: QEMU's ide-hd
# refuses read-only nodes, virtio-blk takes them and SeaBIOS boots from it.
# stdin from /dev/null: nothing can be typed into GRUB and QEMU leaves the
# caller's terminal alone. TCG is forced so results do not depend on KVM.
timeout "$limit" qemu-system-x86_64 -nographic -no-reboot -m 128 \
    -accel tcg \
    -drive "file=$img,format=$fmt,readonly=on,if=virtio" \
    </dev/null >"$log" 2>&1 || rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))

fail=""
[ "$rc" -eq 124 ] && fail="timed out after ${limit}s"
[ -z "$fail" ] && [ "$rc" -ne 0 ] && fail="qemu exited with status $rc"
for m in P2V-GRUB-BOOT-OK P2V-NTFS-FILE-OK; do
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
