#!/usr/bin/env bats
# The statements of SECURITY.md, each checked here (or in the suite named
# there): listening addresses, file and socket modes, no entity loading, and
# a terminal that traffic cannot drive.

load helpers

@test "security: the relay listens on 127.0.0.1 unless told otherwise" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT"
	grep -q "^tcpmon-relay: listening on 127.0.0.1:$RELAY_PORT\$" "$T/relay.err"
	# The kernel agrees: bound to 127.0.0.1, not to 0.0.0.0.
	run -0 ss -Hltn "sport = :$RELAY_PORT"
	assert_output --partial "127.0.0.1:$RELAY_PORT"
	refute_output --partial "0.0.0.0:$RELAY_PORT"
	start_relay -l :0 -t 127.0.0.1:"$ECHO_PORT"
	grep -q "listening on 127.0.0.1:" "$T/relay.err"
}

@test "security: the demo service listens on 127.0.0.1 unless told otherwise" {
	bg soapd "$(bin tcpmon-demo-soapd)"
	wait_for "$T/soapd.err" 'listening on'
	grep -q '^tcpmon-demo-soapd: listening on 127.0.0.1:[0-9]*$' "$T/soapd.err"
}

@test "security: captures and Unix sockets are the owner's alone, whatever the umask" {
	start_echo
	umask 000
	start_relay -l unix:"$T/in.sock" -t 127.0.0.1:"$ECHO_PORT" \
	    -o "$T/cap.tcpmon" --tap "$T/tap.sock"
	umask 022
	[ "$(stat -c %a "$T/cap.tcpmon")" = 600 ]
	[ "$(stat -c %a "$T/in.sock")" = 600 ]
	[ "$(stat -c %a "$T/tap.sock")" = 600 ]
}

@test "security: tcpmon-tap shows control bytes as dots: traffic cannot drive the terminal" {
	printf 'TCPMON/1 data conn=1 dir=s2c len=15\n\033]0;owned\007\033[2Jx\n' > "$T/esc"
	run -0 "$(bin tcpmon-tap)" --color never "$T/esc"
	[[ $output != *$'\033'* ]]
	[[ $output != *$'\007'* ]]
}

# termsafe FILE [--sgr] [--pty]: FILE holds nothing a terminal would obey.
termsafe() { python3 "$TESTS_DIR/gen/termsafe.py" "$@"; }

@test "security: no view of tcpmon-tap passes on escapes from field values or payloads (OSC 52, title, CSI, C1)" {
	python3 "$TESTS_DIR/gen/escapes.py" "$T/esc.tcpmon"
	local tap
	tap=$(bin tcpmon-tap)
	"$tap" --color never "$T/esc.tcpmon" > "$T/conv" 2>&1
	termsafe "$T/conv"
	# Each field value is shown, its controls visible as \xNN.
	grep -qF 'open 1.2.3.4:5\x1b]52;c;b3duZWQ=\x07 -> \x1b]0;owned\x1b\' "$T/conv"
	grep -qF '[r2\x1b]0;owned\x1b\#2]' "$T/conv"
	grep -qF 'close: error\x1b[2J\x1b[31m by the \xc2\x9b31m' "$T/conv"
	# Payload text keeps the views' dots.
	grep -qF 'text .]52;c;b3duZWQ=..]0;owned.\.[2J.[31m.31m.0;t..31m.0;t... end' "$T/conv"
	"$tap" --color always "$T/esc.tcpmon" > "$T/color" 2>&1
	termsafe "$T/color" --sgr
	"$tap" --color always --layout side --width 100 "$T/esc.tcpmon" > "$T/side" 2>&1
	termsafe "$T/side" --sgr
	"$tap" --color never --no-http "$T/esc.tcpmon" > "$T/nohttp" 2>&1
	termsafe "$T/nohttp"
	"$tap" --list --color always "$T/esc.tcpmon" > "$T/list" 2>&1
	termsafe "$T/list" --sgr
	# Messages on stderr that quote a record: --raw's xform warning,
	# --max-hold's note in tap and in grep.
	"$tap" --raw --conn 2 --dir request "$T/esc.tcpmon" 2> "$T/raw.err" > /dev/null
	grep -qF 'xform=xml\x1b]52;c;b3duZWQ=\x07 carry' "$T/raw.err"
	termsafe "$T/raw.err"
	# Nothing is selected: exit 1, as grep(1).
	run -1 "$tap" --color never --max-hold 1 -e nomatch "$T/esc.tcpmon"
	printf '%s\n' "$output" > "$T/hold"
	grep -qF 'r2\x1b]0;owned\x1b\ #2' "$T/hold"
	termsafe "$T/hold"
	run -1 --separate-stderr "$(bin tcpmon-grep)" --max-hold 1 -e nomatch "$T/esc.tcpmon"
	printf '%s\n' "$stderr" > "$T/grep.err"
	grep -qF 'r2\x1b]0;owned\x1b\ #2' "$T/grep.err"
	termsafe "$T/grep.err"
}

@test "security: --raw and --json stay exact: JSON escapes the same bytes, --raw gives them as they are" {
	python3 "$TESTS_DIR/gen/escapes.py" "$T/esc.tcpmon"
	"$(bin tcpmon-tap)" --raw --conn 3 --dir request "$T/esc.tcpmon" > "$T/raw"
	rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }
	rp "$T/esc.tcpmon" payload 3 c2s > "$T/want"
	cmp "$T/raw" "$T/want"
	"$(bin tcpmon-tap)" --json "$T/esc.tcpmon" > "$T/json"
	termsafe "$T/json"
	python3 - "$T/json" <<-'PY'
	import base64, json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	o = [r for r in recs if r['kind'] == 'open'][0]
	assert o['fields']['client'] == '1.2.3.4:5\x1b]52;c;b3duZWQ=\x07', o
	n = [r for r in recs if r['kind'] == 'note'][0]
	assert n['fields']['level'] == 'warn\x9b31m\x9d0;t\x9c', n
	assert b'\x1b]0;owned\x1b\\' in base64.b64decode(n['base64']), n
	PY
}

@test "security: tcpmon-send shows a server's escapes visibly, on a terminal and in its messages" {
	start_stub escapes
	# On a terminal (script(1) gives it one): the answer, visibly.
	timeout 10 script -qec "$(bin tcpmon-send) http://127.0.0.1:$STUB_PORT/" /dev/null > "$T/tty" || true
	grep -q 'body .]52;c;b3duZWQ=..]0;owned..\[2J.31m.31m.' "$T/tty"
	termsafe "$T/tty" --pty
	# The message that quotes the status line, on stderr.
	run -1 --separate-stderr timeout 10 "$(bin tcpmon-send)" "http://127.0.0.1:$STUB_PORT/"
	[[ $stderr == *'HTTP 403 Forbidden \x1b]52;c;b3duZWQ=\x07\x1b]0;owned\x07'* ]]
	printf '%s\n' "$stderr" > "$T/err"
	termsafe "$T/err"
	# Into a file, the answer stays exact.
	run -1 timeout 10 "$(bin tcpmon-send)" "http://127.0.0.1:$STUB_PORT/"
	[[ $output == *$'\033]52;c;b3duZWQ='* ]]
}

@test "security: tcpmon-send checks XML without loading entities or DTDs from anywhere" {
	echo 'secret-in-a-file' > "$T/secret"
	printf '<?xml version="1.0"?>\n<!DOCTYPE e [<!ENTITY x SYSTEM "file://%s">]>\n<e>&x;</e>\n' \
	    "$T/secret" > "$T/xxe.xml"
	# Nothing listens there: the check happens before any connection, and
	# the file's content never shows.
	run --separate-stderr "$(bin tcpmon-send)" --text "http://127.0.0.1:1/" "$T/xxe.xml"
	[[ $output != *secret-in-a-file* ]]
	[[ $stderr != *secret-in-a-file* ]]
}

@test "security: tcpmon-send -o writes the body as curl -o does, with the umask" {
	bg soapd "$(bin tcpmon-demo-soapd)"
	wait_for "$T/soapd.err" 'listening on'
	local port
	port=$(port_of "$T/soapd.err")
	umask 027
	run -0 timeout 10 "$(bin tcpmon-send)" -o "$T/body" "http://127.0.0.1:$port/"
	umask 022
	[ "$(stat -c %a "$T/body")" = 640 ]
	[ -s "$T/body" ]
}

@test "security: --max-conns beyond the descriptors: the relay stops accepting rather than reset clients" {
	start_echo
	bg relay prlimit --nofile=64:64 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:"$ECHO_PORT" --max-conns 1000
	RELAY_PID=$BG_PID
	wait_for "$T/relay.err" 'listening on'
	RELAY_PORT=$(port_of "$T/relay.err")
	grep -qx 'tcpmon-relay: open-files limit 64: room for 24 connections, not --max-conns 1000' "$T/relay.err"
	# 30 clients: 24 are served at once, 6 wait in the queue until 6
	# of the first end; none is reset.
	run -0 timeout 20 python3 - "$RELAY_PORT" <<-'PY'
	import select, socket, sys, time
	port = int(sys.argv[1])
	socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]
	for s in socks:
	    s.sendall(b"ping\n")
	def wait(want, secs):
	    got, end = {}, time.time() + secs
	    while len([s for s in want if s not in got]) and time.time() < end:
	        r, _, _ = select.select([s for s in want if s not in got], [], [], 0.1)
	        for s in r:
	            try:
	                got[s] = s.recv(16) == b"ping\n"
	            except OSError as e:
	                got[s] = type(e).__name__
	    return got
	first = wait(socks, 3)
	served = [s for s in socks if first.get(s) is True]
	print("served", len(served), "waiting", 30 - len(first))
	for s in served[:6]:
	    s.close()
	rest = [s for s in socks if s not in first]
	later = wait(rest, 5)
	print("then served", len(served) - 6 + list(later.values()).count(True), "of 24")
	PY
	assert_line --index 0 "served 24 waiting 6"
	assert_line --index 1 "then served 24 of 24"
	grep -qx 'tcpmon-relay: 24 connections open (all the open-files limit allows): not accepting more for now (said at most every 10s)' "$T/relay.err"
}
