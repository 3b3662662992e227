/* http.c - HTTP/1.x message reassembly (see http.h): heads, bodies by
 * Content-Length, chunks or connection close, pipelining and keep-alive. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

enum {
	S_HEAD,		/* reading a start line and headers */
	S_LENGTH,	/* a body of known length */
	S_EOFBODY,	/* a body that ends with the connection */
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_CRLF,
	S_TRAILER,
	S_RAW,		/* not HTTP (any more): bytes only */
	S_DONE		/* the direction was closed */
};

/* Methods that change how a response is framed (hc->pending). */
enum { M_OTHER, M_HEAD, M_CONNECT };

void
http_conn_init(struct http_conn *hc, const struct http_callbacks *cb,
    void *arg)
{
	memset(hc, 0, sizeof(*hc));
	hc->cb = cb;
	hc->arg = arg;
	hc->p[HTTP_REQ].dir = HTTP_REQ;
	hc->p[HTTP_RESP].dir = HTTP_RESP;
}

void
http_conn_free(struct http_conn *hc)
{
	int d;

	for (d = 0; d < 2; d++) {
		free(hc->p[d].buf);
		free(hc->p[d].hdr);
		hc->p[d].buf = NULL;
		hc->p[d].hdr = NULL;
		hc->p[d].cap = 0;
	}
}

void
http_conn_trim(struct http_conn *hc)
{
	struct http_parser *p;
	int d;

	for (d = 0; d < 2; d++) {
		p = &hc->p[d];
		if ((p->state != S_HEAD || p->len > 0) && p->state != S_RAW &&
		    p->state != S_DONE)
			continue;
		free(p->buf);
		free(p->hdr);
		p->buf = NULL;
		p->hdr = NULL;
		p->cap = 0;
		memset(&p->head, 0, sizeof(p->head));
	}
}

int
http_conn_idle(const struct http_conn *hc)
{
	int d;

	if (hc->npending > 0)
		return 0;
	for (d = 0; d < 2; d++)
		if (hc->p[d].state != S_HEAD || hc->p[d].len > 0 ||
		    hc->p[d].in_msg)
			return 0;
	return 1;
}

int
http_conn_is_raw(const struct http_conn *hc, enum http_dir d)
{
	return hc->p[d].state == S_RAW;
}

const char *
http_header(const struct http_head *h, const char *name)
{
	int i;

	for (i = 0; i < h->nheader; i++)
		if (strcasecmp(h->header[i].name, name) == 0)
			return h->header[i].value;
	return NULL;
}

int
http_header_has(const struct http_head *h, const char *name,
    const char *token)
{
	size_t tl = strlen(token), n;
	const char *v, *e;
	int i;

	for (i = 0; i < h->nheader; i++) {
		if (strcasecmp(h->header[i].name, name) != 0)
			continue;
		for (v = h->header[i].value; *v != '\0'; v = e) {
			while (*v == ' ' || *v == '\t' || *v == ',')
				v++;
			for (e = v; *e != '\0' && *e != ','; e++)
				;
			n = (size_t)(e - v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n == tl && strncasecmp(v, token, tl) == 0)
				return 1;
		}
	}
	return 0;
}

static void
go_raw(struct http_conn *hc, struct http_parser *p, const char *why)
{
	p->state = S_RAW;
	p->in_msg = 0;
	if (hc->cb->notraw != NULL)
		hc->cb->notraw(hc->arg, p->dir, why);
}

static void
raw(struct http_conn *hc, struct http_parser *p, const unsigned char *b,
    size_t n)
{
	if (n > 0 && hc->cb->raw != NULL)
		hc->cb->raw(hc->arg, p->dir, b, n);
}

static void
body(struct http_conn *hc, struct http_parser *p, const unsigned char *b,
    size_t n)
{
	if (n > 0 && hc->cb->body != NULL)
		hc->cb->body(hc->arg, p->dir, b, n);
}

static void
end_msg(struct http_conn *hc, struct http_parser *p, enum http_end how)
{
	p->in_msg = 0;
	p->len = 0;
	p->state = S_HEAD;
	if (hc->cb->end != NULL)
		hc->cb->end(hc->arg, p->dir, &p->head, how);
}

int
http_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

int
http_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!http_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Whether what we have of a head can still be one: binary streams are
 * told apart after a few bytes instead of after 64 KiB. */
static int
plausible(const struct http_parser *p)
{
	static const char http[] = "HTTP/";
	size_t i, n = p->len < 32 ? p->len : 32;

	if (p->dir == HTTP_RESP) {
		n = p->len < 5 ? p->len : 5;
		return memcmp(p->buf, http, n) == 0;
	}
	for (i = 0; i < n; i++) {
		if (p->buf[i] == ' ')
			return i > 0;
		if (!((p->buf[i] >= 'A' && p->buf[i] <= 'Z') ||
		    p->buf[i] == '-' || p->buf[i] == '_'))
			return 0;
	}
	return n < 32;
}

static int
parse_version(const char *s, struct http_head *h)
{
	if (strncmp(s, "HTTP/", 5) != 0 || s[5] < '0' || s[5] > '9' ||
	    s[6] != '.' || s[7] < '0' || s[7] > '9' || s[8] != '\0')
		return -1;
	h->major = s[5] - '0';
	h->minor = s[7] - '0';
	return h->major == 1 ? 0 : -1;
}

/* Splits the next line off *s (in place); NULL at the end. */
static char *
next_line(char **s, char *end)
{
	char *l = *s, *nl;

	if (l >= end)
		return NULL;
	nl = memchr(l, '\n', (size_t)(end - l));
	if (nl == NULL)
		nl = end;
	*s = nl + 1;
	*nl = '\0';
	if (nl > l && nl[-1] == '\r')
		nl[-1] = '\0';
	return l;
}

static int
parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (; *v >= '0' && *v <= '9'; v++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	if (*v != '\0')
		return -1;
	*out = n;
	return 0;
}

/* Parses the head in p->buf in place.  Returns NULL or why it is not a
 * valid head. */
static const char *
parse_head(struct http_conn *hc, struct http_parser *p)
{
	struct http_head *h = &p->head;
	char *s = p->buf, *end = p->buf + p->len, *line, *sp, *sp2, *c, *v;
	const char *te, *cl;
	int m;
	size_t n;
	int i;

	memset(h, 0, sizeof(*h));
	h->dir = p->dir;
	h->rawlen = p->len;
	if (p->hdr == NULL && (p->hdr = malloc(HTTP_MAX_HEADERS *
	    sizeof(*p->hdr))) == NULL)
		return "out of memory";
	h->header = p->hdr;
	if ((line = next_line(&s, end)) == NULL)
		return "empty head";
	if ((sp = strchr(line, ' ')) == NULL)
		return "bad start line";
	*sp++ = '\0';
	if (p->dir == HTTP_REQ) {
		if ((sp2 = strrchr(sp, ' ')) == NULL || sp2 == sp)
			return "bad request line";
		*sp2++ = '\0';
		h->method = line;
		h->target = sp;
		if (parse_version(sp2, h) == -1)
			return "not HTTP/1.x";
	} else {
		if (parse_version(line, h) == -1)
			return "not HTTP/1.x";
		if (sp[0] < '1' || sp[0] > '5' || sp[1] < '0' || sp[1] > '9' ||
		    sp[2] < '0' || sp[2] > '9' || (sp[3] != '\0' &&
		    sp[3] != ' '))
			return "bad status line";
		h->status = (sp[0] - '0') * 100 + (sp[1] - '0') * 10 +
		    (sp[2] - '0');
		h->reason = sp[3] == ' ' ? sp + 4 : sp + 3;
	}
	while ((line = next_line(&s, end)) != NULL && *line != '\0') {
		if (*line == ' ' || *line == '\t')
			return "obsolete header line folding";
		if ((c = strchr(line, ':')) == NULL || c == line)
			return "bad header line";
		for (v = line; v < c; v++)
			if (!http_tchar((unsigned char)*v))
				return "bad header name";
		*c = '\0';
		for (v = c + 1; *v == ' ' || *v == '\t'; v++)
			;
		n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			v[--n] = '\0';
		if (h->nheader == HTTP_MAX_HEADERS)
			return "too many headers";
		h->header[h->nheader].name = line;
		h->header[h->nheader].value = v;
		h->nheader++;
	}

	/* The framing, as RFC 9112 section 6 orders it. */
	te = http_header(h, "Transfer-Encoding");
	cl = NULL;
	for (i = 0; i < h->nheader; i++)
		if (strcasecmp(h->header[i].name, "Content-Length") == 0) {
			if (cl != NULL && strcmp(cl, h->header[i].value) != 0)
				return "conflicting Content-Length headers";
			cl = h->header[i].value;
		}
	if (p->dir == HTTP_RESP) {
		m = hc->npending > 0 ? hc->pending[hc->first] : M_OTHER;
		if (h->status == 101) {
			h->body = HTTP_BODY_TUNNEL;
			return NULL;
		}
		if (m == M_CONNECT && h->status / 100 == 2) {
			h->body = HTTP_BODY_TUNNEL;
			return NULL;
		}
		if (m == M_HEAD || h->status / 100 == 1 ||
		    h->status == 204 || h->status == 304) {
			h->body = HTTP_BODY_NONE;
			return NULL;
		}
	}
	if (te != NULL) {
		n = strlen(te);
		/* OWS before the last coding is a space or a tab. */
		if (n >= 7 && strcasecmp(te + n - 7, "chunked") == 0 &&
		    (n == 7 || te[n - 8] == ' ' || te[n - 8] == '\t' ||
		    te[n - 8] == ',')) {
			h->body = HTTP_BODY_CHUNKED;
			return NULL;
		}
		if (p->dir == HTTP_REQ)
			return "request body of unknown length";
		h->body = HTTP_BODY_EOF;
		return NULL;
	}
	if (cl != NULL) {
		if (parse_length(cl, &h->length) == -1)
			return "bad Content-Length";
		h->body = h->length > 0 ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
		return NULL;
	}
	h->body = p->dir == HTTP_RESP ? HTTP_BODY_EOF : HTTP_BODY_NONE;
	return NULL;
}

/* A head is complete: report it and set up for its body. */
static void
head_done(struct http_conn *hc, struct http_parser *p)
{
	struct http_head *h = &p->head;
	const char *why;
	int final;

	if ((why = parse_head(hc, p)) != NULL) {
		go_raw(hc, p, why);
		return;
	}
	if (p->dir == HTTP_REQ) {
		if (hc->npending < HTTP_PENDING) {
			hc->pending[(hc->first + hc->npending) %
			    HTTP_PENDING] = strcmp(h->method, "HEAD") == 0 ?
			    M_HEAD : strcmp(h->method, "CONNECT") == 0 ?
			    M_CONNECT : M_OTHER;
			hc->npending++;
		}
	} else {
		final = h->status >= 200 || h->status == 101;
		if (final && hc->npending > 0) {
			hc->first = (hc->first + 1) % HTTP_PENDING;
			hc->npending--;
		}
	}
	if (hc->cb->head != NULL)
		hc->cb->head(hc->arg, h);
	switch (h->body) {
	case HTTP_BODY_NONE:
		end_msg(hc, p, HTTP_END_OK);
		break;
	case HTTP_BODY_LENGTH:
		p->remain = h->length;
		p->state = S_LENGTH;
		break;
	case HTTP_BODY_CHUNKED:
		p->linelen = 0;
		p->state = S_CHUNK_SIZE;
		break;
	case HTTP_BODY_EOF:
		p->state = S_EOFBODY;
		break;
	case HTTP_BODY_TUNNEL:
		end_msg(hc, p, HTTP_END_OK);
		go_raw(hc, p, "tunnel");
		/* Both ways carry the tunnel now. */
		if (hc->p[HTTP_REQ].state != S_DONE)
			go_raw(hc, &hc->p[HTTP_REQ], "tunnel");
		break;
	}
}

/* Takes head bytes; returns how many of n it used. */
static size_t
feed_head(struct http_conn *hc, struct http_parser *p,
    const unsigned char *b, size_t n)
{
	const unsigned char *nl;
	size_t take, i;
	char *nb;

	if (p->len == 0) {
		/* Empty lines between messages are tolerated. */
		for (i = 0; i < n && (b[i] == '\r' || b[i] == '\n'); i++)
			;
		if (i > 0) {
			raw(hc, p, b, i);
			return i;
		}
	}
	nl = memchr(b, '\n', n);
	take = nl != NULL ? (size_t)(nl - b) + 1 : n;
	if (p->len + take > HTTP_MAX_HEAD) {
		raw(hc, p, b, take);
		go_raw(hc, p, "head over 64 KiB");
		return take;
	}
	if (p->len + take > p->cap) {
		size_t ncap = p->cap ? p->cap : 1024;

		while (ncap < p->len + take)
			ncap *= 2;
		if (ncap > HTTP_MAX_HEAD)
			ncap = HTTP_MAX_HEAD;
		if ((nb = realloc(p->buf, ncap + 1)) == NULL) {
			raw(hc, p, b, take);
			go_raw(hc, p, "out of memory");
			return take;
		}
		p->buf = nb;
		p->cap = ncap;
	}
	memcpy(p->buf + p->len, b, take);
	p->len += take;
	p->in_msg = 1;
	raw(hc, p, b, take);
	if (!plausible(p)) {
		go_raw(hc, p, "not HTTP");
		return take;
	}
	if (nl != NULL && ((p->len >= 2 && p->buf[p->len - 2] == '\n') ||
	    (p->len >= 3 && p->buf[p->len - 2] == '\r' &&
	    p->buf[p->len - 3] == '\n'))) {
		p->buf[p->len] = '\0';
		head_done(hc, p);
	}
	return take;
}

static int
parse_chunk_size(const char *s, uint64_t *out)
{
	uint64_t n = 0;
	int d, digits = 0;

	for (;; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (++digits > 15)
			return -1;
		n = n * 16 + (uint64_t)d;
	}
	if (digits == 0 || (*s != '\0' && *s != ';' && *s != ' ' &&
	    *s != '\t' && *s != '\r'))
		return -1;
	*out = n;
	return 0;
}

/* A chunk-size line, without its LF, as RFC 9112 7.1 has it: hex digits,
 * then only extensions (";" and no control bytes), then CR. */
static int
strict_chunk_line(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 2 || s[n - 1] != '\r')
		return -1;
	for (i = 0; i < n - 1 && isxdigit((unsigned char)s[i]); i++)
		;
	if (i == 0)
		return -1;
	while (i < n - 1 && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n - 1 && s[i] != ';')
		return -1;
	for (; i < n - 1; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return -1;
	return 0;
}

/* Takes bytes of a line (chunk size or trailer) into p->line; returns how
 * many it used and sets *done when the line ended.  Strict, *bare is set
 * when the line ended in an LF without a CR before it. */
static size_t
feed_line(struct http_parser *p, const unsigned char *b, size_t n,
    int *done, int *toolong, int *bare)
{
	const unsigned char *nl = memchr(b, '\n', n);
	size_t take = nl != NULL ? (size_t)(nl - b) + 1 : n, keep;

	*done = nl != NULL;
	*toolong = 0;
	*bare = 0;
	if (p->strict) {
		if (nl != NULL)
			*bare = !(take >= 2 ? b[take - 2] == '\r' : p->prevcr);
		p->prevcr = nl == NULL && take > 0 && b[take - 1] == '\r';
	}
	keep = take - (nl != NULL ? 1 : 0);
	if (p->linelen + keep >= sizeof(p->line)) {
		/* Its start is kept: a long trailer line must not look
		 * empty, the end of the trailers, because it came whole. */
		*toolong = 1;
		keep = sizeof(p->line) - 1 - p->linelen;
	}
	memcpy(p->line + p->linelen, b, keep);
	p->linelen += keep;
	p->line[p->linelen] = '\0';
	return take;
}

void
http_conn_feed(struct http_conn *hc, enum http_dir d, const unsigned char *b,
    size_t n)
{
	struct http_parser *p = &hc->p[d];
	size_t take;
	int done, toolong, bare;

	while (n > 0) {
		switch (p->state) {
		case S_HEAD:
			take = feed_head(hc, p, b, n);
			break;
		case S_LENGTH:
		case S_CHUNK_DATA:
			take = n < p->remain ? n : (size_t)p->remain;
			raw(hc, p, b, take);
			body(hc, p, b, take);
			p->remain -= take;
			if (p->remain == 0) {
				if (p->state == S_LENGTH)
					end_msg(hc, p, HTTP_END_OK);
				else {
					p->state = S_CHUNK_CRLF;
					p->linelen = 0;
				}
			}
			break;
		case S_EOFBODY:
			take = n;
			raw(hc, p, b, take);
			body(hc, p, b, take);
			break;
		case S_CHUNK_SIZE:
			take = feed_line(p, b, n, &done, &toolong, &bare);
			raw(hc, p, b, take);
			if (toolong) {
				go_raw(hc, p, "chunk size line too long");
				break;
			}
			if (!done)
				break;
			if (bare) {
				go_raw(hc, p, "bare LF in the chunked framing");
				break;
			}
			if (parse_chunk_size(p->line, &p->remain) == -1 ||
			    (p->strict && strict_chunk_line(p->line) == -1)) {
				go_raw(hc, p, "bad chunk size");
				break;
			}
			p->linelen = 0;
			p->state = p->remain == 0 ? S_TRAILER : S_CHUNK_DATA;
			break;
		case S_CHUNK_CRLF:
			take = feed_line(p, b, n, &done, &toolong, &bare);
			raw(hc, p, b, take);
			if (toolong || bare || (done && strcmp(p->line, "") !=
			    0 && strcmp(p->line, "\r") != 0)) {
				go_raw(hc, p, "no CRLF after a chunk");
				break;
			}
			if (done) {
				p->linelen = 0;
				p->state = S_CHUNK_SIZE;
			}
			break;
		case S_TRAILER:
			/* Trailer fields are passed over: their line may be
			 * long, so only its start is kept. */
			take = feed_line(p, b, n, &done, &toolong, &bare);
			raw(hc, p, b, take);
			if (toolong)
				p->linelen = sizeof(p->line) - 1;
			if (!done)
				break;
			if (bare) {
				go_raw(hc, p, "bare LF in the chunked framing");
				break;
			}
			if (strcmp(p->line, "") == 0 ||
			    strcmp(p->line, "\r") == 0)
				end_msg(hc, p, HTTP_END_OK);
			else
				p->head.ntrailer++;
			p->linelen = 0;
			break;
		default:	/* S_RAW, S_DONE */
			take = n;
			raw(hc, p, b, take);
			break;
		}
		b += take;
		n -= take;
	}
}

void
http_conn_eof(struct http_conn *hc, enum http_dir d)
{
	struct http_parser *p = &hc->p[d];

	if (p->state == S_EOFBODY)
		end_msg(hc, p, HTTP_END_EOF);
	else if (p->in_msg && hc->cb->end != NULL)
		hc->cb->end(hc->arg, d, p->state == S_HEAD ? NULL : &p->head,
		    HTTP_END_TRUNCATED);
	p->in_msg = 0;
	p->state = S_DONE;
}
