#!/bin/bash
# The VHD size limit: a sparse 2040 GiB source (the largest VHD) mounts as
# fixed and dynamic and real readers accept it; 2040 GiB + 1 MiB is refused
# as a VHD with a message naming the limit, and nothing is left mounted;
# without --format it becomes a VHDX.  The
# dynamic scan and qemu-img's compare only get through 2 TiB in moments
# because holes are found with SEEK_DATA/SEEK_HOLE at every layer.
. "$(dirname "$0")/lib.sh"

src=$T/big.img
size=$((2040 << 30))
truncate -s "$size" "$src"
# Data at the start (a partition-table-like sector), in the middle, and in
# the very last block.
spots="0 $((1000 << 30)) $((size - (1 << 20)))"
for at in $spots; do
    head -c $((1 << 20)) /dev/urandom | dd of="$src" bs=1M seek=$((at >> 20)) conv=notrunc status=none
done
before=$(hash_of <(for at in $spots; do dd if="$src" bs=1M skip=$((at >> 20)) count=1 status=none; done))
stat_before=$(stat -c '%s %Y' "$src")

for type in fixed dynamic; do
    mnt=$T/mnt-$type
    if ! p2v_mount "$src" "$mnt" --type "$type"; then bad "$type: mount of 2040 GiB failed"; continue; fi
    vhd=$mnt/disk.vhd
    check_eq "$type 2040 GiB: qemu-img info -f vpc exact size" "$size" \
        "$(qemu-img info -f vpc --output=json "$vhd" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')"
    check "$type 2040 GiB: qemu-img compare identical" qemu-img compare -q -f raw -F vpc "$src" "$vhd"
    check "$type 2040 GiB: vhdiinfo exact size" grep -q "Media size.*($size bytes)" <(vhdiinfo "$vhd")
    check "$type 2040 GiB: structure check" python3 tests/vhdcheck.py "$vhd" --size "$size"
    mkdir -p "$T/vm"
    if vhdimount "$vhd" "$T/vm" >/dev/null 2>&1; then
        for at in $spots $((500 << 30)); do
            check "$type 2040 GiB: vhdimount bytes at $at equal the source" \
                cmp <(dd if="$T/vm/vhdi1" bs=1M skip=$((at >> 20)) count=1 status=none) \
                    <(dd if="$src" bs=1M skip=$((at >> 20)) count=1 status=none)
        done
        umount "$T/vm"
    else
        bad "$type 2040 GiB: vhdimount could not open the image"
    fi
    if [ "$type" = dynamic ]; then
        check_eq "dynamic 2040 GiB: only the 3 written blocks are allocated" "allocated blocks: 3" \
            "$(python3 tests/vhdcheck.py "$vhd" | grep allocated)"
        h1=$(hash_of "$vhd")
    else
        h1=$(tail -c 512 "$vhd" | sha256sum)
    fi
    p2v_umount "$mnt"
    p2v_mount "$src" "$mnt" --type "$type"
    if [ "$type" = dynamic ]; then h2=$(hash_of "$vhd"); else h2=$(tail -c 512 "$vhd" | sha256sum); fi
    check_eq "$type 2040 GiB: same bytes on a second mount" "$h1" "$h2"
    p2v_umount "$mnt"
done

over=$T/over.img
truncate -s $((size + (1 << 20))) "$over"
mkdir -p "$T/mnt-over"
for type in fixed dynamic; do
    check_fails "$type 2040 GiB + 1 MiB refused as a VHD" "over the VHD limit of 2040 GiB" \
        "$P2V" mount --format vhd --type "$type" "$over" "$T/mnt-over"
    check "$type: nothing mounted after the refusal" not_mounted "$T/mnt-over"
done
check_fails "info --format vhd refuses it too" "2040 GiB" "$P2V" info --format vhd "$over"
# The default (auto) makes it a VHDX.
if p2v_mount "$over" "$T/mnt-over"; then
    check "auto: 2040 GiB + 1 MiB is shown as disk.vhdx" test -f "$T/mnt-over/disk.vhdx"
    check "auto: no disk.vhd" test ! -e "$T/mnt-over/disk.vhd"
    check_eq "auto: qemu-img info -f vhdx exact size" $((size + (1 << 20))) \
        "$(qemu-img info -f vhdx --output=json "$T/mnt-over/disk.vhdx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')"
    p2v_umount "$T/mnt-over"
else
    bad "auto: mounting 2040 GiB + 1 MiB as a VHDX failed"
fi
# VHDX stops at 64 TiB.
# ext4 files stop at 16 TiB: the sparse 64 TiB source lives on a tmpfs.
mkdir -p "$T/tmpfs" && mount -t tmpfs -o size=16M tmpfs "$T/tmpfs" && MOUNTS+=("$T/tmpfs")
huge=$T/tmpfs/huge.img
truncate -s $(((64 << 40) + (1 << 20))) "$huge"
check_fails "64 TiB + 1 MiB refused" "over the VHDX limit of 64 TiB" "$P2V" mount "$huge" "$T/mnt-over"
check "nothing mounted after the VHDX refusal" not_mounted "$T/mnt-over"
umount "$T/tmpfs"

check_eq "source unchanged (data)" "$before" \
    "$(hash_of <(for at in $spots; do dd if="$src" bs=1M skip=$((at >> 20)) count=1 status=none; done))"
check_eq "source unchanged (size, mtime)" "$stat_before" "$(stat -c '%s %Y' "$src")"
finish
