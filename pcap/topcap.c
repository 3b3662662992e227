/* topcap.c - tcpmon-pcap -w: records to a capture.  Each connection becomes
 * a TCP conversation of raw IP packets (LINKTYPE_RAW, IPv4 and IPv6 in one
 * file): the handshake at its open, its data in segments each acknowledged
 * by the other side, a FIN for each shutdown, an RST for a reset, every
 * checksum right, so that Wireshark and tshark follow it as they would a
 * real one.  pcapng is written here, block by block; classic pcap through
 * libpcap's dump API. */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapconv.h"
#include "util.h"

/* Payload per segment: an IPv4 packet holds at most 65535 bytes with its
 * 20-byte IP and TCP headers. */
#define SEG_MAX		(65535 - 40)
#define SNAPLEN		262144
#define NBUCKET		4096
#define OUT_BUF		(1024 * 1024)
#define WINDOW		65535
#define LINKTYPE_RAW	101

struct out {
	int		 pcapng;
	int		 fd;
	const char	*name;
	unsigned char	*buf;
	size_t		 len;
	pcap_t		*dead;
	pcap_dumper_t	*dump;
	int		 error;		/* errno of the first failed write */
	uint8_t		 pkt[60 + 4 + SEG_MAX];
};

struct wconn {
	struct wconn	*hnext;
	char		*src;
	uint64_t	 conn;
	int		 v6;
	uint8_t		 addr[2][16];	/* [0] the client, [1] the server */
	uint16_t	 port[2];
	uint32_t	 seq[2];	/* the next sequence number of each side */
	int		 fin[2];
	int		 delivered;	/* a record at=delivered was taken */
	char		 comment[300];
};

static struct wconn *table[NBUCKET];

static void
out_write(struct out *o, const void *p, size_t n)
{
	if (o->error != 0)
		return;
	if (o->len + n > OUT_BUF) {
		if (write_all(o->fd, o->buf, o->len) == -1) {
			o->error = errno;
			return;
		}
		o->len = 0;
	}
	if (n > OUT_BUF) {
		if (write_all(o->fd, p, n) == -1)
			o->error = errno;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* pcapng: the writer's byte order */
}

static void
put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* An option of a pcapng block: code, length, value padded to 4 bytes. */
static size_t
opt(uint8_t *p, uint16_t code, const void *v, size_t n)
{
	size_t pad = (4 - n % 4) % 4;

	put16(p, code);
	put16(p + 2, (uint16_t)n);
	memcpy(p + 4, v, n);
	memset(p + 4 + n, 0, pad);
	return 4 + n + pad;
}

static void
pcapng_header(struct out *o)
{
	uint8_t b[256];
	const char *app = "tcpmon-pcap " TCPMON_VERSION, *ifname = "tcpmon";
	uint64_t seclen = UINT64_MAX;	/* not given */
	size_t n;

	/* Section Header Block. */
	put32(b, 0x0A0D0D0A);
	put32(b + 8, 0x1A2B3C4D);
	put16(b + 12, 1);
	put16(b + 14, 0);
	memcpy(b + 16, &seclen, 8);
	n = 24;
	n += opt(b + n, 4, app, strlen(app));		/* shb_userappl */
	n += opt(b + n, 0, "", 0);
	put32(b + 4, (uint32_t)n + 4);
	put32(b + n, (uint32_t)n + 4);
	out_write(o, b, n + 4);
	/* Interface Description Block: raw IP, microseconds (the
	 * default resolution, as the records have). */
	put32(b, 1);
	put16(b + 8, LINKTYPE_RAW);
	put16(b + 10, 0);
	put32(b + 12, SNAPLEN);
	n = 16;
	n += opt(b + n, 2, ifname, strlen(ifname));	/* if_name */
	n += opt(b + n, 0, "", 0);
	put32(b + 4, (uint32_t)n + 4);
	put32(b + n, (uint32_t)n + 4);
	out_write(o, b, n + 4);
}

static void
out_packet(struct out *o, const char *comment, int64_t usec,
    const uint8_t *p, size_t n)
{
	uint8_t h[28], t[320 + 12];
	size_t clen = strlen(comment), tn = 0, pad = (4 - n % 4) % 4;
	uint64_t ts = (uint64_t)(usec < 0 ? 0 : usec);
	static const uint8_t zero[4];

	if (!o->pcapng) {
		struct pcap_pkthdr ph;

		ph.ts.tv_sec = (time_t)(ts / 1000000);
		ph.ts.tv_usec = (suseconds_t)(ts % 1000000);
		ph.caplen = ph.len = (bpf_u_int32)n;
		pcap_dump((u_char *)o->dump, &ph, p);
		return;
	}
	/* Enhanced Packet Block, the connection in a comment. */
	if (clen > 300)
		clen = 300;
	tn += opt(t, 1, comment, clen);
	tn += opt(t + tn, 0, "", 0);
	put32(h, 6);
	put32(h + 4, (uint32_t)(28 + n + pad + tn + 4));
	put32(h + 8, 0);
	put32(h + 12, (uint32_t)(ts >> 32));
	put32(h + 16, (uint32_t)ts);
	put32(h + 20, (uint32_t)n);
	put32(h + 24, (uint32_t)n);
	put32(t + tn, (uint32_t)(28 + n + pad + tn + 4));
	out_write(o, h, sizeof(h));
	out_write(o, p, n);
	out_write(o, zero, pad);
	out_write(o, t, tn + 4);
}

/* The Internet checksum (RFC 1071) in the host's byte order: summed in
 * 32-bit words, folded; stored as is, it is right on the wire. */
static uint64_t
csum_add(uint64_t acc, const uint8_t *p, size_t n)
{
	uint32_t v32;
	uint16_t v16;
	uint8_t last[2];

	while (n >= 4) {
		memcpy(&v32, p, 4);
		acc += v32;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		memcpy(&v16, p, 2);
		acc += v16;
		p += 2;
		n -= 2;
	}
	if (n == 1) {
		last[0] = p[0];
		last[1] = 0;
		memcpy(&v16, last, 2);
		acc += v16;
	}
	return acc;
}

static uint16_t
csum_fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void
be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One segment from side (0 client, 1 server) with the flags and payload;
 * its sequence number moves on by the payload, SYN and FIN. */
static void
segment(struct out *o, struct wconn *c, int side, uint8_t flags,
    const uint8_t *data, size_t n, int64_t usec)
{
	uint8_t *p = o->pkt, *t, ph[40];
	size_t ipl = c->v6 ? 40 : 20, al = c->v6 ? 16 : 4;
	size_t thl = (flags & TH_SYN) ? 24 : 20, tl = thl + n;
	uint16_t ck;
	uint64_t acc;

	if (c->v6) {
		memset(p, 0, 8);
		p[0] = 0x60;
		be16(p + 4, (uint16_t)tl);
		p[6] = 6;
		p[7] = 64;
		memcpy(p + 8, c->addr[side], 16);
		memcpy(p + 24, c->addr[!side], 16);
	} else {
		p[0] = 0x45;
		p[1] = 0;
		be16(p + 2, (uint16_t)(20 + tl));
		be16(p + 4, 0);
		be16(p + 6, 0x4000);	/* don't fragment */
		p[8] = 64;
		p[9] = 6;
		p[10] = p[11] = 0;
		memcpy(p + 12, c->addr[side], 4);
		memcpy(p + 16, c->addr[!side], 4);
		ck = csum_fold(csum_add(0, p, 20));
		memcpy(p + 10, &ck, 2);
	}
	t = p + ipl;
	be16(t, c->port[side]);
	be16(t + 2, c->port[!side]);
	be32(t + 4, c->seq[side]);
	be32(t + 8, (flags & TH_ACK) ? c->seq[!side] : 0);
	t[12] = (uint8_t)(thl / 4) << 4;
	t[13] = flags;
	be16(t + 14, WINDOW);
	t[16] = t[17] = t[18] = t[19] = 0;
	if (flags & TH_SYN) {
		t[20] = 2;	/* MSS, what a segment holds here */
		t[21] = 4;
		be16(t + 22, SEG_MAX);
	}
	if (n > 0)
		memcpy(t + thl, data, n);
	/* The pseudo-header: addresses, protocol, TCP length. */
	memcpy(ph, c->addr[side], al);
	memcpy(ph + al, c->addr[!side], al);
	if (c->v6) {
		be32(ph + 32, (uint32_t)tl);
		be32(ph + 36, 6);
	} else {
		ph[8] = 0;
		ph[9] = 6;
		be16(ph + 10, (uint16_t)tl);
	}
	acc = csum_add(0, ph, c->v6 ? 40 : 12);
	acc = csum_add(acc, t, tl);
	ck = csum_fold(acc);
	memcpy(t + 16, &ck, 2);
	out_packet(o, c->comment, usec, p, ipl + tl);
	c->seq[side] += (uint32_t)n + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0);
}

/* An address of a record: 1 with ip and port for an IP literal
 * ("127.0.0.1:80", "[::1]:80"), else 0 and the port of "name:port" if
 * it has one. */
static int
ip_literal(const char *s, int *v6, uint8_t ip[16], uint16_t *port)
{
	char host[256];
	const char *colon, *end;
	unsigned long pn;
	char *e;

	*port = 0;
	if (s == NULL || strncmp(s, "unix:", 5) == 0)
		return 0;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return 0;
		colon = end + 1;
		if ((size_t)(end - s - 1) >= sizeof(host))
			return 0;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
	} else {
		if ((colon = strrchr(s, ':')) == NULL ||
		    (size_t)(colon - s) >= sizeof(host))
			return 0;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	errno = 0;
	pn = strtoul(colon + 1, &e, 10);
	if (*e != '\0' || colon[1] == '\0' || pn > 65535 || errno != 0)
		return 0;
	*port = (uint16_t)pn;
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, host, ip) == 1) {
		*v6 = 0;
		return 1;
	}
	if (inet_pton(AF_INET6, host, ip) == 1) {
		*v6 = 1;
		return 1;
	}
	return 0;
}

/* A made-up loopback address, stable for the connection number: IPv4
 * 127.1.H.L (client) or 127.2.H.L (server), H.L the number's low 16 bits;
 * IPv6 ::1.  The client's port is 1024 plus the number modulo 64512. */
static void
made_up(struct wconn *c, int side, uint16_t port)
{
	memset(c->addr[side], 0, 16);
	if (c->v6)
		c->addr[side][15] = 1;
	else {
		c->addr[side][0] = 127;
		c->addr[side][1] = side == 0 ? 1 : 2;
		c->addr[side][2] = (uint8_t)(c->conn >> 8);
		c->addr[side][3] = (uint8_t)c->conn;
	}
	if (side == 0)
		c->port[0] = (uint16_t)(1024 + c->conn % 64512);
	else
		c->port[1] = port != 0 ? port : 80;
}

/* The client from client=; the server from target= when it is an address
 * of the client's family, else from listen= (the relay's own address, as
 * for a Unix-socket or named target), else made up. */
static void
addresses(struct wconn *c, const struct rec *r)
{
	uint8_t ip[16], tip[16], lip[16];
	uint16_t port, tport, lport;
	int v6, tv6, lv6, have_c, have_t, have_l;

	have_c = ip_literal(rec_get(r, "client"), &v6, ip, &port);
	if (have_c) {
		c->v6 = v6;
		memcpy(c->addr[0], ip, 16);
		c->port[0] = port;
	}
	have_t = ip_literal(rec_get(r, "target"), &tv6, tip, &tport) &&
	    (!have_c || tv6 == c->v6);
	have_l = ip_literal(rec_get(r, "listen"), &lv6, lip, &lport) &&
	    (!have_c || lv6 == c->v6);
	if (have_t || have_l) {
		c->v6 = have_t ? tv6 : lv6;
		memcpy(c->addr[1], have_t ? tip : lip, 16);
		c->port[1] = have_t ? tport : lport;
	} else
		made_up(c, 1, tport);
	if (!have_c)
		made_up(c, 0, 0);
}

static unsigned
hash(const char *src, uint64_t conn)
{
	uint32_t h = 2166136261u;

	for (; src != NULL && *src != '\0'; src++)
		h = (h ^ (uint8_t)*src) * 16777619u;
	h ^= (uint32_t)conn ^ (uint32_t)(conn >> 32);
	h *= 16777619u;
	return (h ^ h >> 15) % NBUCKET;
}

static struct wconn **
find(const char *src, uint64_t conn)
{
	struct wconn **pp;

	for (pp = &table[hash(src, conn)]; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->conn == conn && strcmp((*pp)->src,
		    src != NULL ? src : "") == 0)
			break;
	return pp;
}

static void
drop(struct wconn **pp)
{
	struct wconn *c = *pp;

	*pp = c->hnext;
	free(c->src);
	free(c);
}

/* A connection and its handshake, at its open or, without one, at its
 * first record. */
static struct wconn *
open_conn(struct out *o, const struct rec *r, struct wconn **pp)
{
	struct wconn *c;
	uint32_t h;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->src = strdup(r->src != NULL ? r->src : "")) == NULL)
		err(TM_EXIT_FAIL, "out of memory");
	c->conn = r->conn;
	addresses(c, r);
	snprintf(c->comment, sizeof(c->comment), "conn %llu src %s",
	    (unsigned long long)r->conn, r->src != NULL ? r->src : "-");
	/* Initial sequence numbers from the connection, so that a 4-tuple
	 * used again starts elsewhere. */
	h = (uint32_t)(r->conn * 2654435761u) ^ hash(r->src, r->conn) << 20;
	c->seq[0] = h;
	c->seq[1] = h * 2246822519u + 0x9e3779b9u;
	c->hnext = *pp;
	*pp = c;
	segment(o, c, 0, TH_SYN, NULL, 0, r->usec);
	segment(o, c, 1, TH_SYN | TH_ACK, NULL, 0, r->usec);
	segment(o, c, 0, TH_ACK, NULL, 0, r->usec);
	return c;
}

/* Which copy of a relay with stages is taken (tcpmon-record(5), Sent and
 * delivered copies): the open as accepted (at=sent), the rest as
 * delivered; a close only sent is taken when nothing of the connection was
 * delivered (it never reached its target). */
static int
wanted(const struct rec *r, struct wconn *c)
{
	const char *at = rec_get(r, "at");

	if (at == NULL)
		return 1;
	if (r->type == REC_OPEN)
		return strcmp(at, "sent") == 0;
	if (strcmp(at, "delivered") == 0) {
		if (c != NULL)
			c->delivered = 1;
		return 1;
	}
	return r->type == REC_CLOSE && c != NULL && !c->delivered;
}

static int
side_of(const char *who, int dflt)
{
	if (who == NULL)
		return dflt;
	if (strcmp(who, "client") == 0 || strcmp(who, "both") == 0)
		return 0;
	if (strcmp(who, "server") == 0)
		return 1;
	return dflt;
}

static void
record(struct out *o, struct rec *r, int64_t *last)
{
	struct wconn **pp, *c;
	const char *reason;
	size_t off, n;
	int side;

	if (r->usec < 0)
		r->usec = *last;
	*last = r->usec;
	if (r->type != REC_OPEN && r->type != REC_DATA &&
	    r->type != REC_SHUTDOWN && r->type != REC_CLOSE)
		return;
	pp = find(r->src, r->conn);
	c = *pp;
	if (!wanted(r, c))
		return;
	switch (r->type) {
	case REC_OPEN:
		if (c != NULL)
			return;	/* one open per connection */
		(void)open_conn(o, r, pp);
		return;
	case REC_DATA:
		if (r->len == 0 || r->dir == REC_NODIR)
			return;
		if (c == NULL)
			c = open_conn(o, r, pp);
		side = r->dir == REC_C2S ? 0 : 1;
		if (c->fin[side])
			return;
		for (off = 0; off < r->len; off += n) {
			n = r->len - off < SEG_MAX ? r->len - off : SEG_MAX;
			segment(o, c, side, TH_ACK | TH_PUSH, r->data + off, n,
			    r->usec);
			segment(o, c, !side, TH_ACK, NULL, 0, r->usec);
		}
		return;
	case REC_SHUTDOWN:
		if (r->dir == REC_NODIR)
			return;
		if (c == NULL)
			c = open_conn(o, r, pp);
		side = r->dir == REC_C2S ? 0 : 1;
		if (c->fin[side])
			return;
		c->fin[side] = 1;
		segment(o, c, side, TH_FIN | TH_ACK, NULL, 0, r->usec);
		segment(o, c, !side, TH_ACK, NULL, 0, r->usec);
		return;
	case REC_CLOSE:
		if (c == NULL)
			return;
		reason = rec_get(r, "reason");
		/* A reset from the side that did it; a connection that ends
		 * otherwise with a direction still open ends with a reset
		 * too, from the side the relay reset (or the server). */
		if (reason != NULL && strcmp(reason, "reset") == 0)
			segment(o, c, side_of(rec_get(r, "by"), 0),
			    TH_RST | TH_ACK, NULL, 0, r->usec);
		else if (!c->fin[0] || !c->fin[1])
			segment(o, c, side_of(rec_get(r, "reset"),
			    side_of(rec_get(r, "by"), 1)), TH_RST | TH_ACK,
			    NULL, 0, r->usec);
		drop(pp);
		return;
	default:
		return;
	}
}

static int
out_open(struct out *o, const struct pcap_opts *opt)
{
	char ebuf[PCAP_ERRBUF_SIZE];

	memset(o, 0, sizeof(*o) - sizeof(o->pkt));
	o->pcapng = opt->pcapng;
	o->name = strcmp(opt->write, "-") == 0 ? "stdout" : opt->write;
	if (!o->pcapng) {
		o->dead = pcap_open_dead_with_tstamp_precision(DLT_RAW, SNAPLEN,
		    PCAP_TSTAMP_PRECISION_MICRO);
		if (o->dead == NULL)
			errx(TM_EXIT_FAIL, "pcap_open_dead failed");
		if ((o->dump = pcap_dump_open(o->dead, opt->write)) == NULL) {
			snprintf(ebuf, sizeof(ebuf), "%s", pcap_geterr(o->dead));
			warnx("%s", ebuf);
			pcap_close(o->dead);
			return -1;
		}
		return 0;
	}
	if (strcmp(opt->write, "-") == 0)
		o->fd = STDOUT_FILENO;
	else if ((o->fd = open(opt->write, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0666)) == -1) {
		warn("%s", opt->write);
		return -1;
	}
	if ((o->buf = malloc(OUT_BUF)) == NULL)
		err(TM_EXIT_FAIL, "out of memory");
	pcapng_header(o);
	return 0;
}

static int
out_close(struct out *o)
{
	FILE *f;
	int bad;

	if (!o->pcapng) {
		f = pcap_dump_file(o->dump);
		bad = fflush(f) != 0 || ferror(f);
		if (bad)
			o->error = errno != 0 ? errno : EIO;
		pcap_dump_close(o->dump);
		pcap_close(o->dead);
	} else {
		if (o->error == 0 && o->len > 0 &&
		    write_all(o->fd, o->buf, o->len) == -1)
			o->error = errno;
		if (o->fd != STDOUT_FILENO && close(o->fd) == -1 &&
		    o->error == 0)
			o->error = errno;
		free(o->buf);
	}
	if (o->error != 0) {
		errno = o->error;
		warn("write %s", o->name);
		return -1;
	}
	return 0;
}

static int
one_input(struct out *o, int fd, const char *name, int64_t *last)
{
	struct rec_reader rd;
	static struct rec r;
	int rc;

	if (recr_init(&rd, fd, name) == -1)
		err(TM_EXIT_FAIL, "out of memory");
	while ((rc = recr_next(&rd, &r)) == REC_OK) {
		record(o, &r, last);
		if (o->error != 0)
			break;
	}
	if (rc == REC_ERR)
		warnx("%s", rd.err);
	recr_free(&rd);
	return rc == REC_ERR ? -1 : 0;
}

int
topcap_run(const struct pcap_opts *opt)
{
	static struct out o;
	const char *name;
	int64_t last = 0;
	int i, fd, status = TM_EXIT_OK;

	if (out_open(&o, opt) == -1)
		return TM_EXIT_FAIL;
	if (opt->ninputs == 0) {
		if (one_input(&o, STDIN_FILENO, "stdin", &last) == -1)
			status = TM_EXIT_USAGE;
	}
	for (i = 0; i < opt->ninputs && o.error == 0; i++) {
		/* An input that cannot be opened is bad input: the others
		 * are still written. */
		if ((fd = tm_open_input(opt->inputs[i], &name)) == -1) {
			warn("%s", opt->inputs[i]);
			status = TM_EXIT_USAGE;
			continue;
		}
		if (one_input(&o, fd, name, &last) == -1)
			status = TM_EXIT_USAGE;
		if (fd != STDIN_FILENO)
			close(fd);
	}
	/* An output that could not be written is the job failing, whatever
	 * the inputs were. */
	if (out_close(&o) == -1)
		status = TM_EXIT_FAIL;
	return status;
}
