# relay/ - tcpmon-relay, the intermediary.
PROGS += tcpmon-relay
tcpmon-relay_SRCS := relay/relay.c relay/conn.c relay/out.c relay/stage.c
MAN += man/tcpmon-relay.1
# The peers bench/relay.sh measures against, and its HTTP load.
DEB_PACKAGES += haproxy nginx wrk
