#!/bin/bash
# The Debian package: dpkg-buildpackage -us -uc -b builds p2v_VERSION_amd64.deb
# from a copy of the tree (make check is left out with nocheck: this is
# make check), lintian finds no error in it, and it holds the binary, a man
# page per command and the completion, and depends on libfuse3 and fuse3.
# make check compiles with the package's flags (dpkg-buildflags), so the
# copy takes that build along and the package build (-nc: no clean first)
# finds it up to date instead of compiling everything again; by hand,
# dpkg-buildpackage in a clean tree compiles it all.
. "$(dirname "$0")/lib.sh"

version=$(sed -n 's/^VERSION *:= *//p' Makefile)
arch=$(dpkg --print-architecture)
src=$T/src/p2v-$version
mkdir -p "$src"
# The tree as git has it (with files not yet committed), else as it is,
# without build products.
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
        tar --null -T - -cf - | tar -C "$src" -xf -
else
    tar --exclude=./build -cf - . | tar -C "$src" -xf -
fi
check "the tree is copied" test -f "$src/debian/rules"
B=$(dirname "$P2V")
if readelf -d "$P2V" | grep -q BIND_NOW; then
    tar -C "$B" -cf - obj gen libp2v.a p2v badfuse man p2v.bash | (mkdir -p "$src/build" && tar -C "$src/build" -xf -)
    check "the build (made with the package's flags) is copied" test -x "$src/build/p2v"
else
    echo "  ..   $P2V was not built with the package's flags (make check does that): the package build compiles it all"
fi
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b -nc) \
        >"$T/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b"
else
    bad "dpkg-buildpackage -us -uc -b failed:"; tail -n 30 "$T/build.log" | sed 's/^/       | /'
fi
deb=$T/src/p2v_${version}_$arch.deb
check "it made p2v_${version}_$arch.deb" test -s "$deb"

lintian --fail-on error "$deb" >"$T/lintian.log" 2>&1
rc=$?
check_eq "lintian: no error (exit status)" 0 "$rc"
check_eq "lintian: no E: line" "" "$(grep '^E:' "$T/lintian.log" | head -5)"
grep '^[WI]:' "$T/lintian.log" | sed 's/^/  ..   lintian /'

dpkg-deb -c "$deb" | awk '{ print $6 }' >"$T/contents"
check "the package holds /usr/bin/p2v" grep -qx './usr/bin/p2v' "$T/contents"
check "the package holds the bash completion" \
    grep -qx './usr/share/bash-completion/completions/p2v' "$T/contents"
check "the package holds p2v(1)" grep -qx './usr/share/man/man1/p2v.1.gz' "$T/contents"
for c in $("$P2V" help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | grep -vx help); do
    grep -qx "./usr/share/man/man1/p2v-$c.1.gz" "$T/contents" || bad "no p2v-$c(1) in the package"
done
depends=$(dpkg-deb -f "$deb" Depends)
check "it depends on libfuse3 (from shlibs)" grep -q 'libfuse3-3' <<<"$depends"
check "it depends on fuse3 (fusermount3)" grep -qE '(^|, )fuse3(,|$| )' <<<"$depends"
check "its version is the Makefile's" test "$(dpkg-deb -f "$deb" Version)" = "$version"

dpkg-deb -x "$deb" "$T/x"
# debian/rules asks for hardening=+all: immediate binding, fortified calls.
check "the packaged binary binds immediately (-z now)" bash -c "readelf -d '$T/x/usr/bin/p2v' | grep -q BIND_NOW"
check "the packaged binary has fortified calls (_FORTIFY_SOURCE)" \
    bash -c "readelf --dyn-syms -W '$T/x/usr/bin/p2v' | grep -q '__[a-z]*_chk'"
check_eq "the packaged p2v runs and says its version" "p2v $version" "$("$T/x/usr/bin/p2v" --version | head -1)"
check "its man page renders" bash -c "MANWIDTH=80 man --warnings -l '$T/x/usr/share/man/man1/p2v-mount.1.gz' 2>&1 >/dev/null | (! grep .)"
finish
