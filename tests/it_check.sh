#!/bin/bash
# p2v check: every convertibility rule, once on a fixture that triggers it
# and once on one that does not, through --json (status and severity of
# the rule, counts, exit status 0 / 1 / 2) and once through the text table.
# Fixtures: machine configuration files from `p2v inventory -o` of this
# machine, edited with ElementTree (memory, acpi, cpu and OS arch); the
# Windows fixture (tests/mkwinfixture.sh, also --hiberfil) and fix-up states
# over it; the Linux fixture (tests/mklinuxfixture.sh, also --no-virtio);
# small raw disks built with sfdisk: a blank partition, MBR type 0x42, GPT
# LDM metadata and data partitions, GPT with an EFI System Partition, a
# BitLocker boot sector; sparse 2040 / 2041 GiB disks; a 4096-byte-sector
# loop device; a 1 MiB tmpfs as --dest.  Each fixture is checked with an
# independent tool (xmllint, sfdisk -d, blkid -p, ntfscat, hivexget) before
# use, and every source is hashed before and after.
. "$(dirname "$0")/lib.sh"

LOOP='' SMALL=$T/small
check_cleanup() {
    mountpoint -q "$SMALL" 2>/dev/null && umount "$SMALL"
    [ -z "$LOOP" ] || losetup -d "$LOOP"
    cleanup
}
trap check_cleanup EXIT
trap 'exit 130' INT TERM HUP

RULES=(memory acpi os arch disk-size sector-size ntfs-state hive-state bitlocker dynamic-disk
       uefi-vhd boot-driver static-ip device-names nic-names hibernation fs-state boot-loader
       efi-fallback vendor-tools dest-space)
# The severity of every rule but os (blocker for Windows before NT 5.0),
# boot-driver (blocker or warning by what is missing), hive-state (a
# warning when the logs are ignored on request; tests/it_hives.sh) and
# efi-fallback (a warning when the ESP cannot be read).
declare -A SEV=([memory]=blocker [acpi]=blocker [arch]=blocker [disk-size]=blocker
    [sector-size]=blocker [ntfs-state]=blocker [bitlocker]=blocker [dynamic-disk]=blocker
    [uefi-vhd]=blocker [static-ip]=warning [vendor-tools]=warning [dest-space]=blocker
    [device-names]=blocker [nic-names]=warning [hibernation]=blocker [fs-state]=warning
    [boot-loader]=blocker [efi-fallback]=blocker)

# --- Helpers ----------------------------------------------------------------
# Sources and files that must not change: their hashes, before.
declare -A BEFORE
# sparse_hash FILE: a hash of the size and of every non-zero 8 MiB chunk
# (with its offset) of the data extents (SEEK_DATA/SEEK_HOLE): the content,
# read in seconds from the 2 TiB and 64 TiB sparse sources.
sparse_hash() {
    python3 - "$1" <<'PY'
import hashlib, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
h = hashlib.sha256(str(size).encode())
off = 0
while off < size:
    try:
        off = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, off, os.SEEK_HOLE)
    while off < end:
        b = os.pread(fd, min(8 << 20, end - off), off)
        if not b:
            break
        if b.count(0) != len(b):
            h.update(b"%d" % off + b)
        off += len(b)
print(h.hexdigest())
PY
}
keep() { BEFORE[$1]=$(hash_of "$1"); }
keep_sparse() { BEFORE[$1]=sparse:$(sparse_hash "$1"); }

# run NAME [check options] SOURCE: p2v check --json; NAME.json, NAME.err,
# RC[NAME]; then the result's own consistency.
declare -A RC
run() {
    local n=$1; shift
    "$P2V" check --json "$@" >"$T/$n.json" 2>"$T/$n.err"
    RC[$n]=$?
    check "$n: JSON well-formed, every rule once, counts and exit status agree" \
        python3 - "$T/$n.json" "${RC[$n]}" "${RULES[@]}" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    sys.exit("no JSON on stdout (%s), exit status %s; stderr:\n%s" % (e, sys.argv[2], open(sys.argv[1][:-5] + ".err").read()))
rc, want = int(sys.argv[2]), sys.argv[3:]
res = d["results"]
ids = [r["id"] for r in res]
assert sorted(ids) == sorted(want), "rule ids %s" % ids
for r in res:
    assert r["status"] in ("pass", "fail", "skip"), r
    assert r["severity"] in ("blocker", "warning"), r
    assert isinstance(r["message"], str) and r["message"], r
    if r["status"] == "pass":
        assert r["remedy"] == "", r
    if r["status"] == "fail":
        assert r["remedy"], r
b = sum(r["status"] == "fail" and r["severity"] == "blocker" for r in res)
w = sum(r["status"] == "fail" and r["severity"] == "warning" for r in res)
assert (d["blockers"], d["warnings"]) == (b, w), "counts %s/%s, results say %d/%d" % (d["blockers"], d["warnings"], b, w)
assert rc == (1 if b else 0), "exit status %d with %d blockers" % (rc, b)
for k in ("source", "target", "format"):
    assert isinstance(d[k], str), k
PY
}
# rule_status FILE ID / rule_severity FILE ID: a rule's status and
# severity in a --json result (MISSING when the rule is not there, ERROR
# when the file is not the expected JSON).  One parse per file.
rule_table() {
    [ -e "$1.tsv" ] || python3 - "$1" >"$1.tsv" <<'PY'
import json, sys
try:
    for r in json.load(open(sys.argv[1]))["results"]:
        print("%s\t%s\t%s" % (r["id"], r["status"], r["severity"]))
except Exception as e:
    print("ERROR\tERROR\tERROR")
PY
}
rule_field() {
    rule_table "$1"
    awk -F'\t' -v id="$2" -v col="$3" '
        $1 == "ERROR" { v = "ERROR"; n = 1; exit }
        $1 == id { v = $col; n++ }
        END { print (n == 0 ? "MISSING" : (n > 1 ? "DUPLICATE" : v)) }' "$1.tsv"
}
rule_status() { rule_field "$1" "$2" 2; }
rule_severity() { rule_field "$1" "$2" 3; }
rule_message() { python3 -c '
import json, sys
print(next((r["message"] for r in json.load(open(sys.argv[1]))["results"] if r["id"] == sys.argv[2]), ""))' "$1" "$2" 2>/dev/null; }
rule_remedy() { python3 -c '
import json, sys
print(next((r["remedy"] for r in json.load(open(sys.argv[1]))["results"] if r["id"] == sys.argv[2]), ""))' "$1" "$2" 2>/dev/null; }
# expect NAME ID STATUS [SEVERITY]: a rule's result in run NAME.  A failure
# is compared with its severity (SEVERITY, else the rule's fixed one); a
# pass or skip of a fixed-severity rule also carries that severity.
expect() {
    local n=$1 id=$2 want=$3 sev=${4:-${SEV[$2]:-}} got
    got=$(rule_status "$T/$n.json" "$id")
    if [ -n "$sev" ]; then
        want+="/$sev"
        got+="/$(rule_severity "$T/$n.json" "$id")"
    fi
    check_eq "$n: $id $want" "$want" "$got"
}
expect_exit() { check_eq "$1: exit status $2" "$2" "${RC[$1]}"; }
key() { json_key "$T/$1.json" "$2"; }
# exit2 NAME PATTERN [check options]: could not check: exit status 2, a
# message on stderr matching PATTERN, no results on stdout.
exit2() {
    local n=$1 pat=$2; shift 2
    "$P2V" check --json "$@" >"$T/$n.out" 2>"$T/$n.err"
    RC[$n]=$?
    expect_exit "$n" 2
    check "$n: stderr says /$pat/" grep -qiE -- "$pat" "$T/$n.err"
    check "$n: no results on stdout" bash -c "! grep -q '\"results\"' '$T/$n.out'"
}

# --- Fixtures ----------------------------------------------------------------
win=$T/win.img hib=$T/hib.img lin=$T/linux.img linnv=$T/linux-novirtio.img
mkfix() {  # mkfix SCRIPT OUT [options]
    local s=$1 out=$2; shift 2
    bash "tests/$s" "$out" "$@" 2>"$T/mk.log" && keep "$out" && return 0
    bad "building $(basename "$out") with $s failed: $(cat "$T/mk.log")"
    return 1
}
mkfix mkwinfixture.sh "$win"
mkfix mkwinfixture.sh "$hib" --hiberfil --size 32
mkfix mklinuxfixture.sh "$lin" --size 32
mkfix mklinuxfixture.sh "$linnv" --no-virtio --size 32

# hiberfil.sys starts with "hibr" in one, is absent in the other (ntfscat on
# the partition copied out).
dd if="$hib" of="$T/part.raw" bs=1M skip=1 status=none
check_eq "fixture: --hiberfil has a hibernated hiberfil.sys (ntfscat)" hibr \
    "$(ntfscat "$T/part.raw" hiberfil.sys 2>/dev/null | head -c 4)"
dd if="$win" of="$T/part.raw" bs=1M skip=1 status=none
check "fixture: the plain Windows fixture has no hiberfil.sys (ntfscat)" \
    bash -c "! ntfscat '$T/part.raw' hiberfil.sys >/dev/null 2>&1"
ntfscat "$T/part.raw" Windows/System32/config/SYSTEM >"$T/SYSTEM" 2>/dev/null
cs='\ControlSet001\Services'
check_eq "fixture: atapi Start 0, storahci Start 3 and StartOverride 3, no viostor (hivexget)" "0 3 3 none" \
    "$(hivexget "$T/SYSTEM" "$cs\\atapi" Start) $(hivexget "$T/SYSTEM" "$cs\\storahci" Start) $(hivexget "$T/SYSTEM" "$cs\\storahci\\StartOverride" 0) $(hivexget "$T/SYSTEM" "$cs\\viostor" Start 2>/dev/null || echo none)"
check_eq "fixture: atapi.sys present, storahci.sys and viostor.sys absent (ntfscat)" "yes no no" \
    "$(for f in atapi storahci viostor; do ntfscat "$T/part.raw" "Windows/System32/drivers/$f.sys" >/dev/null 2>&1 && printf 'yes ' || printf 'no '; done | sed 's/ $//')"
rm -f "$T/part.raw"
# The IDE targets need intelide (the PIIX controller's driver) besides
# atapi: a copy of the fixture with its file, as Windows has it.
ide=$T/win-intelide.img
make_driver "$T/intelide.sys" x86_64 "p2v test intelide driver"
cp "$win" "$ide" && LOOP=$(losetup -f --show -o 1048576 "$ide") &&
    ntfscp -f "$LOOP" "$T/intelide.sys" Windows/System32/drivers/intelide.sys 2>/dev/null
check "fixture: win-intelide.img has System32\drivers\intelide.sys (ntfscat)" \
    cmp <(ntfscat "${LOOP:-none}" Windows/System32/drivers/intelide.sys 2>/dev/null) "$T/intelide.sys"
[ -z "$LOOP" ] || { losetup -d "$LOOP"; LOOP=''; }
keep "$ide"
# Copies of the Windows fixture that say they are NT 4.0 and Windows 2000
# (SOFTWARE's CurrentVersion, replaced with ntfscp through a loop device).
winver() {  # winver OUT PRODUCT VERSION BUILD
    cp "$ide" "$1" && LOOP=$(losetup -f --show -o 1048576 "$1") || { bad "winver $1: losetup failed"; return; }
    ntfscat "$LOOP" Windows/System32/config/SOFTWARE >"$T/SOFTWARE.$3" &&
        printf 'cd \\\ncd Microsoft\ncd Windows NT\ncd CurrentVersion\nsetval 3\nProductName\nstring:%s\nCurrentVersion\nstring:%s\nCurrentBuildNumber\nstring:%s\ncommit\n' \
            "$2" "$3" "$4" | hivexsh -w "$T/SOFTWARE.$3" &&
        ntfscp -f "$LOOP" "$T/SOFTWARE.$3" Windows/System32/config/SOFTWARE 2>/dev/null
    ntfscat "$LOOP" Windows/System32/config/SOFTWARE >"$T/SOFTWARE.$3.back" 2>/dev/null
    losetup -d "$LOOP" && LOOP=''
    check_eq "fixture: $(basename "$1") says $2, $3 (hivexget)" "$2 $3 $4" \
        "$(for v in ProductName CurrentVersion CurrentBuildNumber; do hivexget "$T/SOFTWARE.$3.back" '\Microsoft\Windows NT\CurrentVersion' $v; done | tr '\n' ' ' | sed 's/ $//')"
    keep "$1"
}
nt4=$T/nt4.img w2k=$T/w2k.img
winver "$nt4" "Windows NT Workstation 4.0" 4.0 1381
winver "$w2k" "Windows 2000 Professional" 5.0 2195
# A copy with System32\drivers\storahci.sys: storahci has its file but is
# demand-start (Start 3, StartOverride 3).
sata=$T/win-storahci.img
echo "p2v test storahci driver" >"$T/storahci.sys"
cp "$win" "$sata" && LOOP=$(losetup -f --show -o 1048576 "$sata") &&
    ntfscp -f "$LOOP" "$T/storahci.sys" Windows/System32/drivers/storahci.sys 2>/dev/null
check "fixture: win-storahci.img has System32\drivers\storahci.sys (ntfscat)" \
    cmp <(ntfscat "${LOOP:-none}" Windows/System32/drivers/storahci.sys 2>/dev/null) "$T/storahci.sys"
[ -z "$LOOP" ] || { losetup -d "$LOOP"; LOOP=''; }
keep "$sata"

lfs="$lin?offset=1048576" nfs="$linnv?offset=1048576" kdir=/lib/modules/6.1.0-p2vtest
check "fixture: Linux has virtio_blk built in and ahci in modules.dep (debugfs)" bash -c "
    debugfs -R 'cat $kdir/modules.builtin' '$lfs' 2>/dev/null | grep -q '/virtio_blk.ko\$' &&
    debugfs -R 'cat $kdir/modules.dep' '$lfs' 2>/dev/null | grep -q '/ahci.ko:'"
check "fixture: --no-virtio has no virtio module, still ahci, no ata_piix (debugfs)" bash -c "
    ! debugfs -R 'cat $kdir/modules.builtin' '$nfs' 2>/dev/null | grep -q virtio &&
    ! debugfs -R 'cat $kdir/modules.dep' '$nfs' 2>/dev/null | grep -q virtio &&
    debugfs -R 'cat $kdir/modules.dep' '$nfs' 2>/dev/null | grep -q '/ahci.ko:' &&
    ! debugfs -R 'cat $kdir/modules.dep' '$lfs' 2>/dev/null | grep -q ata_piix"

# Small raw disks: disk NAME SIZE SFDISK-SCRIPT, then checked with sfdisk -d.
disk() {
    rm -f "$T/$1.img" && truncate -s "$2" "$T/$1.img" && printf "$3" | sfdisk -q --no-reread --no-tell-kernel "$T/$1.img" \
        || bad "building $1.img failed"
}
sfd() { sfdisk -d "$T/$1.img" 2>/dev/null | grep "^$T/$1.img$2 :" | sed 's/.*: *//; s/, *uuid=[^,]*//; s/ *//g'; }
disk blank 16M 'label: dos\nlabel-id: 0x0b1a0c07\nstart=2048, type=7\n'
disk ldm 16M 'label: dos\nlabel-id: 0x0b1a0c42\nstart=2048, type=42\n'
disk ldm-meta 8M 'label: gpt\nstart=2048, size=2048, type=5808C8AA-7E8F-42E0-85D2-E1E90434CFB3\n'
disk ldm-data 8M 'label: gpt\nstart=2048, size=4096, type=AF9B60A0-1431-4F62-BC68-3311714A69AD\n'
disk efi 16M 'label: gpt\nstart=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n'
disk bl 16M 'label: dos\nlabel-id: 0x0b1a0cb1\nstart=2048, type=7, bootable\n'
check_eq "fixture: blank.img: MBR, one type 7 partition" "start=2048,size=30720,type=7" "$(sfd blank 1)"
check "fixture: blank.img: no filesystem in it (blkid -p exits 2)" \
    bash -c "blkid -p -O 1048576 '$T/blank.img'; [ \$? = 2 ]"
check_eq "fixture: ldm.img: MBR type 0x42" "start=2048,size=30720,type=42" "$(sfd ldm 1)"
check_eq "fixture: ldm-meta.img: GPT LDM metadata partition" \
    "start=2048,size=2048,type=5808C8AA-7E8F-42E0-85D2-E1E90434CFB3" "$(sfd ldm-meta 1)"
check_eq "fixture: ldm-data.img: GPT LDM data partition" \
    "start=2048,size=4096,type=AF9B60A0-1431-4F62-BC68-3311714A69AD" "$(sfd ldm-data 1)"
# The ESP gets a FAT filesystem, made in a file and copied in, holding the
# removable-media fallback loader (mtools).  Copies: one with only
# \EFI\debian\grubx64.efi (no fallback), one with an empty ESP, one whose
# ESP is not FAT.
export MTOOLS_SKIP_CHECK=1
printf 'MZ not really a loader\n' >"$T/loader.efi"
mkfs.vfat -C -n P2VESP -i 50325699 "$T/esp.fat" 8192 >/dev/null 2>&1 &&
    cp "$T/efi.img" "$T/efi-empty.img" &&
    dd if="$T/esp.fat" of="$T/efi-empty.img" bs=1M seek=1 conv=notrunc status=none &&
    cp "$T/efi-empty.img" "$T/efi-nofb.img" && cp "$T/efi.img" "$T/efi-bad.img" &&
    mmd -i "$T/esp.fat" ::/EFI ::/EFI/BOOT && mcopy -i "$T/esp.fat" "$T/loader.efi" ::/EFI/BOOT/BOOTX64.EFI &&
    dd if="$T/esp.fat" of="$T/efi.img" bs=1M seek=1 conv=notrunc status=none &&
    mmd -i "$T/efi-nofb.img@@1M" ::/EFI ::/EFI/debian &&
    mcopy -i "$T/efi-nofb.img@@1M" "$T/loader.efi" ::/EFI/debian/grubx64.efi
head -c 512 /dev/urandom | dd of="$T/efi-bad.img" bs=1M seek=1 conv=notrunc status=none
rm -f "$T/esp.fat"
check_eq "fixture: efi.img: GPT with an EFI System Partition" \
    "start=2048,size=16384,type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B" "$(sfd efi 1)"
check_eq "fixture: efi.img: vfat in the ESP (blkid -p)" vfat \
    "$(blkid -p -O 1048576 -o value -s TYPE "$T/efi.img" 2>&1)"
# BitLocker (Windows 7 and later): the boot sector's jump and -FVE-FS- OEM
# id, a BIOS parameter block, the BitLocker GUID at 160 and three FVE
# metadata offsets at 176, each block starting with -FVE-FS-, version 2 (what
# libblkid's bitlocker prober checks).
python3 - "$T/bl.img" 1048576 <<'PY'
import struct, sys
path, base = sys.argv[1], int(sys.argv[2])
bs = bytearray(512)
bs[0:11] = b"\xeb\x58\x90-FVE-FS-"
struct.pack_into("<HBH", bs, 11, 512, 8, 0)         # bytes/sector, sectors/cluster, reserved
bs[21] = 0xf8                                       # media: fixed disk
struct.pack_into("<HHI", bs, 24, 63, 255, 2048)     # sectors/track, heads, hidden sectors
bs[71:82] = b"NO NAME    "
bs[82:90] = b"FAT32   "
bs[160:176] = bytes.fromhex("3bd66749292ed84a8399f6a339e3d001")   # 4967d63b-2e29-4ad8-8399-f6a339e3d001
meta = (0x100000, 0x200000, 0x300000)
struct.pack_into("<QQQ", bs, 176, *meta)
bs[510:512] = b"\x55\xaa"
with open(path, "r+b") as f:
    f.seek(base); f.write(bs)
    for m in meta:
        f.seek(base + m); f.write(b"-FVE-FS-" + struct.pack("<HH", 64, 2))
PY
check_eq "fixture: bl.img: MBR, one active type 7 partition" "start=2048,size=30720,type=7,bootable" "$(sfd bl 1)"
dd if="$T/bl.img" of="$T/bl-part.raw" bs=1M skip=1 status=none
check_eq "fixture: bl.img partition 1 is BitLocker to blkid -p (a copy of the partition)" BitLocker \
    "$(blkid -p -o value -s TYPE "$T/bl-part.raw" 2>&1)"
rm -f "$T/bl-part.raw"
# A damaged table: partition 1 runs past the end of the disk.
cp "$T/blank.img" "$T/damaged.img" && truncate -s 8M "$T/damaged.img"
check "fixture: damaged.img: partition 1 ends past the end of the disk" python3 -c '
import os, subprocess, sys, json
t = json.loads(subprocess.run(["sfdisk", "-J", sys.argv[1]], capture_output=True, text=True).stdout)
p = t["partitiontable"]["partitions"][0]
sys.exit(0 if (p["start"] + p["size"]) * 512 > os.path.getsize(sys.argv[1]) else 1)' "$T/damaged.img"
for f in blank ldm ldm-meta ldm-data efi efi-nofb efi-empty efi-bad bl damaged; do keep "$T/$f.img"; done

# 2040 GiB (the VHD limit) and 2041 GiB: sparse, blank.
GiB=$((1 << 30))
truncate -s $((2040 * GiB)) "$T/big2040.img"
truncate -s $((2041 * GiB)) "$T/big2041.img"
check_eq "fixture: big2040.img is 2040 GiB = 2190433320960 bytes, sparse" "2190433320960 0" \
    "$(stat -c '%s %b' "$T/big2040.img")"
keep_sparse "$T/big2040.img"; keep_sparse "$T/big2041.img"

# --- Machine configuration files --------------------------------------------
RNG=machine/machine.rng
host=$T/host.xml
"$P2V" inventory -o "$host" 2>"$T/inv.err"
rc=$?
check_eq "inventory -o of this machine: exit status 0" 0 "$rc"
check "inventory -o: the file is written" test -s "$host"
check_eq "inventory -o: the file is mode 600" 600 "$(stat -c %a "$host" 2>/dev/null)"
check "inventory -o: the file validates against $RNG (xmllint)" \
    xmllint --noout --relaxng "$RNG" "$host"
# edit IN OUT python-statements: m is the <machine> root element.
edit() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys, xml.etree.ElementTree as ET
tree = ET.parse(sys.argv[1])
m = tree.getroot()
OS_ORDER = ["name", "id", "version", "build", "major", "minor", "arch", "edition",
            "installation-type", "kernel", "systemroot", "storage-drivers", "vendor-tools", "fstab"]
def os_child(tag, text=None):  # <os><tag>, made where the schema wants it
    os_ = m.find("os")
    e = os_.find(tag)
    if e is None:
        e = ET.Element(tag)
        later = [i for i, c in enumerate(os_) if OS_ORDER.index(c.tag) > OS_ORDER.index(tag)]
        os_.insert(later[0] if later else len(os_), e)
    if text is not None:
        e.text = text
    return e
def only_virtio_blk():  # what this machine's kernel has is its own affair
    sd = os_child("storage-drivers")
    for c in list(sd):
        sd.remove(c)
    ET.SubElement(sd, "driver", {"name": "virtio_blk", "builtin": "yes", "file": "yes"})
def no_disks():  # nor are its disks' sizes and sectors
    for c in list(m.find("disks")):
        m.find("disks").remove(c)
exec(sys.argv[3])
tree.write(sys.argv[2], encoding="UTF-8", xml_declaration=True)
PY
}
# The good one: everything these rules look at set to what passes (memory
# exactly 512 MiB: "less than" fails), and what depends on the machine the
# test runs on (its disks, its kernel's drivers) made the same everywhere,
# so that nothing else blocks.
GOOD='m.find("memory").text = "524288"; m.find("firmware").set("acpi", "yes"); m.find("cpu").set("arch", "x86_64"); os_child("arch", "x86_64"); only_virtio_blk(); no_disks()'
edit "$host" "$T/good.xml" "$GOOD"
edit "$T/good.xml" "$T/mem256.xml" 'm.find("memory").text = "262144"'
edit "$T/good.xml" "$T/mem-1.xml" 'm.find("memory").text = "524287"'
edit "$T/good.xml" "$T/noacpi.xml" 'm.find("firmware").set("acpi", "no")'
edit "$T/good.xml" "$T/cpu-ia64.xml" 'm.find("cpu").set("arch", "ia64")'
edit "$T/good.xml" "$T/os-ia64.xml" 'os_child("arch", "ia64")'
edit "$T/good.xml" "$T/badmem.xml" 'm.find("memory").text = "abc"'
check_eq "config fixtures: the edits are what they should be" \
    "524288 yes x86_64 x86_64|262144|524287|no|ia64 x86_64|x86_64 ia64|abc" "$(python3 - "$T" <<'PY'
import sys, xml.etree.ElementTree as ET
def g(f):
    return ET.parse("%s/%s.xml" % (sys.argv[1], f)).getroot()
m = g("good")
out = ["%s %s %s %s" % (m.findtext("memory"), m.find("firmware").get("acpi"), m.find("cpu").get("arch"), m.findtext("os/arch"))]
out += [g("mem256").findtext("memory"), g("mem-1").findtext("memory"), g("noacpi").find("firmware").get("acpi")]
out += ["%s %s" % (g(f).find("cpu").get("arch"), g(f).findtext("os/arch")) for f in ("cpu-ia64", "os-ia64")]
out += [g("badmem").findtext("memory")]
print("|".join(out))
PY
)"
for f in good mem256 mem-1 noacpi cpu-ia64 os-ia64; do
    check "config fixtures: $f.xml validates (xmllint)" xmllint --noout --relaxng "$RNG" "$T/$f.xml"
    keep "$T/$f.xml"
done
check "config fixtures: badmem.xml does not validate (xmllint)" \
    bash -c "! xmllint --noout --relaxng '$RNG' '$T/badmem.xml' 2>/dev/null"
keep "$T/badmem.xml"

# --- memory, acpi, arch: --config alone ----------------------------------------
run cfg-good --config "$T/good.xml"
expect cfg-good memory pass
expect cfg-good acpi pass
expect cfg-good arch pass
expect_exit cfg-good 0
run cfg-mem256 --config "$T/mem256.xml"
expect cfg-mem256 memory fail
expect cfg-mem256 acpi pass
expect cfg-mem256 arch pass
expect_exit cfg-mem256 1
run cfg-mem-1 --config "$T/mem-1.xml"
expect cfg-mem-1 memory fail
expect_exit cfg-mem-1 1
run cfg-noacpi --config "$T/noacpi.xml"
expect cfg-noacpi acpi fail
expect cfg-noacpi memory pass
expect_exit cfg-noacpi 1
run cfg-cpu-ia64 --config "$T/cpu-ia64.xml"
expect cfg-cpu-ia64 arch fail
expect_exit cfg-cpu-ia64 1
run cfg-os-ia64 --config "$T/os-ia64.xml"
expect cfg-os-ia64 arch fail
expect_exit cfg-os-ia64 1
# Neither: this machine, whose memory and ACPI are known (whatever they are).
run host
check_eq "host: memory and acpi known (pass or fail, not skip)" "known known" \
    "$(for r in memory acpi; do case $(rule_status "$T/host.json" $r) in pass|fail) printf 'known ' ;; *) printf '%s ' "$(rule_status "$T/host.json" $r)" ;; esac; done | sed 's/ $//')"
exit2 cfg-badmem "badmem\.xml" --config "$T/badmem.xml"
exit2 cfg-missing "nosuch\.xml" --config "$T/nosuch.xml"
# A source's inventory plus a configuration's machine facts.
run win-mem256 --target qemu-ide --config "$T/mem256.xml" "$win"
expect win-mem256 memory fail
expect_exit win-mem256 1

# --- Windows fixture: os, arch, acpi, boot-driver, static-ip, vendor-tools ----
run win-virtio "$win"
check_eq "win-virtio: defaults target virtio, format vhd" "virtio vhd" "$(key win-virtio target) $(key win-virtio format)"
check "win-virtio: source named" grep -q "win.img" <<<"$(key win-virtio source)"
expect win-virtio boot-driver fail blocker
expect win-virtio os pass
expect win-virtio arch pass
expect win-virtio acpi pass
expect win-virtio memory skip
expect win-virtio static-ip fail
expect win-virtio vendor-tools fail
expect win-virtio ntfs-state pass
expect win-virtio hive-state pass
expect win-virtio bitlocker pass
expect win-virtio dynamic-disk pass
expect win-virtio uefi-vhd pass
expect win-virtio disk-size pass
expect win-virtio sector-size pass
expect win-virtio dest-space skip
expect_exit win-virtio 1
check "win-virtio: the boot-driver message names viostor or vioscsi" \
    grep -qiE 'viostor|vioscsi' <<<"$(rule_message "$T/win-virtio.json" boot-driver)"
# os: a blocker for Windows before NT 5.0 (Windows 2000).
run nt4 --target qemu-ide "$nt4"
expect nt4 os fail blocker
expect_exit nt4 1
run w2k --target qemu-ide "$w2k"
expect w2k os pass
expect_exit w2k 0
# qemu-ide: atapi is boot-start with its file: nothing blocks, warnings remain.
# atapi alone is not enough for IDE: intelide's file is missing (a blocker,
# whose remedy is the plan action); with the file, intelide is installed but
# demand-start (a warning the default plan fixes, named as Windows has it).
run win-ide-nofile --target qemu-ide "$win"
expect win-ide-nofile boot-driver fail blocker
check "win-ide-nofile: the message names intelide's missing file" \
    grep -q 'intelide.sys is missing' <<<"$(rule_message "$T/win-ide-nofile.json" boot-driver)"
check "win-ide-nofile: the remedy is the plan action" grep -q 'inject-driver intelide intelide.sys' "$T/win-ide-nofile.json"
run win-ide --target qemu-ide "$ide"
check_eq "win-ide: target and format in the result" "qemu-ide vhd" "$(key win-ide target) $(key win-ide format)"
expect win-ide boot-driver fail warning
check "win-ide: the warning names intelide's Start" \
    grep -q 'intelide is installed but does not start at boot (Start=3)' <<<"$(rule_message "$T/win-ide.json" boot-driver)"
expect win-ide static-ip fail
expect win-ide vendor-tools fail
check_eq "win-ide: 0 blockers, 3 warnings" "0 3" "$(key win-ide blockers) $(key win-ide warnings)"
expect_exit win-ide 0
# qemu-sata: storahci has no file, msahci no service: blocker.
run win-sata --target qemu-sata "$win"
expect win-sata boot-driver fail blocker
expect_exit win-sata 1
# ... with storahci.sys there but demand-start: a warning.
run win-sata-copy --target qemu-sata "$sata"
expect win-sata-copy boot-driver fail warning
expect_exit win-sata-copy 0
check "win-sata-copy: the boot-driver message names storahci" \
    grep -qi storahci <<<"$(rule_message "$T/win-sata-copy.json" boot-driver)"
# hyperv: Generation 1 boots from IDE (atapi); Generation 2 needs storvsc.
run win-hv1 --target hyperv "$ide"
expect win-hv1 boot-driver fail warning
expect win-hv1 uefi-vhd pass
expect_exit win-hv1 0
run win-hv2 --target hyperv --generation 2 --format vhdx "$win"
expect win-hv2 boot-driver fail blocker
expect_exit win-hv2 1

# The default virtio plan with a (fake) viostor injected: boot-driver passes.
D=$T/drivers
mkdir -p "$D"
make_driver "$D/viostor.sys" x86_64 "p2v test viostor driver"
printf '[Version]\r\nSignature="$Windows NT$"\r\nClass=SCSIAdapter\r\n' >"$D/viostor.inf"
"$P2V" fixup plan --target virtio --drivers "$D" "$win" >"$T/virtio.plan" 2>"$T/plan.err"
check "fix-up: the virtio plan injects viostor from --drivers" \
    grep -q "^inject-driver viostor $D/viostor.sys" "$T/virtio.plan"
"$P2V" fixup apply --state "$T/st-virtio" --plan "$T/virtio.plan" "$win" >/dev/null 2>"$T/apply.err"
check "fix-up: the virtio plan applies" test -s "$T/st-virtio/fixups.json"
# The same through a fix-up: a plan that only puts storahci.sys in place.
printf 'file-put storahci.sys %%SystemRoot%%\\System32\\drivers\\storahci.sys\n' >"$T/sata.plan"
"$P2V" fixup apply --state "$T/st-sata" --plan "$T/sata.plan" "$win" >/dev/null 2>"$T/apply.err"
check "fix-up: the storahci.sys plan applies" test -s "$T/st-sata/fixups.json"
# What the two states hold, read with ntfscat and hivexget through a view.
for s in virtio sata; do
    mnt=$T/mnt-$s
    p2v_mount "$win" "$mnt" --state "$T/st-$s" 2>/dev/null || { bad "mounting the $s state failed"; continue; }
    ntfscat "$mnt/partitions/1.raw" Windows/System32/config/SYSTEM >"$T/SYSTEM-$s" 2>/dev/null
    if [ $s = virtio ]; then
        check "fix-up state virtio: viostor.sys in System32\\drivers (ntfscat)" \
            cmp <(ntfscat "$mnt/partitions/1.raw" Windows/System32/drivers/viostor.sys 2>/dev/null) "$D/viostor.sys"
        check_eq "fix-up state virtio: viostor Start 0 (hivexget)" 0 "$(hivexget "$T/SYSTEM-$s" "$cs\\viostor" Start 2>&1)"
        check "fix-up state virtio: the first-boot script removes VMware Tools' MSI package quietly (ntfscat)" \
            grep -q '^MsiExec.exe /X{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF} /qn /norestart' \
            <(ntfscat "$mnt/partitions/1.raw" 'Windows/p2v/firstboot/uninstall-_FE2F6A2C-196E-4210-9C04-2B1BC21F07EF_.cmd' 2>/dev/null)
        check_eq "fix-up state virtio: Setup runs p2v's first-boot runner (hivexget)" 2 "$(hivexget "$T/SYSTEM-$s" '\Setup' SetupType 2>&1)"
    else
        check "fix-up state sata: storahci.sys in System32\\drivers (ntfscat)" \
            cmp <(ntfscat "$mnt/partitions/1.raw" Windows/System32/drivers/storahci.sys 2>/dev/null) "$T/storahci.sys"
        check_eq "fix-up state sata: storahci Start and StartOverride still 3 (hivexget)" "3 3" \
            "$(hivexget "$T/SYSTEM-$s" "$cs\\storahci" Start 2>&1) $(hivexget "$T/SYSTEM-$s" "$cs\\storahci\\StartOverride" 0 2>&1)"
    fi
    umount_state "$mnt" "$T/st-$s" 2>/dev/null
done
run win-virtio-fixed --state "$T/st-virtio" --target virtio "$win"
expect win-virtio-fixed boot-driver pass
# The default plan disabled the vendor services and scheduled VMware Tools'
# uninstall (an MSI package); Parallels Tools' uninstaller needs a user, so
# the plan only names it and check still does.
check "fix-up: the plan uninstalls VMware Tools at first boot" grep -q '^uninstall-program "VMware Tools"' "$T/virtio.plan"
check "fix-up: the plan leaves Parallels Tools commented, saying why" bash -c \
    "grep -B3 '^# uninstall-program \"Parallels Tools\"' '$T/virtio.plan' | grep -q 'no unattended uninstall'"
expect win-virtio-fixed vendor-tools pass
check "win-virtio-fixed: vendor-tools names what remains for the user" \
    grep -q 'programs remain that p2v cannot remove unattended (Parallels Tools)' <<<"$(rule_message "$T/win-virtio-fixed.json" vendor-tools)"
expect_exit win-virtio-fixed 0
run win-sata-file --state "$T/st-sata" --target qemu-sata "$win"
expect win-sata-file boot-driver fail warning
expect_exit win-sata-file 0
check "win-sata-file: the boot-driver message names storahci" \
    grep -qi storahci <<<"$(rule_message "$T/win-sata-file.json" boot-driver)"

# --- ntfs-state -------------------------------------------------------------
run hib --target qemu-ide "$hib"
expect hib ntfs-state fail
expect_exit hib 1
check "hib: the ntfs-state message names partition 1" \
    grep -qE 'partition 1([^0-9]|$)' <<<"$(rule_message "$T/hib.json" ntfs-state)"
expect win-ide ntfs-state pass

# --- Linux fixture ------------------------------------------------------------
run lin "$lin"
expect lin os pass
expect lin boot-driver pass
expect lin static-ip skip
expect lin vendor-tools pass
expect lin memory skip
expect lin ntfs-state skip
expect lin hive-state skip
expect lin boot-loader pass
# fstab's "/dev/sdb1 /data" is /dev/vdb1 on virtio, and stays on SATA.
expect lin device-names fail blocker
expect_exit lin 1
run lin-sata --target qemu-sata "$lin"
expect lin-sata device-names pass
expect lin-sata boot-driver pass
expect_exit lin-sata 0
run linnv "$linnv"
expect linnv boot-driver fail blocker
expect_exit linnv 1
run linnv-sata --target qemu-sata "$linnv"
expect linnv-sata boot-driver pass
expect_exit linnv-sata 0
run lin-ide --target qemu-ide "$lin"
expect lin-ide boot-driver fail blocker
expect_exit lin-ide 1

# --- No operating system: os warns, the rules about the OS skip --------------
# (skip: "not applicable / not known"; the spec names it for boot-driver,
# and static-ip / vendor-tools have nothing to look at either; ntfs-state
# skips without an NTFS volume.)
run blank "$T/blank.img"
expect blank os fail warning
expect blank boot-driver skip
expect blank memory skip
expect blank acpi skip
expect blank arch skip
expect blank static-ip skip
expect blank vendor-tools skip
expect blank ntfs-state skip
expect blank bitlocker pass
expect blank dynamic-disk pass
expect_exit blank 0

# --- dynamic-disk -------------------------------------------------------------
run ldm "$T/ldm.img"
expect ldm dynamic-disk fail
expect_exit ldm 1
run ldm-meta "$T/ldm-meta.img"
expect ldm-meta dynamic-disk fail
expect_exit ldm-meta 1
run ldm-data "$T/ldm-data.img"
expect ldm-data dynamic-disk fail
expect_exit ldm-data 1
# (MBR type 0x07: blank and win-ide above; GPT without LDM: efi below.)

# --- bitlocker ----------------------------------------------------------------
run bl "$T/bl.img"
expect bl bitlocker fail
expect_exit bl 1
check "bl: the bitlocker message names partition 1" \
    grep -qE 'partition 1([^0-9]|$)' <<<"$(rule_message "$T/bl.json" bitlocker)"

# --- uefi-vhd -----------------------------------------------------------------
run efi-hv-vhd --target hyperv --format vhd "$T/efi.img"
expect efi-hv-vhd uefi-vhd fail
expect_exit efi-hv-vhd 1
run efi-hv-vhdx --target hyperv --format vhdx "$T/efi.img"
check_eq "efi-hv-vhdx: target and format in the result" "hyperv vhdx" "$(key efi-hv-vhdx target) $(key efi-hv-vhdx format)"
expect efi-hv-vhdx uefi-vhd pass
expect efi-hv-vhdx dynamic-disk pass
expect_exit efi-hv-vhdx 0
run efi-virtio-vhd --target virtio --format vhd "$T/efi.img"
expect efi-virtio-vhd uefi-vhd pass
expect efi-virtio-vhd efi-fallback pass
expect_exit efi-virtio-vhd 0

# --- efi-fallback: what the VM's firmware, with no boot entries, starts -----
run efi-nofb --target virtio "$T/efi-nofb.img"
expect efi-nofb efi-fallback fail
check "efi-nofb: names the installed loader" grep -q '/EFI/debian/grubx64.efi' <(rule_message "$T/efi-nofb.json" efi-fallback)
expect_exit efi-nofb 1
run efi-empty --target virtio "$T/efi-empty.img"
expect efi-empty efi-fallback fail
check "efi-empty: says to install a loader" grep -q 'install the boot loader' <(rule_remedy "$T/efi-empty.json" efi-fallback)
run efi-bad --target virtio "$T/efi-bad.img"
expect efi-bad efi-fallback fail warning
expect_exit efi-bad 0
run bios-efi --target virtio "$T/blank.img"
expect bios-efi efi-fallback skip
"$P2V" fixup plan --target virtio "$T/efi-nofb.img" >"$T/nofb.plan" 2>"$T/nofb.plan.err"
check_eq "fixup plan on a UEFI disk without an OS says no operating system" 1 $?

# --- disk-size ----------------------------------------------------------------
run big2041-vhd --format vhd "$T/big2041.img"
expect big2041-vhd disk-size fail
expect_exit big2041-vhd 1
run big2041-vhdx --format vhdx "$T/big2041.img"
expect big2041-vhdx disk-size pass
expect_exit big2041-vhdx 0
run big2040-vhd --format vhd "$T/big2040.img"
expect big2040-vhd disk-size pass
expect_exit big2040-vhd 0

# --- sector-size: a 4096-byte-sector loop device -----------------------------
truncate -s 8M "$T/4k.img"
keep "$T/4k.img"
if LOOP=$(losetup -r -f --show -b 4096 "$T/4k.img" 2>"$T/losetup.err"); then
    check_eq "fixture: $LOOP has 4096-byte logical sectors (blockdev)" 4096 "$(blockdev --getss "$LOOP")"
    run 4k-vhd --format vhd "$LOOP"
    expect 4k-vhd sector-size fail
    expect_exit 4k-vhd 1
    run 4k-vhdx --format vhdx "$LOOP"
    expect 4k-vhdx sector-size pass
    expect_exit 4k-vhdx 0
    losetup -d "$LOOP" && LOOP=''
else
    LOOP=''
    bad "losetup -b 4096 failed: $(cat "$T/losetup.err")"
fi

# --- dest-space: a 1 MiB tmpfs cannot hold the 64 MiB fixed image -----------------
mkdir -p "$SMALL"
if mount -t tmpfs -o size=1M p2v-it-check "$SMALL"; then
    run dest-small --target qemu-ide --type fixed --dest "$SMALL" "$win"
    expect dest-small dest-space fail
    expect_exit dest-small 1
    # disk-size with VHDX: over 64 TiB (sparse files on the tmpfs: ext4
    # cannot hold one that large).
    truncate -s $((64 << 40)) "$SMALL/64t.img"
    truncate -s $(((64 << 40) + (1 << 20))) "$SMALL/64t1m.img"
    h64=$(sparse_hash "$SMALL/64t.img") h65=$(sparse_hash "$SMALL/64t1m.img")
    run 64t-vhdx --format vhdx "$SMALL/64t.img"
    expect 64t-vhdx disk-size pass
    expect_exit 64t-vhdx 0
    run 64t1m-vhdx --format vhdx "$SMALL/64t1m.img"
    expect 64t1m-vhdx disk-size fail
    expect_exit 64t1m-vhdx 1
    check_eq "unchanged: 64t.img and 64t1m.img" "$h64 $h65" \
        "$(sparse_hash "$SMALL/64t.img") $(sparse_hash "$SMALL/64t1m.img")"
    umount "$SMALL"
else
    bad "mounting a 1 MiB tmpfs failed"
fi
run dest-big --target qemu-ide --type fixed --dest "$T" "$ide"
expect dest-big dest-space pass
expect_exit dest-big 0
# (no --dest: skip, in every run above.)

# --- Could not check: exit 2 --------------------------------------------------
exit2 missing "nosuch\.img" "$T/nosuch.img"
exit2 damaged "damaged\.img.*(past the end|damaged)" "$T/damaged.img"
mkdir "$T/a-directory"
exit2 dir "a-directory" "$T/a-directory"
exit2 bad-format "vmdk" --format vmdk "$win"
exit2 bad-target "vmware" --target vmware "$win"

# --- Text output ----------------------------------------------------------------
"$P2V" check "$win" >"$T/text.out" 2>"$T/text.err"
rc=$?
check_eq "text output: the same exit status as --json" "${RC[win-virtio]}" "$rc"
check "text output: one line per rule 'ID  RESULT  MESSAGE', a remedy under each failure, the summary" \
    python3 - "$T/text.out" "$T/win-virtio.json" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
d = json.load(open(sys.argv[2]))
word = {"pass": "ok", "skip": "skip"}
for r in d["results"]:
    want = word.get(r["status"]) or r["severity"].upper()
    at = [i for i, l in enumerate(lines) if re.match(r"%s\s+%s\s+\S" % (re.escape(r["id"]), want), l)]
    assert len(at) == 1, "%s %s: %d lines in\n%s" % (r["id"], want, len(at), "\n".join(lines))
    nxt = lines[at[0] + 1] if at[0] + 1 < len(lines) else ""
    if r["status"] == "fail":
        assert re.match(r"\s+remedy: \S", nxt), "no remedy line under %s: %r" % (r["id"], nxt)
    else:
        assert "remedy:" not in nxt, "a remedy under %s, which did not fail" % r["id"]
assert any(re.match(r"\S+\s+RESULT\s+MESSAGE\s*$", l) for l in lines), "no table header"
summary = r"^%d blockers?, %d warnings?$" % (d["blockers"], d["warnings"])
assert any(re.search(summary, l) for l in lines), "no summary /%s/" % summary
assert sum("remedy:" in l for l in lines) == d["blockers"] + d["warnings"]
PY

# --- Nothing was written ------------------------------------------------------------
for f in "${!BEFORE[@]}"; do
    case ${BEFORE[$f]} in
        sparse:*) now=sparse:$(sparse_hash "$f") ;;
        *) now=$(hash_of "$f") ;;
    esac
    check_eq "unchanged: $(basename "$f")" "${BEFORE[$f]}" "$now"
done
finish
