#!/bin/bash
# Real Windows SYSTEM hives (tests/fixtures/windows/, from the regipy
# project): a clean Windows 7 x86 one, and a dirty Windows 10 x64 one whose
# newest data are only in its transaction logs.  Each is put on an NTFS
# disk (tests/mkwinfixture.sh) and p2v inspects, checks and fixes it up:
# - the dirty hive is recovered from its logs: values only the logs hold
#   are seen (read with hivexget, and the logs' own highest sequence
#   number parsed here, not with p2v's code);
# - without its logs it is refused (message names the hive and the
#   remedy), check calls it a blocker, --ignore-hive-logs goes on with a
#   warning;
# - a hive p2v writes back is clean (sequence numbers equal, above every
#   log entry, so the logs beside it can never be replayed over it),
#   hivexsh opens it, and the logs are untouched;
# - hivexregedit exports of the clean hive before and after a fix-up
#   differ exactly by the changes fixups.json reports.
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
declare -A BEFORE
for s in w10 w10nolog w7; do BEFORE[$s]=$(hash_of "$T/$s.img"); done

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

# --- The clean Windows 7 hive: the exports differ by the reported changes ---
j=$("$P2V" inspect --json "$T/w7.img")
check_eq "clean: SYSTEM clean" clean "$(json_key <(echo "$j") hives.0.state)"
check_eq "clean: 32-bit" i386 "$(json_key <(echo "$j") arch)"
ST7=$T/state7 MNT7=$T/mnt7
cat >"$T/plan7" <<'PLAN'
no-auto-reboot
disable-vendor-services
reg-set HKLM\SYSTEM\CurrentControlSet\Services\p2vtest Start dword 3
PLAN
check "clean: fixup apply" "$P2V" fixup apply --state "$ST7" --plan "$T/plan7" --json "$T/w7.img"
if p2v_mount "$T/w7.img" "$MNT7" --state "$ST7"; then
    ntfscat "$MNT7/partitions/1.raw" /Windows/System32/config/SYSTEM >"$T/sys7.after" 2>/dev/null
    read -r s1 s2 <<<"$(seqs "$T/sys7.after")"
    check_eq "clean: written SYSTEM's sequence numbers equal" "$s1" "$s2"
    hivexregedit --export "$SYS7" '\' >"$T/before.reg" 2>/dev/null
    hivexregedit --export "$T/sys7.after" '\' >"$T/after.reg" 2>/dev/null
    check "clean: hivexregedit exports before and after differ exactly by fixups.json's SYSTEM changes" \
        $PY - "$T/before.reg" "$T/after.reg" "$MNT7/fixups.json" <<'PY'
import json, re, sys
def values(path):
    out, key = {}, None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("[") and line.endswith("]"):
            key = line[1:-1]
            out[(key, None)] = True
        elif key is not None and "=" in line:
            name, val = line.split("=", 1)
            out[(key, name)] = val
    return out
a, b = values(sys.argv[1]), values(sys.argv[2])
diff = {k for k in set(a) | set(b) if a.get(k) != b.get(k) and k[1] is not None}
report = json.load(open(sys.argv[3]))
ccs = report["windows"]["current_control_set"]
reported = set()
for c in report["changes"]:
    if not c["changed"] or not c["what"].startswith("SYSTEM\\"):
        continue
    key, _, name = c["what"][len("SYSTEM\\"):].rpartition(": ")
    reported.add(("\\" + key.lower(), ('"%s"' % name if name else "@").lower()))
# hivexregedit names keys from the root as the hive spells them, and quotes
# value names; the registry is case-insensitive.
diff_keys = {(k.lower(), n.lower()) for k, n in diff}
missing = {d for d in reported if d not in diff_keys}
extra = {d for d in diff_keys if d not in reported}
if missing or extra:
    print("reported but not changed:", sorted(missing)[:10])
    print("changed but not reported:", sorted(extra)[:10])
    sys.exit(1)
sys.exit(0)
PY
    p2v_umount "$MNT7"
else
    bad "mounting the fixed-up Windows 7 disk"
fi

for s in w10 w10nolog w7; do
    check_eq "source $s.img unchanged" "${BEFORE[$s]}" "$(hash_of "$T/$s.img")"
done
finish
