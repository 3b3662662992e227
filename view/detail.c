/* detail.c - the request and response panes of one exchange: its records
 * read back from the store and taken apart as tcpmon-tap does (HTTP heads,
 * bodies de-chunked and decoded), then formatted by the formatting cores
 * (libtcpmon-fmt.a) or dumped in hex, as lines safe for a terminal.  No
 * body is cut: a pane holds all of it. */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "grow.h"
#include "http.h"
#include "inflate.h"
#include "pretty.h"
#include "safe.h"
#include "util.h"
#include "view.h"

#define DECODE_MAX	(1024ull * 1024 * 1024)	/* a bomb stops here */

static void
put(unsigned char **b, size_t *len, size_t *cap, const void *p, size_t n)
{
	grow_put(b, len, cap, 4096, p, n);
}

static void
side_free(struct side *s)
{
	free(s->raw);
	free(s->head);
	free(s->body);
	memset(s, 0, sizeof(*s));
}

static void
pane_free(struct pane *p)
{
	free(p->text);
	free(p->line);
	memset(p, 0, sizeof(*p));
}

void
det_init(struct detail *d)
{
	memset(d, 0, sizeof(*d));
	d->x = -1;
}

void
det_free(struct detail *d)
{
	int i;

	for (i = 0; i < 2; i++) {
		side_free(&d->s[i]);
		pane_free(&d->p[i]);
	}
	d->x = -1;
}

/* Reading an exchange back: the k-th message of each direction. */
struct pick {
	struct detail	*d;
	uint32_t	 k;
	uint32_t	 cur[2];	/* messages ended so far, each way */
	int		 http;		/* the connection carries HTTP */
	struct http_conn hc;
};

static void
pk_raw(void *arg, enum http_dir dir, const unsigned char *p, size_t n)
{
	struct pick *pk = arg;
	struct side *s = &pk->d->s[dir];

	if (pk->cur[dir] != pk->k && pk->http)
		return;
	put(&s->raw, &s->rawlen, &s->rawcap, p, n);
	s->have = 1;
	if (http_conn_is_raw(&pk->hc, dir) || !pk->http)
		put(&s->body, &s->bodylen, &s->bodycap, p, n);
}

static void
pk_head(void *arg, const struct http_head *h)
{
	struct pick *pk = arg;
	struct side *s = &pk->d->s[h->dir];
	char line[512];
	int i, n;

	if (pk->cur[h->dir] != pk->k)
		return;
	s->http = 1;
	s->have = 1;
	if (h->dir == HTTP_REQ)
		n = snprintf(line, sizeof(line), "%s %s HTTP/%d.%d\n",
		    h->method, h->target, h->major, h->minor);
	else
		n = snprintf(line, sizeof(line), "HTTP/%d.%d %d %s\n",
		    h->major, h->minor, h->status, h->reason);
	put(&s->head, &s->headlen, &s->headcap, line,
	    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	for (i = 0; i < h->nheader; i++) {
		put(&s->head, &s->headlen, &s->headcap, h->header[i].name,
		    strlen(h->header[i].name));
		put(&s->head, &s->headlen, &s->headcap, ": ", 2);
		put(&s->head, &s->headlen, &s->headcap, h->header[i].value,
		    strlen(h->header[i].value));
		put(&s->head, &s->headlen, &s->headcap, "\n", 1);
		if (strcasecmp(h->header[i].name, "Content-Type") == 0)
			snprintf(s->ctype, sizeof(s->ctype), "%s",
			    h->header[i].value);
		if (strcasecmp(h->header[i].name, "Content-Encoding") == 0)
			snprintf(s->decoded, sizeof(s->decoded), "%s",
			    h->header[i].value);
	}
	s->nheader += h->nheader;
}

static void
pk_body(void *arg, enum http_dir dir, const unsigned char *p, size_t n)
{
	struct pick *pk = arg;
	struct side *s = &pk->d->s[dir];

	if (pk->cur[dir] == pk->k)
		put(&s->body, &s->bodylen, &s->bodycap, p, n);
}

static void
pk_end(void *arg, enum http_dir dir, const struct http_head *h,
    enum http_end e)
{
	struct pick *pk = arg;

	(void)e;
	if (dir == HTTP_RESP && h != NULL && h->status >= 100 &&
	    h->status < 200 && h->status != 101)
		return;
	pk->cur[dir]++;
}

static void
pk_notraw(void *arg, enum http_dir dir, const char *why)
{
	(void)arg; (void)dir; (void)why;
}

static const struct http_callbacks pk_cb = {
	pk_raw, pk_head, pk_body, pk_end, pk_notraw
};

static int
pk_rec(void *arg, const struct rec *r, const unsigned char *raw, size_t n)
{
	struct pick *pk = arg;
	enum http_dir dir;

	(void)raw; (void)n;
	if (r->type == REC_DATA && r->len > 0) {
		dir = r->dir == REC_C2S ? HTTP_REQ : HTTP_RESP;
		http_conn_feed(&pk->hc, dir, r->data, r->len);
		/* Past the exchange either way: nothing more to read. */
		if (pk->http && pk->cur[0] > pk->k && pk->cur[1] > pk->k)
			return 1;
	} else if (r->type == REC_SHUTDOWN && r->dir != REC_NODIR)
		http_conn_eof(&pk->hc, r->dir == REC_C2S ? HTTP_REQ :
		    HTTP_RESP);
	return 0;
}

/* A body with a Content-Encoding the view knows is shown decoded. */
static void
decode(struct side *s)
{
	unsigned char *d;
	const char *why = NULL;
	char coding[64];
	size_t n = 0;

	snprintf(coding, sizeof(coding), "%s", s->decoded);
	s->decoded[0] = '\0';
	if (coding[0] == '\0' || s->bodylen == 0)
		return;
	if (!infl_supported(coding)) {
		snprintf(s->decoded, sizeof(s->decoded), "%.40s not decoded",
		    coding);
		return;
	}
	if ((d = infl_decode(coding, s->body, s->bodylen, DECODE_MAX, &n,
	    &why)) == NULL) {
		snprintf(s->decoded, sizeof(s->decoded), "%.20s: %.30s",
		    coding, why != NULL ? why : "bad data");
		return;
	}
	free(s->body);
	s->body = d;
	s->bodylen = n;
	s->bodycap = n;
	snprintf(s->decoded, sizeof(s->decoded), "%.40s decoded", coding);
}

/* Text safe for a terminal appended to a pane. */
static void
pane_text(struct pane *p, struct safe *u, const unsigned char *b, size_t n)
{
	char *out;
	size_t chunk, m;

	if ((out = malloc(SAFE_ROOM(65536))) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	while (n > 0) {
		chunk = n > 65536 ? 65536 : n;
		m = safe_feed(u, b, chunk, out);
		put((unsigned char **)&p->text, &p->len, &p->cap, out, m);
		b += chunk;
		n -= chunk;
	}
	m = safe_end(u, out);
	put((unsigned char **)&p->text, &p->len, &p->cap, out, m);
	free(out);
}

static void
pane_str(struct pane *p, const char *s)
{
	put((unsigned char **)&p->text, &p->len, &p->cap, s, strlen(s));
}

static void
hexdump(struct pane *p, const unsigned char *b, size_t n)
{
	char line[96];
	size_t i, j;
	int k;

	for (i = 0; i < n; i += 16) {
		k = snprintf(line, sizeof(line), "%08zx ", i);
		for (j = 0; j < 16; j++)
			k += snprintf(line + k, sizeof(line) - k,
			    i + j < n ? " %02x" : "   ", b[i + j < n ? i + j : 0]);
		k += snprintf(line + k, sizeof(line) - k, "  |");
		for (j = 0; j < 16 && i + j < n; j++)
			line[k++] = b[i + j] >= 0x20 && b[i + j] < 0x7f ?
			    (char)b[i + j] : '.';
		line[k++] = '|';
		line[k++] = '\n';
		put((unsigned char **)&p->text, &p->len, &p->cap, line,
		    (size_t)k);
	}
}

static void
pane_lines(struct pane *p)
{
	size_t i, start = 0;

	for (i = 0; i <= p->len; i++) {
		if (i < p->len && p->text[i] != '\n')
			continue;
		if (i == p->len && start == p->len && p->nline > 0)
			break;
		p->line = grow_items(p->line, &p->capline, p->nline + 1,
		    sizeof(*p->line), 256);
		p->line[p->nline++] = start;
		start = i + 1;
	}
	/* Lines end in NULs, for the drawing and the search. */
	for (i = 0; i < p->len; i++)
		if (p->text[i] == '\n')
			p->text[i] = '\0';
	put((unsigned char **)&p->text, &p->len, &p->cap, "", 1);
	p->len--;
}

static void
render(struct detail *d, int i, int fmt, int hex, int heads, int closed,
    int answered)
{
	struct side *s = &d->s[i];
	struct pane *p = &d->p[i];
	struct safe u;
	const char *kind = NULL, *nl;
	char *f = NULL, buf[128];
	size_t flen = 0;

	p->note = NULL;
	if (!s->have) {
		pane_str(p, i == 0 ? "(nothing sent)" : closed || answered ?
		    "(no answer)" : "(no answer yet)");
	} else if (hex) {
		hexdump(p, s->raw, s->rawlen);
		p->note = "hex";
	} else {
		if (s->http && heads) {
			safe_init(&u, SAFE_TEXT | SAFE_CRLF);
			pane_text(p, &u, s->head, s->headlen);
			pane_str(p, "\n");
		} else if (s->http) {
			nl = memchr(s->head, '\n', s->headlen);
			safe_init(&u, SAFE_TEXT | SAFE_CRLF);
			pane_text(p, &u, s->head, nl != NULL ?
			    (size_t)(nl - (char *)s->head) : s->headlen);
			snprintf(buf, sizeof(buf), "\n(%d headers: h shows "
			    "them)\n\n", s->nheader);
			pane_str(p, buf);
		}
		if (fmt && s->bodylen > 0)
			f = fmt_pretty(s->ctype[0] ? s->ctype : NULL, s->body,
			    s->bodylen, &flen, &kind);
		safe_init(&u, SAFE_TEXT | SAFE_CRLF);
		if (f != NULL) {
			pane_text(p, &u, (unsigned char *)f, flen);
			p->note = strcmp(kind, "XML") == 0 ? "XML formatted" :
			    "JSON formatted";
			free(f);
		} else
			pane_text(p, &u, s->body, s->bodylen);
		if (s->decoded[0] != '\0' && p->note == NULL)
			p->note = s->decoded;
	}
	pane_lines(p);
}

void
det_make(struct detail *d, struct index *ix, long x, int fmt, int hex,
    int heads)
{
	struct pick pk;
	struct vxch *vx;
	struct vconn *c;
	int i;

	det_free(d);
	d->x = x;
	d->gen = ix->gen;
	d->fmt = fmt;
	d->hex = hex;
	d->heads = heads;
	d->err[0] = '\0';
	if (x < 0 || (size_t)x >= ix->nx)
		return;
	vx = &ix->x[x];
	c = &ix->c[vx->c];
	memset(&pk, 0, sizeof(pk));
	pk.d = d;
	pk.k = vx->seq;
	pk.http = (c->flags & VC_HTTP) != 0;
	http_conn_init(&pk.hc, &pk_cb, &pk);
	if (ix_scan(ix, vx->c, pk_rec, &pk, d->err, sizeof(d->err)) < 0)
		d->err[sizeof(d->err) - 1] = '\0';
	http_conn_free(&pk.hc);
	for (i = 0; i < 2; i++) {
		decode(&d->s[i]);
		render(d, i, fmt, hex, heads, (c->flags & VC_CLOSED) != 0,
		    vx->status != 0);
	}
}
