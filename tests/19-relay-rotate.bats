#!/usr/bin/env bats
# tcpmon-relay -o FILE for weeks: rotation by size and by age, the newest
# kept, rotated files compressed, SIGHUP for logrotate; and every reader
# taking a gzip'd capture as it is.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# parts: the rotated files in time order, then the live one.
parts() { ls "$T"/cap.tcpmon.* 2>/dev/null | sort; echo "$T/cap.tcpmon"; }

# echo_n N: N connections of 300 KiB each through the relay, each checked.
echo_n() {
	local i
	for ((i = 0; i < $1; i++)); do
		head -c 307200 /dev/urandom > "$T/in$i"
		echo_xfer "$T/in$i" "$RELAY_PORT" "$T/out$i"
		cmp "$T/in$i" "$T/out$i"
	done
}

@test "rotate: --rotate-size cuts between records; each file a stream; the files in order are the whole capture" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon" --rotate-size 256k
	echo_n 6
	wait_count "$T/cap.tcpmon" '^TCPMON/1 close ' 1
	stop_relay
	[ "$BG_STATUS" -eq 0 ]
	local n=0 f
	for f in $(parts); do
		n=$((n + 1))
		# Each a valid stream by itself, starting with a stream record.
		run -0 rp "$f" kinds
		assert_line --index 0 --regexp '^stream 0 - 0$'
		# Cut at the first record past the size: at most one read over.
		[ "$(stat -c %s "$f")" -le $((262144 + 262144 + 4096)) ]
	done
	[ "$n" -ge 5 ]
	# Concatenated in order, every connection's bytes are all there.
	cat $(parts) > "$T/all"
	local i
	for ((i = 0; i < 6; i++)); do
		rp "$T/all" payload $((i + 1)) c2s | cmp - "$T/in$i"
		rp "$T/all" payload $((i + 1)) s2c | cmp - "$T/in$i"
	done
	run -0 bash -c "grep -ac '^TCPMON/1 close ' '$T/all'"
	assert_output 6
}

@test "rotate: --rotate-keep keeps the newest N, --rotate-gzip compresses them, and the readers take .gz as it is" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon" --rotate-size 128k \
	    --rotate-keep 2 --rotate-gzip
	echo_n 6
	stop_relay
	[ "$BG_STATUS" -eq 0 ]
	# The relay waited for its compressions: only .gz files are left.
	run -0 bash -c "ls '$T' | grep -c '^cap.tcpmon\.[0-9]\{8\}T[0-9]\{6\}\.[0-9]\{6\}Z\.gz$'"
	assert_output 2
	run -1 bash -c "ls '$T' | grep '^cap.tcpmon\.[0-9].*Z$'"
	local f
	for f in "$T"/cap.tcpmon.*.gz; do
		gzip -t "$f"
		run -0 "$(bin tcpmon-tap)" --list "$f"
		run -0 "$(bin tcpmon-grep)" --since 2000-01-01T00:00:00Z "$f"
		run -0 bash -c "'$(bin tcpmon-throttle)' < '$f' | '$(bin tcpmon-fmt-json)' > /dev/null"
	done
	# A cut one is bad input: one line, exit 2.
	head -c 1000 "$(ls "$T"/cap.tcpmon.*.gz | head -n 1)" > "$T/cut.gz"
	run -2 --separate-stderr "$(bin tcpmon-tap)" "$T/cut.gz"
	assert_equal "$stderr" "tcpmon-tap: $T/cut.gz: record 1 at byte 0: damaged or cut gzip data" ||
	    [[ $stderr == "tcpmon-tap: $T/cut.gz: record "*": damaged or cut gzip data" ]]
}

@test "rotate: --rotate-time starts a new file every period, none while nothing happens" {
	start_peer server trickle
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" -o "$T/cap.tcpmon" --rotate-time 1s
	bg client python3 "$TESTS_DIR/relay-peer.py" client trickle "$RELAY_PORT"
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(ls "$T" | grep -c '^cap.tcpmon\.')" -ge 2 ] && break
		sleep 0.1
	done
	[ "$(ls "$T" | grep -c '^cap.tcpmon\.')" -ge 2 ]
	stop_relay
	for f in $(parts); do rp "$f" kinds > /dev/null; done
}

@test "rotate: SIGHUP reopens -o once logrotate moved it; a file not moved is kept" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	echo_n 1
	wait_count "$T/cap.tcpmon" '^TCPMON/1 close ' 1
	# Not moved: nothing is truncated, the relay says so and goes on.
	kill -HUP "$RELAY_PID"
	wait_for "$T/relay.err" 'SIGHUP: .*cap.tcpmon was not moved: writing on'
	kill -0 "$RELAY_PID"
	mv "$T/cap.tcpmon" "$T/cap.tcpmon.1"
	kill -HUP "$RELAY_PID"
	wait_for "$T/relay.err" 'SIGHUP: .*cap.tcpmon reopened'
	head -c 1000 /dev/urandom > "$T/in9"
	echo_xfer "$T/in9" "$RELAY_PORT" "$T/out9"
	cmp "$T/in9" "$T/out9"
	wait_count "$T/cap.tcpmon" '^TCPMON/1 close ' 1
	stop_relay
	[ "$BG_STATUS" -eq 0 ]
	rp "$T/cap.tcpmon.1" payload 1 c2s | cmp - "$T/in0"
	rp "$T/cap.tcpmon" payload 2 c2s | cmp - "$T/in9"
	run -0 rp "$T/cap.tcpmon" kinds
	assert_line --index 0 --regexp '^stream 0 - 0$'
	[ "$(stat -c %a "$T/cap.tcpmon")" = 600 ]
}

@test "rotate: usage errors" {
	run -2 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --rotate-size 1m
	assert_equal "$stderr" "tcpmon-relay: --rotate-*: only with -o FILE"
	run -2 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 -o "$T/c" --rotate-keep 3
	assert_equal "$stderr" "tcpmon-relay: --rotate-keep, --rotate-gzip: give --rotate-size or --rotate-time"
	run -2 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 -o "$T/c" --rotate-size 10
	assert_equal "$stderr" "tcpmon-relay: --rotate-size 10: too small (4k to 1024t)"
	run -2 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 -o "$T/c" --rotate-time 10ms
	assert_equal "$stderr" "tcpmon-relay: --rotate-time 10ms: too small (1s at least)"
	run -2 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 -o /dev/null --rotate-size 1m
	assert_equal "$stderr" "tcpmon-relay: --rotate-*: /dev/null is not a regular file"
}
