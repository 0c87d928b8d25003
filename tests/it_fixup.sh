#!/bin/bash
# Fix-ups on a Windows-like disk (tests/mkwinfixture.sh), both driver
# stores: inspect, default plans, dry run = apply, every planned value read
# back with hivexget from the hives inside MNT/partitions/1.raw, injected
# files seen by ntfscat, only the overlay's extents differ from the source,
# a second apply changes nothing, refusals leave the overlay as it was,
# discard starts over; fixups.json is the record of every apply (each change
# once, old = the source's value, new = the final one; a dry run leaves it
# alone; an unreadable one is restarted).  The source is hashed before and
# after.
. "$(dirname "$0")/lib.sh"

D=$T/drivers
mkdir -p "$D"
make_driver "$D/viostor.sys" x86_64 "p2v test viostor driver"
make_driver "$T/storahci.sys" x86_64 "p2v test storahci driver"
make_driver "$T/i386.sys" x86 "a 32-bit driver"
echo "not a driver" >"$T/text.sys"
printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=SCSIAdapter\r\n' >"$D/viostor.inf"
echo "injected by a p2v fix-up" >"$T/note.txt"
printf '@echo off\r\necho p2v first boot\r\n' >"$T/first.cmd"
printf 'service prl_fs\n' >"$T/more-vendors.txt"

hget() { hivexget "$@" 2>/dev/null; }

for variant in win8 win7; do
    src=$T/$variant.img
    opt=$([ $variant = win8 ] && echo --win8 || true)
    if ! bash tests/mkwinfixture.sh "$src" $opt 2>"$T/mk.log"; then
        bad "$variant: building the fixture failed: $(cat "$T/mk.log")"
        continue
    fi
    before=$(hash_of "$src")
    st=$T/state-$variant
    mnt=$T/mnt-$variant
    # The view without fix-ups: what the fix-ups change is measured
    # against it (it differs from the source where p2v scrubs deleted
    # data out of the NTFS metadata).
    base=$T/base-$variant
    p2v_mount "$src" "$base"

    # Inspection.
    j=$("$P2V" inspect --json "$src")
    check "$variant: inspect finds Windows x86_64 on partition 1" \
        grep -q '"partition": 1, .*"arch": "x86_64"' <<<"$j"
    check "$variant: inspect reads the hostname and control set" \
        grep -q '"hostname": "P2V-TESTHOST", "current_control_set": "ControlSet001"' <<<"$j"
    want_db=$([ $variant = win8 ] && echo true || echo false)
    check_eq "$variant: driver store detected" "\"driver_database\": $want_db" \
        "$(grep -o '"driver_database": [a-z]*' <<<"$j")"
    want_build=$([ $variant = win8 ] && echo 17763 || echo 7601)
    check_eq "$variant: build from CurrentBuildNumber" "\"build\": \"$want_build\"" \
        "$(grep -o '"build": "[0-9]*"' <<<"$j")"

    # Default plans per target.
    "$P2V" fixup plan --target virtio "$src" >"$T/virtio.plan"
    check "$variant: virtio plan injects viostor (not in the guest)" \
        grep -q '^inject-driver viostor drivers/viostor.sys drivers/viostor.inf' "$T/virtio.plan"
    "$P2V" fixup plan --target qemu-ide "$src" >"$T/ide.plan"
    # The fixture registers intelide and storahci but has no file for them:
    # the plans say so, with the inject-driver line that fixes it.
    check "$variant: qemu-ide plan enables atapi, and names intelide's missing file" \
        bash -c "grep -q '^enable-driver atapi' '$T/ide.plan' &&
                 grep -q '^# enable-driver intelide    (its file is missing' '$T/ide.plan' &&
                 grep -q '^#   inject-driver intelide intelide.sys, taken from the installation media, amd64' '$T/ide.plan'"
    "$P2V" fixup plan --target qemu-sata "$src" >"$T/sata.plan"
    check "$variant: qemu-sata plan names storahci's missing file" \
        grep -q '^# enable-driver storahci    (its file is missing' "$T/sata.plan"
    "$P2V" fixup plan --target hyperv "$src" >"$T/hyperv.plan"
    check "$variant: hyperv plan boots from IDE (Generation 1) and notes missing vmbus/storvsc" \
        bash -c "grep -q '^enable-driver atapi' '$T/hyperv.plan' && grep -q '^# enable-driver storvsc' '$T/hyperv.plan'"
    check_fails "$variant: an unknown target is refused" "must be hyperv" \
        "$P2V" fixup plan --target vmware "$src"

    # The plan under test: the virtio default plus one of everything.
    plan=$T/plan-$variant
    cp "$T/virtio.plan" "$plan"
    cat >>"$plan" <<'PLAN'
file-put storahci.sys %SystemRoot%\System32\drivers\storahci.sys
enable-driver storahci        # has a StartOverride in the fixture; its file comes above
disable-service intelide
disable-vendor-services more-vendors.txt
reg-set HKLM\SOFTWARE\P2V\Test Hello sz "hello world"
reg-set HKLM\SYSTEM\CurrentControlSet\Services\atapi Extra multi one "two words"
reg-delete HKLM\SYSTEM\CurrentControlSet\Services\vm3dmp
file-put note.txt %SystemRoot%\p2v\note.txt
file-delete /hello.txt
firstboot first.cmd
PLAN
    cp -r "$D" "$T/more-vendors.txt" "$T/note.txt" "$T/first.cmd" "$T/storahci.sys" "$(dirname "$plan")/" 2>/dev/null || true

    "$P2V" fixup apply --state "$st" --plan "$plan" --dry-run --json "$src" >"$T/dry.json"
    check "$variant: the dry run succeeds" test -s "$T/dry.json"
    check "$variant: the dry run creates no state" test ! -e "$st"
    "$P2V" fixup apply --state "$st" --plan "$plan" --json "$src" >"$T/real.json"
    check "$variant: apply succeeds" test -s "$T/real.json"
    check "$variant: the dry-run list equals the applied list" python3 -c '
import json, sys
d, r = (json.load(open(p))["changes"] for p in sys.argv[1:3])
sys.exit(0 if d == r and any(c["changed"] for c in r) else 1)' "$T/dry.json" "$T/real.json"
    check_eq "$variant: state files are owner-only" "600 600 600" \
        "$(stat -c %a "$st/overlay.index" "$st/overlay.data" "$st/fixups.json" | tr '\n' ' ' | sed 's/ $//')"

    p2v_mount "$src" "$mnt" --state "$st"
    check "$variant: MNT/fixups.json is the saved report" cmp "$mnt/fixups.json" "$st/fixups.json"
    # A plan may touch one value twice (the default plan's vendor services
    # and disable-vendor-services FILE): the record lists it once.
    check "$variant: the record's changes are the applied ones, each what once" python3 -c '
import json, sys
rec = json.load(open(sys.argv[1]))["changes"]
fold = {}
for c in json.load(open(sys.argv[2]))["changes"]:
    f = fold.get(c["what"])
    if f is None:
        fold[c["what"]] = dict(c)
    else:
        f.update(line=c["line"], action=c["action"], new=c["new"], changed=f["old"] != c["new"])
sys.exit(0 if rec == list(fold.values()) and len(rec) < len(json.load(open(sys.argv[2]))["changes"]) else 1)' \
        "$mnt/fixups.json" "$T/real.json"
    part=$mnt/partitions/1.raw
    ntfscat "$part" Windows/System32/config/SYSTEM >"$T/SYSTEM"
    ntfscat "$part" Windows/System32/config/SOFTWARE >"$T/SOFTWARE"
    S=$T/SYSTEM
    cs='\ControlSet001'
    check_eq "$variant: viostor service Start = 0" 0 "$(hget "$S" "$cs\\Services\\viostor" Start)"
    check_eq "$variant: viostor service Type = 1" 1 "$(hget "$S" "$cs\\Services\\viostor" Type)"
    check_eq "$variant: viostor ImagePath" 'system32\drivers\viostor.sys' \
        "$(hget "$S" "$cs\\Services\\viostor" ImagePath)"
    check_eq "$variant: viostor Group" 'SCSI miniport' "$(hget "$S" "$cs\\Services\\viostor" Group)"
    if [ $variant = win8 ]; then
        check_eq "win8: DriverDatabase DeviceIds ranks the legacy virtio-blk ID to the package" \
            '"p2v-viostor.inf"=hex(3):01,ff,00,00' \
            "$(hget "$S" '\DriverDatabase\DeviceIds\PCI\VEN_1AF4&DEV_1001&REV_00')"
        check_eq "win8: DriverPackages configuration names viostor" viostor \
            "$(hget "$S" '\DriverDatabase\DriverPackages\p2v-viostor.inf_amd64_0000000000000000\Configurations\p2v_viostor_conf' Service)"
        check_eq "win8: descriptor for the modern virtio-blk ID" p2v_viostor_conf \
            "$(hget "$S" '\DriverDatabase\DriverPackages\p2v-viostor.inf_amd64_0000000000000000\Descriptors\PCI\VEN_1AF4&DEV_1042&REV_01' Configuration)"
        check "win8: no CriticalDeviceDatabase entries were made" \
            bash -c "! hivexget '$S' '$cs\\Control\\CriticalDeviceDatabase'"
    else
        check_eq "win7: CriticalDeviceDatabase maps the virtio-blk ID to viostor" viostor \
            "$(hget "$S" "$cs\\Control\\CriticalDeviceDatabase\\PCI#VEN_1AF4&DEV_1001&REV_00" Service)"
        check_eq "win7: with the SCSI adapter class" '{4D36E97B-E325-11CE-BFC1-08002BE10318}' \
            "$(hget "$S" "$cs\\Control\\CriticalDeviceDatabase\\PCI#VEN_1AF4&DEV_1042&REV_01" ClassGUID)"
        check "win7: no DriverDatabase was made" bash -c "! hivexget '$S' '\\DriverDatabase'"
    fi
    check_eq "$variant: storahci Start = 0" 0 "$(hget "$S" "$cs\\Services\\storahci" Start)"
    check "$variant: storahci's StartOverride is gone" \
        bash -c "! hivexget '$S' '$cs\\Services\\storahci\\StartOverride'"
    check_eq "$variant: disable-service intelide: Start = 4" 4 "$(hget "$S" "$cs\\Services\\intelide" Start)"
    for s in vmtools vmci prl_fs; do
        check_eq "$variant: vendor service $s disabled" 4 "$(hget "$S" "$cs\\Services\\$s" Start)"
    done
    check_eq "$variant: prl_strg removed from the disk class LowerFilters" partmgr \
        "$(hget "$S" "$cs\\Control\\Class\\{4d36e967-e325-11ce-bfc1-08002be10318}" LowerFilters)"
    check_eq "$variant: CrashControl AutoReboot = 0" 0 "$(hget "$S" "$cs\\Control\\CrashControl" AutoReboot)"
    check_eq "$variant: reg-set multi" "$(printf 'one\ntwo words')" "$(hget "$S" "$cs\\Services\\atapi" Extra)"
    check "$variant: reg-delete removed the key" bash -c "! hivexget '$S' '$cs\\Services\\vm3dmp'"
    check_eq "$variant: reg-set in SOFTWARE" "hello world" "$(hget "$T/SOFTWARE" '\P2V\Test' Hello)"
    check_eq "$variant: DevicePath gains the injected .inf's folder" '%SystemRoot%\inf;%SystemRoot%\p2v\drivers' \
        "$(hget "$T/SOFTWARE" '\Microsoft\Windows\CurrentVersion' DevicePath)"
    check_eq "$variant: firstboot: SetupType = 2" 2 "$(hget "$S" '\Setup' SetupType)"
    check_eq "$variant: firstboot: CmdLine runs p2v's runner" 'cmd.exe /c "%SystemRoot%\p2v\firstboot.cmd"' \
        "$(hget "$S" '\Setup' CmdLine)"
    check "$variant: the driver file is in System32\\drivers" \
        cmp <(ntfscat "$part" Windows/System32/drivers/viostor.sys) "$D/viostor.sys"
    check "$variant: the .inf is where DevicePath points" \
        cmp <(ntfscat "$part" Windows/p2v/drivers/viostor.inf) "$D/viostor.inf"
    check "$variant: file-put content intact" cmp <(ntfscat "$part" Windows/p2v/note.txt) "$T/note.txt"
    check "$variant: the first-boot script is queued" \
        cmp <(ntfscat "$part" Windows/p2v/firstboot/01-first.cmd) "$T/first.cmd"
    check "$variant: file-delete removed hello.txt" bash -c "! ntfscat '$part' hello.txt >/dev/null 2>&1"
    check "$variant: ntfsfix finds the fixed-up NTFS consistent (read-only check)" \
        bash -c "ntfsfix -n '$part' >/dev/null 2>&1"
    # Only the overlay's extents differ from the view without fix-ups.
    check "$variant: disk.raw differs from the view without fix-ups only inside the overlay's extents" python3 -c '
import json, sys
ext = json.load(open(sys.argv[3]))["overlay_extents"]
a, b = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
off, diffs, bad = 0, 0, 0
while True:
    x, y = a.read(1 << 20), b.read(1 << 20)
    if not x:
        break
    if x != y:
        for i in range(0, len(x), 512):
            if x[i:i+512] != y[i:i+512]:
                diffs += 1
                o = off + i
                if not any(s <= o < s + l for s, l in ext):
                    bad += 1
    off += len(x)
sys.exit(0 if diffs and not bad else 1)' "$mnt/disk.raw" "$base/disk.raw" "$mnt/fixups.json"
    check "$variant: qemu-img compare: disk.vhd = disk.raw" \
        qemu-img compare -q -f vpc -F raw "$mnt/disk.vhd" "$mnt/disk.raw"
    check "$variant: qemu-img compare: disk.vhd differs from the source" \
        bash -c "! qemu-img compare -q -f vpc -F raw '$mnt/disk.vhd' '$src'"
    h1=$(hash_of "$mnt/disk.vhd")
    p2v_umount "$mnt"

    # A second apply changes nothing.
    idx=$(hash_of "$st/overlay.index")
    "$P2V" fixup apply --state "$st" --plan "$plan" --json "$src" >"$T/again.json"
    check "$variant: applying the same plan again changes nothing" python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["changes"]
sys.exit(0 if c and not any(x["changed"] for x in c) else 1)' "$T/again.json"
    check_eq "$variant: ... and leaves the overlay index as it was" "$idx" "$(hash_of "$st/overlay.index")"
    p2v_mount "$src" "$mnt" --state "$st"
    check_eq "$variant: the same image bytes on every mount" "$h1" "$(hash_of "$mnt/disk.vhd")"
    p2v_umount "$mnt"
    # The same plan applied anew, at another moment: the same image (what
    # libntfs-3g writes carries the snapshot's time, not the clock's).
    "$P2V" fixup apply --state "$st.2" --plan "$plan" "$src" >/dev/null
    p2v_mount "$src" "$mnt" --state "$st.2"
    check_eq "$variant: a fresh apply of the same plan gives the same image" "$h1" \
        "$(hash_of "$mnt/disk.vhd")"
    p2v_umount "$mnt"

    # Refusals: the overlay stays as it was.
    printf 'reg-set HKLM\\SOFTWARE\\X Y dword 1\nfrobnicate now\n' >"$T/bad.plan"
    check_fails "$variant: an unknown action is refused with its line" "bad.plan line 2: unknown action" \
        "$P2V" fixup apply --state "$st" --plan "$T/bad.plan" "$src"
    printf 'disable-service vmtools\ninject-driver vioscsi nothere/vioscsi.sys\n' >"$T/missing.plan"
    check_fails "$variant: a missing driver file is refused" "missing.plan line 2 .inject-driver.: .*nothere/vioscsi.sys" \
        "$P2V" fixup apply --state "$st" --plan "$T/missing.plan" "$src"
    printf 'enable-driver intelide\n' >"$T/nofile.plan"
    check_fails "$variant: enabling a driver whose file is missing is refused" \
        "nofile.plan line 1 .enable-driver.: intelide's file .*intelide.sys is not in this Windows.*inject-driver intelide" \
        "$P2V" fixup apply --state "$st" --plan "$T/nofile.plan" "$src"
    printf 'inject-driver vioscsi i386.sys\n' >"$T/arch.plan"
    check_fails "$variant: a driver for another architecture is refused" \
        "arch.plan line 1 .inject-driver.: i386.sys is built for PE machine 0x014c, but this Windows is x86_64" \
        "$P2V" fixup apply --state "$st" --plan "$T/arch.plan" "$src"
    printf 'inject-driver vioscsi text.sys\n' >"$T/text.plan"
    check_fails "$variant: a file that is no driver is refused" "text.sys is not a Windows driver" \
        "$P2V" fixup apply --state "$st" --plan "$T/text.plan" "$src"
    printf 'reg-set HKLM\\SOFTWARE\\X Y dword notanumber\n' >"$T/badval.plan"
    check_fails "$variant: a bad value is refused with its line" "badval.plan line 1 .reg-set.: 'notanumber' is not a dword" \
        "$P2V" fixup apply --state "$st" --plan "$T/badval.plan" "$src"
    printf 'enable-driver nosuchdriver\n' >"$T/nodrv.plan"
    check_fails "$variant: enabling a driver the guest lacks is refused" "not in this Windows" \
        "$P2V" fixup apply --state "$st" --plan "$T/nodrv.plan" "$src"
    check_eq "$variant: the refusals left the overlay index as it was" "$idx" "$(hash_of "$st/overlay.index")"

    # Discard: back to the source.
    check "$variant: fixup discard" "$P2V" fixup discard --state "$st"
    p2v_mount "$src" "$mnt" --state "$st"
    check "$variant: after discard the view is the view without fix-ups again" \
        cmp "$mnt/disk.raw" "$base/disk.raw"
    check "$variant: ... with no report" test ! -e "$mnt/fixups.json"
    p2v_umount "$mnt"
    p2v_umount "$base"
    check_eq "$variant: source unchanged" "$before" "$(hash_of "$src")"
done

# The record: DIR/fixups.json lists every change relative to the source,
# however many applies it took.  Plan A, then plan B (changes one of A's
# values again, adds one, sets one to what it already is), then A again.
# The old values are checked against the source's hives (ntfscat from the
# source image, not through p2v), the new ones against the fixed-up view's.
rsrc=$T/win7.img
if [ -f "$rsrc" ]; then
    rst=$T/state-record
    cat >"$T/A.plan" <<'PLAN'
reg-set HKLM\SYSTEM\CurrentControlSet\Control\CrashControl AutoReboot dword 0
reg-set HKLM\SOFTWARE\P2V\Record Note sz "plan A"
PLAN
    cat >"$T/B.plan" <<'PLAN'
reg-set HKLM\SYSTEM\CurrentControlSet\Control\CrashControl AutoReboot dword 2
reg-set HKLM\SYSTEM\CurrentControlSet\Services\atapi ErrorControl dword 3
reg-set HKLM\SYSTEM\CurrentControlSet\Services\atapi Start dword 0
PLAN
    jget() {  # jget FILE PYTHON-EXPRESSION-OF-d: its value (a tuple's items joined by blanks)
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2])
print(" ".join(map(str, v)) if isinstance(v, tuple) else v)' "$1" "$2"
    }
    SOURCE_DATE_EPOCH=1700000000 "$P2V" fixup apply --state "$rst" --plan "$T/A.plan" --json \
        "$rsrc" >"$T/rec-a.json" 2>"$T/rec.err"
    check_eq "record: SOURCE_DATE_EPOCH=1700000000 dates the apply" 2023-11-14T22:13:20Z \
        "$(jget "$rst/fixups.json" 'd["applies"][0]["time"]')"
    check_eq "record: apply --json prints this apply only, as before (no applies)" "False 2" \
        "$(jget "$T/rec-a.json" '"applies" in d, len(d["changes"])')"
    "$P2V" fixup apply --state "$rst" --plan "$T/B.plan" "$rsrc" >/dev/null 2>>"$T/rec.err"
    "$P2V" fixup apply --state "$rst" --plan "$T/A.plan" --json "$rsrc" >"$T/rec-a2.json" 2>>"$T/rec.err"
    check_eq "record: no warning on a record in step with its overlay" "" "$(cat "$T/rec.err")"
    check_eq "record: the third apply prints its own list (1 of 2 changed)" "[True, False]" \
        "$(jget "$T/rec-a2.json" '[c["changed"] for c in d["changes"]]')"
    check_eq "record: a second clock time" False \
        "$(jget "$rst/fixups.json" 'd["applies"][1]["time"] == "2023-11-14T22:13:20Z"')"
    h=$(hash_of "$rst/fixups.json")
    "$P2V" fixup apply --state "$rst" --plan "$T/B.plan" --dry-run "$rsrc" >/dev/null
    check_eq "record: a dry run leaves fixups.json byte-identical" "$h" "$(hash_of "$rst/fixups.json")"

    # The source's hives, straight from the source image.
    read -r pstart psize < <(sfdisk -d "$rsrc" | sed -n 's/^.*1 : start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p')
    dd if="$rsrc" of="$T/src-part" bs=512 skip="$pstart" count="$psize" status=none
    ntfscat "$T/src-part" Windows/System32/config/SYSTEM >"$T/src-SYSTEM"
    ntfscat "$T/src-part" Windows/System32/config/SOFTWARE >"$T/src-SOFTWARE"
    rm -f "$T/src-part"
    rmnt=$T/mnt-record
    p2v_mount "$rsrc" "$rmnt" --state "$rst"
    check "record: MNT/fixups.json is the saved record" cmp "$rmnt/fixups.json" "$rst/fixups.json"
    ntfscat "$rmnt/partitions/1.raw" Windows/System32/config/SYSTEM >"$T/new-SYSTEM"
    ntfscat "$rmnt/partitions/1.raw" Windows/System32/config/SOFTWARE >"$T/new-SOFTWARE"
    p2v_umount "$rmnt"
    shown() {  # shown HIVE KEY VALUE TYPE: a value as the record renders it
        local v
        if v=$(hivexget "$1" "$2" "$3" 2>/dev/null); then echo "$4:$v"; else echo '(absent)'; fi
    }
    cs='\ControlSet001'
    : >"$T/rec-want"
    for row in "SYSTEM|$cs\\Control\\CrashControl|AutoReboot|dword" "SOFTWARE|\\P2V\\Record|Note|sz" \
               "SYSTEM|$cs\\Services\\atapi|ErrorControl|dword" "SYSTEM|$cs\\Services\\atapi|Start|dword"; do
        IFS='|' read -r hive key val type <<<"$row"
        printf '%s\t%s\t%s\n' "$hive$key: $val" \
            "$(shown "$T/src-$hive" "$key" "$val" "$type")" "$(shown "$T/new-$hive" "$key" "$val" "$type")" >>"$T/rec-want"
    done
    check_eq "record: the source's and the final values differ where expected" \
        "dword:1>dword:0 (absent)>sz:plan A dword:1>dword:3 dword:0>dword:0" \
        "$(cut -f2,3 "$T/rec-want" | tr '\t' '>' | xargs -d '\n')"
    check "record: each what once, old = the source's value, new = the final one, changed = old != new" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
got = [(c["what"], c["old"], c["new"], c["changed"]) for c in d["changes"]]
exp = []
for l in open(sys.argv[2]):
    what, old, new = l.rstrip("\n").split("\t")
    exp.append((what, old, new, old != new))
if got != exp:
    print("got ", got); print("want", exp); sys.exit(1)
lines = [(c["line"], c["action"]) for c in d["changes"]]
sys.exit(0 if lines == [(1, "reg-set"), (2, "reg-set"), (2, "reg-set"), (3, "reg-set")] else 1)' \
        "$rst/fixups.json" "$T/rec-want"
    check_eq "record: three applies, in order, with their plans and change counts" \
        "$T/A.plan 2 $T/B.plan 2 $T/A.plan 1" \
        "$(jget "$rst/fixups.json" '" ".join("%s %d" % (a["plan"], a["changes"]) for a in d["applies"])')"
    check_eq "record: members in order, no record_restarted" \
        "source plan dry_run windows overlay_digest overlay_extents changes applies" \
        "$(jget "$rst/fixups.json" '" ".join(d)')"

    # A record that cannot be read: a warning, and a new record.
    cp -a "$rst" "$rst.bad"
    printf '{"changes": [ {"line": 1,\n' >"$rst.bad/fixups.json"
    "$P2V" fixup apply --state "$rst.bad" --plan "$T/B.plan" "$rsrc" >/dev/null 2>"$T/rec-bad.err"
    check_eq "record: an unreadable record does not stop an apply" 0 "$?"
    check "record: ... which warns, naming the file and the reason" \
        grep -q "warning: $rst.bad/fixups.json: the fix-up record cannot be read (a member name .* at byte 26)" "$T/rec-bad.err"
    check_eq "record: ... and starts a new record (record_restarted)" "True 1 3" \
        "$(jget "$rst.bad/fixups.json" 'd["record_restarted"], len(d["applies"]), len(d["changes"])')"
    # A record of another overlay (an apply killed between its commit and its
    # report): continued, marked, with a warning.
    cp -a "$rst" "$rst.stale"
    sed -i 's/"overlay_digest": "[0-9a-f]*"/"overlay_digest": "00000000000000000000000000000000"/' "$rst.stale/fixups.json"
    "$P2V" fixup apply --state "$rst.stale" --plan "$T/A.plan" "$rsrc" >/dev/null 2>"$T/rec-stale.err"
    check_eq "record: a record of another overlay does not stop an apply" 0 "$?"
    check "record: ... which warns" grep -q "warning: $rst.stale/fixups.json does not describe the overlay beside it" "$T/rec-stale.err"
    check_eq "record: ... and continues the record, marked" "True 4 4" \
        "$(jget "$rst.stale/fixups.json" 'd["record_restarted"], len(d["applies"]), len(d["changes"])')"
    check "record: fixup discard removes the record with the overlay" \
        bash -c "'$P2V' fixup discard --state '$rst' && test ! -e '$rst/fixups.json' -a ! -e '$rst/overlay.index'"
fi

# A source touched after its fix-ups were applied: its state no longer
# fits (the base id covers the source's time), and the message says the
# source was modified and how to go on, not that it is another source.
if [ -f "$T/win8.img" ]; then
    tsrc=$T/touched.img
    tst=$T/st-touched
    cp "$T/win8.img" "$tsrc"
    printf 'reg-set HKLM\\SOFTWARE\\P2V\\Touched Note sz "touched"\n' >"$T/touched.plan"
    check "touched source: the plan applies" \
        "$P2V" fixup apply --state "$tst" --plan "$T/touched.plan" "$tsrc"
    touch "$tsrc"
    check_fails "touched source: mount says it was modified, and how to go on" \
        "source $tsrc was modified after its fix-ups were applied.*p2v fixup discard --state $tst" \
        p2v_mount "$tsrc" "$T/mnt-touched" --state "$tst"
    check_fails "touched source: so does a second apply" "was modified after its fix-ups" \
        "$P2V" fixup apply --state "$tst" --plan "$T/touched.plan" "$tsrc"
    check_fails "another source: the state says it was made for another one, naming it" \
        "overlay was made for another source \\($tsrc\\)" \
        p2v_mount "$T/win8.img" "$T/mnt-touched" --state "$tst"
    check "touched source: discard, then the plan applies again" bash -c \
        "'$P2V' fixup discard --state '$tst' && '$P2V' fixup apply --state '$tst' --plan '$T/touched.plan' '$tsrc' >/dev/null"
fi

# No Windows: a plan that edits Windows is refused; file actions on a
# partition work without one (and are what the GRUB boot test uses).
plain=$T/plain.img
bash tests/mkbootdisk.sh "$plain" 16 >/dev/null 2>&1 || bad "building the plain disk failed"
printf 'no-auto-reboot\n' >"$T/win.plan"
check_fails "no Windows: a Windows plan is refused" "no Windows was found" \
    "$P2V" fixup apply --state "$T/st-plain" --plan "$T/win.plan" "$plain"
check "no Windows: nothing was created" test ! -e "$T/st-plain/overlay.index"
check_fails "no OS: inspect says so" "no operating system found" "$P2V" inspect "$plain"

# A hibernated Windows (hiberfil.sys with a HIBR header) is refused, even
# with --force (which only lets a read-only view copy it whole).
if [ -f "$T/win8.img" ]; then
    hib=$T/hib.img
    cp "$T/win8.img" "$hib"
    head -c 8192 /dev/zero >"$T/hiberfil.sys"
    printf 'HIBR' | dd of="$T/hiberfil.sys" conv=notrunc status=none
    loop=$(losetup -f --show -o 1048576 "$hib")
    ntfscp -f "$loop" "$T/hiberfil.sys" hiberfil.sys
    losetup -d "$loop"
    hb=$(hash_of "$hib")
    check_fails "hibernated Windows: apply is refused" "hibernated" \
        "$P2V" fixup apply --state "$T/st-hib" --plan "$T/win.plan" "$hib"
    check_fails "hibernated Windows: also with --force" "shut down fully" \
        "$P2V" fixup apply --force --state "$T/st-hib" --plan "$T/win.plan" "$hib"
    check "hibernated Windows: no overlay was saved" test ! -e "$T/st-hib/overlay.index"
    check_eq "hibernated Windows: source unchanged" "$hb" "$(hash_of "$hib")"
fi

# BitLocker: a volume whose boot sector carries the -FVE-FS- OEM id.
bl=$T/bitlocker.img
truncate -s 8M "$bl"
printf '\xeb\x58\x90-FVE-FS-' | dd of="$bl" conv=notrunc status=none
printf '\x55\xaa' | dd of="$bl" bs=1 seek=510 conv=notrunc status=none
check_fails "BitLocker volume: apply is refused" "BitLocker-encrypted.*Decrypt it first" \
    "$P2V" fixup apply --volume --state "$T/st-bl" --plan "$T/win.plan" "$bl"
check_fails "BitLocker volume: inspect refuses too" "BitLocker-encrypted" "$P2V" inspect --volume "$bl"
finish
