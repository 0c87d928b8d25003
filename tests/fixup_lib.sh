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

# dracut_system: the dracut variant of tests/mkdebian.sh, which the
# libguestfs disks hold: sets DTAR, tree (its /boot and os-release), K (the
# newest kernel) and os-release's variables; the appliance boots the tree's
# kernel where the machine has none.  1 (and a failed check) if not built.
dracut_system() {
    if ! DTAR=$(bash tests/mkdebian.sh --variant dracut 2>"$T/mkdebian.log"); then
        bad "building the Debian 12 system (dracut): $(tail -3 "$T/mkdebian.log")"
        return 1
    fi
    use_guest_kernel "$DTAR"
    tree=$T/tree
    mkdir "$tree"
    tar -xf "$DTAR" -C "$tree" ./boot ./usr/lib/os-release 2>/dev/null
    . "$tree/usr/lib/os-release"
    K=$(cd "$tree/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -1)
}

# guestfs_disk NAME OUT: OUT becomes a copy of tests/mkguestfsdisk.sh's
# cached disk NAME (the cache is never a test's source).  1 if not built.
guestfs_disk() {
    local disk
    if disk=$(bash tests/mkguestfsdisk.sh "$DTAR" "$1" 2>"$T/mkdisk.log"); then
        cp --sparse=always "$disk" "$2"
    fi
    check "the $1 disk is built (guestfish, the guest's grub-install)" test -s "$2"
    [ -s "$2" ] || { tail -5 "$T/mkdisk.log"; return 1; }
}

# storage_drivers INITRAMFS: the storage drivers lsinitramfs (not p2v)
# lists in it, comma-separated, in inventory's order; its listing is left
# in $T/ls.txt.
storage_drivers() {
    local d want=''
    lsinitramfs "$1" >"$T/ls.txt" 2>/dev/null
    for d in virtio_blk virtio_scsi virtio_pci ahci ata_piix hv_storvsc hv_vmbus; do
        grep -qE "/$d\.ko(\.[a-z]+)?$" "$T/ls.txt" && want+="${want:+,}$d"
    done
    echo "$want"
}

# rule CONFIG ID [TARGET]: "status message" of one check rule.
rule() {
    "$P2V" check --config "$1" --target "${3:-virtio}" --json 2>/dev/null |
        python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["results"] if x["id"]==sys.argv[1]]; print(r[0]["status"], r[0]["message"][:300] if r else "missing")' "$2"
}

# What tests/linux-boot-check.py found ($T/boot.facts): fact KEY, the
# filesystem mounted at PATH (mnt_fs PATH), a package's state (pkg_state).
fact() { awk -v k="$1" '$1 == k {print $2}' "$T/boot.facts"; }
mnt_fs() { awk -v p="$1" '$1 == "mnt" && $2 == p {print $3}' "$T/boot.facts"; }
pkg_state() { awk -v n="$1" '$1 == "pkg" && $2 == n {print $3}' "$T/boot.facts"; }

# boot_common: what every booted test system must show after the default
# plan: multi-user, the static address on the VM's NIC under its old name,
# QEMU's gateway answering, open-vm-tools gone (the console's end if it
# did not boot).
boot_common() {
    check_eq "multi-user.target is active" active "$(fact target)"
    check_eq "the static address is up on enp3s0 (the VM's NIC)" 10.0.2.15/24 "$(fact addr)"
    check_eq "it answers QEMU's gateway 10.0.2.2" ok "$(fact ping)"
    check_eq "open-vm-tools is gone" absent "$(pkg_state open-vm-tools)"
    [ "$(fact booted)" = yes ] || tail -30 "$T/boot.log" | sed 's/^/       | /'
}
