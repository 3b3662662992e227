#!/usr/bin/env bats
# The selectors tcpmon-tap shares with tcpmon-grep: --conn, --since/--until,
# -e over the payload across record boundaries, --header, -v; bad patterns
# and times are refused before any input is read.

load helpers

# Four connections, made by hand so that the record boundaries are known.
streams() {
	{
	mkrec stream 0 - 2026-11-22T09:00:00Z '' tool=test version=1
	mkrec open 1 - 2026-11-22T09:59:00Z '' client=c:1 target=s:1
	mkrec data 1 c2s 2026-11-22T09:59:01Z 'POST /calc HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: 20\r\n\r\n<a>Fa'
	mkrec data 1 c2s 2026-11-22T09:59:02Z 'ult here</a>xxxxxxxx'
	mkrec open 2 - 2026-11-22T10:00:00Z '' client=c:2 target=s:1
	mkrec data 2 c2s 2026-11-22T10:00:01Z 'something Fa'
	mkrec data 2 s2c 2026-11-22T10:00:02Z 'ult in the other direction'
	mkrec data 1 s2c 2026-11-22T10:30:00Z 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Trace: abc-123\r\nContent-Length: 2\r\n\r\n{}'
	mkrec close 1 - 2026-11-22T10:30:01Z '' reason=eof c2s=107 s2c=92
	mkrec close 2 - 2026-11-22T10:30:02Z '' reason=reset c2s=12 s2c=26
	mkrec open 3 - 2026-11-22T11:00:00Z '' client=c:3 target=s:1
	mkrec data 3 c2s 2026-11-22T11:00:01Z 'hello\nGET /x HTTP/1.1\r\n'
	mkrec data 3 c2s 2026-11-22T11:00:02Z 'GET /y HTTP/1.1\r\n\r\n'
	mkrec close 3 - 2026-11-22T11:00:03Z '' reason=eof c2s=44 s2c=0
	mkrec note 0 - 2026-11-22T11:00:04Z 'end of test'
	} > "$T/s.tcpmon"
}

conns() { grep -oE '\[#[0-9]+\] open' | grep -oE '[0-9]+' | sort -n | sed 's/^/#/' | tr '\n' ' '; }

@test "select: --conn picks connections by number" {
	streams
	run -0 "$(bin tcpmon-tap)" --conn 2,3 "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#2 #3 " ]
	assert_line --regexp 'note: end of test$'
	run -0 "$(bin tcpmon-tap)" --conn 3 -v "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 #2 " ]
	run -2 --separate-stderr "$(bin tcpmon-tap)" --conn 1,x "$T/s.tcpmon"
	assert_equal "$stderr" "tcpmon-tap: --conn 1,x: x: invalid"
	run -2 "$(bin tcpmon-tap)" --conn 0 "$T/s.tcpmon"
}

@test "select: -e matches across record boundaries, within one direction" {
	streams
	run -0 "$(bin tcpmon-tap)" -e 'Fault' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
	run -0 "$(bin tcpmon-tap)" -e 'F.u?l+t\s+here' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
	run -1 "$(bin tcpmon-tap)" -e 'fault' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "" ]
	run -0 "$(bin tcpmon-tap)" -i -e 'fault' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
	run -0 "$(bin tcpmon-tap)" -e 'nomatch' -e 'other dir' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#2 " ]
	run -0 "$(bin tcpmon-tap)" -v -e 'Fault' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#2 #3 " ]
}

@test "select: several -e patterns each mean what they mean alone" {
	streams
	# Taken together they are one pattern, unless a pattern refers to
	# its groups by number or its text would run on past it.
	run -0 "$(bin tcpmon-tap)" -e '(z)\1' -e '(x)\1' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
	run -0 "$(bin tcpmon-tap)" -e '\Qnomatch' -e 'hello\E' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#3 " ]
	run -0 "$(bin tcpmon-tap)" -e '(*UCP)\bsomething\b' -e 'nomatch' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#2 " ]
	run -0 "$(bin tcpmon-tap)" -e '(?x) hel lo  # a comment' -e 'other dir' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#2 #3 " ]
}

@test "select: ^ is the start of a direction, not of each record; lookbehind spans records" {
	streams
	run -1 "$(bin tcpmon-tap)" -e '^GET' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "" ]
	run -0 "$(bin tcpmon-tap)" -e '(?m)^GET /y' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#3 " ]
	run -0 "$(bin tcpmon-tap)" -e '(?<=<a>Fa)ult' "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
}

@test "select: --header NAME and NAME=PATTERN over HTTP heads of either direction" {
	streams
	run -0 "$(bin tcpmon-tap)" --header x-trace "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
	run -0 "$(bin tcpmon-tap)" --header 'X-Trace=^abc-\d+$' --header content-type=xml "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
	run -1 "$(bin tcpmon-tap)" --header 'X-Trace=^abc-\d+$' --header content-type=html "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "" ]
	run -0 "$(bin tcpmon-tap)" --header X-Nope -v "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 #2 #3 " ]
	run -2 --separate-stderr "$(bin tcpmon-tap)" --header '=x' "$T/s.tcpmon"
	assert_equal "$stderr" "tcpmon-tap: --header =x: no header name"
}

@test "select: --since and --until: connections with a record in the interval" {
	streams
	run -0 "$(bin tcpmon-tap)" --since 2026-11-22T10:00:00Z --until 2026-11-22T10:59:59Z "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 #2 " ]
	run -0 "$(bin tcpmon-tap)" --since 10:31 "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#3 " ]
	run -0 "$(bin tcpmon-tap)" --until 09:59:30.5 "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "#1 " ]
	run -1 "$(bin tcpmon-tap)" --since 2026-11-23 "$T/s.tcpmon"
	[ "$(conns <<< "$output")" = "" ]
	run -1 "$(bin tcpmon-tap)" --since -10m "$T/s.tcpmon"
	run -2 --separate-stderr "$(bin tcpmon-tap)" --since yesterday "$T/s.tcpmon"
	[[ $stderr == "tcpmon-tap: --since yesterday: not a time"* ]]
	run -2 "$(bin tcpmon-tap)" --until 25:00 "$T/s.tcpmon"
}

@test "select: selectors combine; the views take them too" {
	streams
	run -0 "$(bin tcpmon-tap)" --list -e Fa --since 10:00 "$T/s.tcpmon"
	assert_line --regexp '^#1 +200 +s:1 +POST /calc '
	assert_line --regexp '^#2 +reset '
	# Bytes past the request's Content-Length: not HTTP, a row of
	# their own.
	assert_line --regexp '^#1 +eof +s:1 +\(not HTTP\) +5 +0 '
	[ "${#lines[@]}" -eq 4 ]
	run -0 "$(bin tcpmon-tap)" --json -e 'Fault' "$T/s.tcpmon"
	refute_line --partial '"conn":2'
	assert_line --partial '"conn":1'
	run -0 "$(bin tcpmon-tap)" --raw --conn 1 --dir request -e 'Fault' "$T/s.tcpmon"
	assert_output --partial 'Fault here</a>'
	run -1 --separate-stderr "$(bin tcpmon-tap)" --raw --conn 1 --dir request -e 'nowhere' "$T/s.tcpmon"
	assert_output ""
	assert_equal "$stderr" "tcpmon-tap: no connection selected"
}

@test "select: a bad pattern is an error before any input is read" {
	mkfifo "$T/fifo"
	# Nobody writes the fifo: reading it would hang until the timeout.
	run -2 --separate-stderr timeout 5 "$(bin tcpmon-tap)" -e 'a(b' "$T/fifo"
	assert_equal "$stderr" "tcpmon-tap: -e 'a(b': missing closing parenthesis at offset 3"
	run -2 --separate-stderr timeout 5 "$(bin tcpmon-tap)" --header 'Host=[z-a]' "$T/fifo"
	[[ $stderr == "tcpmon-tap: --header Host '[z-a]': range out of order"* ]]
	run -2 --separate-stderr timeout 5 "$(bin tcpmon-grep)" -e ok -e '*' "$T/fifo"
	[[ $stderr == "tcpmon-grep: -e '*': quantifier does not follow"* ]]
}

@test "select: past --max-hold a connection is decided on what was seen, and a note says so" {
	{
	mkrec open 1 - 2026-11-22T10:00:00Z '' client=c:1 target=s:1
	mkrec data 1 c2s 2026-11-22T10:00:01Z "$(head -c 3000 /dev/zero | tr '\0' a)"
	mkrec data 1 c2s 2026-11-22T10:00:02Z 'needle'
	mkrec close 1 - 2026-11-22T10:00:03Z '' reason=eof
	} > "$T/big"
	run -1 --separate-stderr "$(bin tcpmon-tap)" -e needle --max-hold 2k "$T/big"
	[[ $stderr == *"connection t1 #1: "*" bytes held back, over --max-hold 2048: decided on what was seen so far"* ]]
	assert_line --regexp 'note warning: connection t1 #1: .* \(not selected\)$'
	run -0 "$(bin tcpmon-tap)" -e needle "$T/big"
	assert_line --regexp '\[#1\] close: eof'
}

@test "select: a --conn the input does not have is said on stderr, exit 1, as grep(1)" {
	streams
	run -1 --separate-stderr "$(bin tcpmon-tap)" --conn 99 "$T/s.tcpmon"
	assert_equal "$stderr" "tcpmon-tap: no connection selected"
	refute_output --partial '] open'
	run -1 --separate-stderr "$(bin tcpmon-tap)" --list --conn 99 "$T/s.tcpmon"
	assert_output --regexp '^CONN '
	run -0 "$(bin tcpmon-tap)" --conn 3 "$T/s.tcpmon"
}

@test "select: merged captures: the views name each connection's source, --conn SRC#N picks one" {
	streams
	sed 's/ src=t1 / src=r2 /' "$T/s.tcpmon" > "$T/r2.tcpmon"
	# Interleaved, as two relays writing to one pipe would be.
	python3 - "$T/s.tcpmon" "$T/r2.tcpmon" > "$T/merged" <<-'PY'
	import sys
	def recs(p):
	    d, pos, out = open(p, 'rb').read(), 0, []
	    while pos < len(d):
	        nl = d.index(b'\n', pos)
	        end = nl + 2 + int(d[pos:nl].rsplit(b'len=', 1)[1])
	        out.append(d[pos:end])
	        pos = end
	    return out
	a, b = recs(sys.argv[1]), recs(sys.argv[2])
	sys.stdout.buffer.write(b''.join(x for p in zip(a, b) for x in p))
	PY
	run -0 "$(bin tcpmon-tap)" --conn 1 "$T/merged"
	assert_line --regexp '^2026-11-22 09:59:00\.000000 \[r2#1\] open c:1 -> s:1$'
	assert_line --regexp '^[0-9:.]+ \[t1#1\] close: eof'
	assert_line --regexp '^[0-9:.]+ \[r2#1\] close: eof'
	run -0 "$(bin tcpmon-tap)" --conn 'r2#1' "$T/merged"
	refute_line --partial '[t1#1]'
	assert_line --regexp '\[r2#1\] close: eof'
	run -0 "$(bin tcpmon-tap)" --list --conn 'r2#1,t1#2' "$T/merged"
	assert_line --regexp '^r2#1 +200 '
	assert_line --regexp '^t1#2 +reset '
	[ "${#lines[@]}" -eq 4 ]
	run -1 "$(bin tcpmon-tap)" --conn 'r9#1' "$T/merged"
	# --raw of a number both sources have: the first, and a warning.
	run -0 --separate-stderr "$(bin tcpmon-tap)" --raw --conn 2 --dir response "$T/merged"
	[[ $stderr == *"--conn SRC#2 picks one"* ]]
	run -0 --separate-stderr "$(bin tcpmon-tap)" --raw --conn 'r2#2' --dir response "$T/merged"
	assert_output 'ult in the other direction'
	assert_equal "$stderr" ""
	"$(bin tcpmon-grep)" --conn 'r2#3' "$T/merged" | grep -q ' conn=3 src=r2 '
	! "$(bin tcpmon-grep)" --conn 'r2#3' "$T/merged" | grep -q ' src=t1 .*conn=3\| conn=3 src=t1 '
}
