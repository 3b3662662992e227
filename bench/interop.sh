#!/usr/bin/env bash
# bench/interop.sh - tcpmon-pcap both ways on the mixed capture of
# bench/gencap.py (PCAP_MIB MiB, 256 by default): records to pcapng and to
# pcap in MB/s of records read, and the pcap read back to records next to
# `tcpflow -r` (which writes one file per direction) on the same file, with
# peak RSS.  Goals (issue 15): records to pcapng at least 500 MB/s; pcap to
# records at least as fast as tcpflow, under 64 MiB of RSS; tcpmon-tap --har
# and --json=exchange at least 150 MB/s.
set -eu
. "$(dirname "$0")/lib.bash"
BIN=${TCPMON_BIN:-bin}
MIB=${PCAP_MIB:-256}
command -v tcpflow > /dev/null || die "tcpflow is missing (Debian: tcpflow)"

python3 "$(dirname "$0")/gencap.py" "$MIB" "$D/cap.tcpmon"
size=$(stat -c %s "$D/cap.tcpmon")

# run NAME CMD...: wall seconds and peak RSS KiB of CMD into $secs, $rss.
run() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$D/$name.time" "$@" || die "$name failed"
	read -r secs rss < "$D/$name.time"
}
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? b / s / 1e6 : 0) }'; }

printf '%s MiB of records (%d bytes)\n\n' "$MIB" "$size"
printf '%-34s %10s %8s %10s\n' step seconds MB/s 'RSS KiB'
run topcapng "$BIN/tcpmon-pcap" -w "$D/cap.pcapng" "$D/cap.tcpmon"
ng=$(mbs "$size" "$secs")
printf '%-34s %10s %8s %10s\n' 'records -> pcapng' "$secs" "$ng" "$rss"
run topcap "$BIN/tcpmon-pcap" -w "$D/cap.pcap" --format pcap "$D/cap.tcpmon"
printf '%-34s %10s %8s %10s\n' 'records -> pcap' "$secs" "$(mbs "$size" "$secs")" "$rss"
psize=$(stat -c %s "$D/cap.pcap")
run frompcap sh -c "'$BIN/tcpmon-pcap' -r '$D/cap.pcap' > '$D/back.tcpmon'"
ours=$secs ours_rss=$rss
printf '%-34s %10s %8s %10s\n' 'pcap -> records (tcpmon-pcap -r)' "$secs" "$(mbs "$psize" "$secs")" "$rss"
mkdir "$D/flow"
run tcpflow sh -c "tcpflow -Fk -r '$D/cap.pcap' -o '$D/flow' > /dev/null 2>&1"
printf '%-34s %10s %8s %10s\n' 'pcap -> files (tcpflow -r)' "$secs" "$(mbs "$psize" "$secs")" "$rss"
theirs=$secs
# The tool's own rate (into /dev/null), and with its output written to a
# file beside it (the output is a third larger than the input: base64).
run har sh -c "'$BIN/tcpmon-tap' --har '$D/cap.tcpmon' > /dev/null"
har=$(mbs "$size" "$secs")
printf '%-34s %10s %8s %10s\n' 'records -> HAR (tap --har)' "$secs" "$har" "$rss"
run harf sh -c "'$BIN/tcpmon-tap' --har '$D/cap.tcpmon' > '$D/cap.har'"
printf '%-34s %10s %8s %10s\n' '  the same, into a file' "$secs" "$(mbs "$size" "$secs")" "$rss"
rm -f "$D/cap.har"
run ecs sh -c "'$BIN/tcpmon-tap' --json=exchange '$D/cap.tcpmon' > /dev/null"
ecs=$(mbs "$size" "$secs")
printf '%-34s %10s %8s %10s\n' 'records -> JSON (--json=exchange)' "$secs" "$ecs" "$rss"

printf '\n%-48s %8s %8s  %s\n' target value needed verdict
verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo 'NOT met'; fi; }
printf '%-48s %8s %8s  %s\n' 'records -> pcapng MB/s' "$ng" '>= 500' "$(verdict "$ng >= 500")"
printf '%-48s %8s %8s  %s\n' 'pcap -> records seconds vs tcpflow' "$ours" "<= $theirs" "$(verdict "$ours <= $theirs")"
printf '%-48s %8s %8s  %s\n' 'pcap -> records peak RSS KiB' "$ours_rss" '< 65536' "$(verdict "$ours_rss < 65536")"
printf '%-48s %8s %8s  %s\n' 'records -> HAR MB/s' "$har" '>= 150' "$(verdict "$har >= 150")"
printf '%-48s %8s %8s  %s\n' 'records -> JSON exchanges MB/s' "$ecs" '>= 150' "$(verdict "$ecs >= 150")"
