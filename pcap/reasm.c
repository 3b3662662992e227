/* reasm.c - TCP reassembly: captured segments in, tcpmon records out.
 *
 * Each connection (a 4-tuple, until it closes) has two directions; each
 * direction has the next sequence number it expects and a sorted list of
 * segments that came early.  Bytes are written as data records as soon as
 * they are in order; a segment that overlaps bytes already written or
 * already held loses to them (the first copy seen wins).  Bytes that never
 * come are declared a gap (a note record with their count, never invented
 * bytes) when the receiver acknowledges past them, when the early segments
 * held exceed the buffer, or when the connection or the capture ends.  So
 * memory is what is early per direction, capped, plus a small table of
 * connections (MAX_CONNS, the least recently seen given up first).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapconv.h"
#include "util.h"

#define NBUCKET		(1u << 14)
/* Connections kept, open and closed: a closed one is kept so that the last
 * ACKs and late retransmissions of its 4-tuple start nothing new. */
#define MAX_CONNS	65536
/* Beyond this, an acknowledgement is taken for a broken packet, not as
 * proof of bytes sent. */
#define MAX_ACK_GAP	(1u << 30)

struct seg {
	struct seg	*next;
	uint32_t	 seq;
	size_t		 len;
	uint8_t		 data[];
};

struct half {
	int		 known;		/* next is set */
	uint32_t	 next;		/* the next byte expected */
	int		 syn;		/* isn holds the SYN's number */
	uint32_t	 isn;
	int		 fin;		/* a FIN was seen, at fin_seq */
	uint32_t	 fin_seq;
	int		 shut;		/* its shutdown record is written */
	struct seg	*ooo;		/* early segments: sorted, apart */
	size_t		 held;
	uint64_t	 bytes;		/* written as data */
};

struct tconn {
	struct tconn	*hnext;
	struct tconn	*prev, *next;	/* most recently seen first */
	unsigned	 bucket;
	uint64_t	 id;
	int		 v6;
	uint8_t		 addr[2][16];	/* [0] the client, [1] the server */
	uint16_t	 port[2];
	struct half	 h[2];		/* [0] client to server, [1] back */
	int		 closed;
};

struct reasm {
	struct rec_writer *w;
	char		 src[256];
	size_t		 cap;
	int		 started;
	uint64_t	 nextid;
	struct tconn	*bucket[NBUCKET];
	struct tconn	*head, *tail;
	size_t		 nconn;
};

static const enum rec_dir dirs[2] = { REC_C2S, REC_S2C };

static void
put(struct reasm *r, struct rec *rec, const void *p, size_t n)
{
	(void)recw_put(r->w, rec, p, n);	/* the caller checks w->error */
}

static void
init(struct reasm *r, struct rec *rec, enum rec_type t, uint64_t conn,
    int64_t usec)
{
	rec_init(rec, t, conn);
	rec_set_src(rec, r->src);
	rec->usec = usec;
}

void
reasm_start(struct reasm *r, int64_t usec)
{
	struct rec rec;

	if (r->started)
		return;
	r->started = 1;
	init(r, &rec, REC_STREAM, 0, usec);
	rec_set(&rec, "tool", "tcpmon-pcap");
	rec_set(&rec, "version", TCPMON_VERSION);
	put(r, &rec, NULL, 0);
}

static void
note(struct reasm *r, struct tconn *c, int side, int64_t usec,
    const char *level, uint64_t gap, const char *text)
{
	struct rec rec;

	init(r, &rec, REC_NOTE, c->id, usec);
	if (side >= 0)
		rec.dir = dirs[side];
	rec_set(&rec, "level", level);
	if (gap > 0)
		rec_setf(&rec, "gap", "%llu", (unsigned long long)gap);
	put(r, &rec, text, strlen(text));
}

static void
fmt_addr(const struct tconn *c, int side, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->addr[side], ip, sizeof(ip));
	snprintf(buf, n, c->v6 ? "[%s]:%u" : "%s:%u", ip,
	    (unsigned)c->port[side]);
}

static void
data(struct reasm *r, struct tconn *c, int side, int64_t usec,
    const uint8_t *p, size_t n)
{
	struct rec rec;

	init(r, &rec, REC_DATA, c->id, usec);
	rec.dir = dirs[side];
	put(r, &rec, p, n);
	c->h[side].bytes += n;
}

static void
gap(struct reasm *r, struct tconn *c, int side, int64_t usec, uint32_t n)
{
	char text[128];

	snprintf(text, sizeof(text), "%lu bytes from %s were not captured",
	    (unsigned long)n, side == 0 ? "client to server" :
	    "server to client");
	note(r, c, side, usec, "warning", n, text);
}

/* Writes the held segments that are next in order. */
static void
drain(struct reasm *r, struct tconn *c, int side, int64_t usec)
{
	struct half *h = &c->h[side];
	struct seg *s;

	/* A held segment that starts at or before next: its bytes after
	 * next go out (those written before win, as for a retransmission);
	 * one that ends before next goes.  Left held, a segment behind next
	 * was never released and the cap's loop in add_data never ended
	 * (fuzz_pcap). */
	while ((s = h->ooo) != NULL && (int32_t)(s->seq - h->next) <= 0) {
		uint32_t skip = h->next - s->seq;

		if (skip < s->len) {
			data(r, c, side, usec, s->data + skip, s->len - skip);
			h->next += (uint32_t)s->len - skip;
		}
		h->held -= s->len;
		h->ooo = s->next;
		free(s);
	}
}

/* Moves the direction on to `to`: held bytes written, the others a gap. */
static void
skip_to(struct reasm *r, struct tconn *c, int side, uint32_t to,
    int64_t usec)
{
	struct half *h = &c->h[side];
	uint32_t end;

	drain(r, c, side, usec);
	while ((int32_t)(to - h->next) > 0) {
		end = to;
		if (h->ooo != NULL && (int32_t)(h->ooo->seq - to) < 0)
			end = h->ooo->seq;
		gap(r, c, side, usec, end - h->next);
		h->next = end;
		drain(r, c, side, usec);
	}
}

/* The end of the held segments, or next when none is held. */
static uint32_t
held_end(const struct half *h)
{
	const struct seg *s;
	uint32_t end = h->next;

	for (s = h->ooo; s != NULL; s = s->next)
		end = s->seq + (uint32_t)s->len;
	return end;
}

static void
hold(struct reasm *r, struct half *h, uint32_t seq, const uint8_t *p,
    size_t n)
{
	struct seg **pp, *s;
	uint32_t rel, srel, send;
	size_t take;

	(void)r;
	/* The parts of [seq, seq+n) no held segment covers, each a new
	 * segment in its place. */
	pp = &h->ooo;
	while (n > 0) {
		rel = seq - h->next;
		while (*pp != NULL && (*pp)->seq - h->next +
		    (uint32_t)(*pp)->len <= rel)
			pp = &(*pp)->next;
		take = n;
		if (*pp != NULL) {
			srel = (*pp)->seq - h->next;
			if (srel <= rel) {
				/* Covered from seq on: skip what it holds. */
				send = srel + (uint32_t)(*pp)->len - rel;
				if (send >= n)
					return;
				seq += send;
				p += send;
				n -= send;
				continue;
			}
			if (srel - rel < take)
				take = srel - rel;
		}
		if ((s = malloc(sizeof(*s) + take)) == NULL)
			return;	/* a gap later, rather than a crash */
		s->seq = seq;
		s->len = take;
		memcpy(s->data, p, take);
		s->next = *pp;
		*pp = s;
		pp = &s->next;
		h->held += take;
		seq += (uint32_t)take;
		p += take;
		n -= take;
	}
}

static void
add_data(struct reasm *r, struct tconn *c, int side, uint32_t seq,
    const uint8_t *p, size_t n, int64_t usec)
{
	struct half *h = &c->h[side];
	int32_t off = (int32_t)(seq - h->next);

	if (h->shut)
		return;
	if (off < 0) {
		/* A retransmission: the bytes written before win. */
		if ((uint32_t)-(int64_t)off >= n)
			return;
		p += (uint32_t)-(int64_t)off;
		n -= (uint32_t)-(int64_t)off;
		seq = h->next;
	}
	if (h->fin && (int32_t)(seq - h->fin_seq) >= 0)
		return;
	if (h->fin && (int32_t)(seq + (uint32_t)n - h->fin_seq) > 0)
		n = h->fin_seq - seq;
	if (n == 0)
		return;
	if (h->ooo == NULL && seq == h->next) {
		data(r, c, side, usec, p, n);
		h->next += (uint32_t)n;
		return;
	}
	hold(r, h, seq, p, n);
	drain(r, c, side, usec);
	while (h->held > r->cap && h->ooo != NULL)
		skip_to(r, c, side, h->ooo->seq, usec);
}

static void
close_rec(struct reasm *r, struct tconn *c, int64_t usec, const char *reason,
    int by)
{
	struct rec rec;
	struct seg *s;
	int i;

	init(r, &rec, REC_CLOSE, c->id, usec);
	rec_set(&rec, "reason", reason);
	if (by >= 0)
		rec_set(&rec, "by", by == 0 ? "client" : "server");
	rec_setf(&rec, "c2s", "%llu", (unsigned long long)c->h[0].bytes);
	rec_setf(&rec, "s2c", "%llu", (unsigned long long)c->h[1].bytes);
	put(r, &rec, NULL, 0);
	c->closed = 1;
	for (i = 0; i < 2; i++) {
		while ((s = c->h[i].ooo) != NULL) {
			c->h[i].ooo = s->next;
			free(s);
		}
		c->h[i].held = 0;
	}
}

static void
shutdown_rec(struct reasm *r, struct tconn *c, int side, int64_t usec)
{
	struct half *h = &c->h[side];
	struct rec rec;

	if (h->shut || !h->fin || h->next != h->fin_seq)
		return;
	h->shut = 1;
	h->next = h->fin_seq + 1;
	init(r, &rec, REC_SHUTDOWN, c->id, usec);
	rec.dir = dirs[side];
	put(r, &rec, NULL, 0);
}

/* Everything held is written, missing bytes as gaps, up to the FIN if one
 * was seen: the connection or the capture ends here. */
static void
flush(struct reasm *r, struct tconn *c, int64_t usec)
{
	struct half *h;
	int i;

	for (i = 0; i < 2; i++) {
		h = &c->h[i];
		if (!h->known || h->shut)
			continue;
		skip_to(r, c, i, h->fin ? h->fin_seq : held_end(h), usec);
		shutdown_rec(r, c, i, usec);
	}
}

/* The end of a connection the capture leaves open. */
static void
give_up(struct reasm *r, struct tconn *c, int64_t usec, const char *why)
{
	flush(r, c, usec);
	if (c->h[0].shut && c->h[1].shut) {
		close_rec(r, c, usec, "eof", -1);
		return;
	}
	note(r, c, -1, usec, "warning", 0, why);
	close_rec(r, c, usec, "stopped", -1);
}

static unsigned
hash(const struct pkt *p)
{
	const uint8_t *a = p->src, *b = p->dst;
	uint16_t pa = p->sport, pb = p->dport;
	uint32_t h = 2166136261u;
	size_t i, n = p->v6 ? 16 : 4;
	int c;

	/* The same for both directions: the smaller end first. */
	c = memcmp(a, b, n);
	if (c > 0 || (c == 0 && pa > pb)) {
		a = p->dst;
		b = p->src;
		pa = p->dport;
		pb = p->sport;
	}
	for (i = 0; i < n; i++)
		h = (h ^ a[i]) * 16777619u;
	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	h = (h ^ pa) * 16777619u;
	h = (h ^ pb) * 16777619u;
	h ^= (uint32_t)p->v6;
	return (h ^ h >> 16) & (NBUCKET - 1);
}

static struct tconn *
lookup(struct reasm *r, const struct pkt *p, unsigned b, int *side)
{
	struct tconn *c;
	size_t n = p->v6 ? 16 : 4;

	for (c = r->bucket[b]; c != NULL; c = c->hnext) {
		if (c->v6 != p->v6)
			continue;
		if (c->port[0] == p->sport && c->port[1] == p->dport &&
		    memcmp(c->addr[0], p->src, n) == 0 &&
		    memcmp(c->addr[1], p->dst, n) == 0) {
			*side = 0;
			return c;
		}
		if (c->port[1] == p->sport && c->port[0] == p->dport &&
		    memcmp(c->addr[1], p->src, n) == 0 &&
		    memcmp(c->addr[0], p->dst, n) == 0) {
			*side = 1;
			return c;
		}
	}
	return NULL;
}

static void
lru_unlink(struct reasm *r, struct tconn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		r->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		r->tail = c->prev;
	c->prev = c->next = NULL;
}

static void
lru_front(struct reasm *r, struct tconn *c)
{
	if (r->head == c)
		return;
	if (c->prev != NULL || c->next != NULL || r->tail == c)
		lru_unlink(r, c);
	c->next = r->head;
	if (r->head != NULL)
		r->head->prev = c;
	r->head = c;
	if (r->tail == NULL)
		r->tail = c;
}

static void
drop(struct reasm *r, struct tconn *c)
{
	struct tconn **pp;

	for (pp = &r->bucket[c->bucket]; *pp != c; pp = &(*pp)->hnext)
		;
	*pp = c->hnext;
	lru_unlink(r, c);
	r->nconn--;
	free(c);
}

/* A new connection; client says which end of p is the client. */
static struct tconn *
add(struct reasm *r, const struct pkt *p, unsigned b, int sender_is_client)
{
	struct tconn *c;
	struct rec rec;
	char buf[80];
	int cl = sender_is_client ? 0 : 1;

	if (r->nconn >= MAX_CONNS && r->tail != NULL) {
		if (!r->tail->closed)
			give_up(r, r->tail, p->usec, "given up: too many "
			    "connections at once in the capture");
		drop(r, r->tail);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->id = ++r->nextid;
	c->v6 = p->v6;
	c->bucket = b;
	memcpy(c->addr[cl], p->src, 16);
	memcpy(c->addr[!cl], p->dst, 16);
	c->port[cl] = p->sport;
	c->port[!cl] = p->dport;
	c->hnext = r->bucket[b];
	r->bucket[b] = c;
	r->nconn++;
	lru_front(r, c);
	init(r, &rec, REC_OPEN, c->id, p->usec);
	fmt_addr(c, 0, buf, sizeof(buf));
	rec_set(&rec, "client", buf);
	fmt_addr(c, 1, buf, sizeof(buf));
	rec_set(&rec, "target", buf);
	put(r, &rec, NULL, 0);
	return c;
}

void
reasm_packet(struct reasm *r, const struct pkt *p)
{
	struct tconn *c;
	struct half *h;
	unsigned b = hash(p);
	uint32_t seq = p->seq, to;
	int side = 0;

	reasm_start(r, p->usec);
	c = lookup(r, p, b, &side);
	if ((p->flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
		/* A client's SYN: a retransmission of the one we know, or a
		 * new connection (a 4-tuple used again, or one whose end the
		 * capture missed). */
		if (c != NULL && !c->closed && side == 0 && c->h[0].syn &&
		    c->h[0].isn == p->seq)
			return;
		if (c != NULL && !c->closed)
			give_up(r, c, p->usec, "a new SYN on the same "
			    "addresses and ports: a new connection");
		if (c != NULL)
			drop(r, c);
		if ((c = add(r, p, b, 1)) == NULL)
			return;
		side = 0;
		h = &c->h[0];
		h->syn = h->known = 1;
		h->isn = p->seq;
		h->next = p->seq + 1;
		seq = p->seq + 1;
	} else if ((p->flags & (TH_SYN | TH_RST)) == TH_SYN) {
		/* A SYN-ACK: its sender is the server. */
		if (c != NULL && c->closed)
			return;
		if (c == NULL) {
			if ((c = add(r, p, b, 0)) == NULL)
				return;
			side = 1;
			c->h[0].known = 1;
			c->h[0].next = p->ack;
		}
		h = &c->h[side];
		if (!h->syn) {
			h->syn = h->known = 1;
			h->isn = p->seq;
			h->next = p->seq + 1;
		}
		seq = p->seq + 1;
	} else if (c == NULL) {
		/* Picked up in the middle: only a segment that carries
		 * something starts a connection (not the last ACK or an RST
		 * of one that ended before the capture). */
		if ((p->flags & TH_RST) || (p->len == 0 &&
		    !(p->flags & TH_FIN)))
			return;
		if ((c = add(r, p, b, p->sport > p->dport ||
		    (p->sport == p->dport))) == NULL)
			return;
		side = p->sport > p->dport || p->sport == p->dport ? 0 : 1;
		note(r, c, -1, p->usec, "warning", 0, "picked up mid-stream: "
		    "the start of the connection was not captured; the "
		    "client is the end with the higher port");
	} else if (c->closed)
		return;
	lru_front(r, c);

	h = &c->h[side];
	if (!h->known) {
		h->known = 1;
		h->next = seq;
	}
	if (p->len > 0)
		add_data(r, c, side, seq, p->data, p->len, p->usec);
	if ((p->flags & TH_FIN) && !h->fin && !h->shut) {
		h->fin = 1;
		h->fin_seq = seq + (uint32_t)p->len;
		if ((int32_t)(h->fin_seq - held_end(h)) < 0)
			h->fin_seq = held_end(h);
	}
	/* An acknowledgement of bytes never seen: they went, uncaptured. */
	if ((p->flags & TH_ACK) && c->h[!side].known && !c->h[!side].shut) {
		struct half *o = &c->h[!side];

		to = p->ack;
		if (o->fin && (int32_t)(to - o->fin_seq) > 0)
			to = o->fin_seq;
		if ((int32_t)(to - o->next) > 0 && to - o->next < MAX_ACK_GAP)
			skip_to(r, c, !side, to, p->usec);
		shutdown_rec(r, c, !side, p->usec);
	}
	shutdown_rec(r, c, side, p->usec);
	if (p->flags & TH_RST) {
		flush(r, c, p->usec);
		close_rec(r, c, p->usec, "reset", side);
		return;
	}
	if (c->h[0].shut && c->h[1].shut)
		close_rec(r, c, p->usec, "eof", -1);
}

static int
byid(const void *a, const void *b)
{
	const struct tconn *x = *(struct tconn *const *)a;
	const struct tconn *y = *(struct tconn *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

void
reasm_finish(struct reasm *r, int64_t usec)
{
	struct tconn *c, **v;
	size_t n = 0, i;

	reasm_start(r, usec);
	if ((v = calloc(r->nconn + 1, sizeof(*v))) == NULL)
		return;
	for (c = r->head; c != NULL; c = c->next)
		if (!c->closed)
			v[n++] = c;
	qsort(v, n, sizeof(*v), byid);
	for (i = 0; i < n; i++)
		give_up(r, v[i], usec, "the capture ended with the "
		    "connection open");
	free(v);
}

struct reasm *
reasm_new(struct rec_writer *w, const char *src, size_t cap)
{
	struct reasm *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->w = w;
	snprintf(r->src, sizeof(r->src), "%s", src);
	r->cap = cap;
	return r;
}

void
reasm_free(struct reasm *r)
{
	if (r == NULL)
		return;
	while (r->head != NULL) {
		struct tconn *c = r->head;
		int i;

		for (i = 0; i < 2; i++)
			while (c->h[i].ooo != NULL) {
				struct seg *s = c->h[i].ooo;

				c->h[i].ooo = s->next;
				free(s);
			}
		drop(r, c);
	}
	free(r);
}
