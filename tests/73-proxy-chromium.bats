#!/usr/bin/env bats
# tcpmon-relay --proxy with a real browser: Debian's headless Chromium loads
# a page with several resources from nginx on loopback through the proxy,
# and every request is in the record.

load helpers

@test "chromium: a page with a stylesheet, a script and images, every request recorded" {
	command -v chromium > /dev/null || skip "chromium is not installed (Debian package chromium)"
	start_nginx_send
	w=$T/ngx/www
	cat > "$w/page.html" <<-HTML
	<!doctype html>
	<html><head><link rel="stylesheet" href="/style.css">
	<script src="/app.js"></script></head>
	<body><p id="p">waiting</p><img src="/one.png"><img src="/two.png"></body></html>
	HTML
	printf 'p { color: red }\n' > "$w/style.css"
	printf 'document.addEventListener("DOMContentLoaded", function () { document.getElementById("p").textContent = "script ran"; });\n' > "$w/app.js"
	printf '\x89PNG\r\n\x1a\n' > "$w/one.png"
	printf '\x89PNG\r\n\x1a\n' > "$w/two.png"
	start_relay --proxy -l 0
	run -0 timeout 60 chromium --headless --no-sandbox --disable-gpu \
	    --disable-quic --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync \
	    --user-data-dir="$T/chrome" \
	    --proxy-server="http://127.0.0.1:$RELAY_PORT" \
	    --proxy-bypass-list='<-loopback>' \
	    --virtual-time-budget=5000 --dump-dom \
	    "http://127.0.0.1:$NGINX_PORT/page.html"
	assert_output --partial "script ran"
	stop_relay
	for f in page.html style.css app.js one.png two.png; do
		run -0 grep -ac "^GET /$f HTTP/1.1"$'\r$' "$T/relay.out"
	done
	run -0 grep -ac "^TCPMON/1 open .*target=127.0.0.1:$NGINX_PORT " "$T/relay.out"
	(( output >= 1 ))
	# Chromium sent absolute-form with Proxy-Connection: nginx got neither.
	run -0 python3 - "$T/relay.out" "127.0.0.1:$NGINX_PORT" <<-'PY'
	import sys
	data = open(sys.argv[1], "rb").read()
	pos, targets, up = 0, {}, b""
	while pos < len(data):
	    nl = data.index(b"\n", pos)
	    toks = data[pos:nl].decode().split(" ")
	    f = dict(t.split("=", 1) for t in toks[2:])
	    n = int(f["len"])
	    if toks[1] == "open":
	        targets[f["conn"]] = f.get("target")
	    elif toks[1] == "data" and f.get("dir") == "c2s" and \
	            targets.get(f["conn"]) == sys.argv[2]:
	        up += data[nl + 1:nl + 1 + n]
	    pos = nl + 2 + n
	print(up.lower().count(b"proxy-connection"), up.count(b"GET http://"),
	      up.count(b"GET /"))
	PY
	assert_output --regexp '^0 0 [5-9]$'
}
