/* pcapconv.h - tcpmon-pcap: records to captures (topcap.c), captures to
 * records (frompcap.c over decode.c, the link and IP layers, and reasm.c,
 * the TCP reassembly, which know nothing of libpcap). */
#ifndef TCPMON_PCAPCONV_H
#define TCPMON_PCAPCONV_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct pcap_opts {
	const char	*write;		/* -w OUT, or NULL */
	const char	*read;		/* -r FILE, or NULL */
	int		 pcapng;	/* --format: 1 pcapng, 0 pcap */
	const char	*src;		/* --src TAG, or NULL: pcap-BASENAME */
	size_t		 buffer;	/* --buffer: out-of-order bytes per direction */
	char		*filter;	/* -r: the BPF expression, or NULL */
	char	       **inputs;	/* -w: captures of records; none: stdin */
	int		 ninputs;
};

/* The link types decode.c knows (LINKTYPE_ values of the pcap files, and
 * the DLT_ values libpcap may give for the same). */
#define LT_NULL		0
#define LT_ETHERNET	1
#define LT_RAW_DLT	12	/* DLT_RAW on most systems */
#define LT_RAW_DLT14	14	/* DLT_RAW on some BSDs */
#define LT_RAW		101
#define LT_LOOP		108
#define LT_LINUX_SLL	113
#define LT_IPV4		228
#define LT_IPV6		229
#define LT_LINUX_SLL2	276

/* One TCP segment, as decode.c found it in a frame. */
struct pkt {
	int64_t		 usec;
	int		 v6;		/* addresses are IPv6 (16 bytes), else 4 */
	uint8_t		 src[16], dst[16];
	uint16_t	 sport, dport;
	uint32_t	 seq, ack;
	uint8_t		 flags;		/* TH_ bits below */
	const uint8_t	*data;		/* payload as captured */
	size_t		 len;		/* bytes of it captured */
};

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PUSH	0x08
#define TH_ACK	0x10

/* Finds the TCP segment in a frame of the link type; 0, or -1 when the frame
 * holds no TCP segment we read (another protocol, an IP fragment, a frame cut
 * before the TCP header). */
int	 pkt_decode(int linktype, const uint8_t *frame, size_t caplen,
	    struct pkt *);
int	 pkt_linktype_known(int linktype);

/* The TCP reassembly: segments in, records out. */
struct reasm;
struct reasm *reasm_new(struct rec_writer *, const char *src, size_t buffer);
/* Writes the stream record (if not yet) at the given time. */
void	 reasm_start(struct reasm *, int64_t usec);
void	 reasm_packet(struct reasm *, const struct pkt *);
/* The end of the capture: what is left is written, each open connection
 * closed with reason=stopped. */
void	 reasm_finish(struct reasm *, int64_t usec);
void	 reasm_free(struct reasm *);

int	 topcap_run(const struct pcap_opts *);
int	 frompcap_run(const struct pcap_opts *);

#endif
