#!/usr/bin/env bash
# bench/fmt.sh - tcpmon-fmt-xml against `xmllint --format` on the same SOAP
# bodies: a 200 MB record stream of messages of 1 KiB to 5 MiB, formatted in
# one run; time and peak RSS from /usr/bin/time.  xmllint formats the same
# bodies, as files, in one process (all the file names on one command line),
# so neither side pays a process start per message.  FMT_BENCH_MB sets
# another size.
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

# Page cache warm for both.
cat "$dir/stream.tcpmon" "$dir"/bodies/* > /dev/null
run fmt timeout 600 "$bin/tcpmon-fmt-xml" "$dir/stream.tcpmon"
fmt_s=$SECS fmt_kb=$KB
(cd "$dir/bodies" && run xmllint timeout 600 xmllint --format ./*.xml)
xl_s=$(cut -d' ' -f1 "$dir/xmllint.time")
xl_kb=$(cut -d' ' -f2 "$dir/xmllint.time")

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
