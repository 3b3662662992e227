#!/usr/bin/env bats
# tcpmon-relay when things go wrong around it: a stop mid-transfer, a reader
# of the records that goes away, a full disk, bytes just before a reset,
# signals, two relays on one capture, a stalled reader.  The rule: a
# connection the relay does not carry to its end is reset on both sides,
# never closed as if it were complete, and the records say so.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# trickle_pair: a server and a client that both send and read until the
# other side ends, through the relay (already started); waits until bytes
# have gone both ways.
trickle_pair() {
	bg client python3 "$TESTS_DIR/relay-peer.py" client trickle "$RELAY_PORT"
	CLIENT_PID=$BG_PID
}

# cpu_ticks PID: user + system time of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

@test "faults: SIGTERM mid-transfer resets both peers; the close record says reason=stopped reset=both" {
	start_peer server trickle
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT"
	trickle_pair
	wait_for "$T/relay.out" 'dir=s2c'
	wait_for "$T/relay.out" 'dir=c2s'
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	wait_exit "$CLIENT_PID" 20
	wait_exit "$PEER_PID" 20
	run -0 cat "$T/client.out"
	assert_output "client reset"
	run -0 grep -v listening "$T/server.out"
	assert_output "server reset"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output stopped
	run -0 rp "$T/relay.out" field 1 close reset
	assert_output both
}

@test "faults: a reader of the records that goes away resets every open connection; exit 1, one line" {
	start_peer server trickle
	mkfifo "$T/fifo"
	# The reader: head, gone after the first bytes of the stream.
	bg head head -c 2000 "$T/fifo"
	start_relay_to "$T/fifo" -l 0 -t 127.0.0.1:"$PEER_PORT"
	trickle_pair
	wait_exit "$BG_PID"
	wait_exit "$RELAY_PID" 20
	[ "$BG_STATUS" -eq 1 ]
	wait_exit "$CLIENT_PID" 20
	wait_exit "$PEER_PID" 20
	run -0 cat "$T/client.out"
	assert_output "client reset"
	run -0 grep -v listening "$T/server.out"
	assert_output "server reset"
	run -0 sed -n 2p "$T/relay.err"
	assert_output "tcpmon-relay: stdout: the reader of the records is gone; 1 connection reset"
}

# A small file system of its own (root, as make test is), with FREE KiB
# left free by a filler file.
small_disk() {
	mkdir -p "$T/disk"
	mount -t tmpfs -o size=16m tmpfs "$T/disk" || skip "cannot mount a tmpfs here"
	DISK_MOUNTED=1
	head -c $(((16384 - $1) * 1024)) /dev/zero > "$T/disk/filler" 2>/dev/null || true
}

# The disk goes first, lazily: the relay may still hold its capture open.
teardown() {
	if [ -n "${DISK_MOUNTED:-}" ]; then
		umount -l "$T/disk"
	fi
	common_teardown
}

@test "faults: a full disk pauses the traffic (lossless), says so, and every byte goes through once it has room" {
	small_disk 1024
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/disk/cap.tcpmon"
	head -c 4194304 /dev/urandom > "$T/in"
	# No half-close before the whole echo is back: socat's echo gives up
	# on the other direction 0.5 s after an EOF, and the pause is longer.
	timeout 60 python3 - "$T/in" "$RELAY_PORT" "$T/out" 3>&- <<'PY' &
import socket, sys, threading
data = open(sys.argv[1], 'rb').read()
s = socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=50)
threading.Thread(target=s.sendall, args=(data,)).start()
got = bytearray()
while len(got) < len(data):
    b = s.recv(1 << 20)
    if not b:
        break
    got += b
s.close()
open(sys.argv[3], 'wb').write(got)
PY
	local xfer=$!
	wait_for "$T/relay.err" 'No space left on device: traffic paused until it can be written' 20
	# Held back, not cut: the client has not got it all, and is waiting.
	sleep 1
	kill -0 "$xfer"
	rm "$T/disk/filler"
	wait "$xfer"
	cmp "$T/in" "$T/out"
	wait_for "$T/relay.err" 'writing again after [0-9]+ ms'
	wait_count "$T/disk/cap.tcpmon" '^TCPMON/1 close ' 1
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	# The capture is whole, with every byte and a note of the pause.
	rp "$T/disk/cap.tcpmon" payload 1 c2s | cmp - "$T/in"
	rp "$T/disk/cap.tcpmon" payload 1 s2c | cmp - "$T/in"
	run -0 rp "$T/disk/cap.tcpmon" field 1 close reason
	assert_output eof
	grep -aq '^tcpmon-relay: write .*cap.tcpmon: writing again after [0-9]* ms (No space left on device)$' "$T/disk/cap.tcpmon"
}

@test "faults: a full disk with --lossy lets the traffic flow and counts what went unrecorded" {
	small_disk 1024
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/disk/cap.tcpmon" --lossy
	head -c 8388608 /dev/urandom > "$T/in"
	echo_xfer "$T/in" "$RELAY_PORT" "$T/out"
	cmp "$T/in" "$T/out"
	wait_for "$T/relay.err" 'No space left on device: records are dropped'
	rm "$T/disk/filler"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID" 20
	[ "$BG_STATUS" -eq 0 ]
	grep -aq 'went unrecorded' "$T/disk/cap.tcpmon"
	# What was recorded plus what was noted as dropped is all there was.
	peer digests "$T/disk/cap.tcpmon" > "$T/digests"
	run -0 awk '$1 == "note" { d += $3 } $1 != "note" { r += $4 } END { print d + r }' "$T/digests"
	assert_output 16777216
}

@test "faults: a full disk at exit: the relay waits a while, then exits 1 saying what was left unwritten" {
	small_disk 256
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/disk/cap.tcpmon"
	head -c 1048576 /dev/urandom > "$T/in"
	echo_xfer "$T/in" "$RELAY_PORT" "$T/out" 3>&- &
	wait_for "$T/relay.err" 'traffic paused' 20
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID" 30
	[ "$BG_STATUS" -eq 1 ]
	grep -q 'write .*/disk/cap.tcpmon: No space left on device; records unwritten; ' "$T/relay.err" ||
	    grep -q 'write .*/disk/cap.tcpmon: No space left on device; records unwritten$' "$T/relay.err"
}

@test "faults: bytes a client sends just before its reset are delivered and recorded, then the server is reset" {
	start_peer server count
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT"
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client send-reset=5000 "$RELAY_PORT"
	wait_exit "$PEER_PID" 20
	run -0 grep -v listening "$T/server.out"
	assert_output "server reset 5000"
	wait_count "$T/relay.out" '^TCPMON/1 close ' 1
	run -0 rp "$T/relay.out" field 1 close c2s
	assert_output 5000
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output reset
	run -0 rp "$T/relay.out" field 1 close by
	assert_output client
	run -0 rp "$T/relay.out" field 1 close reset
	assert_output server
}

@test "faults: 200 KiB sent just before a reset all reach the server, ten times of ten" {
	local k
	for k in 1 2 3 4 5 6 7 8 9 10; do
		rm -f "$T/relay.err"	# the next relay's port, not the last's
		start_peer "server$k" count
		start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" -o "$T/cap$k.tcpmon"
		run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client send-reset=204800 "$RELAY_PORT"
		wait_exit "$PEER_PID" 20
		run -0 grep -v listening "$T/server$k.out"
		assert_output "server reset 204800"
		kill -TERM "$RELAY_PID"
		wait_exit "$RELAY_PID"
		run -0 rp "$T/cap$k.tcpmon" field 1 close c2s
		assert_output 204800
	done
}

@test "faults: SIGHUP, SIGUSR1, SIGUSR2 and SIGALRM end the relay as SIGTERM does, with whole records" {
	local sig
	start_echo
	for sig in HUP USR1 USR2 ALRM; do
		rm -f "$T/relay.err"
		start_relay_to "$T/$sig.tcpmon" -l 0 -t 127.0.0.1:"$ECHO_PORT"
		mkfifo "$T/fifo$sig"
		timeout 20 socat -t 10 PIPE:"$T/fifo$sig" TCP:127.0.0.1:"$RELAY_PORT" > /dev/null 3>&- &
		local cpid=$!
		exec 4> "$T/fifo$sig"
		echo ping >&4
		wait_for "$T/$sig.tcpmon" 'dir=s2c'
		kill -"$sig" "$RELAY_PID"
		wait_exit "$RELAY_PID"
		exec 4>&-
		wait "$cpid" || true
		[ "$BG_STATUS" -eq 0 ]
		run -0 rp "$T/$sig.tcpmon" field 1 close reason
		assert_output stopped
		run -0 "$(bin tcpmon-tap)" --list "$T/$sig.tcpmon"
	done
}

@test "faults: a second relay on the same -o file is refused, naming the first; the first's capture is intact" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "first"
	wait_for "$T/cap.tcpmon" '^TCPMON/1 close '
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	assert_equal "$stderr" "tcpmon-relay: $T/cap.tcpmon: in use by another process (pid $RELAY_PID, tcpmon-relay)"
	grep -aq '^first$' "$T/cap.tcpmon"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	run -0 rp "$T/cap.tcpmon" payload 1 c2s
	assert_output first
}

@test "faults: -o refuses a symbolic link and another user's file, and makes an existing file 0600" {
	start_echo
	echo keep > "$T/target"
	ln -s "$T/target" "$T/link"
	run -1 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/link"
	assert_equal "$stderr" "tcpmon-relay: $T/link: a symbolic link: refused (name the file itself)"
	run -0 cat "$T/target"
	assert_output keep
	touch "$T/theirs"
	chown nobody "$T/theirs"
	run -1 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/theirs"
	assert_equal "$stderr" "tcpmon-relay: $T/theirs: owned by another user (uid $(id -u nobody)): refused"
	echo old > "$T/mine"
	chmod 666 "$T/mine"
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/mine"
	[ "$(stat -c %a "$T/mine")" = 600 ]
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	! grep -q old "$T/mine"
}

@test "faults: a relay that cannot listen leaves no -o file behind, and an existing one untouched" {
	start_echo
	bg busy python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True); time.sleep(60)'
	wait_for "$T/busy.out" 'listening on'
	local port
	port=$(port_of "$T/busy.out")
	run -1 "$(bin tcpmon-relay)" -l 127.0.0.1:"$port" -t 127.0.0.1:"$ECHO_PORT" -o "$T/new.tcpmon"
	[ ! -e "$T/new.tcpmon" ]
	echo "earlier capture" > "$T/old.tcpmon"
	run -1 "$(bin tcpmon-relay)" -l 127.0.0.1:"$port" -t 127.0.0.1:"$ECHO_PORT" -o "$T/old.tcpmon"
	run -0 cat "$T/old.tcpmon"
	assert_output "earlier capture"
}

@test "faults: no busy loop while the reader of the records is stalled and peers hang up" {
	start_peer server trickle
	mkfifo "$T/fifo"
	bg_in reader "$T/fifo" python3 "$TESTS_DIR/relay-peer.py" slowread "$T/go"
	start_relay_to "$T/fifo" -l 0 -t 127.0.0.1:"$PEER_PORT"
	# The server sends; the reader takes nothing, so the relay's output
	# fills and the connection waits for room.  Then the client hangs up
	# both ways (the relay had passed on the server's bytes, not its end).
	bg client python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x" * 6000000)
time.sleep(2)
s.close()
print("closed", flush=True)
time.sleep(30)' "$RELAY_PORT"
	wait_for "$T/client.out" closed 30
	sleep 0.5
	local t0 t1
	t0=$(cpu_ticks "$RELAY_PID")
	sleep 3
	t1=$(cpu_ticks "$RELAY_PID")
	# A busy loop burns all 300 ticks of 3 s; waiting burns none.
	[ $((t1 - t0)) -le 30 ] || { echo "relay used $((t1 - t0)) ticks in 3 s" >&2; false; }
	touch "$T/go"
	wait_count "$T/reader.out" '^TCPMON/1 close ' 1 30
}

@test "faults: --tap in a directory other users may write (no sticky bit) is refused" {
	mkdir -m 0777 "$T/open"
	chmod 0777 "$T/open"
	run -1 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --tap "$T/open/tap.sock"
	assert_equal "$stderr" "tcpmon-relay: --tap $T/open/tap.sock: $T/open is writable by other users and not sticky: refused"
	[ ! -e "$T/open/tap.sock" ]
	chmod 1777 "$T/open"
	start_relay -l 0 -t 127.0.0.1:9 --tap "$T/open/tap.sock"
	wait_for "$T/relay.err" "viewers attach to unix:$T/open/tap.sock"
}
