#!/usr/bin/env bats
# The README's tour, run as a new user types it: every command of its code
# blocks, in order, from a directory where bin/ is the build under test.
# Only the ports differ (port 0, then the ports the tools announce, so that
# the test takes none that may be busy), and what needs a person is done
# as a person would: a program that runs until Ctrl-C is stopped when the
# README says so, wireshark's window is tshark, Chromium runs headless.
# A command the test does not know fails it, so the tour and the test
# cannot drift apart.

load helpers

GROUPS_RUNNING=()

setup() {
	common_setup
	ln -s "$TCPMON_BIN" "$T/bin"
	GROUPS_RUNNING=()
}

teardown() {
	stop_groups
	common_teardown
}

# The tour's commands, one per line, continuation lines joined: the
# indented lines between the tour's heading and the next one that start
# as a command does (the others are sample output).
tour_commands() {
	awk '/^## A five-minute tour/ { on = 1; next } /^## / { on = 0 }
	    on && /^    / { sub(/^    /, ""); print }' "$TESTS_DIR/../README.md" |
	    sed -e ':a' -e '/\\$/N; s/\\\n *//; ta' |
	    grep -E '^(make|bin/|curl |printf |sed |less |tcpdump |chromium )'
}

# group NAME CMD: CMD in a shell of its own process group, as a terminal
# runs a job; output in $T/NAME.out and $T/NAME.err.
group() {
	local name=$1
	setsid bash -c "$2" > "$T/$name.out" 2> "$T/$name.err" < /dev/null 3>&- &
	GROUPS_RUNNING+=("$!")
}

# Ctrl-C for every job still running (a relay ends on SIGINT as on SIGTERM).
stop_groups() {
	local g
	for g in "${GROUPS_RUNNING[@]}"; do
		kill -INT -- "-$g" 2>/dev/null || true
	done
	for g in "${GROUPS_RUNNING[@]}"; do
		timeout 10 tail --pid="$g" -f /dev/null 2>/dev/null || true
		kill -KILL -- "-$g" 2>/dev/null || true
		wait "$g" 2>/dev/null || true
	done
	GROUPS_RUNNING=()
}

# The port a relay or the demo service announced in FILE.
announced() {
	wait_for "$1" 'listening on' 10 || return 1
	port_of "$1"
}

@test "README: the tour runs as written, command by command" {
	local cmd line n=0 relays=0 soapd="" rport="" out
	cd "$T"
	while IFS= read -r line; do
		n=$((n + 1))
		# The ports of the README are the ones the tools announced here.
		cmd=${line//40531/$soapd}
		cmd=${cmd//\/tmp\/soap.sock/$T/soap.sock}
		case $cmd in
		*"-l 8081"*) cmd=${cmd//-l 8081/-l 0} ;;
		*) cmd=${cmd//8081/$rport} ;;
		esac
		echo "# $n: $cmd"
		case $line in
		make)
			# Built already: the build under test.
			[ -x bin/tcpmon-relay ] ;;
		"bin/tcpmon-demo-soapd &")
			group soapd "${cmd% &}"
			soapd=$(announced "$T/soapd.err") ;;
		bin/tcpmon-relay*)
			# "Stop the first relay before you start this one."
			stop_relays
			relays=$((relays + 1))
			group "relay$relays" "${cmd% &}"
			rport=$(announced "$T/relay$relays.err")
			[ -n "$rport" ] ;;
		"bin/tcpmon-tap --attach "*)
			group attach "${cmd%%#*}"
			wait_attached "$T/soap.sock" ;;
		"bin/tcpmon-pcap -w - soap.tcpmon | wireshark -k -i -")
			# Wireshark's window: tshark reads the same pipe.
			run -0 timeout 30 bash -c "${cmd%%wireshark*}tshark -r - -q -z conv,tcp"
			assert_output --regexp "127\.0\.0\.1:[0-9]+ +<-> 127\.0\.0\.1:$soapd" ;;
		"tcpdump "*)
			# Capture while there is traffic, then Ctrl-C.
			group tcpdump "tcpdump -U --immediate-mode ${cmd#tcpdump }"
			wait_for "$T/tcpdump.err" 'listening on' 10
			run -0 timeout 10 curl -s "http://127.0.0.1:$rport/?wsdl"
			local td=${GROUPS_RUNNING[-1]}
			kill -INT -- "-$td"
			timeout 10 tail --pid="$td" -f /dev/null
			[ -s x.pcap ] ;;
		"chromium "*)
			eval "run -0 timeout 60 chromium --headless --no-sandbox \
			    --disable-gpu --disable-quic --no-first-run \
			    --disable-background-networking \
			    --disable-component-update --disable-sync \
			    --user-data-dir=$T/chrome --virtual-time-budget=3000 \
			    --dump-dom ${cmd#chromium }"
			assert_output --partial 'soap:address' ;;
		"less "*)
			# Not on a terminal, less shows the file as cat does.
			run -0 timeout 10 bash -c "$cmd"
			assert_output --partial 'TCPMON/1 stream' ;;
		"bin/tcpmon-view "*)
			# The window: in tmux, read off the screen, then q.
			view_step "$cmd" ;;
		bin/tcpmon-send*bad.xml)
			# The SOAP Fault: exit 1, and one line saying so.
			run -1 timeout 30 bash -c "$cmd"
			assert_output --partial 'SOAP Fault: soap:Client' ;;
		bin/tcpmon-*|curl*|printf*|sed*)
			run -0 timeout 30 bash -c "$cmd"
			check_step "$line" ;;
		*)
			echo "the test does not know this command of the tour: $line"
			return 1 ;;
		esac
	done < <(tour_commands)
	# Every block of the tour was run.
	[ "$n" -ge 25 ]
	[ "$relays" -eq 4 ]
	# The proxy recorded curl's request and Chromium's.
	stop_groups
	[ "$(grep -ac '^GET /?wsdl HTTP/1.1' web.tcpmon)" -eq 2 ]
}

# view_step CMD: tcpmon-view in tmux; the capture's two exchanges are in
# its table and the Add's answer in its response pane; q ends it with 0.
view_step() {
	local i screen=
	tmux -S "$T/tmux" new-session -d -x 140 -y 40 \
	    "env TERM=screen $1 2> $T/view.err; echo \$? > $T/view.exit; sleep 30"
	for ((i = 0; i < 200; i++)); do
		screen=$(tmux -S "$T/tmux" capture-pane -p)
		[[ $screen == *' 2/2 exchanges ended'* ]] && break
		sleep 0.05
	done
	echo "$screen"
	[[ $screen == *' 2/2 exchanges ended'* ]]
	[[ $screen == *'POST /'*'500'* ]]
	tmux -S "$T/tmux" send-keys g
	for ((i = 0; i < 200; i++)); do
		screen=$(tmux -S "$T/tmux" capture-pane -p)
		[[ $screen == *'<d:result>5</d:result>'* ]] && break
		sleep 0.05
	done
	[[ $screen == *'<d:result>5</d:result>'* ]]
	tmux -S "$T/tmux" send-keys q
	for ((i = 0; i < 200; i++)); do
		[ -s "$T/view.exit" ] && break
		sleep 0.05
	done
	tmux -S "$T/tmux" kill-server
	[ "$(cat "$T/view.exit")" -eq 0 ]
}

# stop_relays: Ctrl-C for the relays started so far (the demo service and
# the viewer stay).
stop_relays() {
	local i g keep=()
	for i in "${!GROUPS_RUNNING[@]}"; do
		g=${GROUPS_RUNNING[$i]}
		if grep -q 'tcpmon-relay' "/proc/$g/cmdline" 2>/dev/null; then
			kill -INT -- "-$g" 2>/dev/null || true
			timeout 10 tail --pid="$g" -f /dev/null || true
		else
			keep+=("$g")
		fi
	done
	GROUPS_RUNNING=("${keep[@]}")
}

# wait_attached SOCKET: a viewer is connected to the relay's tap socket.
wait_attached() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(ss -xH state connected src "$1" 2>/dev/null | wc -l)" -ge 1 ] &&
		    return 0
		sleep 0.05
	done
	echo "no viewer attached to $1" >&2
	return 1
}

# check_step LINE: what the README says a command shows is there ($output
# is the command's).
check_step() {
	case $1 in
	"curl -s http://127.0.0.1:8081/ "*)
		assert_output --partial 'result>5</'
		# The relay's terminal view showed both sides and the end.
		wait_for "$T/relay1.out" 'close: eof' 10
		grep -q '>>> client to server' "$T/relay1.out"
		grep -q '<<< server to client' "$T/relay1.out" ;;
	"bin/tcpmon-send --pretty "*add.xml)
		assert_output --partial 'result>5</'
		wait_for "$T/attach.out" '<<< server to client' 10 ;;
	"bin/tcpmon-tap soap.tcpmon")
		[ "$(grep -c '\] open ' <<< "$output")" -eq 2 ] ;;
	"bin/tcpmon-tap --pretty soap.tcpmon")
		assert_output --regexp $'\n +<d:result>5</d:result>' ;;
	"bin/tcpmon-grep -e 'Fault' "*)
		assert_output --partial 'fault'
		[ "$(grep -c '^TCPMON/1 open ' faults.tcpmon)" -eq 1 ] ;;
	"bin/tcpmon-tap --raw "*)
		grep -q '^POST / HTTP/1.1' request.http ;;
	"bin/tcpmon-send --raw "*|"bin/tcpmon-send --replay "*)
		assert_output --partial 'result>5</' ;;
	"bin/tcpmon-throttle "*)
		assert_output --partial '<<< server to client' ;;
	"curl -s 'http://localhost:8081/?wsdl' | grep address")
		assert_output --regexp "location=\"http://localhost:$rport/" ;;
	"bin/tcpmon-pcap -r x.pcap | bin/tcpmon-tap")
		assert_output --partial 'GET /?wsdl HTTP/1.1' ;;
	"curl -x 127.0.0.1:8081 "*)
		assert_output --partial 'soap:address' ;;
	esac
}
