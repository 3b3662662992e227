# pcap/ - tcpmon-pcap, records to pcapng or pcap and captures back to
# records (TCP reassembled); reads captures through libpcap.
PROGS += tcpmon-pcap
tcpmon-pcap_SRCS := pcap/pcap.c pcap/topcap.c pcap/frompcap.c pcap/decode.c \
	pcap/reasm.c
tcpmon-pcap_LIBS := $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)
MAN += man/tcpmon-pcap.1
DEB_BUILD += libpcap-dev
DEB_TEST += tshark tcpdump python3
DEB_BENCH += python3 time
# The reassembly on packets made from fuzz bytes, without libpcap.
fuzz_pcap_SRCS := pcap/decode.c pcap/reasm.c
fuzz_pcap_CFLAGS := -Ipcap
DEB_BENCH += tcpflow
