#!/usr/bin/env bats
# 30-demo-soapd: tcpmon-demo-soapd, the SOAP backend of `make demo`, spoken
# to by curl over HTTP/1.1; its answers are checked with xmllint.

bats_require_minimum_version 1.5.0
load helpers

NS11=http://schemas.xmlsoap.org/soap/envelope/
NS12=http://www.w3.org/2003/05/soap-envelope
CT11='text/xml; charset=utf-8'
CT12='application/soap+xml; charset=utf-8'

setup() {
	common_setup
	bg soapd "$(bin tcpmon-demo-soapd)"
	SOAPD_PID=$BG_PID
	wait_for "$T/soapd.err" 'listening on' || return 1
	PORT=$(port_of "$T/soapd.err")
	URL=http://127.0.0.1:$PORT/
}

# env11 XML / env12 XML: XML as the Body of a SOAP 1.1 / 1.2 envelope.
env11() {
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="%s"><soap:Body>%s</soap:Body></soap:Envelope>\n' "$NS11" "$1"
}
env12() {
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope xmlns:env="%s"><env:Body>%s</env:Body></env:Envelope>\n' "$NS12" "$1"
}

# post NAME CONTENT-TYPE DATA [CURL-ARGS...]: POSTs DATA; the answer goes
# to $T/NAME.xml, its status to $STATUS, its Content-Type to $CTYPE.
post() {
	local name=$1 ctype=$2 data=$3 out
	shift 3
	out=$(timeout 10 curl -sS -o "$T/$name.xml" \
	    -w '%{http_code} %{content_type}' -H "Content-Type: $ctype" \
	    "$@" --data-binary "$data" "$URL") || return 1
	STATUS=${out%% *}
	CTYPE=${out#* }
}

# xp FILE XPATH: the string value of XPATH in FILE.
xp() {
	xmllint --xpath "string($2)" "$1"
}

# The SOAP 1.1 fault code and string, or the 1.2 Code/Value and Reason.
fault11() {
	xp "$1" "/*[local-name()='Envelope' and namespace-uri()='$NS11']/*[local-name()='Body' and namespace-uri()='$NS11']/*[local-name()='Fault' and namespace-uri()='$NS11']/faultcode"
}
reason11() {
	xp "$1" "//*[local-name()='Fault' and namespace-uri()='$NS11']/faultstring"
}
fault12() {
	xp "$1" "/*[local-name()='Envelope' and namespace-uri()='$NS12']/*[local-name()='Body' and namespace-uri()='$NS12']/*[local-name()='Fault' and namespace-uri()='$NS12']/*[local-name()='Code']/*[local-name()='Value']"
}

@test "soapd: announces one line with its address once listening" {
	run -0 cat "$T/soapd.err"
	assert_output --regexp '^tcpmon-demo-soapd: listening on 127\.0\.0\.1:[0-9]+$'
	[ "${#lines[@]}" -eq 1 ]
}

@test "soapd: Add in SOAP 1.1 answers the sum in valid XML" {
	post add "$CT11" "$(env11 '<d:Add xmlns:d="urn:tcpmon:demo"><a>2</a><b>3</b></d:Add>')" \
	    -H 'SOAPAction: "urn:tcpmon:demo#Add"'
	[ "$STATUS" = 200 ]
	[ "$CTYPE" = "$CT11" ]
	run -0 xmllint --noout "$T/add.xml"
	run -0 xp "$T/add.xml" "/*[local-name()='Envelope' and namespace-uri()='$NS11']/*[local-name()='Body']/*[local-name()='AddResponse' and namespace-uri()='urn:tcpmon:demo']/*[local-name()='result']"
	assert_output 5
}

@test "soapd: Add takes signs, white space and unqualified or qualified parameters" {
	post add "$CT11" "$(env11 '<Add xmlns="urn:tcpmon:demo"><a> -7 </a><b>+12</b></Add>')"
	[ "$STATUS" = 200 ]
	run -0 xp "$T/add.xml" "//*[local-name()='result']"
	assert_output 5
}

@test "soapd: Echo in SOAP 1.2 answers the text, escaped, as application/soap+xml" {
	text='a <b> & "c" '"'"'d'"'"' é ✓'
	post echo "$CT12" "$(env12 '<d:Echo xmlns:d="urn:tcpmon:demo"><text>a &lt;b&gt; &amp; "c" &apos;d&apos; é ✓</text></d:Echo>')"
	[ "$STATUS" = 200 ]
	[ "$CTYPE" = "$CT12" ]
	run -0 xmllint --noout "$T/echo.xml"
	run -0 xp "$T/echo.xml" "/*[local-name()='Envelope' and namespace-uri()='$NS12']/*[local-name()='Body']/*[local-name()='EchoResponse' and namespace-uri()='urn:tcpmon:demo']/*[local-name()='text']"
	assert_output "$text"
}

@test "soapd: malformed XML is a Client fault with status 500" {
	post bad "$CT11" '<soap:Envelope xmlns:soap="'"$NS11"'"><soap:Body><oops></soap:Body>'
	[ "$STATUS" = 500 ]
	[ "$CTYPE" = "$CT11" ]
	run -0 xmllint --noout "$T/bad.xml"
	run -0 fault11 "$T/bad.xml"
	assert_output soap:Client
	run -0 reason11 "$T/bad.xml"
	assert_output --partial 'not well-formed'
}

@test "soapd: malformed XML sent as SOAP 1.2 is an env:Sender fault" {
	post bad "$CT12" 'this is not XML'
	[ "$STATUS" = 500 ]
	[ "$CTYPE" = "$CT12" ]
	run -0 fault12 "$T/bad.xml"
	assert_output env:Sender
}

@test "soapd: an unknown operation is a fault naming it" {
	post unk "$CT11" "$(env11 '<x:Multiply xmlns:x="urn:tcpmon:demo"><a>2</a></x:Multiply>')"
	[ "$STATUS" = 500 ]
	run -0 fault11 "$T/unk.xml"
	assert_output soap:Client
	run -0 reason11 "$T/unk.xml"
	assert_output --partial '{urn:tcpmon:demo}Multiply'

	post unk12 "$CT12" "$(env12 '<Add xmlns="urn:other"><a>1</a><b>2</b></Add>')"
	[ "$STATUS" = 500 ]
	run -0 fault12 "$T/unk12.xml"
	assert_output env:Sender
}

@test "soapd: Add with a parameter that is not an integer is a fault" {
	post nan "$CT11" "$(env11 '<d:Add xmlns:d="urn:tcpmon:demo"><a>2</a><b>3.5</b></d:Add>')"
	[ "$STATUS" = 500 ]
	run -0 fault11 "$T/nan.xml"
	assert_output soap:Client
	post big "$CT11" "$(env11 '<d:Add xmlns:d="urn:tcpmon:demo"><a>9223372036854775807</a><b>1</b></d:Add>')"
	[ "$STATUS" = 500 ]
}

@test "soapd: a DTD is refused and no entity is expanded" {
	post dtd "$CT11" '<?xml version="1.0"?>
<!DOCTYPE soap:Envelope [<!ENTITY x "EXPANDED">]>
<soap:Envelope xmlns:soap="'"$NS11"'"><soap:Body><d:Echo xmlns:d="urn:tcpmon:demo"><text>&x;</text></d:Echo></soap:Body></soap:Envelope>'
	[ "$STATUS" = 500 ]
	run -0 fault11 "$T/dtd.xml"
	assert_output soap:Client
	run -1 grep -q EXPANDED "$T/dtd.xml"
}

@test "soapd: a header block it must understand is a MustUnderstand fault" {
	post mu "$CT12" '<env:Envelope xmlns:env="'"$NS12"'"><env:Header><t:Tx xmlns:t="urn:t" env:mustUnderstand="true"/></env:Header><env:Body><d:Add xmlns:d="urn:tcpmon:demo"><a>1</a><b>2</b></d:Add></env:Body></env:Envelope>'
	[ "$STATUS" = 500 ]
	run -0 fault12 "$T/mu.xml"
	assert_output env:MustUnderstand
}

@test "soapd: GET / describes the service in text/plain" {
	run -0 timeout 10 curl -sS -w '\n%{http_code} %{content_type}' "$URL"
	assert_line --partial 'Add'
	assert_line --partial 'Echo'
	assert_line --index -1 '200 text/plain; charset=utf-8'
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' "${URL}nothing"
	assert_output 404
}

@test "soapd: other methods are 405 with an Allow header" {
	run -0 timeout 10 curl -sS -i -X PUT --data-binary x "$URL"
	assert_line --regexp '^HTTP/1\.1 405 '
	assert_line --regexp '^Allow: GET, HEAD, POST'
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$URL"
	assert_output 405
}

@test "soapd: keep-alive: two requests on one connection" {
	env11 '<d:Add xmlns:d="urn:tcpmon:demo"><a>20</a><b>22</b></d:Add>' > "$T/req.xml"
	# curl reuses its connection for the second URL: num_connects is 0.
	run -0 timeout 10 curl -sS -H "Content-Type: $CT11" \
	    --data-binary @"$T/req.xml" -o "$T/one.xml" -o "$T/two.xml" \
	    -w '%{http_code} %{num_connects}\n' "$URL" "$URL"
	assert_equal "${lines[0]}" '200 1'
	assert_equal "${lines[1]}" '200 0'
	run -0 xp "$T/two.xml" "//*[local-name()='result']"
	assert_output 42
}

@test "soapd: a chunked request body is accepted" {
	post chunked "$CT11" "$(env11 '<d:Add xmlns:d="urn:tcpmon:demo"><a>1</a><b>1</b></d:Add>')" \
	    -H 'Transfer-Encoding: chunked'
	[ "$STATUS" = 200 ]
	run -0 xp "$T/chunked.xml" "//*[local-name()='result']"
	assert_output 2
}

@test "soapd: a body over 8 MiB is 413, headers over 64 KiB are 431" {
	head -c 9000000 /dev/zero > "$T/big"
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' \
	    -H "Content-Type: $CT11" --data-binary @"$T/big" "$URL"
	assert_output 413
	big=$(head -c 70000 /dev/zero | tr '\0' a)
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' \
	    -H "X-Big: $big" "$URL"
	assert_output 431
	# Still serving.
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' "$URL"
	assert_output 200
}

@test "soapd: an idle keep-alive connection does not hold up another client" {
	bg hold python3 "$TESTS_DIR/soapd-hold.py" "$PORT"
	wait_for "$T/hold.out" '^held$' || return 1
	env11 '<d:Add xmlns:d="urn:tcpmon:demo"><a>2</a><b>3</b></d:Add>' > "$T/req.xml"
	# One connection at a time would answer only when the idle one ends
	# (10 s of silence): here it must be at once.
	run -0 timeout 5 curl -sS -o "$T/add.xml" -w '%{http_code} %{time_total}' \
	    -H "Content-Type: $CT11" --data-binary @"$T/req.xml" "$URL"
	read -r code secs <<< "$output"
	[ "$code" = 200 ]
	awk -v s="$secs" 'BEGIN { exit !(s < 0.5) }'
	run -0 xp "$T/add.xml" "//*[local-name()='result']"
	assert_output 5
	# Several at once, while it is still held.
	local pids=()
	for i in 1 2 3 4; do
		timeout 5 curl -sS -o "$T/c$i.xml" -H "Content-Type: $CT11" \
		    --data-binary @"$T/req.xml" "$URL" 3>&- &
		pids+=("$!")
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	for i in 1 2 3 4; do
		run -0 xp "$T/c$i.xml" "//*[local-name()='result']"
		assert_output 5
	done
	kill -0 "$BG_PID"	# the idle client was not dropped meanwhile
}

@test "soapd: GET ?wsdl describes Add, Echo and Stamp; zeep reads it and Add(2, 3) is 5" {
	run -0 timeout 10 curl -sS -o "$T/svc.wsdl" -w '%{http_code} %{content_type}' "${URL}?wsdl"
	assert_output "200 $CT11"
	run -0 xmllint --noout "$T/svc.wsdl"
	W="/*[local-name()='definitions' and namespace-uri()='http://schemas.xmlsoap.org/wsdl/']"
	run -0 xp "$T/svc.wsdl" "count($W/*[local-name()='portType']/*[local-name()='operation'])"
	assert_output 3
	run -0 xp "$T/svc.wsdl" "$W//*[local-name()='address' and namespace-uri()='http://schemas.xmlsoap.org/wsdl/soap/']/@location"
	assert_output "$URL"
	run -0 xp "$T/svc.wsdl" "$W//*[local-name()='address' and namespace-uri()='http://schemas.xmlsoap.org/wsdl/soap12/']/@location"
	assert_output "$URL"
	run -0 timeout 20 /usr/bin/python3 "$TESTS_DIR/soapd-zeep.py" "${URL}?wsdl"
	assert_equal "${lines[0]}" "$URL"
	assert_equal "${lines[1]}" 5
	assert_equal "${lines[2]}" 'a <b> & c'
	run -0 timeout 20 /usr/bin/python3 "$TESTS_DIR/soapd-zeep.py" "${URL}?wsdl" DemoSoap12
	assert_equal "${lines[1]}" 5
}

@test "soapd: the WSDL's address is the one asked for: the path, the Host header" {
	run -0 timeout 10 curl -sS "${URL}some/path?WSDL"
	assert_output --partial "<soap:address location=\"${URL}some/path\"/>"
	assert_output --partial "<soap12:address location=\"${URL}some/path\"/>"
	run -0 timeout 10 curl -sS -H 'Host: ws.example.org:8080' "${URL}?wsdl"
	assert_output --partial '<soap:address location="http://ws.example.org:8080/"/>'
	# Without a Host (HTTP/1.0): the address the request came in on.
	run -0 timeout 10 curl -sS -0 -H 'Host:' "${URL}?wsdl"
	assert_output --partial "<soap:address location=\"$URL\"/>"
	# Through a relay, the client's Host names the relay: so does the WSDL.
	start_relay -l 0 -t "127.0.0.1:$PORT"
	run -0 timeout 20 /usr/bin/python3 "$TESTS_DIR/soapd-zeep.py" "http://127.0.0.1:$RELAY_PORT/?wsdl"
	assert_equal "${lines[0]}" "http://127.0.0.1:$RELAY_PORT/"
	assert_equal "${lines[1]}" 5
	# Not a WSDL: another query, or none on another path.
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' "${URL}?wsdlx"
	assert_output 404
}

@test "soapd: --version names the program and its version" {
	run -0 --separate-stderr "$(bin tcpmon-demo-soapd)" --version
	assert_output --regexp '^tcpmon-demo-soapd [0-9]+\.[0-9]+\.[0-9]+$'
	[ -z "$stderr" ]
}

@test "soapd: --help lists every option and names the man page" {
	run -0 "$(bin tcpmon-demo-soapd)" --help
	assert_line --index 0 'usage: tcpmon-demo-soapd [-l [ADDR:]PORT]'
	help_covers tcpmon-demo-soapd demo/soapd.c
}

@test "soapd: make demo asks only for the build's and the demo's packages" {
	run -0 make -s -C "$TESTS_DIR/.." deps-list
	assert_line --regexp '^build: .*libxml2-dev'
	assert_line 'demo: curl'
	run -0 make -n -C "$TESTS_DIR/.." demo
	refute_output --partial chromium
	refute_output --partial valgrind
	refute_output --partial clang
	assert_output --partial libxml2-dev
	assert_output --partial curl
}

@test "soapd: a bad -l is one error line and exit status 2" {
	run -2 --separate-stderr "$(bin tcpmon-demo-soapd)" -l nonsense
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == tcpmon-demo-soapd:* ]]
	[[ ${stderr_lines[0]} == *nonsense* ]]
	run -2 --separate-stderr "$(bin tcpmon-demo-soapd)" -l 127.0.0.1:70000
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ ${stderr_lines[0]} == tcpmon-demo-soapd:* ]]
	run -2 "$(bin tcpmon-demo-soapd)" extra-argument
}

@test "soapd: SIGTERM ends it with status 0" {
	kill "$SOAPD_PID"
	wait_exit "$SOAPD_PID"
	[ "$BG_STATUS" -eq 0 ]
}

@test "soapd: Stamp echoes its text with a fresh wsa:MessageID and a wsu:Timestamp in the Header, SOAP 1.1 and 1.2" {
	local body='<d:Stamp xmlns:d="urn:tcpmon:demo"><text>hi</text></d:Stamp>'
	post s1 'text/xml' "$(env11 "$body")"
	[ "$STATUS" = 200 ]
	post s2 'application/soap+xml' "$(env12 "$body")"
	[ "$STATUS" = 200 ]
	local id1 id2 t1
	id1=$(xp "$T/s1.xml" "//*[local-name()='MessageID' and namespace-uri()='http://www.w3.org/2005/08/addressing']")
	id2=$(xp "$T/s2.xml" "//*[local-name()='MessageID']")
	[[ $id1 =~ ^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	[ "$id1" != "$id2" ]
	t1=$(xp "$T/s1.xml" "//*[local-name()='Timestamp']/*[local-name()='Created']")
	[[ $t1 =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$ ]]
	[ "$(xp "$T/s1.xml" "//*[local-name()='StampResponse']/*[local-name()='text']")" = hi ]
	[ "$(xp "$T/s2.xml" "//*[local-name()='StampResponse']/*[local-name()='text']")" = hi ]
}
