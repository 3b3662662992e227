/* rw.c - per connection, the HTTP messages of both directions reassembled
 * (common/http.c) and rewritten where they name the target: the Host of
 * each request becomes the target's, a Location that points at the target
 * points back at the Host the client used, and so do the soap:address
 * locations of a WSDL answer.  Everything else goes on byte for byte.
 *
 * Only what must be seen whole is held: a head until its end, and an XML
 * answer's body (up to --max-body) until its end.  Bodies of everything
 * else stream through as they come. */
#include <ctype.h>
#include <err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctab.h"
#include "grow.h"
#include "http.h"
#include "rw.h"
#include "util.h"

#define OUT_PIECE	(1024 * 1024)	/* data records we write: at most */
#define NOTE_VAL	200		/* a value shown in a note: at most */
#define HOST_MAX	255		/* a client's Host we put back */

struct buf {
	unsigned char	*p;
	size_t		 len, cap;
};

enum mode {
	M_HEAD,		/* a head is being read: held */
	M_PASS,		/* a body that is not ours: passes */
	M_HOLD,		/* an XML answer's body: held until its end */
	M_LATE,		/* a head given up on (too long held): passes */
	M_RAW		/* not HTTP (any more): passes */
};

struct side {
	enum mode	 mode;
	struct buf	 hold;		/* M_HEAD: the head so far; M_HOLD:
					 * the body as on the wire */
	struct buf	 head;		/* M_HOLD: the head to write */
	struct buf	 dec;		/* M_HOLD, chunked: the body decoded */
	int		 chunked;
	uint64_t	 cl;		/* M_HOLD: its Content-Length */
	int64_t		 since;		/* holding since (ms); 0: not */
	struct side	*hprev, *hnext;	/* the holding sides, oldest first */
	struct conn	*c;
	struct buf	 out;		/* to write after the current record */
};

/* A connection's state, in the table (ctab.h) by its src and number. */
struct conn {
	struct rw	*rw;
	const char	*src;		/* the table's copy; NULL: no src */
	uint64_t	 id;
	struct http_conn hc;
	struct side	 side[2];
	char		 tname[256];	/* the target's host, no brackets */
	unsigned	 tport;
	char		 thost[300];	/* its Host: host[:port]; "" none */
	/* The client's Host of each request still awaiting its answer,
	 * kept as http.c keeps their methods; NULL: it sent none. */
	char		*chost[HTTP_PENDING];
	int		 nch, first;
	char		*rhost;		/* the Host for the answer under way */
	int		 noted_raw;
	int64_t		 usec;		/* the time of the current record */
	struct buf	 notes;		/* to write after the data, NUL-ended */
};

struct rw {
	struct rw_opts	 o;
	struct rec_writer *w;
	struct ctab	 conns;		/* of struct conn */
	struct side	*hfirst, *hlast;
	struct rec	 tmp;
	int64_t		 now;
};

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	grow_put(&b->p, &b->len, &b->cap, 256, p, n);
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Gives the memory back: an idle connection costs only its structure. */
static void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void __attribute__((format(printf, 2, 3)))
note(struct conn *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_add(&c->notes, msg, strlen(msg) + 1);
}

/* A value for a note: cut, and only visible ASCII. */
static const char *
shown(const void *p, size_t n, char *out, size_t outlen)
{
	const unsigned char *s = p;
	size_t i, k = 0;

	for (i = 0; i < n && k + 4 < outlen && i < NOTE_VAL; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	if (i < n && k + 4 < outlen) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

/* --- holding, and the clock of --hold-timeout ------------------------ */

static void
hold_start(struct side *s)
{
	struct rw *rw = s->c->rw;

	if (s->since != 0)
		return;
	s->since = rw->now > 0 ? rw->now : 1;
	s->hprev = rw->hlast;
	s->hnext = NULL;
	if (rw->hlast != NULL)
		rw->hlast->hnext = s;
	else
		rw->hfirst = s;
	rw->hlast = s;
}

static void
hold_stop(struct side *s)
{
	struct rw *rw = s->c->rw;

	if (s->since == 0)
		return;
	if (s->hprev != NULL)
		s->hprev->hnext = s->hnext;
	else
		rw->hfirst = s->hnext;
	if (s->hnext != NULL)
		s->hnext->hprev = s->hprev;
	else
		rw->hlast = s->hprev;
	s->since = 0;
	s->hprev = s->hnext = NULL;
}

static void
emit(struct side *s, const void *p, size_t n)
{
	buf_add(&s->out, p, n);
}

/* What a side holds goes out as it came; it holds nothing after. */
static void
release(struct side *s)
{
	emit(s, s->head.p, s->head.len);
	emit(s, s->hold.p, s->hold.len);
	buf_free(&s->head);
	buf_free(&s->hold);
	buf_free(&s->dec);
	hold_stop(s);
}

/* --- addresses ------------------------------------------------------- */

/* Parses target= (HOST:PORT, [V6]:PORT) into the conn; unix: and what
 * does not parse leave it without a target: nothing is rewritten. */
static void
set_target(struct conn *c, const char *t)
{
	const char *colon, *h = t;
	size_t hl;
	unsigned long port;
	char *end;

	c->tname[0] = c->thost[0] = '\0';
	if (t == NULL || strncmp(t, "unix:", 5) == 0)
		return;
	if (*t == '[') {
		if ((colon = strstr(t, "]:")) == NULL)
			return;
		h = t + 1;
		hl = (size_t)(colon - h);
		colon++;
	} else {
		if ((colon = strrchr(t, ':')) == NULL ||
		    memchr(t, ':', (size_t)(colon - t)) != NULL)
			return;
		hl = (size_t)(colon - t);
	}
	port = strtoul(colon + 1, &end, 10);
	if (hl == 0 || hl >= sizeof(c->tname) || *end != '\0' || port == 0 ||
	    port > 65535)
		return;
	memcpy(c->tname, h, hl);
	c->tname[hl] = '\0';
	c->tport = (unsigned)port;
	snprintf(c->thost, sizeof(c->thost), "%s%s%s", *t == '[' ? "[" : "",
	    c->tname, *t == '[' ? "]" : "");
	if (port != 80)
		snprintf(c->thost + strlen(c->thost), sizeof(c->thost) -
		    strlen(c->thost), ":%lu", port);
}

/*
 * Whether url (n bytes) is http://AUTHORITY... with the authority naming
 * the target (its host, any case; its port, 80 when left out).  *pre is
 * then the length of "http://AUTHORITY".
 */
static int
at_target(const struct conn *c, const char *url, size_t n, size_t *pre)
{
	const char *a, *e, *h, *he, *p;
	unsigned long port = 80;

	if (c->tname[0] == '\0' || n < 8 || strncasecmp(url, "http://", 7))
		return 0;
	a = url + 7;
	for (e = a; e < url + n && *e != '/' && *e != '?' && *e != '#'; e++)
		if (*e == '@')
			return 0;
	if (*a == '[') {
		h = a + 1;
		if ((he = memchr(h, ']', (size_t)(e - h))) == NULL)
			return 0;
		p = he + 1;
	} else {
		h = a;
		if ((he = memchr(h, ':', (size_t)(e - h))) == NULL)
			he = e;
		p = he;
	}
	if (p < e) {
		if (*p != ':' || p + 1 == e || e - p > 6)
			return 0;
		for (port = 0, p++; p < e; p++) {
			if (*p < '0' || *p > '9')
				return 0;
			port = port * 10 + (unsigned long)(*p - '0');
		}
	}
	if ((size_t)(he - h) != strlen(c->tname) ||
	    strncasecmp(h, c->tname, (size_t)(he - h)) != 0 ||
	    port != c->tport)
		return 0;
	*pre = (size_t)(e - url);
	return 1;
}

/* A Host we may write into a header and an attribute: visible ASCII, no
 * quote, no markup, nothing that ends an authority. */
static int
good_host(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > HOST_MAX)
		return 0;
	for (; *h != '\0'; h++)
		if ((unsigned char)*h <= 0x20 || (unsigned char)*h >= 0x7f ||
		    strchr("\"'<>&\\/?#@", *h) != NULL)
			return 0;
	return 1;
}

/* --- heads ----------------------------------------------------------- */

/* What a header's value becomes: NULL keeps it. */
typedef const char *(*hdr_fn)(struct conn *, const char *name,
    const char *val, size_t vlen, char *tmp, size_t tmplen);

/*
 * Writes the head h (n bytes, as on the wire, with any empty lines before
 * it) into out with the values of the headers that fn changes replaced;
 * every other byte stays.  Returns how many values changed.
 */
static int
head_rewrite(struct conn *c, const unsigned char *h, size_t n,
    struct buf *out, hdr_fn fn)
{
	const unsigned char *l = h, *end = h + n, *nl, *colon, *v, *ve;
	char name[64], tmp[2048];
	const char *nv;
	int start = 1, changed = 0;
	size_t k;

	for (; l < end; l = nl + 1) {
		if ((nl = memchr(l, '\n', (size_t)(end - l))) == NULL)
			nl = end - 1;
		ve = nl;
		if (ve > l && ve[-1] == '\r')
			ve--;
		if (start) {
			/* Empty lines before the start line, then it. */
			start = ve == l;
			buf_add(out, l, (size_t)(nl + 1 - l));
			continue;
		}
		colon = memchr(l, ':', (size_t)(ve - l));
		k = colon != NULL ? (size_t)(colon - l) : 0;
		if (k == 0 || k >= sizeof(name)) {
			buf_add(out, l, (size_t)(nl + 1 - l));
			continue;
		}
		memcpy(name, l, k);
		name[k] = '\0';
		for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
			;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if ((nv = fn(c, name, (const char *)v, (size_t)(ve - v), tmp,
		    sizeof(tmp))) == NULL) {
			buf_add(out, l, (size_t)(nl + 1 - l));
			continue;
		}
		buf_add(out, l, (size_t)(v - l));
		buf_str(out, nv);
		buf_add(out, ve, (size_t)(nl + 1 - ve));
		changed++;
	}
	return changed;
}

static const char *
req_fn(struct conn *c, const char *name, const char *val, size_t vlen,
    char *tmp, size_t tmplen)
{
	char a[NOTE_VAL + 8];

	(void)tmp;
	(void)tmplen;
	if (strcasecmp(name, "Host") != 0 || c->thost[0] == '\0' ||
	    (vlen == strlen(c->thost) && memcmp(val, c->thost, vlen) == 0))
		return NULL;
	note(c, "Host: %s -> %s", shown(val, vlen, a, sizeof(a)), c->thost);
	return c->thost;
}

static const char *
resp_fn(struct conn *c, const char *name, const char *val, size_t vlen,
    char *tmp, size_t tmplen)
{
	char a[NOTE_VAL + 8];
	size_t pre;
	int n;

	if ((strcasecmp(name, "Location") != 0 &&
	    strcasecmp(name, "Content-Location") != 0) || c->rhost == NULL ||
	    !good_host(c->rhost) || !at_target(c, val, vlen, &pre))
		return NULL;
	n = snprintf(tmp, tmplen, "http://%s%.*s", c->rhost,
	    (int)(vlen - pre), val + pre);
	if (n < 0 || (size_t)n >= tmplen)
		return NULL;
	note(c, "%s: %s -> %s", name, shown(val, vlen, a, sizeof(a)), tmp);
	return tmp;
}

/* For the Content-Length of an answer whose body changed. */
static const char *
length_fn(struct conn *c, const char *name, const char *val, size_t vlen,
    char *tmp, size_t tmplen)
{
	(void)val;
	(void)vlen;
	if (strcasecmp(name, "Content-Length") != 0)
		return NULL;
	snprintf(tmp, tmplen, "%llu", (unsigned long long)c->side[1].cl);
	return tmp;
}

/* --- WSDL ------------------------------------------------------------ */

/* Whether the answer may be a WSDL: its media type. */
static int
xml_type(const char *ct)
{
	static const char *const types[] = { "text/xml", "application/xml",
	    "application/wsdl+xml" };
	size_t n, i;

	if (ct == NULL)
		return 0;
	n = strcspn(ct, "; \t");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (n == strlen(types[i]) && strncasecmp(ct, types[i], n) == 0)
			return 1;
	return 0;
}

static int
name_char(int ch)
{
	return isalnum(ch) || ch == '_' || ch == '-' || ch == '.' ||
	    ch == ':';
}

static void
xml_attr_esc(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&':
			buf_str(out, "&amp;");
			break;
		case '<':
			buf_str(out, "&lt;");
			break;
		case '"':
			buf_str(out, "&quot;");
			break;
		case '\'':
			buf_str(out, "&apos;");
			break;
		default:
			buf_add(out, s, 1);
		}
}

/*
 * Rewrites, in the body b (n bytes), the location attribute of every
 * address element (soap:address, soap12:address, any prefix) and the
 * address attribute of WSDL 2.0 endpoint elements that point at the
 * target.  Writes the new body into out only when something changed;
 * returns the count, and what became of the first in first.
 */
static int
wsdl_rewrite(struct conn *c, const unsigned char *b, size_t n,
    struct buf *out, char *first, size_t firstlen)
{
	const char *s = (const char *)b, *end, *q, *nm, *local, *an;
	const char *v, *ve, *want;
	size_t last = 0, nl, al, pre;
	char val[NOTE_VAL + 8], rest[NOTE_VAL + 8];
	int count = 0;
	char quote;

	/* An empty body may come as no buffer at all: NULL + 0 is undefined
	 * (fuzz_rewrite found it). */
	if (n == 0)
		return 0;
	end = s + n;
	for (q = memchr(s, '<', n); q != NULL; q = memchr(q, '<',
	    (size_t)(end - q))) {
		nm = ++q;
		while (q < end && name_char((unsigned char)*q))
			q++;
		nl = (size_t)(q - nm);
		for (local = q; local > nm && local[-1] != ':'; local--)
			;
		if (nl == 0)
			continue;
		if ((size_t)(q - local) == 7 && memcmp(local, "address", 7) == 0)
			want = "location";
		else if ((size_t)(q - local) == 8 &&
		    memcmp(local, "endpoint", 8) == 0)
			want = "address";
		else
			continue;
		/* The attributes, up to the end of the tag. */
		for (;;) {
			while (q < end && isspace((unsigned char)*q))
				q++;
			if (q >= end || *q == '>' || *q == '/' || *q == '<')
				break;
			an = q;
			while (q < end && name_char((unsigned char)*q))
				q++;
			al = (size_t)(q - an);
			while (q < end && isspace((unsigned char)*q))
				q++;
			if (al == 0 || q >= end || *q != '=')
				break;
			for (q++; q < end && isspace((unsigned char)*q); q++)
				;
			if (q >= end || (*q != '"' && *q != '\''))
				break;
			quote = *q++;
			v = q;
			while (q < end && *q != quote && *q != '<')
				q++;
			if (q >= end || *q != quote)
				break;
			ve = q++;
			if (al != strlen(want) || memcmp(an, want, al) != 0 ||
			    !at_target(c, v, (size_t)(ve - v), &pre))
				continue;
			if (count++ == 0)
				snprintf(first, firstlen, "%.*s %.*s: %s -> "
				    "http://%s%s", (int)nl, nm, (int)al, an,
				    shown(v, (size_t)(ve - v), val, sizeof(val)),
				    c->rhost, shown(v + pre, (size_t)(ve - v) -
				    pre, rest, sizeof(rest)));
			buf_add(out, b + last, (size_t)(v - s) - last);
			buf_str(out, "http://");
			xml_attr_esc(out, c->rhost);
			last = (size_t)(v - s) + pre;
		}
	}
	if (count > 0)
		buf_add(out, b + last, n - last);
	return count;
}

/* The end of a held XML answer: rewritten if it names the target, as it
 * came otherwise. */
static void
hold_done(struct conn *c, struct side *s, const struct http_head *h,
    enum http_end how)
{
	struct buf body = { NULL, 0, 0 }, head = { NULL, 0, 0 };
	const struct buf *in = s->chunked ? &s->dec : &s->hold;
	char first[3 * NOTE_VAL + 200], size[64];
	int n;

	if (how == HTTP_END_TRUNCATED) {
		release(s);
		return;
	}
	if ((n = wsdl_rewrite(c, in->p, in->len, &body, first,
	    sizeof(first))) == 0) {
		release(s);
		return;
	}
	if (s->chunked && h->ntrailer > 0) {
		note(c, "an XML answer with trailer fields: its address "
		    "locations are left as they are");
		buf_free(&body);
		release(s);
		return;
	}
	size[0] = '\0';
	if (s->chunked) {
		emit(s, s->head.p, s->head.len);
		if (body.len > 0) {
			snprintf(size, sizeof(size), "%zx\r\n", body.len);
			emit(s, size, strlen(size));
			emit(s, body.p, body.len);
			emit(s, "\r\n", 2);
		}
		emit(s, "0\r\n\r\n", 5);
		snprintf(size, sizeof(size), "; chunked anew");
	} else if (h->body == HTTP_BODY_LENGTH) {
		if (s->cl != body.len)
			snprintf(size, sizeof(size), "; Content-Length %llu "
			    "-> %zu", (unsigned long long)s->cl, body.len);
		s->cl = body.len;
		head_rewrite(c, s->head.p, s->head.len, &head, length_fn);
		emit(s, head.p, head.len);
		emit(s, body.p, body.len);
	} else {
		emit(s, s->head.p, s->head.len);
		emit(s, body.p, body.len);
	}
	if (n > 1)
		note(c, "%s (and %d more in the WSDL)%s", first, n - 1, size);
	else
		note(c, "%s%s", first, size);
	buf_free(&body);
	buf_free(&head);
	buf_free(&s->head);
	buf_free(&s->hold);
	buf_free(&s->dec);
	hold_stop(s);
}

/* --- the HTTP callbacks ---------------------------------------------- */

static void
on_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct conn *c = arg;
	struct side *s = &c->side[d];

	switch (s->mode) {
	case M_HEAD:
		if (s->hold.len + n > HTTP_MAX_HEAD) {
			/* Too long for a head: http.c gives up on it
			 * too, and nothing is rewritten. */
			release(s);
			emit(s, p, n);
			s->mode = M_LATE;
			return;
		}
		buf_add(&s->hold, p, n);
		hold_start(s);
		return;
	case M_HOLD:
		if (s->hold.len + s->dec.len + n > c->rw->o.max_body) {
			note(c, "an XML answer over --max-body (%zu bytes): "
			    "passed as it is, its address locations not "
			    "looked at", c->rw->o.max_body);
			release(s);
			emit(s, p, n);
			s->mode = M_PASS;
			return;
		}
		buf_add(&s->hold, p, n);
		return;
	default:
		emit(s, p, n);
	}
}

static void
on_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct conn *c = arg;
	struct side *s = &c->side[d];

	if (s->mode == M_HOLD && s->chunked)
		buf_add(&s->dec, p, n);
}

static void
req_head(struct conn *c, struct side *s, const struct http_head *h)
{
	const char *host = http_header(h, "Host");
	char *copy = NULL;

	/* As http.c keeps the requests awaiting an answer. */
	if (c->nch < HTTP_PENDING) {
		if (host != NULL && (copy = strdup(host)) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		c->chost[(c->first + c->nch) % HTTP_PENDING] = copy;
		c->nch++;
	}
	if (s->mode == M_HEAD)
		head_rewrite(c, s->hold.p, s->hold.len, &s->out, req_fn);
	buf_free(&s->hold);
	hold_stop(s);
	s->mode = M_PASS;
}

static void
resp_head(struct conn *c, struct side *s, const struct http_head *h)
{
	const char *ce = http_header(h, "Content-Encoding");
	int final = h->status >= 200 || h->status == 101, xml, hold;
	struct buf head = { NULL, 0, 0 };

	free(c->rhost);
	c->rhost = NULL;
	if (c->nch > 0) {
		if (c->chost[c->first] != NULL &&
		    (c->rhost = strdup(c->chost[c->first])) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		if (final) {
			free(c->chost[c->first]);
			c->chost[c->first] = NULL;
			c->first = (c->first + 1) % HTTP_PENDING;
			c->nch--;
		}
	}
	if (s->mode != M_HEAD) {	/* M_LATE */
		s->mode = M_PASS;
		return;
	}
	head_rewrite(c, s->hold.p, s->hold.len, &head, resp_fn);
	buf_free(&s->hold);
	xml = xml_type(http_header(h, "Content-Type")) && c->rhost != NULL &&
	    good_host(c->rhost) && c->tname[0] != '\0';
	hold = xml && (h->body == HTTP_BODY_LENGTH ||
	    h->body == HTTP_BODY_CHUNKED || h->body == HTTP_BODY_EOF);
	if (hold && ce != NULL && strcasecmp(ce, "identity") != 0) {
		note(c, "an XML answer with Content-Encoding %.*s: passed as "
		    "it is, its address locations not looked at", NOTE_VAL,
		    ce);
		hold = 0;
	}
	if (hold && h->body == HTTP_BODY_LENGTH &&
	    h->length > c->rw->o.max_body) {
		note(c, "an XML answer of %llu bytes, over --max-body (%zu): "
		    "passed as it is, its address locations not looked at",
		    (unsigned long long)h->length, c->rw->o.max_body);
		hold = 0;
	}
	if (!hold) {
		emit(s, head.p, head.len);
		buf_free(&head);
		hold_stop(s);
		s->mode = M_PASS;
		return;
	}
	/* The head waits with the body: its length may change.  The hold
	 * clock runs on from the head's first byte. */
	s->head = head;
	s->chunked = h->body == HTTP_BODY_CHUNKED;
	s->cl = h->length;
	s->mode = M_HOLD;
}

static void
on_head(void *arg, const struct http_head *h)
{
	struct conn *c = arg;

	if (h->dir == HTTP_REQ)
		req_head(c, &c->side[HTTP_REQ], h);
	else
		resp_head(c, &c->side[HTTP_RESP], h);
}

static void
on_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end how)
{
	struct conn *c = arg;
	struct side *s = &c->side[d];

	if (s->mode == M_HOLD)
		hold_done(c, s, h, how);
	else
		release(s);	/* a head cut by the end: as it came */
	s->mode = M_HEAD;
}

static void
on_notraw(void *arg, enum http_dir d, const char *why)
{
	struct conn *c = arg;
	struct side *s = &c->side[d];

	release(s);
	s->mode = M_RAW;
	if (c->noted_raw++ > 0)
		return;
	if (strcmp(why, "tunnel") == 0)
		note(c, "a tunnel from here on: its bytes pass as they are");
	else if (strcmp(why, "not HTTP") == 0)
		note(c, "the %s's bytes are not HTTP: they pass as they are, "
		    "nothing is rewritten", d == HTTP_REQ ? "client" :
		    "server");
	else
		note(c, "the %s's bytes are not HTTP (%s): they pass as they "
		    "are from here on", d == HTTP_REQ ? "client" : "server",
		    why);
}

static const struct http_callbacks http_cbs = {
	on_raw, on_head, on_body, on_end, on_notraw
};

/* --- connections and output ------------------------------------------ */

static struct conn *
conn_new(struct rw *rw, const struct rec *r)
{
	struct conn *c;
	int d, isnew;

	c = ctab_find(&rw->conns, r->src, r->conn, &isnew);
	c->rw = rw;
	c->id = r->conn;
	c->src = r->src != NULL ? ctab_src(c) : NULL;
	http_conn_init(&c->hc, &http_cbs, c);
	/* Requests are framed as the server will frame them: a request
	 * that bends the rules passes unchanged from there on. */
	c->hc.p[HTTP_REQ].strict = 1;
	for (d = 0; d < 2; d++)
		c->side[d].c = c;
	set_target(c, rec_get(r, "target"));
	return c;
}

/* Writes what the sides of c have to write, as data records: with the
 * header of the record being passed (tmpl, its direction), fresh ones
 * otherwise; then the notes. */
static void
flush_conn(struct conn *c, const struct rec *tmpl,
    const unsigned char *raw, size_t rawlen)
{
	struct rw *rw = c->rw;
	const struct rec *r;
	struct side *s;
	const char *p;
	size_t i, k;
	int d;

	for (d = 0; d < 2; d++) {
		s = &c->side[d];
		if (tmpl != NULL && tmpl->dir == (d == HTTP_REQ ? REC_C2S :
		    REC_S2C)) {
			/* Unchanged: the record as it came, byte for byte. */
			if (s->out.len == tmpl->len && (tmpl->len == 0 ||
			    memcmp(s->out.p, tmpl->data, tmpl->len) == 0)) {
				recw_put_raw(rw->w, raw, rawlen);
				s->out.len = 0;
				continue;
			}
			r = tmpl;
		} else {
			if (s->out.len == 0)
				continue;
			rec_init(&rw->tmp, REC_DATA, c->id);
			rec_set_src(&rw->tmp, c->src);
			if (c->usec >= 0)
				rw->tmp.usec = c->usec;
			rw->tmp.dir = d == HTTP_REQ ? REC_C2S : REC_S2C;
			r = &rw->tmp;
		}
		for (i = 0; i < s->out.len; i += k) {
			k = s->out.len - i;
			if (k > OUT_PIECE)
				k = OUT_PIECE;
			recw_put(rw->w, r, s->out.p + i, k);
		}
		s->out.len = 0;
		if (s->out.cap > OUT_PIECE)
			buf_free(&s->out);
	}
	for (i = 0; i < c->notes.len; i += strlen(p) + 1) {
		p = (const char *)c->notes.p + i;
		rec_init(&rw->tmp, REC_NOTE, c->id);
		rec_set_src(&rw->tmp, c->src);
		if (c->usec >= 0)
			rw->tmp.usec = c->usec;
		rec_set(&rw->tmp, "level", "info");
		recw_put(rw->w, &rw->tmp, p, strlen(p));
	}
	buf_free(&c->notes);
}

/* That direction ended: what it holds goes out. */
static void
side_eof(struct conn *c, enum http_dir d)
{
	struct side *s = &c->side[d];

	if (s->mode == M_RAW && s->hold.len == 0 && s->since == 0)
		return;
	http_conn_eof(&c->hc, d);
	release(s);
	s->mode = M_RAW;
}

static void
conn_free(struct conn *c)
{
	int d, i;

	http_conn_free(&c->hc);
	for (d = 0; d < 2; d++) {
		hold_stop(&c->side[d]);
		buf_free(&c->side[d].hold);
		buf_free(&c->side[d].head);
		buf_free(&c->side[d].dec);
		buf_free(&c->side[d].out);
	}
	for (i = 0; i < HTTP_PENDING; i++)
		free(c->chost[i]);
	free(c->rhost);
	buf_free(&c->notes);
	ctab_del(&c->rw->conns, c);
}

/* Ends c: what it holds is written (before the record that ends it). */
static void
conn_end(struct conn *c)
{
	side_eof(c, HTTP_REQ);
	side_eof(c, HTTP_RESP);
	flush_conn(c, NULL, NULL, 0);
	conn_free(c);
}

struct rw *
rw_new(const struct rw_opts *o, struct rec_writer *w)
{
	struct rw *rw;

	if ((rw = calloc(1, sizeof(*rw))) == NULL)
		return NULL;
	rw->o = *o;
	rw->w = w;
	ctab_init(&rw->conns, sizeof(struct conn));
	return rw;
}

/* Every connection, in the order they came, to fn. */
static void
each_conn(struct rw *rw, void (*fn)(struct conn *))
{
	void **all;
	size_t i, n;

	if ((all = ctab_list(&rw->conns, &n)) == NULL && rw->conns.n > 0)
		err(TM_EXIT_FAIL, "malloc");
	for (i = 0; i < n; i++)
		fn(all[i]);
	free(all);
}

void
rw_free(struct rw *rw)
{
	each_conn(rw, conn_free);
	ctab_free(&rw->conns);
	free(rw);
}

void
rw_record(struct rw *rw, const struct rec *r, const unsigned char *raw,
    size_t rawlen, int64_t now)
{
	struct conn *c;
	enum http_dir d;

	rw->now = now;
	/* Records of connections we did not see open, of the stream, and
	 * copies a relay made for its output (at=) pass untouched; so do
	 * payloads that are not wire bytes (xform). */
	c = r->conn == 0 || rec_get(r, "at") != NULL ? NULL :
	    ctab_get(&rw->conns, r->src, r->conn);
	if (r->type == REC_OPEN && r->conn != 0 && rec_get(r, "at") == NULL) {
		if (c != NULL)
			conn_end(c);
		c = conn_new(rw, r);
		c->usec = r->usec;
		recw_put_raw(rw->w, raw, rawlen);
		return;
	}
	if (c == NULL || (r->type == REC_DATA && rec_get(r, "xform") != NULL)) {
		recw_put_raw(rw->w, raw, rawlen);
		return;
	}
	c->usec = r->usec;
	d = r->dir == REC_S2C ? HTTP_RESP : HTTP_REQ;
	switch (r->type) {
	case REC_DATA:
		if (r->dir == REC_NODIR)
			break;
		if (c->side[d].mode == M_RAW && c->side[d].hold.len == 0) {
			/* Nothing to look at any more. */
			recw_put_raw(rw->w, raw, rawlen);
			flush_conn(c, NULL, NULL, 0);
			return;
		}
		http_conn_feed(&c->hc, d, r->data, r->len);
		flush_conn(c, r, raw, rawlen);
		http_conn_trim(&c->hc);
		return;
	case REC_SHUTDOWN:
		if (r->dir != REC_NODIR)
			side_eof(c, d);
		break;
	case REC_CLOSE:
		conn_end(c);
		recw_put_raw(rw->w, raw, rawlen);
		return;
	default:
		break;
	}
	flush_conn(c, NULL, NULL, 0);
	recw_put_raw(rw->w, raw, rawlen);
}

int64_t
rw_deadline(const struct rw *rw)
{
	if (rw->hfirst == NULL || rw->o.hold_ms <= 0)
		return -1;
	return rw->hfirst->since + rw->o.hold_ms;
}

void
rw_expire(struct rw *rw, int64_t now)
{
	struct side *s;
	struct conn *c;

	rw->now = now;
	while ((s = rw->hfirst) != NULL && rw->o.hold_ms > 0 &&
	    s->since + rw->o.hold_ms <= now) {
		c = s->c;
		note(c, "%s held for %lldms (--hold-timeout) without its end: "
		    "%zu bytes passed as they are, not rewritten",
		    s->mode == M_HOLD ? "an XML answer" : s == &c->side[0] ?
		    "a request head" : "an answer's head",
		    (long long)rw->o.hold_ms, s->head.len + s->hold.len);
		s->mode = s->mode == M_HOLD ? M_PASS : M_LATE;
		release(s);
		c->usec = tm_now_us();
		flush_conn(c, NULL, NULL, 0);
	}
}

void
rw_finish(struct rw *rw)
{
	each_conn(rw, conn_end);
}
