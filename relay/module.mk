# relay/ - tcpmon-relay, the intermediary.
PROGS += tcpmon-relay
tcpmon-relay_SRCS := relay/relay.c relay/conn.c relay/out.c relay/preq.c \
	relay/proxy.c relay/upstream.c relay/stage.c relay/splice.c
MAN += man/tcpmon-relay.1
# The peers bench/relay.sh measures against, and its HTTP load.
DEB_PACKAGES += haproxy nginx wrk
# Proxy mode's peers: a browser in the tests, a proxy in bench/proxy.sh.
DEB_PACKAGES += chromium tinyproxy openssl
# libFuzzer target of the proxy's request head (tests/fuzz/).
fuzz_proxy_SRCS := relay/preq.c
fuzz_proxy_CFLAGS := -Irelay
