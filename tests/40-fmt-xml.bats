#!/usr/bin/env bats
# tcpmon-fmt-xml: real SOAP traffic captured by the relay in front of
# nginx, formatted, and compared with what was sent after canonicalisation;
# hand-built streams for the edges (one-byte records, hostile documents,
# records that must pass untouched).

load helpers

DATA="$TESTS_DIR/data/fmt"

fmt_xml() {
	timeout 30 "$(bin tcpmon-fmt-xml)" "$@"
}

# capture_soap: SOAP 1.1 and 1.2 requests and faults over one keep-alive
# connection, responses gzip-compressed and chunked by nginx.
capture_soap() {
	mkdir -p "$T/www"
	cp "$DATA"/* "$T/www/"
	start_nginx "$T/www"
	start_relay -l 0 -t 127.0.0.1:"$NGINX_PORT" -o "$T/cap.tcpmon"
	local u=http://127.0.0.1:$RELAY_PORT
	timeout 20 curl -sf --compressed -o /dev/null \
	    -H 'Content-Type: text/xml; charset=utf-8' \
	    -H 'SOAPAction: "urn:tcpmon:demo#Add"' \
	    --data-binary @"$DATA/soap11-req.xml" "$u/soap11-fault.xml" \
	    --next -sf --compressed -o /dev/null \
	    -H 'Content-Type: application/soap+xml; charset=utf-8' \
	    --data-binary @"$DATA/soap12-req.xml" "$u/soap12-fault.soap12"
	stop_relay
}

@test "fmt-xml: SOAP 1.1 and 1.2 with faults, keep-alive, gzip: formatted and equal after c14n" {
	capture_soap
	[ "$(grep -ac '^TCPMON/1 open ' "$T/cap.tcpmon")" -eq 1 ]
	fmt_xml "$T/cap.tcpmon" > "$T/out.tcpmon"
	run -0 httpmsgs "$T/out.tcpmon" xforms
	assert_output "1 c2s xml
1 s2c dechunk,gunzip,xml
1 c2s xml
1 s2c dechunk,gunzip,xml"
	run -0 httpmsgs "$T/out.tcpmon" bodies 1 c2s "$T/req"
	assert_output 2
	c14n_equal "$DATA/soap11-req.xml" "$T/req.1"
	c14n_equal "$DATA/soap12-req.xml" "$T/req.2"
	run -0 httpmsgs "$T/out.tcpmon" bodies 1 s2c "$T/resp"
	assert_output 2
	c14n_equal "$DATA/soap11-fault.xml" "$T/resp.1"
	c14n_equal "$DATA/soap12-fault.soap12" "$T/resp.2"
	# Indented, declarations kept as written, CDATA and comments kept.
	grep -qx '    <m:Add xmlns:m="urn:tcpmon:demo">' "$T/req.1"
	grep -qF '<m:note><![CDATA[<not> & markup]]></m:note>' "$T/req.1"
	grep -qx '    <!-- the call -->' "$T/req.1"
	[ "$(head -n 1 "$T/req.2")" = "<?xml version='1.0' encoding='utf-8'?>" ]
	# The framing fits the new body; other headers are untouched.
	run -0 httpmsgs "$T/out.tcpmon" heads 1 s2c
	refute_line --regexp '^(Transfer|Content)-Encoding:'
	assert_line "Content-Length: $(wc -c < "$T/resp.1")"
	assert_line 'Content-Type: application/soap+xml'
	assert_line --regexp '^ETag: '
	run -0 httpmsgs "$T/out.tcpmon" heads 1 c2s
	assert_line 'SOAPAction: "urn:tcpmon:demo#Add"'
	assert_line "Content-Length: $(wc -c < "$T/req.1")"
	# Records that are not data are the same, in the same order.
	diff <(grep -a '^TCPMON/1 \(open\|shutdown\|close\|stream\) ' "$T/cap.tcpmon") \
	    <(grep -a '^TCPMON/1 \(open\|shutdown\|close\|stream\) ' "$T/out.tcpmon")
	run -0 "$(bin tcpmon-tap)" "$T/out.tcpmon"
	assert_line '  <soap:Body>'
}

@test "fmt-xml: a message in one-byte records, on three interleaved connections" {
	capture_soap
	fmt_xml "$T/cap.tcpmon" > "$T/whole.tcpmon"
	httpmsgs "$T/cap.tcpmon" split "$T/split.tcpmon"
	[ "$(grep -ac '^TCPMON/1 data .* len=1$' "$T/split.tcpmon")" -gt 1000 ]
	httpmsgs "$T/split.tcpmon" interleave 3 "$T/mixed.tcpmon"
	fmt_xml "$T/mixed.tcpmon" > "$T/out.tcpmon"
	local c d
	for c in 1001 2001 3001; do
		for d in c2s s2c; do
			cmp <(python3 "$TESTS_DIR/recparse.py" "$T/whole.tcpmon" payload 1 $d) \
			    <(python3 "$TESTS_DIR/recparse.py" "$T/out.tcpmon" payload $c $d)
		done
		[ "$(httpmsgs "$T/out.tcpmon" xforms | grep -c "^$c .* .*xml$")" -eq 4 ]
	done
	# Each connection's records keep their order: open first, close last.
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/out.tcpmon" kinds
	[ "$(grep ' 2001 ' <<< "$output" | head -n 1 | cut -d' ' -f1)" = open ]
	[ "$(grep ' 2001 ' <<< "$output" | tail -n 1 | cut -d' ' -f1)" = close ]
}

@test "fmt-xml: chunked request, Latin-1 document, encoding and bytes kept" {
	mkdir -p "$T/www"
	cp "$DATA"/* "$T/www/"
	start_nginx "$T/www"
	start_relay -l 0 -t 127.0.0.1:"$NGINX_PORT" -o "$T/cap.tcpmon"
	timeout 20 curl -sf -o /dev/null -H 'Transfer-Encoding: chunked' \
	    -H 'Content-Type: text/xml' --data-binary @"$DATA/soap11-req.xml" \
	    "http://127.0.0.1:$RELAY_PORT/latin1.xml"
	stop_relay
	fmt_xml "$T/cap.tcpmon" > "$T/out.tcpmon"
	run -0 httpmsgs "$T/out.tcpmon" xforms
	assert_output "1 c2s dechunk,xml
1 s2c xml"
	run -0 httpmsgs "$T/out.tcpmon" heads 1 c2s
	refute_line --regexp '^Transfer-Encoding:'
	httpmsgs "$T/out.tcpmon" bodies 1 c2s "$T/req"
	c14n_equal "$DATA/soap11-req.xml" "$T/req.1"
	httpmsgs "$T/out.tcpmon" bodies 1 s2c "$T/resp"
	c14n_equal "$DATA/latin1.xml" "$T/resp.1"
	[ "$(head -n 1 "$T/resp.1")" = '<?xml version="1.0" encoding="ISO-8859-1"?>' ]
	grep -q "$(printf 'Gr\xfc\xdfe aus K\xf6ln')" "$T/resp.1"
}

@test "fmt-xml: MTOM: the XML root part is formatted, the binary attachment kept" {
	mkdir -p "$T/www"
	cp "$DATA"/* "$T/www/"
	start_nginx "$T/www"
	start_relay -l 0 -t 127.0.0.1:"$NGINX_PORT" -o "$T/cap.tcpmon"
	python3 - "$T" <<-'PY'
	import sys
	t = sys.argv[1]
	root = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
	        b'<soap:Body><m:Upload xmlns:m="urn:tcpmon:demo"><m:file>'
	        b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
	        b'href="cid:att1@tcpmon"/></m:file></m:Upload></soap:Body></soap:Envelope>')
	att = bytes(range(256)) + b'<not xml>\r\n--MIME'
	open(t + '/root.xml', 'wb').write(root)
	open(t + '/att.bin', 'wb').write(att)
	body = (b'--MIMEBoundary\r\n'
	        b'Content-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n'
	        b'Content-Transfer-Encoding: binary\r\n'
	        b'Content-ID: <root.message@tcpmon>\r\n\r\n' + root +
	        b'\r\n--MIMEBoundary\r\nContent-Type: application/octet-stream\r\n'
	        b'Content-Transfer-Encoding: binary\r\nContent-ID: <att1@tcpmon>\r\n\r\n' +
	        att + b'\r\n--MIMEBoundary--\r\n')
	open(t + '/mtom.bin', 'wb').write(body)
	PY
	timeout 20 curl -sf -o /dev/null --data-binary @"$T/mtom.bin" \
	    -H 'Content-Type: multipart/related; type="application/xop+xml"; start="<root.message@tcpmon>"; start-info="text/xml"; boundary="MIMEBoundary"' \
	    "http://127.0.0.1:$RELAY_PORT/soap11-fault.xml"
	stop_relay
	fmt_xml "$T/cap.tcpmon" > "$T/out.tcpmon"
	run -0 httpmsgs "$T/out.tcpmon" xforms
	assert_line "1 c2s xml"
	httpmsgs "$T/out.tcpmon" bodies 1 c2s "$T/req"
	python3 - "$T" <<-'PY'
	import sys
	t = sys.argv[1]
	orig = open(t + '/mtom.bin', 'rb').read()
	new = open(t + '/req.1', 'rb').read()
	head_end = orig.index(b'\r\n\r\n') + 4
	assert new[:head_end] == orig[:head_end], 'part head changed'
	tail = orig[orig.index(b'\r\n--MIMEBoundary\r\nContent-Type: application/oct'):]
	assert new.endswith(tail), 'attachment changed'
	open(t + '/root.out', 'wb').write(new[head_end:len(new) - len(tail)])
	PY
	c14n_equal "$T/root.xml" "$T/root.out"
	grep -qx '  <soap:Body>' "$T/root.out"
}

@test "fmt-xml: malformed XML passes unchanged, then a note with the error and its line" {
	local body
	body=$(printf '<a>\n  <b>x</b>\n  <c>y</b>\n</a>')
	rec_data "$T/first" 1 c2s "$(printf 'POST / HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s' ${#body} "$body")"
	cp "$T/first" "$T/in"
	rec_data "$T/in" 2 c2s '<x><y/></x>'
	fmt_xml "$T/in" > "$T/out"
	head -c "$(wc -c < "$T/first")" "$T/out" | cmp - "$T/first"
	run -0 --separate-stderr fmt_xml "$T/in"
	[ -z "$stderr" ]
	assert_line --regexp '^TCPMON/1 note conn=1 src=t time=2026-11-22T10:00:00.000000Z level=warning len=[0-9]+$'
	assert_line 'tcpmon-fmt-xml: c2s message at byte 0 not formatted: XML error at line 3: Opening and ending tag mismatch: c line 3 and b'
	assert_line --regexp '^TCPMON/1 data conn=2 .* xform=xml len=16$'
}

@test "fmt-xml: billion laughs passes through quickly in bounded memory" {
	{
		echo '<?xml version="1.0"?>'
		echo '<!DOCTYPE lolz ['
		echo ' <!ENTITY lol "lol">'
		local i prev=lol refs
		for i in 1 2 3 4 5 6 7 8 9; do
			refs=$(printf "&$prev;%.0s" 1 2 3 4 5 6 7 8 9 10)
			echo " <!ENTITY lol$i \"$refs\">"
			prev=lol$i
		done
		echo ']>'
		echo '<lolz>&lol9;</lolz>'
	} > "$T/lol.xml"
	rec_data "$T/in" 1 c2s "$(cat "$T/lol.xml")"
	/usr/bin/time -f '%e %M' -o "$T/time" timeout 10 "$(bin tcpmon-fmt-xml)" "$T/in" > "$T/out"
	read -r secs kb < "$T/time"
	echo "took ${secs}s, ${kb} KiB" >&2
	awk -v s="$secs" 'BEGIN { exit !(s < 2) }'
	[ "$kb" -lt 100000 ]
	head -c "$(wc -c < "$T/in")" "$T/out" | cmp - "$T/in"
	grep -aq 'not formatted: XML error at line [0-9]*: Detected an entity reference loop' "$T/out"
}

@test "fmt-xml: XXE: a local file named by an external entity never appears" {
	echo "secret-$RANDOM-$RANDOM-token" > "$T/secret"
	cat > "$T/xxe.xml" <<-EOF
	<?xml version="1.0"?>
	<!DOCTYPE r [ <!ENTITY xxe SYSTEM "file://$T/secret"> <!ENTITY host SYSTEM "file:///etc/hostname"> <!ENTITY % pe SYSTEM "file://$T/secret"> %pe; ]>
	<r><a>&xxe;</a><b>&host;</b></r>
	EOF
	local doc
	doc=$(cat "$T/xxe.xml")
	rec_data "$T/in" 1 s2c "$(printf 'HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s' ${#doc} "$doc")"
	rec_data "$T/in" 2 c2s "$doc"
	fmt_xml "$T/in" > "$T/out"
	run -1 grep -aF "$(cat "$T/secret")" "$T/out"
	[ -s /etc/hostname ] && run -1 grep -aF "$(cat /etc/hostname)" "$T/out"
	[ "$(grep -ac 'xform=xml' "$T/out")" -eq 2 ]
	grep -aqx '  <a>&xxe;</a>' "$T/out"
}

@test "fmt-xml: binary, other HTTP, unknown kinds and notes pass byte for byte" {
	python3 - "$T/in" <<-'PY'
	import sys
	def rec(kind, conn, fields, p):
	    return b'TCPMON/1 %s conn=%d src=r%%20x time=2026-11-22T10:00:00.5Z%s len=%d\n%s\n' % (
	        kind.encode(), conn, fields.encode(), len(p), p)
	png = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4
	html = b'<html><body><p>not XML</body></html>'
	out = rec('stream', 0, ' tool=x version=1', b'')
	out += rec('open', 1, ' client=127.0.0.1:1', b'')
	out += rec('data', 1, ' dir=c2s', b'GET /a.png HTTP/1.1\r\nHost: x\r\n\r\n')
	out += rec('data', 1, ' dir=s2c extra=%C3%A9', b'HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n' % len(png) + png[:100])
	out += rec('future', 1, ' shiny=yes', b'\x00\x01 whatever')
	out += rec('data', 1, ' dir=s2c', png[100:])
	out += rec('data', 1, ' dir=c2s', b'GET / HTTP/1.1\r\n\r\n')
	out += rec('data', 1, ' dir=s2c', b'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s' % (len(html), html))
	out += rec('data', 2, ' dir=c2s', bytes(range(256)) * 3)
	out += rec('data', 3, ' dir=c2s', b'\x16\x03\x01<')
	out += rec('note', 2, ' level=info', b'hello')
	out += rec('shutdown', 1, ' dir=c2s', b'')
	out += rec('close', 1, ' reason=eof c2s=1 s2c=2', b'')
	open(sys.argv[1], 'wb').write(out)
	PY
	fmt_xml "$T/in" > "$T/out"
	cmp "$T/in" "$T/out"
	fmt_xml < "$T/in" | cmp - "$T/in"
}

@test "fmt-xml: XML straight over TCP, no HTTP: each document formatted" {
	start_echo
	start_relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap.tcpmon"
	printf '\n<a><b>1</b></a>\n<c x="1"><d/><!-- e --></c>\n' |
	    timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" > /dev/null
	stop_relay
	fmt_xml "$T/cap.tcpmon" > "$T/out.tcpmon"
	[ "$(httpmsgs "$T/out.tcpmon" xforms | grep -c ' xml$')" -eq 4 ]
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/out.tcpmon" payload 1 s2c
	assert_output "
<a>
  <b>1</b>
</a>

<c x=\"1\">
  <d/>
  <!-- e -->
</c>"
}

@test "fmt-xml: a message over --max-size passes unformatted, with a note" {
	local body i
	body="<r>$(for i in $(seq 200); do printf '<item n="%d">value</item>' "$i"; done)</r>"
	rec_data "$T/in" 1 c2s "$(printf 'POST / HTTP/1.1\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s' ${#body} "$body")"
	run -0 fmt_xml --max-size 2k "$T/in"
	assert_line --partial 'not formatted: message over --max-size (2048 bytes)'
	refute_output --partial 'xform='
	run -0 fmt_xml --max-size 1m "$T/in"
	assert_line --partial 'xform=xml'
}

@test "fmt-xml: --indent and --compact; usage errors are exit 2" {
	rec_data "$T/in" 1 c2s '<a><b><c>1</c></b></a>'
	run -0 fmt_xml --indent 4 "$T/in"
	assert_line '        <c>1</c>'
	run -0 fmt_xml -c "$T/in"
	assert_line '<a><b><c>1</c></b></a>'
	run -2 --separate-stderr fmt_xml --indent 99 "$T/in"
	assert_equal "$stderr" "tcpmon-fmt-xml: --indent 99: too large (0 to 16)"
	run -2 --separate-stderr fmt_xml -c -i 2 "$T/in"
	assert_equal "$stderr" "tcpmon-fmt-xml: --compact and --indent exclude each other"
	run -2 fmt_xml --bogus
	run -0 fmt_xml --help
	assert_line --index 0 "usage: tcpmon-fmt-xml [-c | -i N] [-m SIZE] [--max-conns N] [FILE ...]"
	run -2 --separate-stderr fmt_xml "$T/nope"
	assert_equal "$stderr" "tcpmon-fmt-xml: $T/nope: No such file or directory"
	printf 'GET / HTTP/1.1\r\n\r\n' > "$T/notrec"
	run -2 --separate-stderr fmt_xml "$T/notrec"
	assert_equal "$stderr" "tcpmon-fmt-xml: $T/notrec: record 1 at byte 0: not a tcpmon record stream"
}

@test "fmt-xml: a DOCTYPE whose internal subset has a comment with a quote is kept as written, and the document formatted" {
	local doc="<!DOCTYPE a [<!-- don't [ -->
<!ENTITY e \"x\">]><a><b>&e;</b></a>"
	rec_data "$T/in" 1 c2s "$doc"
	fmt_xml "$T/in" > "$T/out"
	grep -aq 'xform=xml' "$T/out"
	run -1 grep -a '^TCPMON/1 note' "$T/out"
	grep -aqx "<!DOCTYPE a \[<!-- don't \[ -->" "$T/out"
	grep -aqx '  <b>&e;</b>' "$T/out"
}

@test "fmt-xml --help: a line of meaning for every long option, and the man page" {
	help_covers tcpmon-fmt-xml fmt/filter.c
}

@test "fmt-xml: at most --max-conns connections followed: 100,000 never closed stay under 96 MiB, a note for each one dropped" {
	python3 "$TESTS_DIR/gen/opens.py" 100000 "$T/opens.tcpmon"
	/usr/bin/time -f %M -o "$T/rss" timeout 60 "$(bin tcpmon-fmt-xml)" \
	    "$T/opens.tcpmon" > "$T/out" 2> "$T/err"
	echo "fmt-xml: $(tail -n 1 "$T/rss") KiB"
	[ "$(tail -n 1 "$T/rss")" -lt "$(rss_cap 98304)" ]
	python3 "$TESTS_DIR/recparse.py" "$T/out" kinds > "$T/kinds"
	[ "$(grep -c '^note ' "$T/kinds")" = 34464 ]
	[ "$(grep -c '^data ' "$T/kinds")" = 200000 ]
	grep -q '^tcpmon-fmt-xml: over 65536 connections at once: ' "$T/err"
	run -0 python3 "$TESTS_DIR/recparse.py" "$T/out" field 1 note level
	assert_output "warning"
}
