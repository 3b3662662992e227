/* show.c - renders records as a conversation: who connected where, what
 * each side said (text as text, anything else as a hex dump), how it ended.
 * HTTP is taken apart as it flows (common/http.h): heads are shown as they
 * are, chunked bodies de-chunked and gzip or deflate bodies decoded, each
 * marked.  Nothing waits for a message to end, except in the side-by-side
 * layout, which needs both sides of an exchange to lay them out. */
#include <err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fault.h"
#include "grow.h"
#include "http.h"
#include "inflate.h"
#include "jsonfmt.h"
#include "pretty.h"
#include "safe.h"
#include "show.h"
#include "util.h"
#include "xmlfmt.h"

#define DECODE_MAX	(256ull * 1024 * 1024)	/* bytes of one decoded body */
/* --pretty holds a body until it ends, to format it whole; a larger one
 * is shown as it comes. */
#define PRETTY_HOLD	(4u * 1024 * 1024)

#define C_RESET	"\033[0m"
#define C_DIM	"\033[2m"
#define C_BOLD	"\033[1m"
#define C_C2S	"\033[36m"
#define C_S2C	"\033[33m"
#define C_OPEN	"\033[1;32m"
#define C_GOOD	"\033[32m"
#define C_GOODB	"\033[1;32m"	/* a response's status line, 1xx to 3xx */
#define C_BAD	"\033[1;31m"	/* failures: 4xx, 5xx, Faults, resets */
#define C_NOTE	"\033[35m"
#define C_HNAME	"\033[34m"

enum { MODE_NONE, MODE_TEXT, MODE_HEX };

#define TEXT_PIECE	16384	/* bytes through the sanitizer at a time */

/* Where a stream of text shown stands between records. */
struct txt {
	int		 cr;		/* the last byte shown was a CR */
	struct safe	 u;		/* a UTF-8 character cut by a record */
};

/* --pretty: a body held to be formatted when it ends (allocated only
 * then: an idle connection does not pay for it). */
struct held {
	unsigned char	*b;
	size_t		 len, cap;
	char		 ctype[128];
};

/* One direction of a connection, as far as showing it goes. */
struct vdir {
	unsigned char	*pend;		/* head bytes of the current record */
	size_t		 plen, pcap;
	int		 head_part;	/* part of this head was shown */
	int		 raw;		/* not (or no longer) HTTP */
	int		 in_body;
	int		 chunked;
	int		 hint;		/* Content-Type: 1 text, -1 binary */
	int		 mode;		/* of the body: MODE_* */
	struct inflater	 in;
	int		 inflating;
	char		 coding[16];
	uint64_t	 wire, shown;	/* body bytes: framed off, shown */
	uint64_t	 hexoff;
	uint64_t	 rawoff;	/* hex offset of bytes shown as they are */
	struct txt	 t;
	struct held	*pretty;	/* --pretty: a body being held */
};

struct vconn {
	struct show	*s;
	struct http_conn *hc;		/* NULL: shown as records come */
	struct vdir	 d[2];
	struct sink	 col[2];	/* side by side: one per direction */
	char		*cbuf[2];
	size_t		 csize[2];
	struct sink	*cur;		/* where the callbacks write */
	int		 shut[2];
	int		 failed;	/* an answer was a failure */
	struct fault	 fault;		/* a SOAP Fault in the response */
};

static const struct http_callbacks http_cb;

static const char *
col(const struct show *s, const char *c)
{
	return s->o.color ? c : "";
}

static const char *
reset(const struct show *s)
{
	return s->o.color ? C_RESET : "";
}

static void
ensure_bol(struct sink *k)
{
	if (!k->bol) {
		fputc('\n', k->f);
		k->bol = 1;
	}
}

/* UTF-8 sequences are checked for shape only: the point is to spare a
 * person the hex dump of what a terminal would print correctly. */
/* Whether a payload reads as text (UTF-8 without control characters
 * other than tab, CR and LF). */
static int
show_is_text(const unsigned char *p, size_t n)
{
	size_t i = 0, k, need;

	while (i < n) {
		if (p[i] < 0x80) {
			if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' &&
			    p[i] != '\n')
				return 0;
			if (p[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0 && p[i] >= 0xc2)
			need = 1;
		else if ((p[i] & 0xf0) == 0xe0)
			need = 2;
		else if ((p[i] & 0xf8) == 0xf0 && p[i] <= 0xf4)
			need = 3;
		else
			return 0;
		/* A sequence cut at a record boundary is still text. */
		for (k = 1; k <= need && i + k < n; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += need + 1;
	}
	return 1;
}

/* Hex dump lines, per bytes per line, offsets from *off on.  Built by
 * hand into a block of lines: printf per byte, or even fwrite per line,
 * would make the dump the slowest part of tap. */
static void
hex_lines(FILE *out, const unsigned char *p, size_t n, uint64_t *off,
    size_t per)
{
	static const char hx[] = "0123456789abcdef";
	static char pair[256][3], asc[256];
	char blk[16384], *o = blk;
	const unsigned char *q;
	size_t at, i, k;
	uint64_t a;

	if (pair[0][0] == '\0')
		for (i = 0; i < 256; i++) {
			pair[i][0] = hx[i >> 4];
			pair[i][1] = hx[i & 15];
			pair[i][2] = ' ';
			asc[i] = i >= 0x20 && i < 0x7f ? (char)i : '.';
		}
	for (at = 0; at < n; at += per) {
		if ((size_t)(o - blk) > sizeof(blk) - 128) {
			fwrite(blk, 1, (size_t)(o - blk), out);
			o = blk;
		}
		if (per == 16 && at + 16 <= n) {
			/* A whole line, the usual case: fixed places. */
			memcpy(o, "  ", 2);
			a = *off + at;
			for (k = 10; k-- > 2; a >>= 4)
				o[k] = hx[a & 15];
			memset(o + 10, ' ', 53);
#define B(i)	do {							\
	memcpy(o + 12 + 3 * (i) + ((i) >= 8), pair[q[i]], 2);		\
	o[63 + (i)] = asc[q[i]];					\
} while (0)
			q = p + at;
			B(0); B(1); B(2); B(3); B(4); B(5); B(6); B(7);
			B(8); B(9); B(10); B(11); B(12); B(13); B(14); B(15);
#undef B
			o[62] = '|';
			o[79] = '|';
			o[80] = '\n';
			o += 81;
			continue;
		}
		*o++ = ' ';
		*o++ = ' ';
		a = *off + at;
		for (k = 8; k-- > 0; a >>= 4)
			o[k] = hx[a & 15];
		o += 8;
		*o++ = ' ';
		*o++ = ' ';
		for (i = 0; i < per; i++) {
			if (at + i < n)
				memcpy(o, pair[p[at + i]], 3);
			else
				memcpy(o, "   ", 3);
			o += 3;
			if (i == 7 && per == 16)
				*o++ = ' ';
		}
		*o++ = ' ';
		*o++ = '|';
		for (i = 0; i < per && at + i < n; i++)
			*o++ = asc[p[at + i]];
		*o++ = '|';
		*o++ = '\n';
	}
	fwrite(blk, 1, (size_t)(o - blk), out);
	*off += n;
}

/* Text for a terminal: CR LF becomes a line end, and the rest goes
 * through the sanitizer (common/safe.h), which keeps tab and LF and shows
 * every other control character as '.', so that no escape sequence in the
 * traffic can drive the terminal. */
static void
text_out(struct sink *k, struct txt *t, const unsigned char *p, size_t n)
{
	static char buf[SAFE_ROOM(TEXT_PIECE)];
	const unsigned char *cr;
	size_t i = 0, j, m;

	t->u.flags = SAFE_TEXT;
	if (n > 0 && t->cr && p[0] == '\n')
		i = 1;		/* the LF of a CR LF cut by a record */
	t->cr = 0;
	while (i < n) {
		j = n - i < TEXT_PIECE ? n : i + TEXT_PIECE;
		if ((cr = memchr(p + i, '\r', j - i)) != NULL)
			j = (size_t)(cr - p);
		if ((m = safe_feed(&t->u, p + i, j - i, buf)) > 0) {
			fwrite(buf, 1, m, k->f);
			k->bol = buf[m - 1] == '\n';
		}
		if (cr == NULL) {
			i = j;
			continue;
		}
		if ((m = safe_end(&t->u, buf)) > 0) {
			fwrite(buf, 1, m, k->f);
			k->bol = 0;
		}
		if (j + 1 == n)
			t->cr = 1;
		else if (p[j + 1] != '\n') {
			fputc('\n', k->f);	/* a lone CR ends a line */
			k->bol = 1;
		}
		i = j + 1;
	}
	if (t->cr)
		ensure_bol(k);
}

/* A string from a record (a field value, a source), on one line. */
static void
put_safe(FILE *f, const char *v)
{
	char buf[SAFE_ROOM(REC_MAX_HEADER)];

	fputs(safe_str(v, buf, sizeof(buf)), f);
}

static size_t
hex_per_line(const struct show *s)
{
	return s->o.side && (s->o.width - 3) / 2 < 78 ? 8 : 16;
}

/* A payload shown as it is: text, or a hex dump; *off is the offset of
 * p[0] in what the direction showed so, which goes on across records. */
static void
plain_out(struct show *s, struct sink *k, struct txt *t, uint64_t *off,
    const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	if (show_is_text(p, n)) {
		text_out(k, t, p, n);
		*off += n;
	} else {
		ensure_bol(k);
		hex_lines(k->f, p, n, off, hex_per_line(s));
		k->bol = 1;
	}
}

static void
annot(struct show *s, struct sink *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line of ours among the traffic: in brackets, dim on a terminal. */
static void
annot(struct show *s, struct sink *k, const char *fmt, ...)
{
	va_list ap;

	ensure_bol(k);
	fputs(col(s, C_DIM), k->f);
	fputc('[', k->f);
	va_start(ap, fmt);
	vfprintf(k->f, fmt, ap);
	va_end(ap);
	fprintf(k->f, "]%s\n", reset(s));
}

/* Whether labels name sources: once a second source was seen (a merged
 * stream), connections are told apart by source and number. */
static int
multi_src(struct show *s, const char *src)
{
	if (!s->have_src0) {
		snprintf(s->src0, sizeof(s->src0), "%s", src);
		s->have_src0 = 1;
	} else if (!s->multi && strcmp(src, s->src0) != 0)
		s->multi = 1;
	return s->multi;
}

/* A connection as the views name it, and --conn takes it: #N, or SRC#N
 * in a merged stream. */
static void
conn_id(struct show *s, FILE *f, const char *src, uint64_t conn)
{
	if (multi_src(s, src))
		put_safe(f, src);
	fprintf(f, "#%llu", (unsigned long long)conn);
}

/* Label of an event: the time of day (the date is in the open line) and
 * the connection. */
static void
label(struct show *s, struct sink *k, const struct rec *r)
{
	char t[TM_TIME_LEN];

	ensure_bol(k);
	if (r->usec >= 0) {
		tm_fmt_time(r->usec, t, sizeof(t));
		fprintf(k->f, "%s%.15s%s ", col(s, C_DIM), t + 11, reset(s));
	}
	fputc('[', k->f);
	conn_id(s, k->f, r->src != NULL ? r->src : "", r->conn);
	fputs("] ", k->f);
}

static const char *
get(const struct rec *r, const char *k)
{
	const char *v = rec_get(r, k);

	return v != NULL ? v : "?";
}

/* Whether a Content-Type names text (1), something binary (-1), or we
 * cannot tell (0) and look at the bytes. */
static int
type_hint(const char *ct)
{
	static const char *const text[] = { "text/", "xml", "json",
	    "javascript", "x-www-form-urlencoded", "html", "csv", "yaml",
	    "soap", NULL };
	static const char *const bin[] = { "image/", "audio/", "video/",
	    "octet-stream", "zip", "pdf", "protobuf", "font/", "grpc",
	    NULL };
	int i;

	if (ct == NULL)
		return 0;
	for (i = 0; text[i] != NULL; i++)
		if (strcasestr(ct, text[i]) != NULL)
			return 1;
	for (i = 0; bin[i] != NULL; i++)
		if (strcasestr(ct, bin[i]) != NULL)
			return -1;
	return 0;
}

/* A head as it came, the start line in bold (a response's in green, or
 * red for a failure) and header names in color. */
static void
head_out(struct show *s, struct vdir *v, struct sink *k, const char *start)
{
	const unsigned char *p = v->pend, *e = p + v->plen, *nl, *c, *ce;
	int first = 1;

	if (!s->o.color || v->head_part) {
		text_out(k, &v->t, p, v->plen);
		return;
	}
	for (; p < e; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(e - p))) == NULL)
			nl = e - 1;
		for (ce = nl; ce > p && (*ce == '\n' || *ce == '\r'); ce--)
			;
		if (*p == '\r' || *p == '\n') {
			text_out(k, &v->t, p, (size_t)(nl - p) + 1);
			continue;
		}
		ce++;
		if (first) {
			fputs(start, k->f);
			text_out(k, &v->t, p, (size_t)(ce - p));
			fputs(C_RESET, k->f);
			first = 0;
			p = ce;
		} else if ((c = memchr(p, ':', (size_t)(ce - p))) != NULL) {
			fputs(C_HNAME, k->f);
			text_out(k, &v->t, p, (size_t)(c - p));
			fputs(C_RESET, k->f);
			p = c;
		}
		text_out(k, &v->t, p, (size_t)(nl - p) + 1);
	}
}

static void
cb_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct vconn *vc = arg;
	struct vdir *v = &vc->d[d];

	if (v->raw)
		plain_out(vc->s, vc->cur, &v->t, &v->rawoff, p, n);
	else if (!v->in_body)
		grow_put(&v->pend, &v->plen, &v->pcap, 1024, p, n);
	/* body bytes come de-chunked through cb_body */
}

static void
cb_head(void *arg, const struct http_head *h)
{
	struct vconn *vc = arg;
	struct vdir *v = &vc->d[h->dir];
	const char *ce, *ct;

	if (h->dir == HTTP_RESP && h->status >= 400)
		vc->failed = 1;
	head_out(vc->s, v, vc->cur, h->dir == HTTP_REQ ? C_BOLD :
	    h->status >= 400 ? C_BAD : C_GOODB);
	v->plen = 0;
	v->head_part = 0;
	v->in_body = h->body == HTTP_BODY_LENGTH ||
	    h->body == HTTP_BODY_CHUNKED || h->body == HTTP_BODY_EOF;
	v->chunked = h->body == HTTP_BODY_CHUNKED;
	v->hint = type_hint(http_header(h, "Content-Type"));
	v->mode = MODE_NONE;
	v->wire = v->shown = v->hexoff = 0;
	v->inflating = 0;
	v->coding[0] = '\0';
	if (h->dir == HTTP_RESP)
		fault_init(&vc->fault);
	ct = http_header(h, "Content-Type");
	if (vc->s->o.pretty && v->in_body && (ct == NULL || *ct == '\0' ||
	    xmlfmt_media(ct) || jsonfmt_media(ct)) && (ct == NULL ||
	    strlen(ct) < sizeof(v->pretty->ctype))) {
		if ((v->pretty = calloc(1, sizeof(*v->pretty))) == NULL)
			err(TM_EXIT_FAIL, "calloc");
		snprintf(v->pretty->ctype, sizeof(v->pretty->ctype), "%s",
		    ct != NULL ? ct : "");
	}
	if (v->in_body && (ce = http_header(h, "Content-Encoding")) != NULL &&
	    infl_supported(ce) && infl_init(&v->in, ce, DECODE_MAX) == 0) {
		v->inflating = 1;
		snprintf(v->coding, sizeof(v->coding), "%s", ce);
	}
}

/* Decoded body bytes: text or hex, decided on the first bytes. */
static void
body_show(struct vconn *vc, struct vdir *v, const unsigned char *p, size_t n)
{
	struct sink *k = vc->cur;

	if (n == 0)
		return;
	if (v->mode == MODE_NONE)
		v->mode = v->hint > 0 ? MODE_TEXT : v->hint < 0 ? MODE_HEX :
		    show_is_text(p, n < 4096 ? n : 4096) ? MODE_TEXT :
		    MODE_HEX;
	if (v->mode == MODE_TEXT)
		text_out(k, &v->t, p, n);
	else {
		ensure_bol(k);
		hex_lines(k->f, p, n, &v->hexoff, hex_per_line(vc->s));
		k->bol = 1;
	}
}

/* What --pretty held is shown as it came: the body is too large, not
 * a document, or no longer HTTP. */
static void
held_free(struct vdir *v)
{
	if (v->pretty == NULL)
		return;
	free(v->pretty->b);
	free(v->pretty);
	v->pretty = NULL;
}

static void
pretty_drop(struct vconn *vc, struct vdir *v)
{
	struct held *h = v->pretty;

	if (h == NULL)
		return;
	v->pretty = NULL;
	body_show(vc, v, h->b, h->len);
	free(h->b);
	free(h);
}

/* The body ended: --pretty shows it indented, or as it came. */
static void
pretty_end(struct vconn *vc, struct vdir *v)
{
	struct held *h = v->pretty;
	const char *kind;
	char *f;
	size_t n;

	if (h == NULL)
		return;
	if (h->len > 0 && (f = fmt_pretty(h->ctype, h->b, h->len, &n,
	    &kind)) != NULL) {
		annot(vc->s, vc->cur, "%s body, shown indented", kind);
		text_out(vc->cur, &v->t, (unsigned char *)f, n);
		ensure_bol(vc->cur);
		free(f);
		held_free(v);
		return;
	}
	pretty_drop(vc, v);
}

static void
body_out(struct vconn *vc, struct vdir *v, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	v->shown += n;
	if (v == &vc->d[HTTP_RESP])
		fault_feed(&vc->fault, p, n);
	if (v->pretty == NULL) {
		body_show(vc, v, p, n);
		return;
	}
	grow_put(&v->pretty->b, &v->pretty->len, &v->pretty->cap, 4096, p, n);
	if (v->pretty->len > PRETTY_HOLD)
		pretty_drop(vc, v);
}

/* What infl_feed hands back to: the connection and the direction. */
struct inflate_to {
	struct vconn	*vc;
	struct vdir	*v;
};

static void
inflated(void *arg, const unsigned char *p, size_t n)
{
	struct inflate_to *in = arg;

	body_out(in->vc, in->v, p, n);
}

static void
cb_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct vconn *vc = arg;
	struct vdir *v = &vc->d[d];
	const char *why;

	if (v->wire == 0 && (v->chunked || v->inflating))
		annot(vc->s, vc->cur, "%s%s%s body, shown %s%s%s",
		    v->chunked ? "chunked" : "", v->chunked && v->inflating ?
		    " " : "", v->inflating ? v->coding : "",
		    v->chunked ? "de-chunked" : "",
		    v->chunked && v->inflating ? " and " : "",
		    v->inflating ? "decoded" : "");
	v->wire += n;
	if (!v->inflating) {
		body_out(vc, v, p, n);
		return;
	}
	if (infl_feed(&v->in, p, n, inflated, &(struct inflate_to){ vc, v },
	    &why) == -1) {
		infl_free(&v->in);
		v->inflating = 0;
		annot(vc->s, vc->cur, "%s decoding failed: %s; the rest as "
		    "received", v->coding, why);
		v->mode = MODE_NONE;
		v->hexoff = v->wire - n;
		body_out(vc, v, p, n);
	}
}

static void
cb_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end how)
{
	struct vconn *vc = arg;
	struct vdir *v = &vc->d[d];

	if (h == NULL) {
		annot(vc->s, vc->cur, "the connection ended inside a %s head",
		    d == HTTP_REQ ? "request" : "response");
		return;
	}
	pretty_end(vc, v);
	if (d == HTTP_RESP && vc->fault.found) {
		vc->failed = 1;
		ensure_bol(vc->cur);
		fprintf(vc->cur->f, "%s[a SOAP Fault]%s\n", col(vc->s, C_BAD),
		    reset(vc->s));
	}
	if (v->inflating) {
		infl_free(&v->in);
		v->inflating = 0;
		annot(vc->s, vc->cur, "end of %s body: %llu bytes decoded "
		    "from %llu", v->coding, (unsigned long long)v->shown,
		    (unsigned long long)v->wire);
	} else if (v->chunked && v->wire > 0)
		annot(vc->s, vc->cur, "end of chunked body: %llu bytes",
		    (unsigned long long)v->wire);
	if (how == HTTP_END_TRUNCATED)
		annot(vc->s, vc->cur, "the connection ended inside this %s",
		    d == HTTP_REQ ? "request" : "response");
	v->in_body = 0;
	v->chunked = 0;
}

static void
cb_notraw(void *arg, enum http_dir d, const char *why)
{
	struct vconn *vc = arg;
	struct vdir *v = &vc->d[d];

	if (strcmp(why, "not HTTP") != 0)
		annot(vc->s, vc->cur, "%s: shown as it is from here",
		    strcmp(why, "tunnel") == 0 ? "a tunnel" : why);
	v->raw = 1;
	v->in_body = 0;
	if (v->inflating) {
		infl_free(&v->in);
		v->inflating = 0;
	}
	pretty_drop(vc, v);
	plain_out(vc->s, vc->cur, &v->t, &v->rawoff, v->pend, v->plen);
	v->plen = 0;
}

static const struct http_callbacks http_cb = {
	cb_raw, cb_head, cb_body, cb_end, cb_notraw
};

void
show_init(struct show *s, FILE *out, const struct show_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->out.f = out;
	s->out.bol = 1;
	s->o = *o;
	if (s->o.width < 40)
		s->o.width = 40;
	if (s->o.max_conns == 0)
		s->o.max_conns = CTAB_MAX_DEFAULT;
	ctab_init(&s->conns, sizeof(struct vconn));
}

/* Where a direction's lines go: stdout, or its column. */
static struct sink *
sink_of(struct show *s, struct vconn *vc, int d)
{
	if (!s->o.side)
		return &s->out;
	if (vc->col[d].f == NULL) {
		if ((vc->col[d].f = open_memstream(&vc->cbuf[d],
		    &vc->csize[d])) == NULL)
			err(TM_EXIT_FAIL, "open_memstream");
		vc->col[d].bol = 1;
	}
	return &vc->col[d];
}

/* Columns of visible text in p[0..n), skipping escape sequences and
 * counting a UTF-8 character once. */
static size_t
cut(const char *p, size_t n, size_t width, size_t *used, char *sgr,
    size_t sgrlen)
{
	size_t i = 0, w = 0, j;

	while (i < n) {
		if (p[i] == '\033' && i + 1 < n && p[i + 1] == '[') {
			for (j = i + 2; j < n && !(p[j] >= 0x40 && p[j] <= 0x7e);
			    j++)
				;
			if (j < n && p[j] == 'm' && j + 1 - i < sgrlen) {
				memcpy(sgr, p + i, j + 1 - i);
				sgr[j + 1 - i] = '\0';
				if (strcmp(sgr, C_RESET) == 0)
					sgr[0] = '\0';
			}
			i = j + 1;
			continue;
		}
		if (((unsigned char)p[i] & 0xc0) == 0x80) {
			i++;
			continue;
		}
		if (w == width)
			break;
		w++;
		i++;
	}
	while (i < n && ((unsigned char)p[i] & 0xc0) == 0x80)
		i++;
	*used = w;
	return i;
}

/* Tabs as spaces, so that the columns can be measured. */
static char *
untab(const char *p, size_t n, size_t *outn)
{
	size_t i, k = 0, w = 0, cap = n + 1;
	char *o;

	for (i = 0; i < n; i++)
		if (p[i] == '\t')
			cap += 8;
	if ((o = malloc(cap)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	for (i = 0; i < n; i++) {
		if (p[i] == '\t') {
			do
				o[k++] = ' ';
			while (++w % 8 != 0);
			continue;
		}
		o[k++] = p[i];
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			w++;
	}
	*outn = k;
	return o;
}

/* Where one column of a side-by-side pair stands as it is printed. */
struct colcur {
	const char	*at, *end;	/* what is left of the column */
	char		*line;		/* the line being wrapped, untabbed */
	size_t		 ln, pos;
	int		 rows;		/* rows of it printed */
	char		 sgr[32];	/* the color in force */
};

/* Whether the column has a row to print: the rest of its line, or its
 * next line. */
static int
col_ready(struct colcur *c)
{
	const char *nl;

	if (c->line != NULL && (c->pos < c->ln || c->rows == 0))
		return 1;
	free(c->line);
	c->line = NULL;
	if (c->at >= c->end)
		return 0;
	if ((nl = memchr(c->at, '\n', (size_t)(c->end - c->at))) == NULL)
		nl = c->end;
	c->line = untab(c->at, (size_t)(nl - c->at), &c->ln);
	c->at = nl < c->end ? nl + 1 : nl;
	c->pos = 0;
	c->rows = 0;
	return 1;
}

/* One row of the column, at most cw columns; returns the columns used. */
static size_t
col_row(struct show *s, struct colcur *c, size_t cw, FILE *out)
{
	size_t k, used;

	fputs(c->sgr, out);
	k = cut(c->line + c->pos, c->ln - c->pos, cw, &used, c->sgr,
	    sizeof(c->sgr));
	if (k > 0)
		fwrite(c->line + c->pos, 1, k, out);
	c->pos += k;
	c->rows++;
	if (s->o.color)
		fputs(C_RESET, out);
	return used;
}

/* Prints what the two columns of vc hold, side by side, each line wrapped
 * to its column.  The columns flow each on its own, as two panes do: a
 * line wrapped on one side does not push the other side's next lines
 * down with blank rows. */
static void
side_flush(struct show *s, struct vconn *vc)
{
	FILE *out = s->out.f;
	struct colcur c[2];
	size_t cw = (size_t)(s->o.width - 3) / 2, used, i;
	int d, r0, r1;

	if (vc->col[0].f == NULL && vc->col[1].f == NULL)
		return;
	memset(c, 0, sizeof(c));
	for (d = 0; d < 2; d++) {
		if (vc->col[d].f != NULL) {
			ensure_bol(&vc->col[d]);
			fclose(vc->col[d].f);
			vc->col[d].f = NULL;
		}
		c[d].at = vc->cbuf[d] != NULL ? vc->cbuf[d] : "";
		c[d].end = c[d].at + (vc->cbuf[d] != NULL ? vc->csize[d] : 0);
	}
	ensure_bol(&s->out);
	for (;;) {
		r0 = col_ready(&c[0]);
		r1 = col_ready(&c[1]);
		if (!r0 && !r1)
			break;
		used = r0 ? col_row(s, &c[0], cw, out) : 0;
		for (i = used; i < cw; i++)
			fputc(' ', out);
		fprintf(out, " %s|%s ", col(s, C_DIM), reset(s));
		if (r1)
			col_row(s, &c[1], cw, out);
		fputc('\n', out);
	}
	for (d = 0; d < 2; d++) {
		free(c[d].line);
		free(vc->cbuf[d]);
		vc->cbuf[d] = NULL;
		vc->csize[d] = 0;
	}
}

static void
vconn_free(struct show *s, struct vconn *vc)
{
	int d;

	side_flush(s, vc);
	for (d = 0; d < 2; d++) {
		free(vc->d[d].pend);
		held_free(&vc->d[d]);
		if (vc->d[d].inflating)
			infl_free(&vc->d[d].in);
	}
	if (vc->hc != NULL) {
		http_conn_free(vc->hc);
		free(vc->hc);
	}
	ctab_del(&s->conns, vc);
}

/* Over --max-conns: the connection that went longest without a record is
 * no longer followed, with a line that says so; what comes of it later is
 * shown as a connection seen for the first time. */
static void
drop_oldest(struct show *s)
{
	struct vconn *old = ctab_lru(&s->conns);
	const char *src = ctab_src(old);
	struct sink *k = &s->out;

	side_flush(s, old);
	ensure_bol(k);
	fprintf(k->f, "%s[", col(s, C_NOTE));
	conn_id(s, k->f, src, ctab_conn(old));
	fprintf(k->f, "] note: no longer followed: over %zu connections "
	    "at once (--max-conns)%s\n", s->o.max_conns, reset(s));
	vconn_free(s, old);
}

static struct vconn *
vconn_get(struct show *s, const struct rec *r)
{
	struct vconn *vc;
	int isnew;

	if ((vc = ctab_find(&s->conns, r->src, r->conn, &isnew)) == NULL ||
	    !isnew)
		return vc;
	vc->s = s;
	vc->col[0].bol = vc->col[1].bol = 1;
	safe_init(&vc->d[0].t.u, SAFE_TEXT);
	safe_init(&vc->d[1].t.u, SAFE_TEXT);
	if (s->conns.n > s->o.max_conns)
		drop_oldest(s);
	return vc;
}

/* Feeds the HTTP view; what is left of an unfinished head is shown now,
 * since the rest may be long in coming.  Between messages the parser and
 * the head buffer are given back: an idle connection costs only its
 * struct vconn. */
static void
http_feed(struct vconn *vc, int d, const unsigned char *p, size_t n)
{
	struct vdir *v = &vc->d[d];

	if (vc->hc == NULL) {
		if ((vc->hc = malloc(sizeof(*vc->hc))) == NULL)
			err(TM_EXIT_FAIL, "malloc");
		http_conn_init(vc->hc, &http_cb, vc);
	}
	http_conn_feed(vc->hc, (enum http_dir)d, p, n);
	if (v->plen > 0) {
		text_out(vc->cur, &v->t, v->pend, v->plen);
		v->plen = 0;
		v->head_part = 1;
	}
	free(v->pend);
	v->pend = NULL;
	v->pcap = 0;
	if (http_conn_idle(vc->hc)) {
		http_conn_free(vc->hc);
		free(vc->hc);
		vc->hc = NULL;
	} else
		http_conn_trim(vc->hc);
}

static void
http_eof(struct vconn *vc, int d, struct sink *k)
{
	if (vc->hc == NULL || vc->shut[d])
		return;
	vc->shut[d] = 1;
	vc->cur = k;
	http_conn_eof(vc->hc, (enum http_dir)d);
}

static void
show_data(struct show *s, const struct rec *r)
{
	struct vconn *vc = vconn_get(s, r);
	int d = r->dir == REC_S2C ? 1 : 0;
	struct sink *k;
	const char *xf = rec_get(r, "xform");

	/* A new request after a response: that exchange is complete. */
	if (s->o.side && d == 0 && vc->col[1].f != NULL)
		side_flush(s, vc);
	k = sink_of(s, vc, d);
	label(s, k, r);
	fprintf(k->f, "%s%s %zu bytes", col(s, d ? C_S2C : C_C2S),
	    r->dir == REC_C2S ? ">>> client to server," :
	    r->dir == REC_S2C ? "<<< server to client," : "data,", r->len);
	if (xf != NULL) {
		fputs(", reformatted: ", k->f);
		put_safe(k->f, xf);
	}
	fprintf(k->f, "%s\n", reset(s));
	k->bol = 1;
	vc->cur = k;
	if (s->o.http && xf == NULL && r->dir != REC_NODIR)
		http_feed(vc, d, r->data, r->len);
	else
		plain_out(s, k, &vc->d[d].t, &vc->d[d].rawoff, r->data,
		    r->len);
	ensure_bol(k);
}

/* One side's TLS from the open record's fields (PRE-tls, PRE-cipher,
 * PRE-sni, PRE-alpn): "TLSv1.3 TLS_AES_128_GCM_SHA256, SNI x, ALPN y". */
static void
tls_side(FILE *out, const struct rec *r, const char *pre)
{
	static const char *const what[] = { "tls", "cipher", "sni", "alpn" };
	static const char *const say[] = { "", " ", ", SNI ", ", ALPN " };
	char key[32];
	const char *v;
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "%s-%s", pre, what[i]);
		if ((v = rec_get(r, key)) != NULL) {
			fputs(say[i], out);
			put_safe(out, v);
		}
	}
}

/* Under the open line of a connection with a TLS side: what each side
 * agreed, and whether the server's certificate was verified. */
static void
show_tls(struct show *s, struct sink *k, const struct rec *r)
{
	FILE *out = k->f;
	const char *v;
	int cl = rec_get(r, "client-tls") != NULL;

	if (!cl && rec_get(r, "server-tls") == NULL)
		return;
	label(s, k, r);
	fprintf(out, "%sTLS: ", col(s, C_DIM));
	if (cl) {
		fputs("client ", out);
		tls_side(out, r, "client");
	}
	if (rec_get(r, "server-tls") != NULL) {
		fputs(cl ? "; server " : "server ", out);
		tls_side(out, r, "server");
		if ((v = rec_get(r, "server-cert")) != NULL) {
			fputs(", certificate ", out);
			put_safe(out, v);
		}
		v = get(r, "server-verify");
		if (strcmp(v, "ok") == 0)
			fputs(", verified", out);
		else if (strcmp(v, "skipped") == 0)
			fputs(", NOT verified (--insecure)", out);
		else {
			fputs(", verify: ", out);
			put_safe(out, v);
		}
	}
	fprintf(out, "%s\n", reset(s));
}


void
show_record(struct show *s, const struct rec *r)
{
	struct sink *k = &s->out;
	FILE *out = k->f;
	struct vconn *vc;
	char t[TM_TIME_LEN], end[SAFE_ROOM(4)];
	const char *v, *reason;
	struct txt nt;
	size_t n;
	int d, good;

	/* Every record counts, the stream's own too: a merged stream
	 * names sources even when one source's connections are chosen. */
	multi_src(s, r->src != NULL ? r->src : "");
	if (r->type == REC_DATA) {
		show_data(s, r);
		return;
	}
	vc = r->conn != 0 ? ctab_get(&s->conns, r->src, r->conn) : NULL;
	if (r->type == REC_SHUTDOWN && r->dir != REC_NODIR) {
		d = r->dir == REC_S2C;
		if (vc == NULL)
			vc = vconn_get(s, r);
		k = sink_of(s, vc, d);
		http_eof(vc, d, k);
		label(s, k, r);
		fprintf(k->f, "%s--- %s closed its sending side%s\n",
		    col(s, C_DIM), d ? "server" : "client", reset(s));
		k->bol = 1;
		return;
	}
	if (vc != NULL) {
		/* The rest of what the columns hold goes first. */
		if (r->type == REC_CLOSE) {
			http_eof(vc, 0, sink_of(s, vc, 0));
			http_eof(vc, 1, sink_of(s, vc, 1));
		}
		side_flush(s, vc);
	}
	switch (r->type) {
	case REC_STREAM:
		ensure_bol(k);
		if (r->usec >= 0)
			tm_fmt_time(r->usec, t, sizeof(t));
		else
			strcpy(t, "?");
		fprintf(out, "%s=== ", col(s, C_DIM));
		put_safe(out, get(r, "tool"));
		fputc(' ', out);
		put_safe(out, get(r, "version"));
		fprintf(out, ", started %s (source ", t);
		put_safe(out, r->src != NULL ? r->src : "?");
		fprintf(out, ")%s\n", reset(s));
		return;
	case REC_OPEN:
		ensure_bol(k);
		fputc('\n', out);
		if (r->usec >= 0)
			fprintf(out, "%s%.10s%s ", col(s, C_DIM),
			    tm_fmt_time(r->usec, t, sizeof(t)), reset(s));
		label(s, k, r);
		fprintf(out, "%sopen ", col(s, C_OPEN));
		put_safe(out, get(r, "client"));
		fputs(" -> ", out);
		put_safe(out, get(r, "target"));
		if ((v = rec_get(r, "listen")) != NULL) {
			fputs(" (via ", out);
			put_safe(out, v);
			fputc(')', out);
		}
		fprintf(out, "%s\n", reset(s));
		show_tls(s, k, r);
		return;
	case REC_CLOSE:
		label(s, k, r);
		reason = get(r, "reason");
		good = strcmp(reason, "eof") == 0 && (vc == NULL ||
		    !vc->failed);
		fprintf(out, "%sclose: ", col(s, good ? C_GOOD : C_BAD));
		put_safe(out, reason);
		if ((v = rec_get(r, "by")) != NULL) {
			fputs(" by the ", out);
			put_safe(out, v);
		}
		if ((v = rec_get(r, "error")) != NULL) {
			fputs(" (", out);
			put_safe(out, v);
			fputc(')', out);
		}
		fputs("; ", out);
		put_safe(out, get(r, "c2s"));
		fputs(" bytes up, ", out);
		put_safe(out, get(r, "s2c"));
		fprintf(out, " bytes down%s\n", reset(s));
		if (vc != NULL)
			vconn_free(s, vc);
		return;
	case REC_NOTE:
		label(s, k, r);
		fprintf(out, "%snote", col(s, C_NOTE));
		if ((v = rec_get(r, "level")) != NULL) {
			fputc(' ', out);
			put_safe(out, v);
		}
		fputs(": ", out);
		safe_init(&nt.u, SAFE_TEXT);
		nt.cr = 0;
		text_out(k, &nt, r->data, r->len);
		if ((n = safe_end(&nt.u, end)) > 0)
			fwrite(end, 1, n, out);
		fputs(reset(s), out);
		ensure_bol(k);
		return;
	default:
		break;
	}
	label(s, k, r);
	fprintf(out, "%s record, %zu bytes\n", r->kind, r->len);
}

void
show_end(struct show *s)
{
	void **v;
	size_t n, i;

	v = ctab_list(&s->conns, &n);
	for (i = 0; i < n; i++)
		vconn_free(s, v[i]);
	free(v);
	ctab_free(&s->conns);
	ensure_bol(&s->out);
}
