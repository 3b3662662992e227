# tests/throttle.bash - loaded by the tcpmon-throttle suites: record streams
# built by hand, captures from the real relay, and timing of the output.

load helpers

thr() { "$(bin tcpmon-throttle)" "$@"; }

# rec KIND CONN FIELDS [PAYLOAD]: one record on stdout (FIELDS may be "").
rec() {
	local kind=$1 conn=$2 fields=$3 payload=${4-}
	printf 'TCPMON/1 %s conn=%s src=h time=2026-01-01T00:00:00.000000Z%s len=%d\n%s\n' \
	    "$kind" "$conn" "${fields:+ $fields}" "${#payload}" "$payload"
}

# data CONN DIR N: a data record of N bytes ("a" to "z" over and over).
data() {
	printf 'TCPMON/1 data conn=%s src=h time=2026-01-01T00:00:00.000000Z dir=%s len=%d\n' \
	    "$1" "$2" "$3"
	local s=abcdefghijklmnopqrstuvwxyz
	while [ "${#s}" -lt "$3" ]; do s=$s$s; done
	printf '%s\n' "${s:0:$3}"
}

# conn_recs CONN C2S S2C: a whole connection: open, a data record each way
# of those sizes (none when 0), both shutdowns, close.
conn_recs() {
	rec open "$1" "client=127.0.0.1:5000$1 listen=127.0.0.1:80 target=127.0.0.1:8080"
	[ "$2" -gt 0 ] && data "$1" c2s "$2"
	[ "$3" -gt 0 ] && data "$1" s2c "$3"
	rec shutdown "$1" dir=c2s
	rec shutdown "$1" dir=s2c
	rec close "$1" "reason=eof c2s=$2 s2c=$3"
}

# timed FILE ARGS...: runs tcpmon-throttle ARGS on FILE; $T/timed gets
# "MS KIND CONN DIR LEN" per record, MS since tcpmon-throttle started.
timed() {
	local in=$1
	shift
	timeout 60 python3 "$TESTS_DIR/rectime.py" "$in" \
	    "$(bin tcpmon-throttle)" "$@" > "$T/timed" 3>&-
}

# at KIND CONN DIR [N]: the time (ms) of the Nth (default 1st) matching
# record in $T/timed; "last" for the last one.
at() {
	local n=${4:-1}
	if [ "$n" = last ]; then
		awk -v k="$1" -v c="$2" -v d="$3" \
		    '$2 == k && $3 == c && $4 == d { t = $1 } END { print t }' "$T/timed"
	else
		awk -v k="$1" -v c="$2" -v d="$3" -v n="$n" \
		    '$2 == k && $3 == c && $4 == d && ++i == n { print $1; exit }' "$T/timed"
	fi
}

# bytes_of FILE CONN DIR: the payload of CONN and DIR, through the
# independent reader.
bytes_of() { python3 "$TESTS_DIR/recparse.py" "$1" payload "$2" "$3"; }

# capture N: a capture of one real connection through the relay to a socat
# echo server, N random bytes each way (in $T/sent); in $T/cap.tcpmon.
capture() {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	head -c "$1" /dev/urandom > "$T/sent"
	echo_xfer "$T/sent" "$RELAY_PORT" "$T/echoed"
	cmp "$T/sent" "$T/echoed"
	wait_count "$T/cap.tcpmon" '^TCPMON/1 close ' 1
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
}
