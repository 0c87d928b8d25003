#!/bin/bash
# make install into a DESTDIR and make uninstall; the installed man pages
# render without warnings and agree with the help text; the installed bash
# completion completes commands, subcommands, options, their values, files
# and mounted views; p2v version names the libraries.
. "$(dirname "$0")/lib.sh"

B=$(dirname "$P2V")
root=$T/root
cmds=$("$P2V" help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | grep -vx help)
check "the command list is there" test -n "$cmds"

# Nothing may land outside DESTDIR: no file named p2v* newer than this
# marker in the system's install locations.
# make install must not rebuild a binary the other scripts are running.
check "the build is up to date (make install only copies)" make -q B="$B" all
touch "$T/marker"
check "make install DESTDIR PREFIX=/usr" make -s --no-print-directory B="$B" install DESTDIR="$root" PREFIX=/usr
check "make install again (over the first)" make -s --no-print-directory B="$B" install DESTDIR="$root" PREFIX=/usr
outside=$(find /usr /opt /etc -xdev -newer "$T/marker" -name '*p2v*' 2>/dev/null | head -3)
check_eq "nothing written outside DESTDIR" "" "$outside"
check "bin/p2v is installed, mode 0755" test "$(stat -c %a "$root/usr/bin/p2v")" = 755
check "the installed p2v runs" "$root/usr/bin/p2v" help mount
comp=$root/usr/share/bash-completion/completions/p2v
check "bash completion is installed" test -s "$comp"
check "p2v.1 is installed" test -s "$root/usr/share/man/man1/p2v.1"
for c in $cmds; do
    check "p2v-$c.1 is installed" test -s "$root/usr/share/man/man1/p2v-$c.1"
done
n=$(find "$root" -type f | wc -l)
check_eq "only the binary, the completion and the pages" "$((3 + $(echo "$cmds" | wc -l)))" "$n"

# The default PREFIX is /usr/local; bindir and mandir can be set alone.
make -s --no-print-directory B="$B" install DESTDIR="$T/def" >/dev/null
for f in bin/p2v share/man/man1/p2v-mount.1 share/bash-completion/completions/p2v; do
    check "default PREFIX: /usr/local/$f" test -f "$T/def/usr/local/$f"
done
make -s --no-print-directory B="$B" install DESTDIR="$T/dirs" bindir=/opt/p2v/sbin mandir=/opt/p2v/man >/dev/null
check "bindir=/opt/p2v/sbin" test -x "$T/dirs/opt/p2v/sbin/p2v"
check "mandir=/opt/p2v/man" test -f "$T/dirs/opt/p2v/man/man1/p2v.1"
make -s --no-print-directory B="$B" uninstall DESTDIR="$T/dirs" bindir=/opt/p2v/sbin mandir=/opt/p2v/man
check_eq "uninstall with the same bindir and mandir removes every file" "" "$(find "$T/dirs" -type f)"

# --- man pages --------------------------------------------------------
export MANWIDTH=80 LC_ALL=C.UTF-8
all_opts=$(for c in $cmds; do "$P2V" "$c" --help | awk -f tools/doc/help-parse.awk; done |
    awk -F '\t' '$1 == "opt" { n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] ~ /^--/) print o[i] }' |
    cat - <(printf -- '--help\n--version\n') | sort -u)
for page in "$root"/usr/share/man/man1/*.1; do
    name=$(basename "$page" .1)
    if man --warnings -E UTF-8 -l "$page" >"$T/$name.txt" 2>"$T/$name.err" && [ ! -s "$T/$name.err" ]; then
        ok "$name: man --warnings renders it without a warning"
    else
        bad "$name: man --warnings:"; sed 's/^/       | /' "$T/$name.err" | head
    fi
    for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
        grep -q "^$s" "$T/$name.txt" || bad "$name: no $s section"
    done
    # Every p2v option the page names (in bold: *--state*, other programs'
    # options are not) exists in some command's help.
    unknown=$(grep -oE -- '\*--[a-z][a-z0-9-]*[a-z0-9]\*' "docs/man/$name.1.scd" | tr -d '*' |
        sort -u | comm -23 - <(echo "$all_opts") | tr '\n' ' ')
    check_eq "$name: every option it names exists" "" "$unknown"
done
check "man finds a page by name in the installed tree" \
    bash -c "man -M '$root/usr/share/man' p2v-mount | grep -q 'p2v mount'"
for c in $cmds; do
    # The help and the page list the same options: each of the help's is on
    # the page; help CMD and CMD --help are one text.
    opts=$("$P2V" "$c" --help | awk -f tools/doc/help-parse.awk |
        awk -F '\t' '$1 == "opt" { n = split($2, o, ","); for (i = 1; i <= n; i++) print o[i] }')
    missing=$(for o in $opts; do grep -qe "^ *$o\b\|, $o\b" "$T/p2v-$c.txt" || echo "$o"; done | tr '\n' ' ')
    check_eq "p2v-$c(1) describes every option of p2v $c --help" "" "$missing"
    check "p2v help $c is p2v $c --help" cmp <("$P2V" help "$c") <("$P2V" "$c" --help)
    # Every option in the usage lines is described in the option list.
    undescribed=$("$P2V" "$c" --help | awk -f tools/doc/help-parse.awk | awk -F '\t' '
        $1 == "opt" { n = split($2, o, ","); for (i = 1; i <= n; i++) d[o[i]] = 1 }
        $1 == "usage" { u = u " " $2 }
        END { while (match(u, /--?[a-z][a-z-]*/)) { w = substr(u, RSTART, RLENGTH); u = substr(u, RSTART + RLENGTH)
              if (!(w in d) && w != "--") print w } }' | sort -u | tr '\n' ' ')
    check_eq "p2v $c --help describes each option of its usage" "" "$undescribed"
done

# The help lists exactly the long options the command's getopt tables
# accept (tools/cmd_CMD.c and the P2V_*_LONGOPTS macros it uses), so the
# pages and the completion made from it miss none and invent none.
macro_names() {
    awk -v m="#define $1" 'index($0, m) == 1 { f = 1; next } f { print; if ($0 !~ /\\$/) exit }' tools/commands.h |
        grep -oE '\{ "[a-z][a-z0-9-]*", (no|required|optional)_argument' | cut -d'"' -f2
}
for c in $cmds; do
    f=tools/cmd_$c.c
    [ "$c" = version ] && f=tools/version.c
    accepted=$( { grep -oE '\{ "[a-z][a-z0-9-]*", (no|required|optional)_argument' "$f" | cut -d'"' -f2
        for m in P2V_STACK_LONGOPTS P2V_SNAPSHOT_LONGOPTS; do grep -q "$m" "$f" && macro_names "$m"; done
        [ "$c" = snapshot ] && echo stale    # snapshot delete's --stale is an argument
    } | grep -vx help | sort -u)
    helped=$("$P2V" "$c" --help | awk -f tools/doc/help-parse.awk | awk -F '\t' '
        $1 == "opt" { n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] ~ /^--/) print substr(o[i], 3) }' | sort -u)
    [ -z "$helped" ] || check "the options of p2v $c are found in its source" test -n "$accepted"
    check_eq "p2v $c --help lists every option its source accepts, and no other" \
        "" "$(diff <(echo "$accepted") <(echo "$helped") | grep '^[<>]' | tr '\n' ' ')"
done

# --- version ------------------------------------------------------------
v=$("$root/usr/bin/p2v" --version)
check_eq "-V is --version" "$v" "$("$root/usr/bin/p2v" -V)"
check_eq "version is --version" "$v" "$("$root/usr/bin/p2v" version)"
check_eq "the version is the Makefile's" "p2v $(sed -n 's/^VERSION *:= *//p' Makefile)" "$(echo "$v" | head -1)"
check_eq "debian/changelog has the same version" "$(sed -n 's/^VERSION *:= *//p' Makefile)" \
    "$(sed -n '1s/^p2v (\([^)]*\)).*/\1/p' debian/changelog)"
check_eq "libfuse3's version is the one installed" "$(pkg-config --modversion fuse3)" \
    "$(echo "$v" | awk '$1 == "libfuse3" { print $2 }')"
check_eq "libext2fs's version is the one installed" "$(pkg-config --modversion ext2fs)" \
    "$(echo "$v" | awk '$1 == "libext2fs" { print $2 }')"
check "version --json: every library has a version" python3 -c '
import json, sys
d = json.load(sys.stdin)
libs = {l["name"]: l["version"] for l in d["libraries"]}
assert {"libfuse3", "libntfs-3g", "hivex", "libvhdi", "libblkid", "libext2fs", "libguestfs"} <= set(libs), libs
assert all(v and v != "unknown" for v in libs.values()), libs
' < <("$root/usr/bin/p2v" version --json)

# --- bash completion ----------------------------------------------------
# complete WORDS...: what completing the last word offers, one per line.
complete_words() {
    PATH=$root/usr/bin:$PATH bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _p2v; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$comp" "$@" 2>&1
}
offers() {  # offers "what" "expected words" WORDS...
    local what=$1 want=$2; shift 2
    check_eq "completion: $what" "$want" "$(complete_words "$@" | sort | tr '\n' ' ' | sed 's/ $//')"
}
offers "p2v mo offers mount" "mount" p2v mo
offers "p2v i offers info, inspect, inventory" "info inspect inventory" p2v i
offers "p2v help fi offers fixup" "fixup" p2v help fi
offers "p2v fixup offers its subcommands" "apply discard plan" p2v fixup ''
offers "p2v snapshot offers its subcommands" "create delete list" p2v snapshot ''
offers "p2v mount --ty offers --type" "--type" p2v mount --ty
offers "p2v fixup discard offers its one option" "--help --state" p2v fixup discard --
offers "p2v snapshot list offers its one option" "--help --json" p2v snapshot list --
offers "p2v fixup apply offers apply's options" "--pad --plan" p2v fixup apply --p
offers "p2v snapshot delete without snapshots offers no ID" "" p2v snapshot delete ''
offers "p2v mount --type offers the image types" "dynamic fixed" p2v mount --type ''
# --opt=value: bash splits it at = (COMP_WORDBREAKS), or, without = there,
# keeps one word, which the reply must then repeat whole.
offers "p2v mount --type=f (split at =) offers fixed" "fixed" p2v mount --type = f
offers "p2v mount --type= (split at =) offers both types" "dynamic fixed" p2v mount --type =
offers "p2v mount --type=f (one word) offers --type=fixed" "--type=fixed" p2v mount --type=f
offers "p2v mount --format offers the formats" "auto vhd vhdx" p2v mount --format ''
offers "p2v mount --snapshot offers the providers" "auto lvm none reflink" p2v mount --snapshot ''
offers "p2v check --target q offers the QEMU targets" "qemu-ide qemu-sata" p2v check --target q
offers "p2v vm create --format offers the definitions" "hyperv libvirt qemu" p2v vm create --format ''
offers "p2v commit --target offers commit's targets" "qemu-ide qemu-sata virtio" p2v commit --target ''
mkdir -p "$T/files/somedir" && touch "$T/files/some.img"
offers "p2v info completes a file" "$T/files/some.img $T/files/somedir" p2v info "$T/files/so"
offers "p2v mount --state completes directories only" "$T/files/somedir" p2v mount --state "$T/files/so"
offers "p2v mount --log=FILE (one word) completes the file after --log=" "--log=$T/files/some.img" \
    p2v mount --log="$T/files/some.i"
mkdir "$T/files/dir with blanks"
complete_words p2v info "$T/files/dir" >"$T/reply"
check_eq "completion: a name with blanks is one reply" "1 $T/files/dir with blanks" \
    "$(wc -l <"$T/reply") $(cat "$T/reply")"
offers "p2v mount --block-size completes nothing" "" p2v mount --block-size ''
truncate -s 8M "$T/small.img"
before=$(hash_of "$T/small.img")
mnt="$T/a view"
if p2v_mount "$T/small.img" "$mnt"; then
    offers "p2v umount offers the mounted view" "$mnt" p2v umount "$T/a"
    p2v_umount "$mnt"
else
    bad "mounting a view for the umount completion failed"
fi
offers "p2v umount offers no unmounted view" "" p2v umount "$T/a"
check_eq "the source is unchanged" "$before" "$(hash_of "$T/small.img")"

# --- uninstall ----------------------------------------------------------
check "make uninstall" make -s --no-print-directory B="$B" uninstall DESTDIR="$root" PREFIX=/usr
check_eq "make uninstall leaves no file" "" "$(find "$root" -type f | head -3)"
finish
