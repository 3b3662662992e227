# diff/ - tcpmon-diff and tcpmon-mock, the regression tools.  tcpmon-diff: two captures' HTTP exchanges
# paired and compared (XML canonically with libxml2's C14N, JSON as values
# with jansson, text by line), volatile parts left out, diff(1)'s exit
# statuses and JUnit XML for CI servers.
PROGS += tcpmon-diff
tcpmon-diff_SRCS := diff/diff.c diff/cmp.c diff/xch.c
tcpmon-diff_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2) \
	$(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson) \
	$(shell pkg-config --libs libpcre2-8) -lz
diff_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
MAN += man/tcpmon-diff.1
# tcpmon-mock: a server answering from recorded exchanges, matched as
# tcpmon-diff compares (the same reading and normal forms).
PROGS += tcpmon-mock
tcpmon-mock_SRCS := diff/mock.c diff/cmp.c diff/xch.c diff/script.c
tcpmon-mock_LIBS := $(tcpmon-diff_LIBS)
MAN += man/tcpmon-mock.1
DEB_BUILD += libxml2-dev libjansson-dev libpcre2-dev zlib1g-dev
# diff(1) shows the bodies' differences: diffutils is essential in Debian.
DEB_TEST += diffutils
# libFuzzer target of the exchanges' reading and the bodies' normal forms
# (tests/fuzz/).
fuzz_diff_SRCS := diff/xch.c diff/cmp.c diff/script.c
fuzz_diff_CFLAGS := -Idiff $(diff_CFLAGS)
fuzz_diff_LIBS := $(tcpmon-diff_LIBS)
