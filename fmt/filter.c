/* filter.c - records in, records out: per connection and direction, hold
 * the records of a message that may be formatted until it is whole, then
 * write it formatted (one or more data records marked xform) or, if it
 * cannot be, as the records it came in, byte for byte, with a note.
 *
 * Every record of a connection goes through one queue, so the records of a
 * connection keep their order; a queue only waits while its head is a
 * message being held.  Bytes that will not be formatted are never held. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctab.h"
#include "filter.h"
#include "grow.h"
#include "http.h"
#include "inflate.h"
#include "mime.h"
#include "record.h"
#include "util.h"

#define DEFAULT_MAX	(16 * 1024 * 1024)
#define DEFAULT_CONNS	65536		/* --max-conns */
#define MAX_CONNS	(16 * 1024 * 1024)

/* A record whose bytes are still needed: first the reader's buffer, then a
 * copy once the record is held past its turn. */
struct chunk {
	int		 refs;
	int		 owned;
	unsigned char	*raw;		/* header line, payload, newline */
	size_t		 rawlen, hdrlen, len;
};

/* Bytes [off, off + len) of a chunk's payload; whole: the whole record
 * (the records that are not data). */
struct piece {
	struct chunk	*c;
	size_t		 off, len;
	int		 whole;
};

/* An entry of a connection's output queue: original pieces, or a
 * formatted message that replaces them, and a note to write after. */
struct item {
	struct item	*next;
	int		 held;		/* a message still being read */
	int		 msg;		/* a message, not bytes passing */
	struct piece	*pc;
	size_t		 npc, cappc;
	struct fmt_buf	 out;		/* the formatted message */
	char		 xform[64];
	char		*note;
};

enum side_state {
	SD_START,	/* nothing decisive yet: white space passes, a BOM waits */
	SD_HEAD,	/* HTTP: a head is being read (held) */
	SD_PASS,	/* HTTP: a body that is not ours passes */
	SD_SNIFF,	/* HTTP: a body held until its first byte tells */
	SD_HOLD,	/* HTTP: a body held to be formatted */
	SD_DOC,		/* not HTTP: a document held until it ends */
	SD_BETWEEN,	/* not HTTP: between documents */
	SD_OPAQUE	/* everything passes from now on */
};

enum coding { CO_NONE, CO_GZIP, CO_DEFLATE };

struct side {
	enum side_state	 state;
	int		 http;		/* bytes go through the HTTP parser */
	struct item	*msg;		/* the message being held */
	struct fmt_buf	 head;		/* its HTTP head, as read */
	struct fmt_buf	 body;		/* its body or document, decoded */
	struct inflater	 infl;
	enum coding	 coding;
	int		 mtom;
	const char	*failed;	/* why the body cannot be formatted */
	uint64_t	 wire;		/* payload bytes held */
	uint64_t	 held;		/* record bytes held */
	struct chunk	*lastc;		/* the last chunk counted in held */
	uint64_t	 off, msgoff;	/* bytes of this direction so far */
	struct fmt_frame fr;
};

/* A connection's state, in the table (ctab.h) by its src and number. */
struct conn {
	const char	*src;		/* the table's copy; NULL: no src */
	uint64_t	 id;
	struct http_conn hc;
	struct side	 side[2];
	struct item	*qhead, *qtail;
	struct filter	*f;
	struct chunk	*cur;		/* the data record being fed */
	size_t		 curoff;	/* its next payload byte */
	int64_t		 usec;		/* its time, for notes */
};

struct filter {
	const struct fmt_kind *k;
	struct fmt_opts	 fo;
	uint64_t	 max;
	struct rec_writer w;
	struct ctab	 conns;		/* of struct conn, by last use */
	uint64_t	 max_conns, dropped;
	struct rec	*in;		/* the record read */
	struct rec	*tmp;		/* for writing records */
	struct piece	 pend;		/* see flush_pend() */
};

static void	hold(struct conn *, enum http_dir, size_t);
static void	drop_oldest(struct filter *);

static void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n, size)) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	return p;
}

static void
unref(struct chunk *c)
{
	if (--c->refs == 0 && c->owned) {
		free(c->raw);
		free(c);
	}
}

static void
item_free(struct item *it)
{
	size_t i;

	for (i = 0; i < it->npc; i++)
		unref(it->pc[i].c);
	free(it->pc);
	fmt_buf_free(&it->out);
	free(it->note);
	free(it);
}

/* Drops the original pieces of an item that has its formatted form. */
static void
item_drop_pieces(struct item *it)
{
	size_t i;

	for (i = 1; i < it->npc; i++)
		unref(it->pc[i].c);
	/* The first is kept: its header line heads the formatted records. */
	it->npc = it->npc > 0 ? 1 : 0;
}

static void
item_add(struct item *it, struct chunk *c, size_t off, size_t len, int whole)
{
	struct piece *p;

	if (it->npc > 0) {
		p = &it->pc[it->npc - 1];
		if (p->c == c && !whole && !p->whole && p->off + p->len == off) {
			p->len += len;
			return;
		}
	}
	it->pc = grow_items(it->pc, &it->cappc, it->npc + 1, sizeof(*it->pc),
	    4);
	p = &it->pc[it->npc++];
	p->c = c;
	p->off = off;
	p->len = len;
	p->whole = whole;
	c->refs++;
}

static struct item *
enqueue(struct conn *c, int msg)
{
	struct item *it = xcalloc(1, sizeof(*it));

	it->msg = msg;
	it->held = msg;
	if (c->qtail != NULL)
		c->qtail->next = it;
	else
		c->qhead = it;
	c->qtail = it;
	return it;
}

/* Queues bytes that are not held: they join the last item if it is bytes
 * passing too, so a record that passes whole is written as it came. */
static void
pass_piece(struct conn *c, struct chunk *ch, size_t off, size_t len,
    int whole)
{
	struct item *it = c->qtail;

	if (it == NULL || it->msg)
		it = enqueue(c, 0);
	item_add(it, ch, off, len, whole);
}

/* Writes one piece: the record as it came when it is all of it, else the
 * same header fields with the length of the part. */
static void
put_piece(struct filter *f, const struct piece *p)
{
	const char *why;

	if (p->whole || (p->off == 0 && p->len == p->c->len)) {
		recw_put_raw(&f->w, p->c->raw, p->c->rawlen);
		return;
	}
	if (rec_parse_header((const char *)p->c->raw, p->c->hdrlen, f->tmp,
	    &why) == -1)
		errx(TM_EXIT_FAIL, "re-reading a record header: %s", why);
	recw_put(&f->w, f->tmp, p->c->raw + p->c->hdrlen + p->off, p->len);
}

/* Pieces are written through a pending one, so that the parts of a record
 * that were decided apart (a head held, its body passed) are joined again
 * and the record goes out as it came. */
static void
flush_pend(struct filter *f)
{
	if (f->pend.c == NULL)
		return;
	put_piece(f, &f->pend);
	unref(f->pend.c);
	f->pend.c = NULL;
}

static void
pend_piece(struct filter *f, const struct piece *p)
{
	struct piece *q = &f->pend;

	if (q->c == p->c && !q->whole && !p->whole && q->off + q->len == p->off) {
		q->len += p->len;
		return;
	}
	flush_pend(f);
	*q = *p;
	q->c->refs++;
}

static void
put_item(struct conn *c, struct item *it)
{
	struct filter *f = c->f;
	struct rec *r = f->tmp;
	const char *why, *old;
	char xf[REC_MAX_HEADER];
	size_t i, n;

	if (it->out.p != NULL && it->npc > 0) {
		flush_pend(f);
		if (rec_parse_header((const char *)it->pc[0].c->raw,
		    it->pc[0].c->hdrlen, r, &why) == -1)
			errx(TM_EXIT_FAIL, "re-reading a record header: %s",
			    why);
		/* A record that was formatted upstream keeps its steps. */
		if ((old = rec_get(r, "xform")) != NULL)
			snprintf(xf, sizeof(xf), "%s,%s", old, it->xform);
		else
			snprintf(xf, sizeof(xf), "%s", it->xform);
		rec_set(r, "xform", xf);
		for (i = 0; i < it->out.len; i += n) {
			n = it->out.len - i;
			if (n > REC_MAX_PAYLOAD)
				n = REC_MAX_PAYLOAD;
			recw_put(&f->w, r, it->out.p + i, n);
		}
	} else
		for (i = 0; i < it->npc; i++)
			pend_piece(f, &it->pc[i]);
	if (it->note != NULL) {
		flush_pend(f);
		rec_init(r, REC_NOTE, c->id);
		if (c->src != NULL)
			rec_set_src(r, c->src);
		if (c->usec >= 0)
			r->usec = c->usec;
		rec_set(r, "level", "warning");
		recw_put(&f->w, r, it->note, strlen(it->note));
	}
}

/* Writes what is decided from the head of the queue. */
static void
drain(struct conn *c)
{
	struct item *it;

	while ((it = c->qhead) != NULL && !it->held) {
		c->qhead = it->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		put_item(c, it);
		item_free(it);
	}
	flush_pend(c->f);
}

static void __attribute__((format(printf, 3, 4)))
note(struct conn *c, struct item *it, const char *fmt, ...)
{
	char buf[512];
	int n;
	va_list ap;

	if (it->note != NULL)
		return;
	n = snprintf(buf, sizeof(buf), "%s: ", c->f->k->prog);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if ((it->note = strdup(buf)) == NULL)
		err(TM_EXIT_FAIL, "strdup");
}

/* The held message goes out as it came, with a note if why is given. */
static void
release(struct conn *c, enum http_dir d, const char *why)
{
	struct side *s = &c->side[d];

	if (s->msg == NULL)
		return;
	if (why != NULL)
		note(c, s->msg, "%s message at byte %llu not formatted: %s",
		    d == HTTP_REQ ? "c2s" : "s2c",
		    (unsigned long long)s->msgoff, why);
	s->msg->held = 0;
	s->msg = NULL;
	s->wire = s->held = 0;
	s->lastc = NULL;
}

/* The held message goes out formatted: payload replaces its pieces. */
static void
replace(struct conn *c, enum http_dir d, struct fmt_buf *payload,
    const char *xform)
{
	struct side *s = &c->side[d];
	struct item *it = s->msg;

	it->out = *payload;
	memset(payload, 0, sizeof(*payload));
	snprintf(it->xform, sizeof(it->xform), "%s", xform);
	item_drop_pieces(it);
	s->msg = NULL;
	it->held = 0;
	s->wire = s->held = 0;
	s->lastc = NULL;
}

/* An output buffer with the cap for formatted messages: indentation can
 * multiply a document, but not without limit. */
static void
out_init(struct filter *f, struct fmt_buf *b)
{
	memset(b, 0, sizeof(*b));
	b->max = f->max > (SIZE_MAX - (1 << 20)) / 4 ? SIZE_MAX :
	    (size_t)f->max * 4 + (1 << 20);
}

static void
fmt_failed(struct conn *c, enum http_dir d, const struct fmt_err *e,
    const char *where)
{
	char why[400];

	if (e->line > 0)
		snprintf(why, sizeof(why), "%s error at line %ld%s: %s",
		    c->f->k->lang, e->line, where, e->msg);
	else
		snprintf(why, sizeof(why), "%s error%s: %s", c->f->k->lang,
		    where, e->msg);
	release(c, d, why);
}

/* A document of a stream that is not HTTP ended (or the stream did). */
static void
finish_doc(struct conn *c, enum http_dir d)
{
	struct filter *f = c->f;
	struct side *s = &c->side[d];
	struct fmt_buf out;
	struct fmt_err e;

	out_init(f, &out);
	if (f->k->format(s->body.p, s->body.len, &f->fo, &out, &e) == -1) {
		fmt_buf_free(&out);
		fmt_failed(c, d, &e, "");
	} else
		replace(c, d, &out, f->k->xform);
	s->body.len = 0;
}

/* Whether the line p[0..k) is a header of that name. */
static int
is_header(const unsigned char *p, size_t k, const char *name)
{
	size_t n = strlen(name);

	return k > n && p[n] == ':' && strncasecmp((const char *)p, name,
	    n) == 0;
}

static int
add_length(struct fmt_buf *out, const unsigned char *name, size_t n,
    const char *eol)
{
	char cl[96];

	snprintf(cl, sizeof(cl), "%.14s: %zu%s", name != NULL ?
	    (const char *)name : "Content-Length", n, eol);
	return fmt_buf_add(out, cl, strlen(cl));
}

/* Writes the head p[0..hn) with its framing made to fit a body of n
 * bytes: Content-Length says n (added where Transfer-Encoding was, or at
 * the end), Transfer-Encoding and a decoded Content-Encoding are gone.
 * Every other line is copied as it is. */
static int
rewrite_head(const unsigned char *p, size_t hn, const struct http_head *h,
    int decoded, size_t n, struct fmt_buf *out)
{
	const unsigned char *e = p + hn, *nl;
	const char *eol = NULL;
	size_t len, k;
	int has_cl = http_header(h, "Content-Length") != NULL, done_cl = 0;

	for (; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			return -1;
		len = (size_t)(nl - p) + 1;
		k = len - (len >= 2 && p[len - 2] == '\r' ? 2 : 1);
		if (eol == NULL)	/* the start line sets the style */
			eol = k + 1 < len ? "\r\n" : "\n";
		else if (k == 0) {
			if (!done_cl && add_length(out, NULL, n, eol) == -1)
				return -1;
			return fmt_buf_add(out, p, (size_t)(e - p));
		} else if (is_header(p, k, "Content-Length")) {
			if (add_length(out, p, n, eol) == -1)
				return -1;
			done_cl = 1;
			continue;
		} else if (is_header(p, k, "Transfer-Encoding")) {
			if (!has_cl && !done_cl) {
				if (add_length(out, NULL, n, eol) == -1)
					return -1;
				done_cl = 1;
			}
			continue;
		} else if (decoded && is_header(p, k, "Content-Encoding"))
			continue;
		if (fmt_buf_add(out, p, len) == -1)
			return -1;
	}
	return -1;
}

/* A whole HTTP message with a body of ours: format it, or let it go. */
static void
finish_http(struct conn *c, enum http_dir d, const struct http_head *h)
{
	struct filter *f = c->f;
	struct side *s = &c->side[d];
	const char *ct = http_header(h, "Content-Type");
	struct fmt_opts fo = f->fo;
	struct fmt_buf body, out;
	struct fmt_err e;
	struct mime_part part;
	char charset[64], xform[64];
	size_t from = 0, to = s->body.len;

	if (s->head.len < h->rawlen) {
		release(c, d, NULL);
		return;
	}
	if (mime_param(ct, "charset", charset, sizeof(charset)) == 0)
		fo.charset = charset;
	if (s->mtom) {
		if (mime_root(s->body.p, s->body.len, ct, &part) == -1) {
			release(c, d, "no root part found in the "
			    "multipart/related body");
			return;
		}
		if (!f->k->media(part.ctype)) {
			release(c, d, NULL);
			return;
		}
		if (part.cte[0] != '\0' && strcasecmp(part.cte, "8bit") != 0 &&
		    strcasecmp(part.cte, "binary") != 0 &&
		    strcasecmp(part.cte, "7bit") != 0) {
			release(c, d, "root part has a Content-Transfer-"
			    "Encoding that is not decoded");
			return;
		}
		fo.charset = mime_param(part.ctype, "charset", charset,
		    sizeof(charset)) == 0 ? charset : NULL;
		from = part.start;
		to = part.end;
	}
	out_init(f, &body);
	if (fmt_buf_add(&body, s->body.p, from) == -1 ||
	    f->k->format(s->body.p + from, to - from, &fo, &body, &e) == -1) {
		fmt_buf_free(&body);
		fmt_failed(c, d, &e, s->mtom ? " of the root part" : "");
		return;
	}
	out_init(f, &out);
	if (fmt_buf_add(&body, s->body.p + to, s->body.len - to) == -1 ||
	    fmt_buf_add(&out, s->head.p, s->head.len - h->rawlen) == -1 ||
	    rewrite_head(s->head.p + s->head.len - h->rawlen, h->rawlen, h,
	    s->coding != CO_NONE, body.len, &out) == -1 ||
	    fmt_buf_add(&out, body.p, body.len) == -1) {
		fmt_buf_free(&body);
		fmt_buf_free(&out);
		release(c, d, "formatted message over the size limit");
		return;
	}
	fmt_buf_free(&body);
	snprintf(xform, sizeof(xform), "%s%s%s", h->body == HTTP_BODY_CHUNKED ?
	    "dechunk," : "", s->coding == CO_GZIP ? "gunzip," :
	    s->coding == CO_DEFLATE ? "inflate," : "", f->k->xform);
	replace(c, d, &out, xform);
}

/* Ends the held body with the reason it cannot be formatted. */
static void
give_up(struct conn *c, enum http_dir d, const char *why)
{
	struct side *s = &c->side[d];

	release(c, d, why);
	if (s->coding != CO_NONE)
		infl_free(&s->infl);
	s->coding = CO_NONE;
	s->body.len = 0;
	s->state = s->http ? SD_PASS : SD_OPAQUE;
}

/* Holds n bytes of the current record for the message of direction d. */
static void
hold(struct conn *c, enum http_dir d, size_t n)
{
	struct side *s = &c->side[d];

	if (s->msg == NULL) {
		s->msg = enqueue(c, 1);
		s->msgoff = s->off;
		s->wire = s->held = 0;
		s->lastc = NULL;
	}
	item_add(s->msg, c->cur, c->curoff, n, 0);
	s->wire += n;
	if (s->lastc != c->cur) {
		s->held += c->cur->rawlen;
		s->lastc = c->cur;
	}
}

/* Whether the message held in d grew past --max-size.  The records that
 * carry it may take twice that: their headers count too. */
static int
too_big(struct conn *c, enum http_dir d)
{
	struct side *s = &c->side[d];
	char why[128];

	if (s->wire <= c->f->max && s->held <= 2 * c->f->max)
		return 0;
	snprintf(why, sizeof(why), "message over --max-size (%llu bytes)",
	    (unsigned long long)c->f->max);
	give_up(c, d, why);
	return 1;
}

static void
pass(struct conn *c, enum http_dir d, size_t n)
{
	(void)d;
	pass_piece(c, c->cur, c->curoff, n, 0);
}

/* Bytes of a direction that is not HTTP: documents one after another. */
static void
stream_bytes(struct conn *c, enum http_dir d, const unsigned char *p,
    size_t n)
{
	static const unsigned char bom[] = { 0xef, 0xbb, 0xbf };
	const struct fmt_kind *k = c->f->k;
	struct side *s = &c->side[d];
	size_t i, take;

	while (n > 0) {
		take = 1;
		switch (s->state) {
		case SD_START:
		case SD_BETWEEN:
			if (s->state == SD_START && s->off < 3 &&
			    s->body.len == s->off && *p == bom[s->off]) {
				/* A byte-order mark belongs to the document
				 * it starts, if one does. */
				hold(c, d, 1);
				fmt_buf_add(&s->body, p, 1);
				break;
			}
			if (s->body.len == 0 && FMT_IS_WS(*p)) {
				for (i = 1; i < n && FMT_IS_WS(p[i]); i++)
					;
				take = i;
				pass(c, d, take);
				break;
			}
			if (k->starts(*p) && (s->body.len == 0 ||
			    s->body.len == sizeof(bom))) {
				k->frame_init(&s->fr);
				k->frame(&s->fr, s->body.p, s->body.len);
				s->state = SD_DOC;
				continue;
			}
			if (s->state == SD_START && s->body.len == 0) {
				/* Not a document: perhaps HTTP. */
				s->http = 1;
				s->state = SD_HEAD;
				http_conn_feed(&c->hc, d, p, n);
				return;
			}
			release(c, d, NULL);
			s->body.len = 0;
			s->state = SD_OPAQUE;
			continue;
		case SD_DOC:
			take = k->frame(&s->fr, p, n);
			hold(c, d, take);
			if (fmt_buf_add(&s->body, p, take) == -1) {
				s->wire = UINT64_MAX;
				too_big(c, d);
				break;
			}
			if (too_big(c, d))
				break;
			if (s->fr.bad) {
				release(c, d, NULL);
				s->body.len = 0;
				s->state = SD_OPAQUE;
			} else if (s->fr.done) {
				finish_doc(c, d);
				s->state = SD_BETWEEN;
			}
			break;
		default:
			take = n;
			pass(c, d, take);
			break;
		}
		c->curoff += take;
		s->off += take;
		p += take;
		n -= take;
	}
}

static void
on_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct conn *c = arg;
	struct side *s = &c->side[d];

	(void)p;
	switch (s->state) {
	case SD_HEAD:
		hold(c, d, n);
		if (fmt_buf_add(&s->head, p, n) == -1) {
			/* Only blank lines can get here (the parser caps
			 * heads): they go on, and the head has to wait. */
			release(c, d, NULL);
			s->head.len = 0;
		}
		break;
	case SD_HOLD:
	case SD_SNIFF:
		hold(c, d, n);
		too_big(c, d);
		break;
	default:
		pass(c, d, n);
		break;
	}
	c->curoff += n;
	s->off += n;
}

static int
want(const struct fmt_kind *k, const char *ct, int *mtom)
{
	*mtom = 0;
	if (k->media(ct))
		return SD_HOLD;
	if (k->mtom && fmt_media(ct, "multipart/related")) {
		*mtom = 1;
		return SD_HOLD;
	}
	/* Types that say nothing: the first byte of the body decides. */
	if (ct == NULL || fmt_media(ct, "text/plain") ||
	    fmt_media(ct, "application/octet-stream"))
		return SD_SNIFF;
	return SD_PASS;
}

static void
on_head(void *arg, const struct http_head *h)
{
	struct conn *c = arg;
	struct side *s = &c->side[h->dir];
	const char *ce = http_header(h, "Content-Encoding");
	const char *te = http_header(h, "Transfer-Encoding");
	char why[128];

	s->coding = CO_NONE;
	s->failed = NULL;
	s->body.len = 0;
	s->state = SD_PASS;
	if (h->body != HTTP_BODY_NONE && h->body != HTTP_BODY_TUNNEL)
		s->state = want(c->f->k, http_header(h, "Content-Type"),
		    &s->mtom);
	if (s->state == SD_PASS) {
		release(c, h->dir, NULL);
		s->state = SD_PASS;
		return;
	}
	if (te != NULL && strcasecmp(te, "chunked") != 0) {
		snprintf(why, sizeof(why), "Transfer-Encoding %.60s", te);
		give_up(c, h->dir, why);
		return;
	}
	if (ce != NULL && strcasecmp(ce, "identity") != 0) {
		if (!infl_supported(ce) || infl_init(&s->infl, ce,
		    c->f->max) == -1) {
			snprintf(why, sizeof(why), "Content-Encoding %.60s is "
			    "not decoded", ce);
			give_up(c, h->dir, s->state == SD_HOLD ? why : NULL);
			return;
		}
		s->coding = strcasecmp(ce, "deflate") == 0 ? CO_DEFLATE :
		    CO_GZIP;
	}
}

static void
body_out(void *arg, const unsigned char *p, size_t n)
{
	struct side *s = arg;

	if (s->failed == NULL && fmt_buf_add(&s->body, p, n) == -1)
		s->failed = "decoded body over --max-size";
}

static void
on_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	static const unsigned char bom[] = { 0xef, 0xbb, 0xbf };
	struct conn *c = arg;
	struct side *s = &c->side[d];
	const char *why;
	size_t i;

	if (s->state != SD_HOLD && s->state != SD_SNIFF)
		return;
	if (s->coding != CO_NONE) {
		if (infl_feed(&s->infl, p, n, body_out, s, &why) == -1 &&
		    s->failed == NULL)
			s->failed = why;
	} else
		body_out(s, p, n);
	if (s->failed != NULL) {
		give_up(c, d, s->state == SD_HOLD ? s->failed : NULL);
		return;
	}
	if (s->state != SD_SNIFF)
		return;
	for (i = 0; i < s->body.len && i < 3 && s->body.p[i] == bom[i]; i++)
		;
	if (i < 3 && i == s->body.len)
		return;		/* a byte-order mark, perhaps: wait */
	if (i < 3)
		i = 0;
	for (; i < s->body.len && FMT_IS_WS(s->body.p[i]); i++)
		;
	if (i == s->body.len)
		return;
	if (c->f->k->starts(s->body.p[i]))
		s->state = SD_HOLD;
	else
		give_up(c, d, NULL);
}

static void
on_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end how)
{
	struct conn *c = arg;
	struct side *s = &c->side[d];

	if (s->state == SD_HOLD && (h == NULL || how == HTTP_END_TRUNCATED))
		release(c, d, "the connection ended inside the message");
	else if (s->state == SD_HOLD && s->coding != CO_NONE && !s->infl.done)
		release(c, d, "the compressed body ended early");
	else if (s->state == SD_HOLD && h->ntrailer > 0)
		release(c, d, "chunked trailer fields are not carried over");
	else if (s->state == SD_HOLD)
		finish_http(c, d, h);
	release(c, d, NULL);
	if (s->coding != CO_NONE)
		infl_free(&s->infl);
	s->coding = CO_NONE;
	/* Given back, not kept for the next message: a connection that
	 * rests between messages holds no buffer. */
	fmt_buf_free(&s->body);
	fmt_buf_free(&s->head);
	s->state = SD_HEAD;
}

static void
on_notraw(void *arg, enum http_dir d, const char *why)
{
	struct conn *c = arg;
	struct side *s = &c->side[d];
	char buf[128];

	snprintf(buf, sizeof(buf), "not HTTP any more (%s)", why);
	/* Only a body being held deserves a note: a stream that is not HTTP
	 * from its first bytes is no news. */
	give_up(c, d, s->state == SD_HOLD ? buf : NULL);
	s->head.len = 0;
	s->state = SD_OPAQUE;
}

static const struct http_callbacks http_cbs = {
	on_raw, on_head, on_body, on_end, on_notraw
};

/* The direction ended: whatever it holds is decided now. */
static void
side_eof(struct conn *c, enum http_dir d)
{
	struct side *s = &c->side[d];

	if (s->http)
		http_conn_eof(&c->hc, d);
	else if (s->state == SD_DOC)
		finish_doc(c, d);
	release(c, d, NULL);
	s->http = 0;
	s->state = SD_OPAQUE;
}

static struct conn *
conn_find(struct filter *f, const char *src, uint64_t id, int create)
{
	struct conn *c;
	int isnew;

	if ((c = ctab_get(&f->conns, src, id)) != NULL || !create)
		return c;
	if (f->conns.n >= f->max_conns)
		drop_oldest(f);
	c = ctab_find(&f->conns, src, id, &isnew);
	c->f = f;
	c->id = id;
	c->src = src != NULL ? ctab_src(c) : NULL;
	http_conn_init(&c->hc, &http_cbs, c);
	c->usec = -1;
	c->side[0].body.max = c->side[1].body.max = f->max;
	return c;
}

/* Ends a connection: everything it holds goes out, then it is freed. */
static void
conn_end(struct conn *c)
{
	int d;

	side_eof(c, HTTP_REQ);
	side_eof(c, HTTP_RESP);
	drain(c);
	http_conn_free(&c->hc);
	for (d = 0; d < 2; d++) {
		fmt_buf_free(&c->side[d].head);
		fmt_buf_free(&c->side[d].body);
	}
	ctab_del(&c->f->conns, c);
}

/* Over --max-conns: the connection that went longest without a record
 * ends here, as at the end of the input, with a note; its later records,
 * if any come, start it anew. */
static void
drop_oldest(struct filter *f)
{
	struct conn *c = ctab_lru(&f->conns);
	struct rec *r = f->tmp;
	char msg[256];
	uint64_t id = c->id;
	int64_t usec = c->usec;
	char *src = NULL;

	if (f->dropped++ == 0)
		warnx("over %llu connections at once: the one longest without "
		    "a record is no longer followed (--max-conns); notes say "
		    "which", (unsigned long long)f->max_conns);
	if (c->src != NULL && (src = strdup(c->src)) == NULL)
		err(TM_EXIT_FAIL, "strdup");
	conn_end(c);
	snprintf(msg, sizeof(msg), "%s: no longer followed: over --max-conns "
	    "%llu connections at once; what it held was written as it was",
	    f->k->prog, (unsigned long long)f->max_conns);
	rec_init(r, REC_NOTE, id);
	if (src != NULL)
		rec_set_src(r, src);
	if (usec >= 0)
		r->usec = usec;
	rec_set(r, "level", "warning");
	recw_put(&f->w, r, msg, strlen(msg));
	free(src);
}

static void
one_record(struct filter *f, struct rec_reader *rd, const struct rec *r)
{
	struct chunk *ch;
	struct conn *c;
	enum http_dir d;

	c = r->conn == 0 ? NULL : conn_find(f, r->src, r->conn,
	    r->type == REC_DATA && r->dir != REC_NODIR);
	if (c == NULL) {
		recw_put_raw(&f->w, rd->raw, rd->rawlen);
		return;
	}
	ch = xcalloc(1, sizeof(*ch));
	ch->raw = (unsigned char *)(uintptr_t)rd->raw;
	ch->rawlen = rd->rawlen;
	ch->len = r->len;
	ch->hdrlen = rd->rawlen - r->len - 1;
	d = r->dir == REC_S2C ? HTTP_RESP : HTTP_REQ;
	if (r->type == REC_DATA && r->dir != REC_NODIR) {
		c->cur = ch;
		c->curoff = 0;
		c->usec = r->usec;
		if (c->side[d].http)
			http_conn_feed(&c->hc, d, r->data, r->len);
		else
			stream_bytes(c, d, r->data, r->len);
		c->cur = NULL;
	} else {
		if (r->type == REC_SHUTDOWN && r->dir != REC_NODIR)
			side_eof(c, d);
		if (r->type == REC_CLOSE) {
			side_eof(c, HTTP_REQ);
			side_eof(c, HTTP_RESP);
		}
		pass_piece(c, ch, 0, 0, 1);
	}
	drain(c);
	/* Between messages the head buffers go back: an idle connection
	 * costs its struct conn. */
	http_conn_trim(&c->hc);
	if (ch->refs > 0) {
		/* Held past its turn: it needs its own copy now. */
		if ((ch->raw = malloc(ch->rawlen)) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		memcpy(ch->raw, rd->raw, ch->rawlen);
		ch->owned = 1;
	} else
		free(ch);
	if (r->type == REC_CLOSE)
		conn_end(c);
}

struct opts {
	int		 indent;
	int		 compact;
	uint64_t	 max;
	uint64_t	 max_conns;
};

static const char *progname_k;

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: %s [-c | -i N] "
	    "[-m SIZE] [--max-conns N] [FILE ...]\n", progname_k);
	if (status == TM_EXIT_OK)
		printf(
		    "\n"
		    "  -c, --compact             remove the white space between elements instead\n"
		    "  -i, --indent N            indent by N spaces per level (0 to 16; default 2)\n"
		    "  -m, --max-size SIZE       format messages up to SIZE (k, m suffixes)\n"
		    "      --max-conns N         follow at most N connections at once (default 65536)\n"
		    "  -h, --help                print this help and exit\n"
		    "      --version             print the version and exit\n"
		    "\n"
		    "See %s(1).\n", progname_k);
	exit(status);
}

enum { OPT_VERSION = 256, OPT_MAX_CONNS };

static const struct option longopts[] = {
	{ "compact",	no_argument,		NULL, 'c' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "indent",	required_argument,	NULL, 'i' },
	{ "max-conns",	required_argument,	NULL, OPT_MAX_CONNS },
	{ "max-size",	required_argument,	NULL, 'm' },
	{ "version",	no_argument,		NULL, OPT_VERSION },
	{ NULL,		0,			NULL, 0 }
};

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	int ch, indented = 0;

	memset(o, 0, sizeof(*o));
	o->indent = 2;
	o->max = DEFAULT_MAX;
	o->max_conns = DEFAULT_CONNS;
	if (argc == 2 && strcmp(argv[1], TM_LIST_OPTIONS) == 0)
		exit(tm_list_options(STDOUT_FILENO, longopts));
	while ((ch = getopt_long(argc, argv, "chi:m:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->compact = 1;
			break;
		case 'h':
			usage(TM_EXIT_OK);
		case 'i':
			o->indent = (int)opt_num("--indent", optarg, 0, 16,
			    "0 to 16");
			indented = 1;
			break;
		case 'm':
			o->max = opt_num("--max-size", optarg, 1024,
			    1ULL << 30, "1k to 1g");
			break;
		case OPT_MAX_CONNS:
			o->max_conns = opt_num("--max-conns", optarg, 1,
			    MAX_CONNS, "1 to 16m");
			break;
		case OPT_VERSION:
			printf("%s %s\n", progname_k, TCPMON_VERSION);
			exit(TM_EXIT_OK);
		default:
			usage(TM_EXIT_USAGE);
		}
	}
	if (o->compact && indented)
		errx(TM_EXIT_USAGE, "--compact and --indent exclude each other");
}

/* Output reaches the next tool before we wait for more input. */
static void
flush_out(void *arg)
{
	recw_flush(arg);
}

/* Filters one input; returns 0, or TM_EXIT_USAGE for an input that cannot
 * be opened or read or is not a record stream.  A failed write is seen by
 * the caller, in f->w.error. */
static int
filter_file(struct filter *f, const char *path)
{
	struct rec_reader rd;
	const char *name;
	int fd, rc, status = TM_EXIT_OK;

	/* An input that cannot be opened or read is bad input, as a bad
	 * record is; the other inputs are still filtered. */
	if ((fd = tm_open_input(path, &name)) == -1) {
		warn("%s", path);
		return TM_EXIT_USAGE;
	}
	if (recr_init(&rd, fd, name) == -1)
		err(TM_EXIT_FAIL, "malloc");
	rd.idle = flush_out;
	rd.idle_arg = &f->w;
	while ((rc = recr_next(&rd, f->in)) == REC_OK) {
		one_record(f, &rd, f->in);
		if (f->w.error != 0)
			break;
	}
	if (rc == REC_ERR) {
		recw_flush(&f->w);
		warnx("%s", rd.err);
		status = TM_EXIT_USAGE;
	}
	recr_free(&rd);
	if (fd != STDIN_FILENO)
		close(fd);
	return status;
}

int
fmt_main(int argc, char **argv, const struct fmt_kind *k)
{
	struct filter f;
	struct conn *c;
	struct opts o;
	int i, rc, status = TM_EXIT_OK;

	progname_k = k->prog;
	tm_setprogname(argv, k->prog);
	/* A document tree is a great many small blocks, freed at once; the
	 * held records are large ones.  With fastbins every large malloc
	 * after a tree first sweeps them (malloc_consolidate was a sixth of
	 * the time); tcache keeps small blocks fast without them. */
	mallopt(M_MXFAST, 0);
	parse_opts(argc, argv, &o);
	memset(&f, 0, sizeof(f));
	ctab_init(&f.conns, sizeof(struct conn));
	f.k = k;
	f.fo.indent = o.indent;
	f.fo.compact = o.compact;
	f.max = o.max;
	f.max_conns = o.max_conns;
	if ((f.tmp = malloc(sizeof(*f.tmp))) == NULL ||
	    (f.in = malloc(sizeof(*f.in))) == NULL ||
	    recw_init(&f.w, STDOUT_FILENO) == -1)
		err(TM_EXIT_FAIL, "malloc");
	if (optind == argc)
		status = filter_file(&f, "-");
	for (i = optind; i < argc && f.w.error == 0; i++)
		if ((rc = filter_file(&f, argv[i])) != TM_EXIT_OK)
			status = rc;
	/* The input ended: connections still open end with it. */
	while ((c = ctab_lru(&f.conns)) != NULL && f.w.error == 0)
		conn_end(c);
	ctab_free(&f.conns);
	if (recw_flush(&f.w) == -1) {
		errno = f.w.error;
		err(TM_EXIT_FAIL, "write stdout");
	}
	recw_free(&f.w);
	free(f.tmp);
	free(f.in);
	return status;
}
