#!/bin/bash
# Builds a disk image that looks like a Windows system disk, for integration
# tests of the registry and file fix-ups:
#   tests/mkwinfixture.sh OUT.img [--win8 | --win10] [--size MiB] [--hiberfil]
#                         [--system HIVE [--logs]] [--arch x86|x86_64]
#                         [--windir NAME]
# MBR (signature 0x1234ABCD), one active NTFS partition (type 7, label WINSYS)
# from 1 MiB to the end, holding SYSTEM and SOFTWARE hives, a PE32+ cmd.exe,
# drivers/atapi.sys, Users/ and hello.txt.  --win8 gives a Server 2019 layout
# (DriverDatabase in SYSTEM), the default a Windows 7 one (CriticalDeviceDatabase).
# Both have one static IPv4 interface (192.168.50.10/24, gateway .1, DNS .2 and
# 8.8.8.8) and one DHCP one under Tcpip\Parameters\Interfaces, and VMware Tools
# (a Windows Installer package), 7-Zip and, under WOW6432Node, Parallels Tools
# (an uninstaller that needs a user) in the Uninstall lists.  --hiberfil adds a hiberfil.sys whose header
# says the system is hibernated.  --system HIVE puts that SYSTEM hive (a real
# one: tests/fixtures/windows/) in place of the built one, and --logs its
# transaction logs HIVE.LOG1 and HIVE.LOG2 beside it as SYSTEM.LOG1 and
# SYSTEM.LOG2; --win10 gives a Windows 10 Pro SOFTWARE hive; --arch x86 a
# 32-bit cmd.exe; --windir WINDOWS spells the Windows directory so (as XP and
# some OEM installs do).
# Needs root (losetup), sfdisk, mkntfs, ntfs-3g, hivexsh and hivexget.
set -euo pipefail

# hivex cannot create a hive from nothing: grow the empty one in the tree
# (tests/fixtures/minimal.hive, the hivex project's images/minimal, LGPL).
SEED=${MKWINFIXTURE_SEED:-$(dirname "$0")/fixtures/minimal.hive}
die() { echo "mkwinfixture: $*" >&2; exit 1; }
usage() { die "usage: $0 OUT.img [--win8 | --win10] [--size MiB] [--hiberfil] [--system HIVE [--logs]] [--arch x86|x86_64] [--windir NAME]"; }

OUT='' WIN8=0 WIN10=0 SIZE=64 HIBER=0 SYSHIVE='' LOGS=0 ARCH=x86_64 WINDIR=Windows
while (($#)); do
    case $1 in
        --win8) WIN8=1 ;;
        --win10) WIN10=1 ;;
        --system) [ -n "${2:-}" ] || usage; SYSHIVE=$2; shift ;;
        --logs) LOGS=1 ;;
        --windir) [[ ${2:-} =~ ^[A-Za-z]+$ ]] || usage; WINDIR=$2; shift ;;
        --arch) case ${2:-} in x86|x86_64) ARCH=$2 ;; *) usage ;; esac; shift ;;
        --hiberfil) HIBER=1 ;;
        --size) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; SIZE=$2; shift ;;
        -*) usage ;;
        *) [ -z "$OUT" ] || usage; OUT=$1 ;;
    esac
    shift
done
[ -n "$OUT" ] || usage
SIZE=$((10#$SIZE))  # "032" is not octal
((SIZE >= 16)) || die "--size must be at least 16 MiB"
for c in sfdisk mkntfs ntfs-3g ntfscat losetup hivexsh hivexget; do command -v "$c" >/dev/null || die "$c not found"; done
[ -r "$SEED" ] || die "seed hive $SEED not readable"

tmp=$(mktemp -d /tmp/mkwinfixture.XXXXXX) mnt='' loop='' partial=0
cleanup() {  # runs on every exit: leave no mount, loop device or half-built image
    set +e
    [ -n "$mnt" ] && mountpoint -q "$mnt" && { umount "$mnt" || umount -l "$mnt"; }
    [ -n "$loop" ] && losetup -d "$loop"
    rm -rf "$tmp"
    ((partial == 0)) || rm -f "$OUT"
}
trap cleanup EXIT

# --- Registry hives -------------------------------------------------------
# key 'A\B\C' [NAME TYPE:VALUE]...: hivexsh commands that create the path
# (hivexsh "add" fails on an existing key, so remember what was made) and set
# the key's values.  "setval" replaces all values of a key: one call per key.
declare -A made
key() {
    local path=$1 p='' c parts; shift
    echo 'cd \'
    IFS='\' read -ra parts <<<"$path"
    for c in "${parts[@]}"; do
        p+="\\$c"
        [ -n "${made[$p]:-}" ] || { echo "add $c"; made[$p]=1; }
        echo "cd $c"
    done
    (($# == 0)) || { echo "setval $(($# / 2))"; printf '%s\n' "$@"; }
}
# multisz S...: a REG_MULTI_SZ (type 7) for setval.  hivexsh has no multi-string
# syntax, so spell out the UTF-16LE bytes: each string NUL-terminated, plus a final NUL.
multisz() {
    local s h='' i x
    for s in "$@" ''; do
        for ((i = 0; i < ${#s}; i++)); do printf -v x '%02x,00,' "'${s:i:1}"; h+=$x; done
        h+='00,00,'
    done
    echo "hex:7:${h%,}"
}
# build HIVE: a writable copy of the seed, grown with the commands on stdin.
build() {
    cp "$SEED" "$1" && chmod u+w "$1"
    { cat; echo commit; } | hivexsh -w "$1" || die "hivexsh failed building $(basename "$1")"
}

cs='ControlSet001' svc='ControlSet001\Services'
made=()
{
    key 'Select' Current dword:1 Default dword:1 LastKnownGood dword:1
    key "$cs\\Control\\ComputerName\\ComputerName" ComputerName string:P2V-TESTHOST
    key "$cs\\Control\\CrashControl" AutoReboot dword:1
    key "$cs\\Control\\Class\\{4d36e967-e325-11ce-bfc1-08002be10318}" \
        LowerFilters "$(multisz partmgr prl_strg)"
    key "$svc\\atapi" Start dword:0 Type dword:1 ErrorControl dword:1 \
        Group 'string:SCSI miniport' ImagePath 'expandstring:System32\drivers\atapi.sys'
    key "$svc\\storahci" Start dword:3 Type dword:1
    key "$svc\\storahci\\StartOverride" 0 dword:3
    key "$svc\\intelide" Start dword:3
    key "$svc\\vmtools" Start dword:2 Type dword:0x10
    key "$svc\\vmci" Start dword:0 Type dword:1
    key "$svc\\vm3dmp" Start dword:3
    key "$svc\\prl_fs" Start dword:1
    tcpip="$svc\\Tcpip\\Parameters\\Interfaces"
    key "$tcpip\\{5A1B2C3D-0000-4000-8000-000000000001}" EnableDHCP dword:0 \
        IPAddress "$(multisz 192.168.50.10)" SubnetMask "$(multisz 255.255.255.0)" \
        DefaultGateway "$(multisz 192.168.50.1)" NameServer 'string:192.168.50.2,8.8.8.8'
    key "$tcpip\\{5A1B2C3D-0000-4000-8000-000000000002}" EnableDHCP dword:1
    if ((WIN8)); then
        for k in DriverInfFiles DeviceIds DriverPackages; do key "DriverDatabase\\$k"; done
    else
        key "$cs\\Control\\CriticalDeviceDatabase"
    fi
} | build "$tmp/SYSTEM"

if ((WIN10)); then
    ver=(ProductName 'string:Windows 10 Pro' CurrentVersion string:6.3
         CurrentBuildNumber string:19044 InstallationType string:Client
         CurrentMajorVersionNumber dword:10 CurrentMinorVersionNumber dword:0)
elif ((WIN8)); then
    ver=(ProductName 'string:Windows Server 2019 Standard' CurrentVersion string:6.3
         CurrentBuildNumber string:17763 InstallationType string:Server
         CurrentMajorVersionNumber dword:10 CurrentMinorVersionNumber dword:0)
else
    ver=(ProductName 'string:Windows 7 Professional' CurrentVersion string:6.1
         CurrentBuildNumber string:7601 InstallationType string:Client)
fi
made=()
{
    key 'Microsoft\Windows NT\CurrentVersion' "${ver[@]}"
    key 'Microsoft\Windows\CurrentVersion' DevicePath 'expandstring:%SystemRoot%\inf'
    key 'Microsoft\Windows\CurrentVersion\Uninstall\{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF}' \
        DisplayName 'string:VMware Tools' Publisher 'string:VMware, Inc.' \
        UninstallString 'string:MsiExec.exe /I{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF}' \
        WindowsInstaller dword:1
    key 'WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\Parallels Tools' \
        DisplayName 'string:Parallels Tools' \
        UninstallString 'string:"C:\Program Files (x86)\Parallels\Parallels Tools\uninst.exe"'
    key 'Microsoft\Windows\CurrentVersion\Uninstall\7-Zip' DisplayName 'string:7-Zip 19.00 (x64)'
} | build "$tmp/SOFTWARE"

# Read a few values back through hivexget (an independent reader) before use.
expect() {  # expect HIVE KEY VALUE EXPECTED
    local got
    got=$(hivexget "$tmp/$1" "$2" "$3" 2>&1) || die "$1 $2 $3: $got"
    [ "$got" = "$4" ] || die "$1 $2 $3: expected '$4', got '$got'"
}
expect SOFTWARE '\Microsoft\Windows NT\CurrentVersion' ProductName "${ver[1]#string:}"
expect SOFTWARE '\Microsoft\Windows\CurrentVersion' DevicePath '%SystemRoot%\inf'
expect SOFTWARE '\Microsoft\Windows\CurrentVersion\Uninstall\7-Zip' DisplayName '7-Zip 19.00 (x64)'
if [ -n "$SYSHIVE" ]; then  # a real hive: taken as it is (it may be dirty)
    [ -r "$SYSHIVE" ] || die "$SYSHIVE not readable"
    cp "$SYSHIVE" "$tmp/SYSTEM"
    if ((LOGS)); then
        cp "$SYSHIVE.LOG1" "$tmp/SYSTEM.LOG1" && cp "$SYSHIVE.LOG2" "$tmp/SYSTEM.LOG2" \
            || die "$SYSHIVE.LOG1 and .LOG2 not readable"
    fi
else
    expect SYSTEM '\Select' Current 1
    expect SYSTEM "\\$cs\\Control\\ComputerName\\ComputerName" ComputerName P2V-TESTHOST
    expect SYSTEM "\\$cs\\Control\\Class\\{4d36e967-e325-11ce-bfc1-08002be10318}" LowerFilters $'partmgr\nprl_strg'
    expect SYSTEM "\\$svc\\atapi" ImagePath 'System32\drivers\atapi.sys'
    expect SYSTEM "\\$svc\\storahci\\StartOverride" 0 3
    expect SYSTEM "\\$svc\\vmtools" Type 16
    expect SYSTEM "\\$svc\\Tcpip\\Parameters\\Interfaces\\{5A1B2C3D-0000-4000-8000-000000000001}" IPAddress 192.168.50.10
    if ((WIN8)); then a=DriverDatabase b="$cs\\Control\\CriticalDeviceDatabase"
    else a="$cs\\Control\\CriticalDeviceDatabase" b=DriverDatabase; fi
    hivexget "$tmp/SYSTEM" "\\$a" >/dev/null 2>&1 || die "SYSTEM lacks \\$a"
    ! hivexget "$tmp/SYSTEM" "\\$b" >/dev/null 2>&1 || die "SYSTEM should not have \\$b"
fi

# --- cmd.exe: 4 KiB of zeros with just enough PE headers to identify its machine
head -c 4096 /dev/zero >"$tmp/cmd.exe"
put() { printf "$2" | dd of="$tmp/cmd.exe" bs=1 seek=$(($1)) conv=notrunc status=none; }
put 0x00 'MZ'
put 0x3c '\x80\x00\x00\x00'                  # e_lfanew = 0x80
if [ "$ARCH" = x86 ]; then
    put 0x80 'PE\x00\x00\x4c\x01'            # signature, COFF Machine = 0x14c (i386)
    put 0x94 '\xe0\x00\x02\x01'              # SizeOfOptionalHeader, EXECUTABLE|32BIT_MACHINE
    put 0x98 '\x0b\x01'                      # optional header magic: PE32
else
    put 0x80 'PE\x00\x00\x64\x86'            # signature, COFF Machine = 0x8664 (AMD64)
    put 0x94 '\xf0\x00\x22\x00'              # SizeOfOptionalHeader, EXECUTABLE|LARGE_ADDRESS_AWARE
    put 0x98 '\x0b\x02'                      # optional header magic: PE32+
fi
put 0xdc '\x03\x00'                          # Subsystem: Windows console

# --- Disk: MBR, then NTFS on a loop device over the partition -------------
partial=1  # from here on, a failure deletes OUT
rm -f "$OUT" && truncate -s "${SIZE}M" "$OUT"
printf 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, type=7, bootable\n' | sfdisk -q "$OUT" || die "sfdisk failed"
sectors=$(sfdisk -d "$OUT" | sed -n 's/.*start= *2048, size= *\([0-9]*\).*/\1/p')
[ -n "$sectors" ] || die "partition not found after sfdisk"
loop=$(losetup -f --show -o $((2048 * 512)) --sizelimit $((sectors * 512)) "$OUT") || die "losetup failed"
# -p/-H/-S fill the boot sector's geometry (a loop device reports none); -T fixes mkntfs's times.
mkntfs -q -F -Q -T -L WINSYS -p 2048 -H 255 -S 63 "$loop" >/dev/null || die "mkntfs failed"

# Populate through ntfs-3g (FUSE): ntfscp can't create directories.  On a block
# device ntfs-3g mounts as fuseblk, whose umount waits until everything is written.
mnt=$tmp/mnt && mkdir "$mnt"
ntfs-3g "$loop" "$mnt" || die "ntfs-3g mount failed"
sys=$mnt/$WINDIR/System32
mkdir -p "$sys/config" "$sys/drivers" "$mnt/Users"
cp "$tmp/SYSTEM" "$tmp/SOFTWARE" "$sys/config/"
((LOGS == 0)) || cp "$tmp/SYSTEM.LOG1" "$tmp/SYSTEM.LOG2" "$sys/config/"
cp "$tmp/cmd.exe" "$sys/cmd.exe"
echo 'fake atapi driver' >"$sys/drivers/atapi.sys"
echo 'hello from the fixture' >"$mnt/hello.txt"
# ntfs-3g's hibernation test reads the first bytes of hiberfil.sys: "hibr" means hibernated.
((HIBER == 0)) || { printf 'hibr'; head -c 8188 /dev/zero; } >"$mnt/hiberfil.sys"
umount "$mnt" || die "umount failed"

# Read the hives back through libntfs-3g, from the unmounted volume.
for h in SYSTEM SOFTWARE; do
    ntfscat "$loop" "/$WINDIR/System32/config/$h" | cmp -s - "$tmp/$h" \
        || die "$h read back from the NTFS volume differs"
done
losetup -d "$loop" && loop=
partial=0
what=$( ((WIN10)) && echo 'Windows 10 (--win10)' || { ((WIN8)) && echo 'Server 2019 (--win8)'; } || echo 'Windows 7')
echo "mkwinfixture: $OUT: ${SIZE} MiB, $what, $ARCH${SYSHIVE:+, SYSTEM from $SYSHIVE}$( ((LOGS)) && echo ' with its logs')" >&2
