# tests/helpers.bash - loaded by every suite: temp dirs, background servers
# with readiness lines, deadlines and cleanup on every exit path.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

: "${TCPMON_BIN:?set TCPMON_BIN to the directory of the built tools}"
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}
export NO_COLOR=1
TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bin NAME: the path of a built tool.
bin() { printf '%s/%s\n' "$TCPMON_BIN" "$1"; }

BG_PIDS=()
BG_NAMES=()

# A short private directory per test: Unix socket paths must stay short.
# Every program the test runs carries TCPMON_TEST_CASE in its
# environment; a watchdog ends them if the test outlives its time (see
# watchdog in tests/leftovers.py: bats' own timeout cannot end a `run`).
common_setup() {
	T=$(mktemp -d /tmp/tm.XXXXXX)
	BG_PIDS=()
	BG_NAMES=()
	export TCPMON_TEST_CASE=${T#/tmp/}
	# The relay's CA goes here when a test does not say --ca-dir: never
	# into the home directory of whoever runs the tests.
	export XDG_DATA_HOME=$T/xdg
	# Not a child of the test: bats' timeout ends those (pkill -P),
	# the watchdog with them.
	( python3 "$TESTS_DIR/leftovers.py" watchdog \
	    $((BATS_TEST_TIMEOUT + 10)) "TCPMON_TEST_CASE=$TCPMON_TEST_CASE" \
	    "$T/.timedout" > /dev/null 2>&1 < /dev/null 3>&- &
	  echo $! > "$T/.watchdog" )
}

# Kills what the test started (by pid), waits for it, and shows its logs
# when the test failed.
common_teardown() {
	local i pid
	[ -f "${T:-}/.watchdog" ] && kill "$(cat "$T/.watchdog")" 2>/dev/null
	if [ -f "${T:-}/.timedout" ]; then
		echo "--- the test $(cat "$T/.timedout"); what it ran was ended"
		unset BATS_TEST_COMPLETED
	fi
	for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
		pid=${BG_PIDS[$i]}
		kill "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ -z "${T:-}" ]; then
		[ -n "${T:-}" ] && rm -rf "$T"
		return 0
	fi
	for i in "${!BG_NAMES[@]}"; do
		echo "--- ${BG_NAMES[$i]} stderr:"
		head -c 4000 "$T/${BG_NAMES[$i]}.err" 2>/dev/null
	done
	rm -rf "$T"
}

setup() { common_setup; }
teardown() { common_teardown; }

# bg NAME CMD...: starts CMD in the background, stdout to $T/NAME.out and
# stderr to $T/NAME.err; its pid is in $BG_PID.  fd 3 is closed so that the
# child cannot hold bats' output open.  The files of an earlier NAME are
# removed here, before the child opens its own: the child's redirections
# happen after the fork, and a wait_for on the old file found an earlier
# process's "listening on" line (the CI failure of 72-proxy-upstream).
bg() {
	local name=$1
	shift
	rm -f "$T/$name.out" "$T/$name.err"
	"$@" > "$T/$name.out" 2> "$T/$name.err" < /dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	BG_NAMES+=("$name")
}

# bg_in NAME INPUT CMD...: as bg, with stdin from INPUT.
bg_in() {
	local name=$1 input=$2
	shift 2
	rm -f "$T/$name.out" "$T/$name.err"
	"$@" > "$T/$name.out" 2> "$T/$name.err" < "$input" 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	BG_NAMES+=("$name")
}

# wait_for FILE REGEX [SECONDS]: waits until a line of FILE matches.
wait_for() {
	local file=$1 re=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "timed out after ${secs}s waiting for /$re/ in $file:" >&2
	head -c 2000 "$file" >&2
	return 1
}

# wait_exit PID [SECONDS]: waits for a background process to end and sets
# $BG_STATUS to its exit status.
wait_exit() {
	local pid=$1 secs=${2:-10}
	timeout "$secs" tail --pid="$pid" -f /dev/null || return 1
	BG_STATUS=0
	wait "$pid" || BG_STATUS=$?	# a failure status is not the test's
}

# port_of FILE: the port in the first "listening on ADDR:PORT" line.
port_of() {
	sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | head -n 1
}

# start_relay [ARGS...]: a relay in the background on port 0; sets
# RELAY_PID, RELAY_PORT; records in $T/relay.out.
start_relay() {
	bg relay "$(bin tcpmon-relay)" "$@"
	RELAY_PID=$BG_PID
	wait_for "$T/relay.err" 'listening on' || return 1
	RELAY_PORT=$(port_of "$T/relay.err")
}

# start_echo: a real echo server (socat) on a free loopback port; sets
# ECHO_PORT.
start_echo() {
	bg echo socat -d -d TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork EXEC:cat
	ECHO_PID=$BG_PID
	wait_for "$T/echo.err" 'listening on' || return 1
	ECHO_PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' \
	    "$T/echo.err" | head -n 1)
}

# free_port: a port that nothing listens on now (for refused targets).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_count FILE REGEX N [SECONDS]: waits until N lines of FILE match
# (grep -a: records carry binary payloads).
wait_count() {
	local file=$1 re=$2 n=$3 secs=${4:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		[ "$(grep -aEc -- "$re" "$file" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.05
	done
	echo "timed out after ${secs}s waiting for $n lines /$re/ in $file" >&2
	return 1
}

# tls_files TEXT: for a suite's setup_file: the certificates of
# tests/gen/certs.sh in $C, and $WWW with an index.html saying TEXT.
tls_files() {
	export C=$BATS_FILE_TMPDIR/certs WWW=$BATS_FILE_TMPDIR/www
	"$TESTS_DIR/gen/certs.sh" "$C"
	mkdir -p "$WWW"
	echo "$1" > "$WWW/index.html"
}

# nginx_run NAME SCHEME PORT HTTP SERVER: Debian's nginx in the
# background (bg NAME), its configuration and temporary files in $T/NAME,
# the directives HTTP in its http block and SERVER in its one server block
# on 127.0.0.1:PORT.  nginx cannot announce the port it binds, so readiness
# is its first answer, over SCHEME (http or https).
nginx_run() {
	local name=$1 scheme=$2 port=$3 http=$4 server=$5 d=$T/$1 i
	mkdir -p "$d"
	cat > "$d/nginx.conf" <<-NGINX
	user root;
	worker_processes 1;
	pid $d/nginx.pid;
	error_log $d/error.log;
	events { worker_connections 64; }
	http {
		access_log off;
		client_body_temp_path $d/body;
		proxy_temp_path $d/proxy;
		fastcgi_temp_path $d/fcgi;
		uwsgi_temp_path $d/uwsgi;
		scgi_temp_path $d/scgi;
		$http
		server {
			$server
		}
	}
	NGINX
	bg "$name" nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
	for ((i = 0; i < 200; i++)); do
		curl -sk -o /dev/null --max-time 1 "$scheme://127.0.0.1:$port/" &&
		    return 0
		sleep 0.05
	done
	echo "nginx did not answer on port $port" >&2
	return 1
}

# start_nginx WWW: a real web server (Debian's nginx) serving the files of
# WWW on a free loopback port, gzip on for XML and JSON, and POST answered
# with the file named by the path (error_page 405); sets NGINX_PORT.
start_nginx() {
	NGINX_PORT=$(free_port)
	nginx_run ng http "$NGINX_PORT" "
		include /etc/nginx/mime.types;
		types { application/soap+xml soap12;
		    application/problem+json pjson; }
		gzip on;
		gzip_min_length 0;
		gzip_types text/xml application/xml application/soap+xml
		    application/json;" "
			listen 127.0.0.1:$NGINX_PORT;
			root $1;
			error_page 405 =200 \$uri;"
}

# start_nginx_tls CERT KEY [DIRECTIVES]: nginx serving $WWW over TLS on a
# free port (NGX_PORT), TLS 1.2 and 1.3 unless NGX_PROTOCOLS says
# otherwise, DIRECTIVES in its server block.
start_nginx_tls() {
	NGX_PORT=$(free_port)
	nginx_run ngs https "$NGX_PORT" "" "
			listen 127.0.0.1:$NGX_PORT ssl;
			ssl_protocols ${NGX_PROTOCOLS:-TLSv1.2 TLSv1.3};
			ssl_certificate $1;
			ssl_certificate_key $2;
			root $WWW;
			${3:-}"
}

# stop_relay: ends the relay started by start_relay, so that its capture
# is whole.
stop_relay() {
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
}

# httpmsgs ARGS...: tests/httpmsgs.py (bodies and heads of HTTP messages
# in a stream, streams cut into one-byte records).
httpmsgs() {
	python3 "$TESTS_DIR/httpmsgs.py" "$@"
}

# c14n_equal A B: the two XML documents are the same after canonical
# comparison (white space between elements is not significant).
c14n_equal() {
	diff <(xmllint --noblanks --c14n "$1") <(xmllint --noblanks --c14n "$2")
}

# rec_data FILE CONN DIR PAYLOAD [FIELDS]: appends one data record.
rec_data() {
	local f=$1 conn=$2 dir=$3 p=$4 extra=${5:+ $5}
	printf 'TCPMON/1 data conn=%s src=t time=2026-11-22T10:00:00.000000Z dir=%s%s len=%d\n%s\n' \
	    "$conn" "$dir" "$extra" "$(printf %s "$p" | wc -c)" "$p" >> "$f"
}

# start_nginx_send: Debian's nginx serving $T/ngx/www on a free loopback port, from
# tests/servers/nginx.sh; sets NGINX_PORT.  nginx cannot announce a port 0,
# so the port is probed and the start retried if another process took it;
# it is ready when it answers.
start_nginx_send() {
	local i j
	mkdir -p "$T/ngx/www"
	echo index > "$T/ngx/www/index.html"
	for ((i = 0; i < 5; i++)); do
		NGINX_PORT=$(free_port)
		bg nginx "$TESTS_DIR/servers/nginx.sh" "$T/ngx" "$NGINX_PORT"
		NGINX_PID=$BG_PID
		for ((j = 0; j < 200; j++)); do
			kill -0 "$NGINX_PID" 2>/dev/null || break
			timeout 2 curl -s -o /dev/null \
			    "http://127.0.0.1:$NGINX_PORT/" && return 0
			sleep 0.05
		done
		kill "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	done
	echo "nginx did not start:" >&2
	cat "$T/nginx.err" >&2
	return 1
}

# start_spyne: the SOAP service of tests/servers/spyne_service.py (Debian's
# python3-spyne, so Debian's python3); sets SPYNE_PORT.
start_spyne() {
	bg spyne /usr/bin/python3 "$TESTS_DIR/servers/spyne_service.py"
	SPYNE_PID=$BG_PID
	wait_for "$T/spyne.err" 'listening on' || return 1
	SPYNE_PORT=$(port_of "$T/spyne.err")
}

# start_stub MODE: a misbehaving server (tests/servers/stub_server.py);
# sets STUB_PORT.
start_stub() {
	bg stub /usr/bin/python3 "$TESTS_DIR/servers/stub_server.py" "$1"
	wait_for "$T/stub.err" 'listening on' || return 1
	STUB_PORT=$(port_of "$T/stub.err")
}

# start_nginx_unix DIR: a real nginx (Debian nginx-light) serving DIR/www on the
# Unix socket DIR/ngx.sock, with gzip and SSI (SSI answers are chunked);
# waits for the socket.  Sets NGINX_PID.  No port, so nothing to race for.
start_nginx_unix() {
	local d=$1 i
	mkdir -p "$d/ngx-tmp"
	cat > "$d/nginx.conf" <<-NGX
	daemon off;
	master_process off;
	worker_processes 1;
	pid $d/nginx.pid;
	error_log $d/nginx.log;
	events { worker_connections 256; }
	http {
		access_log off;
		client_body_temp_path $d/ngx-tmp/body;
		proxy_temp_path $d/ngx-tmp/proxy;
		fastcgi_temp_path $d/ngx-tmp/fcgi;
		uwsgi_temp_path $d/ngx-tmp/uwsgi;
		scgi_temp_path $d/ngx-tmp/scgi;
		types { text/html html; application/json json; text/xml xml;
		    image/png png; text/plain txt; }
		server {
			listen unix:$d/ngx.sock;
			root $d/www;
			gzip on;
			gzip_min_length 1;
			gzip_types application/json text/plain;
			location /ssi/ { ssi on; ssi_types text/xml; gzip off; }
		}
	}
	NGX
	nginx -c "$d/nginx.conf" -e "$d/nginx.log" > /dev/null 2>&1 < /dev/null 3>&- &
	NGINX_PID=$!
	for ((i = 0; i < 200; i++)); do
		[ -S "$d/ngx.sock" ] && return 0
		sleep 0.05
	done
	echo "nginx did not start:" >&2
	cat "$d/nginx.log" >&2
	return 1
}

# make_web DIR: the files nginx serves in the captures.
make_web() {
	local d=$1/www i
	mkdir -p "$d/ssi"
	printf '<!doctype html>\n<title>tcpmon</title>\n<p>hello from nginx</p>\n' > "$d/index.html"
	{
		printf '{"items": [\n'
		for ((i = 0; i < 400; i++)); do
			printf '  {"id": %d, "name": "item number %d", "ok": true},\n' "$i" "$i"
		done
		printf '  {"id": -1, "name": "needle-in-json"}\n]}\n'
	} > "$d/data.json"
	{
		printf '<?xml version="1.0"?>\n<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>\n'
		for ((i = 0; i < 300; i++)); do printf '<line n="%d">padding text</line>\n' "$i"; done
		printf '<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Server Fault</faultstring></soap:Fault>\n'
		printf '</soap:Body></soap:Envelope>\n'
	} > "$d/ssi/fault.xml"
	{ printf '\x89PNG\r\n\x1a\n'; head -c 3000 /dev/urandom; } > "$d/logo.png"
}

# make_capture DIR: a capture by the real relay of real peers, in
# DIR/cap.tcpmon: nginx over HTTP (conn 1 plain, 2 gzip+chunked JSON,
# 3 chunked XML with a SOAP Fault, 4 a PNG, 5 a chunked POST), socat
# echoing binary (6), an empty connection (7), a client reset (8), then
# eight keep-alive clients at once (9-16), three requests each.  Stops
# everything it started.
make_capture() {
	local d=$1 relay_pid echo_pid rport eport i pids=()
	make_web "$d"
	start_nginx_unix "$d" || return 1
	socat -d -d TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork EXEC:cat \
	    > /dev/null 2> "$d/echo.err" < /dev/null 3>&- &
	echo_pid=$!
	for ((i = 0; i < 200; i++)); do
		grep -q 'listening on' "$d/echo.err" 2>/dev/null && break
		sleep 0.05
	done
	eport=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$d/echo.err" | head -n 1)
	"$(bin tcpmon-relay)" -l 0 -t "unix:$d/ngx.sock" -l 0 -t 127.0.0.1:"$eport" \
	    -o "$d/cap.tcpmon" > /dev/null 2> "$d/relay.err" < /dev/null 3>&- &
	relay_pid=$!
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -c 'listening on' "$d/relay.err" 2>/dev/null)" -ge 2 ] && break
		sleep 0.05
	done
	rport=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$d/relay.err" | sed -n 1p)
	RELAY2_PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$d/relay.err" | sed -n 2p)
	local u=http://127.0.0.1:$rport
	timeout 10 curl -sS -o /dev/null "$u/index.html"
	timeout 10 curl -sS --compressed -o "$d/got.json" "$u/data.json"
	timeout 10 curl -sS -o "$d/got.xml" "$u/ssi/fault.xml"
	timeout 10 curl -sS -o "$d/got.png" "$u/logo.png"
	printf 'name=tcpmon&chunked=yes' | timeout 10 curl -sS -o /dev/null \
	    -H 'Transfer-Encoding: chunked' --data-binary @- "$u/index.html"
	printf '\x00\x01\x02\x03binary\xfe\xff' |
	    timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY2_PORT" > /dev/null
	timeout 10 socat -u /dev/null TCP:127.0.0.1:"$rport"
	timeout 10 python3 -c '
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /index.html HTTP/1.1\r\nHo")
time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()' "$rport"
	for ((i = 0; i < 8; i++)); do
		timeout 20 curl -sS -o /dev/null -o /dev/null -o /dev/null \
		    "$u/index.html" "$u/ssi/fault.xml" "$u/logo.png" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -ac '^TCPMON/1 close ' "$d/cap.tcpmon")" -ge 16 ] && break
		sleep 0.05
	done
	kill -TERM "$relay_pid" "$echo_pid" "$NGINX_PID"
	wait "$relay_pid" "$echo_pid" "$NGINX_PID" 2>/dev/null
	[ "$(grep -ac '^TCPMON/1 close ' "$d/cap.tcpmon")" -eq 16 ]
}

# mkrec KIND CONN [DIR|-] [TIME|-] [PAYLOAD] [FIELDS...]: one record on
# stdout, for hand-made streams (PAYLOAD is taken as printf %b).
mkrec() {
	local kind=$1 conn=$2 dir=${3:--} time=${4:--} payload=${5:-} hdr
	shift 5 2>/dev/null || shift $#
	hdr="TCPMON/1 $kind conn=$conn src=t1"
	[ "$time" != - ] && hdr+=" time=$time"
	[ "$dir" != - ] && hdr+=" dir=$dir"
	[ $# -gt 0 ] && hdr+=" $*"
	local n
	n=$(printf '%b' "$payload" | wc -c)
	printf '%s len=%d\n' "$hdr" "$n"
	printf '%b\n' "$payload"
}

# capture_setup_file / capture_teardown_file: a suite's setup_file and
# teardown_file when its tests share one make_capture in $CAPDIR; cap
# names the capture.
capture_setup_file() {
	CAPDIR=$(mktemp -d /tmp/tmc.XXXXXX)
	export CAPDIR
	make_capture "$CAPDIR"
}
capture_teardown_file() { rm -rf "$CAPDIR"; }
cap() { printf '%s\n' "$CAPDIR/cap.tcpmon"; }

# peer ARGS...: tests/relay-peer.py, the scripted peers of the relay tests.
peer() { python3 "$TESTS_DIR/relay-peer.py" "$@"; }

# start_peer NAME MODE [HOST]: a relay-peer.py server in the background;
# sets PEER_PID and PEER_PORT.
start_peer() {
	bg "$1" python3 "$TESTS_DIR/relay-peer.py" server "$2" "${3:-127.0.0.1}"
	PEER_PID=$BG_PID
	wait_for "$T/$1.out" 'listening on' || return 1
	PEER_PORT=$(port_of "$T/$1.out")
}

# rss_kib PID: the resident memory of a process, in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# start_relay_to OUT [ARGS...]: as start_relay, with the records written to
# OUT (a fifo, say) instead of $T/relay.out.
start_relay_to() {
	local out=$1
	shift
	rm -f "$T/relay.err"	# as in bg: not an earlier relay's lines
	"$(bin tcpmon-relay)" "$@" > "$out" 2> "$T/relay.err" < /dev/null 3>&- &
	RELAY_PID=$!
	BG_PIDS+=("$RELAY_PID")
	BG_NAMES+=(relay)
	wait_for "$T/relay.err" 'listening on' || return 1
	RELAY_PORT=$(port_of "$T/relay.err")
}

# echo_xfer IN PORT OUT [HOST]: sends the file IN to PORT of HOST
# (127.0.0.1) while reading what comes back into OUT (an echo peer would
# otherwise fill both ways and stop), half-closes after IN, reads to the end.
echo_xfer() {
	timeout 30 python3 - "$1" "$2" "$3" "${4:-127.0.0.1}" <<'PY'
import socket, sys, threading
data = open(sys.argv[1], 'rb').read()
s = socket.create_connection((sys.argv[4], int(sys.argv[2])), timeout=20)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=send).start()
# A bytearray: appending to bytes copies it all each time, which made
# a 32 MiB echo take longer than its timeout on a busy machine.
got = bytearray()
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    got += b
open(sys.argv[3], 'wb').write(got)
PY
}

# help_covers TOOL SOURCE...: TOOL --help exits 0, lists every long option
# of the getopt tables in SOURCE (paths from the top of the tree) as
# --NAME at the start of an option line (-X, --NAME ...) with its meaning
# after it, and ends naming the man page.
help_covers() {
	local tool=$1 name out missing=
	shift
	out=$(timeout 10 "$(bin "$tool")" --help) || return 1
	for name in $(cd "$TESTS_DIR/.." && grep -ohE '^[[:space:]]*\{ "[a-z0-9-]+",' "$@" |
	    grep -oE '[a-z0-9-]+'); do
		grep -qE "^  (-[a-zA-Z], |    )(--[a-z0-9-]+, )?--$name[ ,].*[^ ]" <<< "$out" ||
		    missing+=" --$name"
	done
	[ -z "$missing" ] || { echo "$tool --help lacks:$missing" >&2; return 1; }
	[ "$(tail -n 1 <<< "$out")" = "See $tool(1)." ] ||
	    { echo "$tool --help does not end naming its man page" >&2; return 1; }
}

# rss_cap KIB: a memory limit for a test, KIB for the release build; the
# sanitizer build's redzones take about ten times more, and its quarantine
# of freed blocks up to 256 MiB besides.
rss_cap() {
	case $TCPMON_BIN in
	*/san/*) echo $(($1 * 10 + 256 * 1024)) ;;
	*) echo "$1" ;;
	esac
}
