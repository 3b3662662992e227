#!/usr/bin/env bats
# The Debian package: `make deb` builds it from the tree, lintian finds no
# error or warning, apt-get installs it on this machine, every tool runs
# from /usr/bin, the relay carries a connection, and a purge leaves nothing.
# It installs into /usr: teardown always purges it again.

load helpers

TOOLS="tcpmon-relay tcpmon-tap tcpmon-grep tcpmon-send tcpmon-throttle
    tcpmon-fmt-xml tcpmon-fmt-json tcpmon-demo-soapd tcpmon-rewrite tcpmon-pcap
    tcpmon-view tcpmon-diff tcpmon-mock"

setup_file() {
	export TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export VERSION=$(make -s -C "$TOP" version)
	export DEB=$TOP/build/deb/tcpmon_${VERSION}_$(dpkg --print-architecture).deb
	export OURS=
	# Someone else's tcpmon package is not ours to replace or purge.
	if dpkg-query -W -f='${Status}' tcpmon 2>/dev/null | grep -q installed; then
		export SKIP_WHY="a tcpmon package is installed already: not touching it"
		return 0
	fi
	[ "$(id -u)" = 0 ] || { export SKIP_WHY="installing a package needs root"; return 0; }
	make -s -C "$TOP" deb > "$BATS_FILE_TMPDIR/deb.log" 2>&1 ||
	    { cat "$BATS_FILE_TMPDIR/deb.log" >&3; return 1; }
}

purge() {
	if dpkg-query -W -f='${Status}' tcpmon 2>/dev/null | grep -q 'ok installed\|config-files'; then
		DEBIAN_FRONTEND=noninteractive timeout 120 apt-get purge -y -qq tcpmon >/dev/null 2>&1
	fi
}

teardown_file() {
	[ -n "${SKIP_WHY:-}" ] || purge
}

setup() {
	[ -z "${SKIP_WHY:-}" ] || skip "$SKIP_WHY"
	common_setup
}

teardown() {
	common_teardown
	[ -n "${SKIP_WHY:-}" ] || purge
}

@test "package: the version is said once, and debian/changelog and the tools agree" {
	run -0 dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version
	assert_output "$VERSION"
	run -0 grep -c 'TCPMON_VERSION "' "$TOP/common/util.h"
	assert_output 1
	run -0 "$(bin tcpmon-relay)" --version
	assert_output "tcpmon-relay $VERSION"
	[ -f "$DEB" ]
}

@test "package: Build-Depends names every library the build needs (make deps-list)" {
	local pkg missing=
	for pkg in $(make -s -C "$TOP" deps-list | sed -n 's/^build: //p'); do
		case $pkg in make|gcc|libc6-dev) continue ;; esac
		grep -q "^ *$pkg,\?\$\|Build-Depends:.* $pkg" "$TOP/debian/control" ||
		    missing="$missing $pkg"
	done
	[ -z "$missing" ] || { echo "debian/control lacks:$missing"; return 1; }
}

@test "package: lintian finds no error and no warning" {
	run -0 lintian --fail-on error,warning "$DEB"
	refute_output --regexp '^[EW]: '
}

@test "package: installs with apt-get, every tool runs from /usr/bin, the relay records, the units verify; purge leaves nothing" {
	dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' > "$T/files"
	grep -qx /usr/bin/tcpmon-relay "$T/files"
	grep -qx /usr/share/man/man1/tcpmon-relay.1.gz "$T/files"
	grep -qx /usr/share/man/man5/tcpmon-record.5.gz "$T/files"
	grep -qx /usr/share/bash-completion/completions/tcpmon-tap "$T/files"
	grep -qx /usr/share/zsh/vendor-completions/_tcpmon-tap "$T/files"
	grep -qx '/lib/systemd/system/tcpmon-relay@.service' "$T/files"
	grep -qx '/lib/systemd/system/tcpmon-relay@.socket' "$T/files"
	DEBIAN_FRONTEND=noninteractive timeout 120 apt-get install -y -qq \
	    --no-install-recommends "$DEB" > "$T/apt.log" 2>&1 || { cat "$T/apt.log"; false; }
	local t
	for t in $TOOLS; do
		run -0 "/usr/bin/$t" --version
		assert_output "$t $VERSION"
		man -w "$t" | grep -q "^/usr/share/man/man1/$t.1.gz$"
	done

	# A round trip through the installed relay, read by the installed tap.
	start_echo
	bg relay /usr/bin/tcpmon-relay -l 0 -t 127.0.0.1:"$ECHO_PORT" -o "$T/cap"
	RELAY_PID=$BG_PID
	wait_for "$T/relay.err" 'listening on'
	RELAY_PORT=$(port_of "$T/relay.err")
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$RELAY_PORT" <<< "from the package"
	assert_output "from the package"
	kill -TERM "$RELAY_PID"
	wait_exit "$RELAY_PID"
	[ "$BG_STATUS" -eq 0 ]
	run -0 /usr/bin/tcpmon-tap --list "$T/cap"
	assert_output --partial "127.0.0.1:$ECHO_PORT"

	# The units: verified, hardened, and the service's command line run as
	# systemd would, on a socket from systemd-socket-activate.
	run -0 systemd-analyze verify '/lib/systemd/system/tcpmon-relay@.service' \
	    '/lib/systemd/system/tcpmon-relay@.socket'
	run -0 systemd-analyze security --offline=yes --threshold=20 \
	    '/lib/systemd/system/tcpmon-relay@.service'
	local exec p
	exec=$(sed -n 's/^ExecStart=//p' '/lib/systemd/system/tcpmon-relay@.service')
	exec=${exec//\$\$/\$}
	eval "local cmd=($exec)"
	p=$(free_port)
	bg unit systemd-socket-activate -l 127.0.0.1:"$p" \
	    --setenv=TCPMON_ARGS="-t 127.0.0.1:$ECHO_PORT -o '$T/unit cap'" \
	    "${cmd[@]}"
	wait_for "$T/unit.err" "as 3"
	run -0 timeout 10 socat -t 5 - TCP:127.0.0.1:"$p" <<< "via the unit"
	assert_output "via the unit"
	grep -q "tcpmon-relay: listening on 127.0.0.1:$p" "$T/unit.err"
	kill -TERM "$BG_PID"
	wait_exit "$BG_PID"
	[ "$BG_STATUS" -eq 0 ]
	grep -aq '^TCPMON/1 close ' "$T/unit cap"

	# bash-completion finds the installed completion by the command's name.
	run -0 bash -c 'source /usr/share/bash-completion/bash_completion
		_completion_loader tcpmon-relay; complete -p tcpmon-relay'
	assert_output "complete -F _tcpmon_relay tcpmon-relay"

	DEBIAN_FRONTEND=noninteractive timeout 120 apt-get purge -y -qq tcpmon > "$T/apt.log" 2>&1 ||
	    { cat "$T/apt.log"; false; }
	run -1 dpkg-query -W -f='${Status}' tcpmon
	while read -r f; do
		if [ -e "$f" ] || [ -L "$f" ]; then echo "left: $f"; false; fi
	done < "$T/files"
	run -0 find /etc /var/lib/dpkg/info -name 'tcpmon*'
	assert_output ""
}
