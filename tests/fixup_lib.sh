# What the scripts that apply a default plan in libguestfs's appliance
# share (it_linux, it_linux_uefi, it_win_uefi).  Source it after lib.sh.

# changes FILE: a fixup apply --json's change list, one line each: line,
# action, what, changed, old, new.  A command is compared by what ran, not
# by what it printed (timings).
changes() {
    python3 -c 'import json,sys
for c in json.load(open(sys.argv[1]))["changes"]:
    new = "(output)" if c["what"].startswith("command: ") else (c["new"] or "").replace("\n", "|")
    print(c["line"], c["action"], c["what"], c["changed"], c["old"], new)' "$1"
}

# apply_plan SOURCE PLAN: the dry run (a scratch overlay) and the apply
# (state $T/st) side by side, both dated 1700000000; both must exit 0 and
# list the same changes, then a second apply must change nothing.  The
# apply's list is left in $T/apply.txt.
apply_plan() {
    local src=$1 plan=$2 rc dpid
    SOURCE_DATE_EPOCH=1700000000 "$P2V" fixup apply --dry-run --json --state "$T/dry" --plan "$plan" \
        "$src" >"$T/dry.json" 2>"$T/dry.err" &
    dpid=$!
    SOURCE_DATE_EPOCH=1700000000 "$P2V" fixup apply --json --state "$T/st" --plan "$plan" "$src" \
        >"$T/apply.json" 2>"$T/apply.err"
    rc=$?
    check_eq "fixup apply exits 0 $(tail -2 "$T/apply.err" | tr '\n' ' ')" 0 $rc
    wait "$dpid"
    rc=$?
    check_eq "the dry run exits 0 $(tail -2 "$T/dry.err" | tr '\n' ' ')" 0 $rc
    changes "$T/apply.json" >"$T/apply.txt" 2>&1
    check_eq "the dry run lists exactly what the apply did" "$(cat "$T/apply.txt")" "$(changes "$T/dry.json" 2>&1)"
    "$P2V" fixup apply --json --state "$T/st" --plan "$plan" "$src" >"$T/again.json" 2>"$T/again.err"
    rc=$?
    check_eq "re-applying exits 0 and changes nothing" "0 0" \
        "$rc $(changes "$T/again.json" 2>/dev/null | awk '$0 ~ / True / {n++} END {print n+0}')"
}
