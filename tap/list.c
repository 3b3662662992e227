/* list.c - tcpmon-tap --list, TCPMon's table as text: one row per HTTP
 * exchange (a request and its answer), or per connection with --list=conn;
 * and --json, the records as JSON Lines for jq and log pipelines. */
#include <err.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fault.h"
#include "grow.h"
#include "http.h"
#include "list.h"
#include "safe.h"
#include "sni.h"
#include "util.h"

#define LABEL_MAX	80	/* bytes of a request line or first bytes */
#define XCH_MAX		64	/* exchanges awaiting their answer */

/* One request and its answer. */
struct xch {
	int64_t		 start, end;
	uint64_t	 up, down;	/* their bytes on the wire */
	char		 req[LABEL_MAX + 1];
	int		 status;	/* 0: no answer yet */
	int		 fault;
	int		 connect;	/* a CONNECT */
	int		 tunnel;	/* it opened a tunnel: bytes go on */
	int		 cut;		/* the answer was cut short */
};

/* The first bytes of a stream: a TLS ClientHello, or not. */
struct sniff {
	unsigned char	*buf;		/* while a ClientHello comes */
	uint32_t	 len, cap;
	unsigned char	 done, tls;
	char		*name;		/* the host name asked for, or NULL */
};

struct lconn {
	struct list	*l;
	int64_t		 start, last, now;
	char		 client[48], target[48];
	/* The first line the client sent, or the open's request= (a
	 * proxy's tunnel), which is the label then. */
	char		 first[LABEL_MAX + 1];
	int		 have_first;
	struct sniff	 sn;
	uint64_t	 up, down;	/* every byte */
	uint64_t	 cur[2];	/* of the message under way */
	int64_t		 t0[2];		/* the time of its first byte */
	uint64_t	 rest[2];	/* bytes of no exchange */
	uint64_t	 rows;		/* rows printed */
	int		 http;		/* a request head was seen */
	int		 tls_open;	/* the open record says TLS: every
					 * exchange row says so */
	struct http_conn *hc;		/* NULL between messages */
	struct fault	 fault;		/* of the answer under way */
	struct xch	*x;		/* awaiting an answer, oldest first */
	size_t		 nx, nxcap;
};

static const struct http_callbacks list_cb;

/* The mark of a value cut to its column: an ellipsis where the locale
 * says UTF-8, a tilde elsewhere. */
static const char *
cut_mark(void)
{
	const char *v;

	if ((v = getenv("LC_ALL")) == NULL || *v == '\0')
		if ((v = getenv("LC_CTYPE")) == NULL || *v == '\0')
			v = getenv("LANG");
	return v != NULL && (strcasestr(v, "utf-8") != NULL ||
	    strcasestr(v, "utf8") != NULL) ? "\xe2\x80\xa6" : "~";
}

/*
 * Column widths from the width of the terminal.  CONN, STATUS, the byte
 * counts and TIME have fixed widths; TARGET and REQUEST share the rest;
 * CLIENT and START are shown when there is room for them besides.
 */
static void
layout(struct list *l, int width)
{
	int avail;

	l->w_conn = 7;
	l->w_status = 7;
	l->w_num = 7;
	l->w_time = 8;
	avail = width - (l->w_conn + l->w_status + 2 * l->w_num +
	    l->w_time) - 6;
	l->w_client = 0;
	if (avail - 17 >= 40) {
		l->w_client = avail - 41 < 21 ? avail - 41 : 21;
		avail -= l->w_client + 1;
	}
	l->w_start = 0;
	if (avail - 13 >= 48) {
		l->w_start = 12;
		avail -= 13;
	}
	/* Below 60 columns the line is longer than the terminal. */
	l->w_target = avail * 2 / 5;
	if (l->w_target > 30)
		l->w_target = 30;
	if (l->w_target < 8)
		l->w_target = 8;
	l->w_req = avail - l->w_target - 1;
	if (l->w_req < 8)
		l->w_req = 8;
}

/* One cell: v (already safe for a terminal) in w columns, cut with the
 * mark when longer, padded unless it is the last; right-aligned or not.
 * A UTF-8 character counts as one column and is never split. */
static void
cell(struct list *l, const char *v, int w, int right, const char *color,
    int last)
{
	size_t n = 0, i, bytes = 0, keep = 0;
	int cut = 0;

	for (i = 0; v[i] != '\0'; i++)
		if (((unsigned char)v[i] & 0xc0) != 0x80) {
			if (n == (size_t)w - 1)
				keep = i;
			n++;
		}
	bytes = i;
	if (n > (size_t)w) {
		cut = 1;
		bytes = keep;
		n = (size_t)w;
	}
	if (right)
		for (i = n; i < (size_t)w; i++)
			fputc(' ', l->out);
	if (l->color && color != NULL)
		fputs(color, l->out);
	fwrite(v, 1, bytes, l->out);
	if (cut)
		fputs(l->mark, l->out);
	if (l->color && color != NULL)
		fputs("\033[0m", l->out);
	if (!right && !last)
		for (i = n; i < (size_t)w; i++)
			fputc(' ', l->out);
	if (!last)
		fputc(' ', l->out);
}

static void
header(struct list *l)
{
	if (l->color)
		fputs("\033[1m", l->out);
	cell(l, "CONN", l->w_conn, 0, NULL, 0);
	cell(l, l->per_conn ? "STATE" : "STATUS", l->w_status, 0, NULL, 0);
	if (l->w_start)
		cell(l, "START", l->w_start, 0, NULL, 0);
	if (l->w_client)
		cell(l, "CLIENT", l->w_client, 0, NULL, 0);
	cell(l, "TARGET", l->w_target, 0, NULL, 0);
	cell(l, "REQUEST", l->w_req, 0, NULL, 0);
	cell(l, "UP", l->w_num, 1, NULL, 0);
	cell(l, "DOWN", l->w_num, 1, NULL, 0);
	cell(l, "TIME", l->w_time, 1, NULL, 1);
	fputs(l->color ? "\033[0m\n" : "\n", l->out);
}

void
list_init(struct list *l, FILE *out, const struct list_opts *o)
{
	memset(l, 0, sizeof(*l));
	l->out = out;
	l->color = o->color;
	l->per_conn = o->per_conn;
	l->max_conns = o->max_conns;
	l->mark = cut_mark();
	layout(l, o->width);
	ctab_init(&l->conns, sizeof(struct lconn));
	/* The titles come first, rows or not: a reader (or a script that
	 * skips line 1) always sees the same shape. */
	header(l);
}

static void	conn_end(struct list *, struct lconn *, const char *);

static struct lconn *
lconn_get(struct list *l, const struct rec *r)
{
	struct lconn *c, *old;
	int isnew;

	if ((c = ctab_find(&l->conns, r->src, r->conn, &isnew)) == NULL ||
	    !isnew)
		return c;
	c->l = l;
	c->start = r->usec;
	c->t0[0] = c->t0[1] = -1;
	strcpy(c->client, "?");
	strcpy(c->target, "?");
	/* Over --max-conns: the connection longest without a record gets
	 * its rows now, as dropped; its later records, if any, others. */
	if (l->conns.n > l->max_conns) {
		if (l->dropped++ == 0)
			warnx("over %zu connections at once: the one longest "
			    "without a record is listed as dropped "
			    "(--max-conns)", l->max_conns);
		old = ctab_lru(&l->conns);
		conn_end(l, old, "dropped");
	}
	return c;
}

/* The first line the client sent (a request line without its version),
 * or its first bytes, printable. */
static void
first_line(char *dst, const unsigned char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n && k < LABEL_MAX; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			break;
		dst[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	}
	dst[k] = '\0';
	if (k > 9 && (strcmp(dst + k - 9, " HTTP/1.1") == 0 ||
	    strcmp(dst + k - 9, " HTTP/1.0") == 0))
		dst[k - 9] = '\0';
}

/* Reads the first bytes of a stream for a TLS ClientHello; a stream that
 * does not start with a handshake record costs nothing. */
static void
sniff(struct sniff *sn, const unsigned char *p, size_t n)
{
	enum sni_result r;
	char name[256];
	size_t len, cap;

	if (sn->done || n == 0)
		return;
	if (sn->len == 0 && p[0] != 22) {
		sn->done = 1;
		return;
	}
	if (n > SNI_MAX + 1024 - sn->len)
		n = SNI_MAX + 1024 - sn->len;
	len = sn->len;
	cap = sn->cap;
	grow_put(&sn->buf, &len, &cap, 1024, p, n);
	sn->len = (uint32_t)len;
	sn->cap = (uint32_t)cap;
	r = sni_parse(sn->buf, sn->len, name, sizeof(name));
	if (r == SNI_MORE && sn->len < SNI_MAX + 1024)
		return;
	sn->done = 1;
	sn->tls = r == SNI_NAME || r == SNI_NONAME;
	if (r == SNI_NAME && (sn->name = strdup(name)) == NULL)
		err(TM_EXIT_FAIL, "strdup");
	free(sn->buf);
	sn->buf = NULL;
	sn->len = sn->cap = 0;
}

static void
sniff_reset(struct sniff *sn)
{
	free(sn->buf);
	free(sn->name);
	memset(sn, 0, sizeof(*sn));
}

/* A label and what TLS says, as one value for the REQUEST column (made
 * safe for the terminal when it is printed). */
static void
with_tls(char *out, size_t n, const char *label, const struct sniff *sn)
{
	int k;

	if (!sn->tls)
		k = snprintf(out, n, "%s", label);
	else
		k = snprintf(out, n, "%s%sTLS%s%s", label, *label != '\0' ?
		    ", " : "", sn->name != NULL ? " to " : "",
		    sn->name != NULL ? sn->name : "");
	if (k < 0)
		out[0] = '\0';		/* too long is cut, as a cell is */
}

static void
fmt_elapsed(int64_t us, char *buf, size_t n)
{
	if (us < 0)
		snprintf(buf, n, "-");
	else if (us < 1000000)
		snprintf(buf, n, "%.1fms", (double)us / 1000);
	else if (us < 60000000)
		snprintf(buf, n, "%.3fs", (double)us / 1000000);
	else
		snprintf(buf, n, "%lldm%02llds", (long long)(us / 60000000),
		    (long long)(us / 1000000 % 60));
}

/* A byte count in w columns: exact when it fits, else in k, M or G. */
static void
fmt_bytes(uint64_t v, int w, char *buf, size_t n)
{
	static const char unit[] = "kMGTPE";
	double d = (double)v;
	int i = -1;

	snprintf(buf, n, "%llu", (unsigned long long)v);
	if ((int)strlen(buf) <= w)
		return;
	while (d >= 999.95 && i < 5) {
		d /= 1000;
		i++;
	}
	snprintf(buf, n, "%.1f%c", d, unit[i < 0 ? 0 : i]);
}

/* Whether a status reads as a failure: red, not green. */
static const char *
status_color(const char *st)
{
	if (strcmp(st, "open") == 0)
		return "\033[36m";
	if (strcmp(st, "eof") == 0 || (st[0] >= '1' && st[0] <= '3' &&
	    strlen(st) == 3))
		return "\033[32m";
	return "\033[1;31m";
}

/* Whether rows name sources: once a second one was seen. */
static void
note_src(struct list *l, const char *src)
{
	if (!l->have_src0) {
		snprintf(l->src0, sizeof(l->src0), "%s", src);
		l->have_src0 = 1;
	} else if (!l->multi && strcmp(src, l->src0) != 0)
		l->multi = 1;
}

/* CONN: #N, or SRC#N once the stream has more than one source; a long
 * source is cut, never the number. */
static void
conn_cell(struct list *l, struct lconn *c)
{
	char id[SAFE_ROOM(64) + 24], num[24], sid[SAFE_ROOM(64)];
	const char *src = ctab_src(c);
	int room;

	note_src(l, src);
	snprintf(num, sizeof(num), "#%llu", (unsigned long long)ctab_conn(c));
	if (!l->multi) {
		cell(l, num, l->w_conn, 0, NULL, 0);
		return;
	}
	safe_str(src, sid, sizeof(sid));
	room = l->w_conn - (int)strlen(num);
	if (room < 2 || (int)strlen(sid) <= room) {
		snprintf(id, sizeof(id), "%s%s", sid, num);
		cell(l, id, (int)strlen(id) > l->w_conn ? (int)strlen(id) :
		    l->w_conn, 0, NULL, 0);
		return;
	}
	/* Cut the source, keep the number: r-very-long-name#12 as r-ve…#12 */
	snprintf(id, sizeof(id), "%.*s%s%s", room - 1, sid, l->mark, num);
	fputs(id, l->out);
	fputc(' ', l->out);
}

static void
row(struct list *l, struct lconn *c, const char *status, int64_t start,
    const char *req, uint64_t up, uint64_t down, int64_t end)
{
	char t[TM_TIME_LEN], v[SAFE_ROOM(LABEL_MAX + 80)], b[32];

	conn_cell(l, c);
	cell(l, status, l->w_status, 0, status_color(status), 0);
	if (l->w_start) {
		if (start >= 0) {
			tm_fmt_time(start, t, sizeof(t));
			t[23] = '\0';
			cell(l, t + 11, l->w_start, 0, NULL, 0);
		} else
			cell(l, "?", l->w_start, 0, NULL, 0);
	}
	if (l->w_client)
		cell(l, c->client, l->w_client, 0, NULL, 0);
	cell(l, c->target, l->w_target, 0, NULL, 0);
	cell(l, safe_str(req, v, sizeof(v)), l->w_req, 0, NULL, 0);
	fmt_bytes(up, l->w_num, b, sizeof(b));
	cell(l, b, l->w_num, 1, NULL, 0);
	fmt_bytes(down, l->w_num, b, sizeof(b));
	cell(l, b, l->w_num, 1, NULL, 0);
	fmt_elapsed(start >= 0 && end >= 0 ? end - start : -1, b, sizeof(b));
	cell(l, b, l->w_time, 1, NULL, 1);
	fputc('\n', l->out);
	c->rows++;
}

/* The row of an exchange; st is its status when it has none of its own. */
static void
xch_row(struct list *l, struct lconn *c, struct xch *x, const char *st)
{
	char s[16], req[LABEL_MAX + 80];

	if (x->fault)
		st = "fault";
	else if (x->status != 0 && !x->cut && !x->tunnel) {
		snprintf(s, sizeof(s), "%d", x->status);
		st = s;
	} else if (x->cut && strcmp(st, "eof") == 0)
		st = "cut";
	if (x->tunnel || c->tls_open)
		with_tls(req, sizeof(req), x->req, &c->sn);
	else
		snprintf(req, sizeof(req), "%s", x->req);
	row(l, c, st, x->start, req, x->up, x->down, x->end >= 0 &&
	    !x->tunnel ? x->end : c->last);
}

/* The awaiting exchanges grow as requests come: a connection between
 * exchanges holds none. */
static struct xch *
xch_push(struct lconn *c)
{
	c->x = grow_items(c->x, &c->nxcap, c->nx + 1, sizeof(*c->x), 1);
	return &c->x[c->nx++];
}

static void
xch_pop(struct lconn *c)
{
	memmove(c->x, c->x + 1, (size_t)(c->nx - 1) * sizeof(*c->x));
	if (--c->nx == 0) {
		free(c->x);
		c->x = NULL;
		c->nxcap = 0;
	}
}

static void
cb_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct lconn *c = arg;
	struct xch *x;

	if (!http_conn_is_raw(c->hc, d)) {
		if (c->cur[d] == 0)
			c->t0[d] = c->now;
		c->cur[d] += n;
		return;
	}
	/* Past HTTP: a tunnel's bytes are its exchange's; an answer that
	 * is not HTTP is its request's. */
	x = c->nx > 0 && c->x[c->nx - 1].tunnel ? &c->x[c->nx - 1] :
	    d == HTTP_RESP && c->nx > 0 ? &c->x[0] : NULL;
	if (x == NULL)
		c->rest[d] += n;
	else if (d == HTTP_REQ)
		x->up += n;
	else
		x->down += n;
	if (x != NULL && x->tunnel && d == HTTP_REQ)
		sniff(&c->sn, p, n);
}

static void
cb_head(void *arg, const struct http_head *h)
{
	struct lconn *c = arg;
	struct xch *x;

	if (h->dir == HTTP_REQ) {
		c->http = 1;
		if (c->nx == XCH_MAX) {
			xch_row(c->l, c, &c->x[0], "?");
			xch_pop(c);
		}
		x = xch_push(c);
		memset(x, 0, sizeof(*x));
		x->start = c->t0[0] >= 0 ? c->t0[0] : c->now;
		x->end = -1;
		snprintf(x->req, sizeof(x->req), "%s %s", h->method, h->target);
		x->connect = strcmp(h->method, "CONNECT") == 0;
		return;
	}
	fault_init(&c->fault);
	if (h->status >= 100 && h->status < 200 && h->status != 101)
		return;			/* an interim answer: more to come */
	if (c->nx == 0) {		/* an answer to no request */
		x = xch_push(c);
		memset(x, 0, sizeof(*x));
		x->start = c->t0[1] >= 0 ? c->t0[1] : c->now;
		x->end = -1;
	}
	x = &c->x[0];
	x->status = h->status;
	if (h->status == 101 || (x->connect && h->status >= 200 &&
	    h->status < 300)) {
		x->tunnel = 1;
		sniff_reset(&c->sn);
	}
}

static void
cb_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct lconn *c = arg;

	if (d == HTTP_RESP)
		fault_feed(&c->fault, p, n);
}

static void
cb_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end how)
{
	struct lconn *c = arg;
	struct xch *x;

	if (h == NULL)
		return;			/* cut inside a head: its bytes stay */
	if (d == HTTP_REQ) {
		if (c->nx > 0)
			c->x[c->nx - 1].up += c->cur[0];
		else
			c->rest[0] += c->cur[0];
		c->cur[0] = 0;
		return;
	}
	if (h->status >= 100 && h->status < 200 && h->status != 101)
		return;
	if (c->nx == 0)
		return;
	x = &c->x[0];
	x->down += c->cur[1];
	c->cur[1] = 0;
	x->end = c->now;
	x->fault = c->fault.found;
	x->cut = how == HTTP_END_TRUNCATED;
	if (x->tunnel)
		return;			/* its row when the connection ends */
	xch_row(c->l, c, x, "?");
	xch_pop(c);
}

static const struct http_callbacks list_cb = {
	cb_raw, cb_head, cb_body, cb_end, NULL
};

static void
http_feed(struct lconn *c, int d, const unsigned char *p, size_t n)
{
	if (c->hc == NULL) {
		if ((c->hc = malloc(sizeof(*c->hc))) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		http_conn_init(c->hc, &list_cb, c);
	}
	http_conn_feed(c->hc, (enum http_dir)d, p, n);
	if (http_conn_idle(c->hc)) {
		http_conn_free(c->hc);
		free(c->hc);
		c->hc = NULL;
	} else
		http_conn_trim(c->hc);
}

/* The connection's label, when it has a row of its own. */
static void
conn_label(struct lconn *c, char *out, size_t n)
{
	const char *base = c->have_first == 2 || !c->sn.tls ? c->first : "";

	with_tls(out, n, base, &c->sn);
}

/* The connection ended (st: its close reason, "open" or "dropped"): the
 * exchanges still awaiting an answer get their rows, and the connection
 * one of its own when it carried anything but HTTP exchanges (or
 * nothing at all), or with --list=conn. */
static void
conn_end(struct list *l, struct lconn *c, const char *st)
{
	char label[LABEL_MAX + 80];
	int d;

	if (c->hc != NULL) {
		for (d = 0; d < 2; d++)
			http_conn_eof(c->hc, (enum http_dir)d);
		http_conn_free(c->hc);
		free(c->hc);
		c->hc = NULL;
	}
	/* Bytes of a message that never ended. */
	if (c->nx > 0) {
		c->x[c->nx - 1].up += c->cur[0];
		c->x[0].down += c->cur[1];
	} else {
		c->rest[0] += c->cur[0];
		c->rest[1] += c->cur[1];
	}
	c->cur[0] = c->cur[1] = 0;
	while (c->nx > 0) {
		xch_row(l, c, &c->x[0], st);
		xch_pop(c);
	}
	conn_label(c, label, sizeof(label));
	if (l->per_conn || c->rows == 0)
		row(l, c, st, c->start, label, c->up, c->down, c->last);
	else if (c->rest[0] + c->rest[1] > 0)
		row(l, c, st, c->start, "(not HTTP)", c->rest[0], c->rest[1],
		    c->last);
	sniff_reset(&c->sn);
	ctab_del(&l->conns, c);
}

void
list_record(struct list *l, const struct rec *r)
{
	struct lconn *c;
	const char *v;
	uint64_t up, down;
	int d;

	note_src(l, r->src != NULL ? r->src : "");
	if (r->conn == 0)
		return;
	c = lconn_get(l, r);
	if (r->usec >= 0)
		c->last = c->now = r->usec;
	switch (r->type) {
	case REC_OPEN:
		if ((v = rec_get(r, "client")) != NULL)
			safe_str(v, c->client, sizeof(c->client));
		if ((v = rec_get(r, "target")) != NULL)
			safe_str(v, c->target, sizeof(c->target));
		if ((v = rec_get(r, "request")) != NULL) {
			first_line(c->first, (const unsigned char *)v,
			    strlen(v));
			c->have_first = 2;
		}
		/* TLS the relay ended or made (tcpmon-record(5)): the
		 * records hold the plaintext, and the open record says
		 * what a ClientHello would have. */
		if (rec_get(r, "client-tls") != NULL ||
		    rec_get(r, "server-tls") != NULL) {
			sniff_reset(&c->sn);
			c->sn.done = c->sn.tls = 1;
			c->tls_open = 1;
			if ((v = rec_get(r, "server-sni")) == NULL)
				v = rec_get(r, "client-sni");
			if (v != NULL && (c->sn.name = strdup(v)) == NULL)
				err(TM_EXIT_FAIL, "strdup");
		}
		if (r->usec >= 0)
			c->start = r->usec;
		break;
	case REC_DATA:
		if (r->dir == REC_NODIR)
			break;
		d = r->dir == REC_S2C;
		if (d == 0 && !c->have_first && r->len > 0) {
			first_line(c->first, r->data, r->len);
			c->have_first = 1;
		}
		if (d)
			c->down += r->len;
		else
			c->up += r->len;
		if (!l->per_conn)
			http_feed(c, d, r->data, r->len);
		/* A connection that speaks TLS from its first byte. */
		if (d == 0 && !c->http && !c->sn.done)
			sniff(&c->sn, r->data, r->len);
		break;
	case REC_SHUTDOWN:
		if (r->dir != REC_NODIR && c->hc != NULL)
			http_conn_eof(c->hc, r->dir == REC_S2C ? HTTP_RESP :
			    HTTP_REQ);
		break;
	case REC_CLOSE:
		/* The relay's totals count what went over the wire even
		 * when a filter took records out. */
		if (rec_get_u64(r, "c2s", &up) == 0)
			c->up = up;
		if (rec_get_u64(r, "s2c", &down) == 0)
			c->down = down;
		v = rec_get(r, "reason");
		conn_end(l, c, v != NULL ? v : "closed");
		break;
	default:
		break;
	}
}

void
list_end(struct list *l)
{
	void **v;
	size_t n, i;

	v = ctab_list(&l->conns, &n);
	for (i = 0; i < n; i++)
		conn_end(l, v[i], "open");
	free(v);
	ctab_free(&l->conns);
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t k, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		k = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		k = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		k = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return k;
}

static int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_len(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* A JSON string; bytes that are not UTF-8 become \u00XX (Latin-1), so the
 * line stays valid JSON whatever a field holds, and every control
 * character is escaped, so that it is also safe on a terminal. */
static void
json_str(FILE *f, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i = 0, j, k;

	fputc('"', f);
	while (i < n) {
		for (j = i; j < n && p[j] >= 0x20 && p[j] < 0x7f &&
		    p[j] != '"' && p[j] != '\\'; j++)
			;
		fwrite(p + i, 1, j - i, f);
		if ((i = j) == n)
			break;
		/* C1 controls (U+0080 to U+009F) are escaped like C0 and DEL:
		 * the same string, and none that drives a terminal. */
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
		    p[i + 1] < 0xa0) {
			fprintf(f, "\\u00%c%c", hx[p[i + 1] >> 4],
			    hx[p[i + 1] & 15]);
			i += 2;
			continue;
		}
		if (p[i] >= 0x80 && (k = utf8_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, k, f);
			i += k;
			continue;
		}
		switch (p[i]) {
		case '"':	fputs("\\\"", f); break;
		case '\\':	fputs("\\\\", f); break;
		case '\n':	fputs("\\n", f); break;
		case '\r':	fputs("\\r", f); break;
		case '\t':	fputs("\\t", f); break;
		default:
			fprintf(f, "\\u00%c%c", hx[p[i] >> 4], hx[p[i] & 15]);
		}
		i++;
	}
	fputc('"', f);
}

static void
json_cstr(FILE *f, const char *s)
{
	json_str(f, (const unsigned char *)s, strlen(s));
}

static void
base64(FILE *f, const unsigned char *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[4096];
	size_t i, k = 0;
	uint32_t v;

	fputc('"', f);
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[k++] = b64[v >> 18];
		out[k++] = b64[v >> 12 & 63];
		out[k++] = b64[v >> 6 & 63];
		out[k++] = b64[v & 63];
		if (k == sizeof(out)) {
			fwrite(out, 1, k, f);
			k = 0;
		}
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[k++] = b64[v >> 18];
		out[k++] = b64[v >> 12 & 63];
		out[k++] = '=';
		out[k++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[k++] = b64[v >> 18];
		out[k++] = b64[v >> 12 & 63];
		out[k++] = b64[v >> 6 & 63];
		out[k++] = '=';
	}
	fwrite(out, 1, k, f);
	fputc('"', f);
}

void
json_record(FILE *f, const struct rec *r)
{
	char t[TM_TIME_LEN];
	int i;

	fputs("{\"kind\":", f);
	json_cstr(f, r->kind);
	fprintf(f, ",\"conn\":%llu", (unsigned long long)r->conn);
	if (r->src != NULL) {
		fputs(",\"src\":", f);
		json_cstr(f, r->src);
	}
	if (r->usec >= 0)
		fprintf(f, ",\"time\":\"%s\"", tm_fmt_time(r->usec, t,
		    sizeof(t)));
	if (r->dir != REC_NODIR)
		fprintf(f, ",\"dir\":\"%s\"", rec_dir_name(r->dir));
	fprintf(f, ",\"len\":%zu", r->len);
	if (r->nfield > 0) {
		fputs(",\"fields\":{", f);
		for (i = 0; i < r->nfield; i++) {
			if (i > 0)
				fputc(',', f);
			json_cstr(f, r->field[i].key);
			fputc(':', f);
			json_cstr(f, r->field[i].val);
		}
		fputc('}', f);
	}
	if (r->len > 0) {
		if (utf8_valid(r->data, r->len)) {
			fputs(",\"text\":", f);
			json_str(f, r->data, r->len);
		} else {
			fputs(",\"base64\":", f);
			base64(f, r->data, r->len);
		}
	}
	fputs("}\n", f);
}
