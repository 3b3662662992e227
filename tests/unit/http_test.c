/* http_test.c - HTTP reassembly (common/http.c) and body decoding
 * (common/inflate.c): events must not depend on how the bytes are split. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http.h"
#include "inflate.h"
#include "t.h"

struct log {
	char	 ev[8192];	/* the events, as text */
	size_t	 nev;
	unsigned char raw[2][65536];	/* raw bytes per direction */
	size_t	 nraw[2];
};

static void
logf_(struct log *l, const char *s)
{
	size_t n = strlen(s);

	if (l->nev + n < sizeof(l->ev)) {
		memcpy(l->ev + l->nev, s, n + 1);
		l->nev += n;
	}
}

static void
cb_raw(void *a, enum http_dir d, const unsigned char *p, size_t n)
{
	struct log *l = a;

	memcpy(l->raw[d] + l->nraw[d], p, n);
	l->nraw[d] += n;
}

static void
cb_head(void *a, const struct http_head *h)
{
	char b[512];

	if (h->dir == HTTP_REQ)
		snprintf(b, sizeof(b), "[req %s %s %d]", h->method, h->target,
		    h->body);
	else
		snprintf(b, sizeof(b), "[resp %d %s %d]", h->status,
		    h->reason, h->body);
	logf_(a, b);
}

static void
cb_body(void *a, enum http_dir d, const unsigned char *p, size_t n)
{
	char b[2048];

	(void)d;
	snprintf(b, sizeof(b), "%.*s", (int)n, (const char *)p);
	logf_(a, b);
}

static void
cb_end(void *a, enum http_dir d, const struct http_head *h, enum http_end e)
{
	char b[64];

	snprintf(b, sizeof(b), "[end %d %d%s]", d, e, h ? "" : " nohead");
	logf_(a, b);
}

static void
cb_notraw(void *a, enum http_dir d, const char *why)
{
	char b[128];

	snprintf(b, sizeof(b), "[raw %d %s]", d, why);
	logf_(a, b);
}

static const struct http_callbacks cbs = {
	cb_raw, cb_head, cb_body, cb_end, cb_notraw
};

struct step {
	enum http_dir	 d;
	const char	*s;	/* NULL: end of that direction */
};

/* Runs the steps with every piece cut into chunks of at most split bytes
 * (0: whole). */
static void
run(const struct step *st, size_t split, struct log *l)
{
	struct http_conn hc;
	size_t n, off, k;

	memset(l, 0, sizeof(*l));
	http_conn_init(&hc, &cbs, l);
	for (; st->s != NULL || st->d != (enum http_dir)-1; st++) {
		if (st->s == NULL) {
			http_conn_eof(&hc, st->d);
			continue;
		}
		n = strlen(st->s);
		for (off = 0; off < n; off += k) {
			k = split == 0 ? n : (size_t)(rand() % (int)split) + 1;
			if (k > n - off)
				k = n - off;
			http_conn_feed(&hc, st->d, (const unsigned char *)st->s +
			    off, k);
		}
	}
	http_conn_free(&hc);
}

#define END { (enum http_dir)-1, NULL }

static void
check(const char *name, const struct step *st, const char *want)
{
	struct log whole, piece;
	size_t split, sent[2] = { 0, 0 };
	const struct step *s;
	int same = 1;

	run(st, 0, &whole);
	ok(strcmp(whole.ev, want) == 0, "%s: events", name);
	if (strcmp(whole.ev, want) != 0)
		printf("#   got  %s\n#   want %s\n", whole.ev, want);
	for (s = st; s->s != NULL || s->d != (enum http_dir)-1; s++)
		if (s->s != NULL)
			sent[s->d] += strlen(s->s);
	ok(whole.nraw[0] == sent[0] && whole.nraw[1] == sent[1],
	    "%s: every byte comes back raw", name);
	for (split = 1; split < 40 && same; split++) {
		run(st, split, &piece);
		same = piece.nraw[0] == whole.nraw[0] &&
		    piece.nraw[1] == whole.nraw[1] &&
		    memcmp(piece.raw[0], whole.raw[0], whole.nraw[0]) == 0 &&
		    memcmp(piece.raw[1], whole.raw[1], whole.nraw[1]) == 0;
	}
	ok(same, "%s: the same raw bytes in any pieces", name);
}

/* Events with bodies joined: split runs must give the same text. */
static void
check_splits(const char *name, const struct step *st)
{
	struct log whole, piece;
	size_t split;
	int iter, same = 1;

	run(st, 0, &whole);
	for (iter = 0; iter < 200 && same; iter++) {
		split = (size_t)(iter % 7) + 1;
		run(st, split, &piece);
		same = strcmp(piece.ev, whole.ev) == 0;
		if (!same)
			printf("# split %zu:\n#  %s\n#  %s\n", split, piece.ev,
			    whole.ev);
	}
	ok(same, "%s: the same events in any pieces", name);
}

static void
gz_out(void *a, const unsigned char *p, size_t n)
{
	struct log *l = a;

	memcpy(l->raw[0] + l->nraw[0], p, n);
	l->nraw[0] += n;
}

static void
test_inflate(void)
{
	static unsigned char plain[20000], comp[30000];
	struct inflater in;
	struct log l;
	z_stream z;
	const char *why = NULL;
	size_t i, clen;
	int rc = 0, bits;

	for (i = 0; i < sizeof(plain); i++)
		plain[i] = (unsigned char)("abcdefgh"[i % 8] + (i / 1000));
	for (bits = 0; bits < 3; bits++) {
		memset(&z, 0, sizeof(z));
		deflateInit2(&z, 6, Z_DEFLATED, bits == 0 ? 31 : bits == 1 ?
		    15 : -15, 8, Z_DEFAULT_STRATEGY);
		z.next_in = plain;
		z.avail_in = sizeof(plain);
		z.next_out = comp;
		z.avail_out = sizeof(comp);
		deflate(&z, Z_FINISH);
		clen = sizeof(comp) - z.avail_out;
		deflateEnd(&z);
		memset(&l, 0, sizeof(l));
		infl_init(&in, bits == 0 ? "gzip" : "deflate", 1 << 20);
		for (i = 0; i < clen; i += 7) {
			rc = infl_feed(&in, comp + i, clen - i < 7 ? clen - i :
			    7, gz_out, &l, &why);
			if (rc != 0)
				break;
		}
		infl_free(&in);
		ok(rc == 1 && l.nraw[0] == sizeof(plain) &&
		    memcmp(l.raw[0], plain, sizeof(plain)) == 0,
		    "inflate %s in 7-byte pieces", bits == 0 ? "gzip" :
		    bits == 1 ? "zlib deflate" : "raw deflate");
	}
	memset(&l, 0, sizeof(l));
	infl_init(&in, "gzip", 1000);
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = plain;
	z.avail_in = sizeof(plain);
	z.next_out = comp;
	z.avail_out = sizeof(comp);
	deflate(&z, Z_FINISH);
	clen = sizeof(comp) - z.avail_out;
	deflateEnd(&z);
	rc = infl_feed(&in, comp, clen, gz_out, &l, &why);
	infl_free(&in);
	ok(rc == -1 && strstr(why, "limit") != NULL && l.nraw[0] <= 1000,
	    "inflate stops at its output limit");
	infl_init(&in, "gzip", 1 << 20);
	rc = infl_feed(&in, (const unsigned char *)"not gzip at all", 15,
	    gz_out, &l, &why);
	infl_free(&in);
	ok(rc == -1, "inflate refuses data that is not gzip");
	ok(infl_init(&in, "br", 10) == -1, "an unknown coding is refused");
	{
		unsigned char *d;
		size_t dlen = 0;

		d = infl_decode("gzip", comp, clen, 1 << 20, &dlen, &why);
		ok(d != NULL && dlen == sizeof(plain) &&
		    memcmp(d, plain, dlen) == 0, "infl_decode: a whole body");
		free(d);
		d = infl_decode("gzip", comp, clen, 1000, &dlen, &why);
		ok(d == NULL && why != NULL && strstr(why, "limit") != NULL,
		    "infl_decode: over its limit, NULL and why");
		d = infl_decode("br", comp, clen, 1000, &dlen, &why);
		ok(d == NULL && strcmp(why, "unknown coding") == 0,
		    "infl_decode: an unknown coding");
	}
}

static int trailers = -1;

static void
cb_end_trailer(void *a, enum http_dir d, const struct http_head *h,
    enum http_end e)
{
	(void)a;
	(void)d;
	(void)e;
	trailers = h != NULL ? h->ntrailer : -2;
}

/* Trailer fields are counted, so that a tool that rewrites a message
 * knows it would lose them. */
/* The token test the tools share (a method, a header's name, -H). */
static void
test_token(void)
{
	ok(http_token("Content-Type", 12), "a header name is a token");
	ok(http_token("M-SEARCH", 8) && http_token("x!#$%&'*+-.^_`|~9", 17),
	    "every tchar of RFC 9110");
	ok(!http_token("", 0), "an empty token is none");
	ok(!http_token("Bad Name", 8) && !http_token("a:b", 3) &&
	    !http_token("a\"b", 3) && !http_token("(x)", 3),
	    "a space, a colon, a quote and brackets are no tchar");
	ok(!http_token("ab\0c", 4), "a NUL inside is no tchar");
	ok(!http_token("caf\xc3\xa9", 5), "a byte over 127 is no tchar");
	ok(http_token("GET /", 3), "only the first n bytes count");
}

static void
test_trailers(void)
{
	static const struct http_callbacks tcb = {
		NULL, NULL, NULL, cb_end_trailer, NULL
	};
	static const char with[] = "POST / HTTP/1.1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n1\r\na\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
	static const char without[] = "POST / HTTP/1.1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n1\r\na\r\n0\r\n\r\n";
	struct http_conn hc;
	size_t i;

	http_conn_init(&hc, &tcb, NULL);
	for (i = 0; i < sizeof(with) - 1; i++)
		http_conn_feed(&hc, HTTP_REQ, (const unsigned char *)with + i, 1);
	ok(trailers == 2, "two trailer fields are counted");
	http_conn_feed(&hc, HTTP_REQ, (const unsigned char *)without,
	    sizeof(without) - 1);
	ok(trailers == 0, "no trailer fields, none counted");
	http_conn_free(&hc);
}

int
main(void)
{
	static const struct step get[] = {
		{ HTTP_REQ, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" },
		END
	};
	static const struct step chunked[] = {
		{ HTTP_REQ, "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		    "A\r\n0123456789\r\n00\r\n\r\n" },
		END
	};
	static const struct step pipelined[] = {
		{ HTTP_REQ, "GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\n"
		    "GET /3 HTTP/1.1\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
		    "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
		    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n" },
		END
	};
	static const struct step cont[] = {
		{ HTTP_REQ, "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n"
		    "Content-Length: 2\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.1 100 Continue\r\n\r\n" },
		{ HTTP_REQ, "hi" },
		{ HTTP_RESP, "HTTP/1.1 204 No Content\r\n\r\n" },
		END
	};
	static const struct step eofbody[] = {
		{ HTTP_REQ, "GET / HTTP/1.0\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.0 200 OK\r\n\r\nuntil close" },
		{ HTTP_RESP, NULL },
		END
	};
	static const struct step binary[] = {
		{ HTTP_REQ, "\x16\x03\x01\x02\x00\x01" },
		{ HTTP_RESP, "\x01\x02\x03" },
		END
	};
	static const struct step tunnel[] = {
		{ HTTP_REQ, "CONNECT h:443 HTTP/1.1\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.1 200 Connection established\r\n\r\n" },
		{ HTTP_REQ, "\x16\x03\x01" },
		{ HTTP_RESP, "\x16\x03\x03" },
		END
	};
	static const struct step truncated[] = {
		{ HTTP_REQ, "GET / HTTP/1.1\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" },
		{ HTTP_RESP, NULL },
		{ HTTP_REQ, "GET /half HTTP/1.1\r\nHo" },
		{ HTTP_REQ, NULL },
		END
	};
	static const struct step bad[] = {
		{ HTTP_REQ, "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
		    "Content-Length: 4\r\n\r\nabc" },
		{ HTTP_RESP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "zz\r\n" },
		END
	};
	static const struct step tabchunked[] = {
		{ HTTP_REQ, "GET / HTTP/1.1\r\n\r\n" },
		{ HTTP_RESP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\tchunked"
		    "\r\n\r\n1\r\na\r\n0\r\n\r\n" },
		END
	};
	static const struct step xml[] = {
		{ HTTP_REQ, "<?xml version=\"1.0\"?><a/>" },
		END
	};

	srand(1);
	printf("# seed 1\n");
	check("GET and a sized response", get,
	    "[req GET /a 0][end 0 0][resp 200 OK 1]hello[end 1 0]");
	check("chunked both ways, extension and trailer", chunked,
	    "[req POST /s 2]abc[end 0 0][resp 200 OK 2]0123456789[end 1 0]");
	check("pipelined, HEAD has no body", pipelined,
	    "[req GET /1 0][end 0 0][req HEAD /2 0][end 0 0][req GET /3 0]"
	    "[end 0 0][resp 200 OK 1]A[end 1 0][resp 200 OK 0][end 1 0]"
	    "[resp 404 Not Found 0][end 1 0]");
	check("100-continue, then 204", cont,
	    "[req PUT /x 1][resp 100 Continue 0][end 1 0]hi[end 0 0]"
	    "[resp 204 No Content 0][end 1 0]");
	check("a body that ends with the connection", eofbody,
	    "[req GET / 0][end 0 0][resp 200 OK 3]until close[end 1 1]");
	check("binary is not HTTP", binary, "[raw 0 not HTTP][raw 1 not HTTP]");
	check("CONNECT turns both ways into a tunnel", tunnel,
	    "[req CONNECT h:443 0][end 0 0][resp 200 Connection established 4]"
	    "[end 1 0][raw 1 tunnel][raw 0 tunnel]");
	check("truncated messages", truncated,
	    "[req GET / 0][end 0 0][resp 200 OK 1]abc[end 1 2][end 0 2 nohead]");
	check("conflicting lengths and bad chunks turn raw", bad,
	    "[raw 0 conflicting Content-Length headers][resp 200 OK 2]"
	    "[raw 1 bad chunk size]");
	check("XML without HTTP is raw", xml, "[raw 0 not HTTP]");
	check("a tab before chunked", tabchunked,
	    "[req GET / 0][end 0 0][resp 200 OK 2]a[end 1 0]");
	check_splits("GET", get);
	check_splits("chunked", chunked);
	check_splits("pipelined", pipelined);
	check_splits("100-continue", cont);
	check_splits("truncated", truncated);
	test_inflate();
	test_trailers();
	test_token();
	return t_done();
}
