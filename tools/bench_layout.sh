#!/bin/bash
# make bench, part 2: the disk layout at scale.
#  1. A 2000 GiB sparse NTFS volume (quick format, 1 GiB of files): time
#     until the dynamic view is mounted, and the peak memory of that work.
#     Targets: under 2 s, under 64 MiB.
#  2. A 4 GiB disk whose NTFS partition is 25% full (with old data in its
#     free space): mount + `cp MNT/disk.vhd` against `qemu-img convert -O
#     vpc` of the same source, cold cache, medians of 3.  Target: <= 0.35x.
#  3. An NTFS volume with BENCH_NTFS_FILES files (default 1000000) in 1000
#     directories, 5% of them deleted: time and peak memory of the mount,
#     which maps the deleted data kept in metadata (issue 20: one pass over
#     $MFT), against a mount with --keep-free-space (no maps at all), and
#     of `info --json`, which rewrites a copy of every MFT record and index
#     block to count what changes.  Targets: mount under 10 s, under 64 MiB.
# Usage: tools/bench_layout.sh BUILD/p2v   (root; scratch in BENCH_DIR)
set -eu
P2V=$(realpath "${1:-build/p2v}")
dir=${BENCH_DIR:-/var/tmp/p2v-bench}/layout
mnt=$dir/mnt
mkdir -p "$dir" "$mnt" "$dir/m"
cleanup() {
    mountpoint -q "$mnt" && "$P2V" umount "$mnt"
    mountpoint -q "$dir/m" && umount "$dir/m"
    rm -f "$dir/out.vhd"
}
trap cleanup EXIT
say() { echo "$*" >&2; }
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
median() { tr ' ' '\n' | sort -g | awk 'NF { v[++n] = $1 } END { print v[int((n + 1) / 2)] }'; }

big=$dir/big2000g.ntfs
if [ ! -f "$big" ]; then
    say "creating a 2000 GiB sparse NTFS volume with 1 GiB of files"
    truncate -s 2000G "$big.tmp"
    mkntfs -q -F -Q -L BIG "$big.tmp" >/dev/null 2>&1
    head -c $((1 << 30)) /dev/urandom >"$dir/f.bin"
    ntfscp -q "$big.tmp" "$dir/f.bin" f.bin
    rm -f "$dir/f.bin"
    mv "$big.tmp" "$big"
fi
cold
read -r secs rss < <(python3 - "$P2V" "$big" "$mnt" <<'PY'
import resource, subprocess, sys, time
t = time.time()
subprocess.run([sys.argv[1], "mount", "-q", sys.argv[2], sys.argv[3]], check=True)
print("%.2f %d" % (time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024))
PY
)
vhd_size=$(stat -c %s "$mnt/disk.vhd")
"$P2V" umount "$mnt"

disk=$dir/disk4g.img
if [ ! -f "$disk" ]; then
    say "creating a 4 GiB disk with a 25%-full NTFS partition"
    head -c $((4 << 30)) /dev/urandom >"$disk.tmp"        # old data everywhere
    printf 'label: dos\nstart=2048, type=7\n' | sfdisk -q "$disk.tmp"
    loop=$(losetup -f --show -o $((1 << 20)) "$disk.tmp")
    mkntfs -q -F -Q -p 2048 "$loop" >/dev/null 2>&1
    ntfs-3g "$loop" "$dir/m"
    for i in $(seq 8); do head -c $((128 << 20)) /dev/urandom >"$dir/m/f$i.bin"; done
    umount "$dir/m"
    losetup -d "$loop"
    mv "$disk.tmp" "$disk"
fi
# timed CMD...: "seconds peak-RSS-MiB" of CMD, cold cache.
timed() {
    cold
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.time()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print("%.2f %d" % (time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024))
PY
}
nfiles=${BENCH_NTFS_FILES:-1000000}
many=$dir/many$nfiles.ntfs
if [ ! -f "$many" ]; then
    say "creating an NTFS volume with $nfiles files (once; several minutes for a million)"
    truncate -s $((nfiles / 1000 * 5 + 512))M "$many.tmp"
    mkntfs -q -F -Q -L MANY "$many.tmp" >/dev/null 2>&1
    ntfs-3g -o big_writes "$many.tmp" "$dir/m"
    python3 - "$dir/m" "$nfiles" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = max(1, n // 1000)
for i in range(n):
    d = os.path.join(root, "dir%04d" % (i // per))
    if i % per == 0:
        os.mkdir(d)
    p = os.path.join(d, "a-file-with-a-longish-name-%07d.txt" % i)
    with open(p, "w") as f:
        f.write("deleted-or-kept %d\n" % i * 4)
    if i % 20 == 7:
        os.unlink(p)
PY
    umount "$dir/m"
    mv "$many.tmp" "$many"
fi
read -r many_s many_rss < <(timed "$P2V" mount -q "$many" "$mnt")
"$P2V" umount "$mnt"
read -r keep_s keep_rss < <(timed "$P2V" mount -q --keep-free-space "$many" "$mnt")
"$P2V" umount "$mnt"
read -r info_s info_rss < <(timed "$P2V" info --json "$many")

p2v_t="" qemu_t=""
for i in 1 2 3; do
    cold
    t0=$(date +%s.%N)
    "$P2V" mount -q "$disk" "$mnt"
    cp "$mnt/disk.vhd" "$dir/out.vhd"
    t1=$(date +%s.%N)
    "$P2V" umount "$mnt"
    rm -f "$dir/out.vhd"
    cold
    t2=$(date +%s.%N)
    qemu-img convert -O vpc "$disk" "$dir/out.vhd"
    t3=$(date +%s.%N)
    rm -f "$dir/out.vhd"
    p2v_t="$p2v_t $(sub "$t1" "$t0")" qemu_t="$qemu_t $(sub "$t3" "$t2")"
    say "run $i: p2v mount+cp $(sub "$t1" "$t0") s, qemu-img convert $(sub "$t3" "$t2") s"
done
pm=$(echo $p2v_t | median) qm=$(echo $qemu_t | median)
echo "2000 GiB sparse NTFS, 1 GiB used: dynamic mount ${secs} s (target < 2), peak RSS ${rss} MiB (target < 64), disk.vhd ${vhd_size} bytes"
echo "4 GiB disk, NTFS 25% full: p2v mount + cp disk.vhd ${pm} s, qemu-img convert -O vpc ${qm} s, ratio $(awk -v a="$pm" -v b="$qm" 'BEGIN { printf "%.2f", a / b }') (target <= 0.35)"
echo "NTFS, $nfiles files (5% deleted): mount ${many_s} s (target < 10), peak RSS ${many_rss} MiB (target < 64); with --keep-free-space ${keep_s} s, ${keep_rss} MiB (ratio $(awk -v a="$many_s" -v b="$keep_s" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')); info --json ${info_s} s, ${info_rss} MiB"
