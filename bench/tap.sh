#!/usr/bin/env bash
# bench/tap.sh - tcpmon-tap and tcpmon-grep on a capture of mixed HTTP
# traffic (1 GiB by default), in one run: the conversation view to
# /dev/null, --list, and tcpmon-grep with a literal pattern against
# grep -c on the same file.  Prints a table with MB/s and peak RSS.
#
#   TCPMON_BIN   the built tools (make bench sets it)
#   TAP_BENCH_MB size of the capture in MiB (1024)
#   TAP_BENCH_DIR where the capture is kept between runs (/tmp/tcpmon-bench)
set -eu
cd "$(dirname "$0")/.."
bin=${TCPMON_BIN:-$PWD/bin}
mb=${TAP_BENCH_MB:-1024}
dir=${TAP_BENCH_DIR:-/tmp/tcpmon-bench}
cap=$dir/mixed-$mb.tcpmon
mkdir -p "$dir"

if [ ! -s "$cap" ]; then
	echo "bench/tap.sh: writing a $mb MiB capture to $cap" >&2
	timeout 600 python3 bench/gencap.py "$mb" "$cap.tmp"
	mv "$cap.tmp" "$cap"
fi
bytes=$(stat -c %s "$cap")
# Every row reads from the page cache, as the first one would not.
cat "$cap" > /dev/null

# row NAME TARGET_MBS OUT CMD...: runs CMD once under time(1), output to
# OUT, and prints a row of the table.  GNU grep stops at the first match
# when its output is /dev/null, so the greps write to a file.  The rate is
# of wall-clock time; CPU time is shown too, since on a shared machine the
# wall clock also counts other people's work.
row() {
	local name=$1 target=$2 out=$3 secs rss cpu rate verdict t0 t1
	shift 3
	t0=$EPOCHREALTIME
	/usr/bin/time -f '%M %U %S' -o "$dir/time" "$@" > "$out" 2> "$dir/err" || {
		rc=$?
		# grep and tcpmon-grep exit 1 when nothing matched
		[ "$rc" -eq 1 ] || { echo "$name: exit $rc" >&2; cat "$dir/err" >&2; exit 1; }
	}
	t1=$EPOCHREALTIME
	read -r rss usr sys < "$dir/time"
	cpu=$(awk -v a="$usr" -v b="$sys" 'BEGIN { printf "%.2f", a + b }')
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	rate=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? b / s / 1e6 : 0) }')
	verdict=""
	if [ "$target" != - ]; then
		verdict=$(awk -v r="$rate" -v t="$target" 'BEGIN { print ((r >= t) ? "ok" : "SLOW") }')
	fi
	printf '%-36s %8.3f %8s %8s %10s  %-8s %s\n' "$name" "$secs" "$cpu" \
	    "$rate" "$((rss / 1024)) MiB" "${target/-/}" "$verdict"
	last_rate=$rate
}

printf 'capture: %s, %d bytes, %d records\n' "$cap" "$bytes" \
    "$(grep -ac '^TCPMON/1 ' "$cap" || true)"
printf 'machine: %s, %s CPUs; load average %s\n' \
    "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %8s %8s %8s %10s  %-8s %s\n' "what" "wall s" "cpu s" "MB/s" \
    "peak RSS" "target" ""
n=/dev/null
row "cat (reading the file)" - $n cat "$cap"
row "tcpmon-tap (conversation view)" 200 $n "$bin/tcpmon-tap" "$cap"
row "tcpmon-tap --list" 1000 $n "$bin/tcpmon-tap" --list "$cap"
row "tcpmon-tap --json" - $n "$bin/tcpmon-tap" --json "$cap"
row "grep -c Fault" - "$dir/out" grep -c Fault "$cap"
grep_rate=$last_rate
row "tcpmon-grep -e Fault" "$grep_rate" "$dir/out" "$bin/tcpmon-grep" \
    -e Fault "$cap"
row "tcpmon-grep -e 'Server Fault|Error'" - "$dir/out" "$bin/tcpmon-grep" \
    -e 'Server Fault|Error' "$cap"
row "tcpmon-grep --header C-E=gzip" - "$dir/out" "$bin/tcpmon-grep" \
    --header Content-Encoding=gzip "$cap"
rm -f "$dir/out"
