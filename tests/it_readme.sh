#!/bin/bash
# README test: README.md has at most 250 lines and every relative link in it
# names a file of the tree; the walk-through (every ```sh block between
# <!-- walkthrough:begin --> and <!-- walkthrough:end -->) runs verbatim, in
# order, in one `bash -euo pipefail` session in a scratch directory, with p2v
# on PATH meaning $P2V. The session must succeed, its VM must boot (GRUB
# prints the file it read from NTFS on the serial console), the committed
# image must match its SHA256SUMS, the files the first block made (the
# sample source) must be unchanged, and nothing may stay mounted. The GRUB
# boot under TCG takes a second: a plain foreground test, like it_boot.sh.
. "$(dirname "$0")/lib.sh"

repo=$(cd "$(dirname "$0")/.." && pwd)
readme=$repo/README.md
mkdir "$T/wt" "$T/bin" "$T/blocks"
wt=$(realpath "$T/wt")                  # the walk-through's scratch directory

# mounts_under DIR: the mount points at or below DIR, deepest first.
mounts_under() {
    local m
    while read -r _ m _; do
        m=$(printf '%b' "$m")           # /proc/mounts writes a blank as \040
        case $m in "$1" | "$1"/*) printf '%s\n' "$m" ;; esac
    done </proc/mounts | sort -r
}
# Whatever the session left mounted is unmounted, whatever happened.
unmount_walkthrough() {
    local m
    mounts_under "$wt" | while IFS= read -r m; do
        fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"
    done
}
# A signal stops the session first (timeout passes it to the session's
# process group and waits for it), then the EXIT trap unmounts.
session=
stop() {
    [ -z "$session" ] || { kill -TERM "$session" 2>/dev/null; wait "$session"; }
    echo "$(basename "$0"): stopped by a signal" >&2
    exit 1
}
trap 'unmount_walkthrough; cleanup' EXIT
trap stop HUP INT TERM

# 1. The README's length and its relative links.
lines=$(awk 'END { print NR }' "$readme")
if [ "$lines" -le 250 ]; then
    ok "README.md has $lines lines (at most 250)"
else
    bad "README.md has $lines lines, more than 250"
fi
# [text](target) outside fenced code blocks, and [label]: target definitions.
links=$(awk '/^[[:space:]]*```/ { code = !code; next } !code' "$readme" |
    { grep -oE '\]\([^) ]+( +"[^"]*")?\)|^ {0,3}\[[^]]+\]: *[^ ]+' || true; } |
    sed -E 's/^\]\(//; s/( +"[^"]*")?\)$//; s/^ *\[[^]]+\]: *//; s/^<(.*)>$/\1/')
nlinks=0 missing=()
while IFS= read -r link; do
    case $link in '' | '#'* | [a-zA-Z]*:*) continue ;; esac   # anchors, http:, mailto:
    nlinks=$((nlinks + 1))
    path=${link%%#*}
    case $path in /*) path=$repo$path ;; *) path=$repo/$path ;; esac
    [ -e "$path" ] || missing+=("$link")
done <<<"$links"
if [ ${#missing[@]} -eq 0 ]; then
    ok "README.md: all $nlinks relative link targets exist"
else
    bad "README.md: link targets missing from the tree: ${missing[*]}"
fi

# 2. The walk-through's blocks, each in a file of its own.
nblocks=$(awk -v dir="$T/blocks" '
    /<!-- walkthrough:begin -->/ { begins++; inside = 1; next }
    /<!-- walkthrough:end -->/   { ends++; if (fence) open_at_end = 1; inside = 0; next }
    !inside { next }
    fence == 0 && /^```/ {
        if ($0 ~ /^```sh[[:space:]]*$/) {
            fence = 1; n++; file = sprintf("%s/%02d.sh", dir, n); printf "" > file
        } else fence = 2
        next
    }
    fence && /^```[[:space:]]*$/ { if (fence == 1) close(file); fence = 0; next }
    fence == 1 { print > file }
    END { print (begins == 1 && ends == 1 && !open_at_end) ? n + 0 : "bad-markers" }
' "$readme")
case $nblocks in
    bad-markers | 0)
        bad "README.md: need one walkthrough:begin and one walkthrough:end marker, with \`\`\`sh blocks between them ($nblocks)"
        finish; exit ;;
esac
ok "README.md: $nblocks sh blocks in the walk-through"

# The session: the blocks in order, verbatim. Between them the test writes a
# header for the log; after the first block (which makes the sample source)
# it hashes every file in the scratch directory, to compare at the end.
{
    i=0
    for b in "$T"/blocks/*.sh; do
        i=$((i + 1))
        printf 'echo %q\n' "### README walk-through block $i"
        cat "$b"
        if [ "$i" = 1 ]; then
            printf 'find %q -xdev -type f -print0 | sort -z | xargs -0 -r sha256sum >%q\n' \
                "$wt" "$T/sources.sha256"
        fi
    done
} >"$T/session.sh"

ln -s "$P2V" "$T/bin/p2v"
ln -s "$repo/tests" "$wt/tests"
start=$SECONDS
# No KVM and no display in CI: the QEMU script commit wrote takes both from
# the environment. timeout runs the session in a process group of its own
# and stops all of it; it runs in the background so that a signal to this
# script is handled at once (stop).
(cd "$wt" && PATH=$T/bin:$PATH P2V_ACCEL=tcg P2V_DISPLAY=none \
    exec timeout -k 10 600 bash -euo pipefail "$T/session.sh") </dev/null >"$T/session.log" 2>&1 &
session=$!
wait "$session"
rc=$?
session=
took=$((SECONDS - start))
if [ "$rc" -eq 0 ]; then
    ok "the walk-through ran to its end in one session ($took s)"
else
    bad "the walk-through failed with status $rc$([ "$rc" -eq 124 ] && echo ' (timed out)') in" \
        "$(grep -a '^### README walk-through block' "$T/session.log" | tail -1 | cut -c5-)"
    tail -n 30 "$T/session.log" | cat -v | sed 's/^/       | /'
fi

# 3. What the session did.
left=$(mounts_under "$wt")
if [ -z "$left" ]; then
    ok "the walk-through unmounted what it mounted"
else
    bad "the walk-through left mounted: ${left//$'\n'/ }"
fi
check "the VM booted: GRUB printed the file it read from NTFS (P2V-NTFS-FILE-OK)" \
    grep -qa P2V-NTFS-FILE-OK "$T/session.log"
# What the README says p2v check finds in the sample.
check "p2v check found what README says: one warning (no operating system)" \
    grep -qa '^0 blockers, 1 warning$' "$T/session.log"

sums=$(find "$wt" -xdev -name SHA256SUMS -type f)
if [ -z "$sums" ]; then
    bad "no SHA256SUMS: the walk-through committed nothing"
fi
for s in $sums; do
    d=$(dirname "$s")
    check "${d#"$wt"/}/SHA256SUMS lists the image (disk.vhd or disk.vhdx)" \
        grep -Eq '^[0-9a-f]{64} [ *]disk\.vhdx?$' "$s"
    check "${d#"$wt"/}: the image and every file beside it match SHA256SUMS" \
        bash -c 'cd "$1" && sha256sum -c --strict SHA256SUMS' _ "$d"
done

if [ ! -s "$T/sources.sha256" ]; then
    bad "the first block made no file to hash (the sample source)"
else
    check "unchanged since the first block: $(sed "s|^[0-9a-f]*  $wt/||" "$T/sources.sha256" | tr '\n' ' ')" \
        sha256sum -c --strict "$T/sources.sha256"
fi
finish
