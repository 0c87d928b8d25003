#!/bin/bash
# Real Windows SYSTEM hives (tests/fixtures/windows/, from the regipy
# project): a clean Windows 7 x86 one, and a dirty Windows 10 x64 one whose
# newest data are only in its transaction logs.  Each is put on an NTFS
# disk (tests/mkwinfixture.sh) and p2v inspects, checks and fixes it up:
# - the dirty hive is recovered from its logs: values only the logs hold
#   are seen (read with hivexget and python3-hivex; found by a replay of
#   the logs written here from the spec, not with p2v's code, whose
#   result p2v's must match but for the fix-up);
# - without its logs it is refused (message names the hive and the
#   remedy), check calls it a blocker, --ignore-hive-logs goes on with a
#   warning;
# - a hive p2v writes back is clean (sequence numbers equal, above every
#   log entry, so the logs beside it can never be replayed over it),
#   hivexsh opens it, and the logs are untouched;
# - every target's default plan, on both hives: its dry run lists what the
#   apply then does; hivexsh opens every written hive, its sequence numbers
#   are equal, and hivexregedit exports before and after differ exactly by
#   the changes fixups.json reports; check afterwards finds each driver the
#   plan enabled starting at boot and the vendor tools dealt with;
# - a Windows directory spelled WINDOWS on disk is named so.
# Sources are hashed before and after.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

PY=/usr/bin/python3   # Debian's, where python3-hivex lives
F=tests/fixtures/windows
H=$T/hives
mkdir -p "$H"
for f in "$F"/*.xz; do xz -dc "$f" >"$H/$(basename "$f" .xz)"; done
SYS10=$H/SYSTEM-win10-x64-dirty SYS7=$H/SYSTEM-win7-x86

# The logs' highest sequence number, from their own bytes: the base
# blocks' and every well-formed HvLE entry header's (stale ones too).
log_max_seq() {
    $PY - "$@" <<'PY'
import struct, sys
best = 0
for path in sys.argv[1:]:
    d = open(path, "rb").read()
    best = max(best, struct.unpack_from("<I", d, 4)[0])
    off = 512
    while off + 40 <= len(d):
        if d[off:off + 4] != b"HvLE":
            off += 512
            continue
        size, _, seq = struct.unpack_from("<III", d, off + 4)
        best = max(best, seq)
        off += size if size >= 512 and size % 512 == 0 else 512
print(best)
PY
}
# seqs HIVE: "seq1 seq2" of its base block.
seqs() { $PY -c 'import struct,sys; d=open(sys.argv[1],"rb").read(12); print(*struct.unpack_from("<II", d, 4))' "$1"; }

mk() {  # mk OUT [mkwinfixture options]
    local out=$1; shift
    bash tests/mkwinfixture.sh "$out" --size 96 "$@" 2>"$T/mk.log" || { cat "$T/mk.log"; return 1; }
}
mk "$T/w10.img" --win10 --system "$SYS10" --logs || bad "building the dirty Windows 10 disk"
mk "$T/w10nolog.img" --win10 --system "$SYS10" || bad "building the dirty disk without its logs"
mk "$T/w7.img" --arch x86 --system "$SYS7" || bad "building the Windows 7 x86 disk"
mk "$T/w7caps.img" --arch x86 --system "$SYS7" --windir WINDOWS || bad "building the WINDOWS disk"
declare -A BEFORE
for s in w10 w10nolog w7 w7caps; do BEFORE[$s]=$(hash_of "$T/$s.img"); done

# --- The dirty hive with its logs: recovered -----------------------------
j=$("$P2V" inspect --json "$T/w10.img" 2>"$T/err")
check_eq "dirty+logs: inspect succeeds" 0 $?
check_eq "dirty+logs: SYSTEM recovered" recovered "$(json_key <(echo "$j") hives.0.state)"
check_eq "dirty+logs: 24 log entries replayed" 24 "$(json_key <(echo "$j") hives.0.log_entries)"
check_eq "dirty+logs: the primary's sequence numbers as found" "1622 1621" \
    "$(json_key <(echo "$j") hives.0.primary_sequence) $(json_key <(echo "$j") hives.0.primary_secondary_sequence)"
check_eq "dirty+logs: hostname" DESKTOP-PM6C56D "$(json_key <(echo "$j") hostname)"
"$P2V" inspect "$T/w10.img" >"$T/inspect.txt" 2>&1
check "dirty+logs: inspect's text names the recovery" grep -q 'SYSTEM recovered (sequence 1622/1621; 24 transaction log entries replayed)' "$T/inspect.txt"
c=$("$P2V" check --json "$T/w10.img")
check "dirty+logs: check passes hive-state" $PY -c '
import json,sys
r=[x for x in json.load(sys.stdin)["results"] if x["id"]=="hive-state"][0]
sys.exit(0 if r["status"]=="pass" and "SYSTEM from 24 log entries" in r["message"] else 1)' <<<"$c"
"$P2V" inventory --source "$T/w10.img" >"$T/inv.xml"
check "dirty+logs: machine.xml validates, with the hive's state" \
    bash -c "xmllint --noout --relaxng machine/machine.rng '$T/inv.xml' && grep -q '<hive name=\"SYSTEM\" state=\"recovered\" entries=\"24\"/>' '$T/inv.xml'"

# --- ... and written back by a fix-up --------------------------------------
cat >"$T/plan" <<'PLAN'
no-auto-reboot
reg-set HKLM\SYSTEM\CurrentControlSet\Services\p2vtest Start dword 3
PLAN
ST=$T/state10 MNT=$T/mnt10
check "dirty+logs: fixup apply" "$P2V" fixup apply --state "$ST" --plan "$T/plan" "$T/w10.img"
if p2v_mount "$T/w10.img" "$MNT" --state "$ST"; then
    cfg=/Windows/System32/config
    ntfscat "$MNT/partitions/1.raw" "$cfg/SYSTEM" >"$T/sys.after" 2>"$T/err"
    check "written SYSTEM: hivexsh opens it" bash -c "echo ls | hivexsh '$T/sys.after' >/dev/null"
    read -r s1 s2 <<<"$(seqs "$T/sys.after")"
    check_eq "written SYSTEM: sequence numbers equal (clean)" "$s1" "$s2"
    max=$(log_max_seq "$SYS10.LOG1" "$SYS10.LOG2")
    check "written SYSTEM: sequence $s1 above every log entry's ($max)" test "$s1" -gt "$max"
    check_eq "written SYSTEM: a value only LOG2 held (SharedAccess Epoch)" 435 \
        "$(hivexget "$T/sys.after" '\ControlSet001\Services\SharedAccess\Epoch' Epoch)"
    check_eq "written SYSTEM: a key only the logs held (ad_driver)" "AccessData Driver" \
        "$(hivexget "$T/sys.after" '\ControlSet001\Services\ad_driver' DisplayName)"
    check_eq "written SYSTEM: the primary alone had the old value" 431 \
        "$(hivexget "$SYS10" '\ControlSet001\Services\SharedAccess\Epoch' Epoch)"
    check_eq "written SYSTEM: the fix-up's value" 3 \
        "$(hivexget "$T/sys.after" '\ControlSet001\Services\p2vtest' Start)"
    check "written SYSTEM: python3-hivex reads the value the logs held" $PY -c '
import hivex, sys
h = hivex.Hivex(sys.argv[1])
n = h.root()
for k in ("ControlSet001", "Services", "SharedAccess", "Epoch"):
    n = h.node_get_child(n, k)
v = h.node_get_value(n, "Epoch")
sys.exit(0 if h.value_dword(v) == 435 else 1)' "$T/sys.after"
    for l in LOG1 LOG2; do
        ntfscat "$MNT/partitions/1.raw" "$cfg/SYSTEM.$l" >"$T/log.after" 2>/dev/null
        check "written SYSTEM: SYSTEM.$l left as it was" cmp -s "$T/log.after" "$SYS10.$l"
    done
    check_eq "fixups.json: SYSTEM recovered" recovered "$(json_key "$MNT/fixups.json" windows.hives.0.state)"
    p2v_umount "$MNT"
else
    bad "mounting the fixed-up dirty disk"
fi

# --- The recovery against a replay written here --------------------------
# An independent replay of the new-format logs, from the spec's layout
# (msuhanov/regf), not from p2v's code: HvLE entries from both logs, in
# sequence order from the older log's base sequence number (if not older
# than the primary's secondary one) on, each writing its dirty pages at
# their offsets in the hive bins.  The values it
# brings that the primary lacks are the values only the logs held; every
# one must be in the hive p2v recovered and wrote back, with the same data,
# and the two hives' exports must differ only by the fix-up's two values.
cat >"$T/replay.py" <<'PY'
import struct, sys
prim, logs, out = sys.argv[1], sys.argv[2:4], sys.argv[4]
h = bytearray(open(prim, "rb").read())
secondary = struct.unpack_from("<I", h, 8)[0]
entries, bases = {}, []
for path in logs:
    d = open(path, "rb").read()
    bases.append(struct.unpack_from("<I", d, 4)[0])    # the log's base block sequence number
    off = 512
    while off + 40 <= len(d) and d[off:off + 4] == b"HvLE":
        size, _, seq, bins, npages = struct.unpack_from("<IIIII", d, off + 4)
        if size < 40 or off + size > len(d):
            break
        refs = [struct.unpack_from("<II", d, off + 40 + 8 * i) for i in range(npages)]
        data, pages = off + 40 + 8 * npages, []
        for po, ps in refs:
            pages.append((po, d[data:data + ps]))
            data += ps
        entries.setdefault(seq, (bins, pages))
        off += size
# From the older log not older than the primary, entry after entry.
want, n = min(b for b in bases if b >= secondary), 0
while want in entries:
    bins, pages = entries[want]
    if len(h) < 4096 + bins:
        h.extend(b"\0" * (4096 + bins - len(h)))
    for po, page in pages:
        h[4096 + po:4096 + po + len(page)] = page
    struct.pack_into("<I", h, 40, bins)
    want, n = want + 1, n + 1
struct.pack_into("<II", h, 4, want, want)
x = 0
for i in range(0, 508, 4):
    x ^= struct.unpack_from("<I", h, i)[0]
struct.pack_into("<I", h, 508, x if x not in (0, 0xFFFFFFFF) else (1 if x == 0 else 0xFFFFFFFE))
open(out, "wb").write(bytes(h[:4096 + struct.unpack_from("<I", h, 40)[0]]))
print(n)
PY
check_eq "independent replay: the 24 entries p2v replayed" 24 "$($PY "$T/replay.py" "$SYS10" "$SYS10.LOG1" "$SYS10.LOG2" "$T/sys.replayed")"
check "independent replay: hivexsh opens it" bash -c "echo ls | hivexsh '$T/sys.replayed' >/dev/null"
hivexregedit --export "$SYS10" '\' >"$T/primary.reg" 2>/dev/null
hivexregedit --export "$T/sys.replayed" '\' >"$T/replayed.reg" 2>/dev/null
hivexregedit --export "$T/sys.after" '\' >"$T/p2v.reg" 2>/dev/null
check "independent replay: values only the logs held are in p2v's hive, and nothing else differs" \
    $PY - "$T/primary.reg" "$T/replayed.reg" "$T/p2v.reg" <<'PY'
import sys
def read(path):
    out, key = {}, None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("[") and line.endswith("]"):
            key = line[1:-1].lower()
        elif key is not None and "=" in line:
            name, val = line.split("=", 1)
            out[(key, name.lower())] = val
    return out
prim, rep, p2v = (read(p) for p in sys.argv[1:4])
only_logs = {k for k in rep if prim.get(k) != rep[k]}
missing = [k for k in only_logs if p2v.get(k) != rep[k]]
# The fix-up above: no-auto-reboot and one reg-set.
fixup = {("\\controlset001\\services\\p2vtest", '"start"'),
         ("\\controlset001\\control\\crashcontrol", '"autoreboot"')}
other = {k for k in set(rep) | set(p2v) if rep.get(k) != p2v.get(k)} - fixup
print(len(only_logs), "values only the logs held;", len(missing), "missing;", len(other),
      "other differences", sorted(other)[:5])
sys.exit(0 if len(only_logs) > 10 and not missing and not other else 1)
PY

# --- The dirty hive without its logs ---------------------------------------
check_fails "dirty, no logs: inspect refuses, naming the hive and the remedy" \
    "SYSTEM hive .*not shut down cleanly.*shutdown /s /t 0.*--ignore-hive-logs" \
    "$P2V" inspect "$T/w10nolog.img"
check_fails "dirty, no logs: fixup apply refuses" "SYSTEM hive .*cannot be replayed" \
    "$P2V" fixup apply --state "$T/state-nolog" --plan "$T/plan" "$T/w10nolog.img"
check "dirty, no logs: the refused apply left no state" test ! -e "$T/state-nolog/overlay.index"
c=$("$P2V" check --json "$T/w10nolog.img"); rc=$?
check_eq "dirty, no logs: check exits 1 (a blocker)" 1 "$rc"
check "dirty, no logs: hive-state is a blocker with the remedy" $PY -c '
import json,sys
r=[x for x in json.load(sys.stdin)["results"] if x["id"]=="hive-state"][0]
sys.exit(0 if r["status"]=="fail" and r["severity"]=="blocker" and "--ignore-hive-logs" in r["remedy"]
        and "shutdown /s /t 0" in r["remedy"] else 1)' <<<"$c"
j=$("$P2V" inspect --json --ignore-hive-logs "$T/w10nolog.img" 2>"$T/err")
check_eq "dirty, no logs, --ignore-hive-logs: inspect goes on" 0 $?
check "dirty, no logs, --ignore-hive-logs: with a warning" grep -q "transaction logs are ignored" "$T/err"
check_eq "dirty, no logs, --ignore-hive-logs: reported dirty, logs ignored" "dirty true" \
    "$(json_key <(echo "$j") hives.0.state) $(json_key <(echo "$j") hives.0.logs_ignored)"
c=$("$P2V" check --json --ignore-hive-logs "$T/w10nolog.img")
check "dirty, no logs, --ignore-hive-logs: check warns instead" $PY -c '
import json,sys
r=[x for x in json.load(sys.stdin)["results"] if x["id"]=="hive-state"][0]
sys.exit(0 if r["status"]=="fail" and r["severity"]=="warning" else 1)' <<<"$c"

# --- Every target's default plan on both real hives ------------------------
# For each target: the default plan, its dry run, the apply, and check
# again.  Verified with tools that are not p2v: hivexsh opens every written
# hive; its sequence numbers are equal; hivexregedit exports before and
# after differ exactly by the changes fixups.json reports (the dirty hive's
# "before" is its recovered self, as a one-value fix-up wrote it above:
# that value is the only change the report holds beyond the plan's); the
# dry run lists the same changes the apply made.
cat >"$T/exports.py" <<'PY'
import json, sys
# exports.py BEFORE.reg AFTER.reg fixups.json HIVE [IGNORED-WHAT...]
def read(path):
    vals, keys, key = {}, set(), None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("[") and line.endswith("]"):
            key = line[1:-1].lower()
            keys.add(key)
        elif key is not None and "=" in line:
            name, val = line.split("=", 1)
            vals[(key, name.lower())] = val
    return vals, keys
(a, ka), (b, kb) = read(sys.argv[1]), read(sys.argv[2])
diff = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
diff |= {(k, None) for k in ka ^ kb}          # keys made or removed
hive, ignored = sys.argv[4] + "\\", set(sys.argv[5:])
values, keys = set(), set()
for c in json.load(open(sys.argv[3]))["changes"]:
    if not c["changed"] or not c["what"].startswith(hive) or c["what"] in ignored:
        continue
    what = c["what"][len(hive):]
    if ": " in what:   # a value; hivexregedit quotes names, "@" is the default value
        key, _, name = what.rpartition(": ")
        values.add(("\\" + key.lower(), "@" if name in ("", "(default)") else '"%s"' % name.lower()))
    else:              # a whole key, made or removed with what it holds
        keys.add("\\" + what.lower())
under = lambda k, top: k == top or k.startswith(top + "\\")
explained = lambda d: d in values or any(under(d[0], k) for k in keys)
missing = [v for v in values if v not in diff] + \
          [k for k in keys if not any(under(d[0], k) for d in diff)]
extra = [d for d in diff if not explained(d) and d[1] is not None]
# A key made to hold a reported value is explained by that value.
extra += [d for d in diff if d[1] is None and not explained(d)
          and not any(under(v[0], d[0]) for v in values)]
if missing or extra:
    print("reported but not changed:", sorted(map(str, missing))[:10])
    print("changed but not reported:", sorted(map(str, extra))[:10])
    sys.exit(1)
print(len(values) + len(keys), "changes")
PY
cat >"$T/same.py" <<'PY'
import json, sys
# same.py DRY.json APPLIED.json: the same changes.  The dry run lists each
# write as it comes; the record holds each thing once, old from the source
# and new as it ends.
def net(p):
    out = {}
    for c in json.load(open(p))["changes"]:
        old = out[c["what"]][0] if c["what"] in out else c["old"]
        out[c["what"]] = (old, c["new"])
    return {w: v for w, v in out.items() if v[0] != v[1]}
dry, rec = net(sys.argv[1]), net(sys.argv[2])
if not dry or dry != rec:
    print("dry run only:", sorted(set(dry.items()) - set(rec.items()))[:5])
    print("record only:", sorted(set(rec.items()) - set(dry.items()))[:5])
    sys.exit(1)
PY
export_of() { hivexregedit --export "$1" '\' >"$2" 2>/dev/null; }
D=$T/drivers
mkdir -p "$D/x86" "$D/amd64"
for a in x86 amd64; do
    make_driver "$D/$a/viostor.sys" "$( [ $a = x86 ] && echo x86 || echo x86_64)" "p2v test viostor ($a)"
    printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=SCSIAdapter\r\n' >"$D/$a/viostor.inf"
done
# The sources' hives as they are, read through a plain view.
for s in w7 w10; do
    if p2v_mount "$T/$s.img" "$T/mnt-src-$s"; then
        ntfscat "$T/mnt-src-$s/partitions/1.raw" /Windows/System32/config/SOFTWARE >"$T/SOFTWARE-$s" 2>/dev/null
        p2v_umount "$T/mnt-src-$s"
    else
        bad "mounting $s.img without fix-ups"
    fi
done
export_of "$SYS7" "$T/SYSTEM-w7.reg"
# The dirty hive's "before": recovered, with one value set by a plan that
# does nothing else; the same line opens each w10 plan below.
printf '%s\n' 'reg-set HKLM\SYSTEM\CurrentControlSet\Services\p2vtest Start dword 3' >"$T/plan-base"
"$P2V" fixup apply --state "$T/st-base" --plan "$T/plan-base" "$T/w10.img" >/dev/null 2>"$T/err" \
    || bad "w10: the one-value fix-up"
if p2v_mount "$T/w10.img" "$T/mnt-base" --state "$T/st-base"; then
    ntfscat "$T/mnt-base/partitions/1.raw" /Windows/System32/config/SYSTEM >"$T/SYSTEM-base" 2>/dev/null
    p2v_umount "$T/mnt-base"
fi
export_of "$T/SYSTEM-base" "$T/SYSTEM-w10.reg"
j=$("$P2V" inspect --json "$T/w7.img")
check_eq "w7: SYSTEM clean" clean "$(json_key <(echo "$j") hives.0.state)"
check_eq "w7: 32-bit" i386 "$(json_key <(echo "$j") arch)"
p2vtest='SYSTEM\ControlSet001\Services\p2vtest: Start'
for s in w7 w10; do
    arch=$( [ $s = w7 ] && echo x86 || echo amd64)
    for t in virtio hyperv qemu-ide qemu-sata; do
        n=$s-$t plan=$T/plan-$s-$t
        { [ $s = w10 ] && cat "$T/plan-base"
          "$P2V" fixup plan --target $t --drivers "$D/$arch" "$T/$s.img"; } >"$plan" 2>"$T/err"
        check "$n: default plan" grep -q '^boot-geometry' "$plan"
        check_eq "$n: the plan names the guest's architecture only ($arch)" "$arch" \
            "$(grep -oP '(?<![\w])(x86|amd64|ARM64)(?![\w])' "$plan" | sort -u | tr '\n' ' ' | sed 's/ $//')"
        "$P2V" fixup apply --state "$T/dry-$n" --dry-run --json --plan "$plan" "$T/$s.img" >"$T/dry-$n.json" 2>"$T/err"
        check_eq "$n: dry run exits 0" 0 $?
        check "$n: the dry run left no state" test ! -e "$T/dry-$n/overlay.index"
        "$P2V" fixup apply --state "$T/st-$n" --plan "$plan" "$T/$s.img" >/dev/null 2>"$T/err"
        check_eq "$n: apply exits 0" 0 $?
        check "$n: the dry run listed the changes the apply made" $PY "$T/same.py" "$T/dry-$n.json" "$T/st-$n/fixups.json"
        mnt=$T/mnt-$n
        if ! p2v_mount "$T/$s.img" "$mnt" --state "$T/st-$n"; then
            bad "$n: mounting the fixed-up disk"
            continue
        fi
        for h in SYSTEM SOFTWARE; do
            ntfscat "$mnt/partitions/1.raw" "/Windows/System32/config/$h" >"$T/$h-$n" 2>/dev/null
            check "$n: hivexsh opens the written $h" bash -c "echo ls | hivexsh '$T/$h-$n' >/dev/null"
            read -r s1 s2 <<<"$(seqs "$T/$h-$n")"
            check_eq "$n: $h's sequence numbers equal" "$s1" "$s2"
            export_of "$T/$h-$n" "$T/$h-$n.reg"
        done
        export_of "$T/SOFTWARE-$s" "$T/SOFTWARE-$s.reg"
        check "$n: SYSTEM exports differ exactly by the reported changes" \
            $PY "$T/exports.py" "$T/SYSTEM-$s.reg" "$T/SYSTEM-$n.reg" "$mnt/fixups.json" SYSTEM "$p2vtest"
        check "$n: SOFTWARE exports differ exactly by the reported changes" \
            $PY "$T/exports.py" "$T/SOFTWARE-$s.reg" "$T/SOFTWARE-$n.reg" "$mnt/fixups.json" SOFTWARE
        p2v_umount "$mnt"
        # check after apply: every driver the plan enabled starts at boot.
        "$P2V" check --json --state "$T/st-$n" --target $t "$T/$s.img" >"$T/check-$n.json" 2>/dev/null
        for drv in $(sed -n 's/^enable-driver \([^ ]*\).*/\1/p; s/^inject-driver \([^ ]*\).*/\1/p' "$plan"); do
            check "$n: check after apply: $drv starts at boot" $PY -c '
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["results"] if x["id"] == "boot-driver"][0]
sys.exit(1 if sys.argv[2] + " is installed but does not start" in r["message"]
            or sys.argv[2] + ".sys is missing" in r["message"] else 0)' "$T/check-$n.json" "$drv"
        done
        check "$n: check after apply: vendor tools resolved" $PY -c '
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["results"] if x["id"] == "vendor-tools"][0]
sys.exit(0 if r["status"] == "pass" else 1)' "$T/check-$n.json"
    done
done

# --- The Windows directory as the disk spells it --------------------------
j=$("$P2V" inspect --json "$T/w7caps.img")
check_eq "WINDOWS: inspect names the directory as the disk spells it" /WINDOWS "$(json_key <(echo "$j") systemroot)"
"$P2V" fixup plan --target qemu-ide "$T/w7caps.img" >"$T/plan-caps" 2>"$T/err"
"$P2V" fixup apply --state "$T/st-caps" --plan "$T/plan-caps" "$T/w7caps.img" >/dev/null 2>"$T/err"
check_eq "WINDOWS: apply exits 0" 0 $?
check "WINDOWS: the files the fix-up writes are named under /WINDOWS" $PY -c '
import json, sys
files = [c["what"] for c in json.load(open(sys.argv[1]))["changes"] if c["what"].startswith("/")]
sys.exit(0 if files and all(f.startswith("/WINDOWS/") for f in files) else 1)' "$T/st-caps/fixups.json"

for s in w10 w10nolog w7 w7caps; do
    check_eq "source $s.img unchanged" "${BEFORE[$s]}" "$(hash_of "$T/$s.img")"
done
finish
