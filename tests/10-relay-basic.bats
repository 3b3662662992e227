#!/usr/bin/env bats
# tcpmon-relay, first version: forwarding, records, refused targets, signals,
# bad arguments.  Real peers: socat as client and echo server.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

@test "relay: forwards both ways and records open, data, shutdown, close" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "hello relay"
	assert_output "hello relay"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	run -0 rp "$T/relay.out" kinds
	assert_line --index 0 "stream 0 - 0"
	assert_line --index 1 "open 1 - 0"
	assert_line "data 1 c2s 12"
	assert_line "data 1 s2c 12"
	assert_line "shutdown 1 c2s 0"
	assert_line "shutdown 1 s2c 0"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "eof"
	run -0 rp "$T/relay.out" field 1 close c2s
	assert_output "12"
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "127.0.0.1:$ECHO_PORT"
}

@test "relay: 4 MiB of random bytes each way arrive unchanged and are recorded exactly" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT"
	head -c 4194304 /dev/urandom > "$T/in"
	timeout 20 socat -t 10 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/in" > "$T/back"
	cmp "$T/in" "$T/back"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	rp "$T/relay.out" payload 1 c2s > "$T/rec.c2s"
	rp "$T/relay.out" payload 1 s2c > "$T/rec.s2c"
	cmp "$T/in" "$T/rec.c2s"
	cmp "$T/in" "$T/rec.s2c"
}

@test "relay: several connections at once keep their bytes apart" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT"
	local i pids=()
	for i in 1 2 3 4 5 6 7 8; do
		head -c $((i * 100000)) /dev/urandom > "$T/in$i"
		timeout 20 socat -t 10 - TCP:127.0.0.1:"$RELAY_PORT" \
		    < "$T/in$i" > "$T/out$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for i in 1 2 3 4 5 6 7 8; do cmp "$T/in$i" "$T/out$i"; done
	wait_count "$T/relay.out" '^TCPMON/1 close ' 8
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	run -0 grep -ac '^TCPMON/1 close .*reason=eof' "$T/relay.out"
	assert_output 8
}

@test "relay: a refused target resets the client and is recorded; the relay goes on" {
	local dead
	dead=$(free_port)
	start_relay -l 0 -t 127.0.0.1:"$dead"
	run timeout 10 socat -t 2 - TCP:127.0.0.1:"$RELAY_PORT" <<< "anyone?"
	[ "$status" -ne 0 ] || [ -z "$output" ]
	# The target still refuses: a reset again (socat may see it as a
	# failed write), and a second close record shows the relay went on.
	run timeout 10 socat -t 2 - TCP:127.0.0.1:"$RELAY_PORT" <<< "again"
	[ "$status" -ne 0 ] || [ -z "$output" ]
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "refused"
	run -0 rp "$T/relay.out" field 2 close reason
	assert_output "refused"
	grep -q "connect 127.0.0.1:$dead: Connection refused" "$T/relay.err"
}

@test "relay: SIGTERM closes open connections as stopped and exits 0" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT"
	mkfifo "$T/fifo"
	timeout 20 socat -t 10 PIPE:"$T/fifo" TCP:127.0.0.1:"$RELAY_PORT" > "$T/c.out" 3>&- &
	local cpid=$!
	exec 4> "$T/fifo"
	echo ping >&4
	wait_for "$T/relay.out" 'dir=s2c'
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	exec 4>&-
	wait "$cpid" || true
	[ "$BG_STATUS" -eq 0 ]
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "stopped"
}

@test "relay: writes records to -o FILE with mode 0600" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "x"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$(stat -c %a "$T/cap.tcpmon")" = 600 ]
	[ ! -s "$T/relay.out" ]
	run -0 rp "$T/cap.tcpmon" field 1 close reason
	assert_output eof
}

@test "relay: bad arguments give one line naming the problem and exit 2" {
	local r
	r=$(bin tcpmon-relay)
	run -2 --separate-stderr "$r"
	assert_equal "$stderr" "tcpmon-relay: nothing to do: give -l PORT -t HOST:PORT"
	run -2 --separate-stderr "$r" -l 0
	assert_equal "$stderr" "tcpmon-relay: -l 0: no -t for this listener"
	run -2 --separate-stderr "$r" -l 70000 -t 127.0.0.1:80
	assert_equal "$stderr" "tcpmon-relay: -l 70000: bad port (0 to 65535)"
	run -2 --separate-stderr "$r" -l 0 -t 80
	assert_equal "$stderr" "tcpmon-relay: -t 80: a target needs HOST:PORT"
	run -2 --separate-stderr "$r" -l 0 -t ::1:80
	assert_equal "$stderr" "tcpmon-relay: -t ::1:80: IPv6 addresses go in brackets: [ADDR]:PORT"
	run -2 --separate-stderr "$r" -l 0 -t 127.0.0.1:80 --idle-timeout 5x
	assert_equal "$stderr" "tcpmon-relay: --idle-timeout 5x: invalid"
	run -2 --separate-stderr "$r" --bogus
	[[ $stderr == *"unrecognized option"* ]]
	run -0 "$r" --version
	[[ $output == "tcpmon-relay "* ]]
}

@test "relay: a listen address in use is a clear failure, exit 1" {
	start_echo
	run -1 --separate-stderr "$(bin tcpmon-relay)" -l 127.0.0.1:"$ECHO_PORT" -t 127.0.0.1:1
	assert_equal "$stderr" "tcpmon-relay: listen 127.0.0.1:$ECHO_PORT: Address already in use"
}
