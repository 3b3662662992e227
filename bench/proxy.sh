#!/usr/bin/env bash
# bench/proxy.sh - tcpmon-relay in proxy mode against the same relay in
# forward mode and against Debian's tinyproxy, all in front of one nginx
# serving a 1 KiB file, in one run: wrk with 64 keep-alive connections,
# requests/s and the 99th percentile latency.  The relay writes its
# records to /dev/null.  Goal: proxy mode serves at least as many requests
# per second as tinyproxy.  Shorter: WRK_SECS=2 bench/proxy.sh
set -u
cd "$(dirname "$0")/.."
BIN=${TCPMON_BIN:-$PWD/bin}
WRK_SECS=${WRK_SECS:-5}
PATH=$PATH:/usr/sbin:/usr/bin

for t in nginx wrk tinyproxy python3; do
	command -v "$t" > /dev/null || { echo "bench: $t is missing (make deps-bench)" >&2; exit 1; }
done

. bench/lib.bash

mkdir -p "$D/ngx/www"
head -c 1024 /dev/urandom > "$D/ngx/www/kib"
NG=$(free_port)
start nginx tests/servers/nginx.sh "$D/ngx" "$NG"
up "$NG" || die "nginx did not start"

start fwd "$BIN/tcpmon-relay" -l 0 -t "127.0.0.1:$NG" -o /dev/null
FWD=$(relay_port fwd)
start proxy "$BIN/tcpmon-relay" --proxy -l 0 -o /dev/null
PX=$(relay_port proxy)
TP=$(free_port)
printf 'User nobody\nGroup nogroup\nPort %s\nListen 127.0.0.1\nTimeout 60\nMaxClients 256\nLogLevel Critical\nPidFile "%s/tiny.pid"\n' \
    "$TP" "$D" > "$D/tiny.conf"
start tiny tinyproxy -d -c "$D/tiny.conf"
up "$TP" || die "tinyproxy did not start"
[ -n "$FWD" ] && [ -n "$PX" ] || die "a relay did not start"

# A proxy gets absolute-form requests: wrk connects to the proxy and asks
# for nginx's URL.
printf 'wrk.path = "http://127.0.0.1:%s/kib"\n' "$NG" > "$D/abs.lua"

# run NAME PORT [SCRIPT]: "requests/s p99-ms" from wrk.
run() {
	local out rps p99
	out=$(timeout $((WRK_SECS + 30)) wrk -t2 -c64 -d"${WRK_SECS}s" --latency \
	    ${3:+-s "$3"} "http://127.0.0.1:$2/kib" 2>&1) || die "wrk $1: $out"
	if grep -q 'Non-2xx' <<< "$out"; then die "wrk $1: errors: $out"; fi
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
	p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
	    else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
	    printf "%.2f", v }' <<< "$out")
	printf '%s %s\n' "$rps" "$p99"
}

read -r d_rps d_p99 < <(run direct "$NG")
read -r f_rps f_p99 < <(run forward "$FWD")
read -r p_rps p_p99 < <(run proxy "$PX" "$D/abs.lua")
read -r t_rps t_p99 < <(run tinyproxy "$TP" "$D/abs.lua")

echo "proxy: wrk -t2 -c64 -d${WRK_SECS}s, 1 KiB from nginx $(nginx -v 2>&1 | sed 's/.*\///'), tinyproxy $(dpkg-query -W -f '${Version}' tinyproxy 2>/dev/null)"
printf '%-28s %10s %10s %12s %10s\n' step direct forward proxy-mode tinyproxy
printf '%-28s %10.0f %10.0f %12.0f %10.0f\n' 'requests/s' "$d_rps" "$f_rps" "$p_rps" "$t_rps"
printf '%-28s %10s %10s %12s %10s\n' 'p99 latency ms' "$d_p99" "$f_p99" "$p_p99" "$t_p99"
awk -v p="$p_rps" -v t="$t_rps" 'BEGIN { exit !(p >= t) }' ||
    die "goal missed: proxy mode $p_rps requests/s, tinyproxy $t_rps"

# Memory per idle client: IDLE keep-alive clients that each fetched 60 KiB,
# then wait.  A client's buffers are borrowed from the relay's pool only
# while bytes wait in them.  Goal: at most 16 KiB of RSS each (a fixed
# 194 KiB a client, touched as answers passed, made it 70).
IDLE=${IDLE:-500}
head -c 61440 /dev/urandom > "$D/ngx/www/60k"
start idleproxy "$BIN/tcpmon-relay" --proxy -l 0 -o /dev/null
IPX=$(relay_port idleproxy)
IPID=$LAST_PID
[ -n "$IPX" ] || die "the idle-clients relay did not start"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
r0=$(rss "$IPID")
mkfifo "$D/hold"
python3 bench/idle.py "$IPX" "http://127.0.0.1:$NG/60k" "$IDLE" > "$D/idle.out" 2> "$D/idle.err" < "$D/hold" &
IDLE_PID=$!
PIDS+=($IDLE_PID)
exec 7> "$D/hold"
for ((i = 0; i < 600; i++)); do
	grep -qs ready "$D/idle.out" && break
	kill -0 "$IDLE_PID" 2> /dev/null || die "idle clients: $(cat "$D/idle.err")"
	sleep 0.1
done
grep -q ready "$D/idle.out" || die "idle clients: not ready in 60 s"
r1=$(rss "$IPID")
exec 7>&-
per=$(( (r1 - r0) / IDLE ))
printf '%-28s %10s %10s %12s %10s\n' "KiB RSS / idle client" - - "$per" -
printf '  (%d keep-alive clients, each fetched 60 KiB; relay RSS %d KiB before, %d KiB with them)\n' \
    "$IDLE" "$r0" "$r1"
[ "$per" -le 16 ] || die "goal missed: $per KiB of RSS per idle client (at most 16)"
