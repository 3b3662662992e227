#!/bin/sh
# check-layering.sh - the layering rule (HACKING.md): a tool's directory
# compiles only its own sources and libraries (common/, libtcpmon.a; the
# formatting cores in fmt/, libtcpmon-fmt.a, and the selectors in tap/,
# libtcpmon-select.a, for a tool that links them), and
# includes only its own headers and those libraries'.  Reads lines of
# `make -s layering-list`: "PROG ARCHIVES... : SRCS...".
# Exit 0 when the rule holds, 1 naming each place it does not.
fail=0
say() {
	echo "check-layering: $*" >&2
	fail=1
}
while read -r prog rest; do
	archives=${rest%%:*}
	srcs=${rest#*:}
	set -- $srcs
	dir=${1%%/*}
	for s in "$@"; do
		case $s in
		"$dir"/*) ;;
		*) say "$prog ($dir/) compiles $s, another directory's source" ;;
		esac
	done
	libdirs=common
	case " $archives " in
	*" libtcpmon-fmt.a "*) libdirs="$libdirs fmt" ;;
	esac
	case " $archives " in
	*" libtcpmon-select.a "*) libdirs="$libdirs tap" ;;
	esac
	# What the tool's sources include, and what the headers of its own
	# directory that they include include in turn.
	files=$*
	i=0
	while [ "$i" -lt 20 ]; do
		more=$(for f in $files; do
			sed -n 's/^#[ \t]*include[ \t]*"\([^"/]*\)".*/\1/p' "$f" 2>/dev/null
		done | sort -u | while read -r h; do
			[ -f "$dir/$h" ] && echo "$dir/$h"
		done)
		new=$(printf '%s\n' $files $more | sort -u)
		[ "$new" = "$(printf '%s\n' $files | sort -u)" ] && break
		files=$new
		i=$((i + 1))
	done
	for f in $files; do
		[ -f "$f" ] || continue
		sed -n 's/^#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$f" |
		while read -r h; do
			case $h in
			*/*) echo "$f includes \"$h\", a path: name the header" ;;
			*)
				[ -f "$dir/$h" ] && continue
				ok=
				for l in $libdirs; do
					[ -f "$l/$h" ] && ok=1
				done
				[ -n "$ok" ] && continue
				for d in */; do
					[ -f "$d$h" ] && echo "$f includes $d$h, another tool's header (the tool links: $libdirs)" && continue 2
				done
				echo "$f includes \"$h\", found nowhere"
				;;
			esac
		done
	done > "${TMPDIR:-/tmp}/layering.$$"
	if [ -s "${TMPDIR:-/tmp}/layering.$$" ]; then
		while read -r line; do say "$prog: $line"; done < "${TMPDIR:-/tmp}/layering.$$"
	fi
	rm -f "${TMPDIR:-/tmp}/layering.$$"
done
[ "$fail" -eq 0 ] && echo "check-layering: every tool compiles its own directory and its libraries only"
exit "$fail"
