#!/usr/bin/env bash
# bench/ab.sh REV - the relay of commit REV against the one in bin/, in one
# run on one echo server (bench/tcpbench.c), alternated ROUNDS times so that
# the machine's drift touches both alike: bulk (MiB/s both ways on one
# connection), ping-pong (median round trip of 64 bytes, us) and
# connections/s (CONNS of 64 bytes, 50 at once); records to /dev/null.  For
# a change to the data path: no regression beyond the run-to-run noise.
#	ROUNDS=3 BULK_MIB=512 PINGS=20000 CONNS=3000 bench/ab.sh d930759
set -u
cd "$(dirname "$0")/.."
REV=${1:?usage: bench/ab.sh REV}
ROUNDS=${ROUNDS:-3}
BULK_MIB=${BULK_MIB:-512}
PINGS=${PINGS:-20000}
CONNS=${CONNS:-3000}
NEW=${TCPMON_BIN:-$PWD/bin}/tcpmon-relay

. bench/lib.bash
[ -x "$NEW" ] || die "$NEW is missing (make)"

# The old relay, built from REV in a worktree of its own.
git worktree add -q --detach "$D/old" "$REV" || die "no commit $REV"
trap 'git worktree remove --force "$D/old" 2> /dev/null; cleanup' EXIT
make -C "$D/old" -j2 bin/tcpmon-relay > "$D/old.build" 2>&1 ||
    die "$REV does not build: $(tail -n 3 "$D/old.build")"
OLD=$D/old/bin/tcpmon-relay

cc -O2 -D_GNU_SOURCE -pthread -o "$D/tcpbench" bench/tcpbench.c ||
    die "cannot build tcpbench"
TB=$D/tcpbench
start echo "$TB" echo
wait_listen "$D/echo.out"
ECHO=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$D/echo.out")
[ -n "$ECHO" ] || die "the echo server did not start"

# step NAME BIN: one round of the three measures through a fresh relay.
step() {
	local name=$1 bin=$2 pid port b p c
	# The last round's file goes first: the new relay truncates it only
	# once it runs, and its old "listening on" line must not be read.
	rm -f "$D/r.err"
	"$bin" -l 0 -t "127.0.0.1:$ECHO" -o /dev/null 2> "$D/r.err" &
	pid=$!
	wait_listen "$D/r.err"
	port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$D/r.err")
	[ -n "$port" ] || { kill "$pid"; die "$name: the relay did not start"; }
	b=$(timeout 120 "$TB" bulk "$port" $((BULK_MIB << 20)))
	p=$(timeout 120 "$TB" pingpong "$port" "$PINGS")
	c=$(timeout 120 "$TB" connrate "$port" "$CONNS" 50)
	kill "$pid"
	wait "$pid" 2> /dev/null
	printf '%-10s %12s %14s %15s\n' "$name" "$b" "$p" "$c"
}

echo "ab: $(nproc) cores, old $(git rev-parse --short "$REV"), new $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo '+changes'); $BULK_MIB MiB, $PINGS pings, $CONNS connections"
printf '%-10s %12s %14s %15s\n' run 'bulk MiB/s' 'ping-pong us' 'connections/s'
for ((k = 1; k <= ROUNDS; k++)); do
	step "old $k" "$OLD"
	step "new $k" "$NEW"
done
