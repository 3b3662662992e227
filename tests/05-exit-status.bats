#!/usr/bin/env bats
# Exit statuses by situation, the same in every tool (HACKING.md, "Exit
# statuses"): 0 the job was done; 1 the job failed (a peer, a listener, the
# output, memory) and, for tap and grep, nothing was selected; 2 bad usage
# or bad input (an input that cannot be opened or read, or that is not a
# record stream).  One test per tool and situation, so that a failure
# names both.

load helpers

# stream: a small record stream, one HTTP exchange on connection 1.
stream() {
	mkrec stream 0 - 2026-11-22T10:00:00Z "" tool=test version=1
	mkrec open 1 - 2026-11-22T10:00:00Z "" client=127.0.0.1:1000 \
	    target=127.0.0.1:80
	mkrec data 1 c2s 2026-11-22T10:00:00.1Z \
	    'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
	mkrec data 1 s2c 2026-11-22T10:00:00.2Z \
	    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'
	mkrec close 1 - 2026-11-22T10:00:00.3Z "" reason=eof
}

# ok_and_bad: $T/ok, a record stream, and $T/bad, the same followed by a
# line that is not a record.
ok_and_bad() {
	stream > "$T/ok"
	{ cat "$T/ok"; printf 'garbage\n'; } > "$T/bad"
}

# one_line TOOL: stderr is one line, and it names TOOL.
one_line() {
	[ "${#stderr_lines[@]}" -eq 1 ] ||
	    { echo "stderr has ${#stderr_lines[@]} lines: $stderr"; return 1; }
	[[ ${stderr_lines[0]} == "$1: "* ]] ||
	    { echo "stderr does not name $1: $stderr"; return 1; }
}

# records FILE: the number of record headers in FILE.
records() { grep -ac '^TCPMON/1 ' "$1" || true; }

# to_full CMD...: CMD with its standard output on /dev/full (a `run` of
# it still takes its standard error).
to_full() { "$@" > /dev/full; }

# start_soapd: the demo SOAP service on a port of its own; sets SOAPD_PORT.
start_soapd() {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 127.0.0.1:0
	wait_for "$T/soapd.err" 'listening on' || return 1
	SOAPD_PORT=$(port_of "$T/soapd.err")
}

# --- bad usage: 2 -------------------------------------------------------

# unknown_option TOOL: TOOL --bogus exits 2; its first line names the tool
# and the option, and is the only line that is not the usage.
unknown_option() {
	run -2 --separate-stderr "$(bin "$1")" --bogus < /dev/null
	assert_output ''
	[[ ${stderr_lines[0]} == "$1: "*--bogus* ]] ||
	    { echo "first line: ${stderr_lines[0]}"; return 1; }
	local l
	for l in "${stderr_lines[@]:1}"; do
		[[ $l == "usage: "* || $l == " "* ]] ||
		    { echo "not the usage: $l"; return 1; }
	done
	[[ ${stderr_lines[1]} == "usage: $1 "* ]]
}

@test "usage: tcpmon-relay --bogus is 2" { unknown_option tcpmon-relay; }
@test "usage: tcpmon-tap --bogus is 2" { unknown_option tcpmon-tap; }
@test "usage: tcpmon-grep --bogus is 2" { unknown_option tcpmon-grep; }
@test "usage: tcpmon-fmt-xml --bogus is 2" { unknown_option tcpmon-fmt-xml; }
@test "usage: tcpmon-fmt-json --bogus is 2" { unknown_option tcpmon-fmt-json; }
@test "usage: tcpmon-send --bogus is 2" { unknown_option tcpmon-send; }
@test "usage: tcpmon-throttle --bogus is 2" { unknown_option tcpmon-throttle; }
@test "usage: tcpmon-rewrite --bogus is 2" { unknown_option tcpmon-rewrite; }
@test "usage: tcpmon-pcap --bogus is 2" { unknown_option tcpmon-pcap; }
@test "usage: tcpmon-demo-soapd --bogus is 2" { unknown_option tcpmon-demo-soapd; }
@test "usage: tcpmon-view --bogus is 2" { unknown_option tcpmon-view; }
@test "usage: tcpmon-diff --bogus is 2" { unknown_option tcpmon-diff; }
@test "usage: tcpmon-mock --bogus is 2" { unknown_option tcpmon-mock; }

# bad_value TOOL ARGS...: a bad number, address or pattern is 2, with one
# line naming the tool.
bad_value() {
	local tool=$1
	shift
	run -2 --separate-stderr timeout 10 "$(bin "$tool")" "$@" < /dev/null
	assert_output ''
	one_line "$tool"
}

@test "usage: a bad number, address or pattern is 2 in every tool" {
	bad_value tcpmon-relay -l 0 -t 127.0.0.1:99999
	bad_value tcpmon-relay -l 0 -t 127.0.0.1:80 --rotate-size lots
	bad_value tcpmon-tap --width x
	bad_value tcpmon-tap -e 'a(b'
	bad_value tcpmon-grep -e 'a(b'
	bad_value tcpmon-grep --max-conns 0 -e x
	bad_value tcpmon-fmt-xml --indent 99
	bad_value tcpmon-fmt-json --max-size x
	bad_value tcpmon-send -n x http://127.0.0.1:9/
	bad_value tcpmon-send http://127.0.0.1:99999/
	bad_value tcpmon-throttle --rate x
	bad_value tcpmon-rewrite --hold-timeout x
	bad_value tcpmon-pcap -r x --buffer x
	bad_value tcpmon-demo-soapd -l x
	bad_value tcpmon-view --color x
	bad_value tcpmon-diff --by x A B
	bad_value tcpmon-mock -l x A
}

# --- bad input: an input file that cannot be opened or read: 2 -----------

# no_input TOOL ARGS...: ARGS name an input that cannot be opened, and one
# that is a directory (the word IN in ARGS stands for it): 2 for both,
# with one line naming the tool and the input.
no_input() {
	local tool=$1 in a args
	shift
	for in in "$T/nonexistent" "$T"; do
		args=()
		for a in "$@"; do
			[ "$a" = IN ] && a=$in
			args+=("$a")
		done
		run -2 --separate-stderr timeout 10 "$(bin "$tool")" \
		    "${args[@]}" < /dev/null
		one_line "$tool"
		[[ $stderr == *"$in"* ]] ||
		    { echo "does not name $in: $stderr"; return 1; }
	done
}

@test "input: tcpmon-tap FILE that cannot be opened or read is 2" {
	no_input tcpmon-tap IN
	no_input tcpmon-tap --list IN
}
@test "input: tcpmon-grep FILE that cannot be opened or read is 2" {
	no_input tcpmon-grep -e x IN
}
@test "input: tcpmon-fmt-xml FILE that cannot be opened or read is 2" {
	no_input tcpmon-fmt-xml IN
}
@test "input: tcpmon-fmt-json FILE that cannot be opened or read is 2" {
	no_input tcpmon-fmt-json IN
}
@test "input: tcpmon-pcap -w OUT CAPTURE that cannot be opened or read is 2" {
	no_input tcpmon-pcap -w "$T/o.pcapng" IN
}
@test "input: tcpmon-mock CAPTURE that cannot be opened or read is 2" {
	no_input tcpmon-mock -l 0 IN
}
@test "input: tcpmon-diff A or B that cannot be opened or read is 2" {
	no_input tcpmon-diff IN IN
}
@test "input: tcpmon-view CAPTURE that cannot be opened or read is 2, before the screen" {
	no_input tcpmon-view IN
}
@test "input: tcpmon-pcap -r FILE that cannot be opened or read is 2" {
	no_input tcpmon-pcap -r IN
}
@test "input: tcpmon-send's body FILE, --raw FILE and --replay CAPTURE that cannot be opened or read are 2" {
	no_input tcpmon-send http://127.0.0.1:9/ IN
	no_input tcpmon-send --raw 127.0.0.1:9 IN
	no_input tcpmon-send --replay IN --conn 1
}

# The others read only stdin: a directory there cannot be read either.
@test "input: standard input that cannot be read is 2 in every tool that reads records" {
	local t c
	for t in "tcpmon-tap" "tcpmon-grep -e x" "tcpmon-fmt-xml" \
	    "tcpmon-fmt-json" "tcpmon-throttle" "tcpmon-rewrite" \
	    "tcpmon-pcap -w $T/o.pcapng"; do
		echo "# $t"
		read -ra c <<< "$t"
		run -2 --separate-stderr timeout 10 "$(bin "${c[0]}")" \
		    "${c[@]:1}" < "$T"
		one_line "${c[0]}"
		[[ $stderr == *"stdin: read: Is a directory" ]]
	done
}

# --- bad input: not a record stream: 2, what came before written ----------

@test "input: tcpmon-tap, a bad record is 2, the connection before it shown" {
	ok_and_bad
	run -2 --separate-stderr "$(bin tcpmon-tap)" "$T/bad"
	one_line tcpmon-tap
	assert_equal "$stderr" "tcpmon-tap: $T/bad: record 6 at byte $(wc -c < "$T/ok"): no TCPMON/ tag where a record should start"
	assert_line --partial '[#1] open 127.0.0.1:1000 -> 127.0.0.1:80'
	assert_line 'hello'
	assert_line --partial '[#1] close: eof'
}

@test "input: tcpmon-grep, a bad record is 2, the records before it written" {
	ok_and_bad
	run -2 --separate-stderr "$(bin tcpmon-grep)" -e hello "$T/bad"
	one_line tcpmon-grep
	"$(bin tcpmon-grep)" -e hello "$T/bad" > "$T/out" 2>/dev/null || true
	cmp "$T/ok" "$T/out"
}

@test "input: tcpmon-fmt-xml and tcpmon-fmt-json, a bad record is 2, the records before it written" {
	local t
	ok_and_bad
	for t in tcpmon-fmt-xml tcpmon-fmt-json; do
		run -2 --separate-stderr "$(bin $t)" "$T/bad"
		one_line $t
		"$(bin $t)" "$T/bad" > "$T/out" 2>/dev/null || true
		cmp "$T/ok" "$T/out"
	done
}

@test "input: tcpmon-throttle, a bad record is 2, the records before it written" {
	ok_and_bad
	run -2 --separate-stderr "$(bin tcpmon-throttle)" < "$T/bad"
	one_line tcpmon-throttle
	"$(bin tcpmon-throttle)" < "$T/bad" > "$T/out" 2>/dev/null || true
	cmp "$T/ok" "$T/out"
}

@test "input: tcpmon-rewrite, a bad record is 2, the records before it written" {
	ok_and_bad
	run -2 --separate-stderr "$(bin tcpmon-rewrite)" < "$T/bad"
	one_line tcpmon-rewrite
	"$(bin tcpmon-rewrite)" < "$T/bad" > "$T/out" 2>/dev/null || true
	# Every record is passed on (the request with a note after it).
	[ "$(grep -a '^TCPMON/1 ' "$T/out" | grep -vc ' note ')" -eq 5 ]
	grep -aq '^hello$' "$T/out"
}

@test "input: tcpmon-pcap -w, a bad record is 2, the packets before it written" {
	ok_and_bad
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -w "$T/bad.pcapng" "$T/bad"
	one_line tcpmon-pcap
	"$(bin tcpmon-pcap)" -w "$T/ok.pcapng" "$T/ok"
	cmp "$T/ok.pcapng" "$T/bad.pcapng"
}

@test "input: tcpmon-pcap -r, a file that is not a capture is 2" {
	printf 'garbage garbage garbage garbage\n' > "$T/g"
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -r "$T/g"
	assert_output ''
	one_line tcpmon-pcap
}

@test "input: tcpmon-send --replay, a capture that is not a record stream is 2" {
	ok_and_bad
	run -2 --separate-stderr "$(bin tcpmon-send)" --replay "$T/bad" --conn 1 \
	    -t 127.0.0.1:9
	one_line tcpmon-send
	[[ $stderr == *"$T/bad: record 6 at byte"* ]]
}

# --- the output could not be written: 1 ---------------------------------

@test "output: tcpmon-tap > /dev/full is 1, in every view" {
	local v
	stream > "$T/ok"
	for v in "" --list --list=conn --json "--raw --conn 1 --dir response"; do
		echo "# tcpmon-tap $v"
		# shellcheck disable=SC2086
		run -1 --separate-stderr to_full "$(bin tcpmon-tap)" $v "$T/ok"
		one_line tcpmon-tap
		assert_equal "$stderr" "tcpmon-tap: write stdout: No space left on device"
	done
}

# full TOOL ARGS...: TOOL ARGS < $T/ok > /dev/full is 1, with one line.
full() {
	local tool=$1
	shift
	run -1 --separate-stderr to_full timeout 10 "$(bin "$tool")" "$@" \
	    < "$T/ok"
	one_line "$tool"
	[[ $stderr == *": No space left on device" ]]
}

@test "output: tcpmon-grep > /dev/full is 1" {
	stream > "$T/ok"
	full tcpmon-grep -e hello
	assert_equal "$stderr" "tcpmon-grep: write stdout: No space left on device"
}
@test "output: tcpmon-fmt-xml > /dev/full is 1" {
	stream > "$T/ok"
	full tcpmon-fmt-xml
	assert_equal "$stderr" "tcpmon-fmt-xml: write stdout: No space left on device"
}
@test "output: tcpmon-fmt-json > /dev/full is 1" {
	stream > "$T/ok"
	full tcpmon-fmt-json
}
@test "output: tcpmon-throttle > /dev/full is 1" {
	stream > "$T/ok"
	full tcpmon-throttle
}
@test "output: tcpmon-rewrite > /dev/full is 1" {
	stream > "$T/ok"
	full tcpmon-rewrite
	assert_equal "$stderr" "tcpmon-rewrite: write stdout: No space left on device"
}

@test "output: tcpmon-pcap -w to /dev/full, to stdout on /dev/full, and -r > /dev/full are 1" {
	stream > "$T/ok"
	full tcpmon-pcap -w /dev/full
	full tcpmon-pcap -w /dev/full --format pcap
	full tcpmon-pcap -w -
	"$(bin tcpmon-pcap)" -w "$T/x.pcap" --format pcap "$T/ok"
	run -1 --separate-stderr to_full "$(bin tcpmon-pcap)" -r "$T/x.pcap"
	one_line tcpmon-pcap
}

@test "output: tcpmon-pcap -w into a directory that does not exist is 1" {
	stream > "$T/ok"
	run -1 --separate-stderr "$(bin tcpmon-pcap)" -w "$T/nodir/o.pcapng" "$T/ok"
	one_line tcpmon-pcap
	run -1 --separate-stderr "$(bin tcpmon-pcap)" -w "$T/nodir/o.pcap" \
	    --format pcap "$T/ok"
	one_line tcpmon-pcap
}

@test "output: tcpmon-send > /dev/full is 1, as records, as text, and the -n summary" {
	start_soapd
	local u=http://127.0.0.1:$SOAPD_PORT/ a
	for a in --records --text "-n 3"; do
		echo "# tcpmon-send $a"
		# shellcheck disable=SC2086
		run -1 --separate-stderr to_full timeout 10 \
		    "$(bin tcpmon-send)" $a "$u"
		one_line tcpmon-send
		assert_equal "$stderr" "tcpmon-send: write stdout: No space left on device"
	done
	# The same exchange into a file is 0.
	timeout 10 "$(bin tcpmon-send)" --text "$u" > "$T/out"
	grep -q 'tcpmon-demo-soapd' "$T/out"
}

@test "output: tcpmon-send -o /dev/full and -o in a directory that does not exist are 1" {
	start_soapd
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-send)" -o /dev/full \
	    "http://127.0.0.1:$SOAPD_PORT/"
	one_line tcpmon-send
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-send)" \
	    -o "$T/nodir/body" "http://127.0.0.1:$SOAPD_PORT/"
	one_line tcpmon-send
}

@test "output: tcpmon-send | head is not a failure: the exchange decides" {
	start_soapd
	run -0 bash -c '"$1" --text "$2" | head -c 1 > /dev/null
	    exit "${PIPESTATUS[0]}"' _ "$(bin tcpmon-send)" \
	    "http://127.0.0.1:$SOAPD_PORT/"
}

@test "output: tcpmon-relay -o in a directory that does not exist, or under a file, is 1" {
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" -l 127.0.0.1:0 \
	    -t 127.0.0.1:9 -o "$T/nodir/cap.tcpmon"
	one_line tcpmon-relay
	assert_equal "$stderr" "tcpmon-relay: $T/nodir/cap.tcpmon: No such file or directory"
	touch "$T/file"
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" -l 127.0.0.1:0 \
	    -t 127.0.0.1:9 -o "$T/file/cap.tcpmon"
	one_line tcpmon-relay
}

@test "output: tcpmon-relay -o in a directory it may not write is 1" {
	[ "$(id -u)" -ne 0 ] || skip "root writes any directory"
	mkdir "$T/ro"
	chmod 555 "$T/ro"
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" -l 127.0.0.1:0 \
	    -t 127.0.0.1:9 -o "$T/ro/cap.tcpmon"
	one_line tcpmon-relay
}

@test "output: tcpmon-relay -o /dev/full is 1 when it stops, naming what was unwritten" {
	start_relay -l 127.0.0.1:0 -t 127.0.0.1:9 -o /dev/full
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID" 20
	[ "$BG_STATUS" -eq 1 ]
	grep -q '^tcpmon-relay: write /dev/full: No space left on device; records unwritten' "$T/relay.err"
}

# --- the job failed: a peer, a listener: 1 --------------------------------

@test "peer: tcpmon-send to a closed port is 1" {
	local port
	port=$(free_port)
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-send)" \
	    "http://127.0.0.1:$port/"
	one_line tcpmon-send
	assert_equal "$stderr" "tcpmon-send: connect 127.0.0.1:$port: Connection refused"
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-send)" --raw \
	    "127.0.0.1:$port" - <<< $'GET / HTTP/1.1\r\nHost: x\r\n\r'
	one_line tcpmon-send
}

@test "peer: tcpmon-tap --attach to a socket that does not exist, or is no socket, is 1" {
	run -1 --separate-stderr "$(bin tcpmon-tap)" --attach "$T/none.sock"
	one_line tcpmon-tap
	assert_equal "$stderr" "tcpmon-tap: attach $T/none.sock: No such file or directory"
	touch "$T/plain"
	run -1 --separate-stderr "$(bin tcpmon-tap)" --attach "$T/plain"
	one_line tcpmon-tap
}

@test "listener: tcpmon-relay and tcpmon-demo-soapd on a port in use are 1" {
	start_soapd
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" \
	    -l "127.0.0.1:$SOAPD_PORT" -t 127.0.0.1:9
	one_line tcpmon-relay
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-demo-soapd)" \
	    -l "127.0.0.1:$SOAPD_PORT"
	one_line tcpmon-demo-soapd
}

# --- nothing was selected (tap, grep): 1 ---------------------------------

@test "nothing selected: tcpmon-tap is 1, saying so" {
	stream > "$T/ok"
	run -1 --separate-stderr "$(bin tcpmon-tap)" -e 'not in any payload' "$T/ok"
	assert_equal "$stderr" "tcpmon-tap: no connection selected"
	run -0 "$(bin tcpmon-tap)" -e hello "$T/ok"
}

@test "nothing selected: tcpmon-grep is 1, the stream's own records still written" {
	stream > "$T/ok"
	run -1 --separate-stderr "$(bin tcpmon-grep)" -e 'not in any payload' "$T/ok"
	assert_equal "$stderr" ''
	"$(bin tcpmon-grep)" -e 'not in any payload' "$T/ok" > "$T/out" || true
	[ "$(records "$T/out")" -eq 1 ]
	grep -aq '^TCPMON/1 stream conn=0 ' "$T/out"
	run -1 "$(bin tcpmon-grep)" -e x < /dev/null
	run -0 "$(bin tcpmon-grep)" -e hello "$T/ok"
}

# --- the job was done: 0 --------------------------------------------------

@test "done: every filter is 0 on a whole stream" {
	local t c
	stream > "$T/ok"
	for t in "tcpmon-tap" "tcpmon-tap --list" "tcpmon-grep -e hello" \
	    "tcpmon-fmt-xml" "tcpmon-fmt-json" "tcpmon-throttle" \
	    "tcpmon-rewrite" "tcpmon-pcap -w $T/o.pcapng"; do
		echo "# $t"
		read -ra c <<< "$t"
		run -0 --separate-stderr "$(bin "${c[0]}")" "${c[@]:1}" < "$T/ok"
		assert_equal "$stderr" ''
	done
}
