#!/usr/bin/env bash
# demo/demo.sh - `make demo`: two real SOAP calls through tcpmon-relay to
# tcpmon-demo-soapd, recorded, then shown with tcpmon-tap.
# TCPMON_BIN: the directory of the built tools.  Exit status 0 when every
# step worked, 1 otherwise.
set -u

bin=${TCPMON_BIN:?set TCPMON_BIN to the directory of the built tools}
for t in tcpmon-demo-soapd tcpmon-relay tcpmon-tap; do
	if [ ! -x "$bin/$t" ]; then
		echo "demo: $bin/$t: not built (run make)" >&2
		exit 1
	fi
done
if ! command -v curl > /dev/null; then
	echo "demo: curl is needed (make deps-demo installs it)" >&2
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/tcpmon-demo.XXXXXX") || exit 1
pids=()		# what this script started, and only that, is stopped
failed=0

# On every exit path: stops what is still running (SIGTERM, then SIGKILL
# after 5 s) and removes the files.
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	local pid i alive
	for pid in ${pids[@]+"${pids[@]}"}; do
		kill "$pid" 2> /dev/null
	done
	for ((i = 0; i < 50; i++)); do
		alive=0
		for pid in ${pids[@]+"${pids[@]}"}; do
			kill -0 "$pid" 2> /dev/null && alive=1
		done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		kill -KILL "$pid" 2> /dev/null
		wait "$pid" 2> /dev/null
	done
	rm -rf "$dir"
}
trap cleanup EXIT
# A signal ends the script through exit, so that the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM

step() {
	printf '\n== %s\n' "$*"
}

fail() {
	echo "demo: $*" >&2
	failed=1
}

# Shows the stderr of a tool that misbehaved.
show_log() {
	echo "--- $1 stderr:" >&2
	head -c 4000 "$dir/$1.err" >&2
}

# start NAME CMD...: runs CMD in the background with its output in
# $dir/NAME.{out,err} and waits up to 10 s for its "listening on" line;
# sets PID and PORT.
start() {
	local name=$1 i
	shift
	# The child opens its files after the fork: make them now, so that
	# the first look below cannot miss them.
	: > "$dir/$name.out"
	: > "$dir/$name.err"
	"$@" < /dev/null > "$dir/$name.out" 2> "$dir/$name.err" &
	PID=$!
	pids+=("$PID")
	PORT=
	for ((i = 0; i < 100; i++)); do
		PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' \
		    "$dir/$name.err" | head -n 1)
		[ -n "$PORT" ] && return 0
		if ! kill -0 "$PID" 2> /dev/null; then
			wait "$PID"
			fail "$name exited with status $? before it listened"
			show_log "$name"
			return 1
		fi
		sleep 0.1
	done
	fail "$name did not announce its port within 10 s"
	show_log "$name"
	return 1
}

# stop NAME PID: SIGTERM, up to 10 s to exit, then SIGKILL; returns the
# exit status.
stop() {
	local name=$1 pid=$2 i rc p
	local -a left=()

	kill "$pid" 2> /dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2> /dev/null; then
		echo "demo: $name did not stop within 10 s: killing it" >&2
		kill -KILL "$pid" 2> /dev/null
	fi
	wait "$pid"
	rc=$?
	for p in "${pids[@]}"; do
		[ "$p" != "$pid" ] && left+=("$p")
	done
	pids=(${left[@]+"${left[@]}"})
	return "$rc"
}

# post NAME CONTENT-TYPE BODY [CURL-ARGS...]: a SOAP call through the
# relay; the answer goes to $dir/NAME.xml and is shown.  Returns non-zero
# unless the status is 200.
post() {
	local name=$1 ctype=$2 body=$3 code
	shift 3
	if ! code=$(timeout 10 curl -sS -o "$dir/$name.xml" \
	    -w '%{http_code}' -H "Content-Type: $ctype" "$@" \
	    --data-binary "$body" "http://127.0.0.1:$relay_port/"); then
		fail "$name: curl failed"
		return 1
	fi
	echo "HTTP $code"
	cat "$dir/$name.xml"
	if [ "$code" != 200 ]; then
		fail "$name: HTTP status $code, not 200"
		return 1
	fi
}

step "tcpmon demo: a SOAP service behind tcpmon-relay (files in $dir)"

step "1/5 start tcpmon-demo-soapd, the SOAP 1.1/1.2 backend"
start soapd "$bin/tcpmon-demo-soapd" || exit 1
soapd_pid=$PID
soapd_port=$PORT
echo "soapd listens on 127.0.0.1:$soapd_port"

step "2/5 start tcpmon-relay in front of it, recording to capture.tcpmon"
echo "tcpmon-relay -l 0 -t 127.0.0.1:$soapd_port -o $dir/capture.tcpmon"
start relay "$bin/tcpmon-relay" -l 0 -t "127.0.0.1:$soapd_port" \
    -o "$dir/capture.tcpmon" || exit 1
relay_pid=$PID
relay_port=$PORT
echo "the relay listens on 127.0.0.1:$relay_port"

step "3/5 Add(2, 3) in SOAP 1.1, with a SOAPAction header"
add='<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <d:Add xmlns:d="urn:tcpmon:demo"><a>2</a><b>3</b></d:Add>
  </soap:Body>
</soap:Envelope>'
if post add 'text/xml; charset=utf-8' "$add" \
    -H 'SOAPAction: "urn:tcpmon:demo#Add"' &&
    ! grep -Eq '<([A-Za-z0-9_]+:)?result>5</' "$dir/add.xml"; then
	fail "Add: the answer does not hold the result 5"
fi

step "4/5 Echo in SOAP 1.2 (the markup in the text comes back escaped)"
echo_req='<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
  <env:Body>
    <d:Echo xmlns:d="urn:tcpmon:demo"><text>hello &lt;tcpmon&gt; &amp; SOAP 1.2</text></d:Echo>
  </env:Body>
</env:Envelope>'
if post echo 'application/soap+xml; charset=utf-8' "$echo_req" &&
    ! grep -Fq 'hello &lt;tcpmon&gt; &amp; SOAP 1.2' "$dir/echo.xml"; then
	fail "Echo: the answer does not hold the text sent"
fi

step "5/5 stop the relay (it flushes its record) and soapd, then tcpmon-tap"
if ! stop relay "$relay_pid"; then
	fail "tcpmon-relay did not exit 0 on SIGTERM"
	show_log relay
fi
if ! stop soapd "$soapd_pid"; then
	fail "tcpmon-demo-soapd did not exit 0 on SIGTERM"
	show_log soapd
fi
if [ ! -s "$dir/capture.tcpmon" ]; then
	fail "the relay recorded nothing in capture.tcpmon"
else
	echo "tcpmon-tap $dir/capture.tcpmon"
	echo
	if ! "$bin/tcpmon-tap" "$dir/capture.tcpmon"; then
		fail "tcpmon-tap failed"
	fi
fi

echo
if [ "$failed" -ne 0 ]; then
	echo "== demo: FAILED (see the messages above)"
	exit 1
fi
echo "== demo: done"
exit 0
