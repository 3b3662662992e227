#!/usr/bin/env bats
# examples/regress/Makefile run as a CI job runs it, against the real demo
# service: record, check (replay and diff), offline (the mock in place of
# the service); and a change in the service's answers found by check.

load helpers

setup() {
	common_setup
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on'
	SERVICE=127.0.0.1:$(port_of "$T/soapd.err")
	EX=$TESTS_DIR/../examples/regress
}

mk() {
	timeout 60 make --no-print-directory -C "$EX" BIN="$TCPMON_BIN" \
	    SERVICE="$SERVICE" PORT="$PORT" BASELINE="$T/base.tcpmon" \
	    CURRENT="$T/cur.tcpmon" REPORT="$T/report.xml" "$@"
}

@test "examples/regress: record, check and offline pass against the demo service" {
	PORT=$(free_port)
	run -0 mk record
	[ "$(grep -ac '^TCPMON/1 open ' "$T/base.tcpmon")" -eq 3 ]
	sleep 1.1	# a Date one second on at least
	run -0 mk check
	assert_output --partial '3 exchanges compared: 0 differ, 0 only in A, 0 only in B'
	python3 -c '
import sys, xml.etree.ElementTree as ET
s = ET.parse(sys.argv[1]).getroot().find("testsuite")
assert s.get("tests") == "3" and s.get("failures") == "0", s.attrib' "$T/report.xml"
	# The service answered anew: new message IDs, which do not count.
	! cmp -s <(grep -ao 'urn:uuid:[0-9a-f-]*' "$T/base.tcpmon") <(grep -ao 'urn:uuid:[0-9a-f-]*' "$T/cur.tcpmon")
	PORT=$(free_port)
	run -0 mk offline
}

@test "examples/regress: an answer that changed fails check, naming the exchange; a client the mock cannot answer fails offline" {
	PORT=$(free_port)
	run -0 mk record
	# The baseline says the sum was 6: the service's 5 is now a change.
	sed -i 's|<d:result>5</d:result>|<d:result>6</d:result>|' "$T/base.tcpmon"
	run mk check
	[ "$status" -ne 0 ]
	assert_output --partial '--- exchange 1: POST /'
	assert_output --partial '+      <d:result>5</d:result>'
	assert_output --partial '3 exchanges compared: 1 differs, 0 only in A, 0 only in B'
	# Offline, the client's own assertion fails on the recorded 6.
	PORT=$(free_port)
	run mk offline
	[ "$status" -ne 0 ]
	assert_output --partial 'tcpmon-send: --assert-xpath //d:result = 5: false'
}
