# view/ - tcpmon-view, TCPMon's window in a terminal (ncursesw): a live
# table of connections and exchanges, the request and response of the one
# selected, search, filter (tcpmon-grep's selectors, libtcpmon-select.a),
# formatting (libtcpmon-fmt.a), save and resend (through tcpmon-send).
PROGS += tcpmon-view
tcpmon-view_SRCS := view/view.c view/ui.c view/act.c view/detail.c \
	view/index.c
tcpmon-view_ARCHIVES := libtcpmon-select.a libtcpmon-fmt.a
NCURSES_CFLAGS := $(shell pkg-config --cflags ncursesw 2>/dev/null)
NCURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
tcpmon-view_LIBS := $(NCURSES_LIBS) $(SELECT_LIBS) $(FMT_XML_LIBS) -lz
view_CFLAGS := $(NCURSES_CFLAGS) -Itap -Ifmt $(shell pkg-config --cflags libpcre2-8)
MAN += man/tcpmon-view.1
DEB_BUILD += libncurses-dev libpcre2-dev libxml2-dev zlib1g-dev
DEB_TEST += tmux
DEB_BENCH += tmux time python3
# libFuzzer target of the index, the panes and the filter line (tests/fuzz/).
fuzz_view_SRCS := view/index.c view/detail.c view/act.c $(SELECT_LIB_SRCS) \
	$(FMT_LIB_SRCS)
fuzz_view_CFLAGS := -Iview -Itap -Ifmt $(fmt_CFLAGS)
fuzz_view_LIBS := $(SELECT_LIBS) $(FMT_XML_LIBS)
