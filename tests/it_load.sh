#!/bin/bash
# p2v-test: alone (concurrent readers under a deadline)
# Load: 8 concurrent random readers (tests/randread.py: random offsets and
# lengths from 1 byte to 1 MiB; readers 1, 3, 5, 7 with O_DIRECT, the others
# buffered, dropping what they read from the page cache, so that every read
# reaches the view's daemon) against fixed VHD, dynamic VHD and dynamic VHDX
# views of a 384 MiB make_mixed source, LOAD_SECONDS each (default 10; 60
# for the real run).  The reference is a cp of the view made before the
# load, checked against the source with qemu-img compare; every range read
# is compared with the same range of it.  Zero mismatches, no read errors,
# no reader stopped by its watchdog (`timeout`: a deadlock), the view still
# the same bytes afterwards; IOPS per image reported.  The source is hashed
# before and after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/faults_lib.sh"
LOAD_SECONDS=${LOAD_SECONDS:-10}
READER_TIMEOUT=$((LOAD_SECONDS + 120))
echo "  (LOAD_SECONDS=$LOAD_SECONDS, readers seeded from FAULTS_SEED=$FAULTS_SEED)"

src=$T/mixed.img
make_mixed "$src" 192 5
before=$(sha "$src")
report=()
for spec in "fixed vhd" "dynamic vhd" "dynamic vhdx"; do
    read -r type fmt <<<"$spec"
    name="$type ${fmt^^}"
    mnt=$T/m-$type-$fmt file=$T/m-$type-$fmt/disk.$fmt ref=$T/ref.$fmt
    if ! p2v_mount "$src" "$mnt" --type "$type" --format "$fmt"; then
        bad "$name: mount failed"
        continue
    fi
    cp "$file" "$ref"
    check "$name: the reference (a cp of the view) holds the source (qemu-img compare)" \
        qemu-img compare -q -f "$([ "$fmt" = vhd ] && echo vpc || echo vhdx)" -F raw "$ref" "$src"
    start_readers 8 "$file" "$T/ld" --ref "$ref" --seconds "$LOAD_SECONDS" --seed "$FAULTS_SEED"
    wait_readers
    sum_readers "$T/ld" 8
    reads=$(sum_key "$T/ld" reads)
    check_eq "$name: no reader stopped by its watchdog (no deadlock; exit statuses:$RSTATUS)" 0 "$WATCHDOG"
    check_eq "$name: all 8 readers reported" 8 "$(sum_key "$T/ld" readers)"
    check "$name: they read ($reads reads)" test "$reads" -gt 0
    check_eq "$name: zero mismatches with the reference" 0 "$(sum_key "$T/ld" mismatches)"
    check_eq "$name: no read errors" "{}" "$(sum_key "$T/ld" errors)"
    [ "$(sum_key "$T/ld" mismatches)" = 0 ] || sum_key "$T/ld" notes
    line=$(printf '%-13s %8s IOPS %8s MB/s  p50 %s ms  (%s reads, %s bytes, %s s)' "$name" \
        "$(sum_key "$T/ld" iops)" "$(sum_key "$T/ld" mb_s)" "$(sum_key "$T/ld" p50_ms)" \
        "$reads" "$(size_of "$file")" "$LOAD_SECONDS")
    echo "  ..   $line"
    report+=("$line")
    check "$name: afterwards the view still gives the reference's bytes (cmp)" cmp "$file" "$ref"
    check "$name: p2v umount" p2v_umount "$mnt"
    rm -f "$ref"
done
echo "  ..   8 readers, random offsets and lengths (1 B - 1 MiB), half O_DIRECT:"
for l in "${report[@]}"; do echo "  ..     $l"; done
check_eq "source unchanged" "$before" "$(sha "$src")"
finish
