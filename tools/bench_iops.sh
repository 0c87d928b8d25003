#!/bin/bash
# Random-read IOPS with 8 concurrent readers: p2v's fixed and dynamic VHD
# and dynamic VHDX views of a source, and xmount's VHD of the same source,
# measured in the same run (stacks interleaved), with ratios against xmount.
# A fifth stack, fixed-sc, is the fixed VHD with --source-cache: p2v reads
# the source with O_DIRECT by default, xmount through the page cache.
# The load is tests/it_load.sh's (tests/randread.py): random offsets and
# lengths from 1 byte to 1 MiB, readers 1, 3, 5, 7 with O_DIRECT, the others
# buffered and dropping what they read from the page cache, so every read
# reaches the FUSE daemon.  Nothing is compared here (it_load.sh does that).
# Usage: tools/bench_iops.sh [BUILD/p2v]
# Env: BENCH_IOPS_SECONDS (60 per stack and run), BENCH_IOPS_RUNS (1; the
#      median is reported), BENCH_IOPS_READERS (8), BENCH_SIZE_MIB (2048),
#      BENCH_DIR (/var/tmp/p2v-bench; the source is tools/bench.sh's)
# Root only (drop_caches, FUSE mounts).  Always exits 0 when it could measure.
set -eu
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
P2V=$(realpath "${1:-build/p2v}")
secs=${BENCH_IOPS_SECONDS:-60}
runs=${BENCH_IOPS_RUNS:-1}
readers=${BENCH_IOPS_READERS:-8}
size_mib=${BENCH_SIZE_MIB:-2048}
dir=${BENCH_DIR:-/var/tmp/p2v-bench}
src=$dir/source.img
pmnt=$dir/iops-p2v    # not bench.sh's mount points: the two may run at once
xmnt=$dir/iops-xmount
mkdir -p "$dir"
work=$(mktemp -d "$dir/iops-work.XXXXXX")   # not /tmp: cleaned by others on a shared machine
stacks="fixed dynamic vhdx xmount fixed-sc"

say() { echo "$*" >&2; }
die() { say "bench_iops: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (drop_caches, FUSE mounts)"
[ -x "$P2V" ] || die "$P2V: not built (run make)"
command -v xmount >/dev/null || die "xmount missing (make deps)"

rpids=()
unmount_all() {
    local p
    for p in "${rpids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if mountpoint -q "$pmnt"; then "$P2V" umount "$pmnt" || umount -l "$pmnt"; fi
    if mountpoint -q "$xmnt"; then fusermount -u "$xmnt" || umount -l "$xmnt"; fi
}
trap 'unmount_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$pmnt" "$xmnt"
unmount_all
[ "$(stat -f -c %T "$dir")" != tmpfs ] || die "$dir is on tmpfs; set BENCH_DIR"

# The source, as tools/bench.sh makes it (and reuses): random data with 1
# in 4 of the 2 MiB blocks zero.
bytes=$((size_mib * 1024 * 1024))
if [ "$(stat -c %s "$src" 2>/dev/null || echo 0)" != "$bytes" ]; then
    say "creating $size_mib MiB source $src"
    python3 - "$src.tmp" "$bytes" <<'PY'
import os, random, sys
path, size = sys.argv[1], int(sys.argv[2])
blk, rng = 2 << 20, random.Random(2)
with open(path, "wb") as f:
    for off in range(0, size, blk):
        n = min(blk, size - off)
        f.write(bytes(n) if rng.random() < 0.25 else os.urandom(n))
    os.fsync(f.fileno())
PY
    mv "$src.tmp" "$src"
fi

# One run of a stack: cold caches, mount, the readers for $secs seconds,
# the serving process's CPU time, unmount.  Prints "IOPS MB/s P50_MS CPU_S".
run_once() {
    local file pid="" r seed=$2
    sync; echo 3 >/proc/sys/vm/drop_caches
    case $1 in
        fixed|dynamic)
            "$P2V" mount -q --format vhd --type "$1" "$src" "$pmnt" >&2; file=$pmnt/disk.vhd
            pid=$(pgrep -n -f "p2v mount -q --format vhd --type $1 $src") ;;
        fixed-sc)  # diagnostic: the source through the page cache, as xmount reads it
            "$P2V" mount -q --source-cache --format vhd --type fixed "$src" "$pmnt" >&2; file=$pmnt/disk.vhd
            pid=$(pgrep -n -f "p2v mount -q --source-cache --format vhd --type fixed $src") ;;
        vhdx)
            "$P2V" mount -q --format vhdx "$src" "$pmnt" >&2; file=$pmnt/disk.vhdx
            pid=$(pgrep -n -f "p2v mount -q --format vhdx $src") ;;
        xmount)
            xmount --in raw "$src" --out vhd "$xmnt" >&2
            file=$(ls "$xmnt"/*.vhd)
            pid=$(pgrep -n -f "xmount --in raw $src") ;;
    esac
    local cpu0 cpu1 hz
    hz=$(getconf CLK_TCK)
    cpu0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    rpids=()
    for ((r = 0; r < readers; r++)); do
        timeout -k 5 $((secs + 120)) python3 tests/randread.py read "$file" --index "$r" \
            --seconds "$secs" --seed "$seed" >"$work/r$r" 2>"$work/e$r" &
        rpids+=($!)
    done
    for r in "${rpids[@]}"; do wait "$r" || say "$1: a reader failed (exit $?)"; done
    rpids=()
    cpu1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    python3 tests/randread.py sum "$work"/r[0-9]* >"$work/sum" || say "$1: $(cat "$work/sum")"
    python3 - "$work/sum" "$cpu0" "$cpu1" "$hz" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(s["iops"], s["mb_s"], s.get("p50_ms", 0), "%.1f" % ((float(sys.argv[3]) - float(sys.argv[2])) / int(sys.argv[4])))
PY
    rm -f "$work"/r[0-9]* "$work"/e[0-9]*
    unmount_all
}

median() { tr ' ' '\n' | sort -g | awk 'NF { v[++n] = $1 }
    END { print n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }

echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "kernel:  $(uname -r)"
echo "cpus:    $(nproc) ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))"
echo "memory:  $(awk '/^MemTotal/ { t = $2 } /^MemAvailable/ { a = $2 } END {
    printf "%.1f GiB total, %.1f GiB available", t / 1048576, a / 1048576 }' /proc/meminfo)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (before the runs)"
echo "source:  $src, $size_mib MiB on $(findmnt -no FSTYPE,SOURCE -T "$dir")"
echo "p2v:     $("$P2V" --version 2>/dev/null || echo "$P2V")"
echo "xmount:  $(xmount --version 2>&1 | awk 'NR == 1 { print $2 }')"
echo "method:  $readers readers (tests/randread.py), random offsets, lengths 1 B-1 MiB, half O_DIRECT,"
echo "         $secs s per stack and run, $runs run(s), stacks interleaved, caches dropped before each"
echo

declare -A iops mbs p50 cpu
for i in $(seq "$runs"); do
    for stack in $stacks; do
        out=$(run_once "$stack" "$i")
        read -r a b c d <<<"$out"
        [ -n "$d" ] || die "$stack: no result"
        say "run $i $stack: $a IOPS, $b MB/s, p50 $c ms, server cpu $d s"
        iops[$stack]="${iops[$stack]:-} $a" mbs[$stack]="${mbs[$stack]:-} $b"
        p50[$stack]="${p50[$stack]:-} $c" cpu[$stack]="${cpu[$stack]:-} $d"
    done
done

declare -A med
printf '%-8s %8s %8s %8s %8s  %s\n' stack IOPS "MB/s" "p50 ms" "cpu s" "runs (IOPS)"
for stack in $stacks; do
    med[$stack]=$(echo ${iops[$stack]} | median)
    printf '%-8s %8s %8s %8s %8s  %s\n' "$stack" "${med[$stack]}" "$(echo ${mbs[$stack]} | median)" \
        "$(echo ${p50[$stack]} | median)" "$(echo ${cpu[$stack]} | median)" "$(echo ${iops[$stack]} | tr ' ' ,)"
done
echo "(p50: the median reader's median latency of one read; cpu s: CPU time of the serving process during the run;"
echo " fixed-sc: the fixed VHD mounted with --source-cache)"
echo
for stack in fixed dynamic vhdx fixed-sc; do
    printf '%-15s %s\n' "$stack/xmount" "$(awk -v a="${med[$stack]}" -v b="${med[xmount]}" 'BEGIN { printf "%.2f", a / b }')"
done
