# tap/ - tcpmon-tap, shows records to a person, and tcpmon-grep, selects
# connections from a stream of records.  Both take the selectors of
# tap/select.c.
PROGS += tcpmon-tap tcpmon-grep
# The selectors (select.c) are
# libtcpmon-select.a: tap, grep and tcpmon-view's
# filter link it (a tool compiles only its own directory; what it shares is
# a library).
SELECT_LIB_SRCS := tap/select.c
$(OBJ)/libtcpmon-select.a: $(patsubst %.c,$(OBJ)/%.o,$(SELECT_LIB_SRCS))
	@rm -f $@
	$(AR) rcs $@ $^
SELECT_LIBS := $(shell pkg-config --libs libpcre2-8)
tcpmon-tap_SRCS := tap/tap.c tap/show.c tap/list.c tap/sni.c tap/fault.c \
	tap/input.c tap/har.c
# --pretty: the formatting cores, fmt/module.mk's library.
tcpmon-tap_ARCHIVES := libtcpmon-select.a libtcpmon-fmt.a
# --har, --json=exchange: jansson, Debian's.
tcpmon-tap_LIBS := $(SELECT_LIBS) $(FMT_XML_LIBS) -lz \
	$(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
tcpmon-grep_SRCS := tap/grep.c tap/input.c
tcpmon-grep_ARCHIVES := libtcpmon-select.a
tcpmon-grep_LIBS := $(SELECT_LIBS) -lz
tap_CFLAGS := $(shell pkg-config --cflags libpcre2-8) -Ifmt
MAN += man/tcpmon-tap.1 man/tcpmon-grep.1
DEB_BUILD += libpcre2-dev zlib1g-dev libxml2-dev libjansson-dev
DEB_TEST += nginx-light python3 time bsdutils tmux
# tests/28-tap-har.bats checks --har with har-validator, from the npm
# registry: Debian's nodejs, and npm unless a nodejs that has its own
# (NodeSource's) is there.
DEB_TEST += nodejs $(if $(shell command -v npm 2>/dev/null),,npm)
# bench/tap.sh: /usr/bin/time for peak RSS.
DEB_BENCH += time python3
# libFuzzer target of the selectors (tests/fuzz/).
fuzz_select_SRCS := tap/select.c
fuzz_select_CFLAGS := -Itap $(tap_CFLAGS)
fuzz_select_LIBS := $(shell pkg-config --libs libpcre2-8)
# libFuzzer target of the ClientHello reader (--list's `TLS to NAME`) and
# of the SOAP Fault scanner.
fuzz_sni_SRCS := tap/sni.c tap/fault.c
fuzz_sni_CFLAGS := -Itap
# libFuzzer target of --har's building (tests/fuzz/).
fuzz_har_SRCS := tap/har.c
fuzz_har_CFLAGS := -Itap
fuzz_har_LIBS := -ljansson
