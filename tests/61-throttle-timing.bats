#!/usr/bin/env bats
# tcpmon-throttle paces records in real time: each option's effect on when
# records come out.  Lower bounds are strict, upper bounds loose: a loaded
# two-core machine may be late, never early.

load throttle

@test "throttle --rate: 20 KiB at 10k/s takes about 2 s, in pieces, all bytes kept" {
	{ conn_recs 1 20480 0; } > "$T/in"
	timed "$T/in" --rate 10k
	# 20 pieces of 1 KiB, one every 100 ms: the last after 1.9 s.
	[ "$(grep -c ' data 1 c2s 1024$' "$T/timed")" -eq 20 ]
	[ "$(at data 1 c2s last)" -ge 1880 ]
	[ "$(at data 1 c2s last)" -le 3500 ]
	# "/s" is allowed, and m is MiB.
	run -0 "$(bin tcpmon-throttle)" --rate 1m/s < "$T/in"
}

@test "throttle --bytes N --delay MS: a pause after every N bytes of a direction" {
	{ conn_recs 1 5120 0; } > "$T/in"
	timed "$T/in" --bytes 1024 --delay 200
	# 5 pieces of 1024; 4 pauses of 200 ms between them.
	[ "$(grep -c ' data 1 c2s 1024$' "$T/timed")" -eq 5 ]
	# Piece i comes out no sooner than (i - 1) pauses after the start.
	local i
	for i in 2 3 4 5; do
		[ "$(at data 1 c2s "$i")" -ge $(((i - 1) * 200)) ]
	done
	[ "$(at data 1 c2s 5)" -le 2500 ]
}

@test "throttle --latency and --jitter: each record is held, order is kept" {
	{
		rec open 1 "client=a"
		for i in $(seq 1 20); do data 1 c2s "$i"; done
		rec close 1 "reason=eof"
	} > "$T/in"
	timed "$T/in" --latency 300
	[ "$(at data 1 c2s)" -ge 300 ]
	[ "$(at data 1 c2s)" -le 1500 ]
	timed "$T/in" --latency 200 --jitter 150 --seed 7
	# Never before latency - jitter; the sizes 1..20 come out in order.
	[ "$(at data 1 c2s)" -ge 45 ]
	[ "$(awk '$2 == "data" { printf "%s,", $5 }' "$T/timed")" = \
	    "$(seq -s, 1 20)," ]
}

@test "throttle --up and --down: only that direction is slowed" {
	{ conn_recs 1 4096 4096; } > "$T/in"
	timed "$T/in" --up --rate 4k
	# c2s: 4 KiB at 4 KiB/s, ~0.75 s from first to last; s2c at once.
	[ "$(at data 1 c2s last)" -ge 750 ]
	[ "$(at data 1 s2c)" -le 400 ]
	[ "$(grep -c ' data 1 s2c 4096$' "$T/timed")" -eq 1 ]
	timed "$T/in" --down --rate 4k
	[ "$(at data 1 s2c last)" -ge 750 ]
	[ "$(at data 1 c2s)" -le 400 ]
}

@test "throttle: a throttled connection never delays another" {
	# Two connections interleaved: 1 sends 8 KiB slowly (--up), 2 sends
	# only server-to-client, which --up leaves alone.
	{
		rec open 1 "client=a"
		rec open 2 "client=b"
		data 1 c2s 8192
		data 2 s2c 100
		data 1 c2s 10
		data 2 s2c 200
		rec close 2 "reason=eof"
		rec close 1 "reason=eof"
	} > "$T/in"
	timed "$T/in" --up --rate 4k
	[ "$(at close 2 -)" -le 400 ]
	[ "$(at data 1 c2s last)" -ge 1700 ]
	[ "$(at close 1 -)" -ge "$(at data 1 c2s last)" ]
}

@test "throttle --probability: the chosen share of connections is shaped, the rest pass at once" {
	{ for c in $(seq 1 40); do conn_recs "$c" 2048 0; done; } > "$T/in"
	timed "$T/in" --probability 0.5 --seed 5 --latency 500
	local slow fast
	slow=$(awk '$2 == "data" && $1 >= 500 { n++ } END { print n + 0 }' "$T/timed")
	fast=$(awk '$2 == "data" && $1 < 400 { n++ } END { print n + 0 }' "$T/timed")
	[ $((slow + fast)) -eq 40 ]
	[ "$slow" -ge 10 ] && [ "$slow" -le 30 ]
	# The same seed picks the same connections.
	awk '$1 >= 500 && $2 == "data" { print $3 }' "$T/timed" | sort > "$T/pick1"
	timed "$T/in" --probability 0.5 --seed 5 --latency 500
	awk '$1 >= 500 && $2 == "data" { print $3 }' "$T/timed" | sort > "$T/pick2"
	cmp "$T/pick1" "$T/pick2"
	run -0 "$(bin tcpmon-throttle)" --probability 0 --latency 10s < "$T/in"
}

@test "throttle --slice N:MS: records split into N-byte pieces with a pause between them" {
	{ conn_recs 1 1000 0; } > "$T/in"
	timed "$T/in" --slice 100:50
	[ "$(grep -c ' data 1 c2s 100$' "$T/timed")" -eq 10 ]
	[ "$(at data 1 c2s last)" -ge 450 ]
	[ "$(at data 1 c2s last)" -le 3000 ]
}

@test "throttle: paces a real capture for tcpmon-tap (filter mode)" {
	capture 16384
	local t0 t1
	t0=$(date +%s%N)
	timeout 30 "$(bin tcpmon-throttle)" --rate 16k < "$T/cap.tcpmon" |
	    "$(bin tcpmon-tap)" > "$T/shown"
	t1=$(date +%s%N)
	# 16 KiB each way at 16 KiB/s: each direction ~0.9 s, both at once.
	[ $(((t1 - t0) / 1000000)) -ge 850 ]
	grep -q 'close: eof; 16384 bytes up, 16384 bytes down' "$T/shown"
}
