/* preq.c - the request head of --proxy, as bytes: where it ends, a strict
 * parse of it, and the origin-form head that goes on to the server.  No
 * sockets and no state here, so that the fuzzer runs it as proxy.c does. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "preq.h"
#include "util.h"

static int
ieq(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && strncasecmp(p, s, n) == 0;
}

size_t
preq_head_end(const unsigned char *b, size_t n)
{
	const unsigned char *nl;

	for (nl = b; (nl = memchr(nl, '\n', n - (size_t)(nl - b))) != NULL;
	    nl++) {
		if (nl + 1 < b + n && nl[1] == '\n')
			return (size_t)(nl - b) + 2;
		if (nl + 2 < b + n && nl[1] == '\r' && nl[2] == '\n')
			return (size_t)(nl - b) + 3;
	}
	return 0;
}

/* Splits host[:port] (host may be [v6]) into q->host and q->port. */
static const char *
parse_authority(const char *a, size_t n, int need_port, struct preq *q)
{
	const char *hend, *colon = NULL, *start = a;
	size_t hl, i;
	uint64_t port;
	const char *e;
	char pbuf[8];

	if (n == 0)
		return "no host";
	if (a[0] == '[') {
		if ((hend = memchr(a, ']', n)) == NULL)
			return "unclosed [ in the host";
		hl = (size_t)(hend - a) - 1;
		if (hend + 1 < a + n) {
			if (hend[1] != ':')
				return "bad host";
			colon = hend + 1;
		}
		a++;
	} else {
		colon = memchr(a, ':', n);
		hl = colon != NULL ? (size_t)(colon - a) : n;
		if (memchr(a, '@', n) != NULL)
			return "user information in the URI";
	}
	if (hl == 0 || hl >= sizeof(q->host))
		return "bad host";
	for (i = 0; i < hl; i++)
		if (!(http_tchar((unsigned char)a[i]) || a[i] == ':') ||
		    a[i] == '%')
			return "bad host";
	memcpy(q->host, a, hl);
	q->host[hl] = '\0';
	if (colon == NULL) {
		if (need_port)
			return "no port";
		strcpy(q->port, "80");
		return NULL;
	}
	i = (size_t)(start + n - colon - 1);
	if (i == 0 || i >= sizeof(pbuf))
		return "bad port";
	memcpy(pbuf, colon + 1, i);
	pbuf[i] = '\0';
	if (num_parse(pbuf, 1, 65535, &port, &e) == -1 || pbuf[0] == '0' ||
	    strpbrk(pbuf, "kmgKMG") != NULL)
		return "bad port";
	snprintf(q->port, sizeof(q->port), "%llu", (unsigned long long)port);
	return NULL;
}

/* Whether header line l (without CRLF) is name: with the value in *v. */
static int
header_split(const char *l, size_t n, const char **name, size_t *nl,
    const char **v, size_t *vl)
{
	const char *c = memchr(l, ':', n);
	size_t i;

	if (c == NULL || c == l)
		return -1;
	for (i = 0; l + i < c; i++)
		if (!http_tchar((unsigned char)l[i]))
			return -1;
	*name = l;
	*nl = (size_t)(c - l);
	c++;
	while (c < l + n && (*c == ' ' || *c == '\t'))
		c++;
	*v = c;
	*vl = (size_t)(l + n - c);
	while (*vl > 0 && (c[*vl - 1] == ' ' || c[*vl - 1] == '\t'))
		(*vl)--;
	for (i = 0; i < *vl; i++)
		if ((unsigned char)c[i] < 0x20 && c[i] != '\t')
			return -1;
	return 0;
}

/* Walks the tokens of a comma-separated value. */
static int
next_token(const char **v, const char *end, const char **t, size_t *tl)
{
	const char *s = *v, *e;

	while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
		s++;
	if (s >= end)
		return 0;
	for (e = s; e < end && *e != ','; e++)
		;
	*t = s;
	*tl = (size_t)(e - s);
	while (*tl > 0 && (s[*tl - 1] == ' ' || s[*tl - 1] == '\t'))
		(*tl)--;
	*v = e;
	return 1;
}

/* The request line, s to eol: method, target and version; the authority
 * of a CONNECT, or of an absolute http:// URL with its path. */
static const char *
parse_start(const char *s, const char *eol, struct preq *q)
{
	const char *sp1, *sp2, *why;
	size_t i;

	if ((sp1 = memchr(s, ' ', (size_t)(eol - s))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return "bad request line";
	q->method = s;
	q->mlen = (size_t)(sp1 - s);
	for (i = 0; i < q->mlen; i++)
		if (!http_tchar((unsigned char)s[i]))
			return "bad method";
	if (q->mlen == 0)
		return "bad method";
	q->uri = sp1 + 1;
	q->ulen = (size_t)(sp2 - q->uri);
	for (i = 0; i < q->ulen; i++)
		if ((unsigned char)q->uri[i] <= 0x20 ||
		    (unsigned char)q->uri[i] >= 0x7f || q->uri[i] == '#')
			return "bad character in the request target";
	if (eol - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return "not HTTP/1.0 or HTTP/1.1";
	q->minor = sp2[8] - '0';
	q->connect = ieq(q->method, q->mlen, "CONNECT");
	if (q->connect) {
		q->auth = q->uri;
		q->alen = q->ulen;
		if ((why = parse_authority(q->auth, q->alen, 1, q)) != NULL)
			return why;
	} else {
		if (q->ulen >= 8 && strncasecmp(q->uri, "https://", 8) == 0)
			return "https:// URLs go through CONNECT";
		if (q->ulen < 7 || strncasecmp(q->uri, "http://", 7) != 0)
			return "not an absolute http:// URL (this is a proxy)";
		q->auth = q->uri + 7;
		for (i = 0; i < q->ulen - 7 && q->auth[i] != '/' &&
		    q->auth[i] != '?'; i++)
			;
		q->alen = i;
		q->path = q->auth + i;
		q->plen = q->ulen - 7 - i;
		if ((why = parse_authority(q->auth, q->alen, 0, q)) != NULL)
			return why;
	}
	return NULL;
}

/*
 * Strictly: a proxy that guessed would frame a body differently from the
 * server behind it.  A head as preq_head_end finds it ends in a newline;
 * one that does not end in CRLF CRLF has a bare LF, and is refused for it
 * before the last check below is reached.
 */
const char *
preq_parse(const char *s, size_t n, struct preq *q)
{
	const char *end, *eol, *name, *v, *t, *ve, *why;
	size_t nl, vl, tl, i;
	int hosts = 0, te = 0, cl = 0, close_tok = 0, keep_tok = 0;
	int fields = 0;
	const char *clv = NULL;
	size_t clvl = 0;

	memset(q, 0, sizeof(*q));
	q->status = 400;
	for (i = 0; i < n; i++)
		if (s[i] == '\0' || (s[i] == '\n' && (i == 0 ||
		    s[i - 1] != '\r')) || (s[i] == '\r' && (i + 1 == n ||
		    s[i + 1] != '\n')))
			return "bare CR, LF or NUL in the head";
	if (n < 4 || memcmp(s + n - 4, "\r\n\r\n", 4) != 0)
		return "no empty line at the end of the head";
	end = s + n - 2;
	eol = memmem(s, (size_t)(end - s) + 2, "\r\n", 2);
	if ((why = parse_start(s, eol, q)) != NULL)
		return why;
	q->lines = eol + 2;
	q->lineslen = (size_t)(end - q->lines);
	for (s = q->lines; s < end; s = eol + 2) {
		eol = memmem(s, (size_t)(end - s) + 2, "\r\n", 2);
		_Static_assert(PREQ_MAX_FIELDS == 125, "the reason names it");
		if (++fields > PREQ_MAX_FIELDS) {
			q->status = 431;
			return "request head with more than 125 header fields";
		}
		if (*s == ' ' || *s == '\t')
			return "folded header line";
		if (header_split(s, (size_t)(eol - s), &name, &nl, &v,
		    &vl) == -1)
			return "bad header line";
		ve = v + vl;
		if (ieq(name, nl, "Host"))
			hosts++;
		else if (ieq(name, nl, "Content-Length")) {
			for (i = 0; i < vl; i++)
				if (v[i] < '0' || v[i] > '9')
					return "bad Content-Length";
			if (vl == 0 || vl > 15 || (clv != NULL && (vl != clvl ||
			    memcmp(v, clv, vl) != 0)))
				return "bad Content-Length";
			clv = v;
			clvl = vl;
			cl = 1;
		} else if (ieq(name, nl, "Transfer-Encoding")) {
			/* Only chunked, last, frames a request body; an
			 * empty list frames nothing. */
			te++;
			if (!next_token(&v, ve, &t, &tl))
				return "unsupported Transfer-Encoding";
			do
				if (!ieq(t, tl, "chunked") || v < ve)
					return "unsupported Transfer-Encoding";
			while (next_token(&v, ve, &t, &tl));
		} else if (ieq(name, nl, "Connection") ||
		    ieq(name, nl, "Proxy-Connection")) {
			while (next_token(&v, ve, &t, &tl)) {
				if (ieq(t, tl, "close"))
					close_tok = 1;
				else if (ieq(t, tl, "keep-alive"))
					keep_tok = 1;
				if (q->nctok == PREQ_MAX_CONNTOK)
					return "too many Connection options";
				q->ctok[q->nctok].p = t;
				q->ctok[q->nctok++].n = tl;
			}
		}
	}
	if (te > 1)
		return "more than one Transfer-Encoding";
	if (te && cl)
		return "both Transfer-Encoding and Content-Length";
	/* HTTP/1.0 has no chunks: a 1.0 server would read the body as
	 * ending with the connection (RFC 9112 6.1). */
	if (te && q->minor == 0)
		return "Transfer-Encoding in an HTTP/1.0 request";
	if (q->minor == 1 && hosts != 1)
		return hosts ? "more than one Host" : "no Host header";
	q->keep = q->minor == 1 ? !close_tok : keep_tok && !close_tok;
	return NULL;
}

/* Whether a header goes on to the server: the hop-by-hop ones stay. */
static int
end_to_end(const struct preq *q, const char *name, size_t nl)
{
	static const char *hop[] = { "Connection", "Proxy-Connection",
	    "Keep-Alive", "Proxy-Authorization", "Proxy-Authenticate", "TE",
	    "Trailer", "Upgrade", "Host" };
	size_t i;
	int j;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (ieq(name, nl, hop[i]))
			return 0;
	for (j = 0; j < q->nctok; j++)
		if (q->ctok[j].n == nl && strncasecmp(q->ctok[j].p, name,
		    nl) == 0 && !ieq(name, nl, "Transfer-Encoding") &&
		    !ieq(name, nl, "Content-Length"))
			return 0;
	return 1;
}

int
preq_via_has(const struct preq *q, const char *token)
{
	const char *s, *eol, *end = q->lines + q->lineslen, *name, *v;
	size_t nl, vl, tl = strlen(token);

	for (s = q->lines; s < end; s = eol + 2) {
		eol = memmem(s, (size_t)(end - s) + 2, "\r\n", 2);
		if (header_split(s, (size_t)(eol - s), &name, &nl, &v,
		    &vl) == 0 && ieq(name, nl, "Via") && tl > 0 &&
		    memmem(v, vl, token, tl) != NULL)
			return 1;
	}
	return 0;
}

int
preq_build(const struct preq *q, const char *token, char *o, size_t room,
    size_t *lenp)
{
	const char *s, *eol, *end = q->lines + q->lineslen, *name, *v;
	size_t nl, vl, len = 0;
	int n;

#define PUT(...) do {							\
	n = snprintf(o + len, room - len, __VA_ARGS__);			\
	if (n < 0 || (size_t)n >= room - len)				\
		return -1;						\
	len += (size_t)n;						\
} while (0)
	/* http://host and http://host?x are / and /?x. */
	PUT("%.*s %s%.*s HTTP/1.%d\r\nHost: %.*s\r\n", (int)q->mlen,
	    q->method, q->plen == 0 || q->path[0] == '?' ? "/" : "",
	    (int)q->plen, q->path, q->minor, (int)q->alen, q->auth);
	for (s = q->lines; s < end; s = eol + 2) {
		eol = memmem(s, (size_t)(end - s) + 2, "\r\n", 2);
		(void)header_split(s, (size_t)(eol - s), &name, &nl, &v, &vl);
		if (end_to_end(q, name, nl))
			PUT("%.*s\r\n", (int)(eol - s), s);
	}
	/* Our mark (RFC 9110 7.6.3), by which a request that comes round
	 * again is known. */
	if (token != NULL)
		PUT("Via: 1.%d %s\r\n", q->minor, token);
	if (!q->keep && q->minor == 1)
		PUT("Connection: close\r\n");
	else if (q->keep && q->minor == 0)
		PUT("Connection: keep-alive\r\n");
	PUT("\r\n");
#undef PUT
	*lenp = len;
	return 0;
}
