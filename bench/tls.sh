#!/usr/bin/env bash
# bench/tls.sh - tcpmon-relay's TLS side by side with Debian's haproxy and
# stunnel4 terminating TLS in front of one nginx, and --proxy --mitm with
# mitmdump (Debian's mitmproxy), all in one run on loopback with the same
# EC P-256 certificate (tests/gen/certs.sh):
#   handshakes/s    a new TLS connection per request (openssl s_time -new)
#   keep-alive      wrk over TLS, 64 connections, 1 KiB and 100 KiB answers
#   bulk            one TLS connection, 256 MiB down (curl), MiB/s
#   mitm            HTTPS requests/s through CONNECT, keep-alive (curl,
#                   one connection, N requests); the time a minted leaf
#                   adds to a first connection (median of 20 new names
#                   against 20 connections to one cached name)
#   held            1,000 TLS connections held open: the relay's peak RSS
# Every relay writes its records to /dev/null.  Goals (issue 13): handshakes
# and keep-alive at least haproxy's; mitm at least 10x mitmdump's; a minted
# leaf at most 2 ms, a cached one at most 0.2 ms; 1,000 held under 64 MiB.
# The goals are printed as met or missed: a benchmark informs, it does not
# fail the build.  Shorter: SECS=2 bench/tls.sh
set -u
cd "$(dirname "$0")/.."
BIN=${TCPMON_BIN:-$PWD/bin}
SECS=${SECS:-5}
PATH=$PATH:/usr/sbin:/usr/bin

for t in nginx wrk haproxy openssl curl python3; do
	command -v "$t" > /dev/null || { echo "bench: $t is missing (make deps-bench)" >&2; exit 1; }
done
STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
MITMDUMP=$(command -v mitmdump || true)

. bench/lib.bash
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

tests/gen/certs.sh "$D/c" > /dev/null
C=$D/c
cat "$C/srv.pem" "$C/srv.key" > "$C/both.pem"

mkdir -p "$D/ngx/www"
head -c 1024 /dev/urandom > "$D/ngx/www/kib"
head -c 102400 /dev/urandom > "$D/ngx/www/100k"
head -c 268435456 /dev/zero > "$D/ngx/www/big"
NG=$(free_port)
start nginx tests/servers/nginx.sh "$D/ngx" "$NG"
up "$NG" || die "nginx did not start"

# The terminators, each TLS -> plain to nginx.
start relay "$BIN/tcpmon-relay" -l tls:0 -t "127.0.0.1:$NG" \
    --cert "$C/srv.pem" --key "$C/srv.key" -o /dev/null
RELAY_PID=$LAST_PID
RP=$(relay_port relay)
[ -n "$RP" ] || die "the relay did not start: $(cat "$D/relay.err")"
HP=$(free_port)
cat > "$D/haproxy.cfg" <<EOF
global
	maxconn 4096
	nbthread 1
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend tls
	bind 127.0.0.1:$HP ssl crt $C/both.pem
	default_backend ngx
backend ngx
	server n 127.0.0.1:$NG
EOF
start haproxy haproxy -f "$D/haproxy.cfg" -db
up "$HP" || die "haproxy did not start: $(cat "$D/haproxy.err")"
SP=
if [ -n "$STUNNEL" ]; then
	SP=$(free_port)
	printf 'foreground = yes\npid =\n[tls]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\ncert = %s\nkey = %s\n' \
	    "$SP" "$NG" "$C/srv.pem" "$C/srv.key" > "$D/stunnel.conf"
	start stunnel "$STUNNEL" "$D/stunnel.conf"
	up "$SP" || die "stunnel did not start: $(cat "$D/stunnel.err")"
fi

# handshakes PORT: new TLS connections per second, each a GET of 1 KiB.
handshakes() {
	local out
	out=$(timeout $((SECS + 30)) openssl s_time -connect "127.0.0.1:$1" \
	    -new -time "$SECS" -www /kib 2>&1)
	awk '/connections in [0-9.]+ real seconds/ { printf "%.0f", $1 / $4; exit }' <<< "$out"
}
# keepalive PORT PATH: wrk requests/s over TLS.
keepalive() {
	local out
	out=$(timeout $((SECS + 30)) wrk -t2 -c64 -d"${SECS}s" \
	    "https://127.0.0.1:$1/$2" 2>&1) || die "wrk: $out"
	awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<< "$out"
}
# bulk PORT: MiB/s of 256 MiB down one TLS connection.
bulk() {
	curl -sk -o /dev/null -w '%{speed_download}' --max-time 60 \
	    "https://127.0.0.1:$1/big" | awk '{ printf "%.0f", $1 / 1048576 }'
}

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
echo "tls: $(nproc) cores ($cpu), $(openssl version | cut -d' ' -f1-2), haproxy $(haproxy -v | sed -n '1s/.*version \([^ ]*\).*/\1/p'), stunnel ${STUNNEL:+$(dpkg-query -W -f '${Version}' stunnel4 2>/dev/null)}, EC P-256, ${SECS}s a step"
printf '%-26s %10s %10s %10s\n' step relay haproxy stunnel
for what in handshakes ka1k ka100k bulk; do
	r=() h=() s=()
	for i in 1 2 3; do	# alternating, the median of three
		case $what in
		handshakes) f=handshakes; a= ;;
		ka1k) f=keepalive; a=kib ;;
		ka100k) f=keepalive; a=100k ;;
		bulk) f=bulk; a= ;;
		esac
		r+=("$($f "$RP" $a)")
		h+=("$($f "$HP" $a)")
		[ -n "$SP" ] && s+=("$($f "$SP" $a)")
	done
	rm=$(printf '%s\n' "${r[@]}" | median)
	hm=$(printf '%s\n' "${h[@]}" | median)
	sm=-
	[ -n "$SP" ] && sm=$(printf '%s\n' "${s[@]}" | median)
	case $what in
	handshakes) label='handshakes/s' ;;
	ka1k) label='keep-alive 1 KiB req/s' ;;
	ka100k) label='keep-alive 100 KiB req/s' ;;
	bulk) label='bulk MiB/s' ;;
	esac
	printf '%-26s %10s %10s %10s' "$label" "$rm" "$hm" "$sm"
	if [ "$what" != bulk ]; then
		awk -v r="$rm" -v h="$hm" 'BEGIN { exit !(r >= h) }' &&
		    echo "   goal met (>= haproxy)" || echo "   goal missed (< haproxy)"
	else
		echo
	fi
done

# 1,000 TLS connections held through the relay: its peak RSS.
python3 - "$RP" 1000 > "$D/held.out" 2>&1 <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
held = []
for i in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    held.append(ctx.wrap_socket(s, server_hostname="localhost"))
print("held", len(held), flush=True)
time.sleep(3)
PY
HELD=$!
PIDS+=("$HELD")
for ((i = 0; i < 600; i++)); do
	grep -q held "$D/held.out" && break
	sleep 0.1
done
hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$RELAY_PID/status")
printf '%-26s %10s MiB peak RSS   %s\n' "1,000 TLS held" "$hwm" \
    "$(awk -v m="$hwm" 'BEGIN { print (m < 64) ? "goal met (< 64 MiB)" : "goal missed (>= 64 MiB)" }')"
wait "$HELD" 2> /dev/null

# --mitm against mitmdump: N requests on one keep-alive connection through
# CONNECT, and what a minted leaf costs a first connection.
"$BIN/tcpmon-relay" --ca-dir "$D/ca" --print-ca > "$D/ca.pem" 2> /dev/null
start mitm "$BIN/tcpmon-relay" --proxy --mitm --ca-dir "$D/ca" \
    --ca-file "$C/ca.pem" -l 0 -o /dev/null
MP=$(relay_port mitm)
[ -n "$MP" ] || die "relay --mitm did not start"
TN=$(free_port)
mkdir -p "$D/ngt"
cat > "$D/ngt/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $D/ngt/pid; error_log stderr;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $D/ngt/b; proxy_temp_path $D/ngt/p;
  fastcgi_temp_path $D/ngt/f; uwsgi_temp_path $D/ngt/u; scgi_temp_path $D/ngt/s;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$TN ssl; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $C/srv.pem; ssl_certificate_key $C/srv.key; root $D/ngx/www; } }
EOF
start ngt nginx -e stderr -p "$D/ngt" -c "$D/ngt/nginx.conf"
up "$TN" || die "nginx over TLS did not start"
N=${MITM_N:-2000}
urls=$(for ((i = 0; i < N; i++)); do printf 'https://localhost:%s/kib ' "$TN"; done)
# reqs PORT CAFILE: requests/s of N GETs on one connection through CONNECT.
reqs() {
	local t
	t=$( { /usr/bin/time -f '%e' curl -s -x "127.0.0.1:$1" \
	    --cacert "$2" $urls > /dev/null; } 2>&1 | tail -n 1)
	awk -v n="$N" -v t="$t" 'BEGIN { printf "%.0f", n / (t > 0 ? t : 0.01) }'
}
# preqs PORT CAFILE: the same N GETs over 8 connections at once (curl
# --parallel), each its own CONNECT: what one curl on one connection
# cannot ask of the proxy.
preqs() {
	local t
	t=$( { /usr/bin/time -f '%e' curl -s --parallel --parallel-max 8 \
	    -x "127.0.0.1:$1" --cacert "$2" $urls > /dev/null; } 2>&1 | tail -n 1)
	awk -v n="$N" -v t="$t" 'BEGIN { printf "%.0f", n / (t > 0 ? t : 0.01) }'
}
m_rps=$(reqs "$MP" "$D/ca.pem")
mp_rps=$(preqs "$MP" "$D/ca.pem")
# The same N requests straight to nginx: what one curl connection can do.
t=$( { /usr/bin/time -f '%e' curl -s --cacert "$C/ca.pem" $urls > /dev/null; } 2>&1 | tail -n 1)
n_rps=$(awk -v n="$N" -v t="$t" 'BEGIN { printf "%.0f", n / (t > 0 ? t : 0.01) }')
d_rps=-
dp_rps=-
if [ -n "$MITMDUMP" ]; then
	DP=$(free_port)
	start mitmdump "$MITMDUMP" -q --listen-host 127.0.0.1 -p "$DP" \
	    --set confdir="$D/mitm" --set ssl_verify_upstream_trusted_ca="$C/ca.pem"
	up "$DP" || die "mitmdump did not start"
	for ((i = 0; i < 100; i++)); do [ -f "$D/mitm/mitmproxy-ca-cert.pem" ] && break; sleep 0.1; done
	d_rps=$(MITM_N=$N reqs "$DP" "$D/mitm/mitmproxy-ca-cert.pem")
	dp_rps=$(preqs "$DP" "$D/mitm/mitmproxy-ca-cert.pem")
fi
echo "--mitm: $N GETs of 1 KiB on one keep-alive connection through CONNECT (curl); direct: the same to nginx"
printf '%-26s %10s %10s %10s\n' '' relay mitmdump direct
printf '%-26s %10s %10s %10s   %s\n' '--mitm req/s (keep-alive)' "$m_rps" "$d_rps" "$n_rps" \
    "$([ "$d_rps" = - ] && echo "mitmdump not installed" ||
    awk -v m="$m_rps" -v d="$d_rps" 'BEGIN { print (m >= 10 * d) ? "goal met (>= 10x mitmdump)" : "goal missed (< 10x mitmdump)" }')"
printf '%-26s %10s %10s %10s   %s\n' '--mitm req/s (8 at once)' "$mp_rps" "$dp_rps" - \
    "$([ "$dp_rps" = - ] && echo "mitmdump not installed" ||
    awk -v m="$mp_rps" -v d="$dp_rps" 'BEGIN { print (m >= 10 * d) ? "goal met (>= 10x mitmdump)" : "goal missed (< 10x mitmdump)" }')"
# A minted leaf: a tls: listener without --cert signs one for each new
# name a client asks for.  appconnect NAME: milliseconds of the TLS
# handshake of a new connection asking for NAME (curl --resolve sends it
# as SNI to the relay's address).
start mint "$BIN/tcpmon-relay" -l tls:0 -t "127.0.0.1:$NG" --ca-dir "$D/ca" \
    -o /dev/null
MINT=$(relay_port mint)
[ -n "$MINT" ] || die "the minting relay did not start"
appconnect() {
	curl -s -o /dev/null --cacert "$D/ca.pem" \
	    --resolve "$1:$MINT:127.0.0.1" -w '%{time_appconnect} %{time_connect}\n' \
	    "https://$1:$MINT/kib" 2> /dev/null | awk '{ printf "%.3f\n", ($1 - $2) * 1000 }'
}
appconnect cached.example > /dev/null	# minted once, cached after
new=$(for ((i = 0; i < 20; i++)); do appconnect "h$i-$RANDOM.example"; done | median)
old=$(for ((i = 0; i < 20; i++)); do appconnect cached.example; done | median)
extra=$(awk -v a="$new" -v b="$old" 'BEGIN { printf "%.2f", a - b }')
printf '%-26s %10s ms   (handshake medians: a new name %s ms, a cached one %s ms)   %s\n' \
    'a minted leaf adds' "$extra" "$new" "$old" \
    "$(awk -v e="$extra" 'BEGIN { print (e <= 2) ? "goal met (<= 2 ms)" : "goal missed (> 2 ms)" }')"
