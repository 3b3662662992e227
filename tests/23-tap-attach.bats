#!/usr/bin/env bats
# tcpmon-tap --attach: following a running relay's tap socket live.  The
# relay's side is played by a Python server sending a capture in steps,
# and by socat serving what a real relay writes as it writes it.

load helpers

# serve_steps SOCK GATE PART1 PART2: sends PART1 to the first viewer, waits
# for the file GATE, sends PART2 and closes; "ready" on stdout once it
# listens.
serve_steps() {
	python3 -c '
import os, socket, sys, time
path, gate, p1, p2 = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.sendall(open(p1, "rb").read())
deadline = time.time() + 20
while not os.path.exists(gate) and time.time() < deadline:
    time.sleep(0.02)
c.sendall(open(p2, "rb").read())
c.close()' "$@"
}

@test "attach: records are shown as they come, until the relay closes the socket" {
	{
	mkrec stream 0 - 2026-11-22T10:00:00Z '' tool=tcpmon-relay version=0.1.0
	mkrec open 1 - 2026-11-22T10:00:01Z '' client=c:1 target=s:1
	mkrec data 1 c2s 2026-11-22T10:00:02Z 'GET /first HTTP/1.1\r\n\r\n'
	mkrec close 1 - 2026-11-22T10:00:03Z '' reason=eof c2s=23 s2c=0
	} > "$T/p1"
	{
	mkrec open 2 - 2026-11-22T10:00:04Z '' client=c:2 target=s:1
	mkrec data 2 c2s 2026-11-22T10:00:05Z 'GET /second HTTP/1.1\r\n\r\n'
	mkrec note 0 - 2026-11-22T10:00:06Z 'closing this tap: the viewer is too slow' level=warning
	} > "$T/p2"
	bg server serve_steps "$T/sock" "$T/gate" "$T/p1" "$T/p2"
	wait_for "$T/server.out" '^ready$'
	bg tap "$(bin tcpmon-tap)" --attach "$T/sock"
	TAP_PID=$BG_PID
	# Shown while the relay has sent nothing more: no end of input needed.
	wait_for "$T/tap.out" '\[#1\] close: eof'
	! grep -q 'second' "$T/tap.out"
	touch "$T/gate"
	wait_exit "$TAP_PID"
	[ "$BG_STATUS" -eq 0 ]
	grep -q '^GET /second HTTP/1.1$' "$T/tap.out"
	grep -q 'note warning: closing this tap: the viewer is too slow$' "$T/tap.out"
}

@test "attach: a live relay with connections coming and going" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/live.tcpmon"
	# socat stands in for the relay's tap socket: it serves what the
	# relay writes, as it writes it.  Its SYSTEM: child outlives socat
	# (nothing tells it socat is gone until it writes, and the file no
	# longer grows): --pid ends the tail with the relay.
	bg tapsock socat -d -d UNIX-LISTEN:"$T/tap.sock" \
	    SYSTEM:"exec tail -c +1 -f --pid=$RELAY_PID $T/live.tcpmon"
	TAPSOCK_PID=$BG_PID
	wait_for "$T/tapsock.err" 'listening on'
	bg tap "$(bin tcpmon-tap)" --attach "$T/tap.sock"
	TAP_PID=$BG_PID
	wait_for "$T/tap.out" '^=== tcpmon-relay '
	timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "first visitor" > /dev/null
	wait_for "$T/tap.out" '\[#1\] close: eof; 14 bytes up, 14 bytes down'
	timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "second visitor" > /dev/null
	wait_for "$T/tap.out" '\[#2\] close: eof; 15 bytes up, 15 bytes down'
	grep -q '^second visitor$' "$T/tap.out"
	kill -TERM "$TAPSOCK_PID"
	wait_exit "$TAP_PID"
	[ "$BG_STATUS" -eq 0 ]
}

@test "attach: no relay there is exit 1; --attach with files is bad usage" {
	run -1 --separate-stderr "$(bin tcpmon-tap)" --attach "$T/none.sock"
	assert_equal "$stderr" "tcpmon-tap: attach $T/none.sock: No such file or directory"
	run -2 --separate-stderr "$(bin tcpmon-tap)" --attach "$T/none.sock" some.tcpmon
	assert_equal "$stderr" "tcpmon-tap: some.tcpmon: --attach reads no files"
	run -2 "$(bin tcpmon-tap)" --attach "$T/$(printf '%0200d' 0)"
}

@test "attach: a stream that is not records is refused with the socket named" {
	printf 'HTTP/1.1 200 OK\r\n\r\n' > "$T/p1"
	: > "$T/p2"
	touch "$T/gate"
	bg server serve_steps "$T/sock" "$T/gate" "$T/p1" "$T/p2"
	wait_for "$T/server.out" '^ready$'
	run -2 --separate-stderr timeout 10 "$(bin tcpmon-tap)" --attach "$T/sock"
	assert_equal "$stderr" "tcpmon-tap: $T/sock: record 1 at byte 0: not a tcpmon record stream"
}
