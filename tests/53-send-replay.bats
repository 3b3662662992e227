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
	assert_equal "$stderr" "tcpmon-send: $T/nohead: no empty line after the headers: cannot fix Content-Length"
}
