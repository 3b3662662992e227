/* har.c - HTTP exchanges as HAR 1.2 entries (--har) or as JSON lines named
 * after the Elastic Common Schema (--json=exchange), built with jansson.
 *
 * Each connection's bytes go through the HTTP reassembler (http.h); a
 * request is held (its head as JSON, its body as bytes) until its answer
 * ends, then the exchange is written and forgotten.  Times come from the
 * records: a message starts with the record that brought its first byte
 * and ends with the one that brought its last, so send, wait and receive
 * are what the relay saw. */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "grow.h"
#include "har.h"
#include "http.h"
#include "inflate.h"
#include "util.h"

#define DECODE_MAX	(256ull * 1024 * 1024)	/* a bomb stops here */
#define PENDING_MAX	64			/* requests awaiting answers */

/* One message under way, or held: its head as JSON, its body. */
struct hmsg {
	json_t		*head;		/* the fields of its start line */
	json_t		*headers;	/* [{name, value}] */
	char		*ctype, *cenc, *host, *cookie;
	json_t		*setcookies;	/* response: [{name, value, ...}] */
	unsigned char	*body;		/* de-chunked */
	size_t		 len, cap;
	uint64_t	 wire;		/* its bytes on the wire */
	uint64_t	 headsize;
	int64_t		 t0, t1;	/* its first and last byte */
	int		 status;
	int		 have;		/* a head came */
};

struct hconn {
	struct har	*h;
	uint64_t	 conn;
	char		 src[64];
	char		 client[96], server[96];
	int		 tls;		/* the server side spoke TLS */
	char		 tls_version[32], tls_cipher[96], sni[128];
	int64_t		 now;
	struct http_conn *hc;
	struct hmsg	 cur[2];	/* the messages being read */
	int		 started[2];
	struct hmsg	 req[PENDING_MAX]; /* requests awaiting answers */
	int		 nreq;
};

static const struct http_callbacks har_cb;

static void *
xalloc(void *p)
{
	if (p == NULL)
		errx(TM_EXIT_FAIL, "out of memory");
	return p;
}

/* A JSON string of bytes that may not be UTF-8: a byte that is not part of
 * a valid character (or is NUL) is taken as Latin-1, so that nothing is
 * lost or refused. */
static json_t *
jbytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned char *o;
	size_t i, k = 0, clen, j;
	json_t *v;

	if (n == 0)
		return xalloc(json_string(""));
	if (memchr(p, 0, n) == NULL && (v = json_stringn(p, n)) != NULL)
		return v;
	o = xalloc(malloc(2 * n + 1));
	for (i = 0; i < n; ) {
		clen = b[i] < 0x80 ? 1 : (b[i] & 0xe0) == 0xc0 ? 2 :
		    (b[i] & 0xf0) == 0xe0 ? 3 : (b[i] & 0xf8) == 0xf0 ? 4 : 0;
		for (j = 1; clen > 1 && j < clen; j++)
			if (i + j >= n || (b[i + j] & 0xc0) != 0x80)
				clen = 0;
		if (clen > 0 && b[i] != 0) {
			memcpy(o + k, b + i, clen);
			k += clen;
			i += clen;
			continue;
		}
		o[k++] = (unsigned char)(0xc0 | b[i] >> 6);
		o[k++] = (unsigned char)(0x80 | (b[i] & 0x3f));
		i++;
	}
	/* Overlong forms pass the check above: jansson's is the last word. */
	if ((v = json_stringn((char *)o, k)) == NULL) {
		for (i = 0; i < k; i++)
			if (o[i] >= 0x80)
				o[i] = '?';
		v = json_stringn((char *)o, k);
	}
	free(o);
	return xalloc(v);
}

static json_t *
jstr(const char *s)
{
	return jbytes(s, strlen(s));
}

static json_t *
jbytes_c(const char *s, size_t n)
{
	return jbytes(s, n);
}

/* Whether a body can be shown as text: valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF) without NUL. */
static int
is_text(const unsigned char *b, size_t n)
{
	size_t i = 0;
	unsigned c;

	while (i < n) {
		c = b[i];
		if (c >= 0x01 && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (i + 1 >= n || (b[i + 1] & 0xc0) != 0x80)
				return 0;
			i += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			if (i + 2 >= n || (b[i + 1] & 0xc0) != 0x80 ||
			    (b[i + 2] & 0xc0) != 0x80 ||
			    (c == 0xe0 && b[i + 1] < 0xa0) ||
			    (c == 0xed && b[i + 1] >= 0xa0))
				return 0;
			i += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			if (i + 3 >= n || (b[i + 1] & 0xc0) != 0x80 ||
			    (b[i + 2] & 0xc0) != 0x80 ||
			    (b[i + 3] & 0xc0) != 0x80 ||
			    (c == 0xf0 && b[i + 1] < 0x90) ||
			    (c == 0xf4 && b[i + 1] >= 0x90))
				return 0;
			i += 4;
		} else
			return 0;
	}
	return 1;
}

/*
 * Bodies are most of the bytes, and jansson escapes a string a character
 * at a time: a body of some size goes into the entry as a marker that
 * cannot come from the traffic (a control character and a random nonce),
 * and emit() writes the body itself in the marker's place, escaped here
 * or in base64, at memory speed.
 */
#define BODY_INLINE	256	/* smaller bodies: jansson's strings */
#define BODY_REFS	4	/* bodies in one entry at most */

struct bodyref {
	const unsigned char *b;
	size_t		 n;
	int		 b64;
	unsigned char	*own;	/* freed after the entry is written */
};

static struct bodyref refs[BODY_REFS];
static int	 nrefs;
static char	 nonce[24];

/* A body as HAR and ECS carry it: "text", and "encoding": "base64" when
 * it is not text.  own, if not NULL, is freed once it is written. */
static void
set_body(json_t *o, const char *key, const unsigned char *b, size_t n,
    unsigned char *own)
{
	int text = is_text(b, n);
	char *e;

	if (!text)
		json_object_set_new(o, "encoding", json_string("base64"));
	if (n >= BODY_INLINE && nrefs < BODY_REFS) {
		refs[nrefs] = (struct bodyref){ b, n, !text, own };
		json_object_set_new(o, key, xalloc(json_sprintf("\x01tb%d-%s",
		    nrefs, nonce)));
		nrefs++;
		return;
	}
	if (text)
		json_object_set_new(o, key, jbytes(b, n));
	else {
		e = xalloc(malloc(4 * ((n + 2) / 3) + 1));
		b64_encode(b, n, e);
		json_object_set_new(o, key, jstr(e));
		free(e);
	}
	free(own);
}

/* The buffer of a body given back, for the next body: fresh memory for
 * every message costs page faults. */
static unsigned char *spare;
static size_t	 sparecap;

static void
msg_free(struct hmsg *m)
{
	if (m->body != NULL && m->cap > sparecap && m->cap <= 16u * 1024 *
	    1024) {
		free(spare);
		spare = m->body;
		sparecap = m->cap;
		m->body = NULL;
	}
	json_decref(m->head);
	json_decref(m->headers);
	json_decref(m->setcookies);
	free(m->ctype);
	free(m->cenc);
	free(m->host);
	free(m->cookie);
	free(m->body);
	memset(m, 0, sizeof(*m));
	m->t0 = m->t1 = -1;
}

void
har_init(struct har *h, FILE *out, enum har_mode mode, size_t max_conns)
{
	memset(h, 0, sizeof(*h));
	h->out = out;
	h->mode = mode;
	h->max_conns = max_conns ? max_conns : CTAB_MAX_DEFAULT;
	ctab_init(&h->conns, sizeof(struct hconn));
	snprintf(nonce, sizeof(nonce), "%08lx%08lx", (unsigned long)random(),
	    (unsigned long)(tm_now_us() ^ (int64_t)getpid()));
	if (mode == HAR_DOC)
		fprintf(out, "{\"log\":{\"version\":\"1.2\",\"creator\":"
		    "{\"name\":\"tcpmon-tap\",\"version\":\"%s\"},"
		    "\"entries\":[", TCPMON_VERSION);
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* s[0..n) with "%XX" and "+" decoded, for queryString. */
static json_t *
jdecoded(const char *s, size_t n)
{
	char *o = xalloc(malloc(n + 1));
	size_t i, k = 0;
	json_t *v;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			o[k++] = ' ';
		else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			o[k++] = (char)(hexval(s[i + 1]) * 16 +
			    hexval(s[i + 2]));
			i += 2;
		} else
			o[k++] = s[i];
	}
	v = jbytes(o, k);
	free(o);
	return v;
}

static json_t *
nv(json_t *name, json_t *value)
{
	json_t *o = xalloc(json_object());

	json_object_set_new(o, "name", name);
	json_object_set_new(o, "value", value);
	return o;
}

/* "a=1&b=2" (a query, sep '&', %XX and + decoded) or "a=1; b=2" (a
 * cookie, sep ';') as [{name, value}]. */
static json_t *
pairs(const char *s, char sep, int decode)
{
	json_t *a = xalloc(json_array()), *(*str)(const char *, size_t);
	const char *p = s, *end, *eq;
	size_t n;

	str = decode ? jdecoded : jbytes_c;
	while (s != NULL && *p != '\0') {
		while (sep == ';' && *p == ' ')
			p++;
		end = strchr(p, sep);
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n > 0) {
			eq = memchr(p, '=', n);
			json_array_append_new(a, nv(str(p, eq != NULL ?
			    (size_t)(eq - p) : n), eq != NULL ? str(eq + 1,
			    n - (size_t)(eq + 1 - p)) : jstr("")));
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return a;
}

#define query_list(q)	pairs((q), '&', 1)
#define cookie_list(c)	pairs((c), ';', 0)

/* One Set-Cookie: its name and value, and the attributes HAR names. */
static json_t *
set_cookie(const char *v)
{
	json_t *a = cookie_list(v), *o, *e;
	size_t i;
	const char *k;

	if (json_array_size(a) == 0) {
		json_decref(a);
		return NULL;
	}
	o = json_incref(json_array_get(a, 0));
	for (i = 1; i < json_array_size(a); i++) {
		e = json_array_get(a, i);
		k = json_string_value(json_object_get(e, "name"));
		if (strcasecmp(k, "path") == 0 || strcasecmp(k, "domain") ==
		    0 || strcasecmp(k, "expires") == 0) {
			char lower[8];
			size_t j;

			for (j = 0; k[j] != '\0' && j < sizeof(lower) - 1; j++)
				lower[j] = (char)(k[j] | 0x20);
			lower[j] = '\0';
			json_object_set(o, lower, json_object_get(e, "value"));
		} else if (strcasecmp(k, "httponly") == 0)
			json_object_set_new(o, "httpOnly", json_true());
		else if (strcasecmp(k, "secure") == 0)
			json_object_set_new(o, "secure", json_true());
	}
	json_decref(a);
	return o;
}

static char *
dup_or(char *old, const char *v)
{
	free(old);
	return xalloc(strdup(v));
}

static struct hconn *
hconn_get(struct har *h, const struct rec *r)
{
	struct hconn *c;
	int isnew, d;

	c = ctab_find(&h->conns, r->src != NULL ? r->src : "", r->conn,
	    &isnew);
	if (!isnew)
		return c;
	c->h = h;
	c->conn = r->conn;
	snprintf(c->src, sizeof(c->src), "%s", r->src != NULL ? r->src : "");
	for (d = 0; d < 2; d++)
		c->cur[d].t0 = c->cur[d].t1 = -1;
	return c;
}

static double
ms(int64_t a, int64_t b)
{
	return a < 0 || b < 0 || b < a ? 0.0 : (double)(b - a) / 1000.0;
}

/* host:port into an address without the port (HAR's serverIPAddress,
 * ECS's ip), and the port. */
static void
split_addr(const char *a, char *host, size_t hostlen, long *port)
{
	const char *colon = strrchr(a, ':');
	size_t n;

	*port = -1;
	if (strncmp(a, "tls:", 4) == 0)
		a += 4;
	if (strncmp(a, "unix:", 5) == 0 || colon == NULL || colon < a) {
		snprintf(host, hostlen, "%s", a);
		return;
	}
	n = (size_t)(colon - a);
	if (n > 1 && a[0] == '[' && a[n - 1] == ']') {
		a++;
		n -= 2;
	}
	snprintf(host, hostlen, "%.*s", (int)n, a);
	*port = strtol(colon + 1, NULL, 10);
}

/* The request's URL, absolute: as it came (a proxy's request), or from
 * Host (or the server's address) and the scheme of the server side. */
static char *
url_of(struct hconn *c, struct hmsg *q)
{
	const char *target = json_string_value(json_object_get(q->head,
	    "url"));
	char *u;

	if (target == NULL)
		target = "/";
	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0 || target[0] != '/')
		return xalloc(strdup(target));
	if (asprintf(&u, "%s://%s%s", c->tls ? "https" : "http",
	    q->host != NULL ? q->host : c->server, target) < 0)
		errx(TM_EXIT_FAIL, "out of memory");
	return u;
}

struct outbuf {
	unsigned char	*b;
	size_t		 len, cap;
};

static void
put(struct outbuf *o, const void *p, size_t n)
{
	grow_put(&o->b, &o->len, &o->cap, 4096, p, n);
}


/* A body decoded from its Content-Encoding, when the tools know it. */
static unsigned char *
decoded(struct hmsg *m, size_t *n)
{
	const char *why;

	*n = m->len;
	if (m->cenc == NULL || m->len == 0 || !infl_supported(m->cenc))
		return NULL;
	return infl_decode(m->cenc, m->body, m->len, DECODE_MAX, n, &why);
}

static json_t *
har_entry(struct hconn *c, struct hmsg *q, struct hmsg *a)
{
	json_t *e = xalloc(json_object()), *req, *resp, *content, *t, *pd;
	char when[TM_TIME_LEN], host[96], *url;
	unsigned char addr[16];
	const char *qs;
	unsigned char *dec;
	size_t declen;
	long port;
	double send, wait, recv;

	tm_fmt_time(q->t0 >= 0 ? q->t0 : a->t0, when, sizeof(when));
	send = ms(q->t0, q->t1);
	wait = ms(q->t1, a->t0);
	recv = ms(a->t0, a->t1);
	json_object_set_new(e, "startedDateTime", json_string(when));
	json_object_set_new(e, "time", json_real(send + wait + recv));
	req = json_deep_copy(q->head);
	url = url_of(c, q);
	json_object_set_new(req, "url", jstr(url));
	json_object_set_new(req, "cookies", cookie_list(q->cookie));
	json_object_set(req, "headers", q->headers);
	qs = strchr(url, '?');
	json_object_set_new(req, "queryString", query_list(qs != NULL ?
	    qs + 1 : NULL));
	if (q->len > 0) {
		pd = xalloc(json_object());
		json_object_set_new(pd, "mimeType", jstr(q->ctype != NULL ?
		    q->ctype : ""));
		json_object_set_new(pd, "params", json_array());
		set_body(pd, "text", q->body, q->len, NULL);
		json_object_set_new(req, "postData", pd);
	}
	json_object_set_new(req, "headersSize", json_integer(
	    (json_int_t)q->headsize));
	json_object_set_new(req, "bodySize", json_integer((json_int_t)
	    (q->wire - q->headsize)));
	free(url);
	json_object_del(req, "_version");
	json_object_set_new(e, "request", req);

	if (a->have) {
		resp = json_deep_copy(a->head);
		json_object_set(resp, "headers", a->headers);
		json_object_set(resp, "cookies", a->setcookies);
		json_object_del(resp, "_version");
	} else {
		/* No answer: HAR's way to say so is status 0. */
		resp = xalloc(json_object());
		json_object_set_new(resp, "status", json_integer(0));
		json_object_set_new(resp, "statusText", json_string(""));
		json_object_set_new(resp, "httpVersion", json_string(""));
		json_object_set_new(resp, "headers", json_array());
		json_object_set_new(resp, "cookies", json_array());
		json_object_set_new(e, "_error", json_string(c->hc == NULL ?
		    "no answer: the connection ended" : "no answer"));
	}
	content = xalloc(json_object());
	dec = decoded(a, &declen);
	json_object_set_new(content, "size", json_integer((json_int_t)
	    declen));
	if (dec != NULL)
		json_object_set_new(content, "compression", json_integer(
		    (json_int_t)declen - (json_int_t)a->len));
	json_object_set_new(content, "mimeType", jstr(a->ctype != NULL ?
	    a->ctype : "x-unknown"));
	set_body(content, "text", dec != NULL ? dec : a->body, dec != NULL ?
	    declen : a->len, dec);
	json_object_set_new(resp, "content", content);
	json_object_set_new(resp, "redirectURL", jstr(a->have &&
	    json_object_get(a->head, "_location") != NULL ?
	    json_string_value(json_object_get(a->head, "_location")) : ""));
	json_object_del(resp, "_location");
	json_object_set_new(resp, "headersSize", json_integer(a->have ?
	    (json_int_t)a->headsize : -1));
	json_object_set_new(resp, "bodySize", json_integer(a->have ?
	    (json_int_t)(a->wire - a->headsize) : -1));
	json_object_set_new(e, "response", resp);
	json_object_set_new(e, "cache", json_object());
	t = xalloc(json_object());
	json_object_set_new(t, "send", json_real(send));
	json_object_set_new(t, "wait", json_real(wait));
	json_object_set_new(t, "receive", json_real(recv));
	json_object_set_new(e, "timings", t);
	/* HAR wants an address there; a name or a Unix socket goes to
	 * _tcpmon_server, as does every target. */
	split_addr(c->server, host, sizeof(host), &port);
	if (inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1)
		json_object_set_new(e, "serverIPAddress", jstr(host));
	json_object_set_new(e, "_tcpmon_server", jstr(c->server));
	json_object_set_new(e, "connection", json_sprintf("%llu",
	    (unsigned long long)c->conn));
	json_object_set_new(e, "_tcpmon_src", jstr(c->src));
	return e;
}

/* ECS: source, destination, url, http, tls, event, and ours. */
static json_t *
ecs_line(struct hconn *c, struct hmsg *q, struct hmsg *a)
{
	json_t *e = xalloc(json_object()), *o, *r, *b;
	char when[TM_TIME_LEN], host[96], *url, *p;
	unsigned char *dec;
	size_t declen;
	long port;
	const char *path;

	tm_fmt_time(q->t0 >= 0 ? q->t0 : a->t0, when, sizeof(when));
	json_object_set_new(e, "@timestamp", json_string(when));
	o = xalloc(json_object());
	json_object_set_new(o, "kind", json_string("event"));
	json_object_set_new(o, "category", json_pack("[s]", "web"));
	json_object_set_new(o, "start", json_string(when));
	if (a->t1 >= 0) {
		tm_fmt_time(a->t1, when, sizeof(when));
		json_object_set_new(o, "end", json_string(when));
		json_object_set_new(o, "duration", json_integer(
		    (json_int_t)((a->t1 - (q->t0 >= 0 ? q->t0 : a->t0)) *
		    1000)));
	}
	json_object_set_new(e, "event", o);
	o = xalloc(json_object());
	split_addr(c->client, host, sizeof(host), &port);
	json_object_set_new(o, "address", jstr(host));
	if (port >= 0) {
		json_object_set_new(o, "ip", jstr(host));
		json_object_set_new(o, "port", json_integer(port));
	}
	json_object_set_new(e, "source", o);
	o = xalloc(json_object());
	split_addr(c->server, host, sizeof(host), &port);
	json_object_set_new(o, "address", jstr(host));
	if (port >= 0)
		json_object_set_new(o, "port", json_integer(port));
	json_object_set_new(e, "destination", o);
	json_object_set_new(e, "network", json_pack("{s:s,s:s}", "transport",
	    "tcp", "protocol", "http"));

	url = url_of(c, q);
	o = xalloc(json_object());
	json_object_set_new(o, "original", jstr(url));
	if ((p = strstr(url, "://")) != NULL) {
		json_object_set_new(o, "scheme", jbytes(url, (size_t)(p - url)));
		path = strchr(p + 3, '/');
		json_object_set_new(o, "domain", jbytes(p + 3, path != NULL ?
		    (size_t)(path - p - 3) : strlen(p + 3)));
	} else
		path = url;
	if (path != NULL) {
		p = strchr(path, '?');
		json_object_set_new(o, "path", jbytes(path, p != NULL ?
		    (size_t)(p - path) : strlen(path)));
		if (p != NULL)
			json_object_set_new(o, "query", jstr(p + 1));
	}
	free(url);
	json_object_set_new(e, "url", o);

	o = xalloc(json_object());
	json_object_set(o, "version", json_object_get(q->head, "_version"));
	r = xalloc(json_object());
	json_object_set(r, "method", json_object_get(q->head, "method"));
	json_object_set_new(r, "bytes", json_integer((json_int_t)q->wire));
	if (q->ctype != NULL)
		json_object_set_new(r, "mime_type", jstr(q->ctype));
	b = xalloc(json_object());
	json_object_set_new(b, "bytes", json_integer((json_int_t)q->len));
	if (q->len > 0)
		set_body(b, "content", q->body, q->len, NULL);
	json_object_set_new(r, "body", b);
	json_object_set_new(o, "request", r);
	r = xalloc(json_object());
	if (a->have) {
		json_object_set_new(r, "status_code", json_integer(a->status));
		json_object_set_new(r, "bytes", json_integer((json_int_t)
		    a->wire));
		if (a->ctype != NULL)
			json_object_set_new(r, "mime_type", jstr(a->ctype));
		dec = decoded(a, &declen);
		b = xalloc(json_object());
		json_object_set_new(b, "bytes", json_integer((json_int_t)
		    a->len));
		if (declen > 0)
			set_body(b, "content", dec != NULL ? dec : a->body,
			    declen, dec);
		else
			free(dec);
		json_object_set_new(r, "body", b);
	}
	json_object_set_new(o, "response", r);
	json_object_set_new(e, "http", o);
	if (c->tls) {
		o = xalloc(json_object());
		if (c->tls_version[0] != '\0') {
			/* "TLSv1.3": ECS splits protocol and version. */
			json_object_set_new(o, "version_protocol",
			    json_string("tls"));
			json_object_set_new(o, "version", jstr(strncmp(
			    c->tls_version, "TLSv", 4) == 0 ? c->tls_version +
			    4 : c->tls_version));
		}
		if (c->tls_cipher[0] != '\0')
			json_object_set_new(o, "cipher", jstr(c->tls_cipher));
		if (c->sni[0] != '\0')
			json_object_set_new(o, "client", json_pack("{s:o}",
			    "server_name", jstr(c->sni)));
		json_object_set_new(e, "tls", o);
	}
	o = xalloc(json_object());
	json_object_set_new(o, "conn", json_integer((json_int_t)c->conn));
	json_object_set_new(o, "src", jstr(c->src));
	json_object_set_new(o, "timings", json_pack("{s:f,s:f,s:f}", "send",
	    ms(q->t0, q->t1), "wait", ms(q->t1, a->t0), "receive",
	    ms(a->t0, a->t1)));
	if (!a->have)
		json_object_set_new(o, "error", json_string("no answer"));
	json_object_set_new(e, "tcpmon", o);
	return e;
}

/* Text as a JSON string's inside: what must be escaped is escaped, runs
 * of the rest copied as they are (the text is valid UTF-8). */
static void
put_escaped(struct outbuf *o, const unsigned char *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[8];
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (b[i] >= 0x20 && b[i] != '"' && b[i] != '\\')
			continue;
		put(o, b + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (b[i]) {
		case '"': case '\\':
			esc[1] = (char)b[i];
			put(o, esc, 2);
			break;
		case '\n':
			put(o, "\\n", 2);
			break;
		case '\r':
			put(o, "\\r", 2);
			break;
		case '\t':
			put(o, "\\t", 2);
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[b[i] >> 4];
			esc[5] = hex[b[i] & 15];
			put(o, esc, 6);
			break;
		}
	}
	put(o, b + run, n - run);
}

static void
reserve(struct outbuf *o, size_t n)
{
	grow_reserve(&o->b, o->len, &o->cap, 4096, n);
}

static void
put_b64(struct outbuf *o, const unsigned char *b, size_t n)
{
	reserve(o, 4 * ((n + 2) / 3) + 1);
	o->len += b64_encode(b, n, (char *)o->b + o->len);
}

/* An exchange out: a HAR entry, or a line written whole with one write
 * so that a reader never sees half of it. */
static void
emit(struct hconn *c, struct hmsg *q, struct hmsg *a)
{
	/* One buffer for every entry: big bodies would cost fresh pages
	 * each time. */
	static struct outbuf o;
	struct har *h = c->h;
	char marker[64], *s, *at, *p;
	json_t *e;
	size_t n;
	int i;

	nrefs = 0;
	e = h->mode == HAR_DOC ? har_entry(c, q, a) : ecs_line(c, q, a);
	s = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	if (s == NULL)
		errx(TM_EXIT_FAIL, "out of memory");
	/* Room for it all at once: a body is copied one time. */
	o.len = 0;
	n = strlen(s) + 4;
	for (i = 0; i < nrefs; i++)
		n += refs[i].b64 ? 4 * ((refs[i].n + 2) / 3) + 1 :
		    refs[i].n + refs[i].n / 16 + 64;
	reserve(&o, n);
	if (h->mode == HAR_DOC)
		put(&o, h->entries > 0 ? ",\n" : "\n", h->entries > 0 ? 2 : 1);
	/* The bodies in their markers' places, in order. */
	p = s;
	for (i = 0; i < nrefs; i++) {
		snprintf(marker, sizeof(marker), "\\u0001tb%d-%s", i, nonce);
		if ((at = strstr(p, marker)) == NULL)
			errx(TM_EXIT_FAIL, "--har: a body's place was lost");
		put(&o, p, (size_t)(at - p));
		if (refs[i].b64)
			put_b64(&o, refs[i].b, refs[i].n);
		else
			put_escaped(&o, refs[i].b, refs[i].n);
		p = at + strlen(marker);
		free(refs[i].own);
	}
	nrefs = 0;
	put(&o, p, strlen(p));
	free(s);
	if (h->mode == HAR_DOC)
		fwrite(o.b, 1, o.len, h->out);
	else {
		put(&o, "\n", 1);
		if (fflush(h->out) == EOF || write_all(fileno(h->out), o.b,
		    o.len) < 0) {
			if (errno != EPIPE)
				err(TM_EXIT_FAIL, "write stdout");
			h->failed = 1;
		}
	}
	/* A buffer that grew for one huge body is not kept. */
	if (o.cap > 64u * 1024 * 1024) {
		free(o.b);
		memset(&o, 0, sizeof(o));
	}
	h->entries++;
}

static void
cb_raw(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct hconn *c = arg;
	struct hmsg *m = &c->cur[d];

	(void)p;
	if (!c->started[d]) {
		c->started[d] = 1;
		m->t0 = c->now;
	}
	m->wire += n;
	m->t1 = c->now;
}

static void
cb_head(void *arg, const struct http_head *hd)
{
	struct hconn *c = arg;
	struct hmsg *m = &c->cur[hd->dir];
	char ver[16];
	json_t *sc;
	int i;

	json_decref(m->head);
	json_decref(m->headers);
	m->head = xalloc(json_object());
	m->headers = xalloc(json_array());
	m->have = 1;
	m->headsize = hd->rawlen;
	snprintf(ver, sizeof(ver), "HTTP/%d.%d", hd->major, hd->minor);
	json_object_set_new(m->head, "httpVersion", json_string(ver));
	snprintf(ver, sizeof(ver), "%d.%d", hd->major, hd->minor);
	json_object_set_new(m->head, "_version", json_string(ver));
	if (hd->dir == HTTP_REQ) {
		json_object_set_new(m->head, "method", jstr(hd->method));
		json_object_set_new(m->head, "url", jstr(hd->target));
	} else {
		m->status = hd->status;
		json_object_set_new(m->head, "status", json_integer(
		    hd->status));
		json_object_set_new(m->head, "statusText", jstr(hd->reason));
		json_decref(m->setcookies);
		m->setcookies = xalloc(json_array());
	}
	for (i = 0; i < hd->nheader; i++) {
		const char *k = hd->header[i].name, *v = hd->header[i].value;

		json_array_append_new(m->headers, nv(jstr(k), jstr(v)));
		if (strcasecmp(k, "Content-Type") == 0)
			m->ctype = dup_or(m->ctype, v);
		else if (strcasecmp(k, "Content-Encoding") == 0)
			m->cenc = dup_or(m->cenc, v);
		else if (strcasecmp(k, "Host") == 0)
			m->host = dup_or(m->host, v);
		else if (strcasecmp(k, "Cookie") == 0)
			m->cookie = dup_or(m->cookie, v);
		else if (strcasecmp(k, "Set-Cookie") == 0 &&
		    hd->dir == HTTP_RESP && (sc = set_cookie(v)) != NULL)
			json_array_append_new(m->setcookies, sc);
		else if (strcasecmp(k, "Location") == 0 && hd->dir == HTTP_RESP)
			json_object_set_new(m->head, "_location", jstr(v));
	}
	json_object_del(m->head, hd->dir == HTTP_REQ ? "status" : "method");
}

static void
cb_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct hconn *c = arg;
	struct hmsg *m = &c->cur[d];
	struct outbuf o = { m->body, m->len, m->cap };

	if (o.b == NULL && spare != NULL) {
		o.b = spare;
		o.cap = sparecap;
		spare = NULL;
		sparecap = 0;
	}
	put(&o, p, n);
	m->body = o.b;
	m->len = o.len;
	m->cap = o.cap;
}

static void
cb_end(void *arg, enum http_dir d, const struct http_head *hd,
    enum http_end e)
{
	struct hconn *c = arg;
	struct hmsg *m = &c->cur[d];
	struct hmsg none;

	(void)e;
	c->started[d] = 0;
	if (!m->have) {
		msg_free(m);
		return;
	}
	if (d == HTTP_REQ) {
		if (c->nreq == PENDING_MAX) {
			/* Answers that never come: the oldest goes out
			 * without one. */
			memset(&none, 0, sizeof(none));
			none.t0 = none.t1 = -1;
			emit(c, &c->req[0], &none);
			msg_free(&c->req[0]);
			memmove(&c->req[0], &c->req[1], sizeof(c->req[0]) *
			    (PENDING_MAX - 1));
			c->nreq--;
		}
		c->req[c->nreq++] = *m;
		memset(m, 0, sizeof(*m));
		m->t0 = m->t1 = -1;
		return;
	}
	/* 100 Continue and its kin are not the answer. */
	if (hd != NULL && hd->status >= 100 && hd->status < 200 &&
	    hd->status != 101) {
		msg_free(m);
		return;
	}
	if (c->nreq > 0) {
		emit(c, &c->req[0], m);
		msg_free(&c->req[0]);
		memmove(&c->req[0], &c->req[1], sizeof(c->req[0]) *
		    (size_t)(c->nreq - 1));
		c->nreq--;
	}
	msg_free(m);
}

static void
cb_notraw(void *arg, enum http_dir d, const char *why)
{
	(void)arg; (void)d; (void)why;
}

static const struct http_callbacks har_cb = {
	cb_raw, cb_head, cb_body, cb_end, cb_notraw
};

/* The connection ended: requests without an answer go out as such. */
static void
hconn_end(struct har *h, struct hconn *c)
{
	struct hmsg none;
	int i, d;

	if (c->hc != NULL) {
		http_conn_eof(c->hc, HTTP_REQ);
		http_conn_eof(c->hc, HTTP_RESP);
		http_conn_free(c->hc);
		free(c->hc);
		c->hc = NULL;
	}
	memset(&none, 0, sizeof(none));
	none.t0 = none.t1 = -1;
	for (i = 0; i < c->nreq; i++) {
		emit(c, &c->req[i], &none);
		msg_free(&c->req[i]);
	}
	c->nreq = 0;
	for (d = 0; d < 2; d++)
		msg_free(&c->cur[d]);
	ctab_del(&h->conns, c);
}

void
har_record(struct har *h, const struct rec *r)
{
	struct hconn *c;
	const char *v;
	enum http_dir d;

	if (r->conn == 0 || h->failed)
		return;
	if ((c = ctab_get(&h->conns, r->src != NULL ? r->src : "",
	    r->conn)) == NULL) {
		if (r->type == REC_CLOSE)
			return;
		c = hconn_get(h, r);
		/* Over --max-conns: the one longest without a record ends. */
		if (h->conns.n > h->max_conns)
			hconn_end(h, ctab_lru(&h->conns));
	}
	c->now = r->usec;
	switch (r->type) {
	case REC_OPEN:
		if ((v = rec_get(r, "client")) != NULL)
			snprintf(c->client, sizeof(c->client), "%s", v);
		if ((v = rec_get(r, "target")) != NULL ||
		    (v = rec_get(r, "listen")) != NULL)
			snprintf(c->server, sizeof(c->server), "%s", v);
		if ((v = rec_get(r, "server-tls")) != NULL) {
			c->tls = 1;
			snprintf(c->tls_version, sizeof(c->tls_version), "%s",
			    v);
		}
		if ((v = rec_get(r, "server-cipher")) != NULL)
			snprintf(c->tls_cipher, sizeof(c->tls_cipher), "%s", v);
		if ((v = rec_get(r, "server-sni")) != NULL)
			snprintf(c->sni, sizeof(c->sni), "%s", v);
		break;
	case REC_DATA:
		if (r->len == 0)
			break;
		if (c->hc == NULL) {
			c->hc = xalloc(calloc(1, sizeof(*c->hc)));
			http_conn_init(c->hc, &har_cb, c);
		}
		d = r->dir == REC_C2S ? HTTP_REQ : HTTP_RESP;
		http_conn_feed(c->hc, d, r->data, r->len);
		break;
	case REC_SHUTDOWN:
		if (c->hc != NULL && r->dir != REC_NODIR)
			http_conn_eof(c->hc, r->dir == REC_C2S ? HTTP_REQ :
			    HTTP_RESP);
		break;
	case REC_CLOSE:
		hconn_end(h, c);
		break;
	default:
		break;
	}
}

void
har_end(struct har *h)
{
	void **all;
	size_t i, n;

	if ((all = ctab_list(&h->conns, &n)) != NULL) {
		for (i = 0; i < n; i++)
			hconn_end(h, all[i]);
		free(all);
	}
	ctab_free(&h->conns);
	free(spare);
	spare = NULL;
	sparecap = 0;
	if (h->mode == HAR_DOC)
		fputs("\n]}}\n", h->out);
}
