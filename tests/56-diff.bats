#!/usr/bin/env bats
# tcpmon-diff: the real demo service recorded twice through the real relay
# (curl as the client), and hand-made streams for what the service does
# not vary (WS-Addressing IDs, timestamps, JSON key order, cookies).  JUnit
# output is read back by Python's XML parser.

load helpers

diff_() { "$(bin tcpmon-diff)" "$@"; }

# exch FILE CONN CTYPE BODY [EXTRA-HEADER]: a connection with one POST and
# its 200 answer carrying BODY, appended to FILE.
exch() {
	local f=$1 c=$2 ct=$3 body=$4 extra=${5:-} n
	n=$(printf '%s' "$body" | wc -c)
	{
		mkrec open "$c" - - '' client=127.0.0.1:1 target=127.0.0.1:2
		mkrec data "$c" c2s - 'POST /svc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi'
		mkrec data "$c" s2c - "HTTP/1.1 200 OK\r\nDate: Thu, 0$c Dec 2026 10:00:00 GMT\r\nContent-Type: $ct\r\n${extra}Content-Length: $n\r\n\r\n$body"
		mkrec close "$c" - - '' reason=eof
	} >> "$f"
}

# record NAME B...: the demo service through the relay, an Add(a, b) per
# argument pair "a:b", into $T/NAME.tcpmon.
record() {
	local name=$1 ab
	shift
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" -o "$T/$name.tcpmon"
	for ab in "$@"; do
		timeout 10 curl -sS -o /dev/null -H 'Content-Type: text/xml' \
		    --data-binary "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><d:Add xmlns:d=\"urn:tcpmon:demo\"><a>${ab%:*}</a><b>${ab#*:}</b></d:Add></soap:Body></soap:Envelope>" \
		    "http://127.0.0.1:$RELAY_PORT/"
	done
	wait_count "$T/$name.tcpmon" close $#
	kill "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null || true
}

soapd_up() {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on'
	SOAPD_PORT=$(port_of "$T/soapd.err")
}

@test "the demo service recorded twice answers the same: exit 0, its Date headers left out" {
	soapd_up
	record a 2:3 10:20 7:7
	sleep 1.1	# a Date one second on at least
	record b 2:3 10:20 7:7
	! cmp -s <(grep -a '^Date:' "$T/a.tcpmon") <(grep -a '^Date:' "$T/b.tcpmon")
	run -0 diff_ "$T/a.tcpmon" "$T/b.tcpmon"
	assert_output '3 exchanges compared: 0 differ, 0 only in A, 0 only in B'
}

@test "one answer changed: exactly that exchange, a unified diff of its body, exit 1, JUnit that parses" {
	soapd_up
	record a 2:3 10:20 7:7
	record b 2:3 10:21 7:7
	run -1 diff_ --junit "$T/j.xml" "$T/a.tcpmon" "$T/b.tcpmon"
	assert_line '--- exchange 2: POST /'
	assert_line 'body (XML) differs:'
	assert_line '-      <d:result>30</d:result>'
	assert_line '+      <d:result>31</d:result>'
	assert_line '3 exchanges compared: 1 differs, 0 only in A, 0 only in B'
	refute_line --partial 'exchange 1:'
	refute_line --partial 'exchange 3:'
	python3 - "$T/j.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot().find("testsuite")
assert s.get("tests") == "3" and s.get("failures") == "1", s.attrib
cases = s.findall("testcase")
assert [c.find("failure") is not None for c in cases] == [False, True, False]
f = cases[1].find("failure")
assert f.get("message") == "body (XML) differs:", f.attrib
assert "<d:result>31</d:result>" in f.text
PY
	run -1 diff_ -q "$T/a.tcpmon" "$T/b.tcpmon"
	assert_output '3 exchanges compared: 1 differs, 0 only in A, 0 only in B'
}

@test "the demo service's Stamp recorded twice: new message IDs and timestamps, yet no difference; the text changed is one" {
	soapd_up
	local i
	for run in a b; do
		start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" -o "$T/$run.tcpmon"
		for i in one two; do
			[ $run = b ] && [ $i = two ] && i=TWO
			timeout 10 curl -sS -o /dev/null -H 'Content-Type: text/xml' \
			    --data-binary "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><d:Stamp xmlns:d=\"urn:tcpmon:demo\"><text>$i</text></d:Stamp></soap:Body></soap:Envelope>" \
			    "http://127.0.0.1:$RELAY_PORT/"
		done
		wait_count "$T/$run.tcpmon" '^TCPMON/1 close ' 2
		stop_relay
	done
	# The answers differ in their IDs: the noise is there to leave out.
	! cmp -s <(grep -ao 'urn:uuid:[0-9a-f-]*' "$T/a.tcpmon") <(grep -ao 'urn:uuid:[0-9a-f-]*' "$T/b.tcpmon")
	run -1 diff_ "$T/a.tcpmon" "$T/b.tcpmon"
	assert_line '2 exchanges compared: 1 differs, 0 only in A, 0 only in B'
	assert_line '--- exchange 2: POST /'
	assert_line '+      <d:text>TWO</d:text>'
	refute_line --partial 'MessageID'
	refute_line --partial 'Created'
}

@test "XML compared canonically: attribute order, prefixes' declarations, whitespace, WS-Addressing IDs and timestamps do not count" {
	exch "$T/a" 1 text/xml '<e:Envelope xmlns:e="urn:e" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><e:Header><wsa:MessageID>urn:uuid:1111</wsa:MessageID><wsu:Timestamp><wsu:Created>2026-12-04T10:00:00Z</wsu:Created></wsu:Timestamp></e:Header><e:Body><r a="1" b="2"><v/></r></e:Body></e:Envelope>'
	exch "$T/b" 1 text/xml '<e:Envelope xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:e="urn:e">
  <e:Header>
    <wsa:MessageID>urn:uuid:2222</wsa:MessageID>
    <wsu:Timestamp><wsu:Created>2026-12-04T11:30:00Z</wsu:Created></wsu:Timestamp>
  </e:Header>
  <e:Body><r b="2" a="1"><v></v></r></e:Body>
</e:Envelope>'
	run -0 diff_ "$T/a" "$T/b"
	exch "$T/c" 1 text/xml '<e:Envelope xmlns:e="urn:e"><e:Body><r a="1" b="3"><v/></r></e:Body></e:Envelope>'
	run -1 diff_ "$T/a" "$T/c"
	assert_line --partial '+    <r a="1" b="3">'
}

@test "--ignore-xpath with --ns leaves a node out; a bad expression or an unbound prefix is exit 2, one line" {
	exch "$T/a" 1 application/soap+xml '<d:R xmlns:d="urn:d"><d:time>10:00</d:time><d:sum>5</d:sum></d:R>'
	exch "$T/b" 1 application/soap+xml '<d:R xmlns:d="urn:d"><d:time>11:42</d:time><d:sum>5</d:sum></d:R>'
	run -1 diff_ "$T/a" "$T/b"
	assert_line --partial '-  <d:time>10:00</d:time>'
	run -0 diff_ --ns d=urn:d --ignore-xpath //d:time "$T/a" "$T/b"
	run -2 diff_ --ignore-xpath '//d:time' "$T/a" "$T/b"
	assert_output "tcpmon-diff: --ignore-xpath //d:time: not a valid XPath expression (or a prefix without --ns)"
	run -2 diff_ --ignore-xpath '//[' "$T/a" "$T/b"
	[ "${#lines[@]}" -eq 1 ]
	run -2 diff_ --ns nouri "$T/a" "$T/b"
	assert_line 'tcpmon-diff: --ns nouri: use PREFIX=URI'
}

@test "JSON compared as values: key order does not count, a value does, --ignore-json leaves a member out" {
	exch "$T/a" 1 application/json '{"id": 7, "items": [{"n": 1, "at": "10:00"}], "ok": true}'
	exch "$T/b" 1 application/json '{"ok":true,"items":[{"at":"10:00","n":1}],"id":7}'
	run -0 diff_ "$T/a" "$T/b"
	exch "$T/c" 1 application/json '{"ok":true,"items":[{"at":"11:11","n":1}],"id":7}'
	run -1 diff_ "$T/a" "$T/c"
	assert_line 'body (JSON) differs:'
	assert_line --partial '+      "at": "11:11",'
	run -0 diff_ --ignore-json items.0.at "$T/a" "$T/c"
	run -0 diff_ --ignore-json '$.items.0.at' "$T/a" "$T/c"
}

@test "text bodies by line, --ignore-regex leaves its matches out; a bad pattern is exit 2" {
	exch "$T/a" 1 text/plain 'total 5\nrequest id 8a7f\n'
	exch "$T/b" 1 text/plain 'total 5\nrequest id 99c2\n'
	run -1 diff_ "$T/a" "$T/b"
	assert_line 'body (text) differs:'
	assert_line '-request id 8a7f'
	run -0 diff_ --ignore-regex 'id [0-9a-f]+' "$T/a" "$T/b"
	run -2 diff_ --ignore-regex 'a(b' "$T/a" "$T/b"
	[[ $output == "tcpmon-diff: --ignore-regex a(b: missing closing parenthesis at offset 3" ]]
}

@test "headers: a changed one is reported, --ignore-header leaves it out; Set-Cookie's value does not count, its name does" {
	exch "$T/a" 1 text/plain 'x' 'X-Build: 41\r\nSet-Cookie: sid=aaa; Path=/\r\n'
	exch "$T/b" 1 text/plain 'x' 'X-Build: 42\r\nSet-Cookie: sid=bbb; Path=/\r\n'
	run -1 diff_ "$T/a" "$T/b"
	assert_line 'header X-Build: A 41, B 42'
	refute_line --partial 'Set-Cookie'
	run -0 diff_ --ignore-header x-build "$T/a" "$T/b"
	exch "$T/c" 1 text/plain 'x' 'X-Build: 41\r\nSet-Cookie: token=aaa; Path=/\r\n'
	run -1 diff_ "$T/a" "$T/c"
	assert_line --partial 'header Set-Cookie: A sid=aaa'
	exch "$T/d" 1 text/plain 'x' 'Set-Cookie: sid=aaa; Path=/\r\n'
	run -1 diff_ "$T/a" "$T/d"
	assert_line 'header X-Build: only in A: 41'
}

@test "--by request pairs by method and target; in order, a missing exchange is only in one side" {
	{
		mkrec open 1 - - '' client=127.0.0.1:1 target=127.0.0.1:2
		mkrec data 1 c2s - 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n'
		mkrec data 1 s2c - 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB'
		mkrec close 1 - - '' reason=eof
	} > "$T/ab"
	{
		mkrec open 1 - - '' client=127.0.0.1:1 target=127.0.0.1:2
		mkrec data 1 c2s - 'GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n'
		mkrec data 1 s2c - 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nBHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'
		mkrec close 1 - - '' reason=eof
	} > "$T/bac"
	run -1 diff_ "$T/ab" "$T/bac"
	assert_line 'request: A GET /a, B GET /b'
	assert_line '--- exchange 3: GET /c'
	assert_line 'only in B (#1.3)'
	assert_line '3 exchanges compared: 3 differ, 0 only in A, 1 only in B'
	run -1 diff_ --by request "$T/ab" "$T/bac"
	assert_line '3 exchanges compared: 1 differs, 0 only in A, 1 only in B'
	run -1 diff_ --by request "$T/bac" "$T/ab"
	assert_line 'only in A (#1.3)'
}

@test "trouble is exit 2, one line: a capture that is missing or not records, one capture, a bad --by" {
	exch "$T/a" 1 text/plain 'x'
	run -2 diff_ "$T/a" "$T/missing"
	assert_output "tcpmon-diff: $T/missing: No such file or directory"
	printf 'not records\n' > "$T/junk"
	run -2 diff_ "$T/a" "$T/junk"
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "tcpmon-diff: $T/junk: record 1 at byte 0: "* ]]
	run -2 --separate-stderr diff_ "$T/a"
	[ "${stderr_lines[0]}" = "tcpmon-diff: two captures to compare, A and B" ]
	run -2 diff_ --by time "$T/a" "$T/a"
	assert_output "tcpmon-diff: --by time: use order or request"
	gzip -c "$T/a" > "$T/a.gz"
	run -0 diff_ "$T/a.gz" - < "$T/a"
}
