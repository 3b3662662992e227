#!/usr/bin/env bats
# tcpmon-relay: where the records go.  --tap viewers that attach, detach and
# stall; lossless backpressure and --lossy; a closed stdout; the terminal
# view; SIGTERM with connections open.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

@test "output: a viewer attaches at any time, gets a stream record then what follows; detaching harms nothing" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" --tap "$T/tap.sock"
	wait_for "$T/relay.err" "viewers attach to unix:$T/tap.sock"
	[ "$(stat -c %a "$T/tap.sock")" = 600 ]
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "before"
	bg v1 socat -u UNIX-CONNECT:"$T/tap.sock" -
	local v1=$BG_PID
	wait_count "$T/v1.out" '^TCPMON/1 stream ' 1
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "during"
	wait_count "$T/v1.out" '^TCPMON/1 close ' 1
	kill "$v1"
	wait "$v1" || true
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "after"
	assert_output after
	bg v2 socat -u UNIX-CONNECT:"$T/tap.sock" -
	wait_count "$T/v2.out" '^TCPMON/1 stream ' 1
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "last"
	wait_count "$T/v2.out" '^TCPMON/1 close ' 1
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	[ ! -e "$T/tap.sock" ]
	# The first viewer saw connection 2 only, the second connection 4.
	run -0 rp "$T/v1.out" kinds
	assert_line --index 0 "stream 0 - 0"
	assert_line --index 1 "open 2 - 0"
	refute_line --partial "open 1 "
	refute_line --partial "open 3 "
	run -0 rp "$T/v1.out" payload 2 c2s
	assert_output during
	run -0 rp "$T/v2.out" kinds
	assert_line --index 0 "stream 0 - 0"
	assert_line --index 1 "open 4 - 0"
	run -0 rp "$T/v2.out" field 4 close reason
	assert_output eof
	# The relay's own output has all four, whatever the viewers did.
	run -0 grep -ac '^TCPMON/1 close .*reason=eof' "$T/relay.out"
	assert_output 4
}

@test "output: a viewer that stops reading is cut off and told why; the traffic never waits for it" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" --tap "$T/tap.sock"
	bg stall python3 "$TESTS_DIR/relay-peer.py" viewer "$T/tap.sock" "$T/stall.rec" "$T/go"
	wait_for "$T/stall.out" attached
	bg good socat -u UNIX-CONNECT:"$T/tap.sock" -
	local good=$BG_PID
	wait_count "$T/good.out" '^TCPMON/1 stream ' 1
	head -c 16777216 /dev/urandom > "$T/in"
	timeout 30 socat -t 10 -b 262144 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/in" > "$T/out"
	cmp "$T/in" "$T/out"
	wait_for "$T/relay.err" 'viewer 1 cut off: it did not keep up with the traffic'
	touch "$T/go"
	wait_for "$T/stall.out" 'viewer done'
	# Its stream ends with a note that says why, after whole records.
	run -0 rp "$T/stall.rec" kinds
	assert_line --index 0 "stream 0 - 0"
	run -0 python3 - "$T/stall.rec" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
nl = d.rstrip(b'\n').rfind(b'\nTCPMON/1 ')
print(d[nl + 1:].decode('ascii', 'replace').split('\n')[1])
PY
	assert_output --partial "viewer cut off: it did not keep up with the traffic"
	# The main output notes it, and still holds every byte.
	grep -aq '^TCPMON/1 note conn=0 .* viewer=1 ' "$T/relay.out"
	wait_count "$T/relay.out" '^TCPMON/1 close ' 1
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	peer digests "$T/relay.out" > "$T/digests"
	run -0 awk '{ print $2, $4 }' "$T/digests"
	assert_line "c2s 16777216"
	assert_line "s2c 16777216"
	# The other viewer, cut off or not, got whole records only.
	wait_exit "$good"
	peer digests "$T/good.out" > /dev/null
}

@test "output: lossless by default: a stalled reader of the records holds the traffic back, with bounded memory" {
	start_echo
	mkfifo "$T/fifo"
	# The reader holds the fifo open but does not read it yet.
	bg_in reader2 "$T/fifo" python3 "$TESTS_DIR/relay-peer.py" slowread "$T/go"
	start_relay_to "$T/fifo" -l 0 -t 127.0.0.1:"$ECHO_PORT"
	head -c 33554432 /dev/urandom > "$T/in"
	timeout 60 socat -t 30 -b 262144 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/in" > "$T/out" 3>&- &
	local cpid=$!
	# Traffic moves only as far as the output buffers allow: after a
	# while, far from all of it went through.
	local i
	for i in $(seq 20); do sleep 0.1; done
	[ "$(stat -c %s "$T/out")" -lt 16777216 ]
	kill -0 "$cpid"
	[ "$(rss_kib "$RELAY_PID")" -lt 65536 ]
	touch "$T/go"
	wait "$cpid"
	cmp "$T/in" "$T/out"
	wait_count "$T/reader2.out" '^TCPMON/1 close ' 1 30
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	peer digests "$T/reader2.out" > "$T/digests"
	run -0 cat "$T/digests"
	refute_output --partial dropped
	run -0 awk '{ print $2, $4 }' "$T/digests"
	assert_line "c2s 33554432"
	assert_line "s2c 33554432"
}

@test "output: --lossy lets the traffic through a stalled reader and notes what went unrecorded" {
	start_echo
	mkfifo "$T/fifo"
	bg_in reader "$T/fifo" python3 "$TESTS_DIR/relay-peer.py" slowread "$T/go"
	start_relay_to "$T/fifo" -l 0 -t 127.0.0.1:"$ECHO_PORT" --lossy
	head -c 33554432 /dev/urandom > "$T/in"
	# No one reads the records, yet the traffic goes through in full.
	timeout 60 socat -t 30 -b 262144 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/in" > "$T/out"
	cmp "$T/in" "$T/out"
	touch "$T/go"
	wait_count "$T/reader.out" '^TCPMON/1 close ' 1 30
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	grep -aq '^TCPMON/1 note conn=0 .* level=warning dropped-records=[1-9][0-9]* dropped-bytes=[1-9][0-9]* ' "$T/reader.out"
	grep -aq 'went unrecorded' "$T/reader.out"
	# What was recorded plus what was noted as dropped is all there was.
	peer digests "$T/reader.out" > "$T/digests"
	run -0 awk '$1 == "note" { d += $3 } $1 != "note" { r += $4 } END { print d + r }' "$T/digests"
	assert_output 67108864
}

@test "output: a closed stdout ends the relay, exit 1 with one line, resets the connection and removes its socket" {
	start_echo
	mkfifo "$T/fifo"
	bg head head -c 10 "$T/fifo"
	start_relay_to "$T/fifo" -l unix:"$T/r.sock" -t 127.0.0.1:"$ECHO_PORT"
	wait_exit "$BG_PID"
	timeout 10 socat -t 5 - UNIX-CONNECT:"$T/r.sock" <<< "x" > /dev/null || true
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 1 ]
	run -0 cat "$T/relay.err"
	assert_output "tcpmon-relay: listening on unix:$T/r.sock
tcpmon-relay: stdout: the reader of the records is gone; 1 connection reset"
	[ ! -e "$T/r.sock" ]
}

@test "output: on a terminal, the relay shows the traffic through tcpmon-tap" {
	start_echo
	# script(1) gives the relay a terminal for stdout.
	bg term script -qec "sh -c 'echo \$\$ > $T/pid; exec $(bin tcpmon-relay) -l 0 -t 127.0.0.1:$ECHO_PORT 2> $T/relay.err'" "$T/typescript"
	wait_for "$T/relay.err" 'listening on'
	RELAY_PORT=$(port_of "$T/relay.err")
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "hello terminal"
	kill -TERM "$(cat "$T/pid")"
	wait_exit "$BG_PID"
	run -0 cat "$T/typescript"
	assert_output --partial "hello terminal"
	refute_output --partial "TCPMON/1 "
}

@test "output: SIGTERM with connections open writes a close record (stopped) for each, exit 0" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	local i pids=()
	mkfifo "$T/f"
	for i in 1 2 3 4 5; do
		timeout 30 socat -t 10 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/f" > "$T/c$i" 3>&- &
		pids+=($!)
	done
	exec 4> "$T/f"
	wait_count "$T/cap.tcpmon" '^TCPMON/1 open ' 5
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	exec 4>&-
	for i in "${pids[@]}"; do wait "$i" || true; done
	run -0 grep -ac '^TCPMON/1 close .* reason=stopped ' "$T/cap.tcpmon"
	assert_output 5
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/cap.tcpmon" kinds
	assert_line --index 10 --regexp '^close [0-9] - 0$'
}

@test "output: at exit, a reader that takes nothing is waited for 10 s, not for ever: exit 1, the loss counted" {
	start_echo
	mkfifo "$T/fifo"
	# The reader holds the fifo open and never reads it.
	bg_in reader3 "$T/fifo" sleep 120
	start_relay_to "$T/fifo" -l 0 -t 127.0.0.1:"$ECHO_PORT"
	head -c 16777216 /dev/urandom > "$T/in"
	timeout 60 socat -t 30 -b 262144 - TCP:127.0.0.1:"$RELAY_PORT" < "$T/in" > "$T/out" 3>&- &
	local cpid=$!
	# The output fills, the traffic waits.
	wait_for "$T/relay.err" 'listening on'
	local i
	for i in $(seq 20); do sleep 0.1; done
	kill -0 "$cpid"
	local t0=$SECONDS
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID" 30
	[ "$BG_STATUS" -eq 1 ]
	[ $((SECONDS - t0)) -ge 9 ]
	run -0 cat "$T/relay.err"
	assert_line --regexp "^tcpmon-relay: stdout: the reader took nothing for 10 s at exit; [0-9]+ bytes of records unwritten$"
	kill "$cpid" 2>/dev/null || true
}
