#!/usr/bin/env bats
# tcpmon-mock answering from captures the real relay made of the real demo
# service, to curl and to zeep (Debian's python3-zeep, WSDL and all); and
# from hand-made captures for sequences, query order and JSON.

load helpers

# mock ARGS...: tcpmon-mock in the background; MOCK_PORT, MOCK_PID.
mock() {
	bg mock "$(bin tcpmon-mock)" "$@"
	MOCK_PID=$BG_PID
	wait_for "$T/mock.err" 'listening on' || return 1
	MOCK_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$T/mock.err")
}

soapd_up() {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on'
	SOAPD_PORT=$(port_of "$T/soapd.err")
}

add() {
	printf '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><d:Add xmlns:d="urn:tcpmon:demo"><a>%s</a><b>%s</b></d:Add></soap:Body></soap:Envelope>' "$1" "$2"
}

post() {
	timeout 10 curl -sS -H 'Content-Type: text/xml' --data-binary "$2" \
	    -w '\n%{http_code}\n' "http://127.0.0.1:$1/"
}

@test "recorded SOAP answers served again to curl, byte for byte; whitespace in the request does not count" {
	soapd_up
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" -o "$T/rec.tcpmon"
	post "$RELAY_PORT" "$(add 2 3)" > "$T/live1"
	post "$RELAY_PORT" "$(add 40 2)" > "$T/live2"
	wait_count "$T/rec.tcpmon" '^TCPMON/1 close ' 2
	stop_relay
	mock -l 0 "$T/rec.tcpmon"
	post "$MOCK_PORT" "$(add 40 2)" > "$T/m2"
	post "$MOCK_PORT" "$(add 2 3 | sed 's/<soap:Body>/\n  <soap:Body>\n    /')" > "$T/m1"
	cmp "$T/live1" "$T/m1"
	cmp "$T/live2" "$T/m2"
	grep -q '<d:result>42</d:result>' "$T/m2"
	tail -n 1 "$T/m1" | grep -qx 200
}

@test "zeep reads the recorded WSDL and gets its recorded answers from the mock, in place of the service" {
	soapd_up
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" --rewrite-host -o "$T/rec.tcpmon"
	run -0 timeout 30 /usr/bin/python3 "$TESTS_DIR/soapd-zeep.py" "http://127.0.0.1:$RELAY_PORT/?wsdl"
	local live=$output port=$RELAY_PORT
	# zeep keeps one connection: the WSDL, Add and Echo on it.
	wait_count "$T/rec.tcpmon" '^TCPMON/1 close ' 1
	# (--rewrite-host is a stage: each event is recorded as sent and as
	# delivered, and the mock reads one copy.)
	[ "$(grep -ac '^POST / HTTP/1.1' "$T/rec.tcpmon")" -ge 2 ]
	stop_relay
	# The WSDL names the relay's address: the mock takes its place.
	mock -l "127.0.0.1:$port" --strict "$T/rec.tcpmon"
	run -0 timeout 30 /usr/bin/python3 "$TESTS_DIR/soapd-zeep.py" "http://127.0.0.1:$port/?wsdl"
	[ "$output" = "$live" ]
	[[ $output == *5* ]]
	kill "$MOCK_PID"
	wait_exit "$MOCK_PID"
	[ "$BG_STATUS" -eq 0 ]
}

@test "the same request recorded twice: its answers in their recorded order, then the last again" {
	{
		for i in 1 2; do
			mkrec open "$i" - - '' client=127.0.0.1:1 target=127.0.0.1:2
			mkrec data "$i" c2s - 'GET /counter?b=2&a=1 HTTP/1.1\r\nHost: x\r\n\r\n'
			mkrec data "$i" s2c - "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"count\": $i}\n"
			mkrec close "$i" - - '' reason=eof
		done
	} > "$T/seq.tcpmon"
	mock -l 0 "$T/seq.tcpmon"
	local u="http://127.0.0.1:$MOCK_PORT/counter?a=1&b=2"
	run -0 timeout 10 curl -sS "$u" "$u" "$u"
	assert_output $'{"count": 1}\n{"count": 2}\n{"count": 2}'
}

@test "a request that matches nothing: 404 naming the nearest and what differs, 500 with a Fault for SOAP; --strict exits 1" {
	soapd_up
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" -o "$T/rec.tcpmon"
	post "$RELAY_PORT" "$(add 2 3)" > /dev/null
	wait_count "$T/rec.tcpmon" '^TCPMON/1 close ' 1
	stop_relay
	mock -l 0 --strict "$T/rec.tcpmon"
	run -0 post "$MOCK_PORT" "$(add 2 4)"
	assert_line 500
	assert_line --partial '<faultcode>soap:Client</faultcode><faultstring>no recorded exchange matches POST /; the nearest is POST / ('
	assert_line --partial 'which differs in the body</faultstring>'
	run -0 timeout 10 curl -sS -w '\n%{http_code}\n' "http://127.0.0.1:$MOCK_PORT/other?x=1"
	assert_line 404
	assert_line --partial 'no recorded exchange matches GET /other?x=1; the nearest is POST / ('
	assert_line --partial 'which differs in the method, the path, the query'
	wait_for "$T/mock.err" 'GET /other'
	kill "$MOCK_PID"
	wait_exit "$MOCK_PID"
	[ "$BG_STATUS" -eq 1 ]
	grep -q '^tcpmon-mock: 2 requests matched no recorded exchange (--strict)$' "$T/mock.err"
}

@test "JSON requests match as values, two on one keep-alive connection; a value that differs is 404" {
	{
		mkrec open 1 - - '' client=127.0.0.1:1 target=127.0.0.1:2
		mkrec data 1 c2s - 'POST /q HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"a": 1, "b": 2}'
		mkrec data 1 s2c - 'HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-Kept: yes\r\nContent-Length: 3\r\n\r\nok\n'
		mkrec close 1 - - '' reason=eof
	} > "$T/j.tcpmon"
	mock -l 0 "$T/j.tcpmon"
	run -0 timeout 10 curl -sS -i -H 'Content-Type: application/json' \
	    --data-binary '{"b":2,"a":1}' "http://127.0.0.1:$MOCK_PORT/q" \
	    --next -sS -H 'Content-Type: application/json' --data-binary '{"b":2,"a":1}' \
	    "http://127.0.0.1:$MOCK_PORT/q"
	assert_line --partial 'HTTP/1.1 201 Created'
	assert_line --partial 'X-Kept: yes'
	[ "$(grep -c '^ok' <<< "$output")" -eq 2 ]
	run -0 timeout 10 curl -sS -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary '{"b":3,"a":1}' "http://127.0.0.1:$MOCK_PORT/q"
	[[ $output == *404 ]]
}

@test "usage and bad captures: exit 2, one line" {
	run -2 --separate-stderr "$(bin tcpmon-mock)" "$T/x"
	[ "${stderr_lines[0]}" = "tcpmon-mock: -l [ADDR:]PORT is needed" ]
	run -2 --separate-stderr "$(bin tcpmon-mock)" -l 0
	[ "${stderr_lines[0]}" = "tcpmon-mock: no capture to answer from" ]
	printf 'junk\n' > "$T/junk"
	run -2 "$(bin tcpmon-mock)" -l 0 "$T/junk"
	[[ $output == "tcpmon-mock: $T/junk: record 1 at byte 0: "* ]]
	[ "${#lines[@]}" -eq 1 ]
	run -2 "$(bin tcpmon-mock)" -l 0 --ignore-xpath '//[' "$T/junk"
	[ "${#lines[@]}" -eq 1 ]
}

@test "200 pipelined requests and a half-close: every answer, in order, and no busy loop while the client does not read" {
	{
		mkrec open 1 - - '' client=127.0.0.1:1 target=127.0.0.1:2
		mkrec data 1 c2s - 'GET /p HTTP/1.1\r\nHost: x\r\n\r\n'
		mkrec data 1 s2c - 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n'
		mkrec close 1 - - '' reason=eof
	} > "$T/p.tcpmon"
	mock -l 0 "$T/p.tcpmon"
	run -0 timeout 20 python3 - "$MOCK_PORT" "$MOCK_PID" <<'PY'
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /p HTTP/1.1\r\nHost: x\r\n\r\n" * 200 + b"GET /q HTTP/1.1\r\nHost: x\r\n\r\n")
s.shutdown(socket.SHUT_WR)
def cpu():
    f = open("/proc/%s/stat" % sys.argv[2]).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
c0 = cpu()
time.sleep(1.0)		# not reading: the mock waits, it does not spin
spent = cpu() - c0
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
print(data.count(b"HTTP/1.1 200 OK"), data.count(b"HTTP/1.1 404"), spent)
assert data.rstrip().endswith(b"GET /q; the nearest is GET /p (t1 #1.1), which differs in the path")
PY
	read -r ok nf ticks <<< "$output"
	[ "$ok" -eq 200 ] && [ "$nf" -eq 1 ]
	# Clock ticks (1/100 s) of CPU in the second the client did not read.
	[ "$ticks" -le 20 ]
}
