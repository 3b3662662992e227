#!/bin/sh
# gen.sh TOOL BASHFILE ZSHFILE - the bash and zsh completions of one tcpmon
# tool, made at build time from the tool itself: its long options from its
# getopt table (TOOL --list-options, see common/util.h), so that they never
# drift from what it takes, and the words shown with them from its --help.
set -eu
tool=$1 bashf=$2 zshf=$3
name=$(basename "$tool")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$tool" --list-options > "$tmp/opts"
"$tool" --help > "$tmp/help"
[ -s "$tmp/opts" ] || { echo "gen.sh: $tool listed no options" >&2; exit 1; }

# One line per option, tab-separated: NAME SHORT ARG KIND METAVAR DESCRIPTION.
# KIND says what its argument is: file, cmd, words (a|b|c in the help),
# or text (anything else: a port, a number, a duration).
awk '
NR == FNR { name[++n] = $1; short[n] = $2; arg[n] = $3; next }
/^  (-[A-Za-z0-9], |    )(--[a-z0-9-]+, )?--[a-z0-9-]+/ {
	line = $0
	sub(/^  (-[A-Za-z0-9], |    )(--[a-z0-9-]+, )?--/, "", line)
	o = line; sub(/[ ,].*/, "", o)
	rest = substr(line, length(o) + 1)
	sub(/^ +/, "", rest)
	help[o] = rest
}
function kind(m) {
	if (m ~ /^(FILE|CAPTURE|PATH|DIR)$/) return "file"
	if (m ~ /^CMD$/) return "cmd"
	if (m ~ /^[a-z-]+(\|[a-z-]+)+$/) return "words"
	return "text"
}
END {
	for (i = 1; i <= n; i++) {
		h = help[name[i]]; m = ""
		if (arg[i] != 0 && h != "") {
			if (substr(h, 1, 1) == "\047") {
				m = substr(h, 1, index(substr(h, 2), "\047") + 1)
			} else {
				m = h; sub(/ .*/, "", m)
			}
			h = substr(h, length(m) + 1)
		}
		sub(/^ +/, "", h)
		gsub(/\t/, " ", h)
		printf "%s\t%s\t%s\t%s\t%s\t%s\n", name[i], short[i], arg[i],
		    arg[i] == 0 ? "none" : kind(m), m, h
	}
}' "$tmp/opts" "$tmp/help" > "$tmp/table"

# Positional arguments are files when the usage (the lines before the
# first empty one) names FILE outside an option: "[FILE ...]", "| FILE".
files=0
sed '/^$/q' "$tmp/help" | grep -Eq '(\[|\| )FILE|[A-Z] FILE \|' && files=1

fn=_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)
awk -v name="$name" -v fn="$fn" -v files="$files" '
{
	split($0, f, "\t"); p[1] = f[4]; p[2] = f[5]; p[3] = f[6]
	o = "--" f[1]; s = f[2] == "-" ? "" : "-" f[2]
	all = all " " o (s != "" ? " " s : "")
	pat = o (s != "" ? "|" s : "")
	if (p[1] == "file") fl = fl (fl ? "|" : "") pat
	else if (p[1] == "cmd") cm = cm (cm ? "|" : "") pat
	else if (p[1] == "words") {
		w = p[2]; gsub(/\|/, " ", w)
		wd = wd "\t" pat ")\n\t\tCOMPREPLY=($(compgen -W \"" w "\" -- \"$cur\"))\n\t\treturn ;;\n"
	} else if (p[1] == "text") tx = tx (tx ? "|" : "") pat
}
END {
	print "# bash completion for " name ": made by dist/completion/gen.sh from"
	print "# its own option table (" name " --list-options)."
	print fn "() {"
	print "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}"
	print "\tCOMPREPLY=()"
	print "\tcase $prev in"
	if (fl) print "\t" fl ")\n\t\tcompopt -o filenames 2>/dev/null\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\treturn ;;"
	if (cm) print "\t" cm ")\n\t\tCOMPREPLY=($(compgen -c -- \"$cur\"))\n\t\treturn ;;"
	printf "%s", wd
	if (tx) print "\t" tx ")\n\t\treturn ;;\t# a value of its own: nothing to offer"
	print "\tesac"
	print "\tcase $cur in"
	print "\t-*)"
	print "\t\tCOMPREPLY=($(compgen -W \"" substr(all, 2) "\" -- \"$cur\"))"
	print "\t\treturn ;;"
	print "\tesac"
	if (files) print "\tcompopt -o filenames 2>/dev/null\n\tCOMPREPLY=($(compgen -f -- \"$cur\"))"
	print "}"
	print "complete -F " fn " " name
}' "$tmp/table" > "$bashf"

# zsh: _arguments specs, each with its words from --help.
awk -v name="$name" -v files="$files" '
function q(x) { gsub(/\047/, "\047\\\047\047", x); return x }
function desc(x) { gsub(/[][]/, "\\\\&", x); gsub(/:/, "\\:", x); return q(x) }
{
	split($0, f, "\t"); p[1] = f[4]; p[2] = f[5]; p[3] = f[6]
	d = desc(p[3]); m = p[2]; gsub(/:/, "\\:", m); m = q(m)
	act = ""
	if (p[1] == "file") act = ":" m ":_files"
	else if (p[1] == "cmd") act = ":" m ":_command_names -e"
	else if (p[1] == "words") { w = p[2]; gsub(/\|/, " ", w); act = ":" m ":(" w ")" }
	else if (p[1] == "text") act = ":" m ": "
	rep = f[3] != 0 ? "*" : ""
	line = line " \\\n\t\047" rep "--" f[1] (f[3] == 1 ? "=" : "") "[" d "]" act "\047"
	if (f[2] != "-")
		line = line " \\\n\t\047" rep "-" f[2] (f[3] == 1 ? "+" : "") "[" d "]" act "\047"
}
END {
	print "#compdef " name
	print "# zsh completion for " name ": made by dist/completion/gen.sh from"
	print "# its own option table (" name " --list-options)."
	printf "_arguments -s -S%s", line
	if (files) printf " \\\n\t\047*:file:_files\047"
	print ""
}' "$tmp/table" > "$zshf"
