#!/usr/bin/env bats
# tcpmon-relay --proxy: every answer the proxy gives itself (400, 403, 431,
# 502, 504), each recorded as a connection with the client's bytes, the
# answer and a close record; --allow; bad arguments.

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
	# 126 pass; one more, and the proxy could not tell where the request
	# and its answer end.
	fields() { for ((i = 1; i < $1; i++)); do printf 'X-%d: %d\\r\\n' $i $i; done; }
	run -0 ask "GET http://127.0.0.1:$NGINX_PORT/a.txt HTTP/1.1\r\nHost: x\r\n$(fields 126)\r\n"
	assert_output "HTTP/1.1 200 OK"
	run -0 ask "GET http://127.0.0.1:$NGINX_PORT/a.txt HTTP/1.1\r\nHost: x\r\n$(fields 127)\r\n"
	assert_output "HTTP/1.1 431 Request Header Fields Too Large"
	run -0 tail -n 1 "$T/ans"
	assert_output "request head with more than 126 header fields"
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
