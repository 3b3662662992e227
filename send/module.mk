# send/ - tcpmon-send, posts SOAP and HTTP requests and re-sends recorded ones.
PROGS += tcpmon-send
tcpmon-send_SRCS := send/send.c send/url.c send/request.c send/soap.c \
	send/exchange.c send/output.c send/repeat.c send/replay.c send/rawreq.c \
	send/tls.c send/assert.c
# --pretty: the formatting cores, fmt/module.mk's library.
tcpmon-send_ARCHIVES := libtcpmon-fmt.a
# https://: OpenSSL 3, Debian's.
tcpmon-send_LIBS := $(FMT_XML_LIBS) $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto) \
	$(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
send_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2) -Ifmt
MAN += man/tcpmon-send.1
DEB_BUILD += libxml2-dev libssl-dev libjansson-dev
DEB_TEST += nginx-light python3 python3-spyne curl
DEB_BENCH += nginx curl python3
# libFuzzer target of the answers' parsing (tests/fuzz/).
fuzz_sendresp_SRCS := send/exchange.c send/tls.c
fuzz_sendresp_CFLAGS := -Isend
fuzz_sendresp_LIBS := -lssl -lcrypto
# libFuzzer target of raw request files: the check, --fix-length and
# --exchange's cutting (send/rawreq.c).
fuzz_sendreq_SRCS := send/rawreq.c
fuzz_sendreq_CFLAGS := -Isend
