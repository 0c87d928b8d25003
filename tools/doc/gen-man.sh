#!/bin/sh
# gen-man.sh P2V PAGE.scd: prints PAGE.scd (docs/man/) with its generated
# parts filled in from the binary's own help, for scdoc:
#   @SYNOPSIS@  the usage lines of 'p2v CMD --help' (CMD from the page's
#               name, p2v-CMD.1.scd)
#   @OPTIONS@   every option of 'p2v CMD --help' with its description
#   @COMMANDS@  the command list of 'p2v help' (p2v.1.scd)
# So the option lists have one source, the help text in tools/.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 P2V PAGE.scd" >&2; exit 2; }
bin=$1 page=$2
dir=$(dirname "$0")
name=$(basename "$page" .1.scd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case $name in
    p2v-*) "$bin" "${name#p2v-}" --help >"$tmp/help" ;;
    *) "$bin" help >"$tmp/help" ;;
esac
awk -f "$dir/help-parse.awk" "$tmp/help" >"$tmp/parsed"
# scdoc markup in generated text: backslash, * and _ are literal.
esc='s/\\/\\\\/g; s/\*/\\*/g; s/_/\\_/g'
awk -F '\t' '$1 == "usage" { print $2 }' "$tmp/parsed" | sed "$esc" |
    sed 's/^\(p2v\( [a-z][a-z-]*\)*\)/*\1*/; $!s/$/\n/' >"$tmp/synopsis"
awk -F '\t' '
    function esc(s) { gsub(/\\/, "\\\\", s); gsub(/\*/, "\\*", s); gsub(/_/, "\\_", s); return s }
    $1 == "opt" {
        n = split($2, names, ","); term = ""
        for (i = 1; i <= n; i++) term = term (i > 1 ? ", " : "") "*" names[i] "*"
        if ($3 != "") term = term " _" esc($3) "_"
        print term; print "\t" esc($4); print ""
    }' "$tmp/parsed" >"$tmp/options"
# A command with a page of its own points to it.
sed -n 's/^  \([a-z][a-z-]*\)  *\(.*\)/\1\t\2/p' "$tmp/help" | while IFS="$(printf '\t')" read -r cmd text; do
    printf '*%s*\n\t%s' "$cmd" "$(printf '%s' "$text" | sed 's/\\/\\\\/g; s/\*/\\*/g; s/_/\\_/g')"
    [ -f "$(dirname "$page")/p2v-$cmd.1.scd" ] && printf '; see *p2v-%s*(1)' "$cmd"
    printf '\n\n'
done >"$tmp/commands"
awk -v syn="$tmp/synopsis" -v opts="$tmp/options" -v cmds="$tmp/commands" '
    function cat(f,   l) { while ((getline l < f) > 0) print l; close(f) }
    $0 == "@SYNOPSIS@" { cat(syn); next }
    $0 == "@OPTIONS@" { cat(opts); next }
    $0 == "@COMMANDS@" { cat(cmds); next }
    { print }' "$page"
