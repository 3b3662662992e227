#!/usr/bin/env bats
# tcpmon-relay --through: stages in the data path.  `cat` changes nothing on
# the wire; a stage that changes records changes what the far side gets; a
# stage that exits, stalls or writes garbage ends the relay with status 1.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# echo_through ARGS...: an echo server and a relay to it with ARGS.
echo_through() {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" "$@"
}

# xfer N OUT: sends N random bytes (kept in $T/sent) through the relay
# while reading the echo into OUT, then half-closes.
xfer() {
	head -c "$1" /dev/urandom > "$T/sent"
	echo_xfer "$T/sent" "$RELAY_PORT" "$2"
}

# truncate_stage: the shell stage of tcpmon-relay(1), STAGES.
truncate_stage() {
	cat > "$T/truncate-stage" <<'SH'
#!/bin/sh
# passes everything on, but cuts each s2c data record to 5 bytes.
while IFS= read -r hdr; do
	len=${hdr##* len=}
	case $hdr in
	"TCPMON/1 data "*" dir=s2c "*)
		[ "$len" -gt 5 ] && n=5 || n=$len
		printf '%s\n' "${hdr% len=*} len=$n"
		head -c "$n"; head -c $((len - n)) >/dev/null ;;
	*)	printf '%s\n' "$hdr"; head -c "$len" ;;
	esac
	head -c 1	# the newline after the payload
done
SH
	chmod +x "$T/truncate-stage"
}

@test "stage: --through cat is the same as no stage, byte for byte, and recorded as sent and as delivered" {
	echo_through --through cat
	# Both ways at once through an echo server: enough to fill every
	# buffer on the way, which once closed a circle (bench/relay.sh).
	xfer 33554432 "$T/got"
	cmp "$T/sent" "$T/got"
	wait_count "$T/relay.out" '^TCPMON/1 close .* at=delivered' 1
	stop_relay
	[ "$BG_STATUS" -eq 0 ]
	RP_AT=sent rp "$T/relay.out" payload 1 c2s > "$T/c2s.sent"
	RP_AT=delivered rp "$T/relay.out" payload 1 c2s > "$T/c2s.deliv"
	RP_AT=delivered rp "$T/relay.out" payload 1 s2c > "$T/s2c.deliv"
	cmp "$T/sent" "$T/c2s.sent"
	cmp "$T/sent" "$T/c2s.deliv"
	cmp "$T/sent" "$T/s2c.deliv"
	# The close, as sent and as delivered.
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output $'eof\neof'
	run -0 rp "$T/relay.out" field 1 close at
	assert_output $'sent\ndelivered'
}

@test "stage: without --through the records have no at field" {
	echo_through
	xfer 1000 "$T/got"
	cmp "$T/sent" "$T/got"
	wait_count "$T/relay.out" '^TCPMON/1 close ' 1
	stop_relay
	run grep -ac ' at=' "$T/relay.out"
	assert_output 0
}

@test "stage: --through cat passes half-closes both ways as no stage does" {
	start_peer server halfclose-wait
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" --through cat
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client halfclose-wait "$RELAY_PORT"
	assert_output "client got: got 7 bytes"
	wait_for "$T/server.out" 'server got: request'
	wait_count "$T/relay.out" '^TCPMON/1 close .* at=delivered' 1
	stop_relay
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/relay.out" kinds
	assert_line --index 1 "open 1 - 0"
	assert_line --index 2 "data 1 c2s 7"
	assert_line --index 3 "shutdown 1 c2s 0"
	assert_line --index 4 "data 1 s2c 11"
	assert_line --index 5 "shutdown 1 s2c 0"
	assert_line --index 6 "close 1 - 0"
}

@test "stage: --through cat passes the server's half-close first, then the client's late bytes" {
	start_peer server halfclose-first
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" --through cat
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client halfclose-first "$RELAY_PORT"
	assert_output "client got: hello from server"
	wait_for "$T/server.out" 'server got: late data$'
	stop_relay
}

@test "stage: --through cat passes resets both ways" {
	start_peer server reset
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" --through cat
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client expect-reset "$RELAY_PORT"
	assert_output reset
	wait_count "$T/relay.out" '^TCPMON/1 close .* at=delivered' 1
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/relay.out" field 1 close reason
	assert_output reset
	stop_relay

	start_peer server2 hold
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" --through cat
	timeout 20 python3 - "$RELAY_PORT" <<'PY'
import socket, struct, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
s.sendall(b'x')
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()
PY
	wait_for "$T/server2.out" 'server saw'
	run -0 cat "$T/server2.out"
	assert_line "server saw reset"
	stop_relay
}

@test "stage: chained stages, cat | cat and tcpmon-throttle | cat" {
	echo_through --through cat --through cat
	xfer 500000 "$T/got"
	cmp "$T/sent" "$T/got"
	stop_relay
	echo_through --through "$(bin tcpmon-throttle) --latency 50" --through cat
	xfer 500000 "$T/got"
	cmp "$T/sent" "$T/got"
	stop_relay
	[ "$BG_STATUS" -eq 0 ]
}

@test "stage: a shell stage changes what the far side receives" {
	truncate_stage
	echo_through --through "$T/truncate-stage"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "hello, world"
	assert_output "hello"
	wait_count "$T/relay.out" '^TCPMON/1 close .* at=delivered' 1
	stop_relay
	# What was sent and what arrived, both recorded.
	run -0 env RP_AT=sent python3 "$TESTS_DIR/recparse.py" "$T/relay.out" payload 1 s2c
	assert_output "hello, world"
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/relay.out" payload 1 s2c
	assert_output "hello"
	# tcpmon-tap shows what was delivered, or with --at sent, what was sent.
	run -0 "$(bin tcpmon-tap)" --raw --conn 1 --dir response "$T/relay.out"
	assert_output "hello"
	run -0 "$(bin tcpmon-tap)" --at sent --raw --conn 1 --dir response "$T/relay.out"
	assert_output "hello, world"
	run -2 "$(bin tcpmon-tap)" --at nowhere "$T/relay.out"
}

# fails_with PATTERN: the relay ended with status 1, one stderr line
# naming the stage, a note level=error, and every connection closed with
# reason=error.
fails_with() {
	local st=0
	timeout 20 tail --pid="$RELAY_PID" -f /dev/null
	wait "$RELAY_PID" || st=$?
	[ "$st" -eq 1 ]
	run -0 grep -c "^tcpmon-relay: stage '.*': $1" "$T/relay.err"
	assert_output 1
	grep -aq "^TCPMON/1 note conn=0 .* level=error " "$T/relay.out"
}

@test "stage: a stage that exits: status 1, stderr, a note, connections closed with reason error" {
	cat > "$T/die-stage" <<'SH'
#!/bin/sh
# passes 3 records (stream, open, a data record), then exits 3.
for i in 1 2 3; do
	IFS= read -r hdr; len=${hdr##* len=}
	printf '%s\n' "$hdr"; head -c "$len"; head -c 1
done
exit 3
SH
	chmod +x "$T/die-stage"
	start_peer server hold
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" --through "$T/die-stage"
	run timeout 20 python3 "$TESTS_DIR/relay-peer.py" client idle "$RELAY_PORT"
	fails_with 'exited with status 3$'
	run -0 rp "$T/relay.out" field 1 close reason
	assert_line error
	run -0 rp "$T/relay.out" field 1 close error
	assert_line --partial "exited with status 3"
	wait_for "$T/server.out" 'server saw'

	# Passes the stream record on, so that the relay listens, then exits.
	start_relay -l 0 -t 127.0.0.1:9 --through 'head -n 2; sleep 1; exit 3'
	fails_with 'exited with status 3$'
}

@test "stage: a stage that cannot start fails before the relay listens: exit 1, one line" {
	run -1 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --through 'sh -c "exit 3"'
	assert_equal "$stderr" "tcpmon-relay: stage 'sh -c \"exit 3\"': exited with status 3 at start"
	run -1 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --through 'no-such-stage --rate 1k'
	assert_line --index 0 --partial 'no-such-stage: not found'
	assert_line --index 1 "tcpmon-relay: stage 'no-such-stage --rate 1k': exited with status 127 at start (command not found?)"
	[ "${#lines[@]}" -eq 2 ]
}

@test "stage: tcpmon-* stages are found beside the relay, as the README writes them" {
	start_echo
	# A PATH without the build tree, as a new user's shell has it.
	PATH=/usr/bin:/bin start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" --through 'tcpmon-throttle --rate 200k'
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "through the throttle"
	assert_output "through the throttle"
}

@test "stage: without pidfd_open (valgrind 3.19 lacks it), a stage's exit is still seen" {
	[[ $TCPMON_BIN != */san/* ]] || skip "valgrind cannot run an ASan build"
	# The stage passes the stream record on (the relay listens), then
	# its shell exits, but the sleep it leaves keeps the pipes open: only
	# the exit itself can tell the relay.
	valgrind -q --error-exitcode=9 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 \
	    --through 'sleep 30 & head -n 2; sleep 1; exit 3' > "$T/relay.out" 2> "$T/relay.err" < /dev/null 3>&- &
	RELAY_PID=$!
	BG_PIDS+=("$RELAY_PID")
	BG_NAMES+=(relay)
	wait_for "$T/relay.err" 'listening on' 30
	fails_with 'exited with status 3$'
	# valgrind refused pidfd_open (434): the fallback was the path taken.
	grep -Eq 'unhandled [a-z0-9]+-linux syscall: 434' "$T/relay.err"
}

@test "stage: what a stage that exited left running ends with the relay" {
	# It passes the stream record on (it started), then exits.
	start_relay -l 0 -t 127.0.0.1:9 \
	    --through "sleep 30 & echo \$! > $T/kid; head -n 2; exit 3"
	fails_with 'exited with status 3$'
	local kid
	kid=$(cat "$T/kid")
	BG_PIDS+=("$kid")	# teardown ends it if the relay did not
	BG_NAMES+=(kid)
	# Its own group: SIGTERM ends it at once, but not synchronously.
	timeout 5 tail --pid="$kid" -f /dev/null
}

@test "stage: a stage that stalls past --stage-timeout ends the relay" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" --through 'sleep 1000' --stage-timeout 700ms
	local t0=$SECONDS
	run timeout 20 socat -t 10 - TCP:127.0.0.1:"$RELAY_PORT" <<< "hello"
	refute_output --partial hello
	fails_with 'stalled: .*700ms'
	run -0 rp "$T/relay.out" field 1 close reason
	assert_line error
	[ $((SECONDS - t0)) -lt 15 ]
}

@test "stage: a stage that writes garbage ends the relay" {
	start_relay -l 0 -t 127.0.0.1:9 --through 'echo garbage; sleep 5'
	fails_with 'wrote what is not a record stream: .*not a tcpmon record stream'
}

@test "stage: a protocol violation (unknown connection) is named" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" --through "sed -u 's/conn=1 /conn=7 /'"
	run timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "hi"
	fails_with 'broke the stage protocol: .*connection 7 is not open'
}

@test "stage: SIGTERM stops and reaps every stage" {
	echo_through -v --through cat --through 'sleep 1000; :' --through cat
	wait_count "$T/relay.err" 'stage [0-9]: .*pid [0-9]+' 3
	pids=$(sed -n 's/.*stage [0-9]: .*, pid \([0-9]*\)$/\1/p' "$T/relay.err")
	[ "$(echo "$pids" | wc -l)" -eq 3 ]
	for p in $pids; do kill -0 "$p"; done
	stop_relay
	[ "$BG_STATUS" -eq 0 ]
	for p in $pids; do ! kill -0 "$p" 2>/dev/null; done
	# The sleep under sh went with its process group.
	run pgrep -f 'sleep 1000; :'
	[ "$status" -ne 0 ]
}

@test "stage: a stage that reads nothing goes with the relay when the relay is killed outright" {
	echo_through -v --through 'sleep 1000; :'
	wait_count "$T/relay.err" 'stage [0-9]: .*pid [0-9]+' 1
	local pid
	pid=$(sed -n 's/.*stage [0-9]: .*, pid \([0-9]*\)$/\1/p' "$T/relay.err")
	# The shell's sleep is in the stage's process group.
	pgrep -g "$pid" -f '^sleep 1000$'
	kill -9 "$RELAY_PID"
	wait_exit "$RELAY_PID"
	local i
	for ((i = 0; i < 100; i++)); do
		pgrep -g "$pid" > /dev/null || break
		sleep 0.1
	done
	run pgrep -g "$pid"
	[ "$status" -ne 0 ]
}

@test "stage: usage errors" {
	run -2 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --through ''
	run -2 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --through cat --stage-timeout 0
	run -2 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --through cat --stage-timeout x
	run -0 "$(bin tcpmon-relay)" --help
	assert_output --partial '--through CMD'
}
