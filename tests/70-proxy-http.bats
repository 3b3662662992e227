#!/usr/bin/env bats
# tcpmon-relay --proxy: absolute-form requests to Debian's nginx through
# curl -x and Python's http.client, keep-alive over several hosts, request
# bodies, CONNECT to an nginx serving HTTPS, and the records of each
# upstream conversation.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

setup() {
	common_setup
	start_nginx_send
	printf 'first file\n' > "$T/ngx/www/a.txt"
	printf 'second file\n' > "$T/ngx/www/b.txt"
	head -c 1024 /dev/urandom | base64 -w0 > "$T/ngx/www/kib.txt"
}

@test "proxy: curl -x fetches through the proxy; the record names the real target" {
	start_relay --proxy -l 0
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" \
	    "http://127.0.0.1:$NGINX_PORT/a.txt"
	assert_output "first file"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "127.0.0.1:$NGINX_PORT"
	run -0 rp "$T/relay.out" field 1 open client-conn
	assert_output "1"
	run -0 rp "$T/relay.out" field 1 open listen
	assert_output "127.0.0.1:$RELAY_PORT"
	# The record holds what the server got: origin-form, no proxy headers.
	rp "$T/relay.out" payload 1 c2s > "$T/up"
	run -0 head -n 1 "$T/up"
	assert_output $'GET /a.txt HTTP/1.1\r'
	run -0 grep -ac "^Host: 127.0.0.1:$NGINX_PORT"$'\r$' "$T/up"
	run -1 grep -aic '^proxy-connection' "$T/up"
	rp "$T/relay.out" payload 1 s2c > "$T/down"
	run -0 tail -n 1 "$T/down"
	assert_output "first file"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "eof"
}

@test "proxy: one keep-alive client asks for two hosts in turn: each conversation recorded apart" {
	start_relay --proxy -l 0
	run -0 timeout 10 python3 - "$RELAY_PORT" "$NGINX_PORT" <<-'PY'
	import http.client, sys
	rp, np = sys.argv[1], sys.argv[2]
	c = http.client.HTTPConnection("127.0.0.1", int(rp), timeout=5)
	for url in ("http://127.0.0.1:%s/a.txt", "http://localhost:%s/b.txt",
	            "http://localhost:%s/a.txt", "http://127.0.0.1:%s/b.txt"):
	    c.request("GET", url % np)
	    r = c.getresponse()
	    print(r.status, r.read().decode().strip())
	PY
	assert_output $'200 first file\n200 second file\n200 first file\n200 second file'
	stop_relay
	# Host changes open a new conversation; the same host reuses one.
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "127.0.0.1:$NGINX_PORT"
	run -0 rp "$T/relay.out" field 2 open target
	assert_output "localhost:$NGINX_PORT"
	run -0 rp "$T/relay.out" field 3 open target
	assert_output "127.0.0.1:$NGINX_PORT"
	run -0 grep -ac '^TCPMON/1 open ' "$T/relay.out"
	assert_output "3"
	for c in 1 2 3; do
		run -0 rp "$T/relay.out" field "$c" open client-conn
		assert_output "1"
	done
	rp "$T/relay.out" payload 2 c2s > "$T/up2"
	run -0 grep -ac '^GET /' "$T/up2"
	assert_output "2"
	run -0 grep -ac "^Host: localhost:$NGINX_PORT"$'\r$' "$T/up2"
	assert_output "2"
}

@test "proxy: request bodies, by Content-Length and chunked, and HEAD, on one connection" {
	start_relay --proxy -l 0
	run -0 timeout 10 python3 - "$RELAY_PORT" "$NGINX_PORT" <<-'PY'
	import http.client, sys
	rp, np = sys.argv[1], sys.argv[2]
	u = "http://127.0.0.1:%s" % np
	c = http.client.HTTPConnection("127.0.0.1", int(rp), timeout=5)
	c.request("POST", u + "/post", body=b"x" * 100000)
	r = c.getresponse(); print(r.status, r.read().decode().strip())
	c.request("POST", u + "/post", body=iter([b"abc", b"d" * 5000]),
	          encode_chunked=True)
	r = c.getresponse(); print(r.status, r.read().decode().strip())
	c.request("HEAD", u + "/kib.txt")
	r = c.getresponse(); print(r.status, r.getheader("Content-Length"), r.read())
	c.request("GET", u + "/a.txt")
	r = c.getresponse(); print(r.status, r.read().decode().strip())
	PY
	assert_output $'200 posted\n200 posted\n200 1368 b\'\'\n200 first file'
	stop_relay
	run -0 rp "$T/relay.out" field 1 close c2s
	(( output > 105000 ))
	run -0 grep -ac '^TCPMON/1 open ' "$T/relay.out"
	assert_output "1"
}

@test "proxy: pipelined requests are answered in order" {
	start_relay --proxy -l 0
	u="http://127.0.0.1:$NGINX_PORT"
	printf 'GET %s/a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET %s/b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$u" "$u" |
	    timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" > "$T/got"
	run -0 grep -a 'file$' "$T/got"
	assert_output $'first file\nsecond file'
	# The client asked to close: the server was told, and so was the client.
	run -0 grep -aic '^connection: close' "$T/got"
}

@test "proxy: 64 keep-alive clients at once, 1 KiB answers, all recorded" {
	start_relay --proxy -l 0
	run -0 timeout 60 python3 - "$RELAY_PORT" "$NGINX_PORT" <<-'PY'
	import http.client, sys, threading
	rp, np = sys.argv[1], sys.argv[2]
	bad = []
	def run():
	    c = http.client.HTTPConnection("127.0.0.1", int(rp), timeout=20)
	    for _ in range(10):
	        c.request("GET", "http://127.0.0.1:%s/kib.txt" % np)
	        r = c.getresponse()
	        if r.status != 200 or len(r.read()) != 1368:
	            bad.append(1)
	ts = [threading.Thread(target=run) for _ in range(64)]
	[t.start() for t in ts]; [t.join() for t in ts]
	print("bad", len(bad))
	PY
	assert_output "bad 0"
	stop_relay
	run -0 grep -ac '^TCPMON/1 open ' "$T/relay.out"
	assert_output "64"
	run -0 grep -ac '^TCPMON/1 close .*reason=eof' "$T/relay.out"
	assert_output "64"
}

@test "proxy: CONNECT to an nginx serving HTTPS: the TLS bytes are relayed and recorded as they are" {
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
	    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
	TLS_PORT=$(free_port)
	mkdir -p "$T/tls/tmp"
	cat > "$T/tls/nginx.conf" <<-NGX
	daemon off;
	master_process off;
	pid $T/tls/nginx.pid;
	error_log stderr;
	events { worker_connections 64; }
	http {
		access_log off;
		client_body_temp_path $T/tls/tmp/body;
		proxy_temp_path $T/tls/tmp/proxy;
		fastcgi_temp_path $T/tls/tmp/fcgi;
		uwsgi_temp_path $T/tls/tmp/uwsgi;
		scgi_temp_path $T/tls/tmp/scgi;
		server {
			listen 127.0.0.1:$TLS_PORT ssl;
			ssl_certificate $T/cert.pem;
			ssl_certificate_key $T/key.pem;
			root $T/ngx/www;
		}
	}
	NGX
	bg tls nginx -e stderr -p "$T/tls" -c "$T/tls/nginx.conf"
	for ((i = 0; i < 100; i++)); do
		timeout 2 curl -ksS -o /dev/null "https://127.0.0.1:$TLS_PORT/a.txt" 2>/dev/null && break
		sleep 0.05
	done
	start_relay --proxy -l 0
	run -0 timeout 10 curl -ksS -x "127.0.0.1:$RELAY_PORT" \
	    "https://localhost:$TLS_PORT/a.txt" "https://localhost:$TLS_PORT/b.txt"
	assert_output $'first file\nsecond file'
	stop_relay
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "localhost:$TLS_PORT"
	# The request line that opened the tunnel, and nothing of its head.
	run -0 rp "$T/relay.out" field 1 open request
	assert_output "CONNECT localhost:$TLS_PORT HTTP/1.1"
	run -1 grep -aci 'user-agent' "$T/relay.out"
	# A TLS handshake record (type 22) starts each direction.
	rp "$T/relay.out" payload 1 c2s > "$T/c2s"
	rp "$T/relay.out" payload 1 s2c > "$T/s2c"
	run -0 od -An -tu1 -N1 "$T/c2s"
	assert_output "  22"
	run -0 od -An -tu1 -N1 "$T/s2c"
	assert_output "  22"
	run -1 grep -ac 'Connection established' "$T/relay.out"
}

@test "proxy: the Unix-socket tap sees the proxy's conversations live" {
	start_relay --proxy -l 0 --tap "$T/tap.sock"
	bg viewer "$(bin tcpmon-tap)" --attach "$T/tap.sock"
	wait_for "$T/relay.err" 'viewers attach' || true
	sleep 0.3
	timeout 10 curl -sS -o /dev/null -x "127.0.0.1:$RELAY_PORT" "http://127.0.0.1:$NGINX_PORT/a.txt"
	wait_for "$T/viewer.out" 'close' 10
	run -0 grep -a "127.0.0.1:$NGINX_PORT" "$T/viewer.out"
}

@test "proxy: stages work in proxy mode: --through tcpmon-throttle delays the answers, bytes unchanged" {
	start_relay --proxy -l 0 --through "$(bin tcpmon-throttle) --down --latency 300"
	local t0 t1
	t0=$(date +%s%N)
	run -0 timeout 20 curl -sS -x "127.0.0.1:$RELAY_PORT" \
	    "http://127.0.0.1:$NGINX_PORT/kib.txt"
	t1=$(date +%s%N)
	assert_output "$(cat "$T/ngx/www/kib.txt")"
	[ $(((t1 - t0) / 1000000)) -ge 300 ]
	stop_relay
	# What the server sent and what the client got are both recorded.
	grep -aq '^TCPMON/1 data .*dir=s2c.* at=sent' "$T/relay.out"
	grep -aq '^TCPMON/1 data .*dir=s2c.* at=delivered' "$T/relay.out"
}
