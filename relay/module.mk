# relay/ - tcpmon-relay, the intermediary.
PROGS += tcpmon-relay
tcpmon-relay_SRCS := relay/relay.c relay/listen.c relay/conn.c relay/out.c relay/preq.c \
	relay/proxy.c relay/upstream.c relay/stage.c relay/splice.c \
	relay/capture.c relay/activate.c relay/tls.c relay/ca.c
# OpenSSL 3 for TLS on either side (relay/tls.c): Debian's, no crypto of
# our own.
tcpmon-relay_LIBS := $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
DEB_BUILD += libssl-dev
MAN += man/tcpmon-relay.1
# The peers bench/relay.sh and bench/proxy.sh measure against, and their
# HTTP load.
DEB_BENCH += haproxy nginx wrk socat tinyproxy python3 stunnel4 mitmproxy openssl curl
# Proxy mode's peers in the tests: a browser, an upstream proxy, certificates.
DEB_TEST += chromium tinyproxy openssl nginx-light socat python3
# libFuzzer target of the proxy's request head (tests/fuzz/).
fuzz_proxy_SRCS := relay/preq.c
fuzz_proxy_CFLAGS := -Irelay
# The names that go into the certificates the relay's CA mints.
fuzz_mint_SRCS := relay/ca.c
fuzz_mint_CFLAGS := -Irelay
fuzz_mint_LIBS := -lssl -lcrypto
