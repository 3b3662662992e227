#!/usr/bin/env bats
# tcpmon-send against a real SOAP service (Debian's python3-spyne): SOAP 1.1
# and 1.2, the version taken from the envelope, faults, and bodies that are
# not well-formed XML.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }
send() { timeout 20 "$(bin tcpmon-send)" "$@"; }

# envelope 11|12 OPERATION BODY: a SOAP request of that version.
envelope() {
	local ns
	case $1 in
	11) ns=http://schemas.xmlsoap.org/soap/envelope/ ;;
	12) ns=http://www.w3.org/2003/05/soap-envelope ;;
	esac
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="%s"><soap:Body><%s xmlns="urn:tcpmon:test">%s</%s></soap:Body></soap:Envelope>\n' \
	    "$ns" "$2" "$3" "$2"
}

setup() {
	common_setup
	start_spyne
	U=http://127.0.0.1:$SPYNE_PORT
}

@test "soap: a SOAP 1.1 call with --soap-action reaches the service and shows its answer" {
	envelope 11 Add '<a>2</a><b>40</b>' > "$T/add.xml"
	run -0 --separate-stderr send --text --soap-action urn:tcpmon:test#Add "$U/soap11" "$T/add.xml"
	assert_line --index 0 "HTTP/1.0 200 OK"
	assert_output --partial "<tns:AddResult>42</tns:AddResult>"
	send --soap-action urn:tcpmon:test#Add "$U/soap11" "$T/add.xml" > "$T/r.tcpmon"
	rp "$T/r.tcpmon" payload 1 c2s > "$T/req"
	run -0 cat "$T/req"
	assert_line $'Content-Type: text/xml; charset=utf-8\r'
	assert_line $'SOAPAction: "urn:tcpmon:test#Add"\r'
}

@test "soap: --soap12 sends SOAP 1.2 with the action in the content type" {
	envelope 12 Echo '<s>hello 1.2</s>' > "$T/echo.xml"
	run -0 send --text --soap12 --soap-action urn:Echo "$U/soap12" "$T/echo.xml"
	assert_output --partial "soap-envelope"
	assert_output --partial ">hello 1.2</"
	send --soap12 "$U/soap12" "$T/echo.xml" > "$T/r.tcpmon"
	rp "$T/r.tcpmon" payload 1 c2s > "$T/req"
	run -0 cat "$T/req"
	assert_line $'Content-Type: application/soap+xml; charset=utf-8\r'
	refute_line --partial "SOAPAction"
	send --soap12 --soap-action urn:Echo "$U/soap12" "$T/echo.xml" > "$T/r2.tcpmon"
	rp "$T/r2.tcpmon" payload 1 c2s > "$T/req"
	run -0 cat "$T/req"
	assert_line $'Content-Type: application/soap+xml; charset=utf-8; action="urn:Echo"\r'
}

@test "soap: without options the version comes from the envelope's namespace" {
	envelope 12 Echo '<s>auto 1.2</s>' > "$T/e12.xml"
	envelope 11 Echo '<s>auto 1.1</s>' > "$T/e11.xml"
	send "$U/soap12" "$T/e12.xml" > "$T/a.tcpmon"
	rp "$T/a.tcpmon" payload 1 c2s > "$T/req"
	run -0 cat "$T/req"
	assert_line $'Content-Type: application/soap+xml; charset=utf-8\r'
	rp "$T/a.tcpmon" payload 1 s2c > "$T/resp"
	run -0 cat "$T/resp"
	assert_output --partial ">auto 1.2</"
	send "$U/soap11" - < "$T/e11.xml" > "$T/b.tcpmon"
	rp "$T/b.tcpmon" payload 1 c2s > "$T/req"
	run -0 cat "$T/req"
	assert_line $'Content-Type: text/xml; charset=utf-8\r'
	assert_line $'SOAPAction: ""\r'
}

@test "soap: a SOAP 1.1 Fault exits 1 naming the fault; --no-fail keeps 0" {
	envelope 11 Fail '<s>no such account</s>' > "$T/f.xml"
	run -1 --separate-stderr send --text "$U/soap11" "$T/f.xml"
	assert_output --partial "<faultstring>no such account</faultstring>"
	assert_equal "$stderr" "tcpmon-send: $U/soap11: HTTP 500 Internal Server Error, SOAP Fault: soap11env:Client: no such account"
	run -0 --separate-stderr send --text --no-fail "$U/soap11" "$T/f.xml"
	assert_equal "$stderr" ""
}

@test "soap: a SOAP 1.2 Fault exits 1 naming the fault" {
	envelope 12 Fail '<s>bad 1.2</s>' > "$T/f.xml"
	run -1 --separate-stderr send -o "$T/out" "$U/soap12" "$T/f.xml"
	assert_equal "$stderr" "tcpmon-send: $U/soap12: HTTP 500 Internal Server Error, SOAP Fault: soap12env:Sender: bad 1.2"
	run -0 grep -c "soap12env:Fault" "$T/out"
}

@test "soap: a body that is not well-formed XML is refused before anything is sent" {
	printf '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Add></soap:Body>' > "$T/bad.xml"
	start_relay -l 0 -t 127.0.0.1:"$SPYNE_PORT"
	run -2 --separate-stderr send --soap-action Add "http://127.0.0.1:$RELAY_PORT/soap11" "$T/bad.xml"
	assert_equal "$stderr" "tcpmon-send: $T/bad.xml: not well-formed XML, nothing sent: line 1: Opening and ending tag mismatch: Add line 1 and soap:Body"
	run -2 --separate-stderr send "http://127.0.0.1:$RELAY_PORT/soap11" - <<< '<a>'
	[[ $stderr == "tcpmon-send: stdin: not well-formed XML, nothing sent: line "* ]]
	# The relay saw no connection at all.
	run -1 grep -ac '^TCPMON/1 open ' "$T/relay.out"
	# --no-check sends it; the service answers with a fault.
	run -1 --separate-stderr send --no-check --text "http://127.0.0.1:$RELAY_PORT/soap11" "$T/bad.xml"
	[[ $stderr == *"SOAP Fault: "* ]]
	wait_count "$T/relay.out" '^TCPMON/1 open ' 1
}

@test "soap: the answer is the service's for many calls on one run of -n" {
	envelope 11 Add '<a>1</a><b>1</b>' > "$T/add.xml"
	run -0 send -n 20 -c 2 "$U/soap11" "$T/add.xml"
	assert_line "failures     0"
	assert_line "requests     20 over 20 connections"
}

@test "soap: --pretty shows the answer indented by the formatters' code" {
	envelope 11 Add '<a>2</a><b>40</b>' > "$T/add.xml"
	run -0 --separate-stderr send --text --pretty --soap-action urn:tcpmon:test#Add "$U/soap11" "$T/add.xml"
	assert_line --regexp '^      <tns:AddResult>42</tns:AddResult>$'
	# The same bytes as tcpmon-fmt-xml's output, compared canonically.
	send --text --soap-action urn:tcpmon:test#Add "$U/soap11" "$T/add.xml" |
	    sed -n '/^<?xml/,$p' > "$T/plain.xml"
	sed -n '/^<?xml/,$p' <<< "$output" > "$T/pretty.xml"
	c14n_equal "$T/plain.xml" "$T/pretty.xml"
	run -0 --separate-stderr send --text "$U/soap11" "$T/add.xml" --soap-action urn:tcpmon:test#Add
	refute_line --regexp '^      <tns:AddResult>'
}
