#!/usr/bin/env bats
# tcpmon-send against a real nginx: methods, headers, bodies, chunked
# answers, redirects, keep-alive, output forms and exit statuses.

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }
send() { timeout 20 "$(bin tcpmon-send)" "$@"; }

setup() {
	common_setup
	start_nginx_send
	echo hello > "$T/ngx/www/hello.txt"
	mkdir -p "$T/ngx/www/ssi"
	printf 'before <!--# echo var="uri" --> after\n' > "$T/ngx/www/ssi/page.html"
	U=http://127.0.0.1:$NGINX_PORT
}

@test "send: GET shows status line, headers and body as text, exit 0" {
	run -0 --separate-stderr send --text "$U/hello.txt"
	assert_line --index 0 "HTTP/1.1 200 OK"
	assert_line "Content-Length: 6"
	assert_line "hello"
	assert_equal "$stderr" ""
}

@test "send: into a pipe it writes records that tcpmon-tap reads" {
	send "$U/hello.txt" > "$T/out.tcpmon"
	run -0 rp "$T/out.tcpmon" kinds
	assert_line --index 0 "stream 0 - 0"
	assert_line --index 1 "open 1 - 0"
	run -0 rp "$T/out.tcpmon" field 0 stream tool
	assert_output tcpmon-send
	run -0 rp "$T/out.tcpmon" field 1 open target
	assert_output "127.0.0.1:$NGINX_PORT"
	run -0 rp "$T/out.tcpmon" field 1 close reason
	assert_output eof
	run -0 rp "$T/out.tcpmon" payload 1 c2s
	assert_line --index 0 --partial "GET /hello.txt HTTP/1.1"
	assert_line --partial "Host: 127.0.0.1:$NGINX_PORT"
	run -0 rp "$T/out.tcpmon" payload 1 s2c
	assert_line --index 0 --partial "HTTP/1.1 200 OK"
	run -0 bash -c "timeout 20 '$(bin tcpmon-send)' '$U/hello.txt' | timeout 10 '$(bin tcpmon-tap)'"
	assert_output --partial "[#1] open "
	assert_output --partial "hello"
}

@test "send: a body from a file or stdin is POSTed with its length; -X and -H apply" {
	printf '{"a": 1}' > "$T/body.json"
	send --records "$U/post" "$T/body.json" > "$T/a.tcpmon"
	rp "$T/a.tcpmon" payload 1 c2s > "$T/req"
	run -0 cat "$T/req"
	assert_line --index 0 --partial "POST /post HTTP/1.1"
	assert_line --partial "Content-Type: application/json"
	assert_line --partial "Content-Length: 8"
	echo data | send --records -X PUT -H 'X-Test: yes' -H 'User-Agent: me/1' \
	    -H 'Accept:' "$U/post" - > "$T/b.tcpmon"
	rp "$T/b.tcpmon" payload 1 c2s > "$T/req"
	run -0 cat "$T/req"
	assert_line --index 0 --partial "PUT /post HTTP/1.1"
	assert_line --partial "X-Test: yes"
	assert_line --partial "User-Agent: me/1"
	refute_line --partial "Accept:"
	assert_line --partial "Content-Length: 5"
}

@test "send: a chunked answer is shown and saved without its framing" {
	run -0 send --text "$U/ssi/page.html"
	assert_line "Transfer-Encoding: chunked"
	assert_line "before /ssi/page.html after"
	run -0 send -o "$T/page" "$U/ssi/page.html"
	assert_output ""
	run -0 cat "$T/page"
	assert_output "before /ssi/page.html after"
	# The records keep the wire bytes, chunk sizes and all.
	send "$U/ssi/page.html" > "$T/c.tcpmon"
	run -0 rp "$T/c.tcpmon" payload 1 s2c
	assert_line $'1c\r'
	assert_line $'0\r'
}

@test "send: HTTP 404 fails with exit 1 naming the status; --no-fail keeps 0" {
	run -1 --separate-stderr send --text "$U/missing"
	assert_line --index 0 "HTTP/1.1 404 Not Found"
	assert_equal "$stderr" "tcpmon-send: $U/missing: HTTP 404 Not Found"
	run -0 --separate-stderr send --text --no-fail "$U/missing"
	assert_equal "$stderr" ""
}

@test "send: a SOAP Fault in a 200 answer fails with exit 1" {
	cat > "$T/ngx/www/fault.xml" <<'XML'
<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>it broke</faultstring></s:Fault></s:Body></s:Envelope>
XML
	run -1 --separate-stderr send -o "$T/f" "$U/fault.xml"
	assert_equal "$stderr" "tcpmon-send: $U/fault.xml: SOAP Fault: s:Server: it broke"
	run -0 send -o "$T/f" --no-fail "$U/fault.xml"
}

@test "send: redirects are followed only with -L" {
	run -0 send --text "$U/old"
	assert_line --index 0 "HTTP/1.1 301 Moved Permanently"
	refute_line "hello"
	run -0 send --text -L "$U/old"
	assert_line "HTTP/1.1 301 Moved Permanently"
	assert_line "HTTP/1.1 200 OK"
	assert_line "hello"
	run -0 send -L -o "$T/h" "$U/old"
	run -0 cat "$T/h"
	assert_output hello
	run -1 --separate-stderr send -L -o "$T/h" "$U/loop"
	assert_equal "$stderr" "tcpmon-send: $U/loop: more than 10 redirects"
}

@test "send: Expect: 100-continue waits for the server before the body" {
	echo hi > "$T/b"
	send -H 'Expect: 100-continue' "$U/post" "$T/b" > "$T/e.tcpmon"
	run -0 rp "$T/e.tcpmon" payload 1 s2c
	assert_line --index 0 --partial "HTTP/1.1 100 Continue"
	assert_line --partial "HTTP/1.1 200 OK"
	run -0 rp "$T/e.tcpmon" field 1 close reason
	assert_output eof
}

@test "send: -v prints the timing of the exchange" {
	run -0 --separate-stderr send -v -o /dev/null "$U/hello.txt"
	[[ $stderr =~ ^"tcpmon-send: $U/hello.txt: lookup "[0-9.]+" ms, connect "[0-9.]+" ms, sent "[0-9.]+" ms, first byte "[0-9.]+" ms, total "[0-9.]+" ms"$ ]]
}

@test "send: -n and -c repeat over keep-alive connections and summarise" {
	run -0 send -n 200 -c 4 "$U/hello.txt"
	assert_line "requests     200 over 4 connections"
	assert_line "failures     0"
	assert_line --regexp '^requests/s   [0-9.]+$'
	assert_line --regexp '^latency ms   min [0-9.]+  median [0-9.]+  p99 [0-9.]+  max [0-9.]+$'
	# A server that closes after each answer: a new connection each time.
	run -0 send -n 20 -c 2 "$U/close"
	assert_line "requests     20 over 20 connections"
	run -1 --separate-stderr send -n 10 -c 3 "$U/missing"
	assert_line "failures     10"
	assert_equal "$stderr" "tcpmon-send: 10 of 10 requests failed; the first: $U/missing: HTTP 404"
	run -0 send -n 10 --no-fail "$U/missing"
}

@test "send: text ends with a line end; -o, records and raw bytes into a pipe stay exact" {
	printf 'no newline' > "$T/ngx/www/nonl.txt"
	printf '{"a":1}' > "$T/ngx/www/nonl.json"
	printf 'GET /nonl.txt HTTP/1.1\r\nHost: x\r\n\r\n' > "$T/req"
	# Text taken apart, into a pipe.
	send --text "$U/nonl.txt" > "$T/out"
	assert_equal "$(tail -c 11 "$T/out" | od -An -c | tr -s ' ')" " n o n e w l i n e \n"
	send --text --pretty "$U/nonl.json" > "$T/out"
	assert_equal "$(tail -c 2 "$T/out" | od -An -c | tr -s ' ')" " } \n"
	# On a terminal (script(1) gives one; it shows a line end as CR LF),
	# with --raw too.
	TERM=dumb timeout 20 script -qec "$(bin tcpmon-send) $U/nonl.txt" /dev/null > "$T/tty"
	assert_equal "$(tail -c 12 "$T/tty" | od -An -c | tr -s ' ')" " n o n e w l i n e \r \n"
	TERM=dumb timeout 20 script -qec "$(bin tcpmon-send) --raw 127.0.0.1:$NGINX_PORT $T/req" /dev/null > "$T/tty"
	assert_equal "$(tail -c 12 "$T/tty" | od -An -c | tr -s ' ')" " n o n e w l i n e \r \n"
	# Exact: the body into -o, the answer's bytes as they came into a pipe.
	send -o "$T/body" "$U/nonl.txt"
	printf 'no newline' | cmp - "$T/body"
	send --text --raw "127.0.0.1:$NGINX_PORT" "$T/req" > "$T/out"
	assert_equal "$(tail -c 10 "$T/out")" "no newline"
	assert_equal "$(tail -c 1 "$T/out" | od -An -c | tr -d ' ')" "e"
	send "$U/nonl.txt" > "$T/out.tcpmon"
	rp "$T/out.tcpmon" payload 1 s2c > "$T/s2c"
	assert_equal "$(tail -c 1 "$T/s2c" | od -An -c | tr -d ' ')" "e"
}
