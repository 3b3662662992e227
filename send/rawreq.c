/* rawreq.c - a raw request file looked at before it is sent: read as a
 * server will read it (common/http.c), so that a head that never ends or a
 * body its Content-Length or chunks do not cover is refused instead of
 * being answered with a puzzling fault; --fix-length's correction; and a
 * client's bytes cut into its requests, for --replay --exchange.  Nothing
 * here exits or prints: tests/fuzz/fuzz_sendreq.c calls it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "send.h"

/* What the parser said of the requests in some bytes. */
struct scan {
	uint64_t	 want;		/* the request looked at, 1-based */
	size_t		 off;		/* bytes reported so far */
	uint64_t	 heads, ends;
	size_t		 start, head_end, end;	/* of request want */
	int		 ended, truncated;
	enum http_body	 body;
	uint64_t	 length;
	int		 has_cl;
	const char	*why;		/* the bytes turned raw */
	uint64_t	 why_heads;	/* heads seen when they did */
};

static void
sc_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct scan *s = arg;

	(void)d;
	(void)p;
	s->off += n;
}

static void
sc_head(void *arg, const struct http_head *h)
{
	struct scan *s = arg;
	int i;

	if (++s->heads != s->want)
		return;
	/* The head's bytes have been reported; empty lines before it were
	 * passed over and are not part of it. */
	s->start = s->off - h->rawlen;
	s->head_end = s->off;
	s->body = h->body;
	s->length = h->length;
	for (i = 0; i < h->nheader; i++)
		if (strcasecmp(h->header[i].name, "Content-Length") == 0)
			s->has_cl = 1;
}

static void
sc_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end e)
{
	struct scan *s = arg;

	(void)d;
	if (e == HTTP_END_TRUNCATED && h == NULL)
		return;		/* inside a head: heads did not count it */
	if (++s->ends != s->want)
		return;
	s->ended = 1;
	s->truncated = e == HTTP_END_TRUNCATED;
	s->end = s->off;
}

static void
sc_notraw(void *arg, enum http_dir d, const char *why)
{
	struct scan *s = arg;

	(void)d;
	if (s->why == NULL) {
		s->why = why;
		s->why_heads = s->heads;
	}
}

static const struct http_callbacks scan_cbs = {
	.raw = sc_raw,
	.head = sc_head,
	.end = sc_end,
	.notraw = sc_notraw,
};

static void
scan(const unsigned char *p, size_t n, uint64_t want, struct scan *s)
{
	struct http_conn hc;

	memset(s, 0, sizeof(*s));
	s->want = want;
	http_conn_init(&hc, &scan_cbs, s);
	http_conn_feed(&hc, HTTP_REQ, p, n);
	http_conn_eof(&hc, HTTP_REQ);
	http_conn_free(&hc);
}

/* Only line ends: what a server passes over between requests (an editor's
 * last newline after a request without a body). */
static int
only_eols(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

const char *
rawreq_check(const unsigned char *p, size_t n, struct rawreq *rr, char *msg,
    size_t msglen)
{
	struct scan s;
	size_t i;

	memset(rr, 0, sizeof(*rr));
	scan(p, n, 1, &s);
	if (s.heads == 0) {
		if (s.why != NULL)
			snprintf(msg, msglen, "not a valid HTTP/1.x request "
			    "(%s)", s.why);
		else if (!only_eols(p, n))
			snprintf(msg, msglen, "no empty line ends the head");
		else
			snprintf(msg, msglen, "no request in it");
		return msg;
	}
	rr->head_len = s.head_end;
	rr->body_len = n - s.head_end;
	if (s.heads > 1) {
		/* The first request is framed right and another follows:
		 * --fix-length would take the second for the first's body. */
		rr->several = 1;
		snprintf(msg, msglen, "more than one request in it");
		return msg;
	}
	for (i = s.start; i < s.head_end; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			rr->bare_lf = 1;
	switch (s.body) {
	case HTTP_BODY_NONE:
		if (only_eols(p + s.head_end, rr->body_len))
			return NULL;
		if (s.has_cl)
			snprintf(msg, msglen, "Content-Length says 0 but the "
			    "body has %zu bytes", rr->body_len);
		else
			snprintf(msg, msglen, "no Content-Length but the "
			    "body has %zu bytes", rr->body_len);
		return msg;
	case HTTP_BODY_LENGTH:
		if (s.length == rr->body_len)
			return NULL;
		snprintf(msg, msglen, "Content-Length says %llu but the body "
		    "has %zu bytes", (unsigned long long)s.length,
		    rr->body_len);
		return msg;
	case HTTP_BODY_CHUNKED:
		rr->chunked = 1;
		/* A server that reads the chunks and one that believes the
		 * length see two different requests. */
		if (s.has_cl)
			snprintf(msg, msglen, "both Content-Length and "
			    "Transfer-Encoding: chunked");
		else if (s.why != NULL && s.why_heads == 1)
			snprintf(msg, msglen, "the chunked body is bad (%s)",
			    s.why);
		else if (!s.ended || s.truncated)
			snprintf(msg, msglen, "the chunked body is cut: it "
			    "has no last chunk (0)");
		else if (!only_eols(p + s.end, n - s.end))
			snprintf(msg, msglen, "%zu bytes follow the last chunk",
			    n - s.end);
		else
			return NULL;
		return msg;
	default:	/* TUNNEL: CONNECT; then the bytes are the tunnel's */
		if (only_eols(p + s.head_end, rr->body_len))
			return NULL;
		snprintf(msg, msglen, "%zu bytes follow a CONNECT request",
		    rr->body_len);
		return msg;
	}
}

/* Whether a header line (without its line end) is NAME: ... */
static int
is_field(const unsigned char *p, size_t n, const char *name)
{
	size_t nl = strlen(name);

	return n > nl && p[nl] == ':' &&
	    strncasecmp((const char *)p, name, nl) == 0;
}

/* Whether a Transfer-Encoding line's last coding is chunked, as
 * common/http.c decides it. */
static int
ends_chunked(const unsigned char *p, size_t n)
{
	size_t e = n;

	while (e > 0 && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	if (e < 8 || strncasecmp((const char *)p + e - 7, "chunked", 7) != 0)
		return 0;
	return p[e - 8] == ':' || p[e - 8] == ' ' || p[e - 8] == '\t' ||
	    p[e - 8] == ',';
}

unsigned char *
rawreq_fix(const unsigned char *p, size_t n, size_t *outlen)
{
	size_t i = 0, ls, le, ce, body = n, blen, cap;
	int first = 1, chunked = 0, had_cl = 0, seen_te = 0;
	unsigned char *out, *o;

	/* Empty lines before the request line go. */
	while (i < n && (p[i] == '\r' || p[i] == '\n'))
		i++;
	/* Each line of the head gains at most a CR; then our
	 * Content-Length and the empty line. */
	cap = 2 * (n - i) + 64;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	o = out;
	for (ls = i; ls < n; ls = le + 1) {
		for (le = ls; le < n && p[le] != '\n'; le++)
			;
		ce = le > ls && le < n && p[le - 1] == '\r' ? le - 1 : le;
		if (ce == ls && le < n) {
			body = le + 1;		/* the empty line */
			break;
		}
		if (!first && is_field(p + ls, ce - ls, "Content-Length")) {
			had_cl = 1;
			continue;
		}
		if (!first && !seen_te &&
		    is_field(p + ls, ce - ls, "Transfer-Encoding")) {
			seen_te = 1;
			chunked = ends_chunked(p + ls, ce - ls);
		}
		first = 0;
		memcpy(o, p + ls, ce - ls);
		o += ce - ls;
		*o++ = '\r';
		*o++ = '\n';
		if (le == n)
			break;
	}
	if (body > n)
		body = n;
	blen = n - body;
	if (!chunked) {
		if (!had_cl && only_eols(p + body, blen))
			blen = 0;
		if (blen > 0 || had_cl)
			o += sprintf((char *)o, "Content-Length: %zu\r\n",
			    blen);
	}
	*o++ = '\r';
	*o++ = '\n';
	if (blen > 0)
		memcpy(o, p + body, blen);
	o += blen;
	*outlen = (size_t)(o - out);
	return out;
}

int
rawreq_find(const unsigned char *p, size_t n, uint64_t k, size_t *start,
    size_t *end, char *msg, size_t msglen)
{
	struct scan s;

	scan(p, n, k, &s);
	if (s.heads < k) {
		if (s.why != NULL)
			snprintf(msg, msglen, "request %llu is not HTTP (%s)",
			    (unsigned long long)s.why_heads + 1, s.why);
		else
			snprintf(msg, msglen, "the client sent %llu "
			    "request%s, not %llu", (unsigned long long)s.heads,
			    s.heads == 1 ? "" : "s", (unsigned long long)k);
		return -1;
	}
	*start = s.start;
	/* A request the capture cut, or one whose framing broke, goes as
	 * far as the client's bytes do. */
	*end = s.ended && !s.truncated ? s.end : n;
	return 0;
}
