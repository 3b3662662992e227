#!/usr/bin/env bats
# tcpmon-relay: addresses and listeners: IPv6, Unix sockets on either side,
# several listeners in one process, --max-conns.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

@test "addrs: IPv6 on both sides, recorded with brackets" {
	bg echo6 socat -d -d TCP6-LISTEN:0,bind=[::1],reuseaddr,fork EXEC:cat
	wait_for "$T/echo6.err" 'listening on'
	local eport
	eport=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/echo6.err" | head -n 1)
	start_relay -l '[::1]:0' -t "[::1]:$eport"
	grep -q "listening on \[::1\]:$RELAY_PORT\$" "$T/relay.err"
	run -0 timeout 10 socat -t 5 - "TCP6:[::1]:$RELAY_PORT" <<< "over six"
	assert_output "over six"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	run -0 rp "$T/relay.out" field 1 open client
	assert_output --regexp '^\[::1\]:[0-9]+$'
	run -0 rp "$T/relay.out" field 1 open listen
	assert_output "[::1]:$RELAY_PORT"
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "[::1]:$eport"
}

@test "addrs: Unix sockets on both sides; the listening socket is 0600 and removed at exit" {
	bg uecho socat -d -d UNIX-LISTEN:"$T/e.sock",fork EXEC:cat
	wait_for "$T/uecho.err" 'listening on'
	start_relay -l unix:"$T/r.sock" -t unix:"$T/e.sock"
	grep -q "listening on unix:$T/r.sock\$" "$T/relay.err"
	[ "$(stat -c %a "$T/r.sock")" = 600 ]
	run -0 timeout 10 socat -t 5 - UNIX-CONNECT:"$T/r.sock" <<< "local daemon"
	assert_output "local daemon"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	[ ! -e "$T/r.sock" ]
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "unix:$T/e.sock"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output eof
	run -0 rp "$T/relay.out" payload 1 s2c
	assert_output "local daemon"
}

@test "addrs: a socket file left by a killed relay is replaced; a live relay's socket and other files are not" {
	bg uecho socat -d -d UNIX-LISTEN:"$T/e.sock",fork EXEC:cat
	wait_for "$T/uecho.err" 'listening on'
	# A relay killed outright leaves its sockets behind.
	start_relay -l unix:"$T/r.sock" -t unix:"$T/e.sock" --tap "$T/tap.sock"
	kill -KILL "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ -S "$T/r.sock" ] && [ -S "$T/tap.sock" ]
	start_relay -l unix:"$T/r.sock" -t unix:"$T/e.sock" --tap "$T/tap.sock"
	run -0 timeout 10 socat -t 5 - UNIX-CONNECT:"$T/r.sock" <<< "second life"
	assert_output "second life"
	[ "$(stat -c %a "$T/r.sock")" = 600 ] && [ "$(stat -c %a "$T/tap.sock")" = 600 ]
	# The live relay's sockets are not taken over by a second one.
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" -l unix:"$T/r.sock" -t unix:"$T/e.sock"
	assert_equal "$stderr" "tcpmon-relay: listen unix:$T/r.sock: Address already in use"
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" -l 0 -t unix:"$T/e.sock" --tap "$T/tap.sock"
	[[ $stderr == *"$T/tap.sock"*"Address already in use"* ]]
	run -0 timeout 10 socat -t 5 - UNIX-CONNECT:"$T/r.sock" <<< "still served"
	assert_output "still served"
	# A file that is not a socket is never removed.
	echo keep > "$T/plain"
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" -l unix:"$T/plain" -t unix:"$T/e.sock"
	[ "$(cat "$T/plain")" = keep ]
}

@test "addrs: one process serves several listeners (IPv4, IPv6, Unix), each to its own target" {
	start_echo
	bg uecho socat -d -d UNIX-LISTEN:"$T/e.sock",fork SYSTEM:'tr a-z A-Z'
	wait_for "$T/uecho.err" 'listening on'
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -l '[::1]:0' -t unix:"$T/e.sock" \
	    -l unix:"$T/r.sock" -t 127.0.0.1:"$ECHO_PORT"
	run -0 grep -c 'listening on' "$T/relay.err"
	assert_output 3
	local p6
	p6=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\)$/\1/p' "$T/relay.err")
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "one"
	assert_output "one"
	run -0 timeout 10 socat -t 5 - "TCP6:[::1]:$p6" <<< "two"
	assert_output "TWO"
	run -0 timeout 10 socat -t 5 - UNIX-CONNECT:"$T/r.sock" <<< "three"
	assert_output "three"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	run -0 rp "$T/relay.out" field 2 open target
	assert_output "unix:$T/e.sock"
	run -0 rp "$T/relay.out" field 3 open listen
	assert_output "unix:$T/r.sock"
	run -0 grep -ac '^TCPMON/1 close .*reason=eof' "$T/relay.out"
	assert_output 3
}

@test "addrs: --max-conns holds further clients in the queue, says so, and serves them later" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" --max-conns 2
	mkfifo "$T/f1" "$T/f2"
	timeout 30 socat -t 10 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/f1" > "$T/c1" 3>&- &
	local c1=$!
	timeout 30 socat -t 10 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/f2" > "$T/c2" 3>&- &
	local c2=$!
	exec 4> "$T/f1" 5> "$T/f2"
	wait_count "$T/relay.out" '^TCPMON/1 open ' 2
	wait_for "$T/relay.err" '2 connections open \(--max-conns 2\): not accepting more for now'
	# The third waits in the listen queue, not refused.
	timeout 30 socat -t 10 - TCP:127.0.0.1:"$RELAY_PORT" <<< "third" > "$T/c3" 3>&- 4>&- 5>&- &
	local c3=$!
	echo first >&4
	wait_for "$T/c1" first
	run -0 grep -ac '^TCPMON/1 open ' "$T/relay.out"
	assert_output 2
	exec 4>&-
	wait "$c1"
	wait "$c3"
	run -0 cat "$T/c3"
	assert_output third
	exec 5>&-
	wait "$c2"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	run -0 grep -ac '^TCPMON/1 close .*reason=eof' "$T/relay.out"
	assert_output 3
}
