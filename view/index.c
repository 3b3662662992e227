/* index.c - what tcpmon-view knows of its input without holding it: a row
 * per connection and per HTTP exchange, with the span of the store its
 * records lie in.  Payloads are read again from the store when needed
 * (ix_scan), so memory grows with the number of connections, not with the
 * bytes. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grow.h"
#include "http.h"
#include "safe.h"
#include "util.h"
#include "view.h"

#define LABEL_MAX	80	/* bytes of a label shown */
#define NO_X		UINT32_MAX

/* The state of a connection while it is open: its HTTP parser and where
 * the exchanges stand. */
struct ixconn {
	struct index	*ix;
	uint32_t	 ci;
	uint32_t	 xlast;		/* the last request's exchange */
	uint32_t	 xwait;		/* the exchange awaiting its answer */
	int		 http_seen;
	/* Each way: the exchange of the message under way (open: its head
	 * came), and the bytes that came before its head told which. */
	uint32_t	 xcur[2];
	int		 open[2];
	uint64_t	 pend[2];
	struct http_conn hc;
};

/* The exchanges of a connection are linked through xnext (a side array:
 * exchanges of connections that overlap interleave in ix->x). */
static uint32_t	*xnext;
static size_t	 capnext;

/* The index's arrays grow as grow.h's do, from 64 items. */
#define grow(p, cap, need, size)	grow_items((p), (cap), (need), (size), 64)

static uint32_t
str_add(struct index *ix, const char *s, size_t n)
{
	uint32_t off;

	if (ix->narena == 0) {
		ix->arena = grow(ix->arena, &ix->caparena, 1, 1);
		ix->arena[0] = '\0';
		ix->narena = 1;
	}
	if (ix->narena + n + 1 > UINT32_MAX)
		return 0;
	ix->arena = grow(ix->arena, &ix->caparena, ix->narena + n + 1, 1);
	off = (uint32_t)ix->narena;
	memcpy(ix->arena + off, s, n);
	ix->arena[off + n] = '\0';
	ix->narena += n + 1;
	return off;
}

const char *
ix_str(const struct index *ix, uint32_t off)
{
	return off == 0 || ix->arena == NULL ? "" : ix->arena + off;
}

/* A value of a record for the screen: what the traffic says, made safe. */
static uint32_t
str_safe(struct index *ix, const void *p, size_t n)
{
	char buf[4 * LABEL_MAX + 16];

	if (n > LABEL_MAX)
		n = LABEL_MAX;
	safe_mem(p, n, buf, sizeof(buf));
	return str_add(ix, buf, strlen(buf));
}

/* Strings that repeat (sources, targets, clients of a proxy) are kept
 * once: a direct-mapped cache of the last ones added. */
#define INTERN	256
static uint32_t	 interned[INTERN];

static uint32_t
str_intern(struct index *ix, const char *s)
{
	uint32_t h = 2166136261u, off;
	const char *p;

	for (p = s; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= INTERN;
	if (interned[h] != 0 && strcmp(ix->arena + interned[h], s) == 0)
		return interned[h];
	off = str_add(ix, s, strlen(s));
	interned[h] = off;
	return off;
}

void
ix_init(struct index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->st[0].fd = ix->st[1].fd = -1;
	ctab_init(&ix->byid, sizeof(uint32_t));
	ix->own_next = 1;
	memset(interned, 0, sizeof(interned));
}

static void
ixconn_free(struct vconn *c)
{
	if (c->ix != NULL) {
		http_conn_free(&c->ix->hc);
		free(c->ix);
		c->ix = NULL;
	}
}

void
ix_free(struct index *ix)
{
	size_t i;

	for (i = 0; i < ix->nc; i++)
		ixconn_free(&ix->c[i]);
	for (i = 0; i < 2; i++) {
		if (ix->st[i].fd >= 0 && 1)
			close(ix->st[i].fd);
		free(ix->st[i].path);
	}
	ctab_free(&ix->byid);
	free(ix->c);
	free(ix->x);
	free(ix->arena);
	free(xnext);
	xnext = NULL;
	capnext = 0;
}

int
ix_spool(struct index *ix, int s, const char *path)
{
	struct store *st = &ix->st[s];
	const char *dir;
	char name[64];
	int fd;

	if (path != NULL) {
		if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600)) < 0)
			return -1;
	} else {
		/* No name: nothing is left behind, however the view ends. */
		if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
			dir = "/tmp";
		if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) < 0)
			return -1;
		st->temp = 1;
	}
	st->fd = fd;
	st->spool = 1;
	st->size = 0;
	if (path == NULL)
		snprintf(name, sizeof(name), "/proc/%ld/fd/%d", (long)getpid(),
		    fd);
	free(st->path);
	if ((st->path = strdup(path != NULL ? path : name)) == NULL)
		return -1;
	return 0;
}

int
ix_spool_own(struct index *ix)
{
	return ix->st[1].fd >= 0 ? 0 : ix_spool(ix, 1, NULL);
}

void
ix_inplace(struct index *ix, int fd, const char *path)
{
	ix->st[0].fd = fd;
	ix->st[0].spool = 0;
	free(ix->st[0].path);
	if ((ix->st[0].path = strdup(path)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
}

const char *
vstate_name(enum vstate s)
{
	static const char *const name[VS_NSTATE] = {
		"active", "done", "reset", "refused", "timeout", "tls",
		"error", "stopped", "cut"
	};

	return (unsigned)s < VS_NSTATE ? name[s] : "?";
}

static enum vstate
state_of(const char *reason)
{
	static const struct { const char *r; enum vstate s; } map[] = {
		{ "eof", VS_DONE }, { "reset", VS_RESET },
		{ "timeout", VS_TIMEOUT }, { "refused", VS_REFUSED },
		{ "unreachable", VS_REFUSED }, { "tls", VS_TLS },
		{ "stopped", VS_STOPPED }, { "cut", VS_CUT },
	};
	size_t i;

	if (reason == NULL)
		return VS_DONE;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].r, reason) == 0)
			return map[i].s;
	return VS_ERROR;
}

static uint32_t
x_new(struct index *ix, uint32_t ci)
{
	struct vconn *c = &ix->c[ci];
	struct vxch *x;
	uint32_t xi;

	ix->x = grow(ix->x, &ix->capx, ix->nx + 1, sizeof(*ix->x));
	xnext = grow(xnext, &capnext, ix->nx + 1, sizeof(*xnext));
	xi = (uint32_t)ix->nx++;
	x = &ix->x[xi];
	memset(x, 0, sizeof(*x));
	x->c = ci;
	x->seq = c->nx;
	x->start = ix->now;
	xnext[xi] = NO_X;
	if (c->nx == 0)
		c->x0 = xi;
	else if (c->ix != NULL && c->ix->xlast != NO_X)
		xnext[c->ix->xlast] = xi;
	c->nx++;
	if (c->ix != NULL)
		c->ix->xlast = xi;
	return xi;
}

static void
count(struct index *ix, uint32_t xi, enum http_dir d, uint64_t n)
{
	if (d == HTTP_REQ)
		ix->x[xi].up += n;
	else
		ix->x[xi].down += n;
	ix->x[xi].end = ix->now;
}

static void
on_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct ixconn *ic = arg;

	(void)p;
	if (ic->open[d])
		count(ic->ix, ic->xcur[d], d, n);
	else
		ic->pend[d] += n;
}

/* The head of a message told its exchange: the bytes before it count. */
static void
opened(struct ixconn *ic, enum http_dir d, uint32_t xi)
{
	ic->xcur[d] = xi;
	ic->open[d] = 1;
	count(ic->ix, xi, d, ic->pend[d]);
	ic->pend[d] = 0;
}

static void
on_head(void *arg, const struct http_head *h)
{
	struct ixconn *ic = arg;
	struct index *ix = ic->ix;
	struct vconn *c = &ix->c[ic->ci];
	char buf[LABEL_MAX + 1];
	uint32_t xi;

	if (h->dir == HTTP_REQ) {
		/* The first request takes the row the connection opened
		 * with; the others get their own. */
		if (ic->http_seen)
			xi = x_new(ix, ic->ci);
		else
			xi = ic->xlast;
		ic->http_seen = 1;
		c->flags |= VC_HTTP;
		ix->x[xi].start = ix->now;
		snprintf(buf, sizeof(buf), "%s %s", h->method, h->target);
		ix->x[xi].label = str_safe(ix, buf, strlen(buf));
		if (ic->xwait == NO_X)
			ic->xwait = xi;
		opened(ic, HTTP_REQ, xi);
		return;
	}
	/* An interim answer (100 Continue) is not the answer. */
	if (h->status >= 100 && h->status < 200 && h->status != 101)
		return;
	if (ic->xwait != NO_X) {
		ix->x[ic->xwait].status = (uint16_t)h->status;
		opened(ic, HTTP_RESP, ic->xwait);
	}
}

static void
on_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	(void)arg; (void)d; (void)p; (void)n;
}

static void
on_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end e)
{
	struct ixconn *ic = arg;
	struct index *ix = ic->ix;

	(void)e;
	if (d == HTTP_REQ) {
		ic->open[d] = 0;
		return;
	}
	if (h != NULL && h->status >= 100 && h->status < 200 &&
	    h->status != 101)
		return;
	ic->open[d] = 0;
	if (ic->xwait == NO_X)
		return;
	ix->x[ic->xwait].flags |= VX_ENDED;
	ix->x[ic->xwait].end = ix->now;
	ic->xwait = xnext[ic->xwait];
	ix->c[ic->ci].xresp++;
}

static void
on_notraw(void *arg, enum http_dir d, const char *why)
{
	(void)arg; (void)d; (void)why;
}

static const struct http_callbacks ix_cb = {
	on_raw, on_head, on_body, on_end, on_notraw
};

static struct vconn *
conn_get(struct index *ix, int s, const struct rec *r, uint64_t off)
{
	struct vconn *c;
	uint32_t *slot, ci;
	int isnew;

	slot = ctab_find(&ix->byid, r->src != NULL ? r->src : "", r->conn,
	    &isnew);
	if (!isnew)
		return &ix->c[*slot];
	ix->c = grow(ix->c, &ix->capc, ix->nc + 1, sizeof(*ix->c));
	ci = (uint32_t)ix->nc++;
	*slot = ci;
	c = &ix->c[ci];
	memset(c, 0, sizeof(*c));
	c->conn = r->conn;
	c->store = (uint8_t)s;
	c->first = off;
	c->start = r->usec;
	c->src = str_intern(ix, r->src != NULL ? r->src : "");
	if ((c->ix = calloc(1, sizeof(*c->ix))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	c->ix->ix = ix;
	c->ix->ci = ci;
	c->ix->xlast = c->ix->xwait = NO_X;
	http_conn_init(&c->ix->hc, &ix_cb, c->ix);
	x_new(ix, ci);
	return c;
}

static void
take_open(struct index *ix, struct vconn *c, const struct rec *r)
{
	char buf[4 * LABEL_MAX + 16];
	const char *v;

	if ((v = rec_get(r, "client")) != NULL)
		c->client = str_safe(ix, v, strlen(v));
	if ((v = rec_get(r, "target")) != NULL ||
	    (v = rec_get(r, "listen")) != NULL) {
		safe_mem(v, strlen(v) > LABEL_MAX ? LABEL_MAX : strlen(v),
		    buf, sizeof(buf));
		c->target = str_intern(ix, buf);
	}
	/* A proxy's tunnel: what the client asked for labels it. */
	if ((v = rec_get(r, "request")) != NULL && c->label == 0)
		c->label = str_safe(ix, v, strlen(v));
	if (rec_get(r, "client-tls") != NULL)
		c->tls |= 1;
	if (rec_get(r, "server-tls") != NULL)
		c->tls |= 2;
	if ((v = rec_get(r, "resend-of")) != NULL) {
		c->resend_of = str_safe(ix, v, strlen(v));
		c->flags |= VC_RESEND;
	}
}

int
ix_take(struct index *ix, int s, const struct rec *r,
    const unsigned char *raw, size_t rawlen)
{
	struct store *st = &ix->st[s];
	struct vconn *c;
	uint64_t off = st->size;
	enum http_dir d;

	if (st->spool && write_all(st->fd, raw, rawlen) < 0) {
		snprintf(ix->err, sizeof(ix->err), "%s: %s", st->path,
		    strerror(errno));
		return -1;
	}
	st->size += rawlen;
	ix->nrec++;
	ix->gen++;
	ix->now = r->usec;
	if (ix->feed != NULL)
		ix->feed(ix->feed_arg, r, raw, rawlen);
	if (r->conn == 0)
		return 0;
	c = conn_get(ix, s, r, off);
	if (c->flags & VC_CLOSED) {
		/* A number used again after its close (a relay restarted
		 * into the same stream): a new connection. */
		ctab_del(&ix->byid, ctab_get(&ix->byid, r->src != NULL ?
		    r->src : "", r->conn));
		c = conn_get(ix, s, r, off);
	}
	c->end = off + rawlen;
	if (r->usec >= 0)
		c->last = r->usec;
	switch (r->type) {
	case REC_OPEN:
		take_open(ix, c, r);
		break;
	case REC_DATA:
		if (r->dir == REC_C2S) {
			c->up += r->len;
			if (c->label == 0 && r->len > 0)
				c->label = str_safe(ix, r->data, r->len);
		} else
			c->down += r->len;
		if (c->ix != NULL && r->len > 0) {
			d = r->dir == REC_C2S ? HTTP_REQ : HTTP_RESP;
			http_conn_feed(&c->ix->hc, d, r->data, r->len);
			if (!c->ix->http_seen && c->nx > 0) {
				/* Bytes of no HTTP: the row's counts. */
				if (d == HTTP_REQ)
					ix->x[c->x0].up = c->up;
				else
					ix->x[c->x0].down = c->down;
				ix->x[c->x0].end = ix->now;
			}
			if (http_conn_idle(&c->ix->hc))
				http_conn_trim(&c->ix->hc);
		}
		break;
	case REC_SHUTDOWN:
		if (c->ix != NULL && r->dir != REC_NODIR)
			http_conn_eof(&c->ix->hc, r->dir == REC_C2S ?
			    HTTP_REQ : HTTP_RESP);
		break;
	case REC_CLOSE:
		if (c->ix != NULL) {
			http_conn_eof(&c->ix->hc, HTTP_REQ);
			http_conn_eof(&c->ix->hc, HTTP_RESP);
		}
		c->state = (uint8_t)state_of(rec_get(r, "reason"));
		c->flags |= VC_CLOSED;
		if (!(c->flags & VC_HTTP) && c->nx > 0)
			ix->x[c->x0].end = ix->now;
		ixconn_free(c);
		break;
	default:
		break;
	}
	return 0;
}

void
ix_end(struct index *ix)
{
	ix->gen++;
}

int
ix_scan(struct index *ix, long ci, ix_rec_fn *fn, void *arg, char *msg,
    size_t msglen)
{
	struct rec_reader rd;
	struct rec *r;
	char path[64];
	uint64_t off, end;
	int s, s0, s1, fd, rc = 0, n;

	if ((r = malloc(sizeof(*r))) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	s0 = ci >= 0 ? ix->c[ci].store : 0;
	s1 = ci >= 0 ? ix->c[ci].store : 1;
	for (s = s0; s <= s1 && rc == 0; s++) {
		if (ix->st[s].fd < 0)
			continue;
		off = ci >= 0 ? ix->c[ci].first : 0;
		end = ci >= 0 ? ix->c[ci].end : ix->st[s].size;
		/* A descriptor of our own: the store's offset is the
		 * writer's. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", ix->st[s].fd);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    lseek(fd, (off_t)off, SEEK_SET) < 0) {
			snprintf(msg, msglen, "%s: %s", ix->st[s].path,
			    strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = -1;
			break;
		}
		recr_init(&rd, fd, ix->st[s].path);
		while (off < end) {
			if ((n = recr_next(&rd, r)) != REC_OK) {
				if (n == REC_ERR) {
					snprintf(msg, msglen, "%s", rd.err);
					rc = -1;
				}
				break;
			}
			off += rd.rawlen;
			if (ci >= 0 && (r->conn != ix->c[ci].conn ||
			    strcmp(r->src != NULL ? r->src : "",
			    ix_str(ix, ix->c[ci].src)) != 0))
				continue;
			if (fn(arg, r, rd.raw, rd.rawlen) != 0)
				break;
		}
		recr_free(&rd);
		close(fd);
	}
	free(r);
	return rc;
}
