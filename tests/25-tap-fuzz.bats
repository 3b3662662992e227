#!/usr/bin/env bats
# Random and corrupt input for tcpmon-tap and tcpmon-grep: never a crash or
# a hang, only exit 0, 1 or 2 (run it with the SAN=1 build too).

load helpers

setup_file() { capture_setup_file; }
teardown_file() { capture_teardown_file; }

# mutants N: N damaged copies of the capture in $T/m.K, and as many
# streams of well-formed records holding random payloads and fields.
mutants() {
	python3 - "$CAPDIR/cap.tcpmon" "$T" "$1" <<-'PY'
	import os, random, sys
	src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
	d = open(src, 'rb').read()
	rnd = random.Random(4)
	def rec(kind, conn, payload, fields=''):
	    return b'TCPMON/1 %s conn=%d%s len=%d\n%s\n' % (kind, conn,
	        fields, len(payload), payload)
	for k in range(n):
	    m = bytearray(d)
	    how = k % 5
	    if how == 0:
	        for _ in range(rnd.randint(1, 20)):
	            m[rnd.randrange(len(m))] = rnd.randrange(256)
	    elif how == 1:
	        m = m[:rnd.randrange(len(m))]
	    elif how == 2:
	        i = rnd.randrange(len(m))
	        m[i:i] = os.urandom(rnd.randint(1, 64))
	    elif how == 3:
	        i = rnd.randrange(len(m))
	        j = rnd.randrange(len(m))
	        m = m[:i] + m[j:]
	    else:
	        m = bytearray()
	        for _ in range(rnd.randint(1, 60)):
	            kind = rnd.choice([b'open', b'data', b'close', b'shutdown',
	                b'note', b'odd'])
	            dirf = rnd.choice([b'', b' dir=c2s', b' dir=s2c'])
	            p = rnd.choice([os.urandom(rnd.randint(0, 3000)),
	                b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n'
	                b'Content-Encoding: gzip\r\n\r\n5\r\n' + os.urandom(5) +
	                b'\r\nzz\r\n',
	                b'GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nab',
	                b'\x1b[2J' * 3, b''])
	            m += rec(kind, rnd.randint(0, 4), p, dirf +
	                rnd.choice([b'', b' reason=reset c2s=x', b' xform=xml']))
	    open('%s/m.%d' % (out, k), 'wb').write(m)
	PY
}

@test "fuzz: damaged captures give output or one error line, never a crash or hang" {
	mutants 60
	local f rc args
	for f in "$T"/m.*; do
		for args in "" "--list" "--json" "--layout side --width 70 --color always" \
		    "-e HTTP --header Content-Type" "--raw --conn 2 --dir response" "--no-http -v --conn 1"; do
			rc=0
			# shellcheck disable=SC2086
			timeout 10 "$(bin tcpmon-tap)" $args "$f" > /dev/null 2> "$T/err" || rc=$?
			if [ "$rc" -gt 2 ]; then
				echo "tcpmon-tap $args $f: exit $rc"; cat "$T/err"; return 1
			fi
			[ "$rc" -ne 2 ] || [ "$(wc -l < "$T/err")" -le 2 ]
		done
		rc=0
		timeout 10 "$(bin tcpmon-grep)" -e 'H.TP' --max-hold 2k "$f" > "$T/g" 2> "$T/err" || rc=$?
		if [ "$rc" -gt 2 ]; then
			echo "tcpmon-grep $f: exit $rc"; cat "$T/err"; return 1
		fi
		# What grep lets through is a stream tap reads to its end.
		timeout 10 "$(bin tcpmon-tap)" "$T/g" > /dev/null
	done
}

@test "fuzz: random bytes after a good tag" {
	local i rc
	for i in $(seq 1 30); do
		{ printf 'TCPMON/1 '; head -c $((i * 37)) /dev/urandom; } > "$T/r"
		rc=0
		timeout 10 "$(bin tcpmon-tap)" "$T/r" > /dev/null 2>&1 || rc=$?
		[ "$rc" -eq 2 ]
		rc=0
		timeout 10 "$(bin tcpmon-grep)" -e x "$T/r" > /dev/null 2>&1 || rc=$?
		[ "$rc" -eq 2 ]
	done
}
