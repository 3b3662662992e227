#!/usr/bin/env bats
# 54-send-tls: tcpmon-send over https:// and -t tls:, with curl's trust
# options (--cacert, -k, --cert, --key), against Debian's nginx over TLS;
# certificates from tests/gen/certs.sh.

load helpers

send() { "$(bin tcpmon-send)" "$@"; }
rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

setup_file() {
	tls_files "hello send over tls"
}

@test "send tls: GET and POST over https://, verified with --cacert; the records hold the plaintext" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key" "error_page 405 =200 \$uri;"
	run -0 --separate-stderr send --text --cacert "$C/ca.pem" \
	    "https://localhost:$NGX_PORT/index.html"
	assert_output --partial "hello send over tls"
	assert_output --partial "HTTP/1.1 200 OK"
	echo '<a>1</a>' > "$T/body.xml"
	run -0 --separate-stderr send --text --cacert "$C/ca.pem" \
	    "https://localhost:$NGX_PORT/index.html" "$T/body.xml"
	assert_output --partial "hello send over tls"
	send --records --cacert "$C/ca.pem" "https://localhost:$NGX_PORT/index.html" \
	    > "$T/r.tcpmon"
	run -0 rp "$T/r.tcpmon" payload 1 c2s
	assert_output --partial "GET /index.html HTTP/1.1"
	run -0 rp "$T/r.tcpmon" payload 1 s2c
	assert_output --partial "hello send over tls"
}

@test "send tls: an address in the URL: no SNI, the certificate checked for the address" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	run -0 --separate-stderr send --text --cacert "$C/ca.pem" \
	    "https://127.0.0.1:$NGX_PORT/index.html"
	assert_output --partial "hello send over tls"
}

# refused CERT KEY REASON: exit 1, one line naming the URL and the reason.
refused() {
	start_nginx_tls "$1" "$2"
	run -1 --separate-stderr send --text --cacert "$C/ca.pem" \
	    "https://localhost:$NGX_PORT/index.html"
	assert_equal "$stderr" "tcpmon-send: https://localhost:$NGX_PORT/index.html: certificate verify failed: $3"
}

@test "send tls: a self-signed server is exit 1, naming the reason" {
	refused "$C/self.pem" "$C/self.key" "self-signed certificate"
}

@test "send tls: an expired server certificate is exit 1" {
	refused "$C/old.pem" "$C/old.key" "certificate has expired"
}

@test "send tls: a certificate for another name is exit 1" {
	refused "$C/other.pem" "$C/other.key" "hostname mismatch"
}

@test "send tls: without --cacert the system's trust does not know the test CA; -k skips the check" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	run -1 --separate-stderr send --text "https://localhost:$NGX_PORT/index.html"
	assert_equal "$stderr" "tcpmon-send: https://localhost:$NGX_PORT/index.html: certificate verify failed: unable to get local issuer certificate"
	run -0 --separate-stderr send --text -k "https://localhost:$NGX_PORT/index.html"
	assert_output --partial "hello send over tls"
	run -0 --separate-stderr send --text --insecure "https://localhost:$NGX_PORT/index.html"
	assert_output --partial "hello send over tls"
}

@test "send tls: mutual TLS: nginx that requires a client certificate gets --cert and --key" {
	start_nginx_tls "$C/srv.pem" "$C/srv.key" \
	    "ssl_client_certificate $C/ca.pem; ssl_verify_client on;"
	run -1 --separate-stderr send --text --cacert "$C/ca.pem" \
	    "https://localhost:$NGX_PORT/index.html"
	assert_output --partial "HTTP/1.1 400"
	run -0 --separate-stderr send --text --cacert "$C/ca.pem" \
	    --cert "$C/cli.pem" --key "$C/cli.key" \
	    "https://localhost:$NGX_PORT/index.html"
	assert_output --partial "hello send over tls"
}

@test "send tls: certificate and key files that cannot be used are exit 2, naming the file" {
	run -2 --separate-stderr send --cacert "$T/none.pem" "https://localhost:9/"
	assert_equal "$stderr" "tcpmon-send: --cacert $T/none.pem: No such file or directory"
	run -2 --separate-stderr send --cert "$C/srv.pem" --key "$C/other.key" \
	    "https://localhost:9/"
	assert_output ""
	[[ $stderr == "tcpmon-send: --key $C/other.key: "* ]]
	run -2 --separate-stderr send "ftp://localhost/"
	assert_equal "$stderr" "tcpmon-send: ftp://localhost/: not an http:// or https:// URL"
}

@test "send tls: --replay of a connection recorded through a tls: listener, sent again with -t tls:" {
	start_nginx "$WWW"
	start_relay -l tls:0 -t 127.0.0.1:"$NGINX_PORT" --cert "$C/srv.pem" \
	    --key "$C/srv.key"
	run -0 timeout 10 curl -sS --cacert "$C/ca.pem" \
	    "https://localhost:$RELAY_PORT/index.html"
	stop_relay
	start_nginx_tls "$C/srv.pem" "$C/srv.key"
	run -0 --separate-stderr send --text --cacert "$C/ca.pem" \
	    --replay "$T/relay.out" --conn 1 -t "tls:localhost:$NGX_PORT"
	assert_output --partial "hello send over tls"
	run -0 --separate-stderr send --text --cacert "$C/ca.pem" --raw \
	    "tls:localhost:$NGX_PORT" <(printf 'GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
	assert_output --partial "hello send over tls"
}
