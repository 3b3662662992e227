#!/usr/bin/env bats
# tcpmon-tap's views over a capture the real relay made of real peers
# (nginx, curl, socat, a client that resets): the conversation with HTTP
# taken apart, --list, --json, --layout side, color, and --raw's exact bytes.

load helpers

setup_file() { capture_setup_file; }
teardown_file() { capture_teardown_file; }

@test "view: HTTP heads as they are, a chunked gzip body de-chunked and decoded, and marked" {
	run -0 "$(bin tcpmon-tap)" --conn 2 "$(cap)"
	assert_line "GET /data.json HTTP/1.1"
	assert_line "Accept-Encoding: deflate, gzip, br, zstd"
	assert_line "HTTP/1.1 200 OK"
	assert_line "Content-Encoding: gzip"
	assert_line "[chunked gzip body, shown de-chunked and decoded]"
	assert_line '  {"id": -1, "name": "needle-in-json"}'
	local size
	size=$(wc -c < "$CAPDIR/www/data.json")
	assert_line --regexp "^\[end of gzip body: $size bytes decoded from [0-9]+\]$"
	# What the view shows of the body is the file nginx served.
	sed -n '/^\[chunked gzip body/,/^\[end of gzip body/p' <<< "$output" |
	    sed '1d;$d' > "$T/shown"
	cmp "$T/shown" "$CAPDIR/www/data.json"
}

@test "view: a chunked body without coding, a binary body as a hex dump, a chunked request" {
	run -0 "$(bin tcpmon-tap)" --conn 3,4,5 "$(cap)"
	assert_line "[chunked body, shown de-chunked]"
	assert_line "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server Fault</faultstring></soap:Fault>"
	assert_line --regexp '^\[end of chunked body: [0-9]+ bytes\]$'
	assert_line "Content-Type: image/png"
	assert_line --regexp '^  00000000  89 50 4e 47 0d 0a 1a 0a  .. .. .. .. .. .. .. ..  \|\.PNG\.\.\.\.'
	assert_line --regexp '^  00000bb0  '
	assert_line "POST /index.html HTTP/1.1"
	assert_line "name=tcpmon&chunked=yes"
	assert_line "[end of chunked body: 23 bytes]"
	assert_line "HTTP/1.1 405 Not Allowed"
	# No byte of the PNG reaches the terminal as it is.
	! grep -q $'\x1a' <<< "$output"
}

@test "view: binary streams as hex, empty connections and resets with their close" {
	run -0 "$(bin tcpmon-tap)" --conn 6,7,8 "$(cap)"
	assert_line "  00000000  00 01 02 03 62 69 6e 61  72 79 fe ff              |....binary..|"
	assert_line --regexp '^[0-9:.]+ \[#7\] close: eof; 0 bytes up, 0 bytes down$'
	assert_line "GET /index.html HTTP/1.1"
	assert_line "[the connection ended inside a request head]"
	assert_line --regexp '^[0-9:.]+ \[#8\] close: reset by the client; 28 bytes up, 0 bytes down$'
}

@test "view: interleaved keep-alive connections: every exchange under its own connection" {
	run -0 "$(bin tcpmon-tap)" "$(cap)"
	local i
	for i in 9 10 11 12 13 14 15 16; do
		assert_line --regexp "^[0-9:.]+ \[#$i\] close: eof; 268 bytes up, 14034 bytes down$"
	done
	[ "$(grep -c '^GET /ssi/fault.xml HTTP/1.1$' <<< "$output")" -eq 9 ]
	[ "$(grep -c '^\[end of chunked body: ' <<< "$output")" -eq 10 ]
}

@test "view: --no-http shows each record as it is" {
	run -0 "$(bin tcpmon-tap)" --no-http --conn 2 "$(cap)"
	refute_line --partial "chunked gzip body"
	assert_line --regexp '^  00000000  '
}

@test "list: one line per connection with state, client, target, request, bytes, time" {
	run -0 "$(bin tcpmon-tap)" --list "$(cap)"
	assert_line --index 0 --regexp '^CONN +STATE +START +CLIENT +TARGET +REQUEST +UP +DOWN +TIME$'
	[ "${#lines[@]}" -eq 17 ]
	assert_line --regexp '^#2 +eof +20[0-9-]+ [0-9:.]+ 127\.0\.0\.1:[0-9]+ +-> unix:.*ngx\.sock +GET /data\.json HTTP/1\.1 +130 +[0-9]+ +[0-9.]+m?s$'
	assert_line --regexp '^#6 +eof .* \.\.\.\.binary\.\. +12 +12 '
	assert_line --regexp '^#7 +eof .* +0 +0 +[0-9.]+ms$'
	assert_line --regexp '^#8 +reset .* GET /index.html HTTP/1.1 +28 +0 '
}

@test "list: connections the stream leaves open are listed as open at the end" {
	head -n 9 "$(cap)" > /dev/null
	# The first four records of connection 1, no close.
	python3 - "$(cap)" > "$T/part" <<-'PY'
	import sys
	d = open(sys.argv[1], 'rb').read()
	pos, out = 0, []
	while pos < len(d):
	    nl = d.index(b'\n', pos)
	    h = d[pos:nl]
	    n = int(h.rsplit(b'len=', 1)[1])
	    end = nl + 2 + n
	    if b' conn=1 ' in h and b' close ' not in h or b' conn=0 ' in h:
	        out.append(d[pos:end])
	    pos = end
	sys.stdout.buffer.write(b''.join(out))
	PY
	run -0 "$(bin tcpmon-tap)" --list "$T/part"
	assert_line --regexp '^#1 +open +.* GET /index.html HTTP/1.1 +89 +298 '
}

@test "json: one valid object per record, payloads as text or base64, exact" {
	"$(bin tcpmon-tap)" --json "$(cap)" > "$T/j"
	[ "$(wc -l < "$T/j")" -eq "$(python3 "$TESTS_DIR/recparse.py" "$(cap)" kinds | wc -l)" ]
	python3 - "$T/j" "$T" <<-'PY'
	import base64, json, sys
	out = {}
	for line in open(sys.argv[1], encoding='utf-8'):
	    o = json.loads(line)
	    assert set(o) <= {'kind', 'conn', 'src', 'time', 'dir', 'len', 'fields', 'text', 'base64'}, o
	    p = o['text'].encode('utf-8') if 'text' in o else base64.b64decode(o.get('base64', ''))
	    assert len(p) == o['len'], o
	    if o['kind'] == 'data':
	        out.setdefault((o['conn'], o['dir']), []).append(p)
	for (c, d), ps in out.items():
	    open('%s/j.%d.%s' % (sys.argv[2], c, d), 'wb').write(b''.join(ps))
	PY
	python3 "$TESTS_DIR/recparse.py" "$(cap)" payload 4 s2c > "$T/r.4.s2c"
	cmp "$T/j.4.s2c" "$T/r.4.s2c"
	grep -q '"base64":' "$T/j"
	grep -q '"fields":{"reason":"reset","by":"client"' "$T/j"
}

@test "raw: exactly the payload bytes of one direction of one connection" {
	local c d
	for c in 2 4 5 6 9; do
		for d in c2s s2c; do
			python3 "$TESTS_DIR/recparse.py" "$(cap)" payload "$c" "$d" | sha256sum > "$T/want"
			"$(bin tcpmon-tap)" --raw --conn "$c" --dir "$([ $d = c2s ] && echo request || echo response)" \
			    "$(cap)" | sha256sum > "$T/got"
			cmp "$T/want" "$T/got"
		done
	done
	# The PNG nginx sent, byte for byte, after its head.
	"$(bin tcpmon-tap)" --raw --conn 4 --dir response "$(cap)" |
	    tail -c "$(wc -c < "$CAPDIR/www/logo.png")" | cmp - "$CAPDIR/www/logo.png"
	run -0 "$(bin tcpmon-tap)" --raw --conn 7 --dir request "$(cap)"
	assert_output ""
}

@test "raw: needs one --conn and a --dir" {
	run -2 --separate-stderr "$(bin tcpmon-tap)" --raw "$(cap)"
	assert_equal "$stderr" "tcpmon-tap: --raw needs one connection: --conn N"
	run -2 --separate-stderr "$(bin tcpmon-tap)" --raw --conn 1,2 --dir request "$(cap)"
	run -2 --separate-stderr "$(bin tcpmon-tap)" --raw --conn 1 "$(cap)"
	assert_equal "$stderr" "tcpmon-tap: --raw needs --dir request or --dir response"
	run -2 --separate-stderr "$(bin tcpmon-tap)" --raw --conn 1 --dir sideways "$(cap)"
	assert_equal "$stderr" "tcpmon-tap: --dir sideways: use request or response"
	run -2 "$(bin tcpmon-tap)" --list --json "$(cap)"
}

@test "side: request and response in two columns fitted to the width" {
	run -0 "$(bin tcpmon-tap)" --layout side --width 100 --conn 1,6 "$(cap)"
	assert_line --regexp '^GET /index.html HTTP/1.1 +\| HTTP/1.1 200 OK$'
	assert_line --regexp '^  00000000  00 01 02 03 62 69 6e 61  \|\.\.\.\.bina\| +\|   00000000  00 01 02 03 62 69 6e 61  \|\.\.\.\.bina\|$'
	# Every line of the columns fits (the open and close lines span).
	run -0 awk '/ \| / && length($0) > 100' <<< "$output"
	assert_output ""
	# Long lines are wrapped, not cut.
	run -0 "$(bin tcpmon-tap)" --layout side --width 60 --conn 3 "$(cap)"
	assert_line --regexp '^ +\| ttp://schemas.xmlsoap.org/so$'
	run -2 "$(bin tcpmon-tap)" --layout diagonal "$(cap)"
}

@test "color: always colors, never and NO_COLOR do not; auto colors a terminal" {
	run -0 "$(bin tcpmon-tap)" --color always --conn 1 "$(cap)"
	[[ $output == *$'\033[1mGET /index.html HTTP/1.1\033[0m'* ]]
	[[ $output == *$'\033[34mContent-Type\033[0m: text/html'* ]]
	run -0 "$(bin tcpmon-tap)" --color never --conn 1 "$(cap)"
	[[ $output != *$'\033'* ]]
	# auto: a terminal (script(1) gives one) is colored unless NO_COLOR.
	local cmd="$(bin tcpmon-tap) --conn 1 $(cap)"
	run -0 env -u NO_COLOR TERM=xterm timeout 10 script -qec "$cmd" /dev/null
	[[ $output == *$'\033[36m>>> client to server'* ]]
	run -0 env NO_COLOR=1 TERM=xterm timeout 10 script -qec "$cmd" /dev/null
	[[ $output != *$'\033['* ]]
	run -0 env -u NO_COLOR "$(bin tcpmon-tap)" --conn 1 "$(cap)"
	[[ $output != *$'\033'* ]]
	run -2 "$(bin tcpmon-tap)" --color sometimes "$(cap)"
}

@test "view: escape sequences in the traffic never reach the terminal" {
	{ mkrec open 1 - - '' client=a:1 target=b:2
	  mkrec data 1 c2s - 'hello \\033]0;owned\\007 \\033[2J world\\r\\n'
	} > "$T/esc"
	run -0 "$(bin tcpmon-tap)" "$T/esc"
	[[ $output != *$'\033'* ]]
}
