# rewrite/ - tcpmon-rewrite, a record filter and the relay's stage for
# --rewrite-host: the Host of requests, the Location of redirects and the
# soap:address of WSDL answers changed so that clients stay on the relay.
PROGS += tcpmon-rewrite
tcpmon-rewrite_SRCS := rewrite/rewrite.c rewrite/rw.c
MAN += man/tcpmon-rewrite.1
# tests/19-relay-rewrite.bats: nginx's virtual hosts; zeep reads the WSDL
# through the relay (demo/module.mk lists python3-zeep too).
DEB_TEST += nginx-light python3-zeep
# libFuzzer target of the rewriting engine (tests/fuzz/fuzz_rewrite.c).
fuzz_rewrite_SRCS := rewrite/rw.c
fuzz_rewrite_CFLAGS := -Irewrite
