#!/usr/bin/env bats
# tcpmon-throttle as a plain record filter: identity, what passes untouched,
# reproducible runs, and clear refusals of bad arguments and bad input.

load throttle

@test "throttle: with no option it is the identity (cat), byte for byte, on a real capture" {
	capture 200000
	run -0 bash -c "'$(bin tcpmon-throttle)' < '$T/cap.tcpmon' > '$T/out'"
	cmp "$T/cap.tcpmon" "$T/out"
	# From a pipe as well as from a file.
	cat "$T/cap.tcpmon" | timeout 20 "$(bin tcpmon-throttle)" | cat > "$T/out2"
	cmp "$T/cap.tcpmon" "$T/out2"
}

@test "throttle: shaped traffic keeps every byte of each direction, and the stream stays valid" {
	capture 300000
	timeout 30 "$(bin tcpmon-throttle)" --slice 7000 --latency 5 --jitter 5 \
	    --seed 1 < "$T/cap.tcpmon" > "$T/out"
	bytes_of "$T/out" 1 c2s | cmp - "$T/sent"
	bytes_of "$T/out" 1 s2c | cmp - "$T/sent"
	run -0 "$(bin tcpmon-tap)" "$T/out"
	assert_line --regexp 'close: eof; 300000 bytes up, 300000 bytes down$'
	# Pieces of at most 7000 bytes, re-stamped with their release time.
	run python3 "$TESTS_DIR/recparse.py" "$T/out" kinds
	refute_line --regexp '^data 1 c2s (700[1-9]|70[1-9][0-9]|7[1-9][0-9]{2}|[89][0-9]{3}|[0-9]{5,})$'
}

@test "throttle: records of unknown kinds, notes and unknown fields pass untouched, in order" {
	{
		rec stream 0 "tool=x version=1"
		rec open 1 "client=a listen=b target=c"
		data 1 c2s 3000
		rec future 1 "shiny=yes" "abc"
		rec note 0 "level=info" "hello"
		data 1 c2s 10
		rec close 1 "reason=eof c2s=3010 s2c=0 extra=%41"
	} > "$T/in"
	timeout 20 "$(bin tcpmon-throttle)" --rate 10k < "$T/in" > "$T/out"
	grep -aq '^TCPMON/1 future conn=1 src=h time=2026-01-01T00:00:00.000000Z shiny=yes len=3$' "$T/out"
	grep -aq '^TCPMON/1 note conn=0 src=h time=2026-01-01T00:00:00.000000Z level=info len=5$' "$T/out"
	# The open of a shaped connection carries the time it was released.
	grep -aq '^TCPMON/1 open conn=1 src=h time=20[0-9-]*T[0-9:.]*Z client=a' "$T/out"
	! grep -aq '^TCPMON/1 open conn=1 src=h time=2026-01-01T00:00:00.000000Z' "$T/out"
	grep -aq ' reason=eof c2s=3010 s2c=0 extra=A len=0$' "$T/out"
	# The unknown record stays after the 3000 bytes before it and before
	# the 10 bytes after it; the note of the stream (conn 0) belongs to no
	# connection, so it goes as soon as it is read, before the pieces of
	# conn 1 that --rate holds.
	run python3 "$TESTS_DIR/recparse.py" "$T/out" kinds
	assert_equal "$(printf '%s\n' "${lines[@]}" | tr '\n' ,)" \
	    "stream 0 - 0,open 1 - 0,data 1 c2s 1024,note 0 - 5,data 1 c2s 1024,data 1 c2s 952,future 1 - 3,data 1 c2s 10,close 1 - 0,"
}

@test "throttle: the same --seed gives the same records in each direction; another seed others" {
	capture 100000
	local a=(--corrupt 0.01 --jitter 3 --slice 5000 --probability 1) i
	# How the two directions interleave depends on timing; what each
	# carries does not.
	for i in 1 2 3; do
		thr "${a[@]}" --seed $((41 + (i + 1) / 2)) < "$T/cap.tcpmon" > "$T/raw$i"
		{
			grep -a '^TCPMON/1 data .* dir=c2s ' "$T/raw$i"
			grep -a '^TCPMON/1 data .* dir=s2c ' "$T/raw$i"
			bytes_of "$T/raw$i" 1 c2s
			bytes_of "$T/raw$i" 1 s2c
		} | sed 's/ time=[^ ]*//' > "$T/o$i"
	done
	cmp "$T/o1" "$T/o2"
	! cmp -s "$T/o1" "$T/o3"
	grep -aq ' corrupt=[1-9]' "$T/o1"
}

@test "throttle: bad arguments are one line and exit 2" {
	local bad=(
		"--rate 0|--rate 0: too small"
		"--rate 10x|--rate 10x: invalid"
		"--bytes 1024|--bytes and --delay go together"
		"--delay 100|--bytes and --delay go together"
		"--latency 1y|--latency 1y: invalid"
		"--jitter 25h|--jitter 25h: too large"
		"--slice 0|--slice 0: size too small"
		"--slice 8:soon|--slice 8:soon: pause invalid"
		"--corrupt 2|--corrupt 2: too large"
		"--probability half|--probability half: invalid"
		"--cut-after -1|--cut-after -1: invalid"
		"--seed x|--seed x: invalid"
		"--max-queue 1k|--max-queue 1k: too small"
		"extra|extra: unexpected argument (records come on stdin)"
	)
	local b
	for b in "${bad[@]}"; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr "$(bin tcpmon-throttle)" ${b%%|*}
		assert_equal "$stderr" "tcpmon-throttle: ${b#*|}"
	done
	run -2 --separate-stderr "$(bin tcpmon-throttle)" --bogus
	[[ $stderr == *"unrecognized option"*"usage: tcpmon-throttle"* ]]
	run -0 "$(bin tcpmon-throttle)" --help
	assert_line --index 0 --partial "usage: tcpmon-throttle [--up | --down]"
}

@test "throttle: corrupt input names the record and offset, exits 2, and what came before still goes out" {
	{ rec open 1 "client=a"; data 1 c2s 50; } > "$T/good"
	local off
	off=$(stat -c %s "$T/good")
	{ cat "$T/good"; printf 'TCPMON/1 data conn=1 dir=c2s len=9\nabc\n'; } > "$T/bad"
	run -2 --separate-stderr "$(bin tcpmon-throttle)" --latency 100 < "$T/bad"
	assert_equal "$stderr" "tcpmon-throttle: stdin: record 3 at byte $off: truncated record: 39 of 45 bytes"
	# Held by --latency, so stamped with its release time.
	assert_equal "$(sed 's/ time=[^ ]*//' <<< "$output")" \
	    "$(sed 's/ time=[^ ]*//' "$T/good")"
	printf 'GET / HTTP/1.0\r\n\r\n' > "$T/http"
	run -2 --separate-stderr "$(bin tcpmon-throttle)" < "$T/http"
	assert_equal "$stderr" "tcpmon-throttle: stdin: record 1 at byte 0: not a tcpmon record stream"
}

@test "throttle: a small --max-queue stops reading, but everything still comes out in order" {
	# Built by hand: 2 MB each way in records of 16 KiB, on 3 connections.
	{
		for c in 1 2 3; do rec open "$c" "client=a"; done
		for i in $(seq 1 40); do
			for c in 1 2 3; do data "$c" c2s 16384; data "$c" s2c 16384; done
		done
		for c in 1 2 3; do rec close "$c" "reason=eof"; done
	} > "$T/in"
	timeout 60 "$(bin tcpmon-throttle)" < "$T/in" > "$T/want"
	cmp "$T/in" "$T/want"
	timeout 60 "$(bin tcpmon-throttle)" --max-queue 64k --slice 30000 < "$T/in" > "$T/out"
	for c in 1 2 3; do
		cmp <(bytes_of "$T/out" "$c" c2s) <(bytes_of "$T/in" "$c" c2s)
		cmp <(bytes_of "$T/out" "$c" s2c) <(bytes_of "$T/in" "$c" s2c)
	done
	# Through a pipe that is read late: back-pressure, no loss.
	cat "$T/in" | timeout 60 "$(bin tcpmon-throttle)" --max-queue 64k --rate 8m |
	    { sleep 0.5; cat; } > "$T/out2"
	cmp <(bytes_of "$T/out2" 2 s2c) <(bytes_of "$T/in" 2 s2c)
	[ "$(grep -ac '^TCPMON/1 close ' "$T/out2")" -eq 3 ]
}

@test "throttle: an empty input is an empty output; a reader that goes away is not an error" {
	run -0 "$(bin tcpmon-throttle)" --rate 1k < /dev/null
	assert_output ""
	capture 100000
	run -0 bash -c "'$(bin tcpmon-throttle)' --slice 100 < '$T/cap.tcpmon' | head -c 10"
}

@test "throttle --help: a line of meaning for every long option, and the man page" {
	help_covers tcpmon-throttle throttle/throttle.c
}

@test "throttle: a shaped connection's open and close carry their release times, in order with its data" {
	{
		rec stream 0 "tool=x version=1"
		rec open 1 "client=a listen=b target=c"
		data 1 c2s 2000
		rec close 1 "reason=eof c2s=2000 s2c=0"
	} > "$T/in"
	timeout 20 "$(bin tcpmon-throttle)" --rate 10k < "$T/in" > "$T/out"
	# Every record of the connection: times that never go back, and none
	# of the capture's (2026-01-01).
	run -0 python3 - "$T/out" <<'PY'
import sys
t = []
for line in open(sys.argv[1], 'rb'):
    if line.startswith(b'TCPMON/1 ') and b' conn=1 ' in line:
        t.append(line.split(b' time=')[1].split(b' ')[0].decode())
print(len(t), t == sorted(t), any(x.startswith('2026-01-01') for x in t))
PY
	assert_output "4 True False"
}
