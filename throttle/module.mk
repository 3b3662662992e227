# throttle/ - tcpmon-throttle, a slow or faulty link: a record filter and a
# stage in the relay's data path.
PROGS += tcpmon-throttle
tcpmon-throttle_SRCS := throttle/throttle.c throttle/shape.c
MAN += man/tcpmon-throttle.1
