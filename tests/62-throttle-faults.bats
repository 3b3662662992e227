#!/usr/bin/env bats
# tcpmon-throttle faults, after Toxiproxy's toxics: the records they make,
# what the far side would receive, and when.

load throttle

@test "throttle --cut-after: data up to N bytes, then close reason=cut; the rest of the connection is dropped" {
	capture 5000
	run -0 bash -c "'$(bin tcpmon-throttle)' --cut-after 1500 --up < '$T/cap.tcpmon' > '$T/out'"
	bytes_of "$T/out" 1 c2s | cmp - <(head -c 1500 "$T/sent")
	run python3 "$TESTS_DIR/recparse.py" "$T/out" kinds
	assert_equal "${lines[-1]}" "close 1 - 0"
	[ "$(grep -c '^close 1 ' <<< "$output")" -eq 1 ]
	grep -aq '^TCPMON/1 close conn=1 src=relay-[0-9]* time=[^ ]* reason=cut fault=cut-after c2s=1500 s2c=[0-9]* len=0$' "$T/out"
	# A connection under the limit is untouched by it.
	run -0 bash -c "'$(bin tcpmon-throttle)' --cut-after 1m < '$T/cap.tcpmon' | grep -ac 'reason=eof'"
	assert_output 1
}

@test "throttle --cut-after counts each direction of each connection" {
	{ conn_recs 1 100 3000; conn_recs 2 100 100; } > "$T/in"
	timeout 20 "$(bin tcpmon-throttle)" --cut-after 1000 < "$T/in" > "$T/out"
	grep -aq '^TCPMON/1 close conn=1 .* reason=cut fault=cut-after c2s=100 s2c=1000 len=0$' "$T/out"
	grep -aq '^TCPMON/1 close conn=2 .* reason=eof c2s=100 s2c=100 len=0$' "$T/out"
	[ "$(bytes_of "$T/out" 1 s2c | wc -c)" -eq 1000 ]
}

@test "throttle --reset-after: close reason=reset that long after the connection opened" {
	{ conn_recs 1 8192 0; } > "$T/in"
	timed "$T/in" --rate 4k --reset-after 600
	[ "$(at close 1 -)" -ge 600 ]
	[ "$(at close 1 -)" -le 2500 ]
	# About 600 ms of 4 KiB/s went through, then nothing more.
	[ "$(awk '$2 == "data" && $1 > '"$(at close 1 -)"'' "$T/timed" | wc -l)" -eq 0 ]
	timeout 20 "$(bin tcpmon-throttle)" --rate 4k --reset-after 600 < "$T/in" > "$T/out"
	grep -aq '^TCPMON/1 close conn=1 src=h time=[^ ]* reason=reset fault=reset-after c2s=[0-9]* s2c=0 len=0$' "$T/out"
	[ "$(grep -ac '^TCPMON/1 close ' "$T/out")" -eq 1 ]
	# A connection that ends first is not reset.
	{ conn_recs 1 10 0; } > "$T/in2"
	run -0 bash -c "'$(bin tcpmon-throttle)' --reset-after 300 < '$T/in2' | grep -ac reason=reset || true"
	assert_output 0
}

@test "throttle --stall-after: the direction stops after N bytes, its FIN too; the connection stays open" {
	{ conn_recs 1 3000 500; } > "$T/in"
	timeout 20 "$(bin tcpmon-throttle)" --stall-after 1000 --up < "$T/in" > "$T/out"
	[ "$(bytes_of "$T/out" 1 c2s | wc -c)" -eq 1000 ]
	[ "$(bytes_of "$T/out" 1 s2c | wc -c)" -eq 500 ]
	! grep -aq '^TCPMON/1 shutdown conn=1 .* dir=c2s ' "$T/out"
	grep -aq '^TCPMON/1 shutdown conn=1 .* dir=s2c ' "$T/out"
	# Only the connection's own close ends it (when the peer gives up).
	grep -aq '^TCPMON/1 close conn=1 .* reason=eof ' "$T/out"
	# --stall-after 0: nothing at all gets through.
	timeout 20 "$(bin tcpmon-throttle)" --stall-after 0 < "$T/in" > "$T/out0"
	! grep -aq '^TCPMON/1 data ' "$T/out0"
}

@test "throttle --slow-close: shutdown and close records are held that long" {
	{ conn_recs 1 100 100; } > "$T/in"
	timed "$T/in" --slow-close 500
	[ "$(at data 1 c2s)" -le 400 ]
	[ "$(at shutdown 1 c2s)" -ge 500 ]
	[ "$(at close 1 -)" -ge 500 ]
	[ "$(at close 1 -)" -le 2500 ]
	# With --down only the server's FIN waits, and the close after it.
	timed "$T/in" --slow-close 500 --down
	[ "$(at shutdown 1 c2s)" -le 400 ]
	[ "$(at shutdown 1 s2c)" -ge 500 ]
}

@test "throttle --corrupt: flips bytes at that rate, marks the records, keeps the length" {
	capture 100000
	timeout 20 "$(bin tcpmon-throttle)" --corrupt 0.01 --seed 9 --up < "$T/cap.tcpmon" > "$T/out"
	bytes_of "$T/out" 1 s2c | cmp - "$T/sent"
	bytes_of "$T/out" 1 c2s > "$T/got"
	[ "$(stat -c %s "$T/got")" -eq 100000 ]
	local diff
	diff=$(cmp -l "$T/got" "$T/sent" | wc -l)
	# 1% of 100000 bytes: about 1000.
	[ "$diff" -ge 800 ] && [ "$diff" -le 1200 ]
	# The bytes are what the peer gets: no xform, a count per record.
	! grep -aq '^TCPMON/1 data .* xform=' "$T/out"
	[ "$(grep -ao '^TCPMON/1 data .* corrupt=[0-9]*' "$T/out" |
	    awk -F corrupt= '{ n += $2 } END { print n }')" -eq "$diff" ]
	run -0 bash -c "'$(bin tcpmon-throttle)' --corrupt 0 < '$T/cap.tcpmon' | cmp - '$T/cap.tcpmon'"
}
