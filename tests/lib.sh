# Shared helpers for the integration scripts.  Source it; it expects $P2V
# (the binary) and gives each script its own scratch directory, a cleanup
# that unmounts whatever the script mounted, and counted assertions.
set -u

P2V=${P2V:?set P2V to the p2v binary}
case $P2V in /*) ;; *) P2V=$PWD/$P2V ;; esac
T=$(mktemp -d /tmp/p2v-it.XXXXXX)
# Debian's python3: the modules the scripts use are its packages
# (python3-hivex), and a python3 earlier on PATH (pyenv's shims) may lack
# them and take ten times as long to start, hundreds of times a run.
if [ -x /usr/bin/python3 ]; then
    mkdir "$T/.bin" && ln -s /usr/bin/python3 "$T/.bin/python3" && PATH=$T/.bin:$PATH
fi
PASSED=0
FAILED=0
MOUNTS=()

cleanup() {
    for m in "${MOUNTS[@]}"; do
        mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    rm -rf "$T"
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "  ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL $*"; }
check() {  # check "description" command...
    local what=$1; shift
    if "$@" >"$T/.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/       | /' "$T/.out" | tail -n 20; fi
}
check_eq() {  # check_eq "description" expected actual
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}
check_fails() {  # check_fails "description" pattern command...: non-zero exit, message matches
    local what=$1 pat=$2; shift 2
    if "$@" >"$T/.out" 2>&1; then
        bad "$what: succeeded, should have failed"
    elif grep -qiE -- "$pat" "$T/.out"; then
        ok "$what: $(grep -iE -m1 -- "$pat" "$T/.out")"
    else
        bad "$what: message does not match /$pat/:"; sed 's/^/       | /' "$T/.out"
    fi
}

# p2v_mount SOURCE MNT [options]: mounts in the background and registers
# the mount point for cleanup.  p2v mount returns once the mount is live.
p2v_mount() {
    local src=$1 mnt=$2; shift 2
    mkdir -p "$mnt"
    MOUNTS+=("$mnt")
    "$P2V" mount -q "$@" "$src" "$mnt"
}
p2v_umount() { "$P2V" umount "$1"; }
not_mounted() { ! mountpoint -q "$1"; }

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# make_mixed FILE BLOCKS SEED: BLOCKS 2 MiB blocks, every third random,
# the rest zero (block 0 is random, so a disk never starts blank).
make_mixed() {
    python3 - "$1" "$2" "$3" <<'PY'
import random, sys
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
zero = bytes(2 << 20)
with open(path, "wb") as f:
    for i in range(n):
        f.write(rnd.randbytes(2 << 20) if i % 3 == 0 else zero)
PY
}

# nonzero_blocks FILE: how many 2 MiB blocks of FILE hold a non-zero byte.
nonzero_blocks() {
    python3 -c '
import sys
n = 0
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(2 << 20)
        if not b: break
        n += b.count(0) != len(b)
print(n)' "$1"
}

# repeat TEXT N: TEXT N times on stdout (marker files for leak tests).
repeat() { python3 -c 'import sys; sys.stdout.write(sys.argv[1] * int(sys.argv[2]))' "$1" "$2"; }
# count_marker TEXT FILE: lines of FILE holding TEXT (0 when none).
count_marker() { grep -c -a -o -- "$1" "$2" 2>/dev/null || true; }

# umount_state MNT STATE: p2v umount, then the state's lock must be free
# (p2v umount waits for the view to let go of it); LATE counts the times it
# was not, and waits for the lock (not for time) before going on.
LATE=0
umount_state() {
    p2v_umount "$1" || return 1
    [ -e "$2/lock" ] || return 0
    flock -n "$2/lock" true && return 0
    LATE=$((LATE + 1))
    flock -w 30 "$2/lock" true
}

# wait_until SECONDS command...: polls a condition until it holds or the
# deadline passes (a wait for a state, never for time).
wait_until() {
    local dl=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $dl ] && return 1; sleep 0.05; done
}

# umount_busy MNT: unmounts a filesystem a process that is just ending
# may still hold (a view's daemon deleting its clone); lazily at worst.
umount_busy() {
    wait_until 10 umount "$1" 2>/dev/null || umount -l "$1"
}

# json_key FILE KEY[.KEY...]: a JSON value (strings bare, others as JSON;
# digits index lists), MISSING when a key is absent, ERROR... when the file
# is not JSON.
json_key() {
    python3 - "$@" <<'PY'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except Exception as e:
    print("ERROR: %s" % e); sys.exit(0)
for k in sys.argv[2].split("."):
    if isinstance(v, list) and k.isdigit() and int(k) < len(v):
        v = v[int(k)]
    elif isinstance(v, dict) and k in v:
        v = v[k]
    else:
        print("MISSING"); sys.exit(0)
print(v if isinstance(v, str) else json.dumps(v))
PY
}

# alive PID: a process that has not exited (a zombie counts as exited);
# gone PID...: all of them have exited (at least one PID).
alive() {
    local s
    s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$s" ] && [ "$s" != Z ]
}
gone() {
    local p
    [ $# -gt 0 ] || return 1
    for p in "$@"; do alive "$p" && return 1; done
    return 0
}

finish() {
    echo "$(basename "$0"): $PASSED passed, $FAILED failed"
    echo "$PASSED $FAILED" >"${RESULT_FILE:-/dev/null}"
    [ "$FAILED" -eq 0 ]
}

# make_driver FILE [x86|x86_64|arm64] [TEXT]: a minimal PE image of that
# machine (what p2v checks of an injected driver), TEXT after its headers.
make_driver() {
    local m
    case ${2:-x86_64} in x86) m='\x4c\x01' ;; arm64) m='\x64\xaa' ;; *) m='\x64\x86' ;; esac
    head -c 512 /dev/zero >"$1"
    printf 'MZ' | dd of="$1" conv=notrunc status=none
    printf '\x80\x00\x00\x00' | dd of="$1" bs=1 seek=$((0x3c)) conv=notrunc status=none
    printf "PE\\x00\\x00$m" | dd of="$1" bs=1 seek=$((0x80)) conv=notrunc status=none
    printf '%s\n' "${3:-p2v test driver}" >>"$1"
}

# use_guest_kernel TARBALL: libguestfs's appliance is built (by supermin)
# from this machine's kernel; a machine without one (a container) borrows
# the newest kernel of a guest tree's tarball (tests/mkdebian.sh).
use_guest_kernel() {
    export LIBGUESTFS_BACKEND=direct
    ls /boot/vmlinuz-* >/dev/null 2>&1 && return 0
    local k kdir=$T/kernel
    k=$(tar -tf "$1" --wildcards './boot/vmlinuz-*' | sed 's|.*/vmlinuz-||' | sort -V | tail -1)
    mkdir -p "$kdir" /lib/modules
    tar -xf "$1" -C "$kdir" "./boot/vmlinuz-$k" "./usr/lib/modules/$k"
    export SUPERMIN_KERNEL=$kdir/boot/vmlinuz-$k SUPERMIN_MODULES=$kdir/usr/lib/modules/$k
}

# damaged_map IMAGE PATTERN FS VIEWFILE: a free-space map p2v must refuse
# (issue 19, 1): info warns (PATTERN), maps nothing free (FS: the
# filesystem's object in info --json, as a Python expression over d), the
# view's VIEWFILE is IMAGE byte for byte, and IMAGE is unchanged.
damaged_map() {
    local img=$1 pat=$2 fs=$3 view=$4 before
    before=$(hash_of "$img")
    "$P2V" info --json "$img" >"$T/dm.json" 2>"$T/dm.err"
    check "a bitmap calling the metadata free: warned ($pat)" grep -q "$pat" "$T/dm.err"
    check_eq "  nothing is mapped free" "0 False" \
        "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); f=eval(sys.argv[2]); print(f["free_bytes"], f["mapped"])' "$T/dm.json" "$fs")"
    p2v_mount "$img" "$T/dm-mnt" 2>/dev/null
    check "  the view's $view is the image, byte for byte" cmp "$T/dm-mnt/$view" "$img"
    p2v_umount "$T/dm-mnt"
    check_eq "  the image unchanged" "$before" "$(hash_of "$img")"
}
