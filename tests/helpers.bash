# tests/helpers.bash - loaded by every suite: temp dirs, background servers
# with readiness lines, deadlines and cleanup on every exit path.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

: "${TCPMON_BIN:?set TCPMON_BIN to the directory of the built tools}"
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}
export NO_COLOR=1
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bin NAME: the path of a built tool.
bin() { printf '%s/%s\n' "$TCPMON_BIN" "$1"; }

BG_PIDS=()
BG_NAMES=()

# A short private directory per test: Unix socket paths must stay short.
common_setup() {
	T=$(mktemp -d /tmp/tm.XXXXXX)
	BG_PIDS=()
	BG_NAMES=()
}

# Kills what the test started (by pid), waits for it, and shows its logs
# when the test failed.
common_teardown() {
	local i pid
	for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${BG_PIDS[$i]}
		kill "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ -z "${T:-}" ]; then
		[ -n "${T:-}" ] && rm -rf "$T"
		return 0
	fi
	for i in "${!BG_NAMES[@]}"; do
		echo "--- ${BG_NAMES[$i]} stderr:"
		head -c 4000 "$T/${BG_NAMES[$i]}.err" 2>/dev/null
	done
	rm -rf "$T"
}

setup() { common_setup; }
teardown() { common_teardown; }

# bg NAME CMD...: starts CMD in the background, stdout to $T/NAME.out and
# stderr to $T/NAME.err; its pid is in $BG_PID.  fd 3 is closed so that the
# child cannot hold bats' output open.
bg() {
	local name=$1
	shift
	"$@" > "$T/$name.out" 2> "$T/$name.err" < /dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	BG_NAMES+=("$name")
}

# bg_in NAME INPUT CMD...: as bg, with stdin from INPUT.
bg_in() {
	local name=$1 input=$2
	shift 2
	"$@" > "$T/$name.out" 2> "$T/$name.err" < "$input" 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	BG_NAMES+=("$name")
}

# wait_for FILE REGEX [SECONDS]: waits until a line of FILE matches.
wait_for() {
	local file=$1 re=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out after ${secs}s waiting for /$re/ in $file:" >&2
	head -c 2000 "$file" >&2
	return 1
}

# wait_exit PID [SECONDS]: waits for a background process to end and sets
# $BG_STATUS to its exit status.
wait_exit() {
	local pid=$1 secs=${2:-10}
	timeout "$secs" tail --pid="$pid" -f /dev/null || return 1
	wait "$pid"
	BG_STATUS=$?
}

# port_of FILE: the port in the first "listening on ADDR:PORT" line.
port_of() {
	sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | head -n 1
}

# start_relay [ARGS...]: a relay in the background on port 0; sets
# RELAY_PID, RELAY_PORT; records in $T/relay.out.
start_relay() {
	bg relay "$(bin tcpmon-relay)" "$@"
	RELAY_PID=$BG_PID
	wait_for "$T/relay.err" 'listening on' || return 1
	RELAY_PORT=$(port_of "$T/relay.err")
}

# start_echo: a real echo server (socat) on a free loopback port; sets
# ECHO_PORT.
start_echo() {
	bg echo socat -d -d TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork EXEC:cat
	ECHO_PID=$BG_PID
	wait_for "$T/echo.err" 'listening on' || return 1
	ECHO_PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/echo.err" | head -n 1)
}

# free_port: a port that nothing listens on now (for refused targets).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_count FILE REGEX N [SECONDS]: waits until N lines of FILE match
# (grep -a: records carry binary payloads).
wait_count() {
	local file=$1 re=$2 n=$3 secs=${4:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ "$(grep -aEc -- "$re" "$file" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.05
	done
	echo "timed out after ${secs}s waiting for $n lines /$re/ in $file" >&2
	return 1
}

# peer ARGS...: tests/relay-peer.py, the scripted peers of the relay tests.
peer() { python3 "$TESTS_DIR/relay-peer.py" "$@"; }

# start_peer NAME MODE [HOST]: a relay-peer.py server in the background;
# sets PEER_PID and PEER_PORT.
start_peer() {
	bg "$1" python3 "$TESTS_DIR/relay-peer.py" server "$2" "${3:-127.0.0.1}"
	PEER_PID=$BG_PID
	wait_for "$T/$1.out" 'listening on' || return 1
	PEER_PORT=$(port_of "$T/$1.out")
}

# rss_kib PID: the resident memory of a process, in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start_relay_to OUT [ARGS...]: as start_relay, with the records written to
# OUT (a fifo, say) instead of $T/relay.out.
start_relay_to() {
	local out=$1
	shift
	"$(bin tcpmon-relay)" "$@" > "$out" 2> "$T/relay.err" < /dev/null 3>&- &
	RELAY_PID=$!
	BG_PIDS+=("$RELAY_PID")
	BG_NAMES+=(relay)
	wait_for "$T/relay.err" 'listening on' || return 1
	RELAY_PORT=$(port_of "$T/relay.err")
}
