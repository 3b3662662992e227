/* fuzz_sendresp.c - libFuzzer target: tcpmon-send reading a server's answers
 * (send/exchange.c without its socket).  The first byte picks where the
 * bytes are cut and when the client sends; the second picks the request,
 * among those tcpmon-send makes (a held body for 100 Continue, HEAD,
 * CONNECT, pipelined, HTTP/1.0, chunked, not HTTP); the rest is what the
 * server says.  The loop of exchange.c is played here: send what may go,
 * read a piece, and on the final answer go on as -n does on a kept-alive
 * connection.  Body bytes must come from the piece just read, in order,
 * never more than a length says; counters must add up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "send.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define S(s)	{ (const unsigned char *)(s), sizeof(s) - 1, 0, 0 }
#define HELD(s)	{ (const unsigned char *)(s), sizeof(s) - 1, 0, 1 }

static const struct chunk p_get[] = {
	S("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: "
	    "tcpmon-send/0.1.0\r\nAccept: */*\r\n\r\n") };
static const struct chunk p_head[] = {
	S("HEAD /a.txt HTTP/1.1\r\nHost: h\r\n\r\n") };
static const struct chunk p_expect[] = {
	S("POST /soap HTTP/1.1\r\nHost: h\r\nContent-Type: text/xml; "
	    "charset=utf-8\r\nSOAPAction: \"urn:add\"\r\nExpect: 100-continue"
	    "\r\nContent-Length: 21\r\n\r\n"),
	HELD("<a>hello, world!</a>\n") };
static const struct chunk p_connect[] = {
	S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n") };
static const struct chunk p_pipelined[] = {
	S("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"),
	S("HEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n"
	    "Connection: close\r\n\r\n") };
static const struct chunk p_http10[] = {
	S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") };
static const struct chunk p_chunked[] = {
	S("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
	S(""),
	S("5\r\nhello\r\n0\r\n\r\n") };
static const struct chunk p_raw[] = {
	S("hello\n") };

static const struct { const struct chunk *c; int n; } plans[] = {
	{ p_get, 1 }, { p_head, 1 }, { p_expect, 2 }, { p_connect, 1 },
	{ p_pipelined, 2 }, { p_http10, 1 }, { p_chunked, 3 }, { p_raw, 1 }
};

/* What the callbacks saw. */
static struct {
	const struct plan *plan;
	const unsigned char *piece, *bodyat;	/* fed now; body so far */
	size_t piecelen;
	uint64_t fed, rcvd, sent, body, msgbody;
	int finals, ends, saw100;
} st;

static void
on_sent(void *a, struct xchg *x, const unsigned char *p, size_t n)
{
	const struct chunk *c = &st.plan->chunk[x->ci];

	(void)a;
	if (p != c->p + x->coff || n == 0 || n > c->len - x->coff)
		abort();
	st.sent += n;
}

static void
on_rcvd(void *a, struct xchg *x, const unsigned char *p, size_t n)
{
	(void)a;
	(void)x;
	if (p != st.piece || n != st.piecelen)
		abort();
	st.rcvd += n;
}

static void
on_head(void *a, struct xchg *x, const struct http_head *h)
{
	(void)a;
	(void)x;
	if (h->dir != HTTP_RESP || h->status < 100 || h->status > 599)
		abort();
	if (h->status >= 200)
		st.finals++;
	if (h->status == 100)
		st.saw100 = 1;
	st.msgbody = 0;
}

static void
on_body(void *a, struct xchg *x, const unsigned char *p, size_t n)
{
	(void)a;
	(void)x;
	/* Body bytes are taken where they lie, after the last ones. */
	if (n == 0 || p < st.piece || p + n > st.piece + st.piecelen ||
	    (st.bodyat != NULL && p < st.bodyat))
		abort();
	st.bodyat = p + n;
	st.body += n;
	st.msgbody += n;
}

static void
on_end(void *a, struct xchg *x, const struct http_head *h, enum http_end e)
{
	(void)a;
	(void)x;
	if (h == NULL) {
		if (e != HTTP_END_TRUNCATED)
			abort();
		return;
	}
	if (h->status < 200)
		abort();	/* 1xx are not the answer */
	st.ends++;
	if (h->body == HTTP_BODY_LENGTH && (e == HTTP_END_OK ?
	    st.msgbody != h->length : st.msgbody >= h->length))
		abort();
	if (h->body != HTTP_BODY_LENGTH && h->body != HTTP_BODY_CHUNKED &&
	    h->body != HTTP_BODY_EOF && st.msgbody != 0)
		abort();
	if (e == HTTP_END_EOF && h->body != HTTP_BODY_EOF)
		abort();
}

static const struct xchg_ops ops = {
	.sent = on_sent, .rcvd = on_rcvd, .head = on_head, .body = on_body,
	.end = on_end
};

static unsigned
next(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static struct xchg x;
	struct plan pl;
	const struct chunk *c;
	size_t off = 0, k;
	unsigned seed;
	int resends = 0, timedout = 0, eof = 0;

	if (n < 2)
		return 0;
	seed = data[0];
	memset(&pl, 0, sizeof(pl));
	pl.chunk = (struct chunk *)plans[data[1] % 8].c;
	pl.nchunk = plans[data[1] % 8].n;
	data += 2;
	n -= 2;
	memset(&st, 0, sizeof(st));
	st.plan = &pl;
	xchg_reset(&x, &pl, 0, 0, &ops, NULL);
	for (;;) {
		/* pump(): what may go, in pieces; a held body waits for
		 * 100 Continue, or for the second that xchg_tick gives it. */
		while (x.ci < pl.nchunk && !(next(&seed) % 4 == 0 &&
		    off < n)) {
			c = &pl.chunk[x.ci];
			if (x.coff == 0 && c->wait100 && !x.go100)
				break;
			if (c->len == 0) {
				x.ci++;
				continue;
			}
			k = 1 + next(&seed) % (c->len - x.coff);
			xchg_sent(&x, k);
		}
		if (xchg_answered(&x)) {
			/* on_idle of -n: the same request again on a
			 * connection the answer keeps open. */
			if (!x.keepalive || resends == 3 || off == n)
				break;
			resends++;
			x.ci = 0;
			x.coff = 0;
			x.go100 = 0;
			continue;
		}
		if (off == n) {
			if (x.ci < pl.nchunk) {
				/* xchg_tick: no 100 Continue within the
				 * second, the body goes anyway. */
				x.go100 = 1;
				timedout = 1;
				continue;
			}
			/* drain(): the server closed. */
			http_conn_eof(&x.hc, HTTP_RESP);
			eof = 1;
			break;
		}
		/* drain(): one read. */
		k = 1 + next(&seed) % 13;
		if (k > n - off)
			k = n - off;
		st.piece = data + off;
		st.piecelen = k;
		st.bodyat = NULL;
		(void)xchg_rcvd(&x, data + off, k);
		off += k;
	}

	if (x.s2c != off || st.rcvd != off || st.body > off ||
	    x.c2s != st.sent || x.nfinal != st.finals)
		abort();
	/* A body held for 100 Continue goes after it, or after the
	 * second; after a final answer that came first, never. */
	if (x.go100 && !st.saw100 && !timedout)
		abort();
	if (x.skipped && (x.keepalive || x.ci != pl.nchunk ||
	    st.finals == 0))
		abort();
	/* Every final answer ends, once, unless it broke the rules. */
	if (st.ends > st.finals || (eof && st.ends != st.finals &&
	    x.resp_raw == NULL))
		abort();
	xchg_free(&x);
	return 0;
}
