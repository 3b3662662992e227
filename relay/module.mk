# relay/ - tcpmon-relay, the intermediary.
PROGS += tcpmon-relay
tcpmon-relay_SRCS := relay/relay.c relay/conn.c
MAN += man/tcpmon-relay.1
