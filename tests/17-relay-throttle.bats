#!/usr/bin/env bats
# tcpmon-throttle as a stage of the real relay, on real connections: what
# the far side receives, and when.  Lower bounds on time are strict, upper
# bounds loose: a loaded two-core machine may be late, never early.

load helpers

thr() { printf '%s --seed 1 %s' "$(bin tcpmon-throttle)" "$*"; }
rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# start_dl N: a server that sends N random bytes ($T/blob) to each client,
# then closes; sets DL_PORT.
start_dl() {
	head -c "$1" /dev/urandom > "$T/blob"
	bg dl socat -d -d TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork \
	    "SYSTEM:cat $T/blob"
	wait_for "$T/dl.err" 'listening on' || return 1
	DL_PORT=$(port_of "$T/dl.err")
}

# fetch PORT [SEND]: connects, sends SEND (if any) and half-closes, reads
# to the end into $T/got; prints "BYTES MS END" (END: eof or reset) on
# stdout, MS from connect to the last byte.
fetch() {
	timeout 60 python3 - "$1" "$T/got" "${2-}" <<'PY'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=30)
t0 = time.monotonic()
if sys.argv[3]:
    s.sendall(sys.argv[3].encode())
    s.shutdown(socket.SHUT_WR)
got, end, last = b'', 'eof', t0
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
        last = time.monotonic()
except ConnectionResetError:
    end, last = 'reset', time.monotonic()
open(sys.argv[2], 'wb').write(got)
print(len(got), int((last - t0) * 1000), end)
PY
}

@test "throttle in the relay: --rate paces what the far side receives" {
	start_dl 204800
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --rate 100k)"
	read -r n ms end < <(fetch "$RELAY_PORT")
	[ "$n" -eq 204800 ] && [ "$end" = eof ]
	cmp "$T/blob" "$T/got"
	# 200 KiB at 100 KiB/s: the last piece no sooner than 1.9 s.
	[ "$ms" -ge 1850 ] && [ "$ms" -le 6000 ]
}

@test "throttle in the relay: --bytes N --delay MS pauses after every N bytes" {
	start_dl 10240
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --bytes 1024 --delay 100)"
	read -r n ms end < <(fetch "$RELAY_PORT")
	[ "$n" -eq 10240 ]
	cmp "$T/blob" "$T/got"
	# 10 pieces, 9 pauses of 100 ms between them.
	[ "$ms" -ge 890 ] && [ "$ms" -le 5000 ]
}

@test "throttle in the relay: --latency delays each way" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" --through "$(thr --latency 300)"
	read -r n ms end < <(fetch "$RELAY_PORT" hello)
	[ "$n" -eq 5 ] && [ "$(cat "$T/got")" = hello ]
	# There and back: twice the latency.
	[ "$ms" -ge 590 ] && [ "$ms" -le 4000 ]
}

@test "throttle in the relay: --up and --down slow one direction only" {
	start_dl 102400
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --up --rate 20k)"
	read -r n ms end < <(fetch "$RELAY_PORT")
	[ "$n" -eq 102400 ] && [ "$ms" -le 2500 ]
	stop_relay
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --down --rate 50k)"
	read -r n ms end < <(fetch "$RELAY_PORT")
	[ "$n" -eq 102400 ] && [ "$ms" -ge 1850 ]
}

@test "throttle in the relay: --cut-after closes both sides after N bytes, recorded as cut" {
	start_dl 100000
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --down --cut-after 1000)"
	read -r n ms end < <(fetch "$RELAY_PORT")
	[ "$n" -eq 1000 ] && [ "$end" = eof ]
	cmp <(head -c 1000 "$T/blob") "$T/got"
	wait_count "$T/relay.out" '^TCPMON/1 close .*at=delivered' 1
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/relay.out" field 1 close reason
	assert_output cut
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/relay.out" field 1 close fault
	assert_output cut-after
	stop_relay
}

@test "throttle in the relay: --reset-after resets both sides that long after the open" {
	start_peer server hold
	start_relay -l 0 -t 127.0.0.1:"$PEER_PORT" --through "$(thr --reset-after 400)"
	local t0 t1
	t0=$(date +%s%N)
	run -0 timeout 20 python3 "$TESTS_DIR/relay-peer.py" client expect-reset "$RELAY_PORT"
	t1=$(date +%s%N)
	assert_output reset
	[ $(((t1 - t0) / 1000000)) -ge 390 ]
	wait_for "$T/server.out" 'server saw'
	run -0 cat "$T/server.out"
	assert_line "server saw reset"
}

@test "throttle in the relay: --stall-after holds a direction open with nothing more" {
	start_dl 10000
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --down --stall-after 3000)"
	# Reading for 1.5 s gets the 3000 bytes and no end.
	run -0 timeout 20 python3 - "$RELAY_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1.5)
got = b''
try:
    while True:
        b = s.recv(65536)
        if not b:
            print('eof')
            break
        got += b
except socket.timeout:
    pass
print(len(got))
PY
	assert_output 3000
}

@test "throttle in the relay: --slice delivers in pieces, all bytes kept" {
	start_dl 5000
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --slice 100:5)"
	read -r n ms end < <(fetch "$RELAY_PORT")
	[ "$n" -eq 5000 ]
	cmp "$T/blob" "$T/got"
	# 50 pieces, 49 pauses of 5 ms.
	[ "$ms" -ge 240 ]
	wait_count "$T/relay.out" '^TCPMON/1 close .*at=delivered' 1
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/relay.out" kinds
	[ "$(printf '%s\n' "$output" | awk '$1 == "data" && $4 > 100' | wc -l)" -eq 0 ]
	[ "$(printf '%s\n' "$output" | awk '$1 == "data"' | wc -l)" -eq 50 ]
}

@test "throttle in the relay: --corrupt flips bytes on the wire, recorded as sent and as delivered" {
	start_dl 100000
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" --through "$(thr --corrupt 0.01)"
	read -r n ms end < <(fetch "$RELAY_PORT")
	[ "$n" -eq 100000 ]
	! cmp -s "$T/blob" "$T/got"
	# About 1000 bytes differ: between 500 and 1500.
	diffs=$(cmp -l "$T/blob" "$T/got" | wc -l)
	[ "$diffs" -ge 500 ] && [ "$diffs" -le 1500 ]
	wait_count "$T/relay.out" '^TCPMON/1 close .*at=delivered' 1
	stop_relay
	# The capture has both: what the server sent, what the client got.
	RP_AT=sent rp "$T/relay.out" payload 1 s2c | cmp - "$T/blob"
	RP_AT=delivered rp "$T/relay.out" payload 1 s2c | cmp - "$T/got"
	# Changed bytes are the bytes on the wire: no xform.
	! grep -aq '^TCPMON/1 data .*xform=' "$T/relay.out"
}

@test "throttle in the relay: a throttled connection does not slow another" {
	start_dl 204800
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$DL_PORT" -l 0 -t 127.0.0.1:"$ECHO_PORT" \
	    --through "$(thr --down --rate 50k)"
	local eport
	eport=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/relay.err" | sed -n 2p)
	fetch "$RELAY_PORT" > "$T/slow" &
	local slow=$!
	sleep 0.5
	# The slow download has about 3.5 s to go; the echo takes none of it.
	read -r n ms end < <(fetch "$eport" ping)
	[ "$n" -eq 4 ] && [ "$ms" -le 1000 ]
	kill -0 "$slow"
	wait "$slow"
	read -r n ms end < "$T/slow"
	[ "$n" -eq 204800 ] && [ "$ms" -ge 3800 ]
}

@test "throttle in the relay: a stage with bad options fails the relay at once, before it listens" {
	run -1 timeout 20 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --through "tcpmon-throttle --rate nonsense"
	assert_output "tcpmon-throttle: --rate nonsense: invalid
tcpmon-relay: stage 'tcpmon-throttle --rate nonsense': exited with status 2 at start"
}
