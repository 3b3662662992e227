#!/usr/bin/env bash
# bench/mock.sh - tcpmon-mock serving a recorded SOAP answer over
# keep-alive (wrk, 64 connections, POSTing the recorded request) next to
# nginx serving the same answer's bytes as a static file (GET), in one run;
# and tcpmon-diff comparing the capture of bench/gencap.py (DIFF_MIB MiB,
# 256 by default) with itself: MB/s and peak RSS.  Goals (issue 16): the
# mock at least 20,000 requests/s and at least half of nginx; tcpmon-diff at
# 100 MB/s or more with bounded memory.
set -eu
. "$(dirname "$0")/lib.bash"
BIN=${TCPMON_BIN:-bin}
SECS=${SECS:-5}
MIB=${DIFF_MIB:-256}
command -v wrk > /dev/null || die "wrk is missing (Debian: wrk)"
command -v nginx > /dev/null || die "nginx is missing (Debian: nginx)"

# A recording of the demo service's Add, through the relay.
start soapd "$BIN/tcpmon-demo-soapd" -l 0
SP=$(relay_port soapd)
start relay "$BIN/tcpmon-relay" -l 0 -t "127.0.0.1:$SP" -o "$D/rec.tcpmon"
RELAY_PID=$LAST_PID
RP=$(relay_port relay)
body='<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><d:Add xmlns:d="urn:tcpmon:demo"><a>2</a><b>3</b></d:Add></soap:Body></soap:Envelope>'
curl -sS -H 'Content-Type: text/xml' --data-binary "$body" \
    -o "$D/answer.xml" "http://127.0.0.1:$RP/" || die "recording failed"
kill "$RELAY_PID"
wait "$RELAY_PID" 2> /dev/null || true

start mock "$BIN/tcpmon-mock" -l 0 "$D/rec.tcpmon"
wait_listen "$D/mock.err"
MP=$(sed -n 's/.*listening on [^,]*:\([0-9]*\),.*/\1/p' "$D/mock.err")
[ -n "$MP" ] || die "tcpmon-mock did not start"
cat > "$D/post.lua" << EOF2
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "text/xml"
EOF2
mkdir -p "$D/www"
cp "$D/answer.xml" "$D/www/answer.xml"
chmod -R a+rX "$D"
NP=$(free_port)
cat > "$D/nginx.conf" << EOF2
daemon off; master_process off; worker_processes 1; pid $D/nginx.pid;
error_log $D/nginx.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $D/b; proxy_temp_path $D/p; fastcgi_temp_path $D/f;
  uwsgi_temp_path $D/u; scgi_temp_path $D/s;
  server { listen 127.0.0.1:$NP; root $D/www; default_type text/xml; } }
EOF2
start nginx nginx -c "$D/nginx.conf"
up "$NP" || die "nginx did not start"

rps() { wrk -t2 -c64 -d"${SECS}s" "$@" 2>&1 | awk '/Requests\/sec/ { printf "%.0f", $2 }'; }
m=$(rps -s "$D/post.lua" "http://127.0.0.1:$MP/")
n=$(rps "http://127.0.0.1:$NP/answer.xml")
printf 'mock: %s bytes answered, wrk -t2 -c64 %ss\n' "$(stat -c %s "$D/answer.xml")" "$SECS"
printf '%-34s %10s\n' 'tcpmon-mock req/s (POST, matched)' "$m"
printf '%-34s %10s\n' 'nginx req/s (GET, static file)' "$n"

python3 "$(dirname "$0")/gencap.py" "$MIB" "$D/cap.tcpmon"
size=$(stat -c %s "$D/cap.tcpmon")
/usr/bin/time -f '%e %M' -o "$D/diff.time" "$BIN/tcpmon-diff" -q \
    "$D/cap.tcpmon" "$D/cap.tcpmon" > "$D/diff.out" || die "tcpmon-diff found differences in a capture and itself"
read -r secs rss < "$D/diff.time"
drate=$(awk -v b="$((2 * size))" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? b / s / 1e6 : 0) }')
printf '%-34s %10s\n' "tcpmon-diff, 2 x $MIB MiB, seconds" "$secs"
printf '%-34s %10s\n' 'tcpmon-diff MB/s (both read)' "$drate"
printf '%-34s %10s\n' 'tcpmon-diff peak RSS KiB' "$rss"
cat "$D/diff.out"

verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo 'NOT met'; fi; }
printf '\n%-40s %10s %10s  %s\n' target value needed verdict
printf '%-40s %10s %10s  %s\n' 'mock req/s' "$m" '>= 20000' "$(verdict "$m >= 20000")"
printf '%-40s %10s %10s  %s\n' 'mock vs nginx' "$m" ">= $((n / 2))" "$(verdict "$m * 2 >= $n")"
printf '%-40s %10s %10s  %s\n' 'tcpmon-diff MB/s' "$drate" '>= 100' "$(verdict "$drate >= 100")"
printf '%-40s %10s %10s  %s\n' 'tcpmon-diff peak RSS KiB (bounded?)' "$rss" "< $((size / 1024 / 4))" "$(verdict "$rss * 1024 * 4 < $size")"
