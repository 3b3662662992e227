/* decode.c - the link, IP and TCP layers of a captured frame: where the TCP
 * segment is, its addresses, ports, numbers and payload.  Checksums are not
 * checked: a capture on the sending host sees them before the NIC fills
 * them in (offload), and they are wrong there. */
#include <string.h>

#include "pcapconv.h"

#define ETH_IPV4	0x0800
#define ETH_IPV6	0x86dd
#define ETH_VLAN	0x8100
#define ETH_QINQ	0x88a8

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
tcp(const uint8_t *p, size_t n, struct pkt *k)
{
	size_t off;

	if (n < 20)
		return -1;
	off = (size_t)(p[12] >> 4) * 4;
	if (off < 20 || off > n)
		return -1;
	k->sport = be16(p);
	k->dport = be16(p + 2);
	k->seq = be32(p + 4);
	k->ack = be32(p + 8);
	k->flags = p[13];
	k->data = p + off;
	k->len = n - off;
	return 0;
}

/* n is what was captured; the IP length says how much of it is the packet
 * (an Ethernet frame is padded to 60 bytes).  A payload cut by the snap
 * length leaves its end uncaptured: the reassembly sees a gap there. */
static int
ipv4(const uint8_t *p, size_t n, struct pkt *k)
{
	size_t hl, tot;

	if (n < 20 || p[0] >> 4 != 4)
		return -1;
	hl = (size_t)(p[0] & 15) * 4;
	tot = be16(p + 2);
	if (hl < 20 || tot < hl || n < hl)
		return -1;
	/* Fragments are not put together again: rare for TCP, which sizes
	 * its segments to the path. */
	if ((be16(p + 6) & 0x3fff) != 0 || p[9] != 6)
		return -1;
	if (tot < n)
		n = tot;
	k->v6 = 0;
	memset(k->src, 0, sizeof(k->src));
	memset(k->dst, 0, sizeof(k->dst));
	memcpy(k->src, p + 12, 4);
	memcpy(k->dst, p + 16, 4);
	return tcp(p + hl, n - hl, k);
}

static int
ipv6(const uint8_t *p, size_t n, struct pkt *k)
{
	size_t off = 40, plen;
	uint8_t nh;

	if (n < 40 || p[0] >> 4 != 6)
		return -1;
	plen = be16(p + 4);
	if (plen + 40 < n)
		n = plen + 40;
	nh = p[6];
	/* Extension headers before TCP: hop-by-hop, routing, destination
	 * options; a fragment header means a fragment, not read. */
	while (nh == 0 || nh == 43 || nh == 60) {
		if (off + 8 > n)
			return -1;
		nh = p[off];
		off += ((size_t)p[off + 1] + 1) * 8;
	}
	if (nh != 6 || off > n)
		return -1;
	k->v6 = 1;
	memcpy(k->src, p + 8, 16);
	memcpy(k->dst, p + 24, 16);
	return tcp(p + off, n - off, k);
}

static int
ip(const uint8_t *p, size_t n, struct pkt *k)
{
	if (n < 1)
		return -1;
	if (p[0] >> 4 == 4)
		return ipv4(p, n, k);
	if (p[0] >> 4 == 6)
		return ipv6(p, n, k);
	return -1;
}

static int
ethertype(unsigned type, const uint8_t *p, size_t n, struct pkt *k)
{
	if (type == ETH_IPV4)
		return ipv4(p, n, k);
	if (type == ETH_IPV6)
		return ipv6(p, n, k);
	return -1;
}

int
pkt_linktype_known(int lt)
{
	switch (lt) {
	case LT_NULL: case LT_ETHERNET: case LT_RAW_DLT: case LT_RAW_DLT14:
	case LT_RAW: case LT_LOOP: case LT_LINUX_SLL: case LT_IPV4:
	case LT_IPV6: case LT_LINUX_SLL2:
		return 1;
	}
	return 0;
}

int
pkt_decode(int lt, const uint8_t *p, size_t n, struct pkt *k)
{
	unsigned type, fam;
	size_t off;

	switch (lt) {
	case LT_ETHERNET:
		if (n < 14)
			return -1;
		type = be16(p + 12);
		off = 14;
		/* 802.1Q and 802.1ad tags, stacked. */
		while ((type == ETH_VLAN || type == ETH_QINQ) && off + 4 <= n) {
			type = be16(p + off + 2);
			off += 4;
		}
		return ethertype(type, p + off, n - off, k);
	case LT_LINUX_SLL:
		if (n < 16)
			return -1;
		return ethertype(be16(p + 14), p + 16, n - 16, k);
	case LT_LINUX_SLL2:
		if (n < 20)
			return -1;
		return ethertype(be16(p), p + 20, n - 20, k);
	case LT_NULL:
	case LT_LOOP:
		/* The address family: in the writer's byte order for NULL,
		 * big-endian for LOOP.  2 is AF_INET everywhere; AF_INET6 is
		 * 10 (Linux), 24, 28 or 30 (the BSDs, macOS). */
		if (n < 4)
			return -1;
		fam = lt == LT_LOOP ? be32(p) : (p[0] | p[3]);
		if (fam == 2)
			return ipv4(p + 4, n - 4, k);
		if (fam == 10 || fam == 24 || fam == 28 || fam == 30)
			return ipv6(p + 4, n - 4, k);
		return -1;
	case LT_RAW:
	case LT_RAW_DLT:
	case LT_RAW_DLT14:
		return ip(p, n, k);
	case LT_IPV4:
		return ipv4(p, n, k);
	case LT_IPV6:
		return ipv6(p, n, k);
	}
	return -1;
}
