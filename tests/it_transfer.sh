#!/bin/bash
# Standard tools resume across a remount, because every mount of an
# unchanged source shows the same bytes (and the same size and mtime).
# For a dynamic and a fixed view of a 300 MiB source:
#  - rsync --partial (slowed by --bwlimit) is stopped part way, the view is
#    unmounted and mounted again, and rsync --partial --append-verify
#    appends only the missing bytes; the result equals a cp of the view.
#    Also --partial-dir (no incomplete disk.vhd is ever left) resumed with
#    a delta transfer that reuses the partial file.
#  - nginx (own configuration under $T, kept running across the remounts)
#    serves the mount point: curl --limit-rate is stopped part way, the
#    view is remounted, curl -C - resumes with a 206; HEAD gives the size,
#    Accept-Ranges: bytes and the same ETag/Last-Modified after the remount
#    (If-Range still matches); 20 random ranges (first and last bytes, VHD
#    block and footer boundaries) equal the file's bytes; wget -c resumes.
# Controls show that the resume and range checks notice wrong bytes.  No
# sleeps: waits are for sizes, ports, log lines and processes.  The source
# is hashed before and after.
. "$(dirname "$0")/lib.sh"

N=$((16 << 20))          # "part way": stop a transfer once it has this much
NGINX= NGINX_WORKERS= BG_SID= CURL_PID=

# stop_nginx: TERM to the master (it stops its workers), wait for it.
stop_nginx() {
    [ -n "$NGINX" ] || return 0
    kill -TERM "$NGINX" 2>/dev/null
    wait_until 10 gone "$NGINX" || kill -KILL "$NGINX" 2>/dev/null
    wait "$NGINX" 2>/dev/null
    NGINX=
}
# session_gone SID: no live process left in session SID (zombies are gone).
session_gone() { local p; p=$(ps -o pid= -s "$1"); [ -z "$p" ] || gone $p; }
stop_all() {  # what may be left running (stopped, then waited for), the mounts
    if [ -n "$CURL_PID" ]; then kill -TERM "$CURL_PID" 2>/dev/null; wait "$CURL_PID"; fi
    if [ -n "$BG_SID" ]; then
        kill -TERM -- -"$BG_SID" 2>/dev/null
        wait_until 10 session_gone "$BG_SID" || kill -KILL -- -"$BG_SID" 2>/dev/null
    fi
    stop_nginx
    cleanup     # lib.sh: unmounts what p2v_mount mounted, removes $T
}
trap stop_all EXIT
trap 'exit 130' INT; trap 'exit 143' TERM    # so that stop_all runs then too

src=$T/src.img
make_mixed "$src" 150 7         # 300 MiB, every third 2 MiB block random
before=$(hash_of "$src")
mnt=$T/mnt
mkdir -p "$mnt"

# size_of FILE: its size, 0 when it does not exist.
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# partial_size DIR: the size of rsync's file for disk.vhd in DIR, wherever
# it is (temporary .disk.vhd.XXXXXX while running, disk.vhd after a
# --partial stop, .rsync-partial/disk.vhd with --partial-dir).
partial_size() {
    local f s=0
    for f in "$1"/.disk.vhd.* "$1/disk.vhd" "$1/.rsync-partial/disk.vhd"; do
        [ -f "$f" ] && [ "$(size_of "$f")" -gt "$s" ] && s=$(size_of "$f")
    done
    echo "$s"
}
at_least() { [ "$("$1" "$2")" -ge "$3" ]; }       # at_least FUNC ARG BYTES
stat_of() { sed -n "s/^$1: *\([0-9,]*\) bytes.*/\1/p" "$2" | tr -d ,; }  # rsync --stats
remount() {  # remount TYPE [OPTS]: p2v umount (waits out nginx closing the file), mount
    wait_until 10 p2v_umount "$mnt" 2>"$T/umount.err" || { cat "$T/umount.err"; return 1; }
    p2v_mount "$src" "$mnt" --type "$@"
}

# rsync_stopped DEST OPTS...: starts rsync OPTS --bwlimit MNT/disk.vhd DEST/
# in its own session, waits until DEST has N bytes of the file, sends TERM
# to the whole session (as a Ctrl-C or a service stop would) and waits for
# all of rsync's processes; rsync's exit code in RSYNC_RC.
rsync_stopped() {
    local dest=$1; shift
    mkdir -p "$dest"
    # In a script a background job is no process-group leader, so setsid
    # makes rsync itself the session leader: $! is the session id.
    setsid rsync "$@" --bwlimit=32m "$mnt/disk.vhd" "$dest/" >"$T/rsync-bg.log" 2>&1 &
    BG_SID=$!
    wait_until 30 at_least partial_size "$dest" "$N"
    kill -TERM -- -"$BG_SID"
    wait "$BG_SID"; RSYNC_RC=$?
    wait_until 10 session_gone "$BG_SID" || bad "rsync processes left: $(ps -o pid,args -s "$BG_SID")"
    BG_SID=
}

# ---- nginx: its own prefix, configuration, logs, pid and temp paths -------
NG=$T/nginx
mkdir -p "$NG"
start_nginx() {  # start_nginx PORT: configuration for PORT, master in the background
    # The view is owner-only: files 0400 owned by the mounting user (root)
    # and default_permissions.  Tried both ways: mounted with --allow-other
    # (and the path to it opened to others), nginx's unprivileged workers
    # (nobody by default, www-data in Debian's nginx.conf) still get a 403,
    # "open() .../disk.vhd failed (13: Permission denied)" in the error log:
    # default_permissions holds other users to mode 0400 (tests/it_private.sh).
    # What works is workers running as the user that mounted: `user root;`.
    cat >"$NG/nginx.conf" <<EOF
user root;
worker_processes 1;
error_log $NG/error.log;
pid $NG/nginx.pid;
events { worker_connections 64; }
http {
    access_log $NG/access.log;
    client_body_temp_path $NG/body;
    proxy_temp_path $NG/proxy;
    fastcgi_temp_path $NG/fastcgi;
    uwsgi_temp_path $NG/uwsgi;
    scgi_temp_path $NG/scgi;
    types { }
    default_type application/octet-stream;
    sendfile on;
    server {
        listen 127.0.0.1:$1;
        root $mnt;
        location = /.ready { return 204; }     # readiness probe, not from the view
    }
}
EOF
    # -e: the log for messages before the configuration is read (not /var/log).
    /usr/sbin/nginx -e "$NG/error.log" -p "$NG" -c "$NG/nginx.conf" -g 'daemon off;' \
        >"$NG/stdout" 2>&1 &
    NGINX=$!
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ready() { curl -sf -o /dev/null "http://127.0.0.1:$PORT/.ready"; }
answers_or_died() { ! alive "$NGINX" || ready; }
for attempt in 1 2 3; do   # a free port can be taken before nginx binds it
    PORT=$(free_port)
    start_nginx "$PORT"
    wait_until 20 answers_or_died
    alive "$NGINX" && break
    wait "$NGINX"; NGINX=
done
if [ -z "$NGINX" ] || ! ready; then
    bad "nginx did not start: $(cat "$NG/stdout" "$NG/error.log" 2>/dev/null | tail -5)"
    finish; exit
fi
ok "nginx answers on 127.0.0.1:$PORT (pid $NGINX, configuration $NG/nginx.conf)"
NGINX_WORKERS=$(ps -o pid= --ppid "$NGINX")
URL=http://127.0.0.1:$PORT/disk.vhd
hdr() { sed -n "s/^$1: *//Ip" "$2" | tr -d '\r'; }   # hdr NAME HEADERFILE
log_lines() { wc -l <"$NG/access.log"; }
more_log_lines() { [ "$(log_lines)" -gt "$1" ]; }

# ranges.py FILE SIZE TYPE SEED: 20 "A B" lines (inclusive byte ranges).
cat >"$T/ranges.py" <<'PY'
import random, struct, sys
path, size, kind, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rnd, MiB, B = random.Random(seed), 1 << 20, 2 << 20
with open(path, "rb") as f:
    if kind == "dynamic":       # block boundaries as laid out in the file, from the BAT
        footer = f.read(512)
        f.seek(struct.unpack(">Q", footer[16:24])[0]); hdr = f.read(1024)
        table, entries, bs = struct.unpack(">Q", hdr[16:24])[0], *struct.unpack(">II", hdr[28:36])
        assert bs == B, bs
        f.seek(table); bat = struct.unpack(">%dI" % entries, f.read(4 * entries))
        bounds = [table]
        for e in bat:
            if e != 0xFFFFFFFF:
                bounds += [e * 512, e * 512 + 512, e * 512 + 512 + B]   # bitmap, data, end
    else:                       # fixed: the disk's 2 MiB blocks, then the footer
        bounds = list(range(B, size - 512, B))
bounds = sorted(set(b for b in bounds + [size - 512] if 0 < b < size))
out = [(0, 0), (size - 1, size - 1), (0, rnd.randint(1, MiB)),
       (rnd.randint(size - 3 * MiB, size - 2), size - 1)]
b = rnd.choice(bounds); out.append((b - 1, b))                      # 2 bytes across
while len(out) < 12:                                                # just across
    b = rnd.choice(bounds); out.append((max(0, b - rnd.randint(1, 65536)), min(size - 1, b + rnd.randint(0, 65536))))
while len(out) < 16:                                                # several blocks
    b = rnd.choice(bounds); out.append((max(0, b - rnd.randint(1, 3 * MiB)), min(size - 1, b + rnd.randint(1, 3 * MiB))))
while len(out) < 20:                                                # anywhere
    a = rnd.randrange(size); out.append((a, rnd.randint(a, min(size - 1, a + 4 * MiB))))
assert len(out) == 20 and all(0 <= a <= z < size for a, z in out), out
for a, z in out:
    print(a, z)
PY
# range_equal A B [GOT_A]: curl -r A-B gives 206 and the bytes dd reads at
# A..B of the mounted file (GOT_A: ask for GOT_A.. instead, for a control).
range_equal() {
    local a=$1 z=$2 ga=${3:-$1} code
    code=$(curl -s -r "$ga-$((z - a + ga))" -o "$T/range.got" -w '%{http_code}' "$URL")
    [ "$code" = 206 ] || { echo "HTTP $code"; return 1; }
    dd if="$mnt/disk.vhd" of="$T/range.want" bs=1M iflag=skip_bytes,count_bytes \
        skip="$a" count=$((z - a + 1)) status=none
    cmp "$T/range.want" "$T/range.got"
}

for type in dynamic fixed; do
    echo "-- $type"
    p2v_mount "$src" "$mnt" --type $type || { bad "$type: mount failed"; continue; }
    size=$(size_of "$mnt/disk.vhd")
    ref=$(hash_of "$mnt/disk.vhd")
    cp "$mnt/disk.vhd" "$T/full.vhd"
    check_eq "$type: a cp of disk.vhd has the view's sha256" "$ref" "$(hash_of "$T/full.vhd")"

    # ---- rsync --partial, stopped, remount, --append-verify --------------
    d=$T/rsync-$type
    rsync_stopped "$d" --partial
    check_eq "$type rsync: stopped by TERM (rsync exit 20)" 20 "$RSYNC_RC"
    part=$(size_of "$d/disk.vhd")
    check "$type rsync: --partial kept part of the file as disk.vhd ($part of $size bytes)" \
        test "$part" -ge "$N" -a "$part" -lt "$size"
    check_eq "$type rsync: no temporary .disk.vhd.* left" "" "$(ls -A "$d" | grep -v '^disk\.vhd$')"
    [ $type = dynamic ] && cp "$d/disk.vhd" "$T/partial.vhd"    # for the controls
    check "$type: p2v umount, mount again" remount $type
    check_eq "$type: the new mount has the same bytes" "$ref" "$(hash_of "$mnt/disk.vhd")"
    rsync --partial --append-verify --stats "$mnt/disk.vhd" "$d/" >"$T/rsync.out" 2>&1
    check_eq "$type rsync: --append-verify finishes" 0 "$?"
    check_eq "$type rsync: the result has the view's sha256 (= the cp)" "$ref" "$(hash_of "$d/disk.vhd")"
    # --append sends only what is past the partial; a failed verification
    # would re-send (Literal data = everything, plus "Matched data").
    check_eq "$type rsync: resumed: Literal data = size - partial" \
        "$((size - part)) 0" "$(stat_of 'Literal data' "$T/rsync.out") $(stat_of 'Matched data' "$T/rsync.out")"

    # ---- rsync --partial-dir: never an incomplete disk.vhd ---------------
    # --append cannot be combined with --partial-dir ("--append cannot be
    # used with --partial-dir"); the resume is a delta transfer against the
    # partial file (--no-whole-file: local copies default to whole files).
    d=$T/rsyncpd-$type
    rsync_stopped "$d" --partial-dir=.rsync-partial
    check_eq "$type rsync --partial-dir: stopped by TERM (rsync exit 20)" 20 "$RSYNC_RC"
    part=$(size_of "$d/.rsync-partial/disk.vhd")
    check "$type rsync --partial-dir: the partial file is in .rsync-partial ($part bytes), no disk.vhd" \
        test "$part" -ge "$N" -a "$part" -lt "$size" -a ! -e "$d/disk.vhd"
    check "$type: p2v umount, mount again" remount $type
    rsync --partial-dir=.rsync-partial --no-whole-file --stats "$mnt/disk.vhd" "$d/" >"$T/rsync.out" 2>&1
    check_eq "$type rsync --partial-dir: finishes" 0 "$?"
    check_eq "$type rsync --partial-dir: the result has the view's sha256" "$ref" "$(hash_of "$d/disk.vhd")"
    # The partial file is the delta's basis: at least its bytes match (more
    # on a fixed disk, whose zero blocks also match zeros in the partial)
    # and at most the rest is sent; a whole-file copy would be 0 / size.
    matched=$(stat_of 'Matched data' "$T/rsync.out") literal=$(stat_of 'Literal data' "$T/rsync.out")
    check "$type rsync --partial-dir: resumed: Matched data $matched >= partial - 64 KiB, Literal data $literal <= rest + 64 KiB" \
        test "${matched:-0}" -ge $((part - 65536)) -a "${literal:-$size}" -le $((size - part + 65536))
    check "$type rsync --partial-dir: the partial directory is gone" test ! -e "$d/.rsync-partial"

    # ---- HTTP: curl stopped, remount (nginx keeps running), curl -C - ----
    curl -sI "$URL" >"$T/head1"
    check_eq "$type HEAD: 200" 200 "$(head -1 "$T/head1" | cut -d' ' -f2)"
    check_eq "$type HEAD: Content-Length = the file's size" "$size" "$(hdr Content-Length "$T/head1")"
    check_eq "$type HEAD: Accept-Ranges: bytes" bytes "$(hdr Accept-Ranges "$T/head1")"
    out=$T/http-$type.vhd
    lines=$(log_lines)
    curl -s --limit-rate 32M -o "$out" "$URL" &
    CURL_PID=$!
    wait_until 30 at_least size_of "$out" "$N"
    # TERM, not INT: a script's background jobs ignore SIGINT, and curl
    # (unlike rsync) keeps the inherited disposition.
    kill -TERM "$CURL_PID"; wait "$CURL_PID"; rc=$?; CURL_PID=
    part=$(size_of "$out")
    check_eq "$type curl: stopped by TERM" 143 "$rc"
    check "$type curl: part of the file arrived ($part of $size bytes)" test "$part" -ge "$N" -a "$part" -lt "$size"
    # nginx logs the cut request once it has noticed; p2v umount is then
    # only racing nginx closing the file (remount retries while busy).
    check "$type nginx: logged the interrupted GET" wait_until 10 more_log_lines "$lines"
    check "$type: p2v umount while nginx runs, mount again" remount $type
    check "$type nginx: still running" alive "$NGINX"
    curl -sI "$URL" >"$T/head2"
    for h in Content-Length Last-Modified ETag; do
        check_eq "$type HEAD after the remount: same $h" "$(hdr $h "$T/head1")" "$(hdr $h "$T/head2")"
    done
    res=$(curl -s -C - -o "$out" -w '%{http_code} %{size_download}' "$URL")
    check_eq "$type curl -C -: 206, only the missing bytes" "206 $((size - part))" "$res"
    check_eq "$type curl -C -: the result has the view's sha256" "$ref" "$(hash_of "$out")"
    check "$type nginx access log: the resumed GET was a 206 of the rest" \
        grep -qF "\"GET /disk.vhd HTTP/1.1\" 206 $((size - part)) " <(tail -1 "$NG/access.log")
    for v in "$(hdr ETag "$T/head1")" "$(hdr Last-Modified "$T/head1")"; do
        check_eq "$type If-Range with the first mount's $v: still 206" 206 \
            "$(curl -sI -r 0-99 -H "If-Range: $v" -o /dev/null -w '%{http_code}' "$URL")"
    done

    # ---- 20 random ranges --------------------------------------------------
    seed=${RANGE_SEED:-$RANDOM}
    echo "   (ranges from seed $seed; RANGE_SEED=$seed repeats them)"
    python3 "$T/ranges.py" "$mnt/disk.vhd" "$size" $type "$seed" >"$T/ranges" \
        || bad "$type: could not compute the ranges"
    while read -r a z; do
        check "$type range $a-$z ($((z - a + 1)) bytes) equals the file's bytes" range_equal "$a" "$z"
    done <"$T/ranges"
    check_eq "$type: 20 ranges" 20 "$(wc -l <"$T/ranges")"

    # ---- wget -c ------------------------------------------------------------
    if command -v wget >/dev/null; then
        mkdir -p "$T/wget"
        head -c $((part / 3)) "$T/full.vhd" >"$T/wget/disk.vhd"
        wget -q -S -c -P "$T/wget" "$URL" 2>"$T/wget.log"
        check_eq "$type wget -c: finishes with the view's sha256" "$ref" "$(hash_of "$T/wget/disk.vhd")"
        check "$type wget -c: got 206 Partial Content" grep -q 'HTTP/1.1 206' "$T/wget.log"
        rm -rf "$T/wget"
    else
        echo "   note: wget is not installed; wget -c not tried"
    fi

    # ---- controls: the checks above notice bytes that differ ---------------
    if [ $type = dynamic ]; then
        a=$(head -12 "$T/ranges" | tail -1)
        check_fails "control: a range one byte off does not compare equal" "HTTP|differ|EOF" \
            range_equal ${a% *} ${a#* } $((${a% *} + 1))
        check_eq "control: If-Range with another ETag gives the whole file (200)" 200 \
            "$(curl -sI -r 0-99 -H 'If-Range: "0-0"' -o /dev/null -w '%{http_code}' "$URL")"
        # A partial file that differs from the view in one byte: plain --append
        # (and curl -C -) give a different file; --append-verify notices and re-sends.
        bad_part() { cp "$T/partial.vhd" "$1"; printf '\x5a' | dd of="$1" bs=1 seek=$((N / 2)) conv=notrunc status=none; }
        mkdir -p "$T/ctl1" "$T/ctl2"
        bad_part "$T/ctl1/disk.vhd"; bad_part "$T/ctl2/disk.vhd"; bad_part "$T/ctl3.vhd"
        p=$(size_of "$T/partial.vhd")
        rsync --append "$mnt/disk.vhd" "$T/ctl1/"
        check "control: rsync --append onto a wrong partial gives another sha256" \
            test "$(hash_of "$T/ctl1/disk.vhd")" != "$ref"
        rsync --append-verify --stats "$mnt/disk.vhd" "$T/ctl2/" >"$T/rsync.out" 2>&1
        check "control: --append-verify on a wrong partial re-sends (Literal data $(stat_of 'Literal data' "$T/rsync.out") != $((size - p)))" \
            test "$(stat_of 'Literal data' "$T/rsync.out")" != $((size - p))
        curl -s -C - -o "$T/ctl3.vhd" "$URL"
        check "control: curl -C - onto a wrong partial gives another sha256" \
            test "$(hash_of "$T/ctl3.vhd")" != "$ref"
        rm -rf "$T/ctl1" "$T/ctl2" "$T/ctl3.vhd" "$T/partial.vhd"
    fi

    rm -rf "$T/rsync-$type" "$T/rsyncpd-$type" "$out" "$T/full.vhd"
    check "$type: p2v umount" p2v_umount "$mnt"
done

# ---- stop nginx: master and workers gone ----------------------------------
pids="$NGINX $NGINX_WORKERS"
stop_nginx
check "nginx stopped (master and workers: $pids)" gone $pids
check "nginx error log: nothing above [notice]" sh -c "! grep -v '\[notice\]' '$NG/error.log' | grep ."
check_eq "source unchanged" "$before" "$(hash_of "$src")"
finish
