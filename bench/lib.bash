# bench/lib.bash - sourced by the bench scripts (not a bench itself): a
# private directory $D, background processes that are all ended on exit,
# and die.

D=$(mktemp -d /tmp/tmbench.XXXXXX)
PIDS=()
cleanup() {
	local p
	# A killed child's status must not end the cleanup under set -e.
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null; done
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() { echo "bench: $*" >&2; exit 1; }

# start NAME CMD...: a background process, logs in $D/NAME.{out,err}.
start() {
	local name=$1
	shift
	"$@" > "$D/$name.out" 2> "$D/$name.err" < /dev/null &
	PIDS+=($!)
	LAST_PID=$!
}

# free_port: a port nothing listens on now (nginx cannot bind port 0 and
# say which it got).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# up PORT: waits up to 10 s for a listener on 127.0.0.1:PORT.
up() {
	local i
	for ((i = 0; i < 200; i++)); do
		(exec 9<>"/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
		sleep 0.05
	done
	return 1
}

# wait_listen FILE: waits up to 10 s for a "listening on" line in FILE.
wait_listen() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q 'listening on' "$1" 2> /dev/null && return 0
		sleep 0.05
	done
	return 1
}

# relay_port NAME: the port of the first "listening on" line of the
# process started as NAME (waits up to 10 s for it).
relay_port() {
	wait_listen "$D/$1.err"
	sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$D/$1.err" | head -n 1
}
