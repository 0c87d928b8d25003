#!/bin/bash
# p2v-test: alone (two jobs at a time, with time limits)
# p2v batch: a manifest of three jobs (a plain disk, a Windows fixture with
# a fix-up plan for qemu-ide, a missing source) run two at a time: exit 1,
# the good destinations hold the image a plain p2v mount gives (with the
# job's state for the plan job), summaries with status, failed step and an
# error naming the source, --json in manifest order, no mount left.  A
# rerun finds the finished images.  Check blockers, <no-check/>, a damaged
# partition table; Ctrl-C to the batch, then a rerun that resumes.  Manifests that do not validate (unknown element,
# duplicate names or destinations) exit 2 naming the file; --schema is
# transfer/manifest.rng.  Sources are hashed before and after.
. "$(dirname "$0")/lib.sh"

sums_ok() { (cd "$1" && sha256sum --quiet -c SHA256SUMS); }
# p2v mounts left under the scratch directory (other tests may have theirs).
our_mounts() { grep ' fuse.p2v ' /proc/mounts | awk '{print $2}' | grep -c "^$T/" || true; }
# jq_py FILE EXPR: a Python expression on the JSON in FILE (as j).
jq_py() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1; }
ino() { stat -c '%i %Y' "$1" 2>/dev/null || echo missing; }
# On exit, also the mounts a failed job may have left under the scratch directory.
cleanup_batch() {
    local m
    for m in $(grep ' fuse.p2v ' /proc/mounts | awk '{print $2}' | grep "^$T/"); do
        MOUNTS+=("$m")
    done
    cleanup
}
trap cleanup_batch EXIT

B=$T/b
mkdir -p "$B/out"
make_mixed "$B/plain.img" 96 3
bash tests/mkwinfixture.sh "$B/win.img" 2>"$T/mk.log" || { bad "Windows fixture: $(cat "$T/mk.log")"; finish; exit; }
cp "$B/win.img" "$B/damaged.img"   # partition 1 runs far past the end of the disk
printf '\xff\xff\xff\x7f' | dd of="$B/damaged.img" bs=1 seek=$((446 + 12)) conv=notrunc status=none
# The IDE target needs intelide and atapi: the fixture has intelide's
# service but not its file, which the plan puts in place.
make_driver "$B/intelide.sys" x86_64 "p2v test intelide driver"
printf '%s\n' no-auto-reboot 'file-put intelide.sys %SystemRoot%\System32\drivers\intelide.sys' \
    'enable-driver intelide' >"$B/win.plan"
declare -A before
for s in plain win damaged; do before[$s]=$(hash_of "$B/$s.img"); done

cat >"$B/batch.xml" <<'XML'
<?xml version="1.0"?>
<batch version="1">
  <job name="plain">
    <source>plain.img</source>
    <destination>out/plain</destination>
  </job>
  <job name="win">
    <destination>out/win</destination>
    <source>win.img</source>
    <plan>win.plan</plan>
    <target>qemu-ide</target>
  </job>
  <job name="broken">
    <source>missing.img</source>
    <destination>out/broken</destination>
  </job>
</batch>
XML
check "the manifest validates against transfer/manifest.rng" \
    xmllint --noout --relaxng transfer/manifest.rng "$B/batch.xml"

# Run from another directory: relative paths are the manifest's.
(cd / && "$P2V" batch --jobs 2 --json "$B/batch.xml") >"$T/b.json" 2>"$T/b.err"
check_eq "batch: exit 1 (one job failed)" 1 $?
check_eq "batch --json: an array of three, in manifest order" "['plain', 'win', 'broken']" \
    "$(jq_py "$T/b.json" '[x["name"] for x in j]')"
check_eq "batch --jobs 2: two jobs started before any ended" \
    "p2v batch: [1/3] plain: started|p2v batch: [2/3] win: started" \
    "$(head -2 "$T/b.err" | sed 's/ (.*//' | paste -sd'|')"
check_eq "batch: a line per job's end on stderr" 3 "$(grep -cE '^p2v batch: \[[0-9]/3\] [a-z]+: (ok|FAILED)$' "$T/b.err")"
check_eq "batch: no p2v mount left" 0 "$(our_mounts)"

# The good jobs: the image a plain p2v mount gives.
p2v_mount "$B/plain.img" "$T/m-plain" || bad "mounting plain.img failed"
p2v_mount "$B/win.img" "$T/m-win" --state "$B/out/win/.p2v-job/state" || bad "mounting win.img with the job's state failed"
declare -A want
want[plain]=$(hash_of "$T/m-plain/disk.vhd")
want[win]=$(hash_of "$T/m-win/disk.vhd")
k=0
for j in plain win; do
    D=$B/out/$j S=$D/p2v-summary.json
    check_eq "$j: disk.vhd = what p2v mount gives (sha256)" "${want[$j]}" "$(hash_of "$D/disk.vhd")"
    check "$j: sha256sum -c SHA256SUMS passes" sums_ok "$D"
    check_eq "$j: summary status ok, no failed step, no error" "['ok', None, '']" \
        "$(jq_py "$S" '[j["status"], j["failed_step"], j["error"]]')"
    check_eq "$j: summary sha256 = the image's" "${want[$j]}" "$(json_key "$S" sha256)"
    check_eq "$j: summary image and size" "$D/disk.vhd $(stat -c %s "$D/disk.vhd")" \
        "$(json_key "$S" image) $(json_key "$S" size)"
    check_eq "$j: summary name, source, destination" "$j $B/$j.img $D" \
        "$(json_key "$S" name) $(json_key "$S" source) $(json_key "$S" destination)"
    check "$j: summary's log is the job's log" test -s "$(json_key "$S" log)"
    check_eq "$j: summary is owner-only" 600 "$(stat -c %a "$S")"
    check "$j: the --json element is the summary" \
        python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))[int(sys.argv[3])] != json.load(open(sys.argv[2])))' \
        "$T/b.json" "$S" $k
    check "$j: the definitions are named after the job; libvirt validates" virt-xml-validate "$D/$j.xml" domain
    check "$j: machine.xml validates" xmllint --noout --relaxng machine/machine.rng "$D/machine.xml"
    check_eq "$j: no partial left; the job's mount point is empty" "0 0" \
        "$(ls -A "$D" | grep -c p2v-partial) $(ls -A "$D/.p2v-job/mnt" | wc -l)"
    k=$((k + 1))
done
check "win: the plan was applied (fixups.json in DEST, as the view shows it)" cmp "$B/out/win/fixups.json" "$T/m-win/fixups.json"
check "win: the report has the no-auto-reboot change" grep -q 'AutoReboot' "$B/out/win/fixups.json"
check_eq "win: the plan job's mount differs from the source's plain view" yes \
    "$(p2v_mount "$B/win.img" "$T/m-win0" && [ "$(hash_of "$T/m-win0/disk.vhd")" != "${want[win]}" ] && echo yes; p2v_umount "$T/m-win0")"
check "win: the job ran fixup apply, then check for qemu-ide" \
    bash -c "grep -q '^\$ p2v fixup apply --state $B/out/win/.p2v-job/state --plan $B/win.plan' '$B/out/win/.p2v-job/log' &&
             grep -q '^\$ p2v check --json --target qemu-ide' '$B/out/win/.p2v-job/log'"

# The broken job.
S=$B/out/broken/p2v-summary.json
check_eq "broken: summary status failed, at the check (its first step)" "failed check" \
    "$(json_key "$S" status) $(json_key "$S" failed_step)"
check "broken: the error names the source" grep -qF "$B/missing.img" <<<"$(json_key "$S" error)"
check_eq "broken: no image, no sha256" "  0" "$(json_key "$S" image) $(json_key "$S" sha256) $(json_key "$S" size)"
check "broken: no disk.vhd" test ! -e "$B/out/broken/disk.vhd"
check "broken: the --json element is the summary" \
    python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))[2] != json.load(open(sys.argv[2])))' "$T/b.json" "$S"

# ---- Rerun: the finished images are found, the broken job fails again -------
p2v_umount "$T/m-plain"
p2v_umount "$T/m-win"   # (the job's fixup apply needs its state to itself)
i_plain=$(ino "$B/out/plain/disk.vhd") i_win=$(ino "$B/out/win/disk.vhd")
"$P2V" batch --jobs 2 "$B/batch.xml" >"$T/r.out" 2>"$T/r.err"
check_eq "rerun: exit 1 still (the broken job)" 1 $?
check "rerun table: plain ok with its destination" grep -qE "^plain +ok +$B/out/plain\$" "$T/r.out"
check "rerun table: win ok with its destination" grep -qE "^win +ok +$B/out/win\$" "$T/r.out"
check "rerun table: broken FAILED with its error" grep -qE "^broken +FAILED +.*$B/missing.img" "$T/r.out"
check "rerun table: 2 of 3 jobs succeeded" grep -qx '2 of 3 jobs succeeded' "$T/r.out"
check_eq "rerun: the images were not copied again (inode, mtime)" "$i_plain $i_win" \
    "$(ino "$B/out/plain/disk.vhd") $(ino "$B/out/win/disk.vhd")"
check_eq "rerun: commit found them already there" "true true" \
    "$(json_key "$B/out/plain/.p2v-job/commit.json" already) $(json_key "$B/out/win/.p2v-job/commit.json" already)"
check_eq "rerun: the summaries still say ok with the same sha256" "ok ${want[plain]} ok ${want[win]}" \
    "$(for j in plain win; do json_key "$B/out/$j/p2v-summary.json" status; json_key "$B/out/$j/p2v-summary.json" sha256; done | xargs)"
check_eq "rerun: no p2v mount left" 0 "$(our_mounts)"

# ---- Check blockers, <no-check/>, a damaged partition table (one at a time) --
cat >"$B/more.xml" <<'XML'
<batch version="1">
  <job name="win-virtio"><source>win.img</source><destination>out/win-virtio</destination></job>
  <job name="win-virtio-nocheck"><source>win.img</source><destination>out/win-virtio-nocheck</destination><no-check/></job>
  <job name="damaged"><source>damaged.img</source><destination>out/damaged</destination></job>
  <job name="damaged-nocheck"><source>damaged.img</source><destination>out/damaged-nocheck</destination><no-check/></job>
</batch>
XML
"$P2V" batch --json "$B/more.xml" >"$T/m.json" 2>"$T/m.err"
check_eq "more: exit 1" 1 $?
check_eq "more: --jobs 1 by default: each job ends before the next starts" \
    "started FAILED started ok started FAILED started FAILED" \
    "$(grep -oE ': (started|ok|FAILED)' "$T/m.err" | cut -c3- | xargs)"
check_eq "more: statuses and failed steps" \
    "['failed check', 'ok None', 'failed check', 'failed mount']" \
    "$(jq_py "$T/m.json" '[x["status"] + " " + str(x["failed_step"]) for x in j]')"
check_eq "blockers: counted in the summary" 1 "$(jq_py "$T/m.json" 'j[0]["blockers"]')"
check "blockers: the error says how to go on" grep -q 'blocker.*no-check' <<<"$(jq_py "$T/m.json" 'j[0]["error"]')"
check "blockers: no image" test ! -e "$B/out/win-virtio/disk.vhd"
check "<no-check/>: the job goes on and commits" sums_ok "$B/out/win-virtio-nocheck"
check "damaged table: the check's error names the source" grep -qF "$B/damaged.img" <<<"$(jq_py "$T/m.json" 'j[2]["error"]')"
check "damaged table, <no-check/>: the mount's error names the source and the damage" \
    grep -qE "$B/damaged.img.*runs past the end" <<<"$(jq_py "$T/m.json" 'j[3]["error"]')"
check_eq "more: no p2v mount left" 0 "$(our_mounts)"

# ---- Ctrl-C: SIGINT to the batch's process group, as a terminal sends it ------
cat >"$B/int.xml" <<'XML'
<batch version="1">
  <job name="int"><source>plain.img</source><destination>out/int</destination><type>fixed</type></job>
</batch>
XML
# In a session of its own, with SIGINT at its default (a background job of a
# script would inherit it ignored).
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' \
    "$P2V" batch --json "$B/int.xml" >"$T/i.json" 2>"$T/i.err" &
bp=$!
python3 - "$B/out/int/.disk.vhd.p2v-partial" $((64 << 20)) "$bp" <<'PY2'
import os, sys, time
path, want, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        if os.stat(path).st_size > want:
            sys.exit(0)
    except FileNotFoundError:
        pass
    if not os.path.exists("/proc/%d" % pid):
        break
    time.sleep(0.001)
sys.exit(1)
PY2
check "Ctrl-C: the job's copy got past its first chunk" test $? = 0
kill -INT -- -"$bp" 2>/dev/null
wait "$bp"
group_gone() { ! ps -eo pgid= | grep -qx " *$bp"; }
check "Ctrl-C: the job's processes end" wait_until 60 group_gone
check_eq "Ctrl-C: the job left no p2v mount" 0 "$(our_mounts)"
S=$B/out/int/p2v-summary.json
check_eq "Ctrl-C: the summary says the commit was interrupted" "failed commit interrupted" \
    "$(json_key "$S" status) $(json_key "$S" failed_step) $(json_key "$S" error | grep -o '^interrupted')"
check "Ctrl-C: the partial is kept, no disk.vhd" \
    bash -c "test -s '$B/out/int/.disk.vhd.p2v-partial' && test ! -e '$B/out/int/disk.vhd'"
"$P2V" batch --json "$B/int.xml" >"$T/i.json" 2>/dev/null
check_eq "Ctrl-C, then the rerun: ok" "0 ok" "$? $(json_key "$T/i.json" 0.status)"
check "Ctrl-C, then the rerun: the commit resumed" grep -q '^p2v: resuming .*/out/int/disk.vhd at byte [1-9]' "$B/out/int/.p2v-job/log"
p2v_mount "$B/plain.img" "$T/m-fixed" --type fixed || bad "mounting plain.img (fixed) failed"
check_eq "Ctrl-C, then the rerun: the image is the fixed view's" "$(hash_of "$T/m-fixed/disk.vhd")" "$(json_key "$T/i.json" 0.sha256)"
check "Ctrl-C, then the rerun: sha256sum -c passes" sums_ok "$B/out/int"
p2v_umount "$T/m-fixed"
check_eq "Ctrl-C, then the rerun: no p2v mount left" 0 "$(our_mounts)"

# ---- Destinations ---------------------------------------------------------------
cat >"$B/deep.xml" <<'XML'
<batch version="1">
  <job name="deep"><source>plain.img</source><destination>new/dir/plain</destination></job>
</batch>
XML
"$P2V" batch --json "$B/deep.xml" >"$T/d.json" 2>/dev/null
check_eq "a destination whose parent does not exist yet: created, the job succeeds" "ok ${want[plain]}" \
    "$(json_key "$T/d.json" 0.status) $(json_key "$T/d.json" 0.sha256)"
long=j$(printf 'x%.0s' {1..63})   # 64 characters: the longest name the schema allows
cat >"$B/long.xml" <<XML
<batch version="1">
  <job name="$long"><source>missing.img</source><destination>out/long</destination></job>
</batch>
XML
check "a 64-character name is valid" xmllint --noout --relaxng transfer/manifest.rng "$B/long.xml"
"$P2V" batch --json "$B/long.xml" >"$T/l.json" 2>/dev/null
check_eq "a 64-character name is kept whole" "$long" "$(json_key "$T/l.json" 0.name)"

# ---- Manifests that do not validate ------------------------------------------------
bad_manifest() {  # bad_manifest WHAT PATTERN FILE: exit 2, a message naming FILE and matching PATTERN, no job run
    local what=$1 pat=$2 f=$3
    mkdir -p "$B/out/bad"
    "$P2V" batch --jobs 2 "$f" >"$T/x.out" 2>"$T/x.err"
    local rc=$? ran
    ran=$(grep -c ': started' "$T/x.err")
    if [ $rc = 2 ] && grep -qF -- "$f" "$T/x.err" && grep -qE -- "$pat" "$T/x.err" && [ "$ran" = 0 ] &&
        [ -z "$(ls -A "$B/out/bad")" ]; then
        ok "$what: exit 2: $(head -1 "$T/x.err")"
    else
        bad "$what: exit $rc, $ran jobs started, message: $(grep -v ': started' "$T/x.err")"
        local m
        for m in $(grep ' fuse.p2v ' /proc/mounts | awk '{print $2}' | grep "^$B/out/bad/"); do
            "$P2V" umount "$m" || fusermount3 -uz "$m"
        done
    fi
    rm -rf "$B/out/bad"
}
job() { echo "  <job name=\"$1\"><source>plain.img</source><destination>out/bad/$2</destination>${3:-}</job>"; }
{ echo '<batch version="1">'; job a a; job b b '<colour>blue</colour>'; echo '</batch>'; } >"$B/unknown.xml"
bad_manifest "an unknown element" 'line 3.*colour' "$B/unknown.xml"
{ echo '<batch version="1">'; job a a; job b a; echo '</batch>'; } >"$B/dupdest.xml"
bad_manifest "a duplicate destination" "share a destination" "$B/dupdest.xml"
{ echo '<batch version="1">'; job a a; job a b; echo '</batch>'; } >"$B/dupname.xml"
bad_manifest "a duplicate name" "share a name" "$B/dupname.xml"
{ echo '<batch version="1">'; job a a; job b ./a//; echo '</batch>'; } >"$B/dupdest2.xml"
bad_manifest "the same destination spelled another way (out/bad/a, out/bad/./a//)" "destination" "$B/dupdest2.xml"
{ echo '<batch version="2">'; job a a; echo '</batch>'; } >"$B/version.xml"
bad_manifest "version 2" 'line 1' "$B/version.xml"
{ echo '<batch version="1">'; job 'a b' a; echo '</batch>'; } >"$B/badname.xml"
bad_manifest "a name with a blank" 'line 2' "$B/badname.xml"
{ echo '<batch version="1">'; echo '  <job name="a"><destination>out/bad/a</destination></job>'; echo '</batch>'; } >"$B/nosource.xml"
bad_manifest "a job without a source" 'line 2' "$B/nosource.xml"
echo '<batch version="1"><job name="a">' >"$B/notxml.xml"
bad_manifest "not well-formed XML" 'line' "$B/notxml.xml"
echo '<batch version="1"/>' >"$B/empty.xml"
bad_manifest "no job" 'batch' "$B/empty.xml"
bad_manifest "a missing manifest" '' "$B/nothing.xml"
for f in unknown dupdest2 version badname nosource empty; do
    xmllint --noout --relaxng transfer/manifest.rng "$B/$f.xml" >/dev/null 2>&1 && r=valid || r=invalid
    [ $f = dupdest2 ] && want_r=valid || want_r=invalid
    check_eq "control: xmllint says $f.xml is $want_r" $want_r $r
done

# ---- Usage and schema -----------------------------------------------------------
"$P2V" batch >/dev/null 2>&1; check_eq "no manifest: exit 2" 2 $?
"$P2V" batch --jobs 0 "$B/batch.xml" >/dev/null 2>&1; check_eq "--jobs 0: exit 2" 2 $?
"$P2V" batch --jobs x "$B/batch.xml" >/dev/null 2>&1; check_eq "--jobs x: exit 2" 2 $?
"$P2V" batch "$B/batch.xml" "$B/more.xml" >/dev/null 2>&1; check_eq "two manifests: exit 2" 2 $?
check "p2v batch --schema prints transfer/manifest.rng" cmp <("$P2V" batch --schema) transfer/manifest.rng
awk '/^; manifest-example:end$/ { f = 0 } f && !/^```/ { print } /^; manifest-example:begin$/ { f = 1 }' \
    docs/man/p2v-batch.1.scd >"$T/readme-manifest.xml"
check "the example manifest of p2v-batch(1) is there" grep -q '^<batch' "$T/readme-manifest.xml"
check "the example manifest of p2v-batch(1) is valid against the schema" \
    xmllint --noout --relaxng transfer/manifest.rng "$T/readme-manifest.xml"

check_eq "no p2v mount left at the end" 0 "$(our_mounts)"
for s in plain win damaged; do check_eq "source $s.img unchanged" "${before[$s]}" "$(hash_of "$B/$s.img")"; done
finish
