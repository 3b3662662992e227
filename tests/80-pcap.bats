#!/usr/bin/env bats
# tcpmon-pcap: records of real relay captures to pcapng and pcap, checked by
# tshark (every byte each way, no TCP analysis complaint); tcpdump captures
# of the relay's traffic back to the relay's own records; crafted captures
# (tests/gen/pcaps.py) for each trap of TCP reassembly.

load helpers

setup_file() { capture_setup_file; }
teardown_file() { capture_teardown_file; }

check() { python3 "$TESTS_DIR/pcapcheck.py" "$@"; }
pcaps() { python3 "$TESTS_DIR/gen/pcaps.py" "$@"; }
payload() { python3 "$TESTS_DIR/recparse.py" "$1" payload "$2" "$3"; }

# more_capture: IPv6 both sides with a 300 KiB binary echo (half-closed by
# the client, segments split at 65495 bytes), a Unix-socket client, and a
# relay with a stage (sent and delivered copies); in $T/more.tcpmon and
# $T/staged.tcpmon.
more_capture() {
	local ep6
	bg echo6 socat -d -d TCP6-LISTEN:0,bind=[::1],reuseaddr,fork EXEC:cat
	wait_for "$T/echo6.err" 'listening on'
	ep6=$(port_of "$T/echo6.err")
	bg relay "$(bin tcpmon-relay)" -l '[::1]:0' -t "[::1]:$ep6" \
	    -l "unix:$T/r.sock" -t "[::1]:$ep6" -o "$T/more.tcpmon"
	RELAY_PID=$BG_PID
	wait_count "$T/relay.err" 'listening on' 2
	RELAY_PORT=$(port_of "$T/relay.err")
	head -c 300000 /dev/urandom > "$T/bulk"
	echo_xfer "$T/bulk" "$RELAY_PORT" "$T/bulk.back" ::1
	printf 'over a unix socket\n' | timeout 10 socat -t 5 - "UNIX-CONNECT:$T/r.sock" > /dev/null
	wait_count "$T/more.tcpmon" '^TCPMON/1 close ' 2
	stop_relay
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" \
	    --through "$(bin tcpmon-throttle) --rate 10m" -o "$T/staged.tcpmon"
	printf 'through a stage' | timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" > /dev/null
	wait_count "$T/staged.tcpmon" '^TCPMON/1 close .*at=delivered' 1
	stop_relay
}

@test "pcap: --help lists every option and names the man page" {
	help_covers tcpmon-pcap pcap/pcap.c
	run -0 "$(bin tcpmon-pcap)" --version
	assert_output --regexp '^tcpmon-pcap [0-9.]+$'
}

@test "pcap: a relay capture as pcapng: tshark follows every connection byte for byte, no TCP complaint" {
	run -0 "$(bin tcpmon-pcap)" -w "$T/out.pcapng" "$(cap)"
	[ "$(head -c 4 "$T/out.pcapng" | od -An -tx1 | tr -d ' ')" = 0a0d0d0a ]
	run -0 check follow "$(cap)" "$T/out.pcapng"
	assert_output '16 connections followed'
	run -0 check expert "$T/out.pcapng"
	assert_output ''
	# Each packet names its connection and source.
	run -0 --separate-stderr tshark -r "$T/out.pcapng" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e frame.comment
	assert_line --index 0 --regexp '^conn 1 src relay-[0-9]+$'
	assert_line --index 15 --regexp '^conn 16 src relay-[0-9]+$'
	# The reset is an RST, the rest end with FINs both ways.
	[ "$(tshark -r "$T/out.pcapng" -Y 'tcp.flags.reset == 1' | wc -l)" -eq 1 ]
	[ "$(tshark -r "$T/out.pcapng" -Y 'tcp.flags.fin == 1' | wc -l)" -eq 30 ]
	# Checksums right: tshark checks them when asked.
	run -0 --separate-stderr tshark -r "$T/out.pcapng" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
	    -Y 'tcp.checksum.status == 0 || ip.checksum.status == 0'
	assert_output ''
}

@test "pcap: --format pcap writes a classic capture that tshark follows the same way" {
	run -0 "$(bin tcpmon-pcap)" -w "$T/out.pcap" --format pcap "$(cap)"
	[ "$(head -c 4 "$T/out.pcap" | od -An -tx1 | tr -d ' ')" = d4c3b2a1 ]
	run -0 check follow "$(cap)" "$T/out.pcap"
	assert_output '16 connections followed'
	run -0 check expert "$T/out.pcap"
	assert_output ''
}

@test "pcap: -w - from stdin pipes into tshark" {
	run -0 bash -c "'$(bin tcpmon-pcap)' -w - < '$(cap)' | tshark -r - -q -z follow,tcp,raw,5 2>/dev/null"
	assert_line '0001020362696e617279feff'
	assert_line "$(printf '\t')0001020362696e617279feff"
}

@test "pcap: IPv6, a 300 KiB binary echo half-closed, a Unix-socket client, a relay with a stage" {
	more_capture
	cmp "$T/bulk" "$T/bulk.back"
	for fmt in pcapng pcap; do
		run -0 "$(bin tcpmon-pcap)" -w "$T/more.$fmt" --format "$fmt" "$T/more.tcpmon"
		run -0 check follow "$T/more.tcpmon" "$T/more.$fmt"
		assert_output '2 connections followed'
		run -0 check expert "$T/more.$fmt"
		assert_output ''
	done
	# IPv6 addresses as recorded; the Unix-socket client made up (::1,
	# port 1024 + its number), the server as recorded.
	run -0 --separate-stderr tshark -r "$T/more.pcapng" -q -z conv,tcp
	assert_output --regexp "::1:[0-9]+ +<-> +::1:$(grep -ao 'target=\[::1\]:[0-9]*' "$T/more.tcpmon" | head -n 1 | sed 's/.*://')"
	assert_output --regexp '::1:1026 +<-> '
	# Segments of at most 65495 bytes.
	[ "$(tshark -r "$T/more.pcapng" -T fields -e tcp.len | sort -n | tail -n 1)" -eq 65495 ]
	# The stage's capture: the delivered copy, once.
	run -0 "$(bin tcpmon-pcap)" -w "$T/staged.pcapng" "$T/staged.tcpmon"
	run -0 check follow "$T/staged.tcpmon" "$T/staged.pcapng"
	assert_output '1 connections followed'
	run -0 check expert "$T/staged.pcapng"
	assert_output ''
}

@test "pcap: records to pcapng and back: the same bytes each way for every connection" {
	"$(bin tcpmon-pcap)" -w "$T/out.pcapng" "$(cap)"
	"$(bin tcpmon-pcap)" -r "$T/out.pcapng" > "$T/back.tcpmon"
	run -0 check same "$(cap)" "$T/back.tcpmon"
	assert_output '16 connections the same'
	run -0 check conns "$T/back.tcpmon"
	assert_line --index 7 '8 28 0 reset'
	assert_line --index 6 '7 0 0 eof'
	[ "$(head -n 1 "$T/back.tcpmon")" = "$(head -n 1 "$T/back.tcpmon" | grep -E '^TCPMON/1 stream conn=0 src=pcap-out\.pcapng time=[^ ]+ tool=tcpmon-pcap version=[0-9.]+ len=0$')" ]
	# Other tools read them.
	run -0 "$(bin tcpmon-tap)" --list "$T/back.tcpmon"
	assert_output --partial 'reset'
}

@test "pcap: a tcpdump capture of traffic through the relay reads back as the relay's records" {
	make_web "$T"
	start_nginx_unix "$T"
	BG_PIDS+=("$NGINX_PID")
	start_echo
	start_relay -l 0 -t "unix:$T/ngx.sock" -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/relay.tcpmon"
	local p1=$RELAY_PORT p2
	p2=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/relay.err" | sed -n 2p)
	bg tcpdump tcpdump -i lo -U --immediate-mode -B 32768 -s 0 -w "$T/lo.pcap" \
	    "tcp and (port $p1 or port $p2)"
	local td=$BG_PID
	wait_for "$T/tcpdump.err" 'listening on'
	local u=http://127.0.0.1:$p1
	timeout 10 curl -sS -o /dev/null "$u/index.html" "$u/logo.png"
	timeout 10 curl -sS --compressed -o /dev/null "$u/data.json"
	head -c 1000000 /dev/urandom > "$T/bulk"
	echo_xfer "$T/bulk" "$p2" "$T/bulk.back"
	cmp "$T/bulk" "$T/bulk.back"
	printf '\x00\x01binary\xff' | timeout 10 socat -t 5 - TCP:127.0.0.1:"$p2" > /dev/null
	timeout 10 python3 -c '
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /index.html HTTP/1.1\r\nHo")
time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()' "$p1"
	wait_count "$T/relay.tcpmon" '^TCPMON/1 close ' 5
	stop_relay
	kill -INT "$td"
	wait_exit "$td"
	"$(bin tcpmon-pcap)" -r "$T/lo.pcap" "port $p1 or port $p2" > "$T/lo.tcpmon"
	run -0 check same "$T/relay.tcpmon" "$T/lo.tcpmon"
	assert_output '5 connections the same'
	run -0 check conns "$T/lo.tcpmon"
	assert_line --regexp '^[0-9]+ 1000000 1000000 eof$'
	assert_line --regexp '^[0-9]+ 28 0 reset$'
	# A filter keeps only what it matches: the echo's port alone.
	"$(bin tcpmon-pcap)" -r "$T/lo.pcap" "tcp port $p2" > "$T/p2.tcpmon"
	[ "$(grep -ac '^TCPMON/1 open ' "$T/p2.tcpmon")" -eq 2 ]
}

@test "pcap: out-of-order segments are put in order" {
	pcaps ooo "$T/x.pcap"
	"$(bin tcpmon-pcap)" -r "$T/x.pcap" > "$T/x.tcpmon"
	[ "$(payload "$T/x.tcpmon" 1 c2s)" = AAAAAAAAAABBBBBBBBBBCCCCCCCCCC ]
	run -0 check conns "$T/x.tcpmon"
	assert_output '1 30 40 eof'
	run -1 grep -a '^TCPMON/1 note' "$T/x.tcpmon"
}

@test "pcap: a retransmission with other bytes loses to the first copy" {
	pcaps retrans "$T/x.pcap"
	"$(bin tcpmon-pcap)" -r "$T/x.pcap" > "$T/x.tcpmon"
	[ "$(payload "$T/x.tcpmon" 1 c2s)" = first-copy ]
	run -0 check conns "$T/x.tcpmon"
	assert_output '1 10 40 eof'
}

@test "pcap: overlapping segments: bytes already written or held win" {
	pcaps overlap "$T/x.pcap"
	"$(bin tcpmon-pcap)" -r "$T/x.pcap" > "$T/x.tcpmon"
	[ "$(payload "$T/x.tcpmon" 1 c2s)" = AAAAAAAAAAbbbbbddddddddddCCCCCCCCCC ]
}

@test "pcap: a connection picked up mid-stream: a note, the higher port as client, data from the first segment" {
	pcaps midstream "$T/x.pcap"
	"$(bin tcpmon-pcap)" -r "$T/x.pcap" > "$T/x.tcpmon"
	run -0 grep -a '^TCPMON/1 open ' "$T/x.tcpmon"
	assert_output --regexp 'client=10\.0\.0\.1:50123 target=10\.0\.0\.2:80 len=0$'
	run -0 grep -a -A1 '^TCPMON/1 note conn=1 ' "$T/x.tcpmon"
	assert_output --partial 'picked up mid-stream'
	[ "$(payload "$T/x.tcpmon" 1 s2c | head -c 17)" = tail-of-an-answer ]
	run -0 check conns "$T/x.tcpmon"
	assert_output '1 27 57 eof'
}

@test "pcap: a 4-tuple used again after its close is a new connection" {
	pcaps reuse "$T/x.pcap"
	"$(bin tcpmon-pcap)" -r "$T/x.pcap" > "$T/x.tcpmon"
	run -0 check conns "$T/x.tcpmon"
	assert_output "$(printf '1 3 0 eof\n2 3 1 eof')"
	[ "$(payload "$T/x.tcpmon" 2 c2s)" = two ]
}

@test "pcap: a segment never captured is a note with its byte count, never invented bytes" {
	pcaps gap "$T/x.pcap"
	"$(bin tcpmon-pcap)" -r "$T/x.pcap" > "$T/x.tcpmon"
	[ "$(payload "$T/x.tcpmon" 1 c2s)" = 0123456789abcdefghij ]
	run -0 grep -a '^TCPMON/1 note ' "$T/x.tcpmon"
	assert_output --regexp '^TCPMON/1 note conn=1 src=pcap-x\.pcap time=[^ ]+ dir=c2s level=warning gap=10 len=[0-9]+$'
	# At the end of the capture too, the connection closed as stopped.
	pcaps gapend "$T/y.pcap"
	"$(bin tcpmon-pcap)" -r "$T/y.pcap" > "$T/y.tcpmon"
	run -0 grep -a '^TCPMON/1 \(note\|close\) ' "$T/y.tcpmon"
	assert_line --index 0 --partial 'dir=c2s level=warning gap=5 '
	assert_line --index 2 --partial 'reason=stopped c2s=20 s2c=0'
	grep -aq 'the capture ended with the connection open' "$T/y.tcpmon"
}

@test "pcap: early segments held are capped per direction, then given up as a gap" {
	pcaps flood "$T/x.pcap"
	run -0 /usr/bin/time -f '%M' -o "$T/rss" "$(bin tcpmon-pcap)" -r "$T/x.pcap" -- 'tcp'
	grep -a '^TCPMON/1 note ' <<< "$output" | grep -q ' gap=100 '
	[ "$(cat "$T/rss")" -lt "$(rss_cap 24000)" ]
	# A smaller --buffer holds less.
	run -0 /usr/bin/time -f '%M' -o "$T/rss2" "$(bin tcpmon-pcap)" -r "$T/x.pcap" --buffer 64k
	[ "$(cat "$T/rss2")" -lt "$(cat "$T/rss")" ]
}

@test "pcap: every link type: Ethernet, raw IP, SLL, SLL2, NULL, LOOP, pcapng; IPv4 and IPv6" {
	for l in eth raw sll sll2 null loop pcapng; do
		for c in plain v6; do
			pcaps "$c" "$T/$c.$l" "$l"
			"$(bin tcpmon-pcap)" -r "$T/$c.$l" > "$T/$c.$l.tcpmon"
			run -0 check conns "$T/$c.$l.tcpmon"
			assert_output '1 27 40 eof'
		done
	done
	grep -aq 'client=\[2001:db8::1\]:40000 target=\[2001:db8::2\]:8080' "$T/v6.sll2.tcpmon"
}

@test "pcap: a capture cut in the middle of a packet: exit 2, one line, the records before kept" {
	pcaps cut "$T/x.pcap"
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -r "$T/x.pcap"
	[ "${#stderr_lines[@]}" -eq 1 ]
	assert_equal "$stderr" "tcpmon-pcap: $T/x.pcap: truncated dump file; tried to read 54 captured bytes, only got 27"
	printf '%s\n' "$output" | grep -aq '^TCPMON/1 data conn=1 .* dir=s2c len=40$'
}

@test "pcap: bad usage, a bad filter, a file that is not a capture, a missing file" {
	run -2 --separate-stderr "$(bin tcpmon-pcap)"
	assert_equal "${stderr_lines[0]}" "tcpmon-pcap: one of -w OUT and -r FILE"
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -w x -r y
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -w "$T/o" --format pcapx
	assert_equal "$stderr" "tcpmon-pcap: --format pcapx: pcapng or pcap"
	pcaps plain "$T/x.pcap"
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -r "$T/x.pcap" 'port 80 and'
	assert_equal "$stderr" "tcpmon-pcap: filter port 80 and: can't parse filter expression: syntax error"
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -r "$(cap)"
	assert_output ''
	[ "${#stderr_lines[@]}" -eq 1 ]
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -r "$T/nope.pcap"
	assert_equal "$stderr" "tcpmon-pcap: $T/nope.pcap: No such file or directory"
	# Records that are not records, for -w: exit 2, what came before kept.
	printf 'GET / HTTP/1.1\r\n' > "$T/bad"
	run -2 --separate-stderr "$(bin tcpmon-pcap)" -w "$T/o.pcapng" "$T/bad"
	[ "${#stderr_lines[@]}" -eq 1 ]
}
