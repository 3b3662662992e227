#!/usr/bin/env bats
# tcpmon-relay --rewrite-host and tcpmon-rewrite: the Host of each request
# becomes the target's (name-based virtual hosts answer as for a direct
# client), redirects and WSDL soap:address locations that name the target
# name the relay again, and the capture says what changed.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# start_vhosts: Debian's nginx with two virtual hosts on one loopback port:
# server_name 127.0.0.1 (the target's name: "target site", and a redirect
# at /old built from the Host it got) and the default one, which answers
# for any other Host ("default site").  Sets NGINX_PORT.
start_vhosts() {
	NGINX_PORT=$(free_port)
	nginx_run ng http "$NGINX_PORT" "
		default_type text/plain;
		server {
			listen 127.0.0.1:$NGINX_PORT default_server;
			server_name localhost;
			location / { return 200 \"default site\n\"; }
		}" "
			listen 127.0.0.1:$NGINX_PORT;
			server_name 127.0.0.1;
			location = /old {
				return 301 http://\$host:\$server_port/new;
			}
			location = /new { return 200 \"new page\n\"; }
			location / { return 200 \"target site\n\"; }"
}

# via_relay PATH [CURL ARGS...]: curl through the relay as a client that
# calls it "localhost": its Host is localhost:RELAY_PORT.
via_relay() {
	local path=$1
	shift
	timeout 10 curl -sS --resolve "localhost:$RELAY_PORT:127.0.0.1" "$@" \
	    "http://localhost:$RELAY_PORT$path"
}

# rec_open FILE CONN TARGET: appends an open record, as a relay writes it.
rec_open() {
	printf 'TCPMON/1 open conn=%s src=t time=2026-11-22T10:00:00.000000Z client=127.0.0.1:5 listen=127.0.0.1:8081 target=%s len=0\n\n' \
	    "$2" "$3" >> "$1"
}

rec_close() {
	printf 'TCPMON/1 close conn=%s src=t time=2026-11-22T10:00:01.000000Z reason=eof c2s=0 s2c=0 len=0\n\n' \
	    "$2" >> "$1"
}

@test "rewrite-host: without it the client's Host picks the default virtual host" {
	start_vhosts
	start_relay -l 0 -t "127.0.0.1:$NGINX_PORT"
	run -0 via_relay /
	assert_output "default site"
}

@test "rewrite-host: the target's virtual host answers; the capture keeps both Hosts and says what changed" {
	start_vhosts
	start_relay -l 0 -t "127.0.0.1:$NGINX_PORT" --rewrite-host -o "$T/cap"
	run -0 via_relay /
	assert_output "target site"
	stop_relay
	run -0 env RP_AT=sent python3 "$TESTS_DIR/recparse.py" "$T/cap" payload 1 c2s
	assert_output --partial $'Host: localhost:'"$RELAY_PORT"$'\r\n'
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/cap" payload 1 c2s
	assert_output --partial $'Host: 127.0.0.1:'"$NGINX_PORT"$'\r\n'
	refute_output --partial "localhost"
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 .*level=info' "$T/cap"
	assert_line "Host: localhost:$RELAY_PORT -> 127.0.0.1:$NGINX_PORT"
	# Everything else in the request is as the client sent it.
	diff <(RP_AT=sent rp "$T/cap" payload 1 c2s | grep -av '^Host:') \
	    <(RP_AT=delivered rp "$T/cap" payload 1 c2s | grep -av '^Host:')
}

@test "rewrite-host: a redirect to the target comes back pointing at the relay, and the client stays on it" {
	start_vhosts
	start_relay -l 0 -t "127.0.0.1:$NGINX_PORT" --rewrite-host -o "$T/cap"
	run -0 via_relay /old -o /dev/null -w '%{http_code} %{redirect_url}'
	assert_output "301 http://localhost:$RELAY_PORT/new"
	run -0 via_relay /old -L
	assert_output "new page"
	stop_relay
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 ' "$T/cap"
	assert_line "Location: http://127.0.0.1:$NGINX_PORT/new -> http://localhost:$RELAY_PORT/new"
	# The server's own Location is kept as sent, the client's as delivered.
	run -0 env RP_AT=sent python3 "$TESTS_DIR/recparse.py" "$T/cap" payload 1 s2c
	assert_output --partial "Location: http://127.0.0.1:$NGINX_PORT/new"
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/cap" payload 1 s2c
	assert_output --partial "Location: http://localhost:$RELAY_PORT/new"
	# -L followed it through the relay (on the connection it kept).
	run -0 env RP_AT=sent python3 "$TESTS_DIR/recparse.py" "$T/cap" payload 2 c2s
	assert_output --partial "GET /new HTTP/1.1"
}

@test "rewrite-host: zeep reads the WSDL through the relay and calls Add through it too" {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on'
	SOAPD_PORT=$(port_of "$T/soapd.err")
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" --rewrite-host -o "$T/cap"
	run -0 timeout 30 /usr/bin/python3 "$TESTS_DIR/soapd-zeep.py" \
	    "http://127.0.0.1:$RELAY_PORT/?wsdl"
	assert_equal "${lines[0]}" "http://127.0.0.1:$RELAY_PORT/"
	assert_equal "${lines[1]}" 5
	stop_relay
	# The service saw its own address and wrote it into the WSDL; the
	# client got the relay's.
	run -0 env RP_AT=sent python3 "$TESTS_DIR/recparse.py" "$T/cap" payload 1 s2c
	assert_output --partial "<soap:address location=\"http://127.0.0.1:$SOAPD_PORT/\"/>"
	run -0 env RP_AT=delivered python3 "$TESTS_DIR/recparse.py" "$T/cap" payload 1 s2c
	assert_output --partial "<soap:address location=\"http://127.0.0.1:$RELAY_PORT/\"/>"
	assert_output --partial "<soap12:address location=\"http://127.0.0.1:$RELAY_PORT/\"/>"
	refute_output --partial ":$SOAPD_PORT/"
	# The Add call went through the relay: it is in the capture.
	run -0 bash -c "for c in \$(RP_AT=sent python3 '$TESTS_DIR/recparse.py' '$T/cap' kinds | awk '\$1 == \"open\" {print \$2}'); do RP_AT=sent python3 '$TESTS_DIR/recparse.py' '$T/cap' payload \$c c2s; done"
	assert_output --regexp 'Add xmlns[^>]*>.*2.*3'
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 ' "$T/cap"
	assert_line --partial "soap:address location: http://127.0.0.1:$SOAPD_PORT/ -> http://127.0.0.1:$RELAY_PORT/"
}

@test "rewrite-host: a WSDL whose address changes length gets its Content-Length fixed" {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on'
	SOAPD_PORT=$(port_of "$T/soapd.err")
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" --rewrite-host -o "$T/cap"
	run -0 timeout 10 curl -sS -D "$T/h" -o "$T/w.xml" \
	    -H "Host: a-much-longer-name.example:$RELAY_PORT" \
	    "http://127.0.0.1:$RELAY_PORT/svc?wsdl"
	run -0 xmllint --noout "$T/w.xml"
	run -0 grep -c "location=\"http://a-much-longer-name.example:$RELAY_PORT/svc\"" "$T/w.xml"
	assert_output 2
	len=$(tr -d '\r' < "$T/h" | sed -n 's/^Content-Length: //Ip')
	assert_equal "$len" "$(wc -c < "$T/w.xml")"
	stop_relay
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 ' "$T/cap"
	assert_line --regexp '\(and 1 more in the WSDL\); Content-Length [0-9]+ -> '"$len"'$'
}

@test "rewrite-host: refused with --proxy (exit 2), and goes before the --through stages" {
	run -2 --separate-stderr "$(bin tcpmon-relay)" --proxy -l 0 --rewrite-host
	assert_equal "$stderr" "tcpmon-relay: --rewrite-host: only in forward mode (-t), not with --proxy"
	start_echo
	start_relay -v -l 0 -t "127.0.0.1:$ECHO_PORT" --through cat --rewrite-host --stage-timeout 4s
	run -0 grep -E '^tcpmon-relay: stage [0-9]+:' "$T/relay.err"
	assert_line --index 0 --regexp "^tcpmon-relay: stage 1: 'tcpmon-rewrite --hold-timeout 2000ms', pid [0-9]+$"
	assert_line --index 1 --regexp "^tcpmon-relay: stage 2: 'cat', pid [0-9]+$"
}

@test "rewrite-host: half a head held past the hold timeout goes on unchanged; the relay does not stall" {
	start_echo
	start_relay -l 0 -t "127.0.0.1:$ECHO_PORT" --rewrite-host --stage-timeout 1s -o "$T/cap"
	# Half a head, 2 s of silence (twice --stage-timeout), then the rest.
	run -0 timeout 10 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: x")
time.sleep(2)
s.sendall(b"y\r\n\r\n")
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
sys.stdout.write(got.decode())
' "$RELAY_PORT"
	assert_output $'GET / HTTP/1.1\r\nHost: xy\r\n\r'
	kill -0 "$RELAY_PID"	# not failed as a stalled stage
	stop_relay
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 ' "$T/cap"
	assert_line --regexp '^a request head held for 500ms \(--hold-timeout\) without its end: 23 bytes passed as they are, not rewritten$'
}

@test "tcpmon-rewrite: as a filter, a chunked WSDL is chunked anew and a Location elsewhere is kept" {
	rec_open "$T/in" 1 127.0.0.1:9000
	rec_data "$T/in" 1 c2s $'GET /?wsdl HTTP/1.1\r\nHost: localhost:8081\r\n\r\nGET /x HTTP/1.1\r\nHost: localhost:8081\r\n\r\n'
	rec_data "$T/in" 1 s2c $'HTTP/1.1 200 OK\r\nContent-Type: application/wsdl+xml\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n<d><soap:address\r\n'
	rec_data "$T/in" 1 s2c $'28\r\n location="http://127.0.0.1:9000/"/></d>\r\n0\r\n\r\n'
	rec_data "$T/in" 1 s2c $'HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9001/elsewhere\r\nContent-Length: 0\r\n\r\n'
	rec_close "$T/in" 1
	"$(bin tcpmon-rewrite)" < "$T/in" > "$T/out" 2> "$T/err"
	[ ! -s "$T/err" ]
	run -0 rp "$T/out" payload 1 s2c
	assert_output $'HTTP/1.1 200 OK\r\nContent-Type: application/wsdl+xml\r\nTransfer-Encoding: chunked\r\n\r\n38\r\n<d><soap:address location="http://localhost:8081/"/></d>\r\n0\r\n\r\nHTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9001/elsewhere\r\nContent-Length: 0\r\n\r'
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 ' "$T/out"
	assert_line 'soap:address location: http://127.0.0.1:9000/ -> http://localhost:8081/; chunked anew'
	refute_output --partial 'Location:'
	assert_equal "$(grep -ac '^Host: localhost:8081 -> 127.0.0.1:9000$' "$T/out")" 2
}

@test "tcpmon-rewrite: gzip'd and oversized XML answers, and bytes that are not HTTP, pass unchanged with a note" {
	rec_open "$T/in" 1 127.0.0.1:9000
	rec_data "$T/in" 1 c2s $'GET /?wsdl HTTP/1.1\r\nHost: h:1\r\n\r\nGET /?wsdl HTTP/1.1\r\nHost: h:1\r\n\r\n'
	rec_data "$T/in" 1 s2c $'HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc'
	body=$(printf '<soap:address location="http://127.0.0.1:9000/"/>%02000d' 0)
	rec_data "$T/in" 1 s2c $'HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n'"$body"
	rec_close "$T/in" 1
	rec_open "$T/in" 2 127.0.0.1:9000
	rec_data "$T/in" 2 c2s $'\x16\x03\x01 not HTTP at all\r\nHost: h:1\r\n\r\n'
	rec_data "$T/in" 2 c2s $'GET / HTTP/1.1\r\nHost: h:1\r\n\r\n'
	rec_close "$T/in" 2
	"$(bin tcpmon-rewrite)" --max-body 1k < "$T/in" > "$T/out"
	diff <(rp "$T/in" payload 1 s2c) <(rp "$T/out" payload 1 s2c)
	diff <(rp "$T/in" payload 2 c2s) <(rp "$T/out" payload 2 c2s)
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 ' "$T/out"
	assert_line 'an XML answer with Content-Encoding gzip: passed as it is, its address locations not looked at'
	assert_line 'an XML answer over --max-body (1024 bytes): passed as it is, its address locations not looked at'
	run -0 grep -a -A1 '^TCPMON/1 note conn=2 ' "$T/out"
	assert_output --partial "the client's bytes are not HTTP"
	assert_equal "$(grep -ac '^TCPMON/1 note conn=2 ' "$T/out")" 1
	# Other records and their order: as they came, besides the notes.
	diff <(rp "$T/in" kinds | cut -d' ' -f1-3) \
	    <(rp "$T/out" kinds | grep -v '^note ' | cut -d' ' -f1-3)
}

@test "tcpmon-rewrite: bad options exit 2; --help lists every option; not a record stream exits 2" {
	run -2 --separate-stderr "$(bin tcpmon-rewrite)" --max-body 10
	assert_equal "$stderr" "tcpmon-rewrite: --max-body 10: too small (1k to 64m)"
	run -2 --separate-stderr "$(bin tcpmon-rewrite)" --hold-timeout x
	assert_equal "$stderr" "tcpmon-rewrite: --hold-timeout x: invalid"
	run -0 "$(bin tcpmon-rewrite)" --version
	assert_output --regexp '^tcpmon-rewrite [0-9]+\.[0-9]+\.[0-9]+$'
	help_covers tcpmon-rewrite rewrite/rewrite.c
	run -2 --separate-stderr "$(bin tcpmon-rewrite)" <<< "hello"
	assert_equal "$stderr" "tcpmon-rewrite: stdin: record 1 at byte 0: not a tcpmon record stream"
}
