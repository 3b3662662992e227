#!/usr/bin/env bats
# make install and make uninstall: every tool and manual page goes in, and
# all of it, and nothing else, comes out again.

load helpers

@test "install: every tool and manual page under PREFIX; uninstall removes them all" {
	local top
	top=$(cd "$TESTS_DIR/.." && pwd)
	# The build under test: a SAN build installs from build/san/bin.
	local san=
	[[ $TCPMON_BIN == */san/* ]] && san=SAN=1
	run -0 make -s -C "$top" $san install DESTDIR="$T/root" PREFIX=/usr
	local t
	for t in tcpmon-relay tcpmon-tap tcpmon-grep tcpmon-send tcpmon-throttle \
	    tcpmon-fmt-xml tcpmon-fmt-json tcpmon-demo-soapd; do
		[ -x "$T/root/usr/bin/$t" ]
		[ -f "$T/root/usr/share/man/man1/$t.1" ]
	done
	[ -f "$T/root/usr/share/man/man5/tcpmon-record.5" ]
	touch "$T/root/usr/bin/someone-elses"
	run -0 make -s -C "$top" $san uninstall DESTDIR="$T/root" PREFIX=/usr
	run -0 find "$T/root" -type f
	assert_output "$T/root/usr/bin/someone-elses"
}
