#!/usr/bin/env bats
# tcpmon-tap --har and --json=exchange over the real relay's capture of
# nginx, curl and socat (helpers.bash make_capture), and over hand-made
# streams for what nginx does not do (cookies, TLS fields, no answer).  The
# HAR is checked against HAR 1.2's required fields by tests/harcheck.py,
# its bodies against the files nginx served.

load helpers

setup_file() {
	capture_setup_file
	# har-validator from the npm registry, once per build tree: npm ci
	# of tests/har's lock file.
	HARV=$TESTS_DIR/../build/har-validator
	export HARV
	if ! cmp -s "$TESTS_DIR/har/package-lock.json" "$HARV/package-lock.json" ||
	    [ ! -d "$HARV/node_modules/har-validator" ]; then
		rm -rf "$HARV"
		mkdir -p "$HARV"
		cp "$TESTS_DIR/har/package.json" "$TESTS_DIR/har/package-lock.json" \
		    "$TESTS_DIR/har/validate.js" "$HARV/"
		(cd "$HARV" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >&3
	fi
}

# validate FILE: har-validator's verdict.
validate() { node "$HARV/validate.js" "$1"; }
teardown_file() { capture_teardown_file; }

har() { "$(bin tcpmon-tap)" --har "$@"; }

@test "HAR: one document, an entry per exchange, HAR 1.2's required fields, times that add up" {
	har "$(cap)" > "$T/cap.har"
	run -0 validate "$T/cap.har"
	assert_output valid
	run -0 python3 "$TESTS_DIR/harcheck.py" "$T/cap.har"
	# 5 single requests, the reset one (no head), 8 x 3 keep-alive.
	assert_output --partial 'entries 29'
	run -0 python3 - "$T/cap.har" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))["log"]
e = log["entries"]
assert log["version"] == "1.2" and log["creator"]["name"] == "tcpmon-tap"
first = e[0]
assert first["request"]["method"] == "GET", first["request"]
assert first["request"]["url"].startswith("http://127.0.0.1:"), first["request"]["url"]
assert first["request"]["url"].endswith("/index.html")
assert first["response"]["status"] == 200 and first["response"]["statusText"] == "OK"
assert first["connection"] == "1" and "serverIPAddress" not in first
assert first["_tcpmon_server"].startswith("unix:")
# Keep-alive: three entries on each of connections 9 to 16, in order.
for c in range(9, 17):
    urls = [x["request"]["url"].rsplit("/", 1)[1] for x in e if x["connection"] == str(c)]
    assert urls == ["index.html", "fault.xml", "logo.png"], (c, urls)
PY
}

@test "HAR: a gzip'd chunked answer decoded to the file nginx served, its compression counted" {
	har --conn 2 "$(cap)" > "$T/c2.har"
	python3 - "$T/c2.har" "$CAPDIR/www/data.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["log"]["entries"]
assert len(e) == 1
c = e[0]["response"]["content"]
want = open(sys.argv[2]).read()
assert c["text"] == want
assert c["size"] == len(want.encode())
assert c["mimeType"] == "application/json"
# compression: the bytes saved, decoded size less the de-chunked body.
assert c["compression"] > 0 and c["size"] - c["compression"] < c["size"]
assert "encoding" not in c
h = {x["name"].lower(): x["value"] for x in e[0]["response"]["headers"]}
assert h["content-encoding"] == "gzip" and h["transfer-encoding"] == "chunked"
PY
}

@test "HAR: a binary body in base64, byte for byte; a chunked POST's body as postData" {
	har --conn 4,5 "$(cap)" > "$T/c45.har"
	python3 - "$T/c45.har" "$CAPDIR/www/logo.png" <<'PY'
import base64, json, sys
e = json.load(open(sys.argv[1]))["log"]["entries"]
png = e[0]["response"]["content"]
assert png["encoding"] == "base64"
assert base64.b64decode(png["text"]) == open(sys.argv[2], "rb").read()
assert png["mimeType"] == "image/png"
post = e[1]["request"]
assert post["method"] == "POST"
assert post["postData"]["text"] == "name=tcpmon&chunked=yes", post["postData"]
assert e[1]["response"]["status"] == 405
PY
}

@test "HAR: query string decoded, cookies both ways, a redirect's URL; a request without an answer has status 0" {
	{
		mkrec open 1 - 2026-12-04T10:00:00.000000Z '' client=10.0.0.1:5555 target=ws.example.org:80
		mkrec data 1 c2s 2026-12-04T10:00:00.001000Z 'GET /find?q=a%20b&lang=en+GB&flag HTTP/1.1\r\nHost: ws.example.org\r\nCookie: sid=42; theme=dark\r\n\r\n'
		mkrec data 1 s2c 2026-12-04T10:00:00.011000Z 'HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nSet-Cookie: sid=43; Path=/; HttpOnly\r\nSet-Cookie: seen=1; Secure\r\nContent-Length: 0\r\n\r\n'
		mkrec data 1 c2s 2026-12-04T10:00:00.020000Z 'GET /slow HTTP/1.1\r\nHost: ws.example.org\r\n\r\n'
		mkrec close 1 - 2026-12-04T10:00:05.000000Z '' reason=reset
	} > "$T/h.tcpmon"
	har "$T/h.tcpmon" > "$T/h.har"
	run -0 validate "$T/h.har"
	run -0 python3 "$TESTS_DIR/harcheck.py" "$T/h.har"
	python3 - "$T/h.har" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["log"]["entries"]
assert len(e) == 2, len(e)
r = e[0]["request"]
assert r["url"] == "http://ws.example.org/find?q=a%20b&lang=en+GB&flag"
assert r["queryString"] == [{"name": "q", "value": "a b"}, {"name": "lang", "value": "en GB"}, {"name": "flag", "value": ""}], r["queryString"]
assert r["cookies"] == [{"name": "sid", "value": "42"}, {"name": "theme", "value": "dark"}], r["cookies"]
s = e[0]["response"]
assert s["status"] == 302 and s["redirectURL"] == "/elsewhere"
assert s["cookies"][0] == {"name": "sid", "value": "43", "path": "/", "httpOnly": True}, s["cookies"]
assert s["cookies"][1] == {"name": "seen", "value": "1", "secure": True}, s["cookies"]
t = e[0]["timings"]
assert abs(t["wait"] - 10.0) < 0.001 and t["send"] == 0 and t["receive"] == 0, t
assert "serverIPAddress" not in e[0] and e[0]["_tcpmon_server"] == "ws.example.org:80"
assert e[1]["response"]["status"] == 0 and "_error" in e[1], e[1]
PY
}

@test "--json=exchange: a line per exchange, whole, with ECS's names; jq reads every one" {
	"$(bin tcpmon-tap)" --json=exchange "$(cap)" > "$T/x.jsonl"
	[ "$(wc -l < "$T/x.jsonl")" -eq 29 ]
	run -0 jq -c '[.http.request.method, .url.path, .http.response.status_code, .tcpmon.conn]' "$T/x.jsonl"
	assert_line --index 0 '["GET","/index.html",200,1]'
	assert_line --index 4 '["POST","/index.html",405,5]'
	run -0 jq -r 'select(.tcpmon.conn == 2) | .http.response.body.content' "$T/x.jsonl"
	diff <(printf '%s\n' "$output") "$CAPDIR/www/data.json"
	run -0 jq -r 'select(.tcpmon.conn == 1) | [.source.ip, (.source.port | type), .network.protocol, .url.scheme, (.event.duration >= 0)] | @tsv' "$T/x.jsonl"
	assert_output $'127.0.0.1\tnumber\thttp\thttp\ttrue'
}

@test "--json=exchange: TLS fields from the open record, https URLs; --json=foo is a usage error" {
	{
		mkrec open 1 - 2026-12-04T10:00:00.000000Z '' client=127.0.0.1:1 target=tls:api.example.org:443 server-tls=TLSv1.3 server-cipher=TLS_AES_256_GCM_SHA384 server-sni=api.example.org
		mkrec data 1 c2s 2026-12-04T10:00:00.001000Z 'GET /v1 HTTP/1.1\r\nHost: api.example.org\r\n\r\n'
		mkrec data 1 s2c 2026-12-04T10:00:00.002000Z 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
		mkrec close 1 - 2026-12-04T10:00:00.003000Z '' reason=eof
	} > "$T/tls.tcpmon"
	run -0 bash -c "'$(bin tcpmon-tap)' --json=exchange '$T/tls.tcpmon' | jq -r '[.tls.version_protocol, .tls.version, .tls.cipher, .tls.client.server_name, .url.original, .destination.port] | @tsv'"
	assert_output $'tls\t1.3\tTLS_AES_256_GCM_SHA384\tapi.example.org\thttps://api.example.org/v1\t443'
	run "$(bin tcpmon-tap)" --json=foo "$T/tls.tcpmon"
	[ "$status" -eq 2 ]
	assert_output "tcpmon-tap: --json=foo: use --json or --json=exchange"
	run "$(bin tcpmon-tap)" --har --list "$T/tls.tcpmon"
	[ "$status" -eq 2 ]
}

@test "streamed: exchanges go out as they end, memory does not grow with their number; a big body is not cut" {
	python3 - "$T" <<'PY'
import sys
def write(path, conns, big=False):
    with open(path, "wb") as f:
        def rec(kind, c, extra, p=b""):
            f.write(b"TCPMON/1 %s conn=%d src=t1%s len=%d\n" % (kind, c, extra, len(p)) + p + b"\n")
        for c in range(1, conns + 1):
            rec(b"open", c, b" client=127.0.0.1:1 target=127.0.0.1:2")
            rec(b"data", c, b" dir=c2s", b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % c)
            rec(b"data", c, b" dir=s2c", b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000)
            rec(b"close", c, b" reason=eof")
        if big:
            body = b"y" * (8 * 1024 * 1024)
            rec(b"open", 9999, b" client=127.0.0.1:1 target=127.0.0.1:2")
            rec(b"data", 9999, b" dir=c2s", b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            rec(b"data", 9999, b" dir=s2c", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            rec(b"close", 9999, b" reason=eof")
write(sys.argv[1] + "/few.tcpmon", 300)
write(sys.argv[1] + "/many.tcpmon", 6000)
write(sys.argv[1] + "/big.tcpmon", 1, True)
PY
	"$(bin tcpmon-tap)" --har "$T/big.tcpmon" > "$T/big.har"
	run -0 validate "$T/big.har"
	run -0 python3 "$TESTS_DIR/harcheck.py" "$T/big.har"
	python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["log"]["entries"]
assert e[-1]["response"]["content"]["text"] == "y" * (8 * 1024 * 1024)' "$T/big.har"
	local v few many
	for v in --har --json=exchange; do
		/usr/bin/time -f '%M' -o "$T/rss.few" "$(bin tcpmon-tap)" $v "$T/few.tcpmon" > "$T/few.out"
		/usr/bin/time -f '%M' -o "$T/rss.many" "$(bin tcpmon-tap)" $v "$T/many.tcpmon" > "$T/many.out"
		few=$(cat "$T/rss.few")
		many=$(cat "$T/rss.many")
		echo "$v peak KiB: 300 exchanges $few, 6000 exchanges $many"
		# 6,000 exchanges of 2 kB held as a document would be 12 MB
		# more.  (AddressSanitizer keeps freed memory in quarantine:
		# its build's peak says nothing of this.)
		case $TCPMON_BIN in
		*/san/*) ;;
		*) [ "$many" -lt $((few + 4096)) ] ;;
		esac
	done
	[ "$(wc -l < "$T/many.out")" -eq 6000 ]
}
