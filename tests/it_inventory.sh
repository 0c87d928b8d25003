#!/bin/bash
# `p2v inventory`: the running machine's facts agree with /proc, /sys and
# the usual tools; offline Windows (tests/mkwinfixture.sh) and Linux
# (tests/mklinuxfixture.sh) disks give every fact the fixtures hold, in XML
# (read with xmllint --xpath) and in JSON alike; every XML validates against
# machine/machine.rng; the same source gives the same bytes twice;
# bad sources exit 1 with a message, bad usage exits 2.  Sources are hashed
# before and after (inventory only reads).
. "$(dirname "$0")/lib.sh"

RNG=machine/machine.rng
# The interpreter itself, not a version manager's shim: jv runs it ~200 times.
PY=$(python3 -c 'import sys; print(sys.executable)')

# xq FILE XPATH: the XPath's string value ("" when nothing matches).
xq() { xmllint --xpath "string($2)" "$1" 2>/dev/null; }
# xn FILE XPATH: how many nodes match.
xn() { xmllint --xpath "count($2)" "$1" 2>/dev/null; }
# xl FILE NODES FIELD...: for every node NODES matches, its FIELDs (relative
# XPaths like @name) joined by ':'; sorted, space-separated.
xl() {
    local f=$1 nodes=$2 n i fld e; shift 2
    n=$(xn "$f" "$nodes")
    for ((i = 1; i <= ${n:-0}; i++)); do
        e=''
        for fld; do e+="${e:+,':',}($nodes)[$i]/$fld"; done
        printf '%s\n' "$(xq "$f" "concat($e,'')")"
    done | LC_ALL=C sort | paste -sd' '
}
# jv FILE EXPR: a Python expression over the JSON document d.  Booleans
# print as yes/no and null as "", so either JSON spelling of a yes/no fact
# compares with the XML's; by(LIST) indexes a list of objects by "name";
# jl(LIST, FIELD...) is xl's JSON twin.
jv() {
    "$PY" - "$1" "$2" <<'PY'
import json, sys
def s(v):
    if v is True: return "yes"
    if v is False: return "no"
    if v is None: return ""
    return v if isinstance(v, str) else json.dumps(v)
def by(l, key="name"): return {x[key]: x for x in l}
def jl(l, *fields): return " ".join(sorted(":".join(s(x.get(f)) for f in fields) for x in l))
try:
    d = json.load(open(sys.argv[1]))
    print(s(eval(sys.argv[2])))
except Exception as e:
    print("ERROR: %s: %s" % (type(e).__name__, e))
PY
}
# fact NAME DESCRIPTION EXPECTED XPATH PYEXPR: one fact, from $T/NAME.xml
# by XPath and from $T/NAME.json by Python; both must equal EXPECTED.
fact() {
    check_eq "$1: $2 (XML)" "$3" "$(xq "$T/$1.xml" "$4")"
    check_eq "$1: $2 (JSON)" "$3" "$(jv "$T/$1.json" "$5")"
}
# inventory NAME [OPTIONS]: $T/NAME.xml and $T/NAME.json, each must succeed,
# and the XML must be valid.
inventory() {
    local name=$1; shift
    check "$name: inventory (XML) exits 0" "$P2V" inventory "$@" -o "$T/$name.xml"
    check "$name: inventory --json exits 0" "$P2V" inventory --json "$@" -o "$T/$name.json"
    check "$name: the XML is valid against machine.rng" xmllint --noout --relaxng "$RNG" "$T/$name.xml"
    check "$name: the JSON parses" python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/$name.json"
}

# --- The running machine -----------------------------------------------------
umask 022   # -o must give 0600 whatever the umask
mkdir -p "$T/out"
echo stale >"$T/out/run.xml" && chmod 644 "$T/out/run.xml"
check "running: inventory -o over an existing file exits 0" "$P2V" inventory -o "$T/out/run.xml"
check_eq "running: -o FILE is mode 0600 (replaced, not rewritten in place)" 600 "$(stat -c %a "$T/out/run.xml")"
check_eq "running: -o leaves no temporary file beside FILE" run.xml "$(ls -A "$T/out")"
cp "$T/out/run.xml" "$T/run.xml"
check "running: -o writes nothing on stdout" test -z "$("$P2V" inventory --json -o "$T/run.json" 2>/dev/null)"
check "running: XML on stdout is the document -o writes" cmp <("$P2V" inventory 2>/dev/null) "$T/run.xml"
check "running: the XML is valid against machine.rng" xmllint --noout --relaxng "$RNG" "$T/run.xml"
check "running: the JSON parses" python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/run.json"
check "running: --schema prints machine/machine.rng" cmp <("$P2V" inventory --schema) "$RNG"

fact run "origin" running '/machine/@origin' 'd["origin"]'
fact run "version" 1 '/machine/@version' 'd["version"]'
check_eq "run: no <source> element" 0 "$(xn "$T/run.xml" /machine/source)"
fact run "memory = MemTotal" "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" '/machine/memory[@unit="KiB"]' 'd["memory_kib"]'
fact run "cpu count = processor lines" "$(grep -c '^processor' /proc/cpuinfo)" '/machine/cpu/@count' 'd["cpu"]["count"]'
sockets=$(grep '^physical id' /proc/cpuinfo | sort -u | wc -l)
fact run "cpu sockets = distinct physical ids" "$((sockets > 0 ? sockets : 1))" '/machine/cpu/@sockets' 'd["cpu"]["sockets"]'
fact run "cpu arch = uname -m" "$(uname -m)" '/machine/cpu/@arch' 'd["cpu"]["arch"]'
cpuinfo() { sed -n "s/^$1[[:space:]]*: //p" /proc/cpuinfo | head -n 1; }
fact run "cpu vendor = vendor_id" "$(cpuinfo vendor_id)" '/machine/cpu/vendor' 'd["cpu"]["vendor"]'
fact run "cpu model = model name" "$(cpuinfo 'model name')" '/machine/cpu/model' 'd["cpu"]["model"]'
fact run "hostname" "$(hostname)" '/machine/hostname' 'd["hostname"]'
fact run "firmware" "$([ -e /sys/firmware/efi ] && echo uefi || echo bios)" '/machine/firmware/@type' 'd["firmware"]'
fact run "acpi" "$([ -e /sys/firmware/acpi ] && echo yes || echo no)" '/machine/firmware/@acpi' 'd["acpi"]'
fact run "os family" linux '/machine/os/@family' 'd["os"]["family"]'
osr() { (. /etc/os-release && eval "echo \"\${$1:-}\""); }
fact run "os name = PRETTY_NAME" "$(osr PRETTY_NAME)" '/machine/os/name' 'd["os"]["name"]'
fact run "os id = ID" "$(osr ID)" '/machine/os/id' 'd["os"]["id"]'
fact run "os version = VERSION_ID" "$(osr VERSION_ID)" '/machine/os/version' 'd["os"]["version"]'
fact run "os kernel = uname -r" "$(uname -r)" '/machine/os/kernel' 'd["os"]["kernel"]'

# NICs: every interface but lo by name, with its MAC (when it has an
# Ethernet-style one), its driver when it has a device, its addresses.
nics=() macs=() drivers=()
for n in /sys/class/net/*; do
    name=${n##*/}
    [ "$name" = lo ] && continue
    nics+=("$name")
    mac=$(cat "$n/address" 2>/dev/null || true)
    [[ $mac =~ ^[0-9a-f]{2}(:[0-9a-f]{2}){5}$ ]] && macs+=("$name:$mac")
    [ -e "$n/device/driver" ] && drivers+=("$name:$(basename "$(readlink -f "$n/device/driver")")")
done
sorted() { printf '%s\n' "$@" | LC_ALL=C sort | paste -sd' '; }
check_eq "run: NIC names: /sys/class/net without lo (XML)" "$(sorted "${nics[@]}")" "$(xl "$T/run.xml" /machine/nics/nic @name)"
check_eq "run: NIC names: /sys/class/net without lo (JSON)" "$(sorted "${nics[@]}")" "$(jv "$T/run.json" 'jl(d["nics"], "name")')"
for nm in "${macs[@]}"; do
    fact run "NIC ${nm%%:*}: MAC" "${nm#*:}" "/machine/nics/nic[@name='${nm%%:*}']/@mac" "by(d['nics'])['${nm%%:*}']['mac']"
done
for nd in "${drivers[@]}"; do
    fact run "NIC ${nd%%:*}: driver" "${nd#*:}" "/machine/nics/nic[@name='${nd%%:*}']/@driver" "by(d['nics'])['${nd%%:*}']['driver']"
done
# (IPv6: global ones only; how a link-local address carries its scope is not specified.)
while read -r _ name fam cidr _; do
    [ "$name" = lo ] && continue
    want="$([ "$fam" = inet ] && echo ipv4 || echo ipv6):${cidr#*/}:${cidr%/*}"
    check "run: NIC $name has its address ${cidr} (XML)" \
        grep -qwF -- "$want" <<<"$(xl "$T/run.xml" "/machine/nics/nic[@name='$name']/address" @family @prefix .)"
    check "run: NIC $name has its address ${cidr} (JSON)" \
        grep -qwF -- "$want" <<<"$(jv "$T/run.json" "jl(by(d['nics'])['$name']['addresses'], 'family', 'prefix', 'address')")"
done < <(ip -o -4 addr show 2>/dev/null; ip -o -6 addr show scope global 2>/dev/null)

# A real disk: the first /sys/block entry with a device link (not loop, ram,
# dm, zram); its size and logical sector size.
disk=''
for b in /sys/block/*; do
    case ${b##*/} in loop* | ram* | dm-* | zram*) continue ;; esac
    [ -e "$b/device" ] && { disk=${b##*/}; break; }
done
if [ -n "$disk" ]; then
    fact run "disk $disk: size = sectors * 512" "$(($(cat "/sys/block/$disk/size") * 512))" \
        "/machine/disks/disk[@name='$disk']/@size" "by(d['disks'])['$disk']['size']"
    fact run "disk $disk: logical sector" "$(cat "/sys/block/$disk/queue/logical_block_size")" \
        "/machine/disks/disk[@name='$disk']/@logical-sector" "by(d['disks'])['$disk']['logical_sector']"
    check_eq "run: no loop, ram or dm disk is listed" "" \
        "$(xl "$T/run.xml" /machine/disks/disk @name | tr ' ' '\n' | grep -E '^(loop|ram|dm-|zram)' | paste -sd' ')"
else
    echo "  skip no disk in /sys/block has a device link"
fi

# --- Offline Windows ---------------------------------------------------------
# mkwinfixture's facts, as the spec states them.
static='{5A1B2C3D-0000-4000-8000-000000000001}' dhcp='{5A1B2C3D-0000-4000-8000-000000000002}'
declare -A src_hash
for variant in win7 win8 hiber; do
    src=$T/$variant.img
    case $variant in win7) opt=() ;; win8) opt=(--win8) ;; hiber) opt=(--hiberfil) ;; esac
    if ! bash tests/mkwinfixture.sh "$src" "${opt[@]}" 2>"$T/mk.log"; then
        bad "$variant: building the fixture failed: $(cat "$T/mk.log")"
        continue
    fi
    src_hash[$variant]=$(hash_of "$src")
    inventory "$variant" --source "$src"
    v=$variant
    fact $v "origin" source '/machine/@origin' 'd["origin"]'
    fact $v "source" "$src" '/machine/source' 'd["source"]'
    check_eq "$v: no memory for an offline source" 0 "$(xn "$T/$v.xml" /machine/memory)"
    check_eq "$v: no memory for an offline source (JSON: 0 or null)" 0 "$(jv "$T/$v.json" 'd.get("memory_kib") or 0')"
    fact $v "hostname" P2V-TESTHOST '/machine/hostname' 'd["hostname"]'
    fact $v "firmware bios (MBR)" bios '/machine/firmware/@type' 'd["firmware"]'
    fact $v "acpi" yes '/machine/firmware/@acpi' 'd["acpi"]'
    fact $v "os family" windows '/machine/os/@family' 'd["os"]["family"]'
    fact $v "os partition" 1 '/machine/os/@partition' 'd["os"]["partition"]'
    if [ $v = win8 ]; then name='Windows Server 2019 Standard' ver=10.0 build=17763
    else name='Windows 7 Professional' ver=6.1 build=7601; fi
    fact $v "os name = ProductName" "$name" '/machine/os/name' 'd["os"]["name"]'
    fact $v "os version" $ver '/machine/os/version' 'd["os"]["version"]'
    fact $v "os build" $build '/machine/os/build' 'd["os"]["build"]'
    fact $v "os arch" x86_64 '/machine/os/arch' 'd["os"]["arch"]'
    fact $v "systemroot" /Windows '/machine/os/systemroot' 'd["os"]["systemroot"]'

    # Storage drivers: the known ones with a service; storahci's start is its StartOverride.
    check_eq "$v: storage drivers name:start:file (XML)" "atapi:0:yes intelide:3:no storahci:3:no" \
        "$(xl "$T/$v.xml" /machine/os/storage-drivers/driver @name @start @file)"
    check_eq "$v: storage drivers name:start:file (JSON)" "atapi:0:yes intelide:3:no storahci:3:no" \
        "$(jv "$T/$v.json" 'jl(d["os"]["storage_drivers"], "name", "start", "file")')"
    # Vendor tools: the services and the VMware and (WOW6432Node) Parallels
    # programs; not 7-Zip.
    tools='program:Parallels Tools program:VMware Tools service:prl_fs service:vm3dmp service:vmci service:vmtools'
    check_eq "$v: vendor tools kind:name (XML)" "$tools" "$(xl "$T/$v.xml" /machine/os/vendor-tools/tool @kind @name)"
    check_eq "$v: vendor tools kind:name (JSON)" "$tools" "$(jv "$T/$v.json" 'jl(d["os"]["vendor_tools"], "kind", "name")')"
    # An MSI package can go unattended; an uninstaller that asks cannot.
    check_eq "$v: vendor programs' uninstall (XML)" "Parallels Tools:manual VMware Tools:unattended" \
        "$(xl "$T/$v.xml" "/machine/os/vendor-tools/tool[@kind='program']" @name @uninstall)"
    check_eq "$v: vendor programs' uninstall (JSON)" "Parallels Tools:manual VMware Tools:unattended" \
        "$(jv "$T/$v.json" 'jl([t for t in d["os"]["vendor_tools"] if t["kind"] == "program"], "name", "uninstall")')"
    check_eq "$v: vendor services' start (XML)" "prl_fs:1 vm3dmp:3 vmci:0 vmtools:2" \
        "$(xl "$T/$v.xml" "/machine/os/vendor-tools/tool[@kind='service']" @name @start)"
    check_eq "$v: vendor services' start (JSON)" "prl_fs:1 vm3dmp:3 vmci:0 vmtools:2" \
        "$(jv "$T/$v.json" 'jl([t for t in d["os"]["vendor_tools"] if t["kind"] == "service"], "name", "start")')"

    # NICs: one per Tcpip interface, no MAC offline.
    check_eq "$v: NICs name:dhcp (XML)" "$static:no $dhcp:yes" "$(xl "$T/$v.xml" /machine/nics/nic @name @dhcp)"
    check_eq "$v: NICs name:dhcp (JSON)" "$static:no $dhcp:yes" "$(jv "$T/$v.json" 'jl(d["nics"], "name", "dhcp")')"
    check_eq "$v: no MAC offline (XML)" 0 "$(xn "$T/$v.xml" /machine/nics/nic/@mac)"
    check_eq "$v: no MAC offline (JSON)" 0 "$(jv "$T/$v.json" 'sum(1 for n in d["nics"] if n.get("mac"))')"
    check_eq "$v: static NIC's address family:prefix:address (XML)" "ipv4:24:192.168.50.10" \
        "$(xl "$T/$v.xml" "/machine/nics/nic[@name='$static']/address" @family @prefix .)"
    check_eq "$v: static NIC's address family:prefix:address (JSON)" "ipv4:24:192.168.50.10" \
        "$(jv "$T/$v.json" "jl(by(d['nics'])['$static']['addresses'], 'family', 'prefix', 'address')")"
    fact $v "static NIC's gateway" 192.168.50.1 "/machine/nics/nic[@name='$static']/gateway" "by(d['nics'])['$static']['gateway']"
    fact $v "static NIC's DNS" 192.168.50.2,8.8.8.8 "/machine/nics/nic[@name='$static']/dns" "by(d['nics'])['$static']['dns']"
    check_eq "$v: the DHCP NIC has no address (XML)" 0 "$(xn "$T/$v.xml" "/machine/nics/nic[@name='$dhcp']/address")"

    # The disk: named after the source, MBR 0x1234abcd, one active NTFS partition.
    check_eq "$v: one disk (XML)" 1 "$(xn "$T/$v.xml" /machine/disks/disk)"
    check_eq "$v: one disk (JSON)" 1 "$(jv "$T/$v.json" 'len(d["disks"])')"
    D=/machine/disks/disk P=/machine/disks/disk/table/partition
    fact $v "disk name = the source's basename" $v.img "$D/@name" 'd["disks"][0]["name"]'
    fact $v "disk size" $((64 << 20)) "$D/@size" 'd["disks"][0]["size"]'
    fact $v "disk logical sector" 512 "$D/@logical-sector" 'd["disks"][0]["logical_sector"]'
    fact $v "table type" dos "$D/table/@type" 'd["disks"][0]["table"]'
    fact $v "table id" 0x1234abcd "$D/table/@id" 'd["disks"][0]["table_id"]'
    check_eq "$v: one partition (XML)" 1 "$(xn "$T/$v.xml" "$P")"
    fact $v "partition number:start:size (bytes)" "1:$((1 << 20)):$((63 << 20))" \
        "concat($P/@number,':',$P/@start,':',$P/@size)" \
        '":".join(str(d["disks"][0]["partitions"][0][k]) for k in ("number", "start", "size"))'
    fact $v "partition type" 0x07 "$P/@type" 'd["disks"][0]["partitions"][0]["type"]'
    fact $v "partition bootable" yes "$P/@bootable" 'd["disks"][0]["partitions"][0]["bootable"]'
    fact $v "partition filesystem type" ntfs "$P/filesystem/@type" 'd["disks"][0]["partitions"][0]["filesystem"]["type"]'
    fact $v "partition filesystem label" WINSYS "$P/filesystem/@label" 'd["disks"][0]["partitions"][0]["filesystem"]["label"]'
    state=$([ $v = hiber ] && echo hibernated || echo clean)
    fact $v "NTFS state" "$state" "$P/filesystem/@state" 'd["disks"][0]["partitions"][0]["filesystem"]["state"]'
done

# --- Offline Linux -----------------------------------------------------------
fsuuid=7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d   # mklinuxfixture's
for variant in linux novirtio; do
    src=$T/$variant.img
    opt=()
    [ $variant = novirtio ] && opt=(--no-virtio)
    if ! bash tests/mklinuxfixture.sh "$src" "${opt[@]}" 2>"$T/mk.log"; then
        bad "$variant: building the fixture failed: $(cat "$T/mk.log")"
        continue
    fi
    src_hash[$variant]=$(hash_of "$src")
    inventory "$variant" --source "$src"
    v=$variant
    fact $v "origin" source '/machine/@origin' 'd["origin"]'
    fact $v "hostname from /etc/hostname" p2v-linux-host '/machine/hostname' 'd["hostname"]'
    fact $v "firmware bios (MBR)" bios '/machine/firmware/@type' 'd["firmware"]'
    fact $v "os family" linux '/machine/os/@family' 'd["os"]["family"]'
    fact $v "os partition" 1 '/machine/os/@partition' 'd["os"]["partition"]'
    # /etc/os-release is a relative symlink: it must be followed inside the image.
    fact $v "os name = PRETTY_NAME" 'P2V Test Linux 12 (fixture)' '/machine/os/name' 'd["os"]["name"]'
    fact $v "os id = ID" p2vtest '/machine/os/id' 'd["os"]["id"]'
    fact $v "os version = VERSION_ID" 12 '/machine/os/version' 'd["os"]["version"]'
    fact $v "kernel = the /lib/modules directory" 6.1.0-p2vtest '/machine/os/kernel' 'd["os"]["kernel"]'
    # fstab: both entries, not the comment (sorted here; the order is checked below).
    want="/dev/sdb1:/data:xfs:defaults UUID=$fsuuid:/:ext4:errors=remount-ro"
    check_eq "$v: fstab spec:file:type:options (XML)" "$want" \
        "$(xl "$T/$v.xml" /machine/os/fstab/mount @spec @file @type @options)"
    check_eq "$v: fstab spec:file:type:options (JSON)" "$want" \
        "$(jv "$T/$v.json" 'jl(d["os"]["fstab"], "spec", "file", "type", "options")')"
    fact $v "fstab order: / first" / '(/machine/os/fstab/mount)[1]/@file' 'd["os"]["fstab"][0]["file"]'
    # Storage drivers: the known ones, built in or in modules.dep (libahci, xfs and loop are not known ones).
    if [ $v = linux ]; then want='ahci:no:yes virtio_blk:yes:yes virtio_pci:yes:yes virtio_scsi:no:yes'; else want='ahci:no:yes'; fi
    check_eq "$v: storage drivers name:builtin:file (XML)" "$want" \
        "$(xl "$T/$v.xml" /machine/os/storage-drivers/driver @name @builtin @file)"
    check_eq "$v: storage drivers name:builtin:file (JSON)" "$want" \
        "$(jv "$T/$v.json" 'jl(d["os"]["storage_drivers"], "name", "builtin", "file")')"
    D=/machine/disks/disk P=/machine/disks/disk/table/partition
    fact $v "disk name" $v.img "$D/@name" 'd["disks"][0]["name"]'
    fact $v "table dos, id 0x0badcafe" dos:0x0badcafe "concat($D/table/@type,':',$D/table/@id)" \
        'd["disks"][0]["table"] + ":" + d["disks"][0]["table_id"]'
    fact $v "partition 1: type 0x83, bootable" 1:0x83:yes "concat($P/@number,':',$P/@type,':',$P/@bootable)" \
        '"%s:%s:%s" % tuple(s(d["disks"][0]["partitions"][0][k]) for k in ("number", "type", "bootable"))'
    fact $v "ext4 filesystem type:label:uuid" "ext4:rootfs:$fsuuid" \
        "concat($P/filesystem/@type,':',$P/filesystem/@label,':',$P/filesystem/@uuid)" \
        '":".join(d["disks"][0]["partitions"][0]["filesystem"][k] for k in ("type", "label", "uuid"))'
done

# --- Determinism: the same source gives the same bytes -----------------------
for v in win7 linux; do
    [ -e "$T/$v.img" ] || continue
    "$P2V" inventory --source "$T/$v.img" >"$T/$v.again.xml" 2>/dev/null
    check "$v: a second inventory gives byte-identical XML (stdout = -o)" cmp "$T/$v.xml" "$T/$v.again.xml"
    "$P2V" inventory --json --source "$T/$v.img" >"$T/$v.again.json" 2>/dev/null
    check "$v: a second inventory gives byte-identical JSON" cmp "$T/$v.json" "$T/$v.again.json"
done
check_eq "offline -o files are mode 0600" "600 600" "$(stat -c %a "$T/win7.xml" "$T/linux.json" 2>&1 | paste -sd' ')"

# --- Errors ------------------------------------------------------------------
# refused WHAT CODE PATTERN ARG...: p2v inventory ARG... exits with CODE,
# explains itself on stderr (matching PATTERN) and prints nothing on stdout.
refused() {
    local what=$1 code=$2 pat=$3 rc; shift 3
    "$P2V" inventory "$@" >"$T/err.out" 2>"$T/err.msg"; rc=$?
    check_eq "$what: exit $code" "$code" "$rc"
    if grep -qiE -- "$pat" "$T/err.msg"; then ok "$what: stderr: $(grep -iE -m1 -- "$pat" "$T/err.msg")"
    else bad "$what: stderr does not match /$pat/: $(head -c 300 "$T/err.msg")"; fi
    check_eq "$what: nothing on stdout" "" "$(head -c 300 "$T/err.out")"
}
mkdir -p "$T/dir"
refused "missing source" 1 "no such file" --source "$T/nope.img" -o "$T/nope.xml"
check "missing source: -o FILE is not created" test ! -e "$T/nope.xml"
refused "a directory as the source" 1 "directory" --source "$T/dir"
# GPT with both headers wiped: no table to fall back on (as in it_partitions.sh).
gpt=$T/gpt.img
truncate -s 64M "$gpt"
printf 'label: gpt\nstart=2048, size=20480, type=EBD0A0A2-B9E5-4433-87C0-68B99BC0BD67\n' | sfdisk -q "$gpt"
dd if=/dev/urandom of="$gpt" bs=512 seek=1 count=1 conv=notrunc status=none
dd if=/dev/zero of="$gpt" bs=512 seek=$((64 * 2048 - 1)) count=1 conv=notrunc status=none
src_hash[gpt]=$(hash_of "$gpt")
refused "GPT with both headers damaged" 1 "GPT" --source "$gpt"
# MBR with overlapping partitions (sfdisk refuses to write them).
over=$T/over.img
truncate -s 64M "$over"
python3 - "$over" <<'PY'
import struct, sys
mbr = bytearray(512)
for i, (start, size) in enumerate([(2048, 40960), (30720, 20480)]):
    mbr[446 + 16 * i:462 + 16 * i] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", start, size)
mbr[510:512] = b"\x55\xaa"
open(sys.argv[1], "r+b").write(mbr)
PY
src_hash[over]=$(hash_of "$over")
refused "MBR with overlapping partitions" 1 "overlap" --source "$over"
refused "an unknown option" 2 "unrecognized|unknown|usage" --no-such-option
refused "--source without its argument" 2 "requires an argument|usage" --source
refused "a stray argument" 2 "usage|unexpected|argument" extra-arg

# --- Sources are never written -------------------------------------------------
for k in "${!src_hash[@]}"; do
    check_eq "$k source unchanged" "${src_hash[$k]}" "$(hash_of "$T/$k.img")"
done
finish
