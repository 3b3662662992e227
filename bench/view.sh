#!/usr/bin/env bash
# bench/view.sh - tcpmon-view driven in tmux, as a person uses it: the time
# to the first row and to the whole of a capture of bench/gencap.py
# (VIEW_MIB MiB, 1024 by default) and the peak RSS then; the rate of a
# filter (F) over it; the time a key takes to show on screen with 100,000
# connections loaded; and a relay's tap socket at a high connection rate,
# checking that the view's spool holds every connection the relay
# recorded.  Goals (issue 14): first screen within 1 s of a 1 GB capture,
# peak RSS under 64 MiB + 128 B per connection, filtering at 500 MB/s or
# more, a key answered within 50 ms with 100,000 connections, 5,000
# connections per second live without losing one.
#
# Times are read off the screen (tmux capture-pane, polled every few ms):
# what a person would see, polling included.
set -eu
. "$(dirname "$0")/lib.bash"
BIN=${TCPMON_BIN:-bin}
MIB=${VIEW_MIB:-1024}
LIVE_CONNS=${VIEW_LIVE_CONNS:-20000}
command -v tmux > /dev/null || die "tmux is missing (Debian: tmux)"
S=$D/tmux
trap 'set +e; tmux -S "$S" kill-server 2> /dev/null; cleanup' EXIT

mkdir -p build/bench
cap=build/bench/view-$MIB.tcpmon
if [ ! -s "$cap" ]; then
	timeout 900 python3 bench/gencap.py "$MIB" "$cap.tmp" || die "gencap failed"
	mv "$cap.tmp" "$cap"
fi
size=$(stat -c %s "$cap")
conns=$(grep -ac '^TCPMON/1 open ' "$cap" || true)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
screen() { tmux -S "$S" capture-pane -p; }

# waitfor REGEX SECONDS [LINE]: until the screen (or its line LINE) matches.
waitfor() {
	local re=$1 secs=$2 line=${3:-} end
	end=$(( $(now_ms) + secs * 1000 ))
	while [ "$(now_ms)" -lt "$end" ]; do
		if [ -n "$line" ]; then
			screen | sed -n "${line}p" | grep -Eq -- "$re" && return 0
		else
			screen | grep -Eq -- "$re" && return 0
		fi
		sleep 0.002
	done
	screen >&2
	die "timed out after ${secs}s waiting for /$re/"
}

# view ARGS...: tcpmon-view in a 160 x 50 tmux; VIEW_PID is its pid.
view() {
	local q cmd="exec env TERM=screen NO_COLOR=1 $BIN/tcpmon-view"
	for q in "$@"; do cmd+=" $(printf '%q' "$q")"; done
	tmux -S "$S" new-session -d -x 160 -y 50 "$cmd 2> $D/view.err"
	VIEW_PID=$(tmux -S "$S" display -p '#{pane_pid}')
}

quit() {
	tmux -S "$S" send-keys q
	timeout 10 tail --pid="$VIEW_PID" -f /dev/null || true
	tmux -S "$S" kill-server 2> /dev/null || true
}

hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# The view's own memory, with next to nothing loaded.
printf 'TCPMON/1 stream conn=0 src=b time=2026-12-04T00:00:00Z len=0\n\n' > "$D/empty.tcpmon"
view "$D/empty.tcpmon"
waitfor ' ended *$' 10
base=$(hwm "$VIEW_PID")
quit

printf 'tcpmon-view on %s MiB of records (%d bytes, %d connections)\n\n' \
    "$MIB" "$size" "$conns"
t0=$(now_ms)
view "$cap"
waitfor '^ +[0-9]+ (done|reset|active|refused|error|timeout) ' 30
first=$(( $(now_ms) - t0 ))
waitfor ' ended *$' 300
whole=$(( $(now_ms) - t0 ))
rss=$(hwm "$VIEW_PID")
per=$(( (rss - base) * 1024 / (conns > 0 ? conns : 1) ))
printf '%-44s %10s\n' 'first row on screen, ms' "$first"
printf '%-44s %10s\n' 'whole capture indexed, ms' "$whole"
printf '%-44s %10s\n' 'peak RSS, KiB (empty view)' "$rss ($base)"
printf '%-44s %10s\n' 'index bytes per connection' "$per"

tmux -S "$S" send-keys F
tmux -S "$S" send-keys -l 'soap:Fault'
t0=$(now_ms)
tmux -S "$S" send-keys Enter
waitfor 'filter: soap:Fault' 300 1
filt=$(( $(now_ms) - t0 ))
frate=$(awk -v b="$size" -v ms="$filt" 'BEGIN { printf "%.0f", (ms > 0 ? b / ms / 1000 : 0) }')
printf '%-44s %10s\n' 'filter soap:Fault over it, ms' "$filt"
printf '%-44s %10s\n' 'filter rate, MB/s' "$frate"
printf '%-44s %10s\n' 'rows shown / all' "$(screen | tail -n 1 | grep -Eo '[0-9]+/[0-9]+')"
quit

# 100,000 small HTTP connections: a key's time to the screen.
python3 - "$D/100k.tcpmon" << 'PY'
import sys
with open(sys.argv[1], "wb") as f:
    def rec(kind, c, extra, p=b""):
        f.write(b"TCPMON/1 %s conn=%d src=b time=2026-12-04T05:00:00.%06dZ%s len=%d\n"
                % (kind, c, c % 1000000, extra, len(p)) + p + b"\n")
    for c in range(1, 100001):
        rec(b"open", c, b" client=127.0.0.1:%d target=127.0.0.1:9090" % (10000 + c % 50000))
        rec(b"data", c, b" dir=c2s", b"GET /item/%d HTTP/1.1\r\nHost: x\r\n\r\n" % c)
        body = b'{"id": %d}' % c
        rec(b"data", c, b" dir=s2c", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        rec(b"close", c, b" reason=eof")
PY
view "$D/100k.tcpmon"
waitfor ' 100000/100000 exchanges ended' 60
lat=()
for ((i = 1; i <= 50; i++)); do
	t0=$(date +%s%N)
	tmux -S "$S" send-keys k
	waitfor "^ Request #$((100000 - i))( |\$)" 10
	lat+=($(( ($(date +%s%N) - t0) / 1000 )))
done
quit
read -r lmed lmax < <(printf '%s\n' "${lat[@]}" | sort -n |
    awk '{ v[NR] = $1 } END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }')
printf '%-44s %10s\n' 'key k with 100,000 loaded, median ms' "$lmed"
printf '%-44s %10s\n' 'key k with 100,000 loaded, max ms' "$lmax"

# Live: a relay's tap socket at the rate tcpbench connrate makes.
cc -O2 -D_GNU_SOURCE -pthread -o "$D/tcpbench" bench/tcpbench.c || die "cannot build tcpbench"
start echo "$D/tcpbench" echo
wait_listen "$D/echo.out"
eport=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$D/echo.out" | head -n 1)
start relay "$BIN/tcpmon-relay" -l 0 -t "127.0.0.1:$eport" --tap "$D/tap.sock" -o "$D/relay.tcpmon"
relay_pid=$LAST_PID
rport=$(relay_port relay)
for ((i = 0; i < 200; i++)); do [ -S "$D/tap.sock" ] && break; sleep 0.05; done
view --attach "$D/tap.sock" -o "$D/view.tcpmon"
waitfor 'attached to' 10
rate=$(timeout 180 "$D/tcpbench" connrate "$rport" "$LIVE_CONNS" 32) || die "connrate failed"
waitfor " $LIVE_CONNS/$LIVE_CONNS exchanges live" 120
quit
kill "$relay_pid"
wait "$relay_pid" 2> /dev/null || true
got=$(grep -ac '^TCPMON/1 open ' "$D/view.tcpmon" || true)
want=$(grep -ac '^TCPMON/1 open ' "$D/relay.tcpmon" || true)
printf '%-44s %10s\n' 'live through --attach, connections/s' "$rate"
printf '%-44s %10s\n' 'connections in the view spool / relay' "$got/$want"

verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo 'NOT met'; fi; }
limit=$(( 65536 + conns * 128 / 1024 ))
printf '\n%-44s %10s %10s  %s\n' target value needed verdict
printf '%-44s %10s %10s  %s\n' 'first screen, ms' "$first" '<= 1000' "$(verdict "$first <= 1000")"
printf '%-44s %10s %10s  %s\n' 'peak RSS, KiB' "$rss" "< $limit" "$(verdict "$rss < $limit")"
printf '%-44s %10s %10s  %s\n' 'filter, MB/s' "$frate" '>= 500' "$(verdict "$frate >= 500")"
printf '%-44s %10s %10s  %s\n' 'key with 100,000 loaded, max ms' "$lmax" '<= 50' "$(verdict "$lmax <= 50")"
printf '%-44s %10s %10s  %s\n' 'live connections/s' "$rate" '>= 5000' "$(verdict "$rate >= 5000")"
printf '%-44s %10s %10s  %s\n' 'live connections lost' "$((want - got))" '0' "$(verdict "$want == $got")"
echo
echo "mitmproxy's console cannot read tcpmon captures: the comparison is in bench/README.md (view)."
