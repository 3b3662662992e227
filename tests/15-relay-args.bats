#!/usr/bin/env bats
# tcpmon-relay: every bad argument is one clear line and exit 2; a job that
# cannot start (name, file, address) is exit 1; -h and --version.

load helpers

# bad STATUS MESSAGE ARGS...: the relay exits STATUS with MESSAGE as the
# first line of its stderr, and writes nothing on stdout.
bad() {
	local want=$1 msg=$2
	shift 2
	run --separate-stderr timeout 10 "$(bin tcpmon-relay)" "$@"
	[ "$status" -eq "$want" ] || { echo "status $status for: $*" >&2; return 1; }
	assert_equal "${stderr%%$'\n'*}" "$msg"
	assert_equal "$output" ""
}

@test "args: missing, unpaired and misplaced -l/-t" {
	bad 2 "tcpmon-relay: nothing to do: give -l PORT -t HOST:PORT"
	bad 2 "tcpmon-relay: -l 0: no -t for this listener" -l 0
	bad 2 "tcpmon-relay: -t 127.0.0.1:80: every -t follows its -l" -t 127.0.0.1:80
	bad 2 "tcpmon-relay: -l 1: the -l before it has no -t" -l 0 -l 1
	bad 2 "tcpmon-relay: -t 127.0.0.1:81: every -t follows its -l" -l 0 -t 127.0.0.1:80 -t 127.0.0.1:81
	bad 2 "tcpmon-relay: extra: unexpected argument" -l 0 -t 127.0.0.1:80 extra
}

@test "args: bad addresses" {
	bad 2 "tcpmon-relay: -l 70000: bad port (0 to 65535)" -l 70000 -t 127.0.0.1:80
	bad 2 "tcpmon-relay: -l x: :PORT is missing ([ADDR:]PORT, such as x:8080)" -l x -t 127.0.0.1:80
	bad 2 "tcpmon-relay: -l 1k: bad port (0 to 65535)" -l 1k -t 127.0.0.1:80
	bad 2 "tcpmon-relay: -t 80: a target needs HOST:PORT" -l 0 -t 80
	bad 2 "tcpmon-relay: -t 127.0.0.1:0: a target cannot be port 0" -l 0 -t 127.0.0.1:0
	bad 2 "tcpmon-relay: -t ::1:80: IPv6 addresses go in brackets: [ADDR]:PORT" -l 0 -t ::1:80
	bad 2 "tcpmon-relay: -l [::1: expected [IPV6]:PORT" -l '[::1' -t 127.0.0.1:80
	bad 2 "tcpmon-relay: -l unix:: empty socket path" -l unix: -t 127.0.0.1:80
	bad 2 "tcpmon-relay: -t unix:$(printf 'x%.0s' $(seq 120)): socket path too long" \
	    -l 0 -t "unix:$(printf 'x%.0s' $(seq 120))"
}

@test "args: a URL or a host without its port gets the message that fits" {
	bad 2 "tcpmon-relay: -t http://127.0.0.1:8080/ws: a URL where HOST:PORT is expected, such as 127.0.0.1:8080 (proxy mode, --proxy, is the one that takes URLs)" \
	    -l 0 -t http://127.0.0.1:8080/ws
	bad 2 "tcpmon-relay: -t https://ws.example.org/x: a URL where HOST:PORT is expected, such as ws.example.org:443 (proxy mode, --proxy, is the one that takes URLs)" \
	    -l 0 -t https://ws.example.org/x
	bad 2 "tcpmon-relay: -l http://127.0.0.1:8081: a URL where [ADDR:]PORT is expected, such as 127.0.0.1:8081 (proxy mode, --proxy, is the one that takes URLs)" \
	    -l http://127.0.0.1:8081 -t 127.0.0.1:80
	bad 2 "tcpmon-relay: -t ws.example.org: :PORT is missing (HOST:PORT, such as ws.example.org:80)" \
	    -l 0 -t ws.example.org
	bad 2 "tcpmon-relay: -t 10.0.0.5: :PORT is missing (HOST:PORT, such as 10.0.0.5:80)" \
	    -l 0 -t 10.0.0.5
	bad 2 "tcpmon-relay: --upstream-proxy http://127.0.0.1:3128: a URL where HOST:PORT is expected, such as 127.0.0.1:3128 (proxy mode, --proxy, is the one that takes URLs)" \
	    --proxy -l 0 --upstream-proxy http://127.0.0.1:3128
}

@test "args: bad numbers, durations and paths" {
	bad 2 "tcpmon-relay: --max-conns 0: too small" -l 0 -t 127.0.0.1:80 --max-conns 0
	bad 2 "tcpmon-relay: --max-conns x: invalid" -l 0 -t 127.0.0.1:80 --max-conns x
	bad 2 "tcpmon-relay: --max-conns 2000000: too large" -l 0 -t 127.0.0.1:80 --max-conns 2000000
	bad 2 "tcpmon-relay: --connect-timeout 1y: invalid" -l 0 -t 127.0.0.1:80 --connect-timeout 1y
	bad 2 "tcpmon-relay: --connect-timeout -1: invalid" -l 0 -t 127.0.0.1:80 --connect-timeout -1
	bad 2 "tcpmon-relay: --idle-timeout 99999999: too large" -l 0 -t 127.0.0.1:80 --idle-timeout 99999999
	bad 2 "tcpmon-relay: --idle-timeout 5x: invalid" -l 0 -t 127.0.0.1:80 --idle-timeout 5x
	bad 2 "tcpmon-relay: -o: empty file name" -l 0 -t 127.0.0.1:80 -o ''
	bad 2 "tcpmon-relay: --tap: empty socket path" -l 0 -t 127.0.0.1:80 --tap ''
	bad 2 "tcpmon-relay: --tap $(printf 'x%.0s' $(seq 120)): socket path too long" \
	    -l 0 -t 127.0.0.1:80 --tap "$(printf 'x%.0s' $(seq 120))"
}

@test "args: unknown options and missing option arguments print the usage" {
	bad 2 "tcpmon-relay: unrecognized option '--bogus'" --bogus
	[[ $stderr == *"usage: tcpmon-relay -l [ADDR:]PORT -t HOST:PORT"* ]]
	bad 2 "tcpmon-relay: invalid option -- 'x'" -l 0 -t 127.0.0.1:80 -x
	bad 2 "tcpmon-relay: option requires an argument -- 'o'" -l 0 -t 127.0.0.1:80 -o
	bad 2 "tcpmon-relay: option '--tap' requires an argument" -l 0 -t 127.0.0.1:80 --tap
	bad 2 "tcpmon-relay: option '--lossy' doesn't allow an argument" -l 0 -t 127.0.0.1:80 --lossy=1
}

@test "args: what cannot start is exit 1 with the reason" {
	bad 1 "tcpmon-relay: target nosuchhost.invalid:80: Name or service not known" \
	    -l 0 -t nosuchhost.invalid:80
	bad 1 "tcpmon-relay: $T/no/x: No such file or directory" -l 0 -t 127.0.0.1:80 -o "$T/no/x"
	bad 1 "tcpmon-relay: --tap $T/no/t.sock: No such file or directory" \
	    -l 0 -t 127.0.0.1:80 --tap "$T/no/t.sock"
	bad 1 "tcpmon-relay: listen 192.0.2.1:0: Cannot assign requested address" \
	    -l 192.0.2.1:0 -t 127.0.0.1:80
}

@test "args: -h prints the usage on stdout, exit 0; --version" {
	run -0 --separate-stderr "$(bin tcpmon-relay)" -h
	assert_line --index 0 --partial "usage: tcpmon-relay -l [ADDR:]PORT -t HOST:PORT"
	assert_equal "$stderr" ""
	run -0 "$(bin tcpmon-relay)" --version
	assert_output --regexp '^tcpmon-relay [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "relay --help: a line of meaning for every long option, and the man page" {
	help_covers tcpmon-relay relay/relay.c
}
