# demo/ - tcpmon-demo-soapd, the SOAP backend of `make demo` and the tests.
PROGS += tcpmon-demo-soapd
tcpmon-demo-soapd_SRCS := demo/soapd.c
MAN += man/tcpmon-demo-soapd.1
tcpmon-demo-soapd_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
demo_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
DEB_BUILD += libxml2-dev
# tests/30-demo-soapd.bats checks answers with xmllint, and reads the WSDL
# with zeep (Debian's python3, /usr/bin/python3).
DEB_TEST += libxml2-utils python3-zeep
