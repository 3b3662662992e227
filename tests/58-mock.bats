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

# mkexchange CONN REQUEST ANSWER: one recorded connection of one exchange
# (the bytes as mkrec takes them).
mkexchange() {
	mkrec open "$1" - - '' client=127.0.0.1:1 target=127.0.0.1:2
	mkrec data "$1" c2s - "$2"
	mkrec data "$1" s2c - "$3"
	mkrec close "$1" - - '' reason=eof
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
			mkexchange "$i" 'GET /counter?b=2&a=1 HTTP/1.1\r\nHost: x\r\n\r\n' \
			    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"count\": $i}\n"
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
	mkexchange 1 'POST /q HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"a": 1, "b": 2}' \
	    'HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-Kept: yes\r\nContent-Length: 3\r\n\r\nok\n' > "$T/j.tcpmon"
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
	mkexchange 1 'GET /p HTTP/1.1\r\nHost: x\r\n\r\n' \
	    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n' > "$T/p.tcpmon"
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

# A line protocol that is not HTTP (SMTP's shape): a banner first, an
# answer to each line, the third after a pause of 0.6 s, and the server
# closes after QUIT.
lined_up() {
	cat > "$T/lined.py" <<'PY'
import socket, sys, time
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
print("listening on 127.0.0.1:%d" % ls.getsockname()[1], file=sys.stderr, flush=True)
while True:
    s, _ = ls.accept()
    s.sendall(b"220 demo ready\r\n")
    f = s.makefile("rb")
    for line in f:
        if line.startswith(b"QUIT"):
            s.sendall(b"221 bye\r\n")
            break
        if line.startswith(b"SLOW"):
            time.sleep(0.6)
        s.sendall(b"250 " + line[5:].rstrip() + b" ok\r\n")
    f.close()
    s.close()
PY
	bg lined python3 "$T/lined.py"
	wait_for "$T/lined.err" 'listening on'
	LINED_PORT=$(port_of "$T/lined.err")
}

# talk PORT: the client's side of one conversation, timed: what it read,
# and the milliseconds the answer to SLOW took.
talk() {
	timeout 20 python3 - "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
out = [f.readline()]
for cmd in (b"HELO client.example\r\n", b"SLOW please\r\n", b"QUIT\r\n"):
    t0 = time.monotonic()
    s.sendall(cmd)
    out.append(f.readline())
    if cmd.startswith(b"SLOW"):
        ms = int((time.monotonic() - t0) * 1000)
out.append(f.read())	# to the server's end
sys.stdout.write(repr(b"".join(out)) + "\n" + str(ms) + "\n")
PY
}

@test "--raw plays a recorded line protocol to a new client: banner first, each answer after the client's bytes; -o records what was served" {
	lined_up
	start_relay -l 0 -t "127.0.0.1:$LINED_PORT" -o "$T/rec.tcpmon"
	run -0 talk "$RELAY_PORT"
	local live=${lines[0]}
	[[ $live == *"220 demo ready"*"250 client.example ok"*"221 bye"* ]]
	wait_count "$T/rec.tcpmon" '^TCPMON/1 close ' 1
	stop_relay
	mock --raw -l 0 -o "$T/served.tcpmon" --strict "$T/rec.tcpmon"
	grep -q 'listening on .*, 1 recorded connection$' "$T/mock.err"
	run -0 talk "$MOCK_PORT"
	[ "${lines[0]}" = "$live" ]
	# Without --pace the pause is not kept.
	[ "${lines[1]}" -lt 500 ]
	# A second client gets the last recording again.
	run -0 talk "$MOCK_PORT"
	[ "${lines[0]}" = "$live" ]
	kill "$MOCK_PID"
	wait_exit "$MOCK_PID"
	[ "$BG_STATUS" -eq 0 ]
	[ "$(stat -c %a "$T/served.tcpmon")" = 600 ]
	# What was served, as records: each side's bytes as the relay saw them.
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/served.tcpmon" kinds
	for d in c2s s2c; do
		python3 "$TESTS_DIR/recparse.py" "$T/rec.tcpmon" payload 1 "$d" > "$T/want.$d"
		python3 "$TESTS_DIR/recparse.py" "$T/served.tcpmon" payload 1 "$d" > "$T/got.$d"
		cmp "$T/want.$d" "$T/got.$d"
		python3 "$TESTS_DIR/recparse.py" "$T/served.tcpmon" payload 2 "$d" > "$T/got2.$d"
		cmp "$T/want.$d" "$T/got2.$d"
	done
	[ -s "$T/want.s2c" ]
	[ "$(grep -ac '^TCPMON/1 open ' "$T/served.tcpmon")" -eq 2 ]
	[ "$(grep -ac '^TCPMON/1 close .*reason=eof' "$T/served.tcpmon")" -eq 2 ]
	run -0 "$(bin tcpmon-tap)" --list < "$T/served.tcpmon"
	[ "$(grep -c " 127.0.0.1:$MOCK_PORT " <<< "$output")" -eq 2 ]
}

@test "--pace keeps the server's recorded think time, in raw mode and for HTTP" {
	lined_up
	start_relay -l 0 -t "127.0.0.1:$LINED_PORT" -o "$T/rec.tcpmon"
	run -0 talk "$RELAY_PORT"
	wait_count "$T/rec.tcpmon" '^TCPMON/1 close ' 1
	stop_relay
	mock --raw --pace -l 0 "$T/rec.tcpmon"
	run -0 talk "$MOCK_PORT"
	[[ ${lines[0]} == *"250 please ok"* ]]
	[ "${lines[1]}" -ge 550 ]
	kill "$MOCK_PID"
	wait_exit "$MOCK_PID"
	# HTTP: the answer 0.7 s after the request, recorded; two requests
	# pipelined on one connection: the fast one after the slow one, in
	# order.
	{
		mkrec open 1 - 2026-12-04T10:00:00.000000Z '' client=127.0.0.1:1 target=127.0.0.1:2
		mkrec data 1 c2s 2026-12-04T10:00:00.100000Z 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'
		mkrec data 1 s2c 2026-12-04T10:00:00.800000Z 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nslow\n'
		mkrec data 1 c2s 2026-12-04T10:00:01.000000Z 'GET /fast HTTP/1.1\r\nHost: x\r\n\r\n'
		mkrec data 1 s2c 2026-12-04T10:00:01.001000Z 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfast\n'
		mkrec close 1 - 2026-12-04T10:00:01.100000Z '' reason=eof
	} > "$T/http.tcpmon"
	mock --pace -l 0 "$T/http.tcpmon"
	run -0 timeout 20 curl -sS -w '%{time_total}\n' "http://127.0.0.1:$MOCK_PORT/slow" "http://127.0.0.1:$MOCK_PORT/fast"
	[ "${lines[0]}" = slow ] && [ "${lines[2]}" = fast ]
	awk -v s="${lines[1]}" -v f="${lines[3]}" 'BEGIN { exit !(s >= 0.65 && f < 0.5) }'
	run -0 timeout 20 python3 "$TESTS_DIR/sendrecv.py" "$MOCK_PORT" 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n'
	[ "${lines[0]}" -ge 650 ]
	[[ ${lines[1]} == *slow*fast* ]]
}

@test "--raw: a client that strays from the recording is said once on stderr and in a note; --strict exits 1" {
	{
		mkrec open 1 - - '' client=127.0.0.1:1 target=127.0.0.1:2
		mkrec data 1 c2s - 'PING 1\n'
		mkrec data 1 s2c - 'PONG 1\n'
		mkrec data 1 c2s - 'PING 2\n'
		mkrec data 1 s2c - 'PONG 2\n'
		mkrec shutdown 1 s2c - ''
		mkrec close 1 - - '' reason=eof
	} > "$T/ping.tcpmon"
	mock --raw --strict -l 0 -o "$T/served.tcpmon" "$T/ping.tcpmon"
	run -0 timeout 10 python3 "$TESTS_DIR/sendrecv.py" "$MOCK_PORT" 'PING 1\nPANG 2\n'
	# The bytes are counted, not matched: both answers, then the end.
	[ "${lines[1]}" = "b'PONG 1\\nPONG 2\\n'" ]
	kill "$MOCK_PID"
	wait_exit "$MOCK_PID"
	[ "$BG_STATUS" -eq 1 ]
	grep -q "connection 1: the client's bytes differ from t1 #1's at byte 8" "$T/mock.err"
	grep -q 'strayed from the recording (--strict)' "$T/mock.err"
	[ "$(grep -ac '^TCPMON/1 note conn=1 ' "$T/served.tcpmon")" -eq 1 ]
	grep -aq '^TCPMON/1 shutdown conn=1 .*dir=s2c' "$T/served.tcpmon"
	# A capture without connections, and --raw with a body option.
	mkrec stream 0 - - '' tool=x > "$T/empty.tcpmon"
	run -2 "$(bin tcpmon-mock)" --raw -l 0 "$T/empty.tcpmon"
	[ "${#lines[@]}" -eq 1 ] && [[ $output == "tcpmon-mock: no recorded connection in "* ]]
	run -2 "$(bin tcpmon-mock)" --raw --ignore-json a -l 0 "$T/ping.tcpmon"
	[ "${#lines[@]}" -eq 1 ] && [[ $output == *"--raw compares bytes"* ]]
}

@test "a request sent byte for byte as the second of two recordings that differ only in spacing gets the first answer first" {
	local a1 a2
	a1=$(add 2 3)
	a2=$(add 2 3 | sed 's/<soap:Body>/<soap:Body>\n  /')
	{
		for i in 1 2; do
			local b=$a1
			[ "$i" = 2 ] && b=$a2
			mkexchange "$i" "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: ${#b}\r\n\r\n$b" \
			    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 7\r\n\r\nanswer$i"
		done
	} > "$T/two.tcpmon"
	mock -l 0 "$T/two.tcpmon"
	run -0 post "$MOCK_PORT" "$a2"
	[ "${lines[0]}" = answer1 ]
	run -0 post "$MOCK_PORT" "$a2"
	[ "${lines[0]}" = answer2 ]
	run -0 post "$MOCK_PORT" "$a1"
	[ "${lines[0]}" = answer2 ]
}

@test "--raw: clients that speak first get the recording whose client began as they do, whatever order they connect in" {
	{
		for w in a b; do
			local n=1
			[ "$w" = b ] && n=2
			mkrec open "$n" - - '' client=127.0.0.1:1 target=127.0.0.1:2
			mkrec data "$n" c2s - "PING $w\n"
			mkrec data "$n" s2c - "PONG $w\n"
			mkrec close "$n" - - '' reason=eof
		done
	} > "$T/two.tcpmon"
	mock --raw --strict -l 0 "$T/two.tcpmon"
	run -0 python3 "$TESTS_DIR/sendrecv.py" "$MOCK_PORT" 'PING b\n'
	[ "${lines[1]}" = "b'PONG b\\n'" ]
	run -0 python3 "$TESTS_DIR/sendrecv.py" "$MOCK_PORT" 'PING a\n'
	[ "${lines[1]}" = "b'PONG a\\n'" ]
	# All played: the last that began so.
	run -0 python3 "$TESTS_DIR/sendrecv.py" "$MOCK_PORT" 'PING a\n'
	[ "${lines[1]}" = "b'PONG a\\n'" ]
	kill "$MOCK_PID"
	wait_exit "$MOCK_PID"
	[ "$BG_STATUS" -eq 0 ]
}
