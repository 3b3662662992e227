#!/usr/bin/env bats
# 74-proxy-mitm: --proxy --mitm decrypts CONNECT with certificates its own
# CA mints (tcpmon-relay(1), TLS); a tls: listener without --cert does the
# same.  Peers: curl, openssl s_client, Python's requests (as zeep uses
# it, trusting the CA by REQUESTS_CA_BUNDLE) and nginx over TLS in front of
# tcpmon-demo-soapd.  Server certificates from tests/gen/certs.sh.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

setup_file() {
	tls_files "hello through mitm"
}

# start_mitm [ARGS...]: relay --proxy --mitm with its CA in $T/ca, trusting
# the test CA's servers; PROXY_PORT.
start_mitm() {
	start_relay --proxy --mitm --ca-dir "$T/ca" --ca-file "$C/ca.pem" \
	    -l 0 "$@"
	PROXY_PORT=$RELAY_PORT
}

@test "mitm: curl through --proxy --mitm trusting the relay's CA: the HTTPS exchange in clear in the records" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_mitm
	run -0 stat -c %a "$T/ca" "$T/ca/ca.key"
	assert_output $'700\n600'
	run -0 timeout 10 curl -sS -x "127.0.0.1:$PROXY_PORT" \
	    --cacert "$T/ca/ca.pem" "https://localhost:$NGX_PORT/index.html"
	assert_output "hello through mitm"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open request
	assert_output "CONNECT localhost:$NGX_PORT HTTP/1.1"
	run -0 rp "$T/relay.out" field 1 open client-sni
	assert_output localhost
	run -0 rp "$T/relay.out" field 1 open client-alpn
	assert_output http/1.1
	run -0 rp "$T/relay.out" field 1 open server-verify
	assert_output ok
	run -0 rp "$T/relay.out" payload 1 c2s
	assert_output --partial "GET /index.html HTTP/1.1"
	run -0 rp "$T/relay.out" payload 1 s2c
	assert_output --partial "hello through mitm"
	# The relay's stderr names the CA it made, never its key.
	grep -q "CA: made $T/ca/ca.pem" "$T/relay.err"
	! grep -q "PRIVATE" "$T/relay.err" "$T/relay.out"
}

@test "mitm: the leaf is for the name asked, signed by the CA; openssl s_client through the proxy verifies it" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_mitm
	run -0 bash -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | timeout 10 \
	    openssl s_client -proxy 127.0.0.1:$PROXY_PORT \
	    -connect localhost:$NGX_PORT -servername localhost \
	    -CAfile '$T/ca/ca.pem' -verify_return_error -verify_hostname localhost \
	    -showcerts -ign_eof 2>&1"
	assert_output --partial "Verify return code: 0 (ok)"
	assert_output --partial "hello through mitm"
	assert_output --regexp "issuer=CN ?= ?tcpmon CA"
}

@test "mitm: --print-ca writes the CA certificate and nothing else, making the CA when there is none" {
	run -0 --separate-stderr "$(bin tcpmon-relay)" --ca-dir "$T/ca2" --print-ca
	assert_equal "$stderr" ""
	printf '%s\n' "$output" > "$T/printed.pem"
	cmp "$T/printed.pem" "$T/ca2/ca.pem"
	run -0 openssl x509 -in "$T/printed.pem" -noout -subject -ext basicConstraints
	assert_output --partial "CA:TRUE"
	refute_output --partial "PRIVATE"
	# Again: the same CA, not a new one.
	run -0 --separate-stderr "$(bin tcpmon-relay)" --ca-dir "$T/ca2" --print-ca
	printf '%s\n' "$output" | cmp - "$T/ca2/ca.pem"
}

@test "mitm: a client that does not trust the CA: the handshake fails, recorded with a note, and the host is a tunnel after" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_mitm
	run timeout 10 curl -sS -x "127.0.0.1:$PROXY_PORT" \
	    --cacert "$C/ca.pem" "https://localhost:$NGX_PORT/index.html"
	assert_equal "$status" 60
	# The relay has taken the refusal in (its close is written) before
	# the next CONNECT comes: one wakeup could carry both.
	wait_count "$T/relay.out" '^TCPMON/1 close ' 1
	# The client trusts the real server: through the tunnel it works.
	run -0 timeout 10 curl -sS -x "127.0.0.1:$PROXY_PORT" \
	    --cacert "$C/ca.pem" "https://localhost:$NGX_PORT/index.html"
	assert_output "hello through mitm"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output tls
	run -0 rp "$T/relay.out" field 1 close by
	assert_output client
	run -0 env COLUMNS=120 "$(bin tcpmon-tap)" --list=conn "$T/relay.out"
	assert_line --regexp '^#1 +tls +127\.0\.0\.1:[0-9]+ +localhost:[0-9]+ +CONNECT localhost:'
	run -0 rp "$T/relay.out" notes 1
	assert_output --partial "CONNECTs to localhost are tunnels from now on"
	# The second: bytes as they are (TLS), no TLS fields.
	run -0 rp "$T/relay.out" field 2 open client-tls
	assert_output ""
	run -0 rp "$T/relay.out" payload 2 c2s
	refute_output --partial "GET /index.html"
}

@test "mitm: --no-mitm PATTERN keeps those hosts tunnels" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_mitm --no-mitm 'local*'
	run -0 timeout 10 curl -sS -x "127.0.0.1:$PROXY_PORT" \
	    --cacert "$C/ca.pem" "https://localhost:$NGX_PORT/index.html"
	assert_output "hello through mitm"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open client-tls
	assert_output ""
}

@test "mitm: an upstream whose certificate fails: the client gets a 502 over its TLS naming the reason" {
	start_nginx_tls "$C/self.pem" "$C/self.key"
	start_mitm
	run -0 timeout 10 curl -sS -x "127.0.0.1:$PROXY_PORT" \
	    --cacert "$T/ca/ca.pem" -w '\n%{http_code}\n' \
	    "https://localhost:$NGX_PORT/index.html"
	assert_line --index 0 "TLS with localhost:$NGX_PORT: certificate verify failed: self-signed certificate"
	assert_line --index 1 502
	# The body is the line and its newline, as its Content-Length says.
	run -0 timeout 10 curl -sS -x "127.0.0.1:$PROXY_PORT" \
	    --cacert "$T/ca/ca.pem" -o "$T/body" \
	    "https://localhost:$NGX_PORT/index.html"
	printf 'TLS with localhost:%s: certificate verify failed: self-signed certificate\n' \
	    "$NGX_PORT" | cmp - "$T/body"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output tls
	run -0 rp "$T/relay.out" field 1 close by
	assert_output server
}

@test "mitm: not TLS after CONNECT (plain HTTP through the tunnel) goes through as bytes, with a note" {
	start_nginx "$WWW"
	start_mitm
	run -0 timeout 10 curl -sS -p -x "127.0.0.1:$PROXY_PORT" \
	    "http://127.0.0.1:$NGINX_PORT/index.html"
	assert_output "hello through mitm"
	stop_relay
	run -0 rp "$T/relay.out" payload 1 c2s
	assert_output --partial "GET /index.html HTTP/1.1"
	run -0 rp "$T/relay.out" notes 1
	assert_output --partial "not TLS"
}

@test "mitm: Python's requests and zeep call SOAP through the proxy (REQUESTS_CA_BUNDLE); tcpmon-fmt-xml formats the recorded calls" {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 127.0.0.1:0
	wait_for "$T/soapd.err" 'listening on'
	sport=$(port_of "$T/soapd.err")
	start_nginx_tls "$C/srv.pem" "$C/srv.key" \
	    "location / { proxy_pass http://127.0.0.1:$sport; }"
	start_mitm
	run -0 env HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    REQUESTS_CA_BUNDLE="$T/ca/ca.pem" timeout 20 python3 -c '
import sys, requests
env = ("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">"
       "<soap:Body><Add xmlns=\"urn:tcpmon:demo\"><a>2</a><b>3</b></Add>"
       "</soap:Body></soap:Envelope>")
r = requests.post(sys.argv[1], data=env, headers={
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": "\"urn:tcpmon:demo#Add\""})
print(r.status_code)
print(r.text)' "https://localhost:$NGX_PORT/"
	assert_line --index 0 200
	assert_output --partial ">5<"
	# zeep: the WSDL over HTTPS through the proxy, the call to the
	# service's address there too.
	run -0 --separate-stderr env HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" \
	    REQUESTS_CA_BUNDLE="$T/ca/ca.pem" timeout 30 python3 -c '
import sys, zeep
c = zeep.Client(sys.argv[1] + "?wsdl")
s = c.create_service("{urn:tcpmon:demo}DemoSoap11", sys.argv[1])
print(s.Add(20, 22))' "https://localhost:$NGX_PORT/"
	assert_output 42
	stop_relay
	grep -aq '<d:a>20</d:a>\|<ns0:a>20</ns0:a>\|>20</' "$T/relay.out"
	"$(bin tcpmon-fmt-xml)" < "$T/relay.out" > "$T/fmt.out"
	run -0 rp "$T/fmt.out" payload 1 c2s
	assert_output --partial $'<soap:Body>\n    <Add xmlns="urn:tcpmon:demo">'
}

@test "mitm: a tls: listener without --cert presents a minted certificate: for the name asked, or for the address" {
	start_nginx "$WWW"
	start_relay -l tls:0 -t 127.0.0.1:"$NGINX_PORT" --ca-dir "$T/ca"
	run -0 timeout 10 curl -sS --cacert "$T/ca/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	assert_output "hello through mitm"
	run -0 bash -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | timeout 10 \
	    openssl s_client -quiet -noservername -verify_return_error \
	    -CAfile '$T/ca/ca.pem' -verify_ip 127.0.0.1 \
	    -connect 127.0.0.1:$RELAY_PORT 2>/dev/null"
	assert_output --partial "hello through mitm"
}

@test "mitm: without --ca-dir the CA is made in \$XDG_DATA_HOME/tcpmon, 0700" {
	run -0 --separate-stderr "$(bin tcpmon-relay)" --print-ca
	printf '%s\n' "$output" | cmp - "$XDG_DATA_HOME/tcpmon/ca.pem"
	run -0 stat -c %a "$XDG_DATA_HOME/tcpmon" "$XDG_DATA_HOME/tcpmon/ca.key"
	assert_output $'700\n600'
}

@test "mitm: a CA directory or key that others can read is refused, saying how to fix it" {
	mkdir -m 755 "$T/open"
	run -2 "$(bin tcpmon-relay)" --ca-dir "$T/open" --print-ca
	assert_output "tcpmon-relay: CA: $T/open can be read by others (mode 755): chmod 700 $T/open"
	"$(bin tcpmon-relay)" --ca-dir "$T/ca3" --print-ca > /dev/null
	chmod 644 "$T/ca3/ca.key"
	run -2 "$(bin tcpmon-relay)" --ca-dir "$T/ca3" --print-ca
	assert_output "tcpmon-relay: CA: $T/ca3/ca.key can be read by others (mode 644): chmod 600 $T/ca3/ca.key"
}

@test "mitm: usage: --mitm only with --proxy, --no-mitm only with --mitm" {
	run -2 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --mitm
	assert_output --partial "only with --proxy"
	run -2 "$(bin tcpmon-relay)" --proxy -l 0 --no-mitm x
	assert_output --partial "only with --mitm"
}

@test "mitm: headless Chromium loads an HTTPS page through --mitm (trusting the leaves' key by its SPKI hash); the HTML is in the records" {
	command -v chromium > /dev/null || skip "chromium is not installed (Debian package chromium)"
	cat > "$WWW/page.html" <<-HTML
	<!doctype html>
	<html><head><script src="/app.js"></script></head>
	<body><p id="p">waiting</p></body></html>
	HTML
	printf 'document.addEventListener("DOMContentLoaded", function () { document.getElementById("p").textContent = "script over mitm"; });\n' > "$WWW/app.js"
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_mitm
	# Every leaf of this relay has one key: its SPKI hash, from a first
	# handshake through the proxy.
	spki=$(timeout 10 openssl s_client -proxy "127.0.0.1:$PROXY_PORT" \
	    -connect "localhost:$NGX_PORT" -servername localhost < /dev/null \
	    2>/dev/null | openssl x509 -pubkey -noout |
	    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary |
	    base64)
	[ -n "$spki" ]
	run -0 timeout 60 chromium --headless --no-sandbox --disable-gpu \
	    --disable-quic --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync \
	    --user-data-dir="$T/chrome" \
	    --proxy-server="http://127.0.0.1:$PROXY_PORT" \
	    --proxy-bypass-list='<-loopback>' \
	    --ignore-certificate-errors-spki-list="$spki" \
	    --virtual-time-budget=5000 --dump-dom \
	    "https://localhost:$NGX_PORT/page.html"
	assert_output --partial "script over mitm"
	stop_relay
	run -0 grep -ac '^GET /page.html HTTP/1.1'$'\r$' "$T/relay.out"
	run -0 grep -ac '^GET /app.js HTTP/1.1'$'\r$' "$T/relay.out"
	run -0 grep -ac 'getElementById("p")' "$T/relay.out"
}
