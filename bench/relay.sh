#!/usr/bin/env bash
# bench/relay.sh - tcpmon-relay side by side with a direct connection (the
# limit), socat and haproxy (TCP mode), on loopback, in one run: bulk
# throughput, ping-pong latency, connection rate, HTTP load (wrk against
# nginx) and the memory of 10,000 open connections.  Prints one table with
# the ratios; `make bench` runs it.  Sizes can be lowered for a quick look:
#	BULK_MIB=1024 PINGS=20000 CONNS=2000 WRK_SECS=5 HOLD=10000 bench/relay.sh
set -u
cd "$(dirname "$0")/.."
BIN=${TCPMON_BIN:-$PWD/bin}
BULK_MIB=${BULK_MIB:-1024}
PINGS=${PINGS:-20000}
CONNS=${CONNS:-2000}
INFLIGHT=${INFLIGHT:-100}
WRK_SECS=${WRK_SECS:-5}
HOLD=${HOLD:-10000}

for t in haproxy nginx wrk socat python3 cc; do
	command -v "$t" > /dev/null || PATH=$PATH:/usr/sbin
	command -v "$t" > /dev/null || { echo "bench: $t is missing (make deps-bench)" >&2; exit 1; }
done
# 10,000 connections through a relay need 20,000 descriptors and a few
# more: raise the limit if allowed, or hold as many as it allows.
ulimit -Hn 65536 2> /dev/null
ulimit -n "$(ulimit -Hn)" 2> /dev/null
HOLD_NOTE=
if [ "$(ulimit -n)" != unlimited ] && [ $((HOLD * 2 + 64)) -gt "$(ulimit -n)" ]; then
	HOLD_NOTE="(open-files limit $(ulimit -n): $HOLD lowered to $((($(ulimit -n) - 64) / 2)))"
	HOLD=$((($(ulimit -n) - 64) / 2))
fi

. bench/lib.bash

# wait_line FILE REGEX: waits up to 10 s for a line.
wait_line() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -Eq -- "$2" "$1" 2> /dev/null && return 0
		sleep 0.05
	done
	die "timed out waiting for /$2/ in $1: $(head -c 500 "$1")"
}

# wait_lines FILE N: waits up to 10 s for N "listening on" lines.
wait_lines() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -c 'listening on' "$1" 2> /dev/null || true)" -ge "$2" ] 2> /dev/null && return 0
		sleep 0.05
	done
	die "timed out waiting for $2 listeners in $1"
}

# wait_port PORT: waits up to 10 s until something accepts on the port.
wait_port() {
	local i
	for ((i = 0; i < 200; i++)); do
		(exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
		sleep 0.05
	done
	die "nothing listens on port $1"
}


port_in() { sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | sed -n "${2:-1}p"; }

cc -O2 -D_GNU_SOURCE -pthread -o "$D/tcpbench" bench/tcpbench.c || die "cannot build tcpbench"
TB=$D/tcpbench

# The servers: an echo server for the TCP steps, nginx for HTTP.
start echo "$TB" echo
wait_line "$D/echo.out" 'listening on'
ECHO=$(port_in "$D/echo.out")
NGINX=$(free_port)
mkdir -p "$D/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$D/www/1k"
chmod -R a+rX "$D"
cat > "$D/nginx.conf" << EOF
daemon off;
master_process off;
worker_processes 1;
pid $D/nginx.pid;
error_log $D/nginx.log;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	server { listen 127.0.0.1:$NGINX; root $D/www; }
}
EOF
start nginx nginx -c "$D/nginx.conf"
wait_port "$NGINX"

# The intermediaries, each with a port toward echo and one toward nginx.
declare -A PE PH
NAMES=(direct socat haproxy relay-null relay-file)
PE[direct]=$ECHO
PH[direct]=$NGINX

for which in E H; do
	p=$(free_port)
	[ $which = E ] && to=$ECHO || to=$NGINX
	start socat$which socat TCP4-LISTEN:"$p",bind=127.0.0.1,reuseaddr,fork,backlog=1024 TCP4:127.0.0.1:"$to"
	wait_port "$p"
	[ $which = E ] && PE[socat]=$p || PH[socat]=$p
done

HE=$(free_port)
HH=$(free_port)
cat > "$D/haproxy.cfg" << EOF
global
	maxconn 8000
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend fe_echo
	bind 127.0.0.1:$HE
	default_backend be_echo
backend be_echo
	server s 127.0.0.1:$ECHO
frontend fe_http
	bind 127.0.0.1:$HH
	default_backend be_http
backend be_http
	server s 127.0.0.1:$NGINX
EOF
start haproxy haproxy -db -f "$D/haproxy.cfg"
wait_port "$HE"
wait_port "$HH"
PE[haproxy]=$HE
PH[haproxy]=$HH

start relaynull "$BIN/tcpmon-relay" -l 0 -t 127.0.0.1:"$ECHO" -l 0 -t 127.0.0.1:"$NGINX" -o /dev/null
wait_lines "$D/relaynull.err" 2
PE[relay-null]=$(port_in "$D/relaynull.err" 1)
PH[relay-null]=$(port_in "$D/relaynull.err" 2)
start relayfile "$BIN/tcpmon-relay" -l 0 -t 127.0.0.1:"$ECHO" -l 0 -t 127.0.0.1:"$NGINX" -o "$D/cap.tcpmon"
wait_lines "$D/relayfile.err" 2
PE[relay-file]=$(port_in "$D/relayfile.err" 1)
PH[relay-file]=$(port_in "$D/relayfile.err" 2)
[ -n "${PH[relay-file]}" ] && [ -n "${PH[relay-null]}" ] || die "relay did not announce two listeners"
# The same with one stage that changes nothing: the cost of the stage path.
start relaycat "$BIN/tcpmon-relay" -l 0 -t 127.0.0.1:"$ECHO" --through cat -o /dev/null
wait_line "$D/relaycat.err" 'listening on'
PE[relay-cat]=$(port_in "$D/relaycat.err" 1)

declare -A BULK PING CRATE WRK
for n in "${NAMES[@]}"; do
	echo "bench: $n ..." >&2
	BULK[$n]=$(timeout 180 "$TB" bulk "${PE[$n]}" $((BULK_MIB * 1048576))) || die "$n: bulk failed"
	PING[$n]=$(timeout 180 "$TB" pingpong "${PE[$n]}" "$PINGS") || die "$n: pingpong failed"
	CRATE[$n]=$(timeout 180 "$TB" connrate "${PE[$n]}" "$CONNS" "$INFLIGHT") || die "$n: connrate failed"
	WRK[$n]=$(timeout $((WRK_SECS + 30)) wrk -t2 -c64 -d"${WRK_SECS}s" "http://127.0.0.1:${PH[$n]}/1k" |
	    awk '/^Requests\/sec:/ { print $2 }')
	[ -n "${WRK[$n]}" ] || die "$n: wrk failed"
	# The capture of one step is not kept: only the disk would fill.
	[ "$n" = relay-file ] && : > "$D/cap.tcpmon"
done
# The ceiling for relay-file: the same bytes (both ways) written to the same
# file system by dd, with nothing else running.
echo "bench: file system write rate (dd) ..." >&2
DD=$(dd if=/dev/zero of="$D/dd.out" bs=256K count=$((BULK_MIB * 8)) 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /^copied/) s = $(i + 1);
	printf "%.1f", $1 / 1048576 / s }')
rm -f "$D/dd.out"
echo "bench: relay --through cat ..." >&2
BULK[relay-cat]=$(timeout 180 "$TB" bulk "${PE[relay-cat]}" $((BULK_MIB * 1048576))) || die "relay-cat: bulk failed"
PING[relay-cat]=$(timeout 180 "$TB" pingpong "${PE[relay-cat]}" "$PINGS") || die "relay-cat: pingpong failed"

# 10,000 connections held open through a fresh relay, records to /dev/null.
start relayhold "$BIN/tcpmon-relay" -l 0 -t 127.0.0.1:"$ECHO" -o /dev/null
HOLD_PID=$LAST_PID
wait_line "$D/relayhold.err" 'listening on'
mkfifo "$D/holdin"
"$TB" hold "$(port_in "$D/relayhold.err")" "$HOLD" < "$D/holdin" > "$D/hold.out" 2> "$D/hold.err" &
HOLDER=$!
PIDS+=($HOLDER)
exec 4> "$D/holdin"
for ((i = 0; i < 1200; i++)); do
	grep -q held "$D/hold.out" && break
	kill -0 "$HOLDER" 2> /dev/null || break
	sleep 0.05
done
grep -q "held $HOLD" "$D/hold.out" || die "holding $HOLD connections failed: $(cat "$D/hold.err" "$D/relayhold.err")"
RSS=$(awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$HOLD_PID/status")
HWM=$(awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$HOLD_PID/status")
exec 4>&-
wait "$HOLDER"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
verdict() { awk -v r="$1" -v t="$2" -v dir="$3" 'BEGIN { ok = dir == "ge" ? r >= t : r <= t; print ok ? "met" : "NOT met" }'; }

AL_H=$(added "${PING[haproxy]}" "${PING[direct]}")
AL_N=$(added "${PING[relay-null]}" "${PING[direct]}")
AL_F=$(added "${PING[relay-file]}" "${PING[direct]}")
AL_S=$(added "${PING[socat]}" "${PING[direct]}")

echo
echo "tcpmon-relay bench: $(nproc) cores, $(uname -r), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "bulk ${BULK_MIB} MiB each way; ping-pong $PINGS x 64 B; $CONNS connections, $INFLIGHT at once; wrk -t2 -c64 -d${WRK_SECS}s 1 KiB from nginx"
[ -n "$HOLD_NOTE" ] && echo "held connections $HOLD_NOTE"
echo
printf '%-30s %10s %10s %10s %11s %11s\n' step direct socat haproxy relay-null relay-file
printf '%-30s %10s %10s %10s %11s %11s\n' "bulk MiB/s (both ways)" "${BULK[direct]}" "${BULK[socat]}" "${BULK[haproxy]}" "${BULK[relay-null]}" "${BULK[relay-file]}"
printf '%-30s %10s %10s %10s %11s %11s\n' "ping-pong median RTT us" "${PING[direct]}" "${PING[socat]}" "${PING[haproxy]}" "${PING[relay-null]}" "${PING[relay-file]}"
printf '%-30s %10s %10s %10s %11s %11s\n' "  added latency us" 0 "$AL_S" "$AL_H" "$AL_N" "$AL_F"
printf '%-30s %10s %10s %10s %11s %11s\n' "connections/s" "${CRATE[direct]}" "${CRATE[socat]}" "${CRATE[haproxy]}" "${CRATE[relay-null]}" "${CRATE[relay-file]}"
printf '%-30s %10s %10s %10s %11s %11s\n' "HTTP requests/s (wrk)" "${WRK[direct]}" "${WRK[socat]}" "${WRK[haproxy]}" "${WRK[relay-null]}" "${WRK[relay-file]}"
printf '%-30s %10s %10s %10s %11s %11s\n' "file write ceiling (dd) MiB/s" "" "" "" "" "$DD"
echo
echo "with one stage, --through cat (records to /dev/null):"
printf '%-30s %11s %11s %8s\n' step relay-null relay-cat ratio
printf '%-30s %11s %11s %8s\n' "bulk MiB/s (both ways)" "${BULK[relay-null]}" "${BULK[relay-cat]}" "$(ratio "${BULK[relay-cat]}" "${BULK[relay-null]}")"
printf '%-30s %11s %11s %8s\n' "ping-pong median RTT us" "${PING[relay-null]}" "${PING[relay-cat]}" "$(ratio "${PING[relay-cat]}" "${PING[relay-null]}")"
echo
R1=$(ratio "${BULK[relay-null]}" "${BULK[haproxy]}")
R2=$(ratio "${BULK[relay-file]}" "${BULK[direct]}")
R3=$(ratio "$AL_N" "$AL_H")
R4=$(ratio "${CRATE[relay-null]}" "${CRATE[haproxy]}")
R5=$(ratio "${WRK[relay-null]}" "${WRK[haproxy]}")
printf '%-52s %7s  %-8s %s\n' target ratio needed verdict
printf '%-52s %7s  %-8s %s\n' "bulk, records to /dev/null vs haproxy" "$R1" ">= 1" "$(verdict "$R1" 1 ge)"
printf '%-52s %7s  %-8s %s\n' "bulk, records to a file vs direct" "$R2" ">= 0.60" "$(verdict "$R2" 0.6 ge)"
printf '%-52s %7s  %-8s %s\n' "  (the file system's own ceiling vs direct)" "$(ratio "$DD" "${BULK[direct]}")" "" ""
printf '%-52s %7s  %-8s %s\n' "added ping-pong latency (/dev/null) vs haproxy's" "$R3" "<= 1" "$(verdict "$R3" 1 le)"
printf '%-52s %7s  %-8s %s\n' "connection rate (/dev/null) vs haproxy" "$R4" ">= 1" "$(verdict "$R4" 1 ge)"
printf '%-52s %7s  %-8s %s\n' "HTTP requests/s (/dev/null) vs haproxy" "$R5" ">= 1" "$(verdict "$R5" 1 ge)"
printf '%-52s %7s  %-8s %s\n' "$HOLD open connections: RSS MiB (peak $HWM)" "$RSS" "< 200" "$(verdict "$HWM" 200 le)"
