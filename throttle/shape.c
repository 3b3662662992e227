/* shape.c - the link simulation of tcpmon-throttle: a queue per connection
 * and direction, release times, pauses, a token bucket and faults.  Nothing
 * here reads a clock or a descriptor: times come in, records go out. */
#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctab.h"
#include "throttle.h"
#include "util.h"

/* A late timer may catch up on this much of the token bucket, so that
 * wake-ups a little late do not lower the rate. */
#define RATE_SLACK_US	20000
/* --rate sends a tenth of a second at a time, so a large record goes out
 * smoothly, not in one burst followed by a long wait. */
#define RATE_PIECES	10
#define RATE_PIECE_MAX	(64 * 1024)

struct item {
	struct item	*next;
	uint64_t	 seq;		/* order of arrival, over all records */
	int64_t		 ready;		/* not released before this */
	enum rec_type	 type;
	int		 shaped;	/* rewritten on release: time, pieces */
	size_t		 hlen, len;	/* header line, payload */
	size_t		 off;		/* payload already released */
	unsigned char	 raw[];		/* the record as read */
};

struct queue {
	struct item	*head, *tail;
};

struct dirstate {
	struct queue	 q;
	int64_t		 last_ready;	/* latency never reorders */
	int64_t		 free_at;	/* pauses: no piece before this */
	int64_t		 tat;		/* token bucket: when it is next full */
	uint64_t	 count;		/* payload bytes released */
	int		 stalled;	/* --stall-after reached */
	uint64_t	 rng;
};

/* A connection's state, in the table (ctab.h) by its src and number. */
struct tconn {
	const char	*src;		/* the table's copy; "" none */
	uint64_t	 id;
	int		 selected;	/* --probability chose it */
	int		 dead;		/* we closed it: drop the rest */
	int		 closed_in;	/* its close record has come in */
	int64_t		 reset_at;	/* --reset-after; 0: none */
	struct dirstate	 d[2];
	struct queue	 ctl;		/* records of no direction */
	int64_t		 due;		/* key in the heap, */
	uint64_t	 dseq;		/* then the order of arrival */
	size_t		 hidx;		/* place in the heap, or NOHEAP */
};

#define NOHEAP	SIZE_MAX

struct shaper {
	struct shape_opts o;
	struct shape_io	 io;
	uint64_t	 seq;
	size_t		 queued;
	struct ctab	 conns;		/* of struct tconn */
	struct tconn	**heap;		/* connections by due time */
	size_t		 nheap, capheap;
	struct rec	 scratch;	/* for rewriting headers */
};

static uint64_t
splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* xorshift64*: each connection and direction has its own stream, seeded
 * from --seed and the connection, so results do not depend on timing or
 * on how the records of connections interleave. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static double
rnd_unit(uint64_t *s)
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* The seed of a connection's random choices (with --seed): the same
 * connection is chosen, and delayed alike, in every run. */
static uint64_t
conn_seed(const char *src, uint64_t id)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *src != '\0'; src++)
		h = (h ^ (unsigned char)*src) * 0x100000001b3ull;
	return splitmix(h ^ id);
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* The heap of connections by the time something of theirs is due. */

/* Ties go to the record that came first, so that records due at once
 * leave in the order they came, across connections too. */
static int
heap_less(struct shaper *s, size_t a, size_t b)
{
	const struct tconn *x = s->heap[a], *y = s->heap[b];

	return x->due < y->due || (x->due == y->due && x->dseq < y->dseq);
}

static void
heap_swap(struct shaper *s, size_t a, size_t b)
{
	struct tconn *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->hidx = a;
	s->heap[b]->hidx = b;
}

static void
heap_sift(struct shaper *s, size_t i)
{
	size_t c;

	while (i > 0 && heap_less(s, i, (i - 1) / 2)) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		c = 2 * i + 1;
		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && heap_less(s, c + 1, c))
			c++;
		if (!heap_less(s, c, i))
			break;
		heap_swap(s, i, c);
		i = c;
	}
}

static void
heap_remove(struct shaper *s, struct tconn *c)
{
	size_t i = c->hidx;

	if (i == NOHEAP)
		return;
	c->hidx = NOHEAP;
	if (i == --s->nheap)
		return;
	s->heap[i] = s->heap[s->nheap];
	s->heap[i]->hidx = i;
	heap_sift(s, i);
}

static int
heap_set(struct shaper *s, struct tconn *c, int64_t due)
{
	struct tconn **nh;
	size_t n;

	c->due = due;
	if (c->hidx == NOHEAP) {
		if (s->nheap == s->capheap) {
			n = s->capheap ? s->capheap * 2 : 64;
			if ((nh = reallocarray(s->heap, n, sizeof(*nh))) == NULL)
				return -1;
			s->heap = nh;
			s->capheap = n;
		}
		c->hidx = s->nheap;
		s->heap[s->nheap++] = c;
	}
	heap_sift(s, c->hidx);
	return 0;
}

/* Queues. */

static void
q_push(struct queue *q, struct item *it)
{
	it->next = NULL;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
}

static void
q_drop_head(struct shaper *s, struct queue *q)
{
	struct item *it = q->head;

	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	s->queued -= sizeof(*it) + it->hlen + it->len + 1;
	free(it);
}

static void
q_clear(struct shaper *s, struct queue *q)
{
	while (q->head != NULL)
		q_drop_head(s, q);
}

/* Connections. */

static struct tconn *
conn_get(struct shaper *s, const char *src, uint64_t id, int64_t now)
{
	struct tconn *c;
	uint64_t h;
	int i, isnew;

	if ((c = ctab_find(&s->conns, src, id, &isnew)) == NULL || !isnew)
		return c;
	c->src = ctab_src(c);
	c->id = id;
	c->hidx = NOHEAP;
	h = conn_seed(src, id) ^ s->o.seed;
	/* The stream itself (conn 0) is never shaped. */
	if (id != 0 && s->o.any) {
		c->selected = s->o.probability >= 1 ||
		    (double)(splitmix(h) >> 11) * (1.0 / 9007199254740992.0) <
		    s->o.probability;
	}
	for (i = 0; i < 2; i++)
		c->d[i].rng = splitmix(h + (uint64_t)i + 1) | 1;
	if (c->selected && s->o.has_reset)
		c->reset_at = now + (int64_t)s->o.reset_us;
	return c;
}

static void
conn_free(struct shaper *s, struct tconn *c)
{
	heap_remove(s, c);
	q_clear(s, &c->ctl);
	q_clear(s, &c->d[0].q);
	q_clear(s, &c->d[1].q);
	ctab_del(&s->conns, c);
}

static int
dir_shaped(const struct shaper *s, const struct tconn *c, int d)
{
	return c->selected && (s->o.dirs & (d == 0 ? SHAPE_C2S : SHAPE_S2C));
}

/* When the head of direction d may go. */
static int64_t
dir_next(const struct tconn *c, int d)
{
	const struct item *h = c->d[d].q.head;

	if (c->d[d].stalled)
		return h->ready;	/* dropped when due */
	return max64(h->ready, c->d[d].free_at);
}

/* Finds when the connection next has something to do: the head of a
 * direction that no earlier record of no direction holds back, the first
 * record of no direction once both directions have passed it, a reset. */
static int64_t
conn_due(const struct tconn *c, uint64_t *seq)
{
	const struct item *ctl = c->ctl.head, *h;
	int64_t t = SHAPE_IDLE, n;
	int d, blocked = 0;

	*seq = 0;
	if (c->reset_at != 0)
		t = c->reset_at;
	for (d = 0; d < 2; d++) {
		if ((h = c->d[d].q.head) == NULL)
			continue;
		if (ctl == NULL || h->seq < ctl->seq) {
			n = dir_next(c, d);
			if (n < t || (n == t && h->seq < *seq)) {
				t = n;
				*seq = h->seq;
			}
			blocked = 1;
		}
	}
	if (ctl != NULL && !blocked && ctl->ready < t) {
		t = ctl->ready;
		*seq = ctl->seq;
	}
	return t;
}

static int
conn_update(struct shaper *s, struct tconn *c)
{
	uint64_t seq;
	int64_t due = conn_due(c, &seq);

	if (due == SHAPE_IDLE) {
		heap_remove(s, c);
		return 0;
	}
	c->dseq = seq;
	return heap_set(s, c, due);
}

int
shape_put(struct shaper *s, const struct rec *r, const unsigned char *raw,
    size_t rawlen, int64_t now)
{
	struct tconn *c;
	struct item *it;
	struct dirstate *ds;
	int64_t ready = now, j;
	int d;

	if ((c = conn_get(s, r->src != NULL ? r->src : "", r->conn,
	    now)) == NULL)
		return -1;
	if (c->dead) {
		/* A connection we cut: what was in flight is lost, and its
		 * own close ends our memory of it. */
		if (r->type == REC_CLOSE)
			conn_free(s, c);
		return 0;
	}
	if ((it = malloc(sizeof(*it) + rawlen)) == NULL)
		return -1;
	memcpy(it->raw, raw, rawlen);
	it->seq = s->seq++;
	it->type = r->type;
	it->len = r->len;
	it->hlen = rawlen - r->len - 1;
	it->off = 0;
	s->queued += sizeof(*it) + rawlen;
	if ((r->type == REC_DATA || r->type == REC_SHUTDOWN) &&
	    r->dir != REC_NODIR) {
		d = r->dir == REC_C2S ? 0 : 1;
		ds = &c->d[d];
		it->shaped = dir_shaped(s, c, d);
		if (it->shaped) {
			j = 0;
			if (s->o.jitter_us > 0)
				j = (int64_t)(rnd(&ds->rng) %
				    (2 * s->o.jitter_us + 1)) -
				    (int64_t)s->o.jitter_us;
			ready = max64(now, now + (int64_t)s->o.latency_us + j);
			if (r->type == REC_SHUTDOWN)
				ready = max64(ready, now +
				    (int64_t)s->o.slow_close_us);
		}
		/* Jitter varies the delay, never the order. */
		it->ready = max64(ready, ds->last_ready);
		ds->last_ready = it->ready;
		q_push(&ds->q, it);
	} else {
		/* A shaped connection's open and close carry the time of
		 * their release, as its bytes do: a replayed capture's
		 * times then tell what the slow link did, in one order. */
		it->shaped = c->selected && (r->type == REC_OPEN ||
		    r->type == REC_CLOSE);
		if (it->shaped && r->type == REC_CLOSE)
			ready += (int64_t)s->o.slow_close_us;
		it->ready = ready;
		q_push(&c->ctl, it);
		if (r->type == REC_CLOSE)
			c->closed_in = 1;
	}
	return conn_update(s, c);
}

/* Writes a record of ours, or a piece of one read, with the time of its
 * release and the payload given. */
static void
put_rewritten(struct shaper *s, const struct item *it, const void *p,
    size_t n, size_t flipped)
{
	struct rec *r = &s->scratch;
	char hdr[REC_MAX_HEADER];
	const char *why;
	size_t h;

	if (rec_parse_header((const char *)it->raw, it->hlen, r, &why) == -1)
		errx(TM_EXIT_FAIL, "rewriting a record: %s", why);
	r->usec = tm_now_us();
	if (flipped > 0)
		rec_setf(r, "corrupt", "%zu", flipped);
	if ((h = rec_header(r, n, hdr, sizeof(hdr))) == 0)
		errx(TM_EXIT_FAIL, "conn %llu: header too long to rewrite",
		    (unsigned long long)r->conn);
	s->io.out(s->io.arg, hdr, h);
	if (n > 0)
		s->io.out(s->io.arg, p, n);
	s->io.out(s->io.arg, "\n", 1);
}

static void
put_item(struct shaper *s, const struct item *it)
{
	if (it->shaped)
		put_rewritten(s, it, it->raw + it->hlen, it->len, 0);
	else
		s->io.out(s->io.arg, it->raw, it->hlen + it->len + 1);
}

/* Ends a connection ourselves (--cut-after, --reset-after): one close
 * record, then nothing more of it, whatever was still queued. */
static void
conn_kill(struct shaper *s, struct tconn *c, const char *reason,
    const char *fault)
{
	struct rec *r = &s->scratch;
	char hdr[REC_MAX_HEADER];
	size_t h;

	rec_init(r, REC_CLOSE, c->id);
	if (c->src[0] != '\0')
		rec_set_src(r, c->src);
	rec_set(r, "reason", reason);
	rec_set(r, "fault", fault);
	rec_setf(r, "c2s", "%llu", (unsigned long long)c->d[0].count);
	rec_setf(r, "s2c", "%llu", (unsigned long long)c->d[1].count);
	if ((h = rec_header(r, 0, hdr, sizeof(hdr))) == 0)
		errx(TM_EXIT_FAIL, "conn %llu: header too long",
		    (unsigned long long)c->id);
	s->io.out(s->io.arg, hdr, h);
	s->io.out(s->io.arg, "\n", 1);
	if (c->closed_in) {
		conn_free(s, c);
		return;
	}
	c->dead = 1;
	c->reset_at = 0;
	q_clear(s, &c->ctl);
	q_clear(s, &c->d[0].q);
	q_clear(s, &c->d[1].q);
	heap_remove(s, c);
}

static size_t
corrupt(struct shaper *s, struct dirstate *ds, unsigned char *p, size_t n)
{
	size_t i, k = 0;

	if (s->o.corrupt <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if (rnd_unit(&ds->rng) < s->o.corrupt) {
			p[i] ^= (unsigned char)(1u << (rnd(&ds->rng) & 7));
			k++;
		}
	return k;
}

/* Releases the next piece of the data record at the head of direction d;
 * returns -1 when the connection is gone. */
static int
release_data(struct shaper *s, struct tconn *c, int d, int64_t now)
{
	struct dirstate *ds = &c->d[d];
	struct item *it = ds->q.head;
	const struct shape_opts *o = &s->o;
	uint64_t k, piece;
	size_t flipped;

	if (!it->shaped) {
		put_item(s, it);
		ds->count += it->len;
		q_drop_head(s, &ds->q);
		return 0;
	}
	if (o->has_cut && ds->count >= o->cut_after) {
		conn_kill(s, c, "cut", "cut-after");
		return -1;
	}
	if (o->has_stall && ds->count >= o->stall_after) {
		ds->stalled = 1;
		q_drop_head(s, &ds->q);
		return 0;
	}
	k = it->len - it->off;
	if (o->slice > 0 && k > o->slice)
		k = o->slice;
	if (o->bytes > 0 && k > o->bytes - ds->count % o->bytes)
		k = o->bytes - ds->count % o->bytes;
	if (o->rate > 0) {
		piece = o->rate / RATE_PIECES;
		piece = piece < 1 ? 1 : piece > RATE_PIECE_MAX ?
		    RATE_PIECE_MAX : piece;
		if (k > piece)
			k = piece;
	}
	if (o->has_cut && k > o->cut_after - ds->count)
		k = o->cut_after - ds->count;
	if (o->has_stall && k > o->stall_after - ds->count)
		k = o->stall_after - ds->count;
	flipped = corrupt(s, ds, it->raw + it->hlen + it->off, k);
	put_rewritten(s, it, it->raw + it->hlen + it->off, k, flipped);
	it->off += k;
	ds->count += k;

	if (o->rate > 0) {
		ds->tat = max64(ds->tat, now - RATE_SLACK_US) +
		    (int64_t)(k * 1000000 / o->rate);
		ds->free_at = max64(ds->free_at, ds->tat);
	}
	if (o->bytes > 0 && ds->count % o->bytes == 0)
		ds->free_at = max64(ds->free_at, now + (int64_t)o->delay_us);
	if (o->slice_us > 0 && it->off < it->len)
		ds->free_at = max64(ds->free_at, now + (int64_t)o->slice_us);
	if (it->off == it->len)
		q_drop_head(s, &ds->q);
	/* The close follows the last byte allowed at once, as the link
	 * would drop it there. */
	if (o->has_cut && ds->count >= o->cut_after) {
		conn_kill(s, c, "cut", "cut-after");
		return -1;
	}
	if (o->has_stall && ds->count >= o->stall_after)
		ds->stalled = 1;
	return 0;
}

/* Does one thing that is due on c; returns 1 if it did, 0 if nothing was
 * due, -1 if the connection is gone. */
static int
conn_step(struct shaper *s, struct tconn *c, int64_t now)
{
	struct item *ctl = c->ctl.head, *h, *first = NULL;
	int d, pick = -1, blocked = 0;

	if (c->reset_at != 0 && c->reset_at <= now) {
		conn_kill(s, c, "reset", "reset-after");
		return -1;
	}
	/* Of the directions due, the one whose record came first. */
	for (d = 0; d < 2; d++) {
		if ((h = c->d[d].q.head) == NULL || (ctl != NULL &&
		    h->seq > ctl->seq))
			continue;
		blocked = 1;
		if (dir_next(c, d) <= now && (first == NULL ||
		    h->seq < first->seq)) {
			first = h;
			pick = d;
		}
	}
	if (first != NULL) {
		if (c->d[pick].stalled) {
			/* A stalled link keeps the connection open but
			 * delivers nothing more, not even its FIN. */
			q_drop_head(s, &c->d[pick].q);
			return 1;
		}
		if (first->type == REC_DATA)
			return release_data(s, c, pick, now) == -1 ? -1 : 1;
		put_item(s, first);
		q_drop_head(s, &c->d[pick].q);
		return 1;
	}
	if (ctl == NULL || blocked || ctl->ready > now)
		return 0;
	put_item(s, ctl);
	q_drop_head(s, &c->ctl);
	/* A close with nothing behind it ends what we keep of the
	 * connection. */
	if (c->closed_in && c->ctl.head == NULL && c->d[0].q.head == NULL &&
	    c->d[1].q.head == NULL) {
		conn_free(s, c);
		return -1;
	}
	return 1;
}

int64_t
shape_run(struct shaper *s, int64_t now)
{
	struct tconn *c;
	int rc;

	while (s->nheap > 0 && s->heap[0]->due <= now &&
	    !s->io.full(s->io.arg)) {
		c = s->heap[0];
		if ((rc = conn_step(s, c, now)) == -1)
			continue;
		if (conn_update(s, c) == -1)
			errx(TM_EXIT_FAIL, "out of memory");
		if (rc == 0 && c->due <= now)
			break;	/* cannot happen: conn_due and conn_step agree */
	}
	return s->nheap > 0 ? s->heap[0]->due : SHAPE_IDLE;
}

size_t
shape_queued(const struct shaper *s)
{
	return s->queued;
}

struct shaper *
shape_new(const struct shape_opts *o, const struct shape_io *io)
{
	struct shaper *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->o = *o;
	s->io = *io;
	ctab_init(&s->conns, sizeof(struct tconn));
	return s;
}

void
shape_free(struct shaper *s)
{
	struct tconn *c;

	if (s == NULL)
		return;
	while ((c = ctab_lru(&s->conns)) != NULL)
		conn_free(s, c);
	ctab_free(&s->conns);
	free(s->heap);
	free(s);
}
