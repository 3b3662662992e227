#!/usr/bin/env bats
# tcpmon-tap, first version: the conversation view of a real capture, and
# clear errors for input that is not records.

load helpers

capture_http() {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	printf 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n' |
	    timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" > /dev/null
	printf '\x00\x01\x02binary\xff' |
	    timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" > /dev/null
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
}

@test "tap: shows each connection's conversation, text as text and binary as hex" {
	capture_http
	run -0 "$(bin tcpmon-tap)" "$T/cap.tcpmon"
	assert_line --index 0 --regexp '^=== tcpmon-relay [0-9.]+, started 20[0-9-]+T.*Z \(source relay-[0-9]+\)$'
	assert_line --regexp "^20[0-9-]+ [0-9:.]+ \[#1\] open 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:$ECHO_PORT \(via 127\.0\.0\.1:$RELAY_PORT\)$"
	assert_line --regexp '^[0-9:.]+ \[#1\] >>> client to server, 32 bytes$'
	assert_line "GET /hello HTTP/1.1"
	assert_line --regexp '^[0-9:.]+ \[#1\] <<< server to client, 32 bytes$'
	assert_line --regexp '^[0-9:.]+ \[#1\] close: eof; 32 bytes up, 32 bytes down$'
	assert_line --regexp '^[0-9:.]+ \[#2\] >>> client to server, 10 bytes$'
	assert_line "  00000000  00 01 02 62 69 6e 61 72  79 ff                    |...binary.|"
}

@test "tap: reads stdin, and several files in a row" {
	capture_http
	run -0 "$(bin tcpmon-tap)" < "$T/cap.tcpmon"
	assert_line "GET /hello HTTP/1.1"
	cat "$T/cap.tcpmon" "$T/cap.tcpmon" > "$T/twice"
	run -0 "$(bin tcpmon-tap)" "$T/cap.tcpmon" - < "$T/cap.tcpmon"
	[ "$(grep -c '^GET /hello' <<< "$output")" -eq 4 ]
}

@test "tap: input that is not records is refused at once with exit 2" {
	printf 'GET / HTTP/1.1\r\n\r\n' > "$T/notrec"
	run -2 --separate-stderr "$(bin tcpmon-tap)" "$T/notrec"
	assert_equal "$stderr" "tcpmon-tap: $T/notrec: record 1 at byte 0: not a tcpmon record stream"
	printf 'TCPMON/2 data conn=1 len=0\n\n' > "$T/v2"
	run -2 --separate-stderr "$(bin tcpmon-tap)" "$T/v2"
	assert_equal "$stderr" "tcpmon-tap: $T/v2: record 1 at byte 0: unsupported record format version (this reader knows TCPMON/1)"
}

@test "tap: a corrupt record names its number and offset; what came before is shown" {
	capture_http
	# Record 3 is the first data record: break its length field.
	local off
	off=$(grep -abo '^TCPMON/1 data' "$T/cap.tcpmon" | head -n 1 | cut -d: -f1)
	sed '0,/^TCPMON\/1 data \(.*\) len=32$/s//TCPMON\/1 data \1 len=3x2/' \
	    "$T/cap.tcpmon" > "$T/bad"
	run -2 --separate-stderr "$(bin tcpmon-tap)" "$T/bad"
	assert_equal "$stderr" "tcpmon-tap: $T/bad: record 3 at byte $off: bad length field"
	[[ $output == *"open 127.0.0.1"* ]]
	head -c $((off + 40)) "$T/cap.tcpmon" > "$T/cut"
	run -2 --separate-stderr "$(bin tcpmon-tap)" "$T/cut"
	assert_equal "$stderr" "tcpmon-tap: $T/cut: record 3 at byte $off: truncated record header"
}

@test "tap: a missing file is exit 2 (bad input), an unknown option exit 2" {
	run -2 --separate-stderr "$(bin tcpmon-tap)" "$T/nope"
	assert_equal "$stderr" "tcpmon-tap: $T/nope: No such file or directory"
	run -2 "$(bin tcpmon-tap)" --bogus
}

@test "tap: records of unknown kinds are shown, not refused" {
	printf 'TCPMON/1 future conn=7 shiny=yes len=3\nabc\n' > "$T/u"
	run -0 "$(bin tcpmon-tap)" "$T/u"
	assert_output "[#7] future record, 3 bytes"
}

@test "tap --help: a line of meaning for every long option, and the man page" {
	help_covers tcpmon-tap tap/tap.c tap/select.h
}

@test "tap: at most --max-conns connections followed: 100,000 never closed stay under 64 MiB, a note for each one dropped" {
	python3 "$TESTS_DIR/gen/opens.py" 100000 "$T/opens.tcpmon"
	/usr/bin/time -f %M -o "$T/rss" timeout 60 "$(bin tcpmon-tap)" --color never \
	    "$T/opens.tcpmon" > "$T/out"
	echo "tap: $(tail -n 1 "$T/rss") KiB"
	[ "$(tail -n 1 "$T/rss")" -lt "$(rss_cap 65536)" ]
	[ "$(grep -c '^\[#[0-9]*\] note: no longer followed: over 65536 connections at once (--max-conns)$' "$T/out")" = 34464 ]
	grep -q '^\[#1\] note: no longer followed' "$T/out"
	# --list: the ones dropped get their line then, as dropped.
	/usr/bin/time -f %M -o "$T/rss" timeout 60 "$(bin tcpmon-tap)" --list=conn \
	    --max-conns 1000 "$T/opens.tcpmon" > "$T/list" 2> "$T/err"
	echo "list: $(tail -n 1 "$T/rss") KiB"
	[ "$(tail -n 1 "$T/rss")" -lt "$(rss_cap 16384)" ]
	[ "$(grep -c ' dropped ' "$T/list")" = 99000 ]
	[ "$(grep -c ' open ' "$T/list")" = 1000 ]
	grep -q '^tcpmon-tap: over 1000 connections at once: ' "$T/err"
	run -2 "$(bin tcpmon-tap)" --max-conns 0 "$T/opens.tcpmon"
	assert_output --partial "--max-conns 0: too small"
}

@test "tap: raw control and non-ASCII bytes in a field value are bad input, as tcpmon-record(5) says" {
	for b in '\033' '\t' '\177' '\303\251' '\302\233' '\233'; do
		printf "TCPMON/1 open conn=1 client=a${b}b len=0\n\n" > "$T/bad"
		run -2 "$(bin tcpmon-tap)" "$T/bad"
		assert_output "tcpmon-tap: $T/bad: record 1 at byte 0: control or non-ASCII byte in the header"
	done
	# Escaped, they are values, shown visibly.
	printf 'TCPMON/1 open conn=1 client=a%%1B%%09%%7F%%C2%%9Bb len=0\n\n' > "$T/ok"
	run -0 "$(bin tcpmon-tap)" --color never "$T/ok"
	assert_output --partial 'open a\x1b\x09\x7f\xc2\x9bb -> ?'
}
