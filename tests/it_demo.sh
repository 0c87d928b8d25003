#!/bin/bash
# make demo's script (tools/demo.sh, the README's first command) runs to its
# end with this build: sample disk, info, check, mount, qemu-img, copy, VM
# definitions, a boot, umount with the sample's checksum unchanged.
. "$(dirname "$0")/lib.sh"

if P2V_ACCEL=tcg timeout -k 10 300 bash tools/demo.sh "$P2V" </dev/null >"$T/demo.log" 2>&1; then
    ok "tools/demo.sh ran to its end"
else
    bad "tools/demo.sh failed:"; tail -n 20 "$T/demo.log" | cat -v | sed 's/^/       | /'
fi
check "the demo's VM booted and read its file from NTFS" grep -qa P2V-NTFS-FILE-OK "$T/demo.log"
check "the demo's sample is unchanged (its own sha256sum -c)" grep -qa 'source.img: OK' "$T/demo.log"
check "the demo left no mount" bash -c '! mountpoint -q build/demo/mnt'
finish
