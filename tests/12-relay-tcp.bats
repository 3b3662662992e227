#!/usr/bin/env bats
# tcpmon-relay: TCP semantics passed on and recorded: half-closes both ways,
# resets both ways, refused, unreachable and silent targets, idle timeout.
# The listener must keep serving after each.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# still_serves: the relay answers a fresh connection through an echo server
# on its second listener (-l 0 -t echo after the one under test).
still_serves() {
	local port
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/relay.err" | sed -n 2p)
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$port" <<< "still here"
	assert_output "still here"
}

# through_peer MODE [ARGS...]: an echo server, a relay-peer.py server in
# MODE, and a relay with a listener for each (the peer's first).
through_peer() {
	local mode=$1
	shift
	start_echo
	start_peer server "$mode"
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" -l 0 -t 127.0.0.1:"$ECHO_PORT" "$@"
}

stop_relay() {
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
}

@test "tcp: the client half-closes; the server's answer still arrives" {
	through_peer halfclose-wait
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client halfclose-wait "$RELAY_PORT"
	assert_output "client got: got 7 bytes"
	wait_for "$T/server.out" 'server got: request'
	still_serves
	stop_relay
	# The shutdown of c2s comes before the answer, and is recorded so.
	run -0 rp "$T/relay.out" kinds
	assert_line --index 2 "data 1 c2s 7"
	assert_line --index 3 "shutdown 1 c2s 0"
	assert_line --index 4 "data 1 s2c 11"
	assert_line --index 5 "shutdown 1 s2c 0"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output eof
}

@test "tcp: the server half-closes first; the client's late bytes still arrive" {
	through_peer halfclose-first
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client halfclose-first "$RELAY_PORT"
	assert_output "client got: hello from server"
	wait_for "$T/server.out" 'server got: late data$'
	still_serves
	stop_relay
	run -0 rp "$T/relay.out" kinds
	assert_line --index 2 "data 1 s2c 17"
	assert_line --index 3 "shutdown 1 s2c 0"
	assert_line --index 4 "data 1 c2s 9"
	assert_line --index 5 "shutdown 1 c2s 0"
	run -0 rp "$T/relay.out" field 1 close c2s
	assert_output 9
}

@test "tcp: a reset from the server resets the client" {
	through_peer reset
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client expect-reset "$RELAY_PORT"
	assert_output reset
	still_serves
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output reset
	run -0 rp "$T/relay.out" field 1 close by
	assert_output server
}

@test "tcp: a reset from the client resets the server" {
	through_peer hold
	# The hold server does not echo: the client resets after its send.
	run -0 timeout 20 python3 - "$RELAY_PORT" <<'PY'
import socket, struct, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
s.sendall(b'x')
time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
PY
	wait_for "$T/server.out" 'server saw'
	run -0 cat "$T/server.out"
	assert_line "server saw reset"
	still_serves
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output reset
	run -0 rp "$T/relay.out" field 1 close by
	assert_output client
}

@test "tcp: a refused target resets the client, is recorded with its error, twice" {
	local dead
	start_echo
	dead=$(free_port)
	start_relay -l 0 -t 127.0.0.1:"$dead" -l 0 -t 127.0.0.1:"$ECHO_PORT"
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client expect-reset "$RELAY_PORT"
	assert_output reset
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client expect-reset "$RELAY_PORT"
	assert_output reset
	still_serves
	stop_relay
	run -0 rp "$T/relay.out" field 2 close reason
	assert_output refused
	run -0 rp "$T/relay.out" field 2 close error
	assert_output "connect 127.0.0.1:$dead: Connection refused"
	run -0 rp "$T/relay.out" field 2 close by
	assert_output server
}

@test "tcp: an unreachable target resets the client and is recorded as unreachable" {
	unshare -n true 2>/dev/null || skip "needs unshare -n (a network namespace)"
	# A namespace of our own with loopback only: 192.0.2.1 has no route.
	run -0 timeout 30 unshare -n sh -c '
		ip link set lo up
		"$1" -l 0 -t 192.0.2.1:80 -o "$2/cap" 2> "$2/err" & rpid=$!
		i=0
		until grep -qs "listening on" "$2/err"; do
			i=$((i + 1)); [ $i -lt 200 ] || exit 9; sleep 0.05
		done
		port=$(sed -n "s/.*:\([0-9]*\)$/\1/p" "$2/err" | head -n 1)
		python3 "$3" client expect-reset "$port"
		kill -TERM $rpid; wait $rpid' sh "$(bin tcpmon-relay)" "$T" \
	    "$TESTS_DIR/relay-peer.py"
	assert_output reset
	run -0 rp "$T/cap" field 1 close reason
	assert_output unreachable
	run -0 rp "$T/cap" field 1 close error
	assert_output "connect 192.0.2.1:80: Network is unreachable"
}

@test "tcp: a target that never answers times out (--connect-timeout) and resets the client" {
	through_peer blackhole --connect-timeout 300ms
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client expect-reset "$RELAY_PORT"
	assert_output reset
	still_serves
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output timeout
	run -0 rp "$T/relay.out" field 1 close error
	assert_output "connect 127.0.0.1:$PEER_PORT: Connection timed out"
}

@test "tcp: --idle-timeout closes a connection on which nothing moves" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -l 0 -t 127.0.0.1:"$ECHO_PORT" \
	    --idle-timeout 400ms
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client idle "$RELAY_PORT"
	assert_output --regexp '^eof after 0\.[3-9]s$'
	still_serves
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output timeout
	run -0 rp "$T/relay.out" field 2 close reason
	assert_output eof
}
