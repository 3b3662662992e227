#!/usr/bin/env bats
# tcpmon-send when things go wrong: servers that close early, never answer
# or do not speak HTTP, refused ports, names that do not resolve, and every
# kind of bad argument.  Each failure exits 1 (2 for bad usage or input)
# with one line naming the cause.

load helpers

send() { timeout 20 "$(bin tcpmon-send)" "$@"; }

@test "fail: a server that closes in the middle of the answer" {
	start_stub early
	run -1 --separate-stderr send --text "http://127.0.0.1:$STUB_PORT/"
	assert_line --index 0 "HTTP/1.1 200 OK"
	assert_equal "$stderr" "tcpmon-send: http://127.0.0.1:$STUB_PORT/: the connection closed before the answer was complete"
	# --no-fail does not make an incomplete answer a good one.
	run -1 send --no-fail -o "$T/o" "http://127.0.0.1:$STUB_PORT/"
}

@test "fail: a server that closes without answering" {
	start_stub empty
	run -1 --separate-stderr send "http://127.0.0.1:$STUB_PORT/x"
	assert_equal "$stderr" "tcpmon-send: http://127.0.0.1:$STUB_PORT/x: the connection closed with no answer"
}

@test "fail: a server that never answers times out after --timeout" {
	start_stub silent
	SECONDS=0
	run -1 --separate-stderr send --timeout 500ms "http://127.0.0.1:$STUB_PORT/"
	[ "$SECONDS" -lt 5 ]
	assert_equal "$stderr" "tcpmon-send: http://127.0.0.1:$STUB_PORT/: timed out waiting for the answer"
	run -0 grep -a 'reason=timeout' <<< "$output"
	run -1 --separate-stderr send --timeout 1 -n 4 -c 2 "http://127.0.0.1:$STUB_PORT/"
	assert_line "failures     4"
	assert_equal "$stderr" "tcpmon-send: 4 of 4 requests failed; the first: http://127.0.0.1:$STUB_PORT/: timed out waiting for the answer"
}

@test "fail: records say how a connection ended" {
	start_stub silent
	send --timeout 300ms "http://127.0.0.1:$STUB_PORT/" > "$T/o.tcpmon" || true
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/o.tcpmon" field 1 close reason
	assert_output timeout
}

@test "fail: an answer that is not HTTP" {
	start_stub nothttp
	run -1 --separate-stderr send --text "http://127.0.0.1:$STUB_PORT/"
	assert_equal "$stderr" "tcpmon-send: http://127.0.0.1:$STUB_PORT/: the answer is not HTTP (not HTTP); --raw shows it"
	run -1 --separate-stderr send --text --raw "127.0.0.1:$STUB_PORT" - <<< $'GET / HTTP/1.1\r\nHost: x\r\n\r'
	assert_output --partial "SSH-2.0-OpenSSH_9.2"
	run -1 --separate-stderr send --text --pretty --raw "127.0.0.1:$STUB_PORT" - <<< $'GET / HTTP/1.1\r\nHost: x\r\n\r'
	assert_equal "$stderr" "tcpmon-send: 127.0.0.1:$STUB_PORT: the answer is not HTTP (not HTTP); --raw without --pretty shows it"
}

@test "fail: a refused port and a name that does not resolve" {
	local dead
	dead=$(free_port)
	run -1 --separate-stderr send "http://127.0.0.1:$dead/"
	assert_equal "$stderr" "tcpmon-send: connect 127.0.0.1:$dead: Connection refused"
	run -0 grep -a 'reason=refused' <<< "$output"
	run -1 --separate-stderr send -n 5 "http://127.0.0.1:$dead/"
	[[ $stderr == *"the first: connect 127.0.0.1:$dead: Connection refused" ]]
	run -1 --separate-stderr send http://no-such-host.invalid/
	[[ $stderr == "tcpmon-send: cannot resolve no-such-host.invalid:80: "* ]]
}

@test "fail: bad arguments give one line naming the problem and exit 2" {
	local s
	s=$(bin tcpmon-send)
	run -2 --separate-stderr "$s"
	assert_equal "$stderr" "tcpmon-send: nothing to do: give a URL"
	run -2 --separate-stderr "$s" https://127.0.0.1:0/
	assert_equal "$stderr" "tcpmon-send: https://127.0.0.1:0/: bad port (1 to 65535)"
	run -2 --separate-stderr "$s" ftp://example.org/
	assert_equal "$stderr" "tcpmon-send: ftp://example.org/: not an http:// or https:// URL"
	run -2 --separate-stderr "$s" http://127.0.0.1:99999/
	assert_equal "$stderr" "tcpmon-send: http://127.0.0.1:99999/: bad port (1 to 65535)"
	run -2 --separate-stderr "$s" http://:80/
	assert_equal "$stderr" "tcpmon-send: http://:80/: no host"
	run -2 --separate-stderr "$s" 'http://u:p@h/'
	assert_equal "$stderr" "tcpmon-send: http://u:p@h/: user names in URLs are not supported (use -H Authorization)"
	run -2 --separate-stderr "$s" http://h/ a b
	assert_equal "$stderr" "tcpmon-send: b: unexpected argument"
	run -2 --separate-stderr "$s" http://h/ "$BATS_TEST_TMPDIR/none"
	assert_equal "$stderr" "tcpmon-send: $BATS_TEST_TMPDIR/none: No such file or directory"
	run -2 --separate-stderr "$s" -H 'NoColon' http://h/
	assert_equal "$stderr" "tcpmon-send: -H NoColon: expected 'NAME: VALUE'"
	run -2 --separate-stderr "$s" -H 'Bad Name: x' http://h/
	assert_equal "$stderr" "tcpmon-send: -H Bad Name: x: expected 'NAME: VALUE'"
	run -2 --separate-stderr "$s" -X 'GE T' http://h/
	assert_equal "$stderr" "tcpmon-send: -X GE T: not a method name"
	run -2 --separate-stderr "$s" --timeout 5x http://h/
	assert_equal "$stderr" "tcpmon-send: --timeout 5x: invalid"
	run -2 --separate-stderr "$s" --timeout 0 http://h/
	assert_equal "$stderr" "tcpmon-send: --timeout 0: too small"
	run -2 --separate-stderr "$s" --connect-timeout 2d http://h/
	assert_equal "$stderr" "tcpmon-send: --connect-timeout 2d: invalid"
	run -2 --separate-stderr "$s" -n 0 http://h/
	assert_equal "$stderr" "tcpmon-send: -n 0: too small (1 to 1000000)"
	run -2 --separate-stderr "$s" -c 5000 http://h/
	assert_equal "$stderr" "tcpmon-send: -c 5000: too large (1 to 1000)"
	run -2 --separate-stderr "$s" --soap-action X http://h/
	assert_equal "$stderr" "tcpmon-send: --soap-action needs a request body (FILE or -)"
	run -2 --separate-stderr "$s" --soap-action 'a"b' http://h/ -
	assert_equal "$stderr" "tcpmon-send: --soap-action a\"b: no quotes or line breaks"
	run -2 --separate-stderr "$s" --text --records http://h/
	assert_equal "$stderr" "tcpmon-send: --text cannot be used with --records"
	run -2 --separate-stderr "$s" -n 5 -o f http://h/
	assert_equal "$stderr" "tcpmon-send: -n and -c cannot be used with -o"
	run -2 --separate-stderr "$s" --raw http://h/
	assert_equal "$stderr" "tcpmon-send: --raw needs HOST:PORT and FILE"
	run -2 --separate-stderr "$s" --raw h f
	assert_equal "$stderr" "tcpmon-send: h: :PORT is missing (HOST:PORT, such as h:80)"
	run -2 --separate-stderr "$s" --raw -X GET h:80 f
	assert_equal "$stderr" "tcpmon-send: -X needs a URL (not --raw or --replay)"
	run -2 --separate-stderr "$s" --fix-length http://h/
	assert_equal "$stderr" "tcpmon-send: --fix-length needs --raw"
	run -2 --separate-stderr "$s" --replay cap --exchange 1
	assert_equal "$stderr" "tcpmon-send: --exchange needs --conn N"
	run -2 --separate-stderr "$s" --replay cap --conn 0
	assert_equal "$stderr" "tcpmon-send: --conn 0: too small (1 to 18446744073709551615)"
	run -2 --separate-stderr "$s" --replay cap --conn 1 http://h/
	assert_equal "$stderr" "tcpmon-send: http://h/: --replay takes no URL"
	run -2 --separate-stderr "$s" --replay cap --raw --conn 1
	assert_equal "$stderr" "tcpmon-send: --raw cannot be used with --replay"
	run -2 --separate-stderr "$s" --pace http://h/
	assert_equal "$stderr" "tcpmon-send: --pace needs --replay"
	run -2 --separate-stderr "$s" -t h:1 http://h/
	assert_equal "$stderr" "tcpmon-send: -t needs --replay"
	run -2 --separate-stderr "$s" --bogus
	[[ $stderr == *"unrecognized option"* ]]
	[[ $stderr == *"usage: tcpmon-send"* ]]
	run -0 "$s" --help
	assert_line --index 0 --partial "usage: tcpmon-send [-kLv]"
	run -0 "$s" --version
	assert_output "tcpmon-send 0.1.0"
}

@test "send --help: a line of meaning for every long option, and the man page" {
	help_covers tcpmon-send send/send.c
}
