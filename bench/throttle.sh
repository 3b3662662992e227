#!/usr/bin/env bash
# bench/throttle.sh - accuracy of tcpmon-throttle, measured in filter mode on
# generated captures: the rate achieved over 10 s with --rate, for one
# connection and for 50 at once, and the time --bytes 1024 --delay 100 takes
# for 50 KiB; then the same rates as a stage of the real relay
# (`tcpmon-relay --through 'tcpmon-throttle --rate ...'`), on real
# connections.  Prints a table.  (The overhead of `--through cat` on bulk
# throughput is in bench/relay.sh.)
set -eu
bin=${TCPMON_BIN:?set TCPMON_BIN to the directory of the built tools}
dir=$(mktemp -d /tmp/tmbench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# gen FILE CONNS BYTES: a capture of CONNS connections, each sending BYTES
# client to server in 16 KiB records, interleaved.
gen() {
	python3 - "$@" <<'PY'
import sys
path, conns, nbytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = 'time=2026-01-01T00:00:00.000000Z'
with open(path, 'wb') as f:
    for c in range(1, conns + 1):
        f.write(b'TCPMON/1 open conn=%d src=b %s len=0\n\n' % (c, t.encode()))
    left = {c: nbytes for c in range(1, conns + 1)}
    while any(left.values()):
        for c in left:
            n = min(16384, left[c])
            if n:
                f.write(b'TCPMON/1 data conn=%d src=b %s dir=c2s len=%d\n'
                        % (c, t.encode(), n) + b'x' * n + b'\n')
                left[c] -= n
    for c in range(1, conns + 1):
        f.write(b'TCPMON/1 close conn=%d src=b %s len=0\n\n' % (c, t.encode()))
PY
}

# measure FILE ARGS...: runs tcpmon-throttle on FILE; prints per
# connection "CONN BYTES FIRST LAST" (seconds, from the record times, which
# tcpmon-throttle sets when it releases a piece), one line each.
measure() {
	local in=$1
	shift
	"$bin/tcpmon-throttle" "$@" < "$in" > "$dir/out"
	python3 - "$dir/out" <<'PY'
import sys, datetime
data = open(sys.argv[1], 'rb').read()
pos, conns = 0, {}
while pos < len(data):
    nl = data.index(b'\n', pos)
    toks = data[pos:nl].decode().split(' ')
    f = dict(x.split('=', 1) for x in toks[2:])
    n = int(f['len'])
    pos = nl + 2 + n
    if toks[1] != 'data':
        continue
    ts = datetime.datetime.strptime(f['time'], '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()
    c = conns.setdefault(f['conn'], [0, ts, ts, n])
    c[0] += n
    c[2] = ts
for k, (b, first, last, n1) in conns.items():
    print(k, b, first, last, n1)
PY
}

printf '%-44s %12s %12s %8s\n' "measurement" "asked" "achieved" "error"

# rate_case CONNS RATE: CONNS connections, each 10 s worth at RATE.
rate_case() {
	local conns=$1 rate=$2 bps
	bps=$(python3 -c "print(int('$rate'.rstrip('k')) * 1024)")
	gen "$dir/cap" "$conns" $((bps * 10))
	measure "$dir/cap" --rate "$rate" > "$dir/m"
	python3 - "$dir/m" "$bps" "$conns" "$rate" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
asked, conns, rate = int(sys.argv[2]), sys.argv[3], sys.argv[4]
# Bytes after the first piece over the time from first to last: the rate
# of a paced stream, without the first piece, which goes at once.
rates = [(int(b) - int(n1)) / (float(last) - float(first))
         for _, b, first, last, n1 in rows]
worst = max(rates, key=lambda r: abs(r - asked))
mean = sum(rates) / len(rates)
label = '--rate %s, %s conn%s, 10 s%s' % (rate, conns,
        's' if conns != '1' else '', ' (mean)' if len(rates) > 1 else '')
print('%-44s %10d/s %10.0f/s %7.2f%%' % (label, asked, mean,
      100 * (mean - asked) / asked))
if len(rates) > 1:
    print('%-44s %10d/s %10.0f/s %7.2f%%' % ('  worst connection', asked, worst,
          100 * (worst - asked) / asked))
PY
}

rate_case 1 100k
rate_case 50 20k

gen "$dir/cap" 1 51200
start=$(date +%s%N)
"$bin/tcpmon-throttle" --bytes 1024 --delay 100 < "$dir/cap" > /dev/null
end=$(date +%s%N)
printf '%-44s %12s %11.2fs %8s\n' "--bytes 1024 --delay 100, 50 KiB" "4.8-5.3s" \
    "$(echo "$start $end" | awk '{ print ($2 - $1) / 1e9 }')" ""

# relay_rate_case CONNS RATE: CONNS connections at once through the relay
# with tcpmon-throttle --rate RATE as its stage, each downloading 10 s
# worth from a local server; the rate each client saw, from its first to
# its last byte, less the first read (which goes at once).
relay_rate_case() {
	local conns=$1 rate=$2 bps src spid rpid sport rport
	bps=$(python3 -c "print(int('$rate'.rstrip('k')) * 1024)")
	socat -d -d TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,backlog=128 \
	    "SYSTEM:head -c $((bps * 10)) /dev/zero" 2> "$dir/src.err" < /dev/null &
	spid=$!
	until grep -q 'listening on' "$dir/src.err"; do sleep 0.05; done
	sport=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$dir/src.err")
	"$bin/tcpmon-relay" -l 0 -t 127.0.0.1:"$sport" -o /dev/null \
	    --through "$bin/tcpmon-throttle --down --rate $rate" 2> "$dir/relay.err" < /dev/null &
	rpid=$!
	until grep -q 'listening on' "$dir/relay.err"; do sleep 0.05; done
	rport=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$dir/relay.err")
	python3 - "$rport" "$conns" "$bps" "$rate" <<'PY'
import socket, sys, threading, time
port, conns, asked, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rates = []
def one():
    s = socket.create_connection(('127.0.0.1', port), timeout=60)
    first = s.recv(1 << 20)
    t0, n = time.monotonic(), 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
        t1 = time.monotonic()
    rates.append(n / (t1 - t0))
ts = [threading.Thread(target=one) for _ in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join()
worst = max(rates, key=lambda r: abs(r - asked))
mean = sum(rates) / len(rates)
label = 'relay: --rate %s, %d conn%s, 10 s%s' % (rate, conns,
        's' if conns != 1 else '', ' (mean)' if conns > 1 else '')
print('%-44s %10d/s %10.0f/s %7.2f%%' % (label, asked, mean,
      100 * (mean - asked) / asked))
if conns > 1:
    print('%-44s %10d/s %10.0f/s %7.2f%%' % ('  worst connection', asked, worst,
          100 * (worst - asked) / asked))
PY
	kill "$rpid" "$spid"
	wait "$rpid" "$spid" 2> /dev/null || true
}

relay_rate_case 1 100k
relay_rate_case 50 20k
