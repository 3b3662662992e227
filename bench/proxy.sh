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
