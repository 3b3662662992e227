# tap/ - tcpmon-tap, shows records to a person.
PROGS += tcpmon-tap
tcpmon-tap_SRCS := tap/tap.c tap/show.c
MAN += man/tcpmon-tap.1
