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
