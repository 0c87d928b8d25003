# Reads one command's --help text (p2v's layout, tools/commands.h) and
# writes what the man pages and the completion are generated from, one
# record per line, fields separated by tabs:
#   usage  LINE                  a synopsis line, wrapped parts joined
#   opt    NAMES  ARG  TEXT      NAMES "-t,--type"; ARG "" for a flag
# The help text is the one source of every option list.
function flush_opt() {
    if (names != "") printf "opt\t%s\t%s\t%s\n", names, arg, text
    names = ""
}
function flush_usage() {
    if (u != "") printf "usage\t%s\n", u
    u = ""
}
NR == 1 && sub(/^usage: +/, "") { u = $0; in_usage = 1; next }
in_usage && /^ +/ {
    line = $0; sub(/^ +/, "", line)
    if (line ~ /^p2v /) { flush_usage(); u = line } else u = u " " line
    next
}
in_usage { flush_usage(); in_usage = 0 }
/^  (-[A-Za-z0-9], )?--?[A-Za-z0-9]/ || /^      --[a-z]/ {
    flush_opt()
    line = $0; sub(/^ +/, "", line)
    spec = line; text = ""
    if (match(line, /   *[^ ]/)) {
        spec = substr(line, 1, RSTART - 1); text = substr(line, RSTART + RLENGTH - 1)
    }
    n = split(spec, w, " ")
    arg = ""
    for (i = 1; i <= n; i++) {
        if (w[i] ~ /^-/) { sub(/,$/, "", w[i]); names = names (names == "" ? "" : ",") w[i] }
        else arg = arg (arg == "" ? "" : " ") w[i]
    }
    next
}
names != "" && /^            +[^ ]/ { line = $0; sub(/^ +/, "", line); text = text " " line; next }
{ flush_opt() }
END { flush_usage(); flush_opt() }
