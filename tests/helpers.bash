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
common_setup() {
	T=$(mktemp -d /tmp/tm.XXXXXX)
	BG_PIDS=()
	BG_NAMES=()
}

# Kills what the test started (by pid), waits for it, and shows its logs
# when the test failed.
common_teardown() {
	local i pid
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
# child cannot hold bats' output open.
bg() {
	local name=$1
	shift
	"$@" > "$T/$name.out" 2> "$T/$name.err" < /dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	BG_NAMES+=("$name")
}

# bg_in NAME INPUT CMD...: as bg, with stdin from INPUT.
bg_in() {
	local name=$1 input=$2
	shift 2
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
	wait "$pid"
	BG_STATUS=$?
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

# start_nginx WWW: a real web server (Debian's nginx) serving the files of
# WWW on a free loopback port, gzip on for XML and JSON, and POST answered
# with the file named by the path (error_page 405); sets NGINX_PORT.  nginx
# cannot announce the port it binds, so readiness is its first answer.
start_nginx() {
	local www=$1 i
	NGINX_PORT=$(free_port)
	mkdir -p "$T/ng"
	cat > "$T/ng/nginx.conf" <<-NGINX
	user root;
	worker_processes 1;
	pid $T/ng/nginx.pid;
	error_log $T/ng/error.log;
	events { worker_connections 64; }
	http {
		include /etc/nginx/mime.types;
		types { application/soap+xml soap12;
		    application/problem+json pjson; }
		access_log off;
		client_body_temp_path $T/ng/body;
		proxy_temp_path $T/ng/proxy;
		fastcgi_temp_path $T/ng/fcgi;
		uwsgi_temp_path $T/ng/uwsgi;
		scgi_temp_path $T/ng/scgi;
		gzip on;
		gzip_min_length 0;
		gzip_types text/xml application/xml application/soap+xml
		    application/json;
		server {
			listen 127.0.0.1:$NGINX_PORT;
			root $www;
			error_page 405 =200 \$uri;
		}
	}
	NGINX
	bg nginx nginx -p "$T/ng" -c "$T/ng/nginx.conf" -g 'daemon off;'
	for ((i = 0; i < 200; i++)); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$NGINX_PORT/" \
		    && return 0
		sleep 0.05
	done
	echo "nginx did not answer on port $NGINX_PORT" >&2
	return 1
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
