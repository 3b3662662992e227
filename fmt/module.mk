# fmt/ - tcpmon-fmt-xml and tcpmon-fmt-json, record filters that make
# payloads readable.  The formatting cores (xmlfmt.c, jsonfmt.c, fmtbuf.c,
# mime.c) take bytes and give bytes: they are libtcpmon-fmt.a, which the
# filters link and so do tcpmon-send --pretty and tcpmon-tap --pretty (a
# tool compiles only its own directory; what it shares is a library).
PROGS += tcpmon-fmt-xml tcpmon-fmt-json
FMT_LIB_SRCS := fmt/xmlfmt.c fmt/jsonfmt.c fmt/fmtbuf.c fmt/mime.c fmt/pretty.c
$(OBJ)/libtcpmon-fmt.a: $(patsubst %.c,$(OBJ)/%.o,$(FMT_LIB_SRCS))
	@rm -f $@
	$(AR) rcs $@ $^
# -lxml2 for the tools that link xmlfmt.o out of it.
FMT_XML_LIBS := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
FMT_FILTER := fmt/filter.c
tcpmon-fmt-xml_SRCS := fmt/xml.c $(FMT_FILTER)
tcpmon-fmt-xml_ARCHIVES := libtcpmon-fmt.a
tcpmon-fmt-xml_LIBS := $(FMT_XML_LIBS) -lz
tcpmon-fmt-json_SRCS := fmt/json.c $(FMT_FILTER)
tcpmon-fmt-json_ARCHIVES := libtcpmon-fmt.a
tcpmon-fmt-json_LIBS := -lz
fmt_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
MAN += man/tcpmon-fmt-xml.1 man/tcpmon-fmt-json.1
DEB_BUILD += libxml2-dev zlib1g-dev
DEB_TEST += libxml2-utils jq nginx-light time python3
# bench/fmt.sh: xmllint --format for comparison, /usr/bin/time.
DEB_BENCH += libxml2-utils time python3
# libFuzzer targets of the formatting cores (tests/fuzz/).
fuzz_xmlfmt_SRCS := fmt/xmlfmt.c fmt/fmtbuf.c fmt/mime.c
fuzz_xmlfmt_CFLAGS := $(fmt_CFLAGS) -Ifmt
fuzz_xmlfmt_LIBS := $(tcpmon-fmt-xml_LIBS)
fuzz_jsonfmt_SRCS := fmt/jsonfmt.c fmt/fmtbuf.c fmt/mime.c
fuzz_jsonfmt_CFLAGS := -Ifmt
