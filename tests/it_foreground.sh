#!/bin/bash
# -f keeps the mount in the foreground and prints a ready line when the view
# answers; unmounting ends the process with status 0; SIGTERM unmounts
# cleanly; the bdi readahead is raised to 1 MiB.
. "$(dirname "$0")/lib.sh"

src=$T/src.img
make_mixed "$src" 6 4
before=$(hash_of "$src")
mnt=$T/mnt
mkdir -p "$mnt"
MOUNTS+=("$mnt")
mkfifo "$T/err"

start_fg() {  # start p2v mount -f in the background; wait for its ready line
    "$P2V" mount -f "$@" "$src" "$mnt" 2>"$T/err" &
    PID=$!
    exec 3<"$T/err"
    READY=""
    while read -r line <&3; do
        case $line in *"ready: $mnt"*) READY=$line; break ;; esac
    done
}

start_fg --type dynamic
check "the foreground mount prints its ready line" test -n "$READY"
check "it serves once ready" cmp "$mnt/disk.raw" "$src"
majmin=$(awk -v m="$mnt" '$5 == m {print $3}' /proc/self/mountinfo)
check_eq "bdi read_ahead_kb raised to 1024" 1024 "$(cat /sys/class/bdi/$majmin/read_ahead_kb 2>&1)"
check "the process is still in the foreground" kill -0 "$PID"
p2v_umount "$mnt"
wait "$PID"
check_eq "unmounting ends the foreground process with status 0" 0 "$?"
exec 3<&-

start_fg --type fixed
kill -TERM "$PID"
wait "$PID"
rc=$?
check_eq "SIGTERM: clean exit" 0 "$rc"
check "SIGTERM: nothing left mounted" not_mounted "$mnt"
exec 3<&-

# With -d every FUSE request is logged: buffered 1 MiB reads arrive as
# 1 MiB READ requests (1048576 bytes + the 16-byte reply header), and
# parallel readers are served by several worker threads.
start_fg -d --type fixed
cat <&3 >"$T/debug.log" &
drain=$!
dd if="$mnt/disk.vhd" of=/dev/null bs=1M status=none
python3 tests/parallel_read.py "$mnt/disk.raw" "$src" 4 100 5 >/dev/null
threads=$(ls /proc/"$PID"/task | wc -l)
check "parallel readers are served by several threads ($threads)" test "$threads" -ge 3
p2v_umount "$mnt"
wait "$PID" "$drain"
exec 3<&-
check "READ requests of 1 MiB" grep -q "outsize: 1048592" "$T/debug.log"

check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
