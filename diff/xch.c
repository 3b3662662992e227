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

/* A connection being read. */
struct rconn {
	struct capture	*c;
	uint64_t	 conn;
	char		 src[64];
	uint64_t	 order;
	int		 nreq;		/* requests seen */
	struct dxch	*cur[2];	/* the exchange of each message under way */
	struct dxch	**wait;		/* requests awaiting their answers */
	int		 nwait, capwait;
	struct http_conn hc;
	int		 live;
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
add(struct capture *c, struct dxch *x)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		if ((c->x = reallocarray(c->x, c->cap, sizeof(*c->x))) == NULL)
			err(TM_EXIT_FAIL, "reallocarray");
	}
	c->x[c->n++] = x;
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
		add(rc->c, x);
		if (rc->nwait == rc->capwait) {
			rc->capwait = rc->capwait ? 2 * rc->capwait : 8;
			if ((rc->wait = reallocarray(rc->wait, (size_t)rc->capwait,
			    sizeof(*rc->wait))) == NULL)
				err(TM_EXIT_FAIL, "reallocarray");
		}
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

static int
by_order(const void *a, const void *b)
{
	const struct dxch *x = *(struct dxch *const *)a;
	const struct dxch *y = *(struct dxch *const *)b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int
cap_read(struct capture *c, const char *path, char *msg, size_t msglen)
{
	struct rec_reader rd;
	struct rec *r;
	struct rconn *conns, *rc, *old;
	const char *name, *at;
	uint64_t order = 0;
	size_t i, nconns = 0;
	int fd, n, rcode = 0;

	memset(c, 0, sizeof(*c));
	c->name = path;
	if ((fd = tm_open_input(path, &name)) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	r = xmalloc(sizeof(*r));
	conns = xmalloc(sizeof(*conns) * CONNS_MAX);
	recr_init(&rd, fd, name);
	while ((n = recr_next(&rd, r)) == REC_OK) {
		if (r->conn == 0)
			continue;
		/* A relay with stages records each event twice
		 * (tcpmon-relay(1), STAGES): what was delivered is read, and
		 * the open as accepted, as tcpmon-tap does. */
		if ((at = rec_get(r, "at")) != NULL &&
		    (strcmp(at, "sent") == 0) != (r->type == REC_OPEN))
			continue;
		rc = NULL;
		for (i = 0; i < nconns; i++)
			if (conns[i].live && conns[i].conn == r->conn &&
			    strcmp(conns[i].src, r->src != NULL ? r->src : "") ==
			    0) {
				rc = &conns[i];
				break;
			}
		if (rc == NULL) {
			if (r->type == REC_CLOSE)
				continue;
			/* A free slot, else the one opened first ends. */
			for (i = 0; i < nconns && conns[i].live; i++)
				;
			if (i == nconns && nconns < CONNS_MAX)
				nconns++;
			else if (i == nconns) {
				old = &conns[0];
				for (i = 1; i < nconns; i++)
					if (conns[i].order < old->order)
						old = &conns[i];
				rconn_end(old);
				i = (size_t)(old - conns);
			}
			rc = &conns[i];
			memset(rc, 0, sizeof(*rc));
			rc->c = c;
			rc->conn = r->conn;
			snprintf(rc->src, sizeof(rc->src), "%s",
			    r->src != NULL ? r->src : "");
			rc->order = order++;
			rc->live = 1;
			http_conn_init(&rc->hc, &cb, rc);
		}
		if (r->type == REC_DATA && r->len > 0)
			http_conn_feed(&rc->hc, r->dir == REC_C2S ? HTTP_REQ :
			    HTTP_RESP, r->data, r->len);
		else if (r->type == REC_SHUTDOWN && r->dir != REC_NODIR)
			http_conn_eof(&rc->hc, r->dir == REC_C2S ? HTTP_REQ :
			    HTTP_RESP);
		else if (r->type == REC_CLOSE)
			rconn_end(rc);
	}
	if (n == REC_ERR) {
		snprintf(msg, msglen, "%s", rd.err);
		rcode = -1;
	}
	for (i = 0; i < nconns; i++)
		rconn_end(&conns[i]);
	recr_free(&rd);
	if (fd != STDIN_FILENO)
		close(fd);
	free(conns);
	free(r);
	if (c->n > 0)
		qsort(c->x, c->n, sizeof(*c->x), by_order);
	return rcode;
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
cap_free(struct capture *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		dmsg_free(&c->x[i]->req);
		dmsg_free(&c->x[i]->resp);
		free(c->x[i]);
	}
	free(c->x);
	memset(c, 0, sizeof(*c));
}
