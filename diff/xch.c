/* xch.c - a capture's HTTP exchanges for tcpmon-diff: each connection's
 * bytes through the HTTP reassembler (http.h), each message kept with its
 * headers and its body de-chunked and decoded (inflate.h), then sorted by
 * the connection's place in the capture and the exchange's in the
 * connection. */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "grow.h"
#include "http.h"
#include "inflate.h"
#include "record.h"
#include "util.h"
#include "xch.h"

#define DECODE_MAX	(256ull * 1024 * 1024)
#define CONNS_MAX	4096	/* open at once: then the oldest is ended */

/* A connection being read, and after its end until its exchanges are
 * given out (in the order connections opened). */
struct rconn {
	struct creader	*cr;
	uint64_t	 conn;
	char		 src[64];
	uint64_t	 order;
	int		 nreq;		/* requests seen */
	struct dxch	*cur[2];	/* the exchange of each message under way */
	struct dxch	**wait;		/* requests awaiting their answers */
	size_t		 nwait, capwait;
	struct http_conn hc;
	int		 live;
	struct dxch	**xs;		/* its exchanges, in order */
	size_t		 nxs, capxs;
	struct rconn	*next;		/* in the order connections opened */
};

/* The reader: records in, exchanges out once their connection and every
 * connection opened before it have ended.  Memory holds the connections
 * open at once and those that ended behind one still open. */
struct creader {
	const char	*name;
	int		 fd;
	struct rec_reader rd;
	struct rec	*r;
	struct rconn	*live[CONNS_MAX];	/* open, for the lookup */
	size_t		 nlive;
	struct rconn	*head, *tail;	/* every connection not given out */
	struct dxch	**out;		/* exchanges given out next */
	size_t		 nout, iout, capout;
	uint64_t	 order;
	int64_t		 now_us;	/* the time of the record being read */
	int		 eof, failed;
	char		 err[1024];
};

static void *
xmalloc(size_t n)
{
	void *p;

	if ((p = calloc(1, n)) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		err(TM_EXIT_FAIL, "strdup");
	return p;
}

const char *
dmsg_header(const struct dmsg *m, const char *name)
{
	int i;

	for (i = 0; i < m->nh; i++)
		if (strcasecmp(m->h[i].name, name) == 0)
			return m->h[i].value;
	return NULL;
}

static void
push(struct dxch ***v, size_t *n, size_t *cap, struct dxch *x)
{
	*v = grow_items(*v, cap, *n + 1, sizeof(**v), 16);
	(*v)[(*n)++] = x;
}

static void
r_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	(void)arg; (void)d; (void)p; (void)n;
}

static void
r_head(void *arg, const struct http_head *h)
{
	struct rconn *rc = arg;
	struct dxch *x;
	struct dmsg *m;
	int i;

	if (h->dir == HTTP_REQ) {
		x = xmalloc(sizeof(*x));
		x->conn = rc->conn;
		snprintf(x->src, sizeof(x->src), "%s", rc->src);
		x->seq = rc->nreq++;
		x->order = rc->order;
		x->t_req_end = x->t_resp = -1;
		push(&rc->xs, &rc->nxs, &rc->capxs, x);
		rc->wait = grow_items(rc->wait, &rc->capwait, rc->nwait + 1,
		    sizeof(*rc->wait), 8);
		rc->wait[rc->nwait++] = x;
		rc->cur[0] = x;
		m = &x->req;
		m->method = xstrdup(h->method);
		m->target = xstrdup(h->target);
	} else {
		/* An interim answer is not the answer. */
		if (h->status >= 100 && h->status < 200 && h->status != 101) {
			rc->cur[1] = NULL;
			return;
		}
		if (rc->nwait == 0) {
			rc->cur[1] = NULL;
			return;
		}
		x = rc->wait[0];
		memmove(rc->wait, rc->wait + 1, sizeof(*rc->wait) *
		    (size_t)(rc->nwait - 1));
		rc->nwait--;
		rc->cur[1] = x;
		x->t_resp = rc->cr->now_us;
		m = &x->resp;
		m->status = h->status;
		m->reason = xstrdup(h->reason != NULL ? h->reason : "");
	}
	m->have = 1;
	m->h = xmalloc(sizeof(*m->h) * (size_t)(h->nheader + 1));
	for (i = 0; i < h->nheader; i++) {
		m->h[i].name = xstrdup(h->header[i].name);
		m->h[i].value = xstrdup(h->header[i].value);
	}
	m->nh = h->nheader;
	if (dmsg_header(m, "Content-Type") != NULL)
		m->ctype = xstrdup(dmsg_header(m, "Content-Type"));
	if (dmsg_header(m, "Content-Encoding") != NULL)
		m->cenc = xstrdup(dmsg_header(m, "Content-Encoding"));
}

static void
r_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct rconn *rc = arg;
	struct dxch *x = rc->cur[d];
	struct dmsg *m;

	if (x == NULL)
		return;
	m = d == HTTP_REQ ? &x->req : &x->resp;
	grow_put(&m->body, &m->blen, &m->bcap, 4096, p, n);
}

/* A body with a coding the tools know is compared decoded. */
static void
decode(struct dmsg *m)
{
	unsigned char *b;
	const char *why;
	size_t n;

	if (m->cenc == NULL || m->blen == 0 || !infl_supported(m->cenc))
		return;
	if ((b = infl_decode(m->cenc, m->body, m->blen, DECODE_MAX, &n,
	    &why)) == NULL)
		return;
	free(m->body);
	m->body = b;
	m->blen = m->bcap = n;
}

static void
r_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end e)
{
	struct rconn *rc = arg;
	struct dxch *x = rc->cur[d];

	(void)e;
	if (d == HTTP_RESP && h != NULL && h->status >= 100 &&
	    h->status < 200 && h->status != 101)
		return;
	if (x != NULL)
		decode(d == HTTP_REQ ? &x->req : &x->resp);
	if (x != NULL && d == HTTP_REQ)
		x->t_req_end = rc->cr->now_us;
	rc->cur[d] = NULL;
}

static void
r_notraw(void *arg, enum http_dir d, const char *why)
{
	(void)arg; (void)d; (void)why;
}

static const struct http_callbacks cb = {
	r_raw, r_head, r_body, r_end, r_notraw
};

static void
rconn_end(struct rconn *rc)
{
	if (!rc->live)
		return;
	http_conn_eof(&rc->hc, HTTP_REQ);
	http_conn_eof(&rc->hc, HTTP_RESP);
	http_conn_free(&rc->hc);
	free(rc->wait);
	rc->wait = NULL;
	rc->nwait = rc->capwait = 0;
	rc->live = 0;
}

struct creader *
cr_open(const char *path, char *msg, size_t msglen)
{
	struct creader *cr = xmalloc(sizeof(*cr));
	const char *name;

	if ((cr->fd = tm_open_input(path, &name)) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		free(cr);
		return NULL;
	}
	cr->name = path;
	cr->r = xmalloc(sizeof(*cr->r));
	recr_init(&cr->rd, cr->fd, name);
	return cr;
}

const char *
cr_error(const struct creader *cr)
{
	return cr->failed ? cr->err : NULL;
}

static void
live_del(struct creader *cr, struct rconn *rc)
{
	size_t i;

	for (i = 0; i < cr->nlive; i++)
		if (cr->live[i] == rc) {
			cr->live[i] = cr->live[--cr->nlive];
			return;
		}
}

/* One record in. */
static void
take(struct creader *cr, const struct rec *r)
{
	struct rconn *rc = NULL, *old;
	const char *at;
	size_t i;

	if (r->conn == 0)
		return;
	/* A relay with stages records each event twice (tcpmon-relay(1),
	 * STAGES): what was delivered is read, and the open as accepted,
	 * as tcpmon-tap does. */
	if ((at = rec_get(r, "at")) != NULL &&
	    (strcmp(at, "sent") == 0) != (r->type == REC_OPEN))
		return;
	for (i = 0; i < cr->nlive; i++)
		if (cr->live[i]->conn == r->conn && strcmp(cr->live[i]->src,
		    r->src != NULL ? r->src : "") == 0) {
			rc = cr->live[i];
			break;
		}
	if (rc == NULL) {
		if (r->type == REC_CLOSE)
			return;
		if (cr->nlive == CONNS_MAX) {
			/* Too many at once: the one opened first ends. */
			old = cr->live[0];
			for (i = 1; i < cr->nlive; i++)
				if (cr->live[i]->order < old->order)
					old = cr->live[i];
			rconn_end(old);
			live_del(cr, old);
		}
		rc = xmalloc(sizeof(*rc));
		rc->cr = cr;
		rc->conn = r->conn;
		snprintf(rc->src, sizeof(rc->src), "%s",
		    r->src != NULL ? r->src : "");
		rc->order = cr->order++;
		rc->live = 1;
		http_conn_init(&rc->hc, &cb, rc);
		cr->live[cr->nlive++] = rc;
		if (cr->tail != NULL)
			cr->tail->next = rc;
		else
			cr->head = rc;
		cr->tail = rc;
	}
	cr->now_us = r->usec;
	if (r->type == REC_DATA && r->len > 0)
		http_conn_feed(&rc->hc, r->dir == REC_C2S ? HTTP_REQ :
		    HTTP_RESP, r->data, r->len);
	else if (r->type == REC_SHUTDOWN && r->dir != REC_NODIR)
		http_conn_eof(&rc->hc, r->dir == REC_C2S ? HTTP_REQ :
		    HTTP_RESP);
	else if (r->type == REC_CLOSE) {
		rconn_end(rc);
		live_del(cr, rc);
	}
}

struct dxch *
cr_next(struct creader *cr)
{
	struct rconn *rc;
	size_t i;
	int n;

	for (;;) {
		if (cr->iout < cr->nout)
			return cr->out[cr->iout++];
		cr->iout = cr->nout = 0;
		/* The oldest connection ended: its exchanges go out. */
		if ((rc = cr->head) != NULL && !rc->live) {
			for (i = 0; i < rc->nxs; i++)
				push(&cr->out, &cr->nout, &cr->capout,
				    rc->xs[i]);
			cr->head = rc->next;
			if (cr->head == NULL)
				cr->tail = NULL;
			free(rc->xs);
			free(rc);
			continue;
		}
		if (cr->eof) {
			if (cr->head == NULL)
				return NULL;
			/* The input ended: so did every connection. */
			while (cr->nlive > 0) {
				rconn_end(cr->live[cr->nlive - 1]);
				cr->nlive--;
			}
			continue;
		}
		if ((n = recr_next(&cr->rd, cr->r)) == REC_OK)
			take(cr, cr->r);
		else {
			if (n == REC_ERR) {
				snprintf(cr->err, sizeof(cr->err), "%s",
				    cr->rd.err);
				cr->failed = 1;
			}
			cr->eof = 1;
		}
	}
}

void
cr_close(struct creader *cr)
{
	struct rconn *rc, *next;
	size_t i;

	for (rc = cr->head; rc != NULL; rc = next) {
		next = rc->next;
		rconn_end(rc);
		for (i = 0; i < rc->nxs; i++)
			dxch_free(rc->xs[i]);
		free(rc->xs);
		free(rc);
	}
	for (i = cr->iout; i < cr->nout; i++)
		dxch_free(cr->out[i]);
	free(cr->out);
	recr_free(&cr->rd);
	if (cr->fd != STDIN_FILENO)
		close(cr->fd);
	free(cr->r);
	free(cr);
}

int
cap_read(struct capture *c, const char *path, char *msg, size_t msglen)
{
	struct creader *cr;
	struct dxch *x;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	c->name = path;
	if ((cr = cr_open(path, msg, msglen)) == NULL)
		return -1;
	while ((x = cr_next(cr)) != NULL)
		push(&c->x, &c->n, &c->cap, x);
	if (cr_error(cr) != NULL) {
		snprintf(msg, msglen, "%s", cr_error(cr));
		rc = -1;
	}
	cr_close(cr);
	return rc;
}

static void
dmsg_free(struct dmsg *m)
{
	int i;

	for (i = 0; i < m->nh; i++) {
		free(m->h[i].name);
		free(m->h[i].value);
	}
	free(m->h);
	free(m->method);
	free(m->target);
	free(m->reason);
	free(m->body);
	free(m->ctype);
	free(m->cenc);
}

void
dxch_free(struct dxch *x)
{
	if (x == NULL)
		return;
	dmsg_free(&x->req);
	dmsg_free(&x->resp);
	free(x);
}

void
cap_free(struct capture *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		dxch_free(c->x[i]);
	free(c->x);
	memset(c, 0, sizeof(*c));
}
