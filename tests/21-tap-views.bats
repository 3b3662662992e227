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

@test "list=conn: one line per connection with state, client, target, request, bytes, time" {
	COLUMNS=200 run -0 "$(bin tcpmon-tap)" --list=conn "$(cap)"
	assert_line --index 0 --regexp '^CONN +STATE +START +CLIENT +TARGET +REQUEST +UP +DOWN +TIME$'
	[ "${#lines[@]}" -eq 17 ]
	assert_line --regexp '^#2 +eof +[0-9:.]+ 127\.0\.0\.1:[0-9]+ +unix:.*ngx\.sock +GET /data\.json +130 +[0-9]+ +[0-9.]+m?s$'
	assert_line --regexp '^#6 +eof .* \.\.\.\.binary\.\. +12 +12 '
	assert_line --regexp '^#7 +eof .* +0 +0 +[0-9.]+ms$'
	assert_line --regexp '^#8 +reset .* GET /index.html +28 +0 '
}

@test "list: a row per HTTP exchange, each keep-alive request its own, with its status" {
	COLUMNS=200 run -0 "$(bin tcpmon-tap)" --list "$(cap)"
	assert_line --index 0 --regexp '^CONN +STATUS +START +CLIENT +TARGET +REQUEST +UP +DOWN +TIME$'
	# Connections 9 to 16 each sent three requests on one connection.
	for i in 9 10 11 12 13 14 15 16; do
		[ "$(grep -cE "^#$i +[0-9a-z]+ " <<< "$output")" -eq 3 ]
	done
	assert_line --regexp '^#4 +200 .* GET /logo\.png +[0-9]+ +[0-9]+ '
	assert_line --regexp '^#5 +405 .* POST /index\.html '
	# A SOAP Fault is a failure whatever the status said.
	assert_line --regexp '^#3 +fault .* GET /ssi/fault\.xml '
	# Not HTTP, or no exchange at all: the connection's row, its close.
	assert_line --regexp '^#6 +eof .* \.\.\.\.binary\.\. +12 +12 '
	assert_line --regexp '^#8 +reset .* GET /index\.html +28 +0 '
}

@test "list: connections the stream leaves open are listed as open at the end" {
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
	run -0 "$(bin tcpmon-tap)" --list=conn "$T/part"
	assert_line --regexp '^#1 +open +.* GET /index.html +89 +298 '
	run -0 "$(bin tcpmon-tap)" --list "$T/part"
	assert_line --regexp '^#1 +200 +.* GET /index.html +89 +298 '
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

# A keep-alive connection with a success and a SOAP Fault, a CONNECT tunnel
# with TLS inside (the ClientHello curl sent, from the fuzz seeds), a proxy's
# tunnel (request= in its open), a binary stream with a 0x0a inside.
views_setup() {
	local fault hello
	fault='<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>boom</faultstring></s:Fault></s:Body></s:Envelope>'
	hello=$(od -An -tx1 -v "$TESTS_DIR/fuzz/corpus/fuzz_sni/ch-curl" | tr -s ' \n' ' ' | sed 's/ \([0-9a-f][0-9a-f]\)/\\x\1/g')
	{
	mkrec stream 0 - 2026-11-22T09:00:00Z '' tool=test version=1
	mkrec open 1 - 2026-11-22T10:00:00Z '' client=127.0.0.1:5000 target=127.0.0.1:8080
	mkrec data 1 c2s 2026-11-22T10:00:00.1Z 'GET /one HTTP/1.1\r\nHost: x\r\n\r\n'
	mkrec data 1 s2c 2026-11-22T10:00:00.2Z 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"a":[1,2],"b":3}'
	mkrec data 1 c2s 2026-11-22T10:00:01Z 'POST /calc HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 15\r\n\r\n<a><b>1</b></a>'
	mkrec data 1 s2c 2026-11-22T10:00:01.5Z "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/xml\r\nContent-Length: ${#fault}\r\n\r\n$fault"
	mkrec close 1 - 2026-11-22T10:00:02Z '' reason=eof c2s=121 s2c=346
	mkrec open 2 - 2026-11-22T10:00:03Z '' client=127.0.0.1:5001 target=127.0.0.1:3128
	mkrec data 2 c2s 2026-11-22T10:00:03Z 'CONNECT name.example.test:443 HTTP/1.1\r\nHost: name.example.test:443\r\n\r\n'
	mkrec data 2 s2c 2026-11-22T10:00:03Z 'HTTP/1.1 200 Connection established\r\n\r\n'
	mkrec data 2 c2s 2026-11-22T10:00:03Z "$hello"
	mkrec data 2 s2c 2026-11-22T10:00:03Z '\x16\x03\x03\x00\x05hello'
	mkrec close 2 - 2026-11-22T10:00:04Z '' reason=reset by=client
	mkrec open 3 - 2026-11-22T10:00:05Z '' client=127.0.0.1:5002 target=svc.example.org:443 request=CONNECT%20svc.example.org:443%20HTTP/1.1
	mkrec data 3 c2s 2026-11-22T10:00:05Z "$hello"
	mkrec close 3 - 2026-11-22T10:00:06Z '' reason=eof
	mkrec open 4 - 2026-11-22T10:00:07Z '' client=127.0.0.1:5003 target=127.0.0.1:9
	mkrec data 4 c2s 2026-11-22T10:00:07Z '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13'
	mkrec data 4 c2s 2026-11-22T10:00:07Z '\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13'
	mkrec close 4 - 2026-11-22T10:00:08Z '' reason=refused
	} > "$T/mix.tcpmon"
}

@test "list: STATUS (fault for a SOAP Fault), a CONNECT tunnel and TLS to its name, not binary junk" {
	views_setup
	COLUMNS=200 run -0 "$(bin tcpmon-tap)" --list "$T/mix.tcpmon"
	assert_line --index 0 --regexp '^CONN +STATUS +START +CLIENT +TARGET +REQUEST +UP +DOWN +TIME$'
	assert_line --index 1 --regexp '^#1 +200 +10:00:00\.100 +127\.0\.0\.1:5000 +127\.0\.0\.1:8080 +GET /one +30 +88 +100\.0ms$'
	assert_line --index 2 --regexp '^#1 +fault +10:00:01\.000 .* POST /calc +91 +258 +500\.0ms$'
	assert_line --index 3 --regexp '^#2 +reset .* CONNECT name\.example\.test:443, TLS to name\.example\.test +[0-9]+ +[0-9]+ +1\.000s$'
	assert_line --index 4 --regexp '^#3 +eof .* CONNECT svc\.example\.org:443, TLS to name\.example\.test +[0-9]+ +0 '
	assert_line --index 5 --regexp '^#4 +refused .* \.\.\.\.\.\.\.\.\.\. +40 +0 +1\.000s$'
	[ "${#lines[@]}" -eq 6 ]
	# One row per connection, as before.
	COLUMNS=160 run -0 "$(bin tcpmon-tap)" --list=conn "$T/mix.tcpmon"
	assert_line --index 0 --regexp '^CONN +STATE +START '
	assert_line --index 1 --regexp '^#1 +eof .* GET /one +121 +346 +2\.000s$'
	[ "${#lines[@]}" -eq 5 ]
	# The header line even when there is no row.
	run -0 "$(bin tcpmon-tap)" --list /dev/null
	assert_output --regexp '^CONN +STATUS +TARGET +REQUEST +UP +DOWN +TIME$'
	run -2 "$(bin tcpmon-tap)" --list=sideways /dev/null
}

@test "list: columns stay aligned at any width, long values cut with a mark that is valid UTF-8" {
	views_setup
	local w line len
	for w in 60 80 100 132 200; do
		COLUMNS=$w LC_ALL=C.UTF-8 "$(bin tcpmon-tap)" --list "$T/mix.tcpmon" > "$T/l$w"
		# Valid UTF-8, and each line within the width, in characters.
		iconv -f UTF-8 -t UTF-8 "$T/l$w" > /dev/null
		while IFS= read -r line; do
			len=$(printf '%s' "$line" | LC_ALL=C.UTF-8 wc -m)
			[ "$len" -le "$w" ] || { echo "$w: $line" >&2; false; }
		done < "$T/l$w"
		# STATUS and UP start in the same column on every line.
		[ "$(LC_ALL=C.UTF-8 awk '{ print index($0, $2) }' "$T/l$w" | sort -u | wc -l)" -eq 1 ]
	done
	grep -q '…' "$T/l80"
	# Without a UTF-8 locale the mark is a tilde.
	COLUMNS=80 LC_ALL=C LANG= "$(bin tcpmon-tap)" --list "$T/mix.tcpmon" > "$T/c80"
	grep -q '~' "$T/c80"
	! grep -q $'\xe2' "$T/c80"
	# --width as well as COLUMNS; 80 when neither and not a terminal.
	COLUMNS= LC_ALL=C run -0 "$(bin tcpmon-tap)" --list "$T/mix.tcpmon"
	[ "$(printf '%s\n' "${lines[@]}" | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -le 80 ]
	run -0 "$(bin tcpmon-tap)" --list --width 132 "$T/mix.tcpmon"
	assert_line --index 0 --regexp ' CLIENT '
}

@test "list and view: failures in red, successes in green, in a terminal of 100 columns (tmux)" {
	views_setup
	local sock="$T/tmux" out
	tmux -S "$sock" new-session -d -x 100 -y 30 \
	    "env -u COLUMNS -u NO_COLOR TERM=xterm $(bin tcpmon-tap) --list $T/mix.tcpmon; sleep 30"
	for _ in $(seq 50); do
		out=$(tmux -S "$sock" capture-pane -e -p) && [[ $out == *'#4'* ]] && break
		sleep 0.1
	done
	tmux -S "$sock" kill-server
	# Its width is the terminal's: CLIENT fits in 100 columns, START not.
	[[ $out == *'CLIENT'* ]]
	[[ $out != *'START'* ]]
	# (tmux writes bold red as two sequences of its own.)
	[[ $out == *$'31mfault'* ]]
	[[ $out == *$'31mreset'* ]]
	[[ $out == *$'32m200'* ]]
	[[ $out != *$'32mfault'* ]]
	# The conversation: a 500 status line and a Fault in red, the close of
	# a connection that failed not in green.
	run -0 "$(bin tcpmon-tap)" --color always --conn 1 "$T/mix.tcpmon"
	[[ $output == *$'\033[1;32mHTTP/1.1 200 OK\033[0m'* ]]
	[[ $output == *$'\033[1;31mHTTP/1.1 500 Internal Server Error\033[0m'* ]]
	[[ $output == *$'\033[1;31m[a SOAP Fault]'* ]]
	[[ $output == *$'\033[1;31mclose: eof'* ]]
}

@test "pretty: XML and JSON bodies indented in the view, with the formatters' library" {
	views_setup
	run -0 "$(bin tcpmon-tap)" --pretty --conn 1 "$T/mix.tcpmon"
	assert_line "[JSON body, shown indented]"
	assert_line '  "a": ['
	assert_line '    1,'
	assert_line "[XML body, shown indented]"
	assert_line '    <s:Fault>'
	assert_line '      <faultstring>boom</faultstring>'
	assert_line '  <b>1</b>'
	# A body that is not a document is shown as it came.
	{ mkrec open 1 - - '' client=a:1 target=b:2
	  mkrec data 1 c2s - 'POST / HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 9\r\n\r\n<a><b>1</b'
	} > "$T/bad"
	run -0 "$(bin tcpmon-tap)" --pretty "$T/bad"
	assert_line '<a><b>1</b'
	run -0 "$(bin tcpmon-tap)" --conn 1 "$T/mix.tcpmon"
	refute_line --partial 'shown indented'
	# No other process: tap links libtcpmon-fmt.a.
	! ldd "$(bin tcpmon-tap)" | grep -q tcpmon
	nm "$(bin tcpmon-tap)" | grep -q ' T xmlfmt_format$'
}

@test "view: a binary stream's hex dump goes on past a 0x0a and across records" {
	views_setup
	run -0 "$(bin tcpmon-tap)" --conn 4 "$T/mix.tcpmon"
	assert_line "  00000000  00 01 02 03 04 05 06 07  08 09 0a                 |...........|"
	assert_line "  0000000b  0b 0c 0d 0e 0f 10 11 12  13                       |.........|"
	assert_line "  00000014  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|"
	refute_line --regexp '^  00000000  0b '
}

@test "side: a short line facing a wrapped one is not padded with blank rows" {
	{
	mkrec open 1 - - '' client=a:1 target=b:2
	mkrec data 1 c2s - 'GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n'
	mkrec data 1 s2c - "HTTP/1.1 200 OK\r\nX-Long: $(printf 'a%.0s' $(seq 80))\r\nContent-Length: 0\r\n\r\n"
	mkrec close 1 - - '' reason=eof
	} > "$T/side"
	run -0 "$(bin tcpmon-tap)" --layout side --width 60 "$T/side"
	assert_line --regexp '^GET / HTTP/1.1 +\| HTTP/1.1 200 OK$'
	assert_line --regexp '^Host: x +\| X-Long: a+$'
	# The request's next line faces the rest of the wrapped one.
	assert_line --regexp '^Accept: \*/\* +\| a+$'
}
