# bench/lib.bash - sourced by the bench scripts (not a bench itself): a
# private directory $D, background processes that are all ended on exit,
# and die.

D=$(mktemp -d /tmp/tmbench.XXXXXX)
PIDS=()
cleanup() {
	local p
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
