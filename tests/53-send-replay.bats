#!/usr/bin/env bats
# tcpmon-send --replay and --raw: a SOAP call captured by the real relay is
# sent again to the real service, to its recorded target or another; paced;
# reformatted records refused; raw request files sent byte for byte.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }
send() { timeout 20 "$(bin tcpmon-send)" "$@"; }

# mkrec HEADER PAYLOAD: one record, by hand.
mkrec() {
	printf 'TCPMON/1 %s len=%d\n%s\n' "$1" "${#2}" "$2"
}

# capture_add: a SOAP 1.1 Add call through a relay in front of the
# service, captured in $T/cap.tcpmon; its answer body in $T/first.
capture_add() {
	start_spyne
	start_relay -l 0 -t 127.0.0.1:"$SPYNE_PORT" -o "$T/cap.tcpmon"
	printf '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Add xmlns="urn:tcpmon:test"><a>20</a><b>22</b></Add></soap:Body></soap:Envelope>' > "$T/add.xml"
	send --soap-action Add -o "$T/first" "http://127.0.0.1:$RELAY_PORT/soap11" "$T/add.xml"
	wait_count "$T/cap.tcpmon" '^TCPMON/1 close ' 1
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
}

@test "replay: a captured SOAP call sent again gets the same answer" {
	capture_add
	grep -q '<tns:AddResult>42</tns:AddResult>' "$T/first"
	run -0 send --replay "$T/cap.tcpmon" --conn 1 -o "$T/again"
	cmp "$T/first" "$T/again"
	run -0 send --replay "$T/cap.tcpmon" --conn 1 --text
	assert_line --index 0 "HTTP/1.0 200 OK"
	assert_output --partial '<tns:AddResult>42</tns:AddResult>'
	# Into a pipe: records of the new exchange, with the recorded bytes.
	send --replay "$T/cap.tcpmon" --conn 1 > "$T/new.tcpmon"
	run -0 rp "$T/new.tcpmon" field 1 open target
	assert_output "127.0.0.1:$SPYNE_PORT"
	rp "$T/cap.tcpmon" payload 1 c2s > "$T/old.c2s"
	rp "$T/new.tcpmon" payload 1 c2s > "$T/new.c2s"
	cmp "$T/old.c2s" "$T/new.c2s"
}

@test "replay: -t sends to another target" {
	capture_add
	kill "$SPYNE_PID"
	wait "$SPYNE_PID" 2>/dev/null || true
	run -1 --separate-stderr send --replay "$T/cap.tcpmon" --conn 1
	assert_equal "$stderr" "tcpmon-send: connect 127.0.0.1:$SPYNE_PORT: Connection refused"
	bg spyne2 /usr/bin/python3 "$TESTS_DIR/servers/spyne_service.py"
	wait_for "$T/spyne2.err" 'listening on'
	run -0 send --replay "$T/cap.tcpmon" --conn 1 -t 127.0.0.1:"$(port_of "$T/spyne2.err")" -o "$T/again"
	cmp "$T/first" "$T/again"
}

@test "replay: reformatted records are refused; only wire bytes are re-sent" {
	capture_add
	sed 's/^\(TCPMON\/1 data conn=1 .* dir=c2s\) len=/\1 xform=xml len=/' "$T/cap.tcpmon" > "$T/fmt.tcpmon"
	run -2 --separate-stderr send --replay "$T/fmt.tcpmon" --conn 1
	[[ $stderr =~ ^"tcpmon-send: $T/fmt.tcpmon: record "[0-9]+": a reformatted payload (xform=xml): only wire bytes can be re-sent; use the capture from before the formatter"$ ]]
}

@test "replay: connections are chosen by --conn and --src" {
	capture_add
	run -2 --separate-stderr send --replay "$T/cap.tcpmon" --conn 7
	assert_equal "$stderr" "tcpmon-send: $T/cap.tcpmon: no connection 7"
	sed 's/src=relay-[0-9]*/src=other/' "$T/cap.tcpmon" > "$T/other.tcpmon"
	cat "$T/cap.tcpmon" "$T/other.tcpmon" > "$T/both.tcpmon"
	run -2 --separate-stderr send --replay "$T/both.tcpmon" --conn 1
	[[ $stderr =~ ^"tcpmon-send: $T/both.tcpmon: connection 1 is there from two sources (relay-"[0-9]+" and other): choose one with --src"$ ]]
	run -0 send --replay "$T/both.tcpmon" --conn 1 --src other -o "$T/again"
	cmp "$T/first" "$T/again"
	run -2 --separate-stderr send --replay "$T/both.tcpmon" --conn 1 --src nobody
	assert_equal "$stderr" "tcpmon-send: $T/both.tcpmon: no connection 1 from source nobody"
	printf 'garbage' > "$T/bad.tcpmon"
	run -2 --separate-stderr send --replay "$T/bad.tcpmon" --conn 1
	assert_equal "$stderr" "tcpmon-send: $T/bad.tcpmon: record 1 at byte 0: not a tcpmon record stream"
	run -2 --separate-stderr send --replay "$T/none.tcpmon" --conn 1
	assert_equal "$stderr" "tcpmon-send: $T/none.tcpmon: No such file or directory"
}

@test "replay: --pace keeps the recorded time between chunks" {
	start_nginx_send
	echo hello > "$T/ngx/www/hello.txt"
	{
		mkrec "stream conn=0 src=h time=2026-11-22T10:00:00.000000Z tool=hand" ""
		mkrec "open conn=1 src=h time=2026-11-22T10:00:00.000000Z target=127.0.0.1:$NGINX_PORT" ""
		mkrec "data conn=1 src=h time=2026-11-22T10:00:00.000000Z dir=c2s" $'GET /hello.txt HTTP/1.1\r\nHost: x\r\n'
		mkrec "data conn=1 src=h time=2026-11-22T10:00:00.700000Z dir=c2s" $'\r\n'
		mkrec "close conn=1 src=h time=2026-11-22T10:00:00.800000Z reason=eof" ""
	} > "$T/hand.tcpmon"
	run -0 --separate-stderr send -v --replay "$T/hand.tcpmon" --conn 1 -o "$T/body"
	sent=$(sed -n 's/.*, sent \([0-9]*\)\.[0-9]* ms,.*/\1/p' <<< "$stderr")
	[ "$sent" -lt 500 ]
	run -0 --separate-stderr send -v --pace --replay "$T/hand.tcpmon" --conn 1 -o "$T/body"
	sent=$(sed -n 's/.*, sent \([0-9]*\)\.[0-9]* ms,.*/\1/p' <<< "$stderr")
	[ "$sent" -ge 700 ]
	run -0 cat "$T/body"
	assert_output hello
}

@test "replay: a connection that is not HTTP is sent, half-closed, and its answer shown" {
	start_echo
	{
		mkrec "open conn=3 src=h time=2026-11-22T10:00:00.000000Z target=127.0.0.1:$ECHO_PORT" ""
		mkrec "data conn=3 src=h time=2026-11-22T10:00:00.000000Z dir=c2s" $'ping\n'
	} > "$T/echo.tcpmon"
	run -0 send --text --replay "$T/echo.tcpmon" --conn 3
	assert_output "ping"
}

@test "raw: a request file is sent byte for byte and the whole answer shown" {
	start_nginx_send
	echo hello > "$T/ngx/www/hello.txt"
	printf 'GET /hello.txt HTTP/1.1\r\nHost: raw\r\nX-Raw: 1\r\n\r\n' > "$T/req"
	run -0 send --text --raw "127.0.0.1:$NGINX_PORT" "$T/req"
	assert_line --index 0 $'HTTP/1.1 200 OK\r'
	assert_line "hello"
	send --raw "127.0.0.1:$NGINX_PORT" - < "$T/req" > "$T/r.tcpmon"
	rp "$T/r.tcpmon" payload 1 c2s > "$T/sent"
	cmp "$T/req" "$T/sent"
	printf 'GET /nothere HTTP/1.1\r\nHost: raw\r\n\r\n' > "$T/req404"
	run -1 --separate-stderr send -o /dev/null --raw "127.0.0.1:$NGINX_PORT" "$T/req404"
	assert_equal "$stderr" "tcpmon-send: 127.0.0.1:$NGINX_PORT: HTTP 404 Not Found"
}

@test "raw: --fix-length recomputes Content-Length first" {
	start_spyne
	body='<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Add xmlns="urn:tcpmon:test"><a>1</a><b>2</b></Add></soap:Body></soap:Envelope>'
	printf 'POST /soap11 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 5\r\nSOAPAction: ""\r\n\r\n%s' "$body" > "$T/req"
	send --fix-length --raw "127.0.0.1:$SPYNE_PORT" "$T/req" > "$T/r.tcpmon"
	rp "$T/r.tcpmon" payload 1 c2s > "$T/sent"
	run -0 cat "$T/sent"
	assert_line $'Content-Length: '"${#body}"$'\r'
	refute_line $'Content-Length: 5\r'
	assert_line --partial 'SOAPAction: ""'
	rp "$T/r.tcpmon" payload 1 s2c > "$T/answer"
	run -0 grep -c '<tns:AddResult>3</tns:AddResult>' "$T/answer"
	printf 'no blank line' > "$T/nohead"
	run -2 --separate-stderr send --fix-length --raw "127.0.0.1:$SPYNE_PORT" "$T/nohead"
	assert_equal "$stderr" "tcpmon-send: $T/nohead: not a valid HTTP/1.x request (not HTTP) (--fix-length cannot correct that; use --as-is to send it anyway)"
}

# add_request A B LENGTH: a SOAP Add request file whose Content-Length
# says LENGTH.
add_request() {
	local body="<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><Add xmlns=\"urn:tcpmon:test\"><a>$1</a><b>$2</b></Add></soap:Body></soap:Envelope>"
	printf 'POST /soap11 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nSOAPAction: ""\r\nContent-Length: %s\r\n\r\n%s' "${3:-${#body}}" "$body"
}

@test "raw: an edited body its Content-Length no longer fits is refused; --fix-length corrects it, --as-is sends it" {
	start_spyne
	add_request 1 2 > "$T/saved"
	run -0 --separate-stderr send -o "$T/answer" --raw "127.0.0.1:$SPYNE_PORT" "$T/saved"
	grep -q '<tns:AddResult>3</tns:AddResult>' "$T/answer"
	# The body edited, the length left: 1 and 2 became 20 and 22.
	len=$(add_request 1 2 | sed -n 's/^Content-Length: \([0-9]*\)\r$/\1/p')
	add_request 20 22 "$len" > "$T/edited"
	run -2 --separate-stderr send --text --raw "127.0.0.1:$SPYNE_PORT" "$T/edited"
	assert_equal "$stderr" "tcpmon-send: $T/edited: Content-Length says $len but the body has $((len + 2)) bytes (use --fix-length to correct it, or --as-is to send it anyway)"
	assert_output ""
	run -2 --separate-stderr send --raw "127.0.0.1:$SPYNE_PORT" - < "$T/edited"
	assert_equal "$stderr" "tcpmon-send: stdin: Content-Length says $len but the body has $((len + 2)) bytes (use --fix-length to correct it, or --as-is to send it anyway)"
	run -0 --separate-stderr send --fix-length -o "$T/answer" --raw "127.0.0.1:$SPYNE_PORT" "$T/edited"
	grep -q '<tns:AddResult>42</tns:AddResult>' "$T/answer"
	# --as-is: the bytes of the file, cut where the server stops reading.
	send --as-is --raw "127.0.0.1:$SPYNE_PORT" "$T/edited" > "$T/r.tcpmon" || true
	rp "$T/r.tcpmon" payload 1 c2s > "$T/sent"
	cmp "$T/edited" "$T/sent"
	# A body grown short of its length would wait for bytes never sent.
	add_request 1 2 400 > "$T/short"
	run -2 --separate-stderr send --raw "127.0.0.1:$SPYNE_PORT" "$T/short"
	assert_equal "$stderr" "tcpmon-send: $T/short: Content-Length says 400 but the body has $((len)) bytes (use --fix-length to correct it, or --as-is to send it anyway)"
	run -2 --separate-stderr send --as-is --fix-length --raw "127.0.0.1:$SPYNE_PORT" "$T/short"
	assert_equal "$stderr" "tcpmon-send: --as-is cannot be used with --fix-length"
	run -2 --separate-stderr send --as-is "http://127.0.0.1:$SPYNE_PORT/"
	assert_equal "$stderr" "tcpmon-send: --as-is needs --raw"
}

@test "raw: LF line ends are sent with a warning, --fix-length ends them in CRLF; a head without its empty line is refused" {
	start_nginx_send
	echo hello > "$T/ngx/www/hello.txt"
	printf 'GET /hello.txt HTTP/1.1\nHost: raw\n\n' > "$T/lf"
	run -0 --separate-stderr send --text --raw "127.0.0.1:$NGINX_PORT" "$T/lf"
	assert_equal "$stderr" "tcpmon-send: warning: $T/lf: lines of the head end in LF, not CRLF; sent as they are (--fix-length ends them in CRLF)"
	assert_line "hello"
	send --fix-length --raw "127.0.0.1:$NGINX_PORT" "$T/lf" > "$T/r.tcpmon"
	rp "$T/r.tcpmon" payload 1 c2s > "$T/sent"
	printf 'GET /hello.txt HTTP/1.1\r\nHost: raw\r\n\r\n' | cmp - "$T/sent"
	# An editor's file: LF, and no empty line after the last header.
	printf 'GET /hello.txt HTTP/1.1\nHost: raw\n' > "$T/open"
	run -2 --separate-stderr send --timeout 5s --text --raw "127.0.0.1:$NGINX_PORT" "$T/open"
	assert_equal "$stderr" "tcpmon-send: $T/open: no empty line ends the head (use --fix-length to correct it, or --as-is to send it anyway)"
	run -0 --separate-stderr send --timeout 5s --fix-length --text --raw "127.0.0.1:$NGINX_PORT" "$T/open"
	assert_line "hello"
	assert_equal "$stderr" ""
	# A body whose CRLFs an editor made LFs is shorter than its length.
	printf 'POST /post HTTP/1.1\nHost: raw\nContent-Length: 12\n\nline\nline\n' > "$T/post"
	run -2 --separate-stderr send --raw "127.0.0.1:$NGINX_PORT" "$T/post"
	assert_equal "$stderr" "tcpmon-send: $T/post: Content-Length says 12 but the body has 10 bytes (use --fix-length to correct it, or --as-is to send it anyway)"
	run -0 send --fix-length --text --raw "127.0.0.1:$NGINX_PORT" "$T/post"
	assert_line "posted"
}

@test "raw: chunked requests are checked by their chunks; two requests, or a body without a length, are refused" {
	start_nginx_send
	printf 'POST /post HTTP/1.1\r\nHost: raw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' > "$T/chunked"
	run -0 --separate-stderr send --text --raw "127.0.0.1:$NGINX_PORT" "$T/chunked"
	assert_line "posted"
	run -0 --separate-stderr send --fix-length --text --raw "127.0.0.1:$NGINX_PORT" "$T/chunked"
	assert_line "posted"
	# A chunk edited longer than its size line.
	printf 'POST /post HTTP/1.1\r\nHost: raw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n' > "$T/badchunk"
	run -2 --separate-stderr send --fix-length --raw "127.0.0.1:$NGINX_PORT" "$T/badchunk"
	assert_equal "$stderr" "tcpmon-send: $T/badchunk: the chunked body is bad (no CRLF after a chunk) (--fix-length cannot correct that; use --as-is to send it anyway)"
	printf 'POST /post HTTP/1.1\r\nHost: raw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n' > "$T/cut"
	run -2 --separate-stderr send --raw "127.0.0.1:$NGINX_PORT" "$T/cut"
	assert_equal "$stderr" "tcpmon-send: $T/cut: the chunked body is cut: it has no last chunk (0) (use --as-is to send it anyway)"
	# Both framings: --fix-length keeps the chunks' and drops the length.
	printf 'POST /post HTTP/1.1\r\nHost: raw\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' > "$T/both"
	run -2 --separate-stderr send --raw "127.0.0.1:$NGINX_PORT" "$T/both"
	assert_equal "$stderr" "tcpmon-send: $T/both: both Content-Length and Transfer-Encoding: chunked (use --fix-length to correct it, or --as-is to send it anyway)"
	send --fix-length --raw "127.0.0.1:$NGINX_PORT" "$T/both" > "$T/r.tcpmon"
	rp "$T/r.tcpmon" payload 1 c2s > "$T/sent"
	printf 'POST /post HTTP/1.1\r\nHost: raw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' | cmp - "$T/sent"
	# A body without Content-Length: the server would take it for the
	# next request.
	printf 'POST /post HTTP/1.1\r\nHost: raw\r\n\r\nhello' > "$T/nolen"
	run -2 --separate-stderr send --raw "127.0.0.1:$NGINX_PORT" "$T/nolen"
	assert_equal "$stderr" "tcpmon-send: $T/nolen: no Content-Length but the body has 5 bytes (use --fix-length to correct it, or --as-is to send it anyway)"
	run -0 send --fix-length --text --raw "127.0.0.1:$NGINX_PORT" "$T/nolen"
	assert_line "posted"
	# Two requests in one file: only --as-is sends them, both answered.
	printf 'GET /post HTTP/1.1\r\nHost: raw\r\n\r\nGET /post HTTP/1.1\r\nHost: raw\r\n\r\n' > "$T/two"
	run -2 --separate-stderr send --fix-length --raw "127.0.0.1:$NGINX_PORT" "$T/two"
	assert_equal "$stderr" "tcpmon-send: $T/two: more than one request in it (--fix-length cannot correct that; use --as-is to send it anyway)"
	run -0 send --as-is --text --raw "127.0.0.1:$NGINX_PORT" "$T/two"
	assert_equal "$(grep -c '^posted' <<< "$output")" 2
	# An editor's last newline after a request without a body is let through.
	printf 'GET /post HTTP/1.1\r\nHost: raw\r\n\r\n\n' > "$T/nl"
	run -0 send --text --raw "127.0.0.1:$NGINX_PORT" "$T/nl"
	assert_line "posted"
}

@test "raw: --pretty shows the answer taken apart, its body indented" {
	start_spyne
	add_request 1 2 > "$T/req"
	run -0 --separate-stderr send --text --raw "127.0.0.1:$SPYNE_PORT" "$T/req"
	assert_line --index 0 $'HTTP/1.0 200 OK\r'
	run -0 --separate-stderr send --text --pretty --raw "127.0.0.1:$SPYNE_PORT" "$T/req"
	assert_line --index 0 "HTTP/1.0 200 OK"
	assert_line --regexp '^  <soap11env:Body>$'
	assert_line --regexp '^      <tns:AddResult>3</tns:AddResult>$'
	sed -n '/^<?xml/,$p' <<< "$output" | xmllint --noout -
}

# capture_keepalive: curl sends three requests over one connection through
# a relay to nginx (a GET, a POST with a body, a GET); the capture in
# $T/ka.tcpmon.
capture_keepalive() {
	start_nginx_send
	echo first > "$T/ngx/www/a.txt"
	echo third > "$T/ngx/www/c.txt"
	start_relay -l 0 -t 127.0.0.1:"$NGINX_PORT" -o "$T/ka.tcpmon"
	local u=http://127.0.0.1:$RELAY_PORT
	timeout 20 curl -s "$u/a.txt" --next --data-binary 'x=1&y=2' "$u/post" --next "$u/c.txt" > "$T/curl.out"
	wait_count "$T/ka.tcpmon" '^TCPMON/1 close ' 1
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	assert_equal "$(grep -ac '^TCPMON/1 open ' "$T/ka.tcpmon")" 1
}

@test "replay: --exchange K sends one request of a keep-alive connection" {
	capture_keepalive
	run -0 --separate-stderr send --replay "$T/ka.tcpmon" --conn 1 --exchange 3 --text
	assert_line --index 0 "HTTP/1.1 200 OK"
	assert_line "third"
	refute_line "first"
	send --replay "$T/ka.tcpmon" --conn 1 --exchange 2 > "$T/r.tcpmon"
	rp "$T/r.tcpmon" payload 1 c2s > "$T/sent"
	run -0 cat "$T/sent"
	assert_line --index 0 $'POST /post HTTP/1.1\r'
	[[ $output == *$'\r\n\r\nx=1&y=2' ]]
	run -0 grep -c 'HTTP/1.1' "$T/sent"
	assert_output 1
	rp "$T/r.tcpmon" payload 1 s2c > "$T/answer"
	grep -q '^posted' "$T/answer"
	run -0 send --replay "$T/ka.tcpmon" --conn 1 --exchange 1 -o "$T/body"
	assert_equal "$(cat "$T/body")" "first"
	run -2 --separate-stderr send --replay "$T/ka.tcpmon" --conn 1 --exchange 4
	assert_equal "$stderr" "tcpmon-send: $T/ka.tcpmon: connection 1: the client sent 3 requests, not 4"
	run -2 --separate-stderr send --exchange 1 "http://127.0.0.1:$NGINX_PORT/"
	assert_equal "$stderr" "tcpmon-send: --exchange needs --replay"
	run -2 --separate-stderr send --replay "$T/ka.tcpmon" --conn 1 --exchange 0
	assert_equal "$stderr" "tcpmon-send: --exchange 0: too small (1 to 18446744073709551615)"
}

@test "replay: without --conn, every connection of the capture again, in order, as one stream of records that tcpmon-diff finds the same" {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on'
	local port a
	port=$(port_of "$T/soapd.err")
	start_relay -l 0 -t "127.0.0.1:$port" -o "$T/rec.tcpmon"
	for a in 1 2 3; do
		timeout 10 curl -sS -o /dev/null -H 'Content-Type: text/xml' \
		    --data-binary "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><d:Add xmlns:d=\"urn:tcpmon:demo\"><a>$a</a><b>10</b></d:Add></soap:Body></soap:Envelope>" \
		    "http://127.0.0.1:$RELAY_PORT/"
	done
	# A connection that sent nothing is not sent again.
	timeout 10 socat -u /dev/null TCP:127.0.0.1:"$RELAY_PORT"
	wait_count "$T/rec.tcpmon" '^TCPMON/1 close ' 4
	stop_relay
	"$(bin tcpmon-send)" --replay "$T/rec.tcpmon" --records > "$T/again.tcpmon"
	[ "$(grep -ac '^TCPMON/1 stream ' "$T/again.tcpmon")" -eq 1 ]
	[ "$(grep -ac '^TCPMON/1 open ' "$T/again.tcpmon")" -eq 3 ]
	grep -aq '^TCPMON/1 open conn=3 ' "$T/again.tcpmon"
	run -0 "$(bin tcpmon-diff)" "$T/rec.tcpmon" "$T/again.tcpmon"
	assert_output '3 exchanges compared: 0 differ, 0 only in A, 0 only in B'
	run -2 "$(bin tcpmon-send)" --replay - < "$T/rec.tcpmon"
	assert_output "tcpmon-send: --replay - needs --conn N: every connection of a capture is read twice"
}

@test "replay: -c N sends N recorded connections at once, numbered in the capture's order, and tcpmon-diff finds the same" {
	# A server that takes 0.6 s over each answer, a thread a connection.
	cat > "$T/slow.py" <<'PY'
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.6)
        body = self.path.encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % s.server_address[1], file=sys.stderr, flush=True)
s.serve_forever()
PY
	bg slow python3 "$T/slow.py"
	wait_for "$T/slow.err" 'listening on'
	local port i t0 t1 pids=()
	port=$(port_of "$T/slow.err")
	start_relay -l 0 -t "127.0.0.1:$port" -o "$T/rec.tcpmon"
	for i in 1 2 3 4 5 6; do
		timeout 10 curl -sS -o /dev/null "http://127.0.0.1:$RELAY_PORT/n$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	wait_count "$T/rec.tcpmon" '^TCPMON/1 close ' 6
	stop_relay
	t0=$(date +%s%N)
	"$(bin tcpmon-send)" --replay "$T/rec.tcpmon" -c 6 > "$T/again.tcpmon"
	t1=$(date +%s%N)
	# Six answers of 0.6 s each, at once: well under their 3.6 s in a row.
	[ $(( (t1 - t0) / 1000000 )) -lt 3000 ]
	[ "$(grep -ac '^TCPMON/1 stream ' "$T/again.tcpmon")" -eq 1 ]
	[ "$(grep -ac '^TCPMON/1 open ' "$T/again.tcpmon")" -eq 6 ]
	[ "$(grep -ac '^TCPMON/1 close .*reason=eof' "$T/again.tcpmon")" -eq 6 ]
	python3 "$TESTS_DIR/recparse.py" "$T/again.tcpmon" kinds | grep -q .
	run -0 "$(bin tcpmon-diff)" "$T/rec.tcpmon" "$T/again.tcpmon"
	assert_output '6 exchanges compared: 0 differ, 0 only in A, 0 only in B'
	# Each new connection has the number of the recorded one it sent again.
	for i in 1 2 3 4 5 6; do
		rc=$(python3 "$TESTS_DIR/recparse.py" "$T/rec.tcpmon" payload "$i" c2s | head -n 1)
		ag=$(python3 "$TESTS_DIR/recparse.py" "$T/again.tcpmon" payload "$i" c2s | head -n 1)
		[ -n "$rc" ] && [ "$rc" = "$ag" ]
	done
	# A target that refuses: every run says so, exit 1, records still whole.
	run -1 "$(bin tcpmon-send)" --replay "$T/rec.tcpmon" -c 3 -t "127.0.0.1:$(free_port)"
	[ "$(grep -c '^TCPMON/1 close .*reason=refused' <<< "$output")" -eq 6 ]
	run -2 "$(bin tcpmon-send)" --replay "$T/rec.tcpmon" -c 2 --conn 1
	assert_output "tcpmon-send: -c with --replay: only without --conn (every connection, N at a time)"
	run -2 "$(bin tcpmon-send)" --replay "$T/rec.tcpmon" -c 2 --text
	[[ $output == *"-c with --replay"*"--text"* ]]
}
