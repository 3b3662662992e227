#!/usr/bin/env bats
# tcpmon-send's assertions against the real demo service (SOAP) and real
# nginx (a JSON file): what passes is exit 0, each assertion that fails a
# line naming it and what was found, exit 1; bad assertions are usage.

load helpers

send() { "$(bin tcpmon-send)" "$@"; }

setup() {
	common_setup
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on'
	SOAPD=http://127.0.0.1:$(port_of "$T/soapd.err")/
	printf '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Add xmlns="urn:tcpmon:demo"><a>2</a><b>3</b></Add></soap:Body></soap:Envelope>' > "$T/add.xml"
	sed 's/<a>2</<a>two</' "$T/add.xml" > "$T/bad.xml"
}

@test "assertions that hold: status, XPath with --ns or the answer's own prefixes, time; the answer is shown as ever" {
	run -0 --separate-stderr send --soap-action Add --assert-status 200 \
	    --assert-xpath '//d:result = 5' --ns d=urn:tcpmon:demo \
	    --assert-time 5s "$SOAPD" "$T/add.xml"
	[[ $output == *'<d:result>5</d:result>'* ]]
	[ -z "$stderr" ]
	# soap: and d: as the answer binds them.
	run -0 send --soap-action Add --assert-xpath \
	    '/soap:Envelope/soap:Body/d:AddResponse/d:result = 5' \
	    --assert-xpath 'count(//d:result) = 1' --assert-no-fault "$SOAPD" "$T/add.xml"
}

@test "assertions that fail: a line each, naming it and what was found; exit 1" {
	run -1 --separate-stderr send --soap-action Add --assert-status 201 \
	    --assert-xpath '//d:result = 6' --assert-xpath '//d:result > 4' \
	    --assert-time 0ms "$SOAPD" "$T/add.xml"
	[ "${#stderr_lines[@]}" -eq 3 ]
	[ "${stderr_lines[0]}" = "tcpmon-send: --assert-status 201: the answer is 200" ]
	[[ ${stderr_lines[1]} == "tcpmon-send: --assert-time 0ms: it took "*" ms" ]]
	[ "${stderr_lines[2]}" = "tcpmon-send: --assert-xpath //d:result = 6: false" ]
}

@test "a SOAP Fault: fails a SOAP call by default, passes when the error was what was asserted" {
	run -1 --separate-stderr send --soap-action Add --assert-status 200 "$SOAPD" "$T/bad.xml"
	assert_equal "${stderr_lines[0]}" "tcpmon-send: --assert-status 200: the answer is 500"
	[[ ${stderr_lines[1]} == "tcpmon-send: --assert-no-fault: SOAP Fault: soap:Client: "* ]]
	run -0 send --soap-action Add --assert-status 500 \
	    --assert-xpath "//faultcode = 'soap:Client'" "$SOAPD" "$T/bad.xml"
	run -1 --separate-stderr send --soap-action Add --assert-status 500 \
	    --assert-no-fault "$SOAPD" "$T/bad.xml"
	[[ ${stderr_lines[0]} == "tcpmon-send: --assert-no-fault: SOAP Fault: soap:Client: "* ]]
}

@test "--assert-json PATH=VALUE against nginx's JSON: numbers, strings, members that are not there" {
	start_nginx_send
	printf '{"items": [{"id": 1, "name": "first"}, {"id": 2, "name": "second", "ok": true}], "count": 2}\n' \
	    > "$T/ngx/www/d.json"
	local u=http://127.0.0.1:$NGINX_PORT/d.json
	run -0 send --assert-json count=2 --assert-json items.1.name=second \
	    --assert-json 'items.1.ok=true' --assert-json '$.items.0.name="first"' "$u"
	run -1 --separate-stderr send --assert-json count=3 --assert-json items.5.id=1 \
	    --assert-json items.0.name=1 "$u"
	assert_equal "${stderr_lines[0]}" "tcpmon-send: --assert-json count=3: found 2"
	assert_equal "${stderr_lines[1]}" "tcpmon-send: --assert-json items.5.id=1: found no such member"
	assert_equal "${stderr_lines[2]}" 'tcpmon-send: --assert-json items.0.name=1: found "first"'
	run -1 --separate-stderr send --assert-json a=1 "http://127.0.0.1:$NGINX_PORT/index.html"
	[[ ${stderr_lines[0]} == "tcpmon-send: --assert-json a: the answer is not JSON "* ]]
}

@test "bad assertions are usage, exit 2 and one line, before anything is sent" {
	run -2 send --assert-xpath '//[' "$SOAPD" "$T/add.xml"
	assert_output "tcpmon-send: --assert-xpath //[: not a valid XPath expression"
	run -2 send --assert-json novalue "$SOAPD"
	assert_output "tcpmon-send: --assert-json novalue: use PATH=VALUE (at most 16)"
	run -2 send --assert-status 99 "$SOAPD"
	assert_output "tcpmon-send: --assert-status 99: too small (100 to 599)"
	run -2 send --ns d=urn:x "$SOAPD"
	assert_output "tcpmon-send: --ns: only with --assert-xpath"
	run -2 send -n 3 --assert-status 200 "$SOAPD"
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"-n and -c"*"--assert-*"* ]]
}
