/* fuzz_proxy.c - libFuzzer target: the request head of --proxy (relay/preq.c)
 * on any bytes, found and parsed as proxy.c does.  What the parser accepts
 * must point into the head and name a usable host and port; its origin-form
 * rewrite must fit the proxy's buffer and be framed by http.c as the parser
 * said it would be. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "preq.h"

#define HEAD_MAX	(64 * 1024)	/* as in proxy.c */
/* Our Via token, as proxy.c makes it. */
#define TOKEN		"tcpmon-0123456789abcdef"
/* The rewrite is at most this much longer than the head: "/" before a
 * bare query, "Host: " for "http://", a Via and a Connection line. */
#define GROWTH		(2 + sizeof("Via: 1.1 " TOKEN "\r\n") - 1 + \
			    sizeof("Connection: keep-alive\r\n") - 1)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct http_head got;
static int ngot, wentraw;

static void
on_head(void *a, const struct http_head *h)
{
	(void)a;
	if (ngot++ == 0)
		got = *h;	/* the strings live until the parser is freed */
}

static void
on_notraw(void *a, enum http_dir d, const char *why)
{
	(void)a;
	(void)d;
	(void)why;
	wentraw = 1;
}

static const struct http_callbacks cbs = { NULL, on_head, NULL, NULL,
    on_notraw };

static const char *find_header(const char *, size_t, const char *,
    size_t *);

/* The request body after an accepted head, as the proxy frames it. */
static size_t bodyraw;
static int bodyend, bodybad;

static void
b_raw(void *a, enum http_dir d, const unsigned char *b, size_t n)
{
	(void)a;
	(void)d;
	(void)b;
	if (!bodyend && !bodybad)
		bodyraw += n;
}

static void
b_end(void *a, enum http_dir d, const struct http_head *h, enum http_end e)
{
	(void)a;
	(void)d;
	(void)h;
	(void)e;
	bodyend++;
}

static void
b_notraw(void *a, enum http_dir d, const char *why)
{
	(void)a;
	(void)d;
	(void)why;
	bodybad = 1;
}

static const struct http_callbacks bcbs = { b_raw, NULL, NULL, b_end,
    b_notraw };

/*
 * Strict framing of the body (as proxy.c sets it): the same verdict and
 * the same end however the bytes are cut (a CR at the end of one read,
 * its LF in the next).
 */
static void
check_body(const struct preq *q, const unsigned char *b, size_t n)
{
	static char o[HEAD_MAX + 1024];
	struct http_conn hc;
	size_t len, raw1, i;
	int end1, bad1;

	if (q->connect || preq_build(q, TOKEN, o, sizeof(o), &len) == -1)
		return;
	http_conn_init(&hc, &bcbs, NULL);
	hc.p[HTTP_REQ].strict = 1;
	http_conn_feed(&hc, HTTP_REQ, (unsigned char *)o, len);
	bodyraw = 0;
	bodyend = bodybad = 0;
	http_conn_feed(&hc, HTTP_REQ, b, n);
	http_conn_free(&hc);
	raw1 = bodyraw;
	end1 = bodyend;
	bad1 = bodybad;
	if (end1 == 0 && !bad1 && raw1 != n)
		abort();

	http_conn_init(&hc, &bcbs, NULL);
	hc.p[HTTP_REQ].strict = 1;
	http_conn_feed(&hc, HTTP_REQ, (unsigned char *)o, len);
	bodyraw = 0;
	bodyend = bodybad = 0;
	for (i = 0; i < n && !bodybad; i++)
		http_conn_feed(&hc, HTTP_REQ, b + i, 1);
	http_conn_free(&hc);
	if ((bodyend > 0) != (end1 > 0) || bodybad != bad1 ||
	    (end1 > 0 && !bad1 && bodyraw != raw1))
		abort();
}

static int
within(const char *p, size_t n, const char *s, size_t sn)
{
	return p != NULL && p >= s && n <= sn && p - s <= (ptrdiff_t)(sn - n);
}

static int
hop_by_hop(const char *name)
{
	static const char *hop[] = { "Proxy-Connection", "Keep-Alive",
	    "Proxy-Authorization", "Proxy-Authenticate", "TE", "Trailer",
	    "Upgrade" };
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcasecmp(name, hop[i]) == 0)
			return 1;
	return 0;
}

/* The value of the first header called name in head s, by a scan of our
 * own rather than preq.c's; NULL when there is none. */
static const char *
find_header(const char *s, size_t n, const char *name, size_t *vl)
{
	const char *l, *eol, *end = s + n - 2, *c;
	size_t nl = strlen(name);

	l = memmem(s, n, "\r\n", 2) + 2;
	for (; l < end; l = eol + 2) {
		eol = memmem(l, (size_t)(end - l) + 2, "\r\n", 2);
		if ((size_t)(eol - l) > nl && l[nl] == ':' &&
		    strncasecmp(l, name, nl) == 0) {
			for (c = l + nl + 1; *c == ' ' || *c == '\t'; c++)
				;
			*vl = (size_t)(eol - c);
			while (*vl > 0 && (c[*vl - 1] == ' ' ||
			    c[*vl - 1] == '\t'))
				(*vl)--;
			return c;
		}
	}
	return NULL;
}

/* Whether a Via line of head s holds TOKEN, by a scan of our own. */
static int
has_token(const char *s, size_t n)
{
	const char *l, *eol, *end = s + n - 2;

	l = memmem(s, n, "\r\n", 2) + 2;
	for (; l < end; l = eol + 2) {
		eol = memmem(l, (size_t)(end - l) + 2, "\r\n", 2);
		if (eol - l > 4 && strncasecmp(l, "Via:", 4) == 0 &&
		    memmem(l + 4, (size_t)(eol - l - 4), TOKEN,
		    sizeof(TOKEN) - 1) != NULL)
			return 1;
	}
	return 0;
}

/* The origin-form head of an accepted request, through http.c. */
static void
check_rewrite(const char *s, size_t n, const struct preq *q)
{
	static char o[HEAD_MAX + 1024];
	char line[HEAD_MAX + 64], path[HEAD_MAX + 2];
	struct http_conn hc;
	const char *cl;
	size_t len, vl, i;
	int plausible, k, nhost = 0;

	if (preq_build(q, TOKEN, o, n + GROWTH + 1, &len) == -1)
		abort();
	if (len > n + GROWTH || len < 4 || preq_head_end((unsigned char *)o,
	    len) != len || memcmp(o + len - 4, "\r\n\r\n", 4) != 0)
		abort();
	snprintf(path, sizeof(path), "%s%.*s", q->plen == 0 ||
	    q->path[0] == '?' ? "/" : "", (int)q->plen, q->path);
	snprintf(line, sizeof(line), "%.*s %s HTTP/1.%d\r\nHost: %.*s\r\n",
	    (int)q->mlen, q->method, path, q->minor, (int)q->alen, q->auth);
	if (strncmp(o, line, strlen(line)) != 0)
		abort();

	/* http.c takes only upper-case methods of up to 31 bytes for HTTP;
	 * the proxy refuses the others as not HTTP, so they end the
	 * connection after one exchange. */
	plausible = q->mlen < 32;
	for (i = 0; i < q->mlen; i++)
		if (!((q->method[i] >= 'A' && q->method[i] <= 'Z') ||
		    q->method[i] == '-' || q->method[i] == '_'))
			plausible = 0;
	ngot = wentraw = 0;
	http_conn_init(&hc, &cbs, NULL);
	http_conn_feed(&hc, HTTP_REQ, (unsigned char *)o, len);
	if (plausible && (wentraw || ngot != 1))
		abort();
	if (ngot == 1) {
		if (strlen(got.method) != q->mlen || memcmp(got.method,
		    q->method, q->mlen) != 0 || strcmp(got.target, path) != 0 ||
		    got.minor != q->minor)
			abort();
		for (k = 0; k < got.nheader; k++) {
			if (strcasecmp(got.header[k].name, "Host") == 0) {
				nhost++;
				if (strlen(got.header[k].value) != q->alen ||
				    memcmp(got.header[k].value, q->auth,
				    q->alen) != 0)
					abort();
			}
			if (hop_by_hop(got.header[k].name))
				abort();
			if (strcasecmp(got.header[k].name, "Connection") ==
			    0 && strcmp(got.header[k].value, "close") != 0 &&
			    strcmp(got.header[k].value, "keep-alive") != 0)
				abort();
		}
		if (nhost != 1)
			abort();
		/* Our mark comes last of the Via headers. */
		for (k = got.nheader - 1; k >= 0; k--)
			if (strcasecmp(got.header[k].name, "Via") == 0)
				break;
		snprintf(line, sizeof(line), "1.%d " TOKEN, q->minor);
		if (k < 0 || strcmp(got.header[k].value, line) != 0)
			abort();
		/* The body is framed as the proxy read the client's head. */
		if (find_header(s, n, "Transfer-Encoding", &vl) != NULL) {
			if (got.body != HTTP_BODY_CHUNKED)
				abort();
		} else if ((cl = find_header(s, n, "Content-Length", &vl)) !=
		    NULL) {
			if (got.body != (strspn(cl, "0") >= vl ?
			    HTTP_BODY_NONE : HTTP_BODY_LENGTH) ||
			    (got.body == HTTP_BODY_LENGTH &&
			    got.length != strtoull(cl, NULL, 10)))
				abort();
		} else if (got.body != HTTP_BODY_NONE)
			abort();
	}
	http_conn_free(&hc);
}

static void
check(const char *s, size_t n, const struct preq *q)
{
	const char *end = s + n - 2, *reqend;
	unsigned long port;
	char pbuf[8], *e;
	size_t i, hl;
	int k;

	if (!within(q->method, q->mlen, s, n) || q->mlen == 0 ||
	    q->uri != q->method + q->mlen + 1 ||
	    !within(q->uri, q->ulen, s, n) ||
	    q->minor < 0 || q->minor > 1 || (q->keep != 0 && q->keep != 1))
		abort();
	if (q->connect) {
		if (q->auth != q->uri || q->alen != q->ulen || q->path != NULL)
			abort();
	} else if (q->auth != q->uri + 7 || q->path != q->auth + q->alen ||
	    q->path + q->plen != q->uri + q->ulen ||
	    (q->plen > 0 && q->path[0] != '/' && q->path[0] != '?'))
		abort();
	/* A host getaddrinfo(3) can take, a port a socket can use. */
	hl = strnlen(q->host, sizeof(q->host));
	if (hl == 0 || hl == sizeof(q->host))
		abort();
	for (i = 0; i < hl; i++)
		if (!(http_tchar((unsigned char)q->host[i]) || q->host[i] == ':') ||
		    q->host[i] == '%')
			abort();
	if (strnlen(q->port, sizeof(q->port)) == sizeof(q->port))
		abort();
	port = strtoul(q->port, &e, 10);
	snprintf(pbuf, sizeof(pbuf), "%lu", port);
	if (*e != '\0' || port < 1 || port > 65535 ||
	    strcmp(pbuf, q->port) != 0)
		abort();
	reqend = memmem(s, n, "\r\n", 2);
	if (reqend != q->uri + q->ulen + 9 || q->lines != reqend + 2 ||
	    q->lines + q->lineslen != end)
		abort();
	if (q->nctok < 0 || q->nctok > PREQ_MAX_CONNTOK)
		abort();
	for (k = 0; k < q->nctok; k++)
		if (!within(q->ctok[k].p, q->ctok[k].n, q->lines, q->lineslen))
			abort();
	if (preq_via_has(q, TOKEN) != has_token(s, n))
		abort();
	/* No chunks in HTTP/1.0. */
	if (q->minor == 0 && find_header(s, n, "Transfer-Encoding", &i) !=
	    NULL)
		abort();
	if (!q->connect)
		check_rewrite(s, n, q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct preq q;
	size_t skip, hl;
	char *head;

	/* Any bytes at all: refused or accepted, never out of bounds. */
	if ((head = malloc(n > 0 ? n : 1)) == NULL)
		return 0;
	memcpy(head, data, n);
	if (preq_parse(head, n, &q) == NULL)
		check(head, n, &q);
	free(head);

	/* As proxy.c reads a client: empty lines skipped, a head of up to
	 * 64 KiB, exactly its bytes in memory so that ASan sees a read past
	 * them. */
	for (skip = 0; skip < n && (data[skip] == '\r' || data[skip] == '\n');
	    skip++)
		;
	data += skip;
	n -= skip;
	if ((hl = preq_head_end(data, n < HEAD_MAX ? n : HEAD_MAX)) == 0)
		return 0;
	if (hl > n || data[hl - 1] != '\n')
		abort();
	if ((head = malloc(hl)) == NULL)
		return 0;
	memcpy(head, data, hl);
	if (preq_parse(head, hl, &q) == NULL) {
		check(head, hl, &q);
		check_body(&q, data + hl, n - hl);
	}
	free(head);
	return 0;
}
