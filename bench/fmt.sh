#!/usr/bin/env bash
# bench/fmt.sh - tcpmon-fmt-xml against `xmllint --format` on the same SOAP
# bodies: a 200 MB record stream of messages of 1 KiB to 5 MiB, formatted in
# one run; time and peak RSS from /usr/bin/time, best of three rounds.
# xmllint formats the same bodies, as files, in one process (all the file
# names on one command line), so neither side pays a process start per
# message.  FMT_BENCH_MB sets another size.
set -eu
cd "$(dirname "$0")/.."
bin=${TCPMON_BIN:-$PWD/bin}
mb=${FMT_BENCH_MB:-200}
dir=$(mktemp -d /tmp/tm-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

read -r nmsg bytes < <(python3 bench/fmtgen.py "$dir" "$mb")
largest=$(find "$dir/bodies" -type f -printf '%s\n' | sort -n | tail -n 1)

# run NAME CMD...: one timed run, output thrown away; sets SECS and KB.
run() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$dir/$name.time" "$@" > /dev/null
	read -r SECS KB < "$dir/$name.time"
}

# Page cache warm for both; then three rounds, one of each in turn, and
# the best of each kept, so that a busy moment of the machine does not
# decide.  Peak RSS is the highest of the rounds.
cat "$dir/stream.tcpmon" "$dir"/bodies/* > /dev/null
fmt_s=999999 fmt_kb=0 xl_s=999999 xl_kb=0
for round in 1 2 3; do
	run fmt timeout 600 "$bin/tcpmon-fmt-xml" "$dir/stream.tcpmon"
	fmt_s=$(awk -v a="$fmt_s" -v b="$SECS" 'BEGIN { print (b < a ? b : a) }')
	[ "$KB" -gt "$fmt_kb" ] && fmt_kb=$KB
	(cd "$dir/bodies" && run xmllint timeout 600 xmllint --format ./*.xml)
	read -r SECS KB < "$dir/xmllint.time"
	xl_s=$(awk -v a="$xl_s" -v b="$SECS" 'BEGIN { print (b < a ? b : a) }')
	[ "$KB" -gt "$xl_kb" ] && xl_kb=$KB
	echo "round $round: tcpmon-fmt-xml ${fmt_s}s best, xmllint ${xl_s}s best" >&2
done

# Every message must have been formatted for the time to mean anything.
nfmt=$("$bin/tcpmon-fmt-xml" "$dir/stream.tcpmon" | grep -ac '^TCPMON/1 data .* xform=xml ')

mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1048576 : 0) }'; }
echo
echo "## fmt: $nmsg SOAP messages, $((bytes / 1048576)) MiB, largest body $((largest / 1024)) KiB; $nfmt formatted"
printf '| %-32s | %8s | %8s | %12s |\n' tool seconds MiB/s "peak RSS MiB"
printf '|%s|%s|%s|%s|\n' ---------------------------------- ---------- ---------- --------------
printf '| %-32s | %8s | %8s | %12s |\n' "tcpmon-fmt-xml (record stream)" "$fmt_s" "$(mbps "$fmt_s")" $((fmt_kb / 1024))
printf '| %-32s | %8s | %8s | %12s |\n' "xmllint --format (same bodies)" "$xl_s" "$(mbps "$xl_s")" $((xl_kb / 1024))
verdict=ok
awk -v a="$fmt_s" -v b="$xl_s" 'BEGIN { exit !(a <= b * 1.05) }' ||
    { echo "fmt: tcpmon-fmt-xml slower than xmllint --format" >&2; verdict=slow; }
# Bounded by the largest message, not the stream: the message held, its
# decoded body, the tree and the output are each a few times its size.
[ "$fmt_kb" -lt $((largest / 1024 * 40 + 65536)) ] ||
    { echo "fmt: peak RSS not bounded by the largest message" >&2; verdict=big; }
[ "$nfmt" -eq "$nmsg" ] || { echo "fmt: only $nfmt of $nmsg formatted" >&2; verdict=bad; }
echo "verdict: $verdict"
[ "$verdict" = ok ]
