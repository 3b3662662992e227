#!/usr/bin/env bash
# bench/send.sh - tcpmon-send -n N -c 8 against Debian's nginx on loopback,
# next to curl --parallel --parallel-max 8 making the same N requests over
# keep-alive connections, measured in one run.  Bounded: N requests each
# (BENCH_SEND_N, default 20000), every step under a time limit, traffic to
# 127.0.0.1 only.  Exits 1 if tcpmon-send was slower than curl.
set -u
cd "$(dirname "$0")/.."
bin=${TCPMON_BIN:-$PWD/bin}
n=${BENCH_SEND_N:-20000}
conc=8
dir=$(mktemp -d /tmp/tm-bench.XXXXXX)
ngx=
cleanup() {
	[ -n "$ngx" ] && kill "$ngx" 2>/dev/null && wait "$ngx" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

for tool in nginx curl python3; do
	command -v $tool >/dev/null || { echo "bench/send.sh: $tool not found (make deps-bench)" >&2; exit 1; }
done

# nginx cannot bind port 0 and say which it got: probe a free port, start,
# and try again with another if the port was taken meanwhile.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
mkdir -p "$dir/ngx/www"
echo index > "$dir/ngx/www/index.html"
echo hello > "$dir/ngx/www/hello.txt"
ready=
for try in 1 2 3 4 5; do
	port=$(free_port)
	tests/servers/nginx.sh "$dir/ngx" "$port" > "$dir/nginx.log" 2>&1 < /dev/null &
	ngx=$!
	for i in $(seq 100); do
		kill -0 "$ngx" 2>/dev/null || break
		if timeout 2 curl -sf -o /dev/null "http://127.0.0.1:$port/"; then
			ready=1
			break
		fi
		sleep 0.05
	done
	[ -n "$ready" ] && break
	kill "$ngx" 2>/dev/null
	wait "$ngx" 2>/dev/null
	ngx=
done
if [ -z "$ready" ]; then
	echo "bench/send.sh: nginx did not start:" >&2
	cat "$dir/nginx.log" >&2
	exit 1
fi
url=http://127.0.0.1:$port/hello.txt

now() { date +%s.%N; }

# tcpmon-send: its summary says how many it sent and the failures.
t0=$(now)
timeout 300 "$bin/tcpmon-send" -n "$n" -c "$conc" "$url" > "$dir/send.out"
rc=$?
t1=$(now)
if [ $rc -ne 0 ] || ! grep -q '^failures     0$' "$dir/send.out"; then
	echo "bench/send.sh: tcpmon-send failed (status $rc):" >&2
	cat "$dir/send.out" >&2
	exit 1
fi

# curl: the same N transfers from one config file, 8 at a time; it keeps
# its connections alive between transfers.
for ((i = 0; i < n; i++)); do
	printf 'url = "%s"\noutput = "/dev/null"\n' "$url"
done > "$dir/curl.conf"
t2=$(now)
timeout 300 curl --parallel --parallel-max "$conc" -s --no-progress-meter \
    -w '%{http_code} %{num_connects}\n' -K "$dir/curl.conf" \
    > "$dir/curl.out" 2> "$dir/curl.err"
rc=$?
t3=$(now)
ok=$(grep -c '^200 ' "$dir/curl.out")
conns=$(awk '{ c += $2 } END { print c + 0 }' "$dir/curl.out")
if [ $rc -ne 0 ] || [ "$ok" -ne "$n" ]; then
	echo "bench/send.sh: curl failed (status $rc, $ok of $n answered 200)" >&2
	head -c 2000 "$dir/curl.err" >&2
	exit 1
fi

awk -v n="$n" -v c="$conc" -v s0="$t0" -v s1="$t1" -v c0="$t2" -v c1="$t3" \
    -v lat="$(sed -n 's/^latency ms   //p' "$dir/send.out")" \
    -v sc="$(sed -n 's/^requests .* over \([0-9]*\) connections$/\1/p' "$dir/send.out")" \
    -v cc="$conns" 'BEGIN {
	ts = s1 - s0; tc = c1 - c0
	printf "send: %d GETs of a 6-byte file from nginx on 127.0.0.1, %d at a time, keep-alive\n", n, c
	printf "%-28s %12s %9s %12s\n", "client", "requests/s", "time s", "connections"
	printf "%-28s %12.0f %9.3f %12d\n", "tcpmon-send -n -c " c, n / ts, ts, sc
	printf "%-28s %12.0f %9.3f %12d\n", "curl --parallel-max " c, n / tc, tc, cc
	printf "tcpmon-send / curl: %.2fx; tcpmon-send latency ms: %s\n", tc / ts, lat
	exit (ts <= tc ? 0 : 1)
}'
status=$?
[ $status -eq 0 ] || echo "bench/send.sh: tcpmon-send was slower than curl" >&2
exit $status
