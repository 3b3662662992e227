#!/usr/bin/env bats
# 19-relay-tls: TLS on either side of the relay (tcpmon-relay(1), TLS), with
# curl, openssl s_client, socat and nginx as the peers, and tshark reading a
# tcpdump capture with the relay's key log.  The certificates are made by
# tests/gen/certs.sh with openssl: a test CA, a server certificate for
# localhost and 127.0.0.1, one for another name, an expired one, a
# self-signed one and a client certificate.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

setup_file() {
	tls_files "hello over tls"
	head -c 3000000 /dev/urandom > "$WWW/big.bin"
}

# sha256 of a certificate as the records write it: lower-case hex.
fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

@test "tls: curl speaks TLS to the relay, the relay plain HTTP to nginx; the records hold the plaintext" {
	start_nginx "$WWW"
	start_relay -l tls:0 -t 127.0.0.1:"$NGINX_PORT" --cert "$C/srv.pem" \
	    --key "$C/srv.key"
	run -0 timeout 10 curl -sS --cacert "$C/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open client-tls
	assert_output TLSv1.3
	run -0 rp "$T/relay.out" field 1 open client-sni
	assert_output localhost
	run -0 rp "$T/relay.out" field 1 open client-alpn
	assert_output http/1.1
	run -0 rp "$T/relay.out" payload 1 c2s
	assert_output --partial "GET /index.html HTTP/1.1"
	run -0 rp "$T/relay.out" payload 1 s2c
	assert_output --partial "hello over tls"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output eof
	# tcpmon-tap says which connections were TLS, and to which name.
	run -0 "$(bin tcpmon-tap)" "$T/relay.out"
	assert_line --regexp '^[0-9:.]+ \[#1\] TLS: client TLSv1\.3 TLS_[A-Z0-9_]+, SNI localhost, ALPN http/1\.1$'
	run -0 "$(bin tcpmon-tap)" --list=conn "$T/relay.out"
	assert_line --regexp '^#1 +eof +127\.0\.0\.1:[0-9]+ +TLS to localhost '
}

@test "tls: a plain client reaches an HTTPS nginx through the relay, verified against --ca-file" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_relay -l 0 -t tls:localhost:"$NGX_PORT" --ca-file "$C/ca.pem"
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open server-tls
	assert_output TLSv1.3
	run -0 rp "$T/relay.out" field 1 open server-sni
	assert_output localhost
	run -0 rp "$T/relay.out" field 1 open server-verify
	assert_output ok
	run -0 rp "$T/relay.out" field 1 open server-cert
	assert_output "/CN=localhost"
	run -0 rp "$T/relay.out" field 1 open server-cert-sha256
	assert_output "$(fingerprint "$C/srv.pem")"
	run -0 rp "$T/relay.out" payload 1 s2c
	assert_output --partial "hello over tls"
}

@test "tls: TLS on both sides carries 3 MB whole, the records hold it in clear" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_relay -l tls:0 -t tls:localhost:"$NGX_PORT" --cert "$C/srv.pem" \
	    --key "$C/srv.key" --ca-file "$C/ca.pem"
	run -0 timeout 20 curl -sS --cacert "$C/ca.pem" -o "$T/got.bin" \
	    "https://localhost:$RELAY_PORT/big.bin"
	cmp "$T/got.bin" "$WWW/big.bin"
	stop_relay
	rp "$T/relay.out" payload 1 s2c > "$T/s2c"
	# The answer's head, then the body byte for byte.
	tail -c 3000000 "$T/s2c" | cmp - "$WWW/big.bin"
	run -0 rp "$T/relay.out" field 1 open client-tls
	assert_output TLSv1.3
	run -0 rp "$T/relay.out" field 1 open server-verify
	assert_output ok
	run -0 "$(bin tcpmon-tap)" "$T/relay.out"
	assert_line --regexp '\[#1\] TLS: client TLSv1\.3 .*; server TLSv1\.3 TLS_[A-Z0-9_]+, SNI localhost, certificate /CN=localhost, verified$'
}

@test "tls: TLS 1.2 on both sides, and the protocol is recorded per side" {
	NGX_PROTOCOLS=TLSv1.2 start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_relay -l tls:0 -t tls:localhost:"$NGX_PORT" --cert "$C/srv.pem" \
	    --key "$C/srv.key" --ca-file "$C/ca.pem"
	run -0 timeout 10 curl -sS --tlsv1.2 --tls-max 1.2 --cacert "$C/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open client-tls
	assert_output TLSv1.2
	run -0 rp "$T/relay.out" field 1 open server-tls
	assert_output TLSv1.2
	run -0 rp "$T/relay.out" field 1 open server-cipher
	assert_output --regexp '^ECDHE-ECDSA-'
}

@test "tls: an address as the target: no SNI, the certificate checked for the address; openssl s_client without SNI" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_relay -l tls:0 -t tls:127.0.0.1:"$NGX_PORT" --cert "$C/srv.pem" \
	    --key "$C/srv.key" --ca-file "$C/ca.pem"
	run -0 bash -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | timeout 10 \
	    openssl s_client -quiet -noservername -verify_return_error \
	    -CAfile '$C/ca.pem' -verify_ip 127.0.0.1 \
	    -connect 127.0.0.1:$RELAY_PORT 2>/dev/null"
	assert_output --partial "hello over tls"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open server-verify
	assert_output ok
	run -0 rp "$T/relay.out" field 1 open server-sni
	assert_output ""
	run -0 rp "$T/relay.out" field 1 open client-sni
	assert_output ""
	run -0 rp "$T/relay.out" field 1 open client-tls
	assert_output TLSv1.3
}

# refused CERT KEY REASON: a server with that certificate is refused: the
# client is reset, the close record names the reason, the relay goes on.
refused() {
	start_nginx_tls "$1" "$2"
	start_relay -l 0 -t tls:localhost:"$NGX_PORT" --ca-file "$C/ca.pem"
	# The reset can come before curl has seen its connect end (7: on
	# loopback the relay's handshake with nginx fails that fast), before
	# it has sent its request (55), or while it waits for the answer
	# (56): each is the client told that the exchange failed (150 tries
	# under load: 140 times 56, 10 times 7).
	for i in 1 2; do
		run timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
		[[ " 7 52 55 56 " == *" $status "* ]] ||
		    { echo "curl: exit $status: $output"; return 1; }
	done
	stop_relay
	for c in 1 2; do
		run -0 rp "$T/relay.out" field $c close reason
		assert_output tls
		run -0 rp "$T/relay.out" field $c close by
		assert_output server
		run -0 rp "$T/relay.out" field $c close error
		assert_output "certificate verify failed: $3"
		run -0 rp "$T/relay.out" field $c close reset
		assert_output client
	done
	grep -q "TLS with the server localhost:$NGX_PORT: certificate verify failed: $3" \
	    "$T/relay.err"
}

@test "tls: a self-signed upstream is refused, the client reset, the reason recorded" {
	refused "$C/self.pem" "$C/self.key" "self-signed certificate"
}

@test "tls: an expired upstream certificate is refused" {
	refused "$C/old.pem" "$C/old.key" "certificate has expired"
}

@test "tls: an upstream certificate for another name is refused" {
	refused "$C/other.pem" "$C/other.key" "hostname mismatch"
}

@test "tls: --insecure takes a self-signed upstream and records verify=skipped" {
	start_nginx_tls "$C/self.pem" "$C/self.key"
	start_relay -l 0 -t tls:localhost:"$NGX_PORT" --insecure
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open server-verify
	assert_output skipped
	run -0 rp "$T/relay.out" field 1 open server-cert-sha256
	assert_output "$(fingerprint "$C/self.pem")"
}

@test "tls: --sni names the server to ask for and to verify" {
	start_nginx_tls "$C/other.pem" "$C/other.key"
	start_relay -l 0 -t tls:127.0.0.1:"$NGX_PORT" --ca-file "$C/ca.pem" \
	    --sni other.example
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open server-sni
	assert_output other.example
	run -0 rp "$T/relay.out" field 1 open server-verify
	assert_output ok
}

@test "tls: mutual TLS: nginx that requires a client certificate gets the relay's --client-cert" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key" \
	    "ssl_client_certificate $C/ca.pem; ssl_verify_client on;"
	start_relay -l 0 -t tls:localhost:"$NGX_PORT" --ca-file "$C/ca.pem"
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$RELAY_PORT/index.html"
	assert_output 400
	stop_relay
	start_relay -l 0 -t tls:localhost:"$NGX_PORT" --ca-file "$C/ca.pem" \
	    --client-cert "$C/cli.pem" --client-key "$C/cli.key"
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
	assert_output "hello over tls"
}

@test "tls: plain HTTP to a tls: listener is closed; the record shows what came, the listener goes on" {
	start_nginx "$WWW"
	start_relay -l tls:0 -t 127.0.0.1:"$NGINX_PORT" --cert "$C/srv.pem" \
	    --key "$C/srv.key"
	run timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
	# Closed after its request was read: an empty reply (52), or a
	# reset (56) should a byte of it come after the read.
	[[ " 52 56 " == *" $status "* ]] ||
	    { echo "curl: exit $status: $output"; return 1; }
	run -0 timeout 10 curl -sS --cacert "$C/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output tls
	run -0 rp "$T/relay.out" field 1 close by
	assert_output client
	run -0 rp "$T/relay.out" field 1 close error
	assert_output --partial "not TLS"
	run -0 rp "$T/relay.out" payload 1 c2s
	assert_output --partial "GET /index.html HTTP/1.1"
	run -0 rp "$T/relay.out" field 2 close reason
	assert_output eof
}

@test "tls: a tls: listener whose target refuses: the client's handshake is in the open record, the refusal in the close" {
	local port
	port=$(free_port)
	start_relay -l tls:0 -t 127.0.0.1:"$port" --cert "$C/srv.pem" \
	    --key "$C/srv.key"
	# The handshake succeeds; the connect after it is refused, and the
	# client's connection reset.
	run timeout 10 curl -sS --cacert "$C/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	[ "$status" -ne 0 ]
	stop_relay
	run -0 rp "$T/relay.out" field 1 open client-tls
	assert_output TLSv1.3
	run -0 rp "$T/relay.out" field 1 open client-sni
	assert_output localhost
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output refused
	run -0 rp "$T/relay.out" field 1 close error
	assert_output --partial "Connection refused"
}

@test "tls: a client that does not trust the relay's certificate ends the handshake; recorded" {
	start_nginx "$WWW"
	start_relay -l tls:0 -t 127.0.0.1:"$NGINX_PORT" --cert "$C/self.pem" \
	    --key "$C/self.key"
	run timeout 10 curl -sS --cacert "$C/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	assert_equal "$status" 60
	stop_relay
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output tls
	run -0 rp "$T/relay.out" field 1 close by
	assert_output client
	# curl's alert, or its reset when it closed with bytes of the
	# handshake unread (seen once in 10 runs on a loaded machine).
	run -0 rp "$T/relay.out" field 1 close error
	assert_output --regexp "alert|reset by peer"
}

@test "tls: bad certificate and key files: exit 2 before listening, naming the file" {
	run -2 "$(bin tcpmon-relay)" -l tls:0 -t 127.0.0.1:9 \
	    --cert "$T/none.pem" --key "$C/srv.key"
	assert_output --regexp "^tcpmon-relay: --cert $T/none.pem: .+"
	refute_output --partial listening
	run -2 "$(bin tcpmon-relay)" -l tls:0 -t 127.0.0.1:9 \
	    --cert "$C/srv.pem" --key "$C/other.key"
	assert_output "tcpmon-relay: --key $C/other.key: does not match --cert $C/srv.pem"
	echo "not a key" > "$T/bad.key"
	run -2 "$(bin tcpmon-relay)" -l tls:0 -t 127.0.0.1:9 \
	    --cert "$C/srv.pem" --key "$T/bad.key"
	assert_output --partial "tcpmon-relay: --key $T/bad.key:"
	run -2 "$(bin tcpmon-relay)" -l 0 -t tls:localhost:9 \
	    --ca-file "$T/none.pem"
	assert_output --partial "tcpmon-relay: --ca-file $T/none.pem:"
	# The key's bytes never reach a message.
	run -2 "$(bin tcpmon-relay)" -l tls:0 -t 127.0.0.1:9 \
	    --cert "$C/srv.key" --key "$C/srv.key"
	refute_output --partial "$(sed -n 2p "$C/srv.key")"
}

@test "tls: usage: TLS options without the side they are for, and what a side needs" {
	run -2 "$(bin tcpmon-relay)" -l tls:0 -t 127.0.0.1:9 --cert "$C/srv.pem"
	assert_output --partial "--cert and --key go together"
	run -2 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --cert "$C/srv.pem" \
	    --key "$C/srv.key"
	assert_output --partial "only with a -l tls: listener"
	run -2 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:9 --insecure
	assert_output --partial "only with a -t tls: target"
	run -2 "$(bin tcpmon-relay)" -l 0 -t tls:localhost:9 \
	    --client-cert "$C/cli.pem"
	assert_output --partial "go together"
	run -2 "$(bin tcpmon-relay)" --proxy -l tls:0 --cert "$C/srv.pem" \
	    --key "$C/srv.key"
	assert_output --partial "not with --proxy"
	run -2 "$(bin tcpmon-relay)" -l 0 -t tls:localhost:9 --sni 'a b'
	assert_output --partial "not a host name"
}

@test "tls: --keylog lets tshark decrypt a tcpdump capture of the relay's TLS side: the same request as the records" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	bg tcpdump tcpdump -U --immediate-mode -i lo -w "$T/tls.pcap" \
	    "tcp port $NGX_PORT"
	wait_for "$T/tcpdump.err" 'listening on' 10
	TD=$BG_PID
	start_relay -l 0 -t tls:localhost:"$NGX_PORT" --ca-file "$C/ca.pem" \
	    --keylog "$T/keys.log"
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	sleep 0.5
	kill -INT "$TD"
	wait_exit "$TD" 10
	run -0 stat -c %a "$T/keys.log"
	assert_output 600
	grep -q '^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]* [0-9a-f]*$' "$T/keys.log"
	grep -q '^CLIENT_TRAFFIC_SECRET_0 ' "$T/keys.log"
	run -0 --separate-stderr tshark -r "$T/tls.pcap" -o "tls.keylog_file:$T/keys.log" \
	    -Y http.request -T fields -e http.request.uri -e http.host
	assert_output "/index.html	127.0.0.1:$RELAY_PORT"
	run -0 --separate-stderr tshark -r "$T/tls.pcap" -o "tls.keylog_file:$T/keys.log" \
	    -Y http.response -T fields -e http.file_data
	assert_output --partial "hello over tls"
}

@test "tls: SSLKEYLOGFILE in the environment is the key log when --keylog is not given" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	SSLKEYLOGFILE=$T/env.keys start_relay -l 0 -t tls:localhost:"$NGX_PORT" \
	    --ca-file "$C/ca.pem"
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/index.html"
	stop_relay
	grep -q '^SERVER_TRAFFIC_SECRET_0 ' "$T/env.keys"
}

@test "tls: a stage sees the plaintext of TLS on both sides; 3 MB through --through cat" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	start_relay -l tls:0 -t tls:localhost:"$NGX_PORT" --cert "$C/srv.pem" \
	    --key "$C/srv.key" --ca-file "$C/ca.pem" --through cat
	run -0 timeout 20 curl -sS --cacert "$C/ca.pem" -o "$T/got.bin" \
	    "https://localhost:$RELAY_PORT/big.bin"
	cmp "$T/got.bin" "$WWW/big.bin"
	run -0 timeout 10 curl -sS --cacert "$C/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	assert_output "hello over tls"
	stop_relay
	RP_AT=delivered rp "$T/relay.out" payload 1 s2c | tail -c 3000000 |
	    cmp - "$WWW/big.bin"
}

@test "tls: 8 MiB each way through a TLS echo (socat), half-closed: every byte back, the records add up" {
	bg techo socat -d -d OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,cert="$C/srv.pem",key="$C/srv.key",verify=0 EXEC:cat
	wait_for "$T/techo.err" 'listening on'
	port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/techo.err" | head -n 1)
	start_relay -l 0 -t tls:localhost:"$port" --ca-file "$C/ca.pem"
	head -c 8388608 /dev/urandom > "$T/in.bin"
	echo_xfer "$T/in.bin" "$RELAY_PORT" "$T/out.bin"
	cmp "$T/in.bin" "$T/out.bin"
	wait_count "$T/relay.out" '^TCPMON/1 close ' 1
	stop_relay
	run -0 rp "$T/relay.out" field 1 close c2s
	assert_output 8388608
	run -0 rp "$T/relay.out" field 1 close s2c
	assert_output 8388608
	rp "$T/relay.out" payload 1 c2s | cmp - "$T/in.bin"
}
