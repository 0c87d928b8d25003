#!/bin/bash
# `p2v info`: sizes, sector size and allocated blocks agree with the source
# and with what a mount serves; --json is valid JSON.
. "$(dirname "$0")/lib.sh"

src=$T/src.img
make_mixed "$src" 30 3            # 10 non-zero blocks of 30
before=$(hash_of "$src")
json=$("$P2V" info --json "$src")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$json" "$1"; }
check "info --json is valid JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$json"
check_eq "size" $((30 << 21)) "$(field size)"
check_eq "logical sector size" 512 "$(field logical_sector_size)"
check_eq "blocks allocated (dynamic)" 10 "$(field blocks_allocated)"
check_eq "blocks total" 30 "$(field blocks_total)"
check_eq "source path is canonical" "$(realpath "$src")" "$(field source)"
p2v_mount "$src" "$T/mnt"
check_eq "image size equals the mounted disk.vhd" "$(stat -c %s "$T/mnt/disk.vhd")" "$(field image_size)"
footer_id=$(tail -c 512 "$T/mnt/disk.vhd" | dd bs=1 skip=68 count=16 status=none | xxd -p)
check_eq "unique id equals the footer's" "$footer_id" "$(field unique_id | tr -d -)"
p2v_umount "$T/mnt"
json=$("$P2V" info --json --type fixed "$src")
check_eq "fixed image size" $(((30 << 21) + 512)) "$(field image_size)"
check "human output names the size" grep -q "disk size: *$((30 << 21)) bytes" <("$P2V" info "$src")
check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
