#!/bin/bash
# The p2v binary under valgrind: `info`, an error path, and a foreground
# mount that serves reads from several threads, must show no errors and
# no leaks.
. "$(dirname "$0")/lib.sh"

if ldd "$P2V" | grep -q libasan; then
    echo "  skip: $P2V is built with AddressSanitizer, which cannot run under valgrind"
    finish; exit
fi
VG=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect)
src=$T/src.img
make_mixed "$src" 8 5
check "valgrind: p2v info --json" "${VG[@]}" "$P2V" info --json "$src"
bash tests/mkbootdisk.sh "$T/ntfs.img" 16 >/dev/null 2>"$T/mkboot.err" ||
    bad "building the MBR + NTFS disk: $(tail -3 "$T/mkboot.err")"
check "valgrind: p2v info of an MBR + NTFS disk (libblkid, libntfs-3g)" "${VG[@]}" "$P2V" info -q "$T/ntfs.img"
"${VG[@]}" "$P2V" mount "$T/missing" "$T" >"$T/vg.out" 2>&1
check_eq "valgrind: p2v mount of a missing source fails cleanly (exit 1, no errors)" 1 "$?"

mnt=$T/mnt
mkdir -p "$mnt"
MOUNTS+=("$mnt")
mkfifo "$T/err"
"${VG[@]}" --log-file="$T/vg.log" "$P2V" mount -f "$src" "$mnt" 2>"$T/err" &
pid=$!
exec 3<"$T/err"
while read -r line <&3; do case $line in *"ready: $mnt"*) break ;; esac; done
check "reads under valgrind are correct" python3 tests/parallel_read.py "$mnt/disk.raw" "$src" 4 50 3
python3 - "$mnt/disk.raw" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.lseek(fd, 0, os.SEEK_HOLE); os.lseek(fd, 2 << 20, os.SEEK_DATA)
PY
"$P2V" umount "$mnt"
wait "$pid"
rc=$?
check_eq "valgrind: foreground mount exits 0 with no errors or leaks" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$T/vg.log"
finish
