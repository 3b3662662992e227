#!/usr/bin/env bats
# make install and make uninstall: every tool, manual page, completion and
# systemd unit goes in, and all of it, and nothing else, comes out again.

load helpers

TOOLS="tcpmon-relay tcpmon-tap tcpmon-grep tcpmon-send tcpmon-throttle
    tcpmon-fmt-xml tcpmon-fmt-json tcpmon-demo-soapd tcpmon-rewrite tcpmon-pcap
    tcpmon-view tcpmon-diff tcpmon-mock"

# The build under test: a SAN build installs from build/san/bin.
top_and_san() {
	top=$(cd "$TESTS_DIR/.." && pwd)
	san=
	[[ $TCPMON_BIN == */san/* ]] && san=SAN=1
	return 0
}

@test "install: every tool, manual page, completion and unit under DESTDIR/PREFIX; uninstall removes them all" {
	local top san t
	top_and_san
	run -0 make -s -C "$top" $san install DESTDIR="$T/root" PREFIX=/usr
	for t in $TOOLS; do
		[ -x "$T/root/usr/bin/$t" ]
		[ -f "$T/root/usr/share/man/man1/$t.1" ]
		[ -f "$T/root/usr/share/bash-completion/completions/$t" ]
		[ -f "$T/root/usr/share/zsh/vendor-completions/_$t" ]
	done
	[ -f "$T/root/usr/share/man/man5/tcpmon-record.5" ]
	[ -f "$T/root/usr/lib/systemd/system/tcpmon-relay@.service" ]
	[ -f "$T/root/usr/lib/systemd/system/tcpmon-relay@.socket" ]
	# The unit runs the relay where PREFIX put it, not where it was staged.
	grep -q 'exec /usr/bin/tcpmon-relay ' "$T/root/usr/lib/systemd/system/tcpmon-relay@.service"
	run -0 find "$T/root" ! -type d
	# Per tool its program, page and two completions; the format's page;
	# two units.
	[ "${#lines[@]}" -eq $(($(wc -w <<< "$TOOLS") * 4 + 1 + 2)) ]
	touch "$T/root/usr/bin/someone-elses" \
	    "$T/root/usr/share/bash-completion/completions/someone-elses"
	run -0 make -s -C "$top" $san uninstall DESTDIR="$T/root" PREFIX=/usr
	run -0 find "$T/root" ! -type d
	assert_line "$T/root/usr/bin/someone-elses"
	assert_line "$T/root/usr/share/bash-completion/completions/someone-elses"
	[ "${#lines[@]}" -eq 2 ]
}

@test "install: BINDIR and the completion and unit directories can be set one by one" {
	local top san
	top_and_san
	run -0 make -s -C "$top" $san install DESTDIR="$T/root" PREFIX=/opt/tm \
	    BINDIR=/opt/tm/sbin BASHCOMPDIR=/etc/bash_completion.d \
	    SYSTEMDUNITDIR=/etc/systemd/system
	[ -x "$T/root/opt/tm/sbin/tcpmon-relay" ]
	[ -f "$T/root/etc/bash_completion.d/tcpmon-relay" ]
	[ -f "$T/root/opt/tm/share/zsh/vendor-completions/_tcpmon-relay" ]
	grep -q 'exec /opt/tm/sbin/tcpmon-relay ' "$T/root/etc/systemd/system/tcpmon-relay@.service"
	run -0 make -s -C "$top" $san uninstall DESTDIR="$T/root" PREFIX=/opt/tm \
	    BINDIR=/opt/tm/sbin BASHCOMPDIR=/etc/bash_completion.d \
	    SYSTEMDUNITDIR=/etc/systemd/system
	run -0 find "$T/root" ! -type d
	assert_output ""
}

# complete_words FILE TOOL WORDS...: what bash's completion from FILE offers
# for the last of WORDS, one per line.
complete_words() {
	local file=$1
	shift
	bash -c '
		source "$1"; shift
		f=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		[ -n "$f" ] || exit 1
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$f" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$file" "$@"
}

@test "completions: bash offers each tool's long options from its getopt table, and their values" {
	local top san t c name
	top_and_san
	make -s -C "$top" $san completions
	local dir=$top/build/rel/completion
	[[ $san ]] && dir=$top/build/san/completion
	for t in $TOOLS; do
		c=$dir/bash/$t
		run -0 bash -c 'source "$1"; complete -p "$2"' _ "$c" "$t"
		assert_output --regexp "^complete -F _[a-z_]+ $t\$"
		# Every long option of the table, as --help also lists them.
		run -0 complete_words "$c" "$t" --
		for name in $("$(bin "$t")" --list-options | cut -d' ' -f1); do
			assert_line -- "--$name"
		done
		refute_line -- "--list-options"
		# zsh: one spec per long option.
		[ "$(grep -c "^	'\*\?--" "$dir/zsh/_$t")" -eq \
		    "$("$(bin "$t")" --list-options | wc -l)" ]
		head -n 1 "$dir/zsh/_$t" | grep -qx "#compdef $t"
	done
	run -0 complete_words "$dir/bash/tcpmon-relay" tcpmon-relay --li
	assert_output $'--listen\n--listen-fd'
	run -0 complete_words "$dir/bash/tcpmon-tap" tcpmon-tap --color ""
	assert_output $'auto\nalways\nnever'
	run -0 complete_words "$dir/bash/tcpmon-tap" tcpmon-tap --layout st
	assert_output "stacked"
	mkdir "$T/d" && touch "$T/d/cap.tcpmon"
	run -0 complete_words "$dir/bash/tcpmon-relay" tcpmon-relay -o "$T/d/c"
	assert_output "$T/d/cap.tcpmon"
	run -0 complete_words "$dir/bash/tcpmon-relay" tcpmon-relay -t 127
	assert_output ""
	# A file argument where the usage has one (tcpmon-tap [FILE ...]).
	run -0 complete_words "$dir/bash/tcpmon-tap" tcpmon-tap "$T/d/c"
	assert_output "$T/d/cap.tcpmon"
	# --list-options is what they were made from, and only that: it is
	# no option of getopt's.
	run -2 "$(bin tcpmon-relay)" -l 0 --list-options
}

@test "completions: they follow the option table when it changes" {
	local top san
	top_and_san
	# A stand-in tool with one more option than the relay: gen.sh reads
	# the tool, not a list of its own.
	cat > "$T/tcpmon-relay" <<-SH
	#!/bin/sh
	[ "\$1" = --list-options ] && { "$(bin tcpmon-relay)" --list-options; echo "brand-new - 1"; exit 0; }
	"$(bin tcpmon-relay)" "\$@"
	printf '      --brand-new WHEN      a new option\n\nSee tcpmon-relay(1).\n'
	SH
	chmod +x "$T/tcpmon-relay"
	run -0 "$top/dist/completion/gen.sh" "$T/tcpmon-relay" "$T/b" "$T/z"
	run -0 complete_words "$T/b" tcpmon-relay --bra
	assert_output "--brand-new"
	grep -q "'\*--brand-new=\[a new option\]:WHEN: '" "$T/z"
}
