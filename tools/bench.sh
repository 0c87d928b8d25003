#!/bin/bash
# make bench: cold-cache sequential read throughput of a source disk, of
# p2v's fixed and dynamic VHD views and dynamic VHDX view of it, and of
# xmount's VHD of it.
# Usage: tools/bench.sh [--json] [--warm] [BUILD/p2v]
#   --json  results as JSON on stdout (progress stays on stderr)
#   --warm  diagnostic: keep the source in the page cache, so only the view
#           is cold and the FUSE path is timed without the storage under it
# Env: BENCH_SIZE_MIB (default 2048), BENCH_RUNS (3), BENCH_DIR (/var/tmp/p2v-bench),
#      BENCH_SETTLE (seconds to wait between dropping the caches and a read; 10)
# Root only: dropping the page cache is what makes every run cold.
set -eu
shopt -s inherit_errexit   # a failed mount inside run_once stops the bench

json=0 warm=0
while [ $# -gt 0 ]; do
    case $1 in
        --json) json=1 ;;
        --warm) warm=1 ;;
        *) break ;;
    esac
    shift
done
P2V=$(realpath "${1:-build/p2v}")
size_mib=${BENCH_SIZE_MIB:-2048}
runs=${BENCH_RUNS:-3}
settle=${BENCH_SETTLE:-10}
dir=${BENCH_DIR:-/var/tmp/p2v-bench}   # /var/tmp: on disk, not tmpfs
src=$dir/source.img
pmnt=$dir/p2v
xmnt=$dir/xmount
stacks="source fixed dynamic vhdx xmount"

say() { echo "$*" >&2; }   # progress on stderr keeps stdout for the results
die() { say "bench: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (drop_caches, FUSE mounts)"
[ -x "$P2V" ] || die "$P2V: not built (run make)"
command -v xmount >/dev/null || die "xmount missing (make deps)"

# Never leave anything mounted, whatever way we exit.
unmount_all() {
    if mountpoint -q "$pmnt"; then "$P2V" umount "$pmnt" || umount -l "$pmnt"; fi
    if mountpoint -q "$xmnt"; then fusermount -u "$xmnt" || umount -l "$xmnt"; fi
}
trap unmount_all EXIT
trap 'exit 130' INT TERM
mkdir -p "$pmnt" "$xmnt"
unmount_all   # leftovers of an interrupted run

[ "$(stat -f -c %T "$dir")" != tmpfs ] || die "$dir is on tmpfs; set BENCH_DIR"

# Source: random data with 1 in 4 of the 2 MiB blocks zero (at random,
# fixed seed), so the dynamic VHD has blocks to leave out.  Built under a
# temporary name and reused when the size matches: it takes a while.
bytes=$((size_mib * 1024 * 1024))
if [ "$(stat -c %s "$src" 2>/dev/null || echo 0)" != "$bytes" ]; then
    say "creating $size_mib MiB source $src"
    python3 - "$src.tmp" "$bytes" <<'EOF'
import os, random, sys
path, size = sys.argv[1], int(sys.argv[2])
blk, rng = 2 << 20, random.Random(2)
with open(path, "wb") as f:
    for off in range(0, size, blk):
        n = min(blk, size - off)
        f.write(bytes(n) if rng.random() < 0.25 else os.urandom(n))
    os.fsync(f.fileno())
EOF
    mv "$src.tmp" "$src"
fi

# Cold: nothing of the source or of a view in the page cache.  Warm: the
# source is read back in; a view is still cold since each run mounts anew.
cold() {
    sync; echo 3 >/proc/sys/vm/drop_caches
    if [ $warm = 1 ]; then cat "$src" >/dev/null; fi
}

# Prints "BYTES SECONDS" for one 1 MiB-block sequential read of $1.
timed_read() {
    LC_ALL=C dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ { print $1, $(NF-3) }'
}

# One run of a stack: cold cache, mount (timed: the dynamic type scans the
# source), cold cache again, read, unmount.  A new mount each run means no
# FUSE page cache (p2v opens with keep_cache) survives between runs.
# Prints "BYTES SECONDS MOUNT_SECONDS" (mount chatter goes to stderr).
run_once() {
    local t0 t1 file pid=""
    cold
    t0=$(date +%s.%N)
    case $1 in
        source) file=$src ;;
        fixed|dynamic)
            "$P2V" mount -q --format vhd --type "$1" "$src" "$pmnt" >&2; file=$pmnt/disk.vhd
            pid=$(pgrep -n -f "p2v mount -q --format vhd --type $1 $src") ;;
        vhdx)  # dynamic, 32 MiB blocks (the default)
            "$P2V" mount -q --format vhdx "$src" "$pmnt" >&2; file=$pmnt/disk.vhdx
            pid=$(pgrep -n -f "p2v mount -q --format vhdx $src") ;;
        xmount)
            xmount --in raw "$src" --out vhd "$xmnt" >&2
            file=$(ls "$xmnt"/*.vhd)
            pid=$(pgrep -n -f "xmount --in raw $src") ;;
    esac
    t1=$(date +%s.%N)
    cold
    # In a VM with free page reporting (virtio-balloon), pages freed by
    # drop_caches go back to the host within seconds and cost host faults
    # when reused: a settle time makes every run pay that alike.
    sleep "$settle"
    local io
    io=$(timed_read "$file")
    # CPU seconds the serving process spent (user + system): unlike MB/s,
    # this barely moves with the shared storage's mood.  The daemon is
    # forked after the dynamic scan, so this is serving cost alone.
    local cpu=0
    [ -z "$pid" ] || cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat")
    echo "$io $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $cpu"
    unmount_all
}

median() { tr ' ' '\n' | sort -g | awk 'NF { v[++n] = $1 }
    END { print n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }

env_kernel=$(uname -r)
env_cpus=$(nproc)
env_cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
env_mem=$(awk '/^MemTotal/ { t = $2 } /^MemAvailable/ { a = $2 } END {
    printf "%.1f GiB total, %.1f GiB available", t / 1048576, a / 1048576 }' /proc/meminfo)
env_load=$(cut -d' ' -f1-3 /proc/loadavg)   # others' load skews the numbers
mode=$([ $warm = 1 ] && echo "warm source (in page cache), cold view" || echo "cold cache")
if [ $json = 0 ]; then
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel:  $env_kernel"
    echo "cpus:    $env_cpus ($env_cpu)"
    echo "memory:  $env_mem"
    echo "load:    $env_load (before the runs)"
    echo "source:  $src, $size_mib MiB on $(findmnt -no FSTYPE,SOURCE -T "$dir")"
    echo "p2v:     $("$P2V" --version 2>/dev/null || echo "$P2V")"
    echo "xmount:  $(xmount --version 2>&1 | awk 'NR == 1 { print $2 }')"
    echo "method:  $mode, dd bs=1M, median of $runs runs, stacks interleaved, settle ${settle} s"
    echo
fi

# Round-robin over the stacks, so a slow spell of the (shared, virtual)
# storage hits every stack alike instead of one stack's runs.
declare -A rate secs mnts nbytes cpus
for i in $(seq "$runs"); do
    for stack in $stacks; do
        # $(...) waits for run_once, unmount included, before the next run.
        out=$(run_once "$stack")
        read -r b s m c <<<"$out"
        [ -n "$c" ] || die "$stack: read failed"
        r=$(awk -v b="$b" -v s="$s" 'BEGIN { printf "%.1f", b / s / 1e6 }')
        say "run $i $stack: $r MB/s ($b bytes in $s s, mount $m s, server cpu $c s)"
        rate[$stack]="${rate[$stack]:-} $r" secs[$stack]="${secs[$stack]:-} $s"
        mnts[$stack]="${mnts[$stack]:-} $m" nbytes[$stack]=$b cpus[$stack]="${cpus[$stack]:-} $c"
    done
done

declare -A mbs
for stack in $stacks; do mbs[$stack]=$(echo ${rate[$stack]} | median); done
ratio() { awk -v a="${mbs[$1]}" -v b="${mbs[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
meets() { awk -v r="$1" -v t="$2" 'BEGIN { exit !(r >= t) }'; }
fs=$(ratio fixed source) ds=$(ratio dynamic source)
fx=$(ratio fixed xmount) dx=$(ratio dynamic xmount)
xs=$(ratio vhdx source) xd=$(ratio vhdx dynamic) xx=$(ratio vhdx xmount)

if [ $json = 1 ]; then
    tf() { meets "$1" "$2" && echo true || echo false; }
    printf '{"env": {"kernel": "%s", "cpus": %s, "memory": "%s", "load": "%s"},\n' \
        "$env_kernel" "$env_cpus" "$env_mem" "$env_load"
    printf ' "mode": "%s", "settle_s": %s, "size_mib": %s, "runs": %s, "stacks": {\n' "$mode" "$settle" "$size_mib" "$runs"
    sep=""
    for stack in $stacks; do
        printf '%s  "%s": {"mb_s": %s, "runs_mb_s": [%s], "bytes": %s, "seconds": %s, "mount_seconds": %s, "server_cpu_seconds": %s}' \
            "$sep" "$stack" "${mbs[$stack]}" "$(echo ${rate[$stack]} | tr ' ' ,)" \
            "${nbytes[$stack]}" "$(echo ${secs[$stack]} | median)" "$(echo ${mnts[$stack]} | median)" \
            "$(echo ${cpus[$stack]} | median)"
        sep=$',\n'
    done
    printf '},\n "ratios": {"fixed/source": %s, "dynamic/source": %s, "fixed/xmount": %s, "dynamic/xmount": %s, "vhdx/source": %s, "vhdx/dynamic": %s, "vhdx/xmount": %s},\n' \
        "$fs" "$ds" "$fx" "$dx" "$xs" "$xd" "$xx"
    printf ' "targets": {"fixed/source>=0.9": %s, "fixed/xmount>=1.3": %s}}\n' \
        "$(tf "$fs" 0.9)" "$(tf "$fx" 1.3)"
    exit 0
fi

# MB/s = bytes of the file read / seconds, MB = 10^6 bytes.  The dynamic
# VHD is the smaller file: its zero blocks are left out.
printf '%-8s %9s %8s %12s %8s %7s  %s\n' stack "MB/s" "read s" "bytes" "mount s" "cpu s" "runs (MB/s)"
for stack in $stacks; do
    printf '%-8s %9s %8.3f %12s %8.2f %7.2f  %s\n' "$stack" "${mbs[$stack]}" \
        "$(echo ${secs[$stack]} | median)" "${nbytes[$stack]}" \
        "$(echo ${mnts[$stack]} | median)" "$(echo ${cpus[$stack]} | median)" \
        "$(echo ${rate[$stack]} | tr ' ' ,)"
done
echo "(cpu s: CPU time of the serving process per read of the whole file; the source has none)"
echo
verdict() { meets "$1" "$2" && echo met || echo "NOT met"; }
echo "fixed/source   $fs   (target >= 0.9: $(verdict "$fs" 0.9))"
echo "dynamic/source $ds"
echo "fixed/xmount   $fx   (target >= 1.3: $(verdict "$fx" 1.3))"
echo "dynamic/xmount $dx"
echo "vhdx/source    $xs"
echo "vhdx/dynamic   $xd   (dynamic VHDX next to dynamic VHD)"
echo "vhdx/xmount    $xx"
