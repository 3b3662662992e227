#!/usr/bin/env bats
# tcpmon-view, driven in tmux as a person would: keys in with send-keys,
# the screen read back with capture-pane, every wait a bounded poll on what
# the screen shows.  The capture is the real relay's, of real nginx, curl
# and socat (helpers.bash make_capture); the live tests put the view's own
# relay, a relay's tap socket or a pipeline in front of tcpmon-demo-soapd.

load helpers

setup_file() { capture_setup_file; }
teardown_file() { capture_teardown_file; }

setup() {
	common_setup
	VSOCK=$T/tmux
	VIEW_ON=
}

teardown() {
	if [ -n "$VIEW_ON" ]; then
		[ -f "$T/view.exit" ] || tmux -S "$VSOCK" send-keys q 2>/dev/null
		for _ in $(seq 100); do
			[ -f "$T/view.exit" ] && break
			sleep 0.05
		done
		tmux -S "$VSOCK" kill-server 2>/dev/null
	fi
	common_teardown
}

# view [ENV=VALUE...] -- ARGS...: tcpmon-view in a tmux of VW x VH (140 x
# 40); its exit status goes to $T/view.exit.
view() {
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local cmd q
	cmd="cd $T && env TERM=screen ${envs[*]} $(bin tcpmon-view)"
	for q in "$@"; do cmd+=" $(printf '%q' "$q")"; done
	cmd+=" 2> $T/view.err; echo \$? > $T/view.exit; sleep 120"
	tmux -S "$VSOCK" new-session -d -x "${VW:-140}" -y "${VH:-40}" "$cmd"
	VIEW_ON=1
}

screen() { tmux -S "$VSOCK" capture-pane -p "$@"; }
keys() { tmux -S "$VSOCK" send-keys "$@"; }
typed() { tmux -S "$VSOCK" send-keys -l -- "$1"; }

# wait_screen REGEX [SECONDS]: until a line of the screen matches.
wait_screen() {
	local re=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		screen | grep -Eq -- "$re" && return 0
		sleep 0.05
	done
	echo "timed out after ${secs}s waiting for /$re/ on the screen:" >&2
	screen >&2
	cat "$T/view.err" >&2 2>/dev/null
	return 1
}

# no_screen REGEX: the screen lacks it (after a wait_screen or wait_gone
# that saw the key taken).
no_screen() { ! screen | grep -Eq -- "$1"; }

# wait_gone REGEX [SECONDS]: until no line of the screen matches.
wait_gone() {
	local re=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		screen | grep -Eq -- "$re" || return 0
		sleep 0.05
	done
	echo "timed out after ${secs}s waiting for /$re/ to go:" >&2
	screen >&2
	return 1
}

# bottom: the last line of the screen.
bottom() { screen | tail -n 1; }

# quit_view: q, then the exit status in $VIEW_STATUS.
quit_view() {
	keys q
	for _ in $(seq 200); do
		[ -f "$T/view.exit" ] && break
		sleep 0.05
	done
	VIEW_STATUS=$(cat "$T/view.exit")
}

# loaded: the whole capture was read (the bottom line says it ended).
loaded() { wait_screen ' ended *$' "${1:-10}"; }

# soapd: tcpmon-demo-soapd on port 0; sets SOAPD_PORT.
soapd() {
	bg soapd "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd.err" 'listening on' || return 1
	SOAPD_PORT=$(port_of "$T/soapd.err")
}

add_body() {
	printf '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><d:Add xmlns:d="urn:tcpmon:demo"><a>%s</a><b>%s</b></d:Add></soap:Body></soap:Envelope>' "$1" "$2"
}

post_add() {
	timeout 10 curl -sS -H 'Content-Type: text/xml' \
	    --data-binary "$(add_body "$2" "$3")" "http://127.0.0.1:$1/"
}

# view_relay: the view's own relay in front of soapd; sets VPORT.
view_relay() {
	soapd
	view -- -l 0 -t "127.0.0.1:$SOAPD_PORT" "$@"
	wait_screen 'listening on 127\.0\.0\.1:[0-9]+' || return 1
	VPORT=$(screen | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -n 1)
}

@test "the table: a row per HTTP exchange of the capture, the newest selected, its request and response below" {
	view -- "$(cap)"
	loaded
	# 8 single-request connections, 8 keep-alive ones of three each.
	wait_screen ' 32/32 exchanges ended'
	screen | grep -Eq '^ +[0-9]+ done +[0-9:.]+ +127\.0\.0\.1:[0-9]+ +unix:.*GET /logo\.png +200 '
	wait_screen '^ Request #[0-9]+ exchange 3 of 3'
	wait_screen '^ Response #[0-9]+ exchange 3 of 3'
	wait_screen '^HTTP/1\.1 200 OK'
}

@test "c switches to a row per connection and back, keeping the connection selected" {
	view -- "$(cap)"
	loaded
	keys c
	wait_screen ' 16/16 connections ended'
	wait_screen 'FIRST REQUEST'
	screen | grep -Eq 'GET /index\.html \(\+2\)'
	keys g
	wait_screen '^ Request #1( |$)'
	keys c
	wait_screen ' 32/32 exchanges ended'
	wait_screen '^ Request #1( |$)'
	[ "$(cat "$T/view.exit" 2>/dev/null)" = "" ]
}

@test "keys move the selection; the request pane follows it; End follows again" {
	view -- -c "$(cap)"
	loaded
	keys g
	wait_screen '^ Request #1( |$)'
	wait_screen '^GET /index\.html HTTP/1\.1'
	keys j j
	wait_screen '^ Request #3( |$)'
	wait_screen '^GET /ssi/fault\.xml HTTP/1\.1'
	keys k
	wait_screen '^ Request #2( |$)'
	keys G
	wait_screen '^ Request #16( |$)'
}

@test "l switches the layout: request and response side by side, then one above the other" {
	view -- -c "$(cap)"
	loaded
	keys g
	wait_screen '^ Request #1( |$)'
	keys l
	wait_screen 'Request #1 .*Response #1'
	keys l
	wait_gone 'Request #1 .*Response #1'
	wait_screen '^ Response #1( |$)'
}

@test "--layout side starts side by side; a bad --layout is a usage error" {
	view -- -c --layout side "$(cap)"
	loaded
	keys g
	wait_screen 'Request #1 .*Response #1'
	run "$(bin tcpmon-view)" --layout diagonal "$(cap)"
	[ "$status" -eq 2 ]
	[[ $output == *"tcpmon-view: --layout diagonal: not stacked or side"* ]]
}

@test "f: a SOAP answer formatted, then as it came; the Fault is shown" {
	view -- -c "$(cap)"
	loaded
	keys g j j
	wait_screen '^ Response #3 \(XML formatted\)'
	keys Tab Tab G
	wait_screen '^    <soap:Fault>'
	wait_screen '^      <faultstring>Server Fault</faultstring>'
	keys f
	wait_screen 'formatting off'
	wait_screen '^<soap:Fault><faultcode>soap:Server</faultcode>'
	wait_gone '^    <soap:Fault>'
}

@test "a gzip'd, chunked JSON answer is shown decoded and formatted, to its last line" {
	view -- -c "$(cap)"
	loaded
	keys g j
	wait_screen '^ Response #2 \(JSON formatted\)'
	keys Tab Tab G
	wait_screen '"name": "needle-in-json"'
	keys f
	wait_screen '^ Response #2 \(gzip decoded\)'
}

@test "x shows a hex dump of the bytes on the wire; h folds the headers" {
	view -- -c "$(cap)"
	loaded
	keys g
	wait_screen '^GET /index\.html HTTP/1\.1'
	keys x
	wait_screen '^00000000  47 45 54 20 2f 69 6e 64 65 78 2e 68 74 6d 6c 20  \|GET /index\.html \|'
	wait_screen '^ Request #1 \(hex\)'
	keys x h
	wait_screen '^\([0-9]+ headers: h shows them\)'
	wait_gone '^User-Agent: curl'
	keys h
	wait_screen '^User-Agent: curl'
}

@test "search finds a line near the end of a body of 100,000 lines, n and N go on and back" {
	local c=$T/big.tcpmon
	python3 - "$c" <<'PY'
import sys
lines = ["line %d of the body" % i for i in range(100000)]
lines[99990] = "the needle is here"
lines[50] = "an early needle"
body = ("\n".join(lines) + "\n").encode()
resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body
req = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
with open(sys.argv[1], "wb") as f:
    def rec(kind, extra, payload=b""):
        f.write(b"TCPMON/1 %s conn=1 src=t1%s len=%d\n" % (kind, extra, len(payload)) + payload + b"\n")
    rec(b"open", b" client=127.0.0.1:1 target=127.0.0.1:2")
    rec(b"data", b" dir=c2s", req)
    rec(b"data", b" dir=s2c", resp)
    rec(b"close", b" reason=eof")
PY
	run "$(bin tcpmon-tap)" --list "$c"
	[[ $output == *'200'*'GET /big'* ]]
	view -- "$c"
	loaded
	keys /
	typed needle
	keys Enter
	wait_screen '^needle: response line 55'
	wait_screen 'an early needle'
	keys n
	wait_screen '^needle: response line 99995'
	wait_screen '^the needle is here'
	keys N
	wait_screen '^needle: response line 55'
	keys /
	typed 'no such text'
	keys Enter
	wait_screen '^no such text: not found'
}

@test "F filters with tcpmon-grep's selectors; the count of shown and total stays visible; Esc clears" {
	view -- -c "$(cap)"
	loaded
	keys F
	typed 'soap:Server'
	keys Enter
	# The Fault was asked for once alone, and by each of the eight
	# keep-alive clients.
	wait_screen ' 9/16 connections ended'
	wait_screen 'filter: soap:Server'
	keys Escape
	wait_gone 'filter: soap:Server'
	wait_screen ' 16/16 connections ended'
	keys F
	typed '--conn 6'
	keys Enter
	wait_screen ' 1/16 connections ended'
	screen | grep -Eq '^ +6 done '
}

@test "an invalid filter says why as it is typed and is not applied" {
	view -- -c "$(cap)"
	loaded
	keys F
	typed '--header X=['
	wait_screen "^filter: --header X=\[ .*missing terminating \]"
	keys Enter
	wait_screen "^filter: --header X=\[ "
	keys Escape
	wait_gone 'filter: --header'
	wait_screen ' 16/16 connections ended'
	keys F
	typed '--bogus'
	wait_screen 'unknown option'
}

@test "F with --header and -v selects by headers, as tcpmon-grep does" {
	local want
	want=$("$(bin tcpmon-grep)" --header 'Content-Type=json' "$(cap)" | grep -ac '^TCPMON/1 open ')
	view -- -c "$(cap)"
	loaded
	keys F
	typed "--header Content-Type=json"
	keys Enter
	wait_screen " $want/16 connections ended"
	keys F C-u
	typed "-v --header Content-Type=json"
	keys Enter
	wait_screen " $((16 - want))/16 connections ended"
}

@test "w saves the selected connection as records that the tools and the view read back" {
	view -- -c "$(cap)"
	loaded
	keys g j j
	wait_screen '^ Request #3( |$)'
	keys w
	wait_screen '^save to:'
	typed "$T/one.tcpmon"
	keys Enter
	wait_screen "saved 1 connection to $T/one.tcpmon"
	[ "$(stat -c %a "$T/one.tcpmon")" = 600 ]
	run "$(bin tcpmon-tap)" --list=conn "$T/one.tcpmon"
	[ "$status" -eq 0 ]
	[ "$(grep -ac '^TCPMON/1 open conn=3 ' "$T/one.tcpmon")" -eq 1 ]
	[ "$(grep -ac '^TCPMON/1 open ' "$T/one.tcpmon")" -eq 1 ]
	# The records of that connection, byte for byte.
	diff <("$(bin tcpmon-grep)" --conn 3 "$(cap)") "$T/one.tcpmon"
	quit_view
	[ "$VIEW_STATUS" -eq 0 ]
	rm -f "$T/view.exit"
	tmux -S "$VSOCK" kill-server
	view -- "$T/one.tcpmon"
	wait_screen ' 1/1 exchanges ended'
	wait_screen 'GET /ssi/fault\.xml'
}

@test "space marks rows; w saves the marked connections, else the filtered ones" {
	view -- -c "$(cap)"
	loaded
	keys g ' ' j ' '
	wait_screen '^\* +1 done'
	wait_screen '^\* +3 done'
	keys w
	typed "$T/marked.tcpmon"
	keys Enter
	wait_screen 'saved 2 connections'
	[ "$(grep -ac '^TCPMON/1 open ' "$T/marked.tcpmon")" -eq 2 ]
	[ "$(grep -ac '^TCPMON/1 open conn=1 ' "$T/marked.tcpmon")" -eq 1 ]
	[ "$(grep -ac '^TCPMON/1 open conn=3 ' "$T/marked.tcpmon")" -eq 1 ]
	keys g ' ' j ' '
	keys F
	typed 'logo'
	keys Enter
	wait_screen ' 9/16 connections'
	keys w
	typed "$T/filtered.tcpmon"
	keys Enter
	wait_screen 'saved 9 connections'
	diff <("$(bin tcpmon-grep)" -e logo "$(cap)" | grep -a "^TCPMON/1 " | cut -d" " -f2-3 | sort) \
	    <(grep -a "^TCPMON/1 " "$T/filtered.tcpmon" | cut -d" " -f2-3 | sort)
}

@test "W writes the raw bytes of the pane in focus" {
	view -- -c "$(cap)"
	loaded
	keys g
	wait_screen '^ Request #1( |$)'
	keys W
	typed "$T/req.bin"
	keys Enter
	wait_screen "saved [0-9]+ bytes to $T/req.bin"
	keys Tab Tab W
	typed "$T/resp.bin"
	keys Enter
	wait_screen "bytes to $T/resp.bin"
	[ "$(head -c 26 "$T/req.bin")" = $'GET /index.html HTTP/1.1\r' ]
	grep -q 'hello from nginx' "$T/resp.bin"
	cmp "$T/resp.bin" <(curl_raw_resp)
}

# The response bytes of connection 1, as the capture has them.
curl_raw_resp() {
	python3 "$TESTS_DIR/recparse.py" "$(cap)" payload 1 s2c
}

@test "live: the view's own relay (-l, -t): rows appear as clients come, -o keeps every record" {
	view_relay -o "$T/kept.tcpmon"
	local i
	for i in 1 2 3; do
		post_add "$VPORT" "$i" 10 > "$T/ans$i"
		grep -q "<d:result>$((i + 10))</d:result>" "$T/ans$i"
	done
	wait_screen ' 3/3 exchanges live'
	wait_screen '^ +3 done .*POST / +200 '
	wait_screen '<d:result>13</d:result>'
	quit_view
	[ "$VIEW_STATUS" -eq 0 ]
	[ "$(grep -ac '^TCPMON/1 open ' "$T/kept.tcpmon")" -eq 3 ]
	[ "$(grep -ac '^TCPMON/1 close ' "$T/kept.tcpmon")" -eq 3 ]
	[ "$(stat -c %a "$T/kept.tcpmon")" = 600 ]
	# The relay went with the view.
	run pgrep -f "tcpmon-relay -l 0 -t 127.0.0.1:$SOAPD_PORT"
	[ "$status" -eq 1 ]
}

@test "r resends the request to its target: a new row marked as a resend, and the service answered it" {
	view_relay
	post_add "$VPORT" 2 3 > /dev/null
	wait_screen '^ +1 done .*POST / +200 '
	keys r
	wait_screen "^resend to: 127\.0\.0\.1:$SOAPD_PORT"
	keys Enter
	wait_screen '^ +2 done .*\[resend of relay-[0-9]+#1\] POST / +200 '
	wait_screen 'resent relay-[0-9]+#1 as #2'
	wait_screen '^ Response #2( |$)'
	wait_screen '<d:result>5</d:result>'
}

@test "r to a target typed in: the resend goes there" {
	view_relay
	local first=$SOAPD_PORT
	post_add "$VPORT" 4 4 > /dev/null
	wait_screen '^ +1 done .*POST / +200 '
	bg soapd2 "$(bin tcpmon-demo-soapd)" -l 0
	wait_for "$T/soapd2.err" 'listening on'
	local second
	second=$(port_of "$T/soapd2.err")
	keys r
	wait_screen "^resend to: 127\.0\.0\.1:$first"
	keys C-u
	typed "127.0.0.1:$second"
	keys Enter
	wait_screen "^ +2 done .*127\.0\.0\.1:$second +\[resend of"
	wait_screen '<d:result>8</d:result>'
}

@test "e edits the request in \$EDITOR, fixes its Content-Length, and the service answers the edited one" {
	cat > "$T/ed.sh" <<'EOF'
#!/bin/sh
sed -i 's/<a>2</<a>4000</' "$1"
EOF
	chmod +x "$T/ed.sh"
	soapd
	view "EDITOR=$T/ed.sh" -- -l 0 -t "127.0.0.1:$SOAPD_PORT"
	wait_screen 'listening on 127\.0\.0\.1:[0-9]+'
	VPORT=$(screen | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -n 1)
	post_add "$VPORT" 2 3 > /dev/null
	wait_screen '^ +1 done .*POST / +200 '
	keys e
	wait_screen "^send edited to: 127\.0\.0\.1:$SOAPD_PORT"
	keys Enter
	wait_screen '^ +2 done .*\[resend of relay-[0-9]+#1\] POST / +200 '
	wait_screen '<d:result>4003</d:result>'
	# Three digits more than the original's length.
	local len
	len=$(add_body 2 3 | wc -c)
	wait_screen "^Content-Length: $((len + 3))"
}

@test "relay | view: e gives the editor the terminal, not the records on the view's input; the edited request is answered" {
	cat > "$T/ed.sh" <<EOF
#!/bin/sh
t=
[ -t 0 ] && t="\$t in"
[ -t 1 ] && t="\$t out"
[ -t 2 ] && t="\$t err"
echo "\$t" > $T/ed.tty
sed -i 's/<a>2</<a>4000</' "\$1"
EOF
	chmod +x "$T/ed.sh"
	soapd
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" -o "$T/r.tcpmon"
	post_add "$RELAY_PORT" 2 3 > /dev/null
	stop_relay
	# The records come through a pipe, as from a relay.
	tmux -S "$VSOCK" new-session -d -x 140 -y 40 \
	    "cd $T && cat r.tcpmon | env TERM=screen EDITOR=$T/ed.sh $(bin tcpmon-view) 2> $T/view.err; echo \$? > $T/view.exit; sleep 120"
	VIEW_ON=1
	wait_screen '^ +1 done .*POST / +200 '
	keys e
	wait_screen "^send edited to: 127\.0\.0\.1:$SOAPD_PORT"
	keys Enter
	wait_screen '<d:result>4003</d:result>'
	[ "$(cat "$T/ed.tty")" = " in out err" ]
	quit_view
	[ "$VIEW_STATUS" = 0 ]
}

@test "out of memory with the screen up: the terminal is given back, then the one line, exit 1" {
	[[ $TCPMON_BIN != */san/* ]] || skip "ASan's allocator ends the program instead of failing a malloc"
	cat > "$T/gen.py" <<'EOF'
import os, sys, time
def rec(f, kind, conn, d=None, payload=b"", extra=""):
    h = "TCPMON/1 %s conn=%d src=t1%s%s len=%d\n" % (kind, conn,
        " dir=" + d if d else "", " " + extra if extra else "", len(payload))
    f.write(h.encode() + payload + b"\n")
def exchange(f, conn, path, body_len, chunks):
    rec(f, "open", conn, extra="client=127.0.0.1:1 listen=127.0.0.1:2 target=127.0.0.1:3")
    rec(f, "data", conn, "c2s", b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    rec(f, "data", conn, "s2c", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body_len)
    for c in chunks:
        rec(f, "data", conn, "s2c", c)
    rec(f, "close", conn, extra="reason=eof")
    f.flush()
fifo, go = sys.argv[1], sys.argv[2]
with open(fifo, "wb") as f:
    exchange(f, 1, b"small", 2, [b"ok"])
    for _ in range(200):
        if os.path.exists(go):
            break
        time.sleep(0.05)
    mib = b"a" * (1 << 20)
    try:
        exchange(f, 2, b"big", 64 << 20, [mib] * 64)
    except BrokenPipeError:
        pass
EOF
	mkfifo "$T/in"
	bg gen python3 "$T/gen.py" "$T/in" "$T/go"
	# stderr is the terminal: what the view says waits for the screen's end.
	tmux -S "$VSOCK" new-session -d -x 100 -y 20 \
	    "cd $T && sh -c 'echo \$\$ > $T/view.pid; exec env TERM=screen $(bin tcpmon-view)' < $T/in; echo \$? > $T/view.exit; sleep 120"
	VIEW_ON=1
	wait_screen 'GET /small +200 '
	# Room for 32 MiB more: the 64 MiB body's pane cannot be had.
	local pid vsz
	pid=$(cat "$T/view.pid")
	vsz=$(awk '/^VmSize/ { print $2 }' "/proc/$pid/status")
	prlimit --pid "$pid" --as=$(((vsz + 32 * 1024) * 1024))
	touch "$T/go"
	wait_screen '^tcpmon-view: [a-z]+: Cannot allocate memory$' 20
	no_screen 'CONN +STATE'
	for _ in $(seq 100); do [ -f "$T/view.exit" ] && break; sleep 0.05; done
	[ "$(cat "$T/view.exit")" = 1 ]
}

@test "an editor that fails sends nothing" {
	soapd
	view "EDITOR=false" -- -l 0 -t "127.0.0.1:$SOAPD_PORT"
	wait_screen 'listening on 127\.0\.0\.1:[0-9]+'
	VPORT=$(screen | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' | head -n 1)
	post_add "$VPORT" 2 3 > /dev/null
	wait_screen '^ +1 done .*POST / +200 '
	keys e
	wait_screen 'false exited with 1: nothing sent'
	wait_screen ' 1/1 exchanges live'
}

@test "a pipeline: relay | view, live; when the input ends the view says so and stays" {
	soapd
	bg relay "$(bin tcpmon-relay)" -l 0 -t "127.0.0.1:$SOAPD_PORT"
	wait_for "$T/relay.err" 'listening on'
	local rport pid=$BG_PID
	rport=$(port_of "$T/relay.err")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	mkfifo "$T/fifo"
	tmux -S "$VSOCK" new-session -d -x 140 -y 40 \
	    "cd $T && sh -c 'echo \$\$ > $T/relay2.pid; exec $(bin tcpmon-relay) -l 127.0.0.1:$rport -t 127.0.0.1:$SOAPD_PORT' 2> $T/relay2.err | env TERM=screen $(bin tcpmon-view) 2> $T/view.err; echo \$? > $T/view.exit; sleep 120"
	VIEW_ON=1
	wait_for "$T/relay2.err" 'listening on'
	post_add "$rport" 1 1 > /dev/null
	wait_screen '^ Request #1( |$)'
	wait_screen ' 1/1 exchanges live'
	# The relay ends: so does the input.
	kill "$(cat "$T/relay2.pid")"
	wait_screen ' 1/1 exchanges ended'
	wait_screen '<d:result>2</d:result>'
	keys g
	wait_screen '^ Request #1( |$)'
}

@test "--attach: a running relay's tap socket; the relay going away ends the input, the rows stay" {
	soapd
	start_relay -l 0 -t "127.0.0.1:$SOAPD_PORT" --tap "$T/tap.sock" -o "$T/r.tcpmon"
	view -- --attach "$T/tap.sock"
	wait_screen 'attached to'
	post_add "$RELAY_PORT" 5 5 > /dev/null
	wait_screen '^ +1 done .*POST / +200 '
	kill "$RELAY_PID"
	wait_screen ' 1/1 exchanges ended'
	wait_screen '<d:result>10</d:result>'
	run "$(bin tcpmon-view)" --attach "$T/nothing.sock"
	[ "$status" -eq 1 ]
	[[ $output == *"tcpmon-view: attach $T/nothing.sock: "* ]]
}

@test "the terminal resized: the table takes the new width" {
	view -- -c "$(cap)"
	loaded
	wait_screen 'START +CLIENT'
	tmux -S "$VSOCK" resize-window -x 90 -y 30
	for _ in $(seq 100); do
		screen | grep -q 'START' || break
		sleep 0.05
	done
	no_screen 'START'
	no_screen 'CLIENT'
	wait_screen 'CONN STATE'
	[ "$(screen | awk '{ if (length($0) > 90) n++ } END { print n + 0 }')" -eq 0 ]
	tmux -S "$VSOCK" resize-window -x 160 -y 40
	wait_screen 'START +CLIENT'
}

@test "hostile payloads: escape sequences in the traffic are shown visibly, never sent to the terminal" {
	local c=$T/hostile.tcpmon
	{
		mkrec open 1 - - '' client=127.0.0.1:1 'target=evil%1b]0;PWNED%07:80'
		mkrec data 1 c2s - 'GET /\033[2J\033]0;PWNED\007 HTTP/1.1\r\nHost: x\r\nX-Evil: \033[31mred\033[0m\r\n\r\n'
		mkrec data 1 s2c - 'HTTP/1.1 200 OK\r\nContent-Length: 24\r\n\r\n\033]2;PWNED\007\033[5mblink\033[0m!'
		mkrec close 1 - - '' reason=eof
	} > "$c"
	view -- "$c"
	loaded
	keys g
	wait_screen 'X-Evil: \.\[31mred\.\[0m'
	wait_screen '^\.\]2;PWNED\.\.\[5mblink\.\[0m!'
	local raw title
	raw=$(screen -e)
	[[ $raw != *$'\e]'* ]]
	[[ $raw != *$'\e[2J'* ]]
	[[ $raw != *$'\e[5m'* ]]
	title=$(tmux -S "$VSOCK" display -p '#{pane_title}')
	[[ $title != *PWNED* ]]
}

@test "d removes a row, ? lists the keys, q quits with 0" {
	view -- -c "$(cap)"
	loaded
	keys g d
	wait_screen ' 15/16 connections ended'
	keys '?'
	wait_screen 'tcpmon-view: keys'
	wait_screen 'resend the request'
	keys Escape
	wait_gone 'tcpmon-view: keys'
	wait_screen ' 15/16 connections ended'
	quit_view
	[ "$VIEW_STATUS" -eq 0 ]
}

@test "colour: NO_COLOR and --color=never draw none, --color=always does" {
	view -- --color=always -c "$(cap)"
	loaded
	[[ $(screen -e) == *$'\e[32m'* ]]
	quit_view
	tmux -S "$VSOCK" kill-server
	rm -f "$T/view.exit"
	view -- -c "$(cap)"
	loaded
	[[ $(screen -e) != *$'\e[32m'* ]]
	[[ $(screen -e) != *$'\e[31m'* ]]
}

@test "bad input: a capture that is not records says so and q exits 2; a missing file is exit 2 before the screen" {
	printf 'this is not a record stream\n' > "$T/junk"
	view -- "$T/junk"
	wait_screen 'junk: record 1 at byte 0'
	quit_view
	[ "$VIEW_STATUS" -eq 2 ]
	run "$(bin tcpmon-view)" "$T/missing.tcpmon"
	[ "$status" -eq 2 ]
	[ "$output" = "tcpmon-view: $T/missing.tcpmon: No such file or directory" ]
}

@test "usage: -t without -l, -l without a target, captures with --attach: exit 2 naming the problem; no terminal: exit 2" {
	run "$(bin tcpmon-view)" -t 127.0.0.1:1 "$(cap)"
	[ "$status" -eq 2 ]
	[ "$output" = "tcpmon-view: -t needs -l" ]
	run "$(bin tcpmon-view)" -l 0
	[ "$status" -eq 2 ]
	[ "$output" = "tcpmon-view: -l needs -t HOST:PORT or --proxy" ]
	run "$(bin tcpmon-view)" --attach "$T/s" "$(cap)"
	[ "$status" -eq 2 ]
	[[ $output == "tcpmon-view: --attach and captures: one input at a time" ]]
	run setsid -w "$(bin tcpmon-view)" "$(cap)"
	[ "$status" -eq 2 ]
	[[ $output == "tcpmon-view: /dev/tty: a terminal is needed: "* ]]
}

@test "a gzip'd capture and several captures are read through the spool" {
	gzip -c "$(cap)" > "$T/cap.tcpmon.gz"
	view -- -c "$T/cap.tcpmon.gz"
	loaded
	wait_screen ' 16/16 connections ended'
	quit_view
	rm -f "$T/view.exit"
	tmux -S "$VSOCK" kill-server
	"$(bin tcpmon-grep)" --conn 1 "$(cap)" > "$T/a.tcpmon"
	"$(bin tcpmon-grep)" --conn 2 "$(cap)" > "$T/b.tcpmon"
	view -- -c "$T/a.tcpmon" "$T/b.tcpmon"
	loaded
	wait_screen ' 2/2 connections ended'
}
