#!/usr/bin/env bats
# tcpmon-grep: the selectors as a filter of records, in the middle of a
# pipeline; records pass byte for byte, whole connections at a time.

load helpers

setup_file() { capture_setup_file; }
teardown_file() { capture_teardown_file; }

# same_records A B: the records of each connection are the same bytes in
# the same order in A and B (the order across connections may differ:
# a connection is held back until it is decided).
same_records() {
	python3 - "$1" "$2" <<-'PY'
	import sys
	def conns(path):
	    d = open(path, 'rb').read()
	    pos, out = 0, {}
	    while pos < len(d):
	        nl = d.index(b'\n', pos)
	        h = d[pos:nl]
	        n = int(h.rsplit(b'len=', 1)[1])
	        c = h.split(b' conn=', 1)[1].split(b' ', 1)[0]
	        out.setdefault(c, []).append(d[pos:nl + 2 + n])
	        pos = nl + 2 + n
	    return out
	a, b = conns(sys.argv[1]), conns(sys.argv[2])
	if a != b:
	    print('differ: %s vs %s' % (sorted(a), sorted(b)))
	    sys.exit(1)
	PY
}

# only CONN... < CAPTURE: the records of conn 0 and of the given conns.
only() {
	python3 -c '
import sys
want = set(sys.argv[1:]) | {"0"}
d = sys.stdin.buffer.read()
pos = 0
while pos < len(d):
    nl = d.index(b"\n", pos)
    h = d[pos:nl]
    n = int(h.rsplit(b"len=", 1)[1])
    if h.split(b" conn=", 1)[1].split(b" ", 1)[0].decode() in want:
        sys.stdout.buffer.write(d[pos:nl + 2 + n])
    pos = nl + 2 + n' "$@"
}

@test "grep: writes the records of the matching connections, byte for byte" {
	run -0 --separate-stderr "$(bin tcpmon-grep)" -e 'Server Fault' "$(cap)"
	"$(bin tcpmon-grep)" -e 'Server Fault' "$(cap)" > "$T/out"
	only 3 9 10 11 12 13 14 15 16 < "$(cap)" > "$T/want"
	same_records "$T/out" "$T/want"
	# The first record of the stream passes first, and the output is a
	# stream the other tools read.
	head -n 1 "$T/out" | grep -q '^TCPMON/1 stream conn=0 '
	run -0 "$(bin tcpmon-tap)" --list=conn "$T/out"
	[ "${#lines[@]}" -eq 10 ]
}

@test "grep: PATTERN as the first argument, stdin, -v, and exit 1 when nothing is selected" {
	"$(bin tcpmon-grep)" 'name=tcpmon' < "$(cap)" > "$T/out"
	only 5 < "$(cap)" > "$T/want"
	same_records "$T/out" "$T/want"
	"$(bin tcpmon-grep)" -v -e 'GET|POST' "$(cap)" > "$T/out"
	only 6 7 < "$(cap)" > "$T/want"
	same_records "$T/out" "$T/want"
	run -1 "$(bin tcpmon-grep)" -e 'not in any payload' "$(cap)"
	# Only the stream record: nothing selected.
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "TCPMON/1 stream conn=0 "* ]]
	run -2 --separate-stderr "$(bin tcpmon-grep)"
	assert_equal "$stderr" "tcpmon-grep: nothing to select on: give a PATTERN, -e, --header, --conn, --since or --until"
}

@test "grep: --header, --conn and --since select as in tap" {
	"$(bin tcpmon-grep)" --header 'Content-Type=^image/' "$(cap)" > "$T/out"
	only 4 9 10 11 12 13 14 15 16 < "$(cap)" > "$T/want"
	same_records "$T/out" "$T/want"
	"$(bin tcpmon-grep)" --conn 5,7 "$(cap)" > "$T/out"
	only 5 7 < "$(cap)" > "$T/want"
	same_records "$T/out" "$T/want"
	run -1 "$(bin tcpmon-grep)" --since 2099-01-01 "$(cap)"
}

@test "grep: records of unknown kinds pass untouched, with their connection or the stream" {
	{
	mkrec future 0 - - 'for everyone' shiny=yes%20really
	mkrec open 1 - - '' client=c:1 target=s:1
	mkrec gadget 1 - - 'part of conn 1' x=1
	mkrec data 1 c2s - 'match me'
	mkrec open 2 - - '' client=c:2 target=s:1
	mkrec gadget 2 - - 'part of conn 2' x=2
	mkrec close 2 - - '' reason=eof
	mkrec close 1 - - '' reason=eof
	} > "$T/u"
	run -0 "$(bin tcpmon-grep)" -e 'match' "$T/u"
	assert_line "TCPMON/1 future conn=0 src=t1 shiny=yes%20really len=12"
	assert_line "TCPMON/1 gadget conn=1 src=t1 x=1 len=14"
	refute_line --partial "conn=2"
	only 0 1 < "$T/u" > "$T/want"
	"$(bin tcpmon-grep)" -e 'match' "$T/u" | cmp - "$T/want"
}

@test "grep: in a live pipeline, a selected connection comes out while the relay runs" {
	start_echo
	mkfifo "$T/pipe"
	bg relay "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/pipe"
	RELAY_PID=$BG_PID
	bg_in grep "$T/pipe" "$(bin tcpmon-grep)" -e 'Fault'
	GREP_PID=$BG_PID
	wait_for "$T/relay.err" 'listening on'
	RELAY_PORT=$(port_of "$T/relay.err")
	timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "no match here" > /dev/null
	timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "<soap:Fault>" > /dev/null
	# Out before the relay stops: nothing waits for the end of the stream.
	wait_count "$T/grep.out" '^TCPMON/1 close conn=2 ' 1
	kill -0 "$RELAY_PID"
	! grep -aq '^TCPMON/1 [a-z]* conn=1 ' "$T/grep.out"
	kill -TERM "$RELAY_PID"
	wait_exit "$GREP_PID"
	[ "$BG_STATUS" -eq 0 ]
}

@test "grep: a corrupt record: what came before goes out, one line names it, exit 2" {
	local off
	only 0 1 2 3 < "$(cap)" > "$T/good"
	off=$(stat -c %s "$T/good")
	{ cat "$T/good"; printf 'TCPMON/1 data conn=9 len=5\nabc\n'; } > "$T/bad"
	run -2 --separate-stderr "$(bin tcpmon-grep)" -e 'HTTP' "$T/bad"
	assert_equal "$stderr" "tcpmon-grep: $T/bad: record $(($(grep -ac '^TCPMON/1 ' "$T/good") + 1)) at byte $off: truncated record: 31 of 33 bytes"
	"$(bin tcpmon-grep)" -e HTTP "$T/bad" > "$T/out" 2>/dev/null || true
	same_records "$T/out" "$T/good"
	printf 'hello\n' > "$T/text"
	run -2 --separate-stderr "$(bin tcpmon-grep)" -e x "$T/text"
	assert_equal "$stderr" "tcpmon-grep: $T/text: record 1 at byte 0: not a tcpmon record stream"
	run -2 --separate-stderr "$(bin tcpmon-grep)" -e x "$T/missing"
	assert_equal "$stderr" "tcpmon-grep: $T/missing: No such file or directory"
}

@test "grep: past --max-hold, a note record in the stream and a warning" {
	{
	mkrec open 1 - - '' client=c:1 target=s:1
	mkrec data 1 c2s - "$(head -c 5000 /dev/zero | tr '\0' x)"
	mkrec data 1 c2s - 'needle'
	mkrec close 1 - - '' reason=eof
	} > "$T/big"
	run -1 --separate-stderr "$(bin tcpmon-grep)" --max-hold 4k -e needle "$T/big"
	assert_line --regexp '^TCPMON/1 note conn=0 src=grep-[0-9]+ time=[^ ]+ level=warning len=[0-9]+$'
	assert_line --partial "over --max-hold 4096: decided on what was seen so far (not selected)"
	[[ $stderr == "tcpmon-grep: connection t1 #1: "* ]]
	run -0 "$(bin tcpmon-grep)" --max-hold 4k -v -e needle "$T/big"
	assert_line --partial "(selected)"
}

@test "grep --help: a line of meaning for every long option, and the man page" {
	help_covers tcpmon-grep tap/grep.c tap/select.h
}

@test "grep: at most --max-conns connections followed: 100,000 never closed stay under 96 MiB, a note for each one dropped" {
	python3 "$TESTS_DIR/gen/opens.py" 100000 "$T/opens.tcpmon"
	/usr/bin/time -f %M -o "$T/rss" timeout 60 "$(bin tcpmon-grep)" -e nomatch \
	    "$T/opens.tcpmon" > "$T/out" 2> "$T/err" || [ $? = 1 ]
	echo "grep: $(tail -n 1 "$T/rss") KiB"
	[ "$(tail -n 1 "$T/rss")" -lt "$(rss_cap 98304)" ]
	python3 "$TESTS_DIR/recparse.py" "$T/out" kinds > "$T/kinds"
	[ "$(grep -c '^note 0 ' "$T/kinds")" = 34464 ]
	grep -q 'connection r1 #1: no longer followed: over --max-conns 65536 connections at once; decided on what was seen so far: not selected' "$T/out"
	grep -q '^tcpmon-grep: over 65536 connections at once: ' "$T/err"
	# A connection dropped that matched is selected, whole, as far as it went.
	/usr/bin/time -f %M -o "$T/rss" timeout 60 "$(bin tcpmon-grep)" --max-conns 10 \
	    --header Host=h "$T/opens.tcpmon" > "$T/sel"
	[ "$(tail -n 1 "$T/rss")" -lt "$(rss_cap 16384)" ]
	python3 "$TESTS_DIR/recparse.py" "$T/sel" kinds > "$T/kinds"
	[ "$(grep -c '^data ' "$T/kinds")" = 200000 ]
}
