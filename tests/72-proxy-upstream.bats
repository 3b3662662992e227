#!/usr/bin/env bats
# tcpmon-relay --upstream-proxy: targets reached through an HTTP proxy with
# CONNECT, in forward and proxy mode; a chain relay -> relay --proxy, and
# Debian's tinyproxy with Basic credentials from the environment.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# start_proxy_relay: a second relay, in proxy mode; sets PROXY_PORT and
# records into $T/px.out.
start_proxy_relay() {
	bg px "$(bin tcpmon-relay)" --proxy -l 0 "$@"
	PROXY_PID=$BG_PID
	wait_for "$T/px.err" 'listening on'
	PROXY_PORT=$(port_of "$T/px.err")
}

# start_tinyproxy [CONF LINES...]: Debian's tinyproxy on a free port; sets
# TINY_PORT.
start_tinyproxy() {
	local i
	command -v tinyproxy > /dev/null || skip "tinyproxy is not installed"
	TINY_PORT=$(free_port)
	{
		printf 'User nobody\nGroup nogroup\nPort %s\nListen 127.0.0.1\n' "$TINY_PORT"
		printf 'Timeout 30\nLogLevel Critical\nMaxClients 100\nPidFile "%s/tiny.pid"\n' "$T"
		printf '%s\n' "$@"
	} > "$T/tiny.conf"
	bg tiny tinyproxy -d -c "$T/tiny.conf"
	for ((i = 0; i < 100; i++)); do
		timeout 1 bash -c "exec 9<>/dev/tcp/127.0.0.1/$TINY_PORT" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "tinyproxy did not start" >&2
	return 1
}

@test "upstream: a forward relay reaches its target through relay --proxy (CONNECT)" {
	start_nginx_send
	start_proxy_relay
	start_relay -l 0 -t "127.0.0.1:$NGINX_PORT" --upstream-proxy "127.0.0.1:$PROXY_PORT"
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/"
	assert_output "index"
	stop_relay
	run -0 rp "$T/relay.out" field 1 open upstream-proxy
	assert_output "127.0.0.1:$PROXY_PORT"
	run -0 rp "$T/relay.out" field 1 open target
	assert_output "127.0.0.1:$NGINX_PORT"
	# The first relay records the target's bytes only, not the CONNECT.
	rp "$T/relay.out" payload 1 c2s > "$T/c2s"
	run -0 head -n 1 "$T/c2s"
	assert_output $'GET / HTTP/1.1\r'
	kill -TERM "$PROXY_PID"
	wait_exit "$PROXY_PID"
	run -0 rp "$T/px.out" field 1 open target
	assert_output "127.0.0.1:$NGINX_PORT"
}

@test "upstream: relay --proxy through relay --proxy: curl -x at the first, both record" {
	start_nginx_send
	start_proxy_relay
	start_relay --proxy -l 0 --upstream-proxy "127.0.0.1:$PROXY_PORT"
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" \
	    "http://127.0.0.1:$NGINX_PORT/" "http://localhost:$NGINX_PORT/"
	assert_output $'index\nindex'
	stop_relay
	run -0 rp "$T/relay.out" field 2 open target
	assert_output "localhost:$NGINX_PORT"
	run -0 rp "$T/relay.out" payload 1 c2s
	assert_output --partial "GET / HTTP/1.1"
}

@test "upstream: a refused CONNECT is reported with the upstream's status line" {
	port=$(free_port)
	start_proxy_relay
	start_relay -l 0 -t "127.0.0.1:$port" --upstream-proxy "127.0.0.1:$PROXY_PORT"
	run -0 timeout 10 socat -u /dev/null TCP:127.0.0.1:"$RELAY_PORT"
	wait_count "$T/relay.out" '^TCPMON/1 close ' 1
	stop_relay
	run -0 rp "$T/relay.out" field 1 close error
	assert_output "upstream proxy 127.0.0.1:$PROXY_PORT: HTTP/1.1 502 Bad Gateway"
	run -0 rp "$T/relay.out" field 1 close reason
	assert_output "error"
	# In proxy mode, the client gets a 502 that says what the upstream said.
	start_relay_to "$T/r2.out" --proxy -l 0 --upstream-proxy "127.0.0.1:$PROXY_PORT"
	run -0 timeout 10 curl -sS -x "127.0.0.1:$RELAY_PORT" -w '%{http_code}\n' "http://127.0.0.1:$port/"
	assert_line --index 0 "upstream proxy 127.0.0.1:$PROXY_PORT: HTTP/1.1 502 Bad Gateway"
	assert_line --index 1 "502"
}

@test "upstream: escapes in an upstream's status line are quoted visibly, never raw" {
	start_stub escapes
	port=$(free_port)
	start_relay -l 0 -t "127.0.0.1:$port" --upstream-proxy "127.0.0.1:$STUB_PORT"
	run -0 timeout 10 socat -u /dev/null TCP:127.0.0.1:"$RELAY_PORT"
	wait_count "$T/relay.out" '^TCPMON/1 close ' 1
	stop_relay
	run -0 rp "$T/relay.out" field 1 close error
	assert_output --partial 'HTTP/1.1 403 Forbidden \x1b]52;c;b3duZWQ=\x07\x1b]0;owned\x07\x1b[2J\xc2\x9b31m\x9b31m\x7f'
	python3 "$TESTS_DIR/gen/termsafe.py" "$T/relay.err"
	rp "$T/relay.out" field 1 close error > "$T/error"
	python3 "$TESTS_DIR/gen/termsafe.py" "$T/error"
}

@test "upstream: an upstream proxy that is not there: the client is reset, the close says why" {
	port=$(free_port)
	start_relay -l 0 -t 127.0.0.1:80 --upstream-proxy "127.0.0.1:$port"
	run timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/"
	assert_failure
	stop_relay
	run -0 rp "$T/relay.out" field 1 close error
	assert_output "connect 127.0.0.1:$port (upstream proxy for 127.0.0.1:80): Connection refused"
}

@test "upstream: Debian's tinyproxy with Basic credentials from the environment" {
	start_nginx_send
	start_tinyproxy 'BasicAuth tcpmon s3cret'
	# A recording relay in front of tinyproxy shows what the first sent.
	bg spy "$(bin tcpmon-relay)" -l 0 -t "127.0.0.1:$TINY_PORT"
	SPY_PID=$BG_PID
	wait_for "$T/spy.err" 'listening on'
	spy=$(port_of "$T/spy.err")
	TCPMON_PROXY_USER=tcpmon TCPMON_PROXY_PASSWORD=s3cret \
	    start_relay -l 0 -t "127.0.0.1:$NGINX_PORT" --upstream-proxy "127.0.0.1:$spy"
	run -0 timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/"
	assert_output "index"
	run -1 grep -c s3cret /proc/"$RELAY_PID"/cmdline
	stop_relay
	kill -TERM "$SPY_PID"
	wait_exit "$SPY_PID"
	rp "$T/spy.out" payload 1 c2s > "$T/spy.c2s"
	run -0 head -n 1 "$T/spy.c2s"
	assert_output $'CONNECT 127.0.0.1:'"$NGINX_PORT"$' HTTP/1.1\r'
	run -0 grep -ac "^Proxy-Authorization: Basic $(printf tcpmon:s3cret | base64)"$'\r$' "$T/spy.c2s"
	# Without the credentials, tinyproxy says 407, and the record says so.
	start_relay_to "$T/r2.out" -l 0 -t "127.0.0.1:$NGINX_PORT" --upstream-proxy "127.0.0.1:$TINY_PORT"
	run timeout 10 curl -sS "http://127.0.0.1:$RELAY_PORT/"
	assert_failure
	wait_count "$T/r2.out" '^TCPMON/1 close ' 1
	run -0 rp "$T/r2.out" field 1 close error
	assert_output --regexp "^upstream proxy 127.0.0.1:$TINY_PORT: HTTP/1.[01] 407 "
}
