#!/usr/bin/env bats
# tcpmon-relay on listening sockets it is given: by systemd (LISTEN_FDS,
# through systemd-socket-activate) or by a supervisor (--listen-fd N).

load helpers

rp() { python3 "$TESTS_DIR/recparse.py" "$@"; }

# hold_and_exec FD CMD...: python binds a listening socket on a free
# loopback port, puts it on descriptor FD, writes the port to $T/port and
# execs CMD: a supervisor that hands its socket down.  exec: under bg, the
# pid it knows is the relay's, so teardown ends it.
hold_and_exec() {
	exec python3 -c '
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
fd = int(sys.argv[2])
# dup2 onto itself (the socket may be fd already) keeps close-on-exec.
if s.fileno() != fd:
    os.dup2(s.fileno(), fd)
os.set_inheritable(fd, True)
os.execv(sys.argv[3], sys.argv[3:])
' "$T/port" "$@"
}

@test "relay: two listeners from systemd-socket-activate, each with its -t, named, not passed on to stages" {
	command -v systemd-socket-activate || skip "systemd-socket-activate not installed (package systemd)"
	start_echo
	local echo1=$ECHO_PORT
	bg echo2 socat -d -d TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork 'SYSTEM:tr a-z A-Z'
	wait_for "$T/echo2.err" 'listening on'
	local echo2 p1 p2
	echo2=$(port_of "$T/echo2.err")
	p1=$(free_port)
	p2=$(free_port)
	# The stage writes its environment, to show LISTEN_* is gone.
	bg relay systemd-socket-activate -l 127.0.0.1:"$p1" -l 127.0.0.1:"$p2" \
	    --fdname=web:api \
	    "$(bin tcpmon-relay)" -t 127.0.0.1:"$echo1" -t 127.0.0.1:"$echo2" \
	    --through "env > $T/stage.env; exec cat" -o "$T/cap"
	RELAY_PID=$BG_PID
	# It starts the relay at the first connection, which the relay then
	# serves: the socket was there before the relay.
	wait_for "$T/relay.err" "127.0.0.1:$p2 as 4"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$p1" <<< "first"
	assert_output "first"
	grep -qx "tcpmon-relay: listening on 127.0.0.1:$p1" "$T/relay.err"
	grep -qx "tcpmon-relay: listening on 127.0.0.1:$p2" "$T/relay.err"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$p2" <<< "second"
	assert_output "SECOND"
	# systemd-socket-activate execs the relay: the same pid.
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	run -0 rp "$T/cap" field 1 open target
	assert_line "127.0.0.1:$echo1"
	refute_line "127.0.0.1:$echo2"
	run -0 rp "$T/cap" field 2 open target
	assert_line "127.0.0.1:$echo2"
	[ -s "$T/stage.env" ]
	run -1 grep '^LISTEN_' "$T/stage.env"
}

@test "relay: a Unix socket from systemd is left in place when the relay ends" {
	command -v systemd-socket-activate || skip "systemd-socket-activate not installed (package systemd)"
	start_echo
	bg relay systemd-socket-activate -l "$T/s" \
	    "$(bin tcpmon-relay)" -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap"
	RELAY_PID=$BG_PID
	wait_for "$T/relay.err" "$T/s as 3"
	run -0 timeout 10 socat -t 5 - UNIX-CONNECT:"$T/s" <<< "via unix"
	assert_output "via unix"
	grep -qx "tcpmon-relay: listening on unix:$T/s" "$T/relay.err"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	[ -S "$T/s" ]
}

@test "relay: --listen-fd takes a supervisor's socket; a restart refuses no client" {
	start_echo
	# The supervisor: holds the socket, runs one relay, then another.
	cat > "$T/sup.py" <<'PY'
import os, signal, socket, subprocess, sys, time
relay, echo, tdir = sys.argv[1:4]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print("port %d" % s.getsockname()[1], flush=True)
for n in (1, 2):
    err = open("%s/relay%d.err" % (tdir, n), "w")
    p = subprocess.Popen([relay, "--listen-fd", str(s.fileno()), "-t",
                          "127.0.0.1:" + echo, "-o", "/dev/null"],
                         pass_fds=[s.fileno()], stderr=err)
    print("relay %d %d" % (n, p.pid), flush=True)
    if n == 1:
        # Until the test has connected once, then stopped.
        while not os.path.exists(tdir + "/go"):
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        p.wait()
        print("stopped", flush=True)
        while not os.path.exists(tdir + "/go2"):
            time.sleep(0.05)
    else:
        while not os.path.exists(tdir + "/end"):
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        print("exit %d" % p.wait(), flush=True)
PY
	bg sup timeout 60 python3 "$T/sup.py" "$(bin tcpmon-relay)" "$ECHO_PORT" "$T"
	wait_for "$T/sup.out" '^relay 1'
	wait_for "$T/relay1.err" 'listening on 127.0.0.1:'
	local port
	port=$(sed -n 's/^port //p' "$T/sup.out")
	grep -qx "tcpmon-relay: listening on 127.0.0.1:$port" "$T/relay1.err"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$port" <<< "one"
	assert_output "one"
	touch "$T/go"
	wait_for "$T/sup.out" '^stopped'
	# No relay runs now: the client waits in the socket's queue rather
	# than being refused, and the next relay serves it.
	timeout 20 socat -t 5 - TCP:127.0.0.1:"$port" <<< "two" > "$T/two" &
	local cpid=$!
	touch "$T/go2"
	wait "$cpid"
	[ "$(cat "$T/two")" = "two" ]
	touch "$T/end"
	wait_for "$T/sup.out" '^exit 0'
}

@test "relay: --listen-fd refuses what is not a listening stream socket" {
	start_echo
	run -1 --separate-stderr "$(bin tcpmon-relay)" --listen-fd 7 -t 127.0.0.1:"$ECHO_PORT" 7< /dev/null
	assert_equal "$stderr" "tcpmon-relay: --listen-fd 7: not a socket: Socket operation on non-socket"
	run -1 --separate-stderr "$(bin tcpmon-relay)" --listen-fd 9 -t 127.0.0.1:"$ECHO_PORT"
	assert_equal "$stderr" "tcpmon-relay: --listen-fd 9: Bad file descriptor"
	# A UDP socket and a TCP socket that is not listening.
	run -1 --separate-stderr python3 -c '
import os, socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
os.dup2(u.fileno(), 7, inheritable=True)
os.execv(sys.argv[1], sys.argv[1:])' "$(bin tcpmon-relay)" --listen-fd 7 -t 127.0.0.1:"$ECHO_PORT"
	assert_equal "$stderr" "tcpmon-relay: --listen-fd 7: not a stream socket"
	run -1 --separate-stderr python3 -c '
import os, socket, sys
t = socket.socket()
t.bind(("127.0.0.1", 0))
os.dup2(t.fileno(), 7, inheritable=True)
os.execv(sys.argv[1], sys.argv[1:])' "$(bin tcpmon-relay)" --listen-fd 7 -t 127.0.0.1:"$ECHO_PORT"
	assert_equal "$stderr" "tcpmon-relay: --listen-fd 7: not a listening socket"
	run -2 --separate-stderr "$(bin tcpmon-relay)" --listen-fd 1 -t 127.0.0.1:"$ECHO_PORT"
	assert_equal "$stderr" "tcpmon-relay: --listen-fd 1: stdout and stderr are not listeners"
	run -2 --separate-stderr "$(bin tcpmon-relay)" --listen-fd x -t 127.0.0.1:"$ECHO_PORT"
	[[ $stderr == *"tcpmon-relay: --listen-fd x: "* ]]
	run -2 --separate-stderr hold_and_exec 5 "$(bin tcpmon-relay)" --listen-fd 5 -l 0 -t 127.0.0.1:"$ECHO_PORT"
	assert_equal "$stderr" "tcpmon-relay: -l 0: --listen-fd 5 before it has no -t"
	run -2 --separate-stderr hold_and_exec 5 "$(bin tcpmon-relay)" --listen-fd 5 -t 127.0.0.1:"$ECHO_PORT" --listen-fd 5
	assert_equal "$stderr" "tcpmon-relay: --listen-fd 5: already --listen-fd 5"
}

@test "relay: --listen-fd beside -l, and in proxy mode" {
	start_echo
	bg relay hold_and_exec 5 "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:"$ECHO_PORT" \
	    --listen-fd 5 -t 127.0.0.1:"$ECHO_PORT"
	RELAY_PID=$BG_PID
	wait_count "$T/relay.err" 'listening on' 2
	local port
	port=$(cat "$T/port")
	grep -qx "tcpmon-relay: listening on 127.0.0.1:$port" "$T/relay.err"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$port" <<< "inherited"
	assert_output "inherited"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	bg proxy hold_and_exec 6 "$(bin tcpmon-relay)" --proxy --listen-fd 6
	wait_for "$T/proxy.err" 'listening on'
	port=$(cat "$T/port")
	run -0 timeout 10 curl -sS -o /dev/null -w '%{http_code}' -x http://127.0.0.1:"$port" \
	    http://127.0.0.1:"$(free_port)"/
	assert_output "502"
}

@test "relay: LISTEN_FDS for another pid is not taken, and sockets without a -t are named" {
	start_echo
	run -2 --separate-stderr env LISTEN_PID=1 LISTEN_FDS=1 "$(bin tcpmon-relay)" -t 127.0.0.1:"$ECHO_PORT"
	assert_equal "$stderr" "tcpmon-relay: -t 127.0.0.1:$ECHO_PORT: every -t follows its -l"
	command -v systemd-socket-activate || skip "systemd-socket-activate not installed (package systemd)"
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	# Started at the first connection, the relay stops at its arguments.
	bg bad1 systemd-socket-activate -l 127.0.0.1:"$p1" -l 127.0.0.1:"$p2" \
	    --fdname=web:api "$(bin tcpmon-relay)" -t 127.0.0.1:"$ECHO_PORT"
	wait_for "$T/bad1.err" "as 4"
	timeout 10 socat -t 1 - TCP:127.0.0.1:"$p1" < /dev/null || true
	wait_exit "$BG_PID"
	[ "$BG_STATUS" -eq 2 ]
	grep -qx "tcpmon-relay: socket 4 from systemd (api): no -t for this listener" "$T/bad1.err"
	p1=$(free_port)
	bg bad2 systemd-socket-activate -l 127.0.0.1:"$p1" \
	    "$(bin tcpmon-relay)" -l 0 -t 127.0.0.1:"$ECHO_PORT"
	wait_for "$T/bad2.err" "as 3"
	timeout 10 socat -t 1 - TCP:127.0.0.1:"$p1" < /dev/null || true
	wait_exit "$BG_PID"
	[ "$BG_STATUS" -eq 2 ]
	grep -qx "tcpmon-relay: -l 0: socket 3 from systemd before it has no -t" "$T/bad2.err"
}

@test "relay: --help and the man page name --listen-fd" {
	help_covers tcpmon-relay relay/relay.c
	grep -q 'listen-fd' "$TESTS_DIR/../man/tcpmon-relay.1"
	grep -q 'LISTEN_FDS' "$TESTS_DIR/../man/tcpmon-relay.1"
}
