#!/usr/bin/env bats
# tcpmon-relay --proxy: every answer the proxy gives itself (400, 403, 431,
# 502, 504), each recorded as a connection with the client's bytes, the
# answer and a close record; --allow; bad arguments; clients that misbehave
# (tests/proxychaos.py) while good ones are served.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# ask REQUEST: sends a raw request (printf %b) to the proxy; the answer is
# in $T/ans, its status line in $output.
ask() {
	printf '%b' "$1" | timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" > "$T/ans"
	head -n 1 "$T/ans" | tr -d '\r'
}

@test "proxy errors: malformed requests get 400 with a one-line reason, recorded" {
	start_relay --proxy -l 0
	run -0 ask 'GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output "HTTP/1.1 400 Bad Request"
	run -0 tail -n 1 "$T/ans"
	assert_output "malformed request: not an absolute http:// URL (this is a proxy)"
	run -0 ask 'GET https://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output "HTTP/1.1 400 Bad Request"
	run -0 grep -c 'https:// URLs go through CONNECT' "$T/ans"
	run -0 ask 'GET http://127.0.0.1:1/ HTTP/1.1\r\n\r\n'
	assert_output "HTTP/1.1 400 Bad Request"
	run -0 grep -c 'no Host header' "$T/ans"
	run -0 ask 'POST http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'
	run -0 grep -c 'both Transfer-Encoding and Content-Length' "$T/ans"
	run -0 ask 'POST http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n'
	run -0 grep -c 'unsupported Transfer-Encoding' "$T/ans"
	run -0 ask 'GET http://127.0.0.1:99999/ HTTP/1.1\r\nHost: x\r\n\r\n'
	run -0 grep -c 'bad port' "$T/ans"
	run -0 ask 'GET http://127.0.0.1:1/ HTTP/2.0\r\nHost: x\r\n\r\n'
	run -0 grep -c 'not HTTP/1.0 or HTTP/1.1' "$T/ans"
	run -0 ask 'GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n'
	run -0 grep -c 'folded header line' "$T/ans"
	run -0 ask 'GET http://127.0.0.1:1/ HTTP/1.1\nHost: x\n\r\n'
	run -0 grep -c 'bare CR, LF or NUL' "$T/ans"
	run -0 ask 'CONNECT 127.0.0.1 HTTP/1.1\r\nHost: x\r\n\r\n'
	run -0 grep -c 'no port' "$T/ans"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "error"
	run -0 rp "$T/relay.out" field 1 close error
	assert_output "400 malformed request: not an absolute http:// URL (this is a proxy)"
	run -0 rp "$T/relay.out" payload 1 c2s
	assert_output --partial "GET /a.txt HTTP/1.1"
	run -0 grep -ac '^TCPMON/1 data conn=1 .*dir=s2c from=proxy ' "$T/relay.out"
	run -0 grep -ac '^TCPMON/1 close .*reason=error' "$T/relay.out"
	assert_output "10"
}

@test "proxy errors: a head over 64 KiB gets 431" {
	start_relay --proxy -l 0
	run -0 timeout 10 python3 - "$RELAY_PORT" <<-'PY'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\nX-Big: " +
	          b"a" * 70000 + b"\r\n\r\n")
	print(s.makefile("rb").readline().decode().strip())
	PY
	assert_output "HTTP/1.1 431 Request Header Fields Too Large"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close error
	assert_output "431 request head over 64 KiB"
}

@test "proxy errors: more header fields than the proxy can frame get 431" {
	start_nginx_send
	printf 'first file\n' > "$T/ngx/www/a.txt"
	start_relay --proxy -l 0
	# 125 pass (the proxy adds Host, Via and Connection); one more, and
	# the proxy could not tell where the request and its answer end.
	fields() { for ((i = 1; i < $1; i++)); do printf 'X-%d: %d\\r\\n' $i $i; done; }
	run -0 ask "GET http://127.0.0.1:$NGINX_PORT/a.txt HTTP/1.1\r\nHost: x\r\n$(fields 125)\r\n"
	assert_output "HTTP/1.1 200 OK"
	run -0 ask "GET http://127.0.0.1:$NGINX_PORT/a.txt HTTP/1.1\r\nHost: x\r\n$(fields 126)\r\n"
	assert_output "HTTP/1.1 431 Request Header Fields Too Large"
	run -0 tail -n 1 "$T/ans"
	assert_output "request head with more than 125 header fields"
	stop_relay
}

@test "proxy errors: a refused target is 502, a target that does not answer 504, an unknown name 502" {
	port=$(free_port)
	# A listener whose queue is full drops further SYNs: the connect hangs.
	bg hang python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
held = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    held.append(c)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
time.sleep(60)'
	wait_for "$T/hang.out" 'listening on'
	hport=$(port_of "$T/hang.out")
	start_relay --proxy -l 0 --connect-timeout 500ms
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://127.0.0.1:$port/"
	assert_line --index 0 "connect 127.0.0.1:$port: Connection refused"
	assert_line --index 1 "502"
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://127.0.0.1:$hport/"
	assert_line --index 0 "connect 127.0.0.1:$hport: Connection timed out"
	assert_line --index 1 "504"
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://no-such-host.invalid/"
	assert_line --index 1 "502"
	assert_output --partial "resolve no-such-host.invalid:80: "
	run -56 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -p -w '%{http_code}\n' "http://127.0.0.1:$port/" 2>&1
	assert_output --partial "502"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "refused"
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "127.0.0.1:$port"
	run -0 rp "$T/relay.out" payload 1 s2c
	assert_output --partial "HTTP/1.1 502 Bad Gateway"
	run -0 rp "$T/relay.out" field 2 close reason
	assert_output "timeout"
	run -0 rp "$T/relay.out" payload 2 s2c
	assert_output --partial "HTTP/1.1 504 Gateway Timeout"
	run -0 rp "$T/relay.out" field 3 close reason
	assert_output "unreachable"
}

@test "proxy errors: a request to the proxy itself would loop: 403" {
	start_relay --proxy -l 0
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://127.0.0.1:$RELAY_PORT/"
	assert_line --index 0 "127.0.0.1:$RELAY_PORT is this proxy: a request there would loop"
	assert_line --index 1 "403"
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://localhost:$RELAY_PORT/"
	assert_line --index 1 "403"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "refused"
}

@test "proxy --allow: the default admits loopback; --allow replaces it; others get 403" {
	start_nginx_send
	start_relay --proxy -l 0 --allow 127.0.0.2/32 --allow ::1
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://127.0.0.1:$NGINX_PORT/"
	assert_line --index 0 "client 127.0.0.1:$(sed -n 's/.*client=127.0.0.1:\([0-9]*\) .*/\1/p' "$T/relay.out" | tail -n 1) is not allowed (--allow)"
	assert_line --index 1 "403"
	run -0 timeout 10 curl -sS --interface 127.0.0.2 -x "127.0.0.1:$RELAY_PORT" "http://127.0.0.1:$NGINX_PORT/"
	assert_output "index"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close error
	assert_output --partial "403 client 127.0.0.1:"
	run -0 rp "$T/relay.out" field 2 open target
	assert_output "127.0.0.1:$NGINX_PORT"
}

@test "proxy --allow 0.0.0.0/0 with a wildcard listener admits everyone" {
	start_nginx_send
	start_relay --proxy -l 0.0.0.0:0 --allow 0.0.0.0/0
	run -0 timeout 10 curl -sS --interface 127.0.0.3 -x "127.0.0.1:$RELAY_PORT" "http://127.0.0.1:$NGINX_PORT/"
	assert_output "index"
}

@test "proxy args: bad usage is exit 2 with one line" {
	local r
	r=$(bin tcpmon-relay)
	run -2 --separate-stderr "$r" --proxy
	assert_equal "$stderr" "tcpmon-relay: --proxy: give -l PORT"
	run -2 --separate-stderr "$r" --proxy -l 0 -t 127.0.0.1:80
	assert_equal "$stderr" "tcpmon-relay: -t 127.0.0.1:80: --proxy takes its targets from the requests"
	run -2 --separate-stderr "$r" -l 0 --proxy
	assert_equal "$stderr" "tcpmon-relay: --proxy goes before the first -l"
	run -2 --separate-stderr "$r" --proxy -l 0 --allow 10.0.0.0/33
	assert_equal "$stderr" "tcpmon-relay: --allow 10.0.0.0/33: bad prefix length"
	run -2 --separate-stderr "$r" --proxy -l 0 --allow example.org
	assert_equal "$stderr" "tcpmon-relay: --allow example.org: not an IPv4 or IPv6 address"
	run -2 --separate-stderr "$r" -l 0 -t 127.0.0.1:80 --allow 10.0.0.0/8
	assert_equal "$stderr" "tcpmon-relay: --allow: only with --proxy"
	run -2 --separate-stderr "$r" -l 0 -t 127.0.0.1:80 --upstream-proxy unix:/tmp/x
	assert_equal "$stderr" "tcpmon-relay: --upstream-proxy unix:/tmp/x: give HOST:PORT"
	run -2 --separate-stderr "$r" -l 0 -t 127.0.0.1:80 --upstream-proxy ''
	assert_equal "$stderr" "tcpmon-relay: --upstream-proxy: empty address"
	run -2 --separate-stderr "$r" -l 0 -t unix:/tmp/x --upstream-proxy 127.0.0.1:3128
	assert_equal "$stderr" "tcpmon-relay: -t unix:/tmp/x: a Unix socket is not reached through --upstream-proxy"
	run -2 --separate-stderr env TCPMON_PROXY_PASSWORD=x "$r" -l 0 -t 127.0.0.1:80 --upstream-proxy 127.0.0.1:3128
	assert_equal "$stderr" "tcpmon-relay: TCPMON_PROXY_PASSWORD without TCPMON_PROXY_USER"
	run -2 --separate-stderr env TCPMON_PROXY_USER=a:b "$r" -l 0 -t 127.0.0.1:80 --upstream-proxy 127.0.0.1:3128
	assert_equal "$stderr" "tcpmon-relay: TCPMON_PROXY_USER: a user name holds no colon"
	run -0 "$r" -h
	assert_output --partial "tcpmon-relay --proxy -l [ADDR:]PORT"
}

@test "proxy --idle-timeout: a silent client goes quietly, a head left unfinished gets 408, a keep-alive client between requests goes" {
	start_nginx_send
	start_relay --proxy -l 0 --idle-timeout 1s
	# Silent from the start: closed, nothing said, nothing recorded.
	local t0=$SECONDS
	run -0 timeout 10 socat -t 0.5 -T 8 - TCP:127.0.0.1:"$RELAY_PORT" < <(sleep 6)
	assert_output ""
	[ $((SECONDS - t0)) -lt 5 ]
	# A head cut short: 408, recorded with what the client sent.
	run -0 timeout 10 socat -t 0.5 -T 8 - TCP:127.0.0.1:"$RELAY_PORT" \
	    < <(printf 'GET http://127.0.0.1:%s/ HTTP/1.1\r\nHost: x\r\n' "$NGINX_PORT"; sleep 6)
	assert_line --index 0 --partial "HTTP/1.1 408 Request Timeout"
	assert_line "idle timeout"
	wait_count "$T/relay.out" '^TCPMON/1 close .*reason=timeout' 1
	# Keep-alive: one answer, then the connection ends while idle.
	t0=$SECONDS
	run -0 timeout 10 socat -t 0.5 -T 8 - TCP:127.0.0.1:"$RELAY_PORT" \
	    < <(printf 'GET http://127.0.0.1:%s/ HTTP/1.1\r\nHost: x\r\n\r\n' "$NGINX_PORT"; sleep 6)
	assert_line --index 0 --partial "HTTP/1.1 200"
	[ $((SECONDS - t0)) -lt 5 ]
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
}

@test "proxy errors: the loop check holds however the proxy's address is written" {
	start_relay --proxy -l 0
	local t n=0
	for t in "0.0.0.0:$RELAY_PORT" "0:$RELAY_PORT" "[::ffff:127.0.0.1]:$RELAY_PORT" \
	    "127.1:$RELAY_PORT" "[::]:$RELAY_PORT" "127.0.0.2:$RELAY_PORT"; do
		run -0 ask "CONNECT $t HTTP/1.1\r\nHost: $t\r\n\r\n"
		assert_output "HTTP/1.1 403 Forbidden"
		run -0 ask "GET http://$t/ HTTP/1.1\r\nHost: x\r\n\r\n"
		assert_output "HTTP/1.1 403 Forbidden"
		run -0 tail -n 1 "$T/ans"
		assert_output "$t is this proxy: a request there would loop"
		n=$((n + 2))
	done
	stop_relay
	# Nothing went anywhere: every connection recorded is an answer.
	run -0 grep -ac '^TCPMON/1 close .*reason=refused' "$T/relay.out"
	assert_output "$n"
	run -0 grep -ac '^TCPMON/1 close ' "$T/relay.out"
	assert_output "$n"
}

@test "proxy errors: a wildcard listener is every address of the machine" {
	local addr
	addr=$(ip -o -4 addr show scope global 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')
	[ -n "$addr" ] || skip "no global IPv4 address"
	start_relay --proxy -l 0.0.0.0:0
	run -0 ask "CONNECT $addr:$RELAY_PORT HTTP/1.1\r\nHost: x\r\n\r\n"
	assert_output "HTTP/1.1 403 Forbidden"
	run -0 tail -n 1 "$T/ans"
	assert_output "$addr:$RELAY_PORT is this proxy: a request there would loop"
	# Before, this one reached the proxy again, which refused the client.
	run -0 ask "GET http://[::ffff:$addr]:$RELAY_PORT/ HTTP/1.1\r\nHost: x\r\n\r\n"
	assert_output "HTTP/1.1 403 Forbidden"
	run -0 tail -n 1 "$T/ans"
	assert_output "[::ffff:$addr]:$RELAY_PORT is this proxy: a request there would loop"
	stop_relay
	run -0 grep -ac '^TCPMON/1 open ' "$T/relay.out"
	assert_output "2"
}

@test "proxy errors: a request that carries this proxy's own Via mark gets 508" {
	start_nginx_send
	printf 'first file\n' > "$T/ngx/www/a.txt"
	start_relay --proxy -l 0
	run -0 ask "GET http://127.0.0.1:$NGINX_PORT/a.txt HTTP/1.1\r\nHost: x\r\nVia: 1.1 other\r\n\r\n"
	assert_output "HTTP/1.1 200 OK"
	# The server got the client's Via and ours after it.
	rp "$T/relay.out" payload 1 c2s > "$T/up"
	run -0 grep -a '^Via: ' "$T/up"
	assert_line --index 0 $'Via: 1.1 other\r'
	[[ ${lines[1]} =~ ^Via:\ 1\.1\ (tcpmon-[0-9a-f]{16})$'\r'$ ]]
	local mark=${BASH_REMATCH[1]}
	run -0 ask "GET http://127.0.0.1:$NGINX_PORT/a.txt HTTP/1.1\r\nHost: x\r\nVia: 1.0 a, 1.1 $mark\r\n\r\n"
	assert_output "HTTP/1.1 508 Loop Detected"
	run -0 tail -n 1 "$T/ans"
	assert_output "127.0.0.1:$NGINX_PORT: this request has been through this proxy already (Via): it would loop"
}

@test "proxy errors: a proxy that is its own upstream proxy stops at once (Via in the CONNECT)" {
	start_nginx_send
	local port
	port=$(free_port)
	start_relay --proxy -l "$port" --upstream-proxy 127.0.0.1:"$port"
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://127.0.0.1:$NGINX_PORT/"
	assert_line --index 0 "upstream proxy 127.0.0.1:$port: HTTP/1.1 508 Loop Detected"
	assert_line --index 1 "502"
	stop_relay
	# One conversation to the upstream (ourselves) and its refusal.
	run -0 grep -ac '^TCPMON/1 open ' "$T/relay.out"
	assert_output "2"
}

@test "proxy errors: chunked bodies the server could read otherwise get 400, and Transfer-Encoding in HTTP/1.0" {
	start_nginx_send
	printf 'first file\n' > "$T/ngx/www/a.txt"
	start_relay --proxy -l 0
	local u="http://127.0.0.1:$NGINX_PORT/a.txt"
	run -0 ask "POST $u HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	assert_output "HTTP/1.1 400 Bad Request"
	run -0 tail -n 1 "$T/ans"
	assert_output "malformed request: Transfer-Encoding in an HTTP/1.0 request"
	local body want
	for body in '5\nhello\r\n0\r\n\r\n' '5\r\nhello\n0\r\n\r\n' '5\r\nhello\r\n0\n\r\n' \
	    '5\r\nhello\r\n0\r\n\n' '5\r\nhello\r\n0\r\nX-T: 1\n\r\n' \
	    '5 junk\r\nhello\r\n0\r\n\r\n' 'zz\r\nhello\r\n0\r\n\r\n' \
	    '5\rX\r\nhello\r\n0\r\n\r\n' '0x5\r\nhello\r\n0\r\n\r\n' \
	    ' 5\r\nhello\r\n0\r\n\r\n'; do
		run -0 ask "POST $u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n$body"
		assert_output "HTTP/1.1 400 Bad Request"
		run -0 tail -n 1 "$T/ans"
		assert_output --regexp '^malformed request body: (bare LF in the chunked framing|bad chunk size|no CRLF after a chunk)$'
	done
	# What passes: chunk extensions and trailers, CRLF throughout.
	run -0 ask "POST $u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5 ;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
	assert_output --regexp '^HTTP/1.1 (200|405) '
	stop_relay
	# The bad bodies did not reach the server.
	run -0 grep -ac '^TCPMON/1 data .*dir=s2c from=proxy ' "$T/relay.out"
	assert_output "11"
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/relay.out" payload 2 c2s
	refute_output --partial "hello"
}

@test "proxy --head-timeout: a head that trickles in gets 408 however often bytes come" {
	start_relay --proxy -l 0 --head-timeout 1s --idle-timeout 10s
	local t0=$SECONDS
	run -0 timeout 10 python3 - "$RELAY_PORT" <<-'PY'
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.settimeout(0.2)
	for b in b"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n":
	    try:
	        s.send(bytes([b]))
	        d = s.recv(4096)
	        print(d.decode().split("\r\n")[0]); print(d.decode().splitlines()[-1]); break
	    except socket.timeout:
	        pass
	PY
	assert_line --index 0 "HTTP/1.1 408 Request Timeout"
	assert_line --index 1 "request head not complete within 1000 ms (--head-timeout)"
	[ $((SECONDS - t0)) -lt 5 ]
	run -2 --separate-stderr "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:1 --head-timeout 1s
	assert_equal "$stderr" "tcpmon-relay: --head-timeout: only with --proxy"
	run -0 "$(bin tcpmon-relay)" --help
	assert_output --partial "[--head-timeout DUR]"
}

# drip PORT N SECS: N clients that each send a byte every 0.25 s and never
# finish a head; prints "open" once connected, then how each ended.
drip() {
	python3 - "$@" <<-'PY'
	import collections, socket, sys, time
	port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
	socks = []
	for _ in range(n):
	    s = socket.socket()
	    s.setblocking(False)
	    try:
	        s.connect(("127.0.0.1", port))
	    except BlockingIOError:
	        pass
	    socks.append(s)
	print("open", flush=True)
	got, end = {}, time.time() + secs
	while time.time() < end and len(got) < n:
	    for s in socks:
	        if s in got:
	            continue
	        try:
	            s.send(b"G")
	        except OSError:
	            pass
	        try:
	            d = s.recv(4096)
	            got[s] = d.split(b"\r\n")[0].decode() if d else "eof"
	        except BlockingIOError:
	            pass
	        except OSError as e:
	            got[s] = type(e).__name__
	    time.sleep(0.25)
	for k, v in sorted(collections.Counter(got.values()).items()):
	    print("%d %s" % (v, k))
	print("%d unanswered" % (n - len(got)))
	PY
}

@test "proxy limits: clients that never finish a head cannot lock the proxy out (64 descriptors)" {
	start_nginx_send
	printf 'first file\n' > "$T/ngx/www/a.txt"
	bg relay prlimit --nofile=64:64 "$(bin tcpmon-relay)" --proxy -l 0 --head-timeout 2s
	RELAY_PID=$BG_PID
	wait_for "$T/relay.err" 'listening on'
	RELAY_PORT=$(port_of "$T/relay.err")
	bg drip drip "$RELAY_PORT" 40 20
	wait_for "$T/drip.out" '^open$'
	run -0 timeout 20 curl -sS -x "127.0.0.1:$RELAY_PORT" "http://127.0.0.1:$NGINX_PORT/a.txt"
	assert_output "first file"
	wait_exit "$BG_PID" 25
	# Every one of them was told, none reset or left hanging.
	run -0 cat "$T/drip.out"
	assert_line "40 HTTP/1.1 408 Request Timeout"
	assert_line "0 unanswered"
	stop_relay
	# Paused and resumed many times, said once; not as if --max-conns.
	run -0 grep -c 'not accepting more' "$T/relay.err"
	assert_output "1"
	run -1 grep -c -- '--max-conns' "$T/relay.err"
	grep -q '^tcpmon-relay: 12 clients open (all the open-files limit allows): not accepting more for now (said at most every 10s)$' "$T/relay.err"
}

@test "proxy limits: out of descriptors all the same, a client is refused with 503, said once" {
	# The relay inherits 48 descriptors it does not know of: it runs out
	# long before its own count says so.
	bg relay prlimit --nofile=64:64 bash -c 'for ((fd = 10; fd < 58; fd++)); do eval "exec $fd</dev/null"; done; exec "$@"' \
	    sh "$(bin tcpmon-relay)" --proxy -l 0 --head-timeout 3s
	RELAY_PID=$BG_PID
	wait_for "$T/relay.err" 'listening on'
	RELAY_PORT=$(port_of "$T/relay.err")
	run -0 timeout 20 bash -c "$(declare -f drip); drip $RELAY_PORT 30 8"
	assert_line --regexp '^2[0-9] HTTP/1.1 503 Service Unavailable$'
	assert_line "0 unanswered"
	run -0 grep -c 'refusing clients until connections end (said at most every 10s)$' "$T/relay.err"
	assert_output "1"
	run -0 wc -l < "$T/relay.err"
	assert_output "2"
}

# socks PID: how many sockets PID holds.
socks() { find "/proc/$1/fd" -lname 'socket:*' | wc -l; }

@test "proxy chaos: half heads, clients gone before or during answers, resets, tunnels cut: good clients' answers stay whole, the relay's sockets come back" {
	mkdir -p "$T/www"
	head -c 200000 /dev/urandom > "$T/www/big"
	head -c 1024 /dev/urandom > "$T/www/kib"
	start_nginx "$T/www"
	start_relay --proxy -l 0 -o /dev/null
	# Sockets, not every descriptor: the zero-copy path keeps its pipe
	# pairs for the next bulk transfer (up to 64).
	local fds
	fds=$(socks "$RELAY_PID")
	run -0 timeout 60 python3 "$TESTS_DIR/proxychaos.py" "$RELAY_PORT" \
	    "$NGINX_PORT" 4 "$T/www/big" "$T/www/kib"
	[[ $output =~ ^good\ ([0-9]+)\ chaos\ ([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" -gt 10 ] && [ "${BASH_REMATCH[2]}" -gt 10 ]
	# Every client is gone: so are their sockets and conversations.
	local i n
	for i in $(seq 100); do
		n=$(socks "$RELAY_PID")
		[ "$n" -le "$fds" ] && break
		sleep 0.1
	done
	[ "$n" -le "$fds" ] || { echo "sockets: $fds before, $n after"; ls -l "/proc/$RELAY_PID/fd"; return 1; }
	kill -0 "$RELAY_PID"
}
