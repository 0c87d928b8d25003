#!/bin/bash
# A source in use read-write, read without a snapshot: mount --snapshot none
# and info refuse it and name the holder; --allow-live mounts it, and the
# consistency guard turns the first read after the source changed (a write,
# a new size; for a block device, a write to it) and every later one into
# EIO, says so in the log and in MNT/status.json.
. "$(dirname "$0")/lib.sh"

HOLDERS=()
LOOPS=()
guard_cleanup() {
    for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null; done
    for m in "${MOUNTS[@]}"; do
        mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
    cleanup
}
trap guard_cleanup EXIT

# hold FILE: a process (HOLDER) that keeps FILE open for writing.
hold() {
    sleep 300 4<>"$1" &
    HOLDER=$!
    HOLDERS+=("$HOLDER")
    wait_until 10 holds "$HOLDER" "$1"
}
# holds PID FILE: PID has FILE open as fd 4 (read anew on every try).
holds() { [ "$(readlink "/proc/$1/fd/4" 2>/dev/null)" = "$2" ]; }
release() { kill "$1" && wait "$1" 2>/dev/null; true; }
# field FILE EXPR: a Python expression over the JSON object j in FILE.
field() {
    python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1 | tail -n 1
}

src=$T/src.img
make_mixed "$src" 4 11   # 8 MiB: blocks 0 and 3 random, 1 and 2 zero
cp "$src" "$T/ref.img"   # what the source must be: it, with the test's own changes
mnt=$T/mnt
mkdir -p "$mnt"

# A file held open for writing by another process.
check "a process holds the source open for writing" hold "$src"
check_fails "mount --snapshot none: refused, naming the holder" "in use.*pid $HOLDER" \
    "$P2V" mount --snapshot none "$src" "$mnt"
"$P2V" mount --snapshot none "$src" "$mnt" 2>/dev/null
check_eq "refused: exit status 1" 1 "$?"
check "refused: nothing mounted" not_mounted "$mnt"
check_fails "info: refused too, naming the holder" "in use.*pid $HOLDER" "$P2V" info "$src"
"$P2V" info -q --allow-live --json "$src" >"$T/info.json" 2>"$T/info.err"
check_eq "info --allow-live --json: live ($(head -c 200 "$T/info.err"))" True \
    "$(field "$T/info.json" 'j["live"]')"
check_eq "info --allow-live --json: held_by names the holder" True \
    "$(field "$T/info.json" "'$HOLDER' in json.dumps(j['held_by'])")"

# --allow-live: served while unchanged; a write to the source breaks it.
check "mount --snapshot none --allow-live" \
    p2v_mount "$src" "$mnt" --snapshot none --allow-live --direct-io --log "$T/guard.log"
st=$mnt/status.json
check_eq "status.json: live, no snapshot, consistency unchanged" "True none unchanged None" \
    "$(field "$st" 'j["live"], j["snapshot"]["provider"], j["consistency"]["state"], j["consistency"]["reason"]' | tr -d "(),'")"
check "the unchanged source reads fine" cmp -n $((2 << 20)) "$mnt/disk.raw" "$src"
for f in "$src" "$T/ref.img"; do
    printf 'CHANGED!' | dd of="$f" bs=1 seek=$((6 << 20)) conv=notrunc status=none
done
check_fails "after a write to the source, the next read gives EIO" "Input/output error" \
    dd if="$mnt/disk.raw" of=/dev/null bs=4096 skip=$((7 << 8)) count=1 iflag=direct
check_fails "... and so does every later one, of data read before too" "Input/output error" \
    dd if="$mnt/disk.raw" of=/dev/null bs=4096 count=1 iflag=direct
check "the log says the source changed" grep -qE \
    "source $src changed since it was opened \(.+\); reads fail from now on: remount it, or use a snapshot" "$T/guard.log"
check_eq "status.json: consistency changed, with a reason" "changed True" \
    "$(field "$st" 'j["consistency"]["state"], bool(j["consistency"]["reason"])' | tr -d "(),'")"
check "unmount" p2v_umount "$mnt"

# A new size is a change too.
check "remount --allow-live" p2v_mount "$src" "$mnt" --snapshot none --allow-live --direct-io --log "$T/guard2.log"
check "it reads fine (the view of the written source)" cmp "$mnt/disk.raw" "$src"
truncate -s $(((8 << 20) + 512)) "$src"
truncate -s $(((8 << 20) + 512)) "$T/ref.img"
check_fails "after the source grew, the next read gives EIO" "Input/output error" \
    dd if="$mnt/disk.raw" of=/dev/null bs=4096 skip=$((6 << 8)) count=1 iflag=direct
check "the log says the source changed" grep -q "source $src changed since it was opened" "$T/guard2.log"
check "unmount" p2v_umount "$mnt"

# Nobody holds it any more: --snapshot none mounts without --allow-live.
release "$HOLDER"
check "with no holder, mount --snapshot none works without --allow-live" \
    p2v_mount "$src" "$mnt" --snapshot none
check_eq "status.json: not live" "False unchanged" \
    "$(field "$st" 'j["live"], j["consistency"]["state"]' | tr -d "(),'")"
check "it serves the source" cmp "$mnt/disk.raw" "$src"
check "unmount" p2v_umount "$mnt"
check "the source holds exactly the test's own changes" cmp "$src" "$T/ref.img"

# A block device: a loop device held open for writing, then written to.
blk=$T/blk.img
make_mixed "$blk" 4 12
cp "$blk" "$T/blkref.img"
if ! loop=$(losetup -f --show "$blk" 2>"$T/losetup.err"); then
    echo "SKIP block device: losetup failed: $(cat "$T/losetup.err")"
    finish
    exit
fi
LOOPS+=("$loop")
check "a process holds $loop open for writing" hold "$loop"
check_fails "block device: mount --snapshot none refused, naming the holder" "in use.*pid $HOLDER" \
    "$P2V" mount --snapshot none "$loop" "$mnt"
check_fails "the backing file: refused, naming the held loop device" "in use.*${loop#/dev/}" \
    "$P2V" mount --snapshot none "$blk" "$mnt"
check "block device: mount --allow-live" \
    p2v_mount "$loop" "$mnt" --snapshot none --allow-live --direct-io --log "$T/guard3.log"
check "block device: the unchanged device reads fine" cmp -n $((2 << 20)) "$mnt/disk.raw" "$blk"
check_eq "block device: status.json consistency unchanged" unchanged "$(field "$st" 'j["consistency"]["state"]')"
printf 'CHANGED!%4088s' "" >"$T/change.bin"   # 4 KiB
for f in "$loop" "$T/blkref.img"; do  # O_DIRECT: the write reaches the device now
    dd if="$T/change.bin" of="$f" bs=4096 seek=$((6 << 8)) oflag=direct conv=notrunc status=none
done
check_fails "block device: after a write to it, the next read gives EIO" "Input/output error" \
    dd if="$mnt/disk.raw" of=/dev/null bs=4096 skip=$((7 << 8)) count=1 iflag=direct
check "block device: the log says it changed" grep -q "source $loop changed since it was opened" "$T/guard3.log"
check_eq "block device: status.json consistency changed" changed "$(field "$st" 'j["consistency"]["state"]')"
check "unmount" p2v_umount "$mnt"
release "$HOLDER"
losetup -d "$loop"
check "the device's file holds exactly the test's own change" cmp "$blk" "$T/blkref.img"
finish
