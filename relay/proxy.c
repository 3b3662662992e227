/* proxy.c - --proxy: an HTTP/1.1 forward proxy in front of conn.c.  Each
 * client connection is read here, one request at a time; each conversation
 * with a target is an ordinary relayed connection (conn.c, its own records)
 * whose client side is a socket pair to this file.  So the records of a
 * conversation hold exactly the bytes sent to and received from the target,
 * and whatever conn.c does to bytes between take and deliver applies here
 * as in forward mode. */
#include <sys/random.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http.h"
#include "preq.h"
#include "relay.h"
#include "util.h"

#define HEAD_MAX	(64 * 1024)	/* a request head: more is 431 */
#define IN_CAP		(HEAD_MAX + 1)
#define UPQ_CAP		(HEAD_MAX + 1024)	/* a rewritten head fits */
#define OUT_CAP		(64 * 1024)
#define DRAIN_MS	2000	/* reading what a refused client still sends */
#define MAX_ALLOW	64
#define MAX_LOOKUPS	64	/* name lookups in flight */

struct cidr {
	int		 af;
	unsigned char	 a[16];
	int		 bits;
};

struct pconn;

/* One name lookup, run by a thread of its own: getaddrinfo(3) blocks, and
 * the loop must not.  The answer comes back through a pipe. */
struct lookup {
	struct pconn	*p;		/* NULL: nobody waits any more */
	int		 wfd;
	char		 host[256], port[8];
	struct sockaddr_any sa;
	int		 rc;		/* getaddrinfo's */
};

/* The clients admitted: set while the options are parsed, before there
 * is a relay to hang them on. */
static struct cidr allow[MAX_ALLOW];
static int nallow;

/* --no-mitm patterns (fnmatch(3) on the CONNECT's host), and the hosts
 * whose clients refused the relay's certificate: their CONNECTs stay
 * tunnels of bytes.  Set while the options are parsed, as allow[]. */
#define MAX_NO_MITM	64
#define MAX_LEARNED	1024
static const char *no_mitm[MAX_NO_MITM];
static int nno_mitm;
static char *learned[MAX_LEARNED];
static int nlearned;

struct proxy {
	int		 rfd, wfd;	/* lookup answers */
	int		 nlookups;
	uint64_t	 next_client;
	struct pconn	*list;
	char		 token[32];	/* in our Via headers */
};

enum pstate {
	P_HEAD,		/* reading a request head */
	P_RESOLVE,	/* looking the target's name up */
	P_CONNECTING,	/* CONNECT: waiting for the target */
	P_EXCHANGE,	/* one request up, its response down */
	P_TUNNEL,	/* CONNECT or 101: bytes both ways as they are */
	P_ANSWER,	/* an answer of our own, then the end */
	P_DRAIN		/* answered: reading the client out before close */
};

struct pconn {
	struct relay	*r;
	struct listener	*l;
	uint64_t	 id;		/* client-conn in the records */
	int		 cfd, spfd;
	enum pstate	 st;
	int		 denied;
	int		 keep;		/* the client keeps the connection */
	int		 client_eof, client_shut, sp_eof, sp_shut;
	char		 client[ADDR_TEXT + 16];
	char		 target[300];	/* host:port asked for */
	struct conn	*up;		/* the conversation, while it lasts */
	char		 uptarget[300];
	int		 upbad;		/* not to be used again */
	struct lookup	*lk;
	int64_t		 deadline;	/* monotonic ms, or 0 */
	int64_t		 active;	/* the client's last bytes: --idle-timeout */
	int64_t		 head_by;	/* --head-timeout: the head is whole by
					 * then, or 0 */
	size_t		 headlen;	/* of the head at in[0], once whole */
	struct http_conn hc;		/* framing of the exchange */
	int		 hclive;
	size_t		 rawn, cut;
	int		 req_done, resp_done, resp_close, resp_tunnel;
	int		 resp_begun;	/* answer bytes came: too late for ours */
	const char	*reqbad;	/* the request body broke its framing */
	size_t		 inlen, upqoff, upqlen, outoff, outlen;
	struct pconn	*prev, *next;
	/* One buffer of the relay's pool, borrowed only while bytes wait in
	 * it (bufs, unbufs): a client between requests, or one whose tunnel
	 * conn.c carries, costs no buffer memory. */
	unsigned char	*buf;
	unsigned char	*in;		/* from the client: IN_CAP */
	unsigned char	*upq;		/* toward the conversation: UPQ_CAP */
	unsigned char	*out;		/* toward the client: OUT_CAP */
};

_Static_assert(IN_CAP + UPQ_CAP + OUT_CAP <= RELAY_BUF,
    "a client's three buffers fit in one of the pool's");

static void pconn_event(struct loop *, int, unsigned, void *);

/* Borrows p's buffers before their first use in a step. */
static void
bufs(struct pconn *p)
{
	if (p->buf != NULL)
		return;
	p->buf = pool_get(p->r);
	p->in = p->buf;
	p->upq = p->in + IN_CAP;
	p->out = p->upq + UPQ_CAP;
}

/* Gives p's buffers back when nothing waits in them. */
static void
unbufs(struct pconn *p, int always)
{
	if (p->buf == NULL || (!always && (p->inlen > 0 || p->upqlen > 0 ||
	    p->outlen > 0)))
		return;
	pool_put(p->r, p->buf);
	p->buf = p->in = p->upq = p->out = NULL;
	p->upqoff = p->outoff = 0;
}
static void step(struct pconn *);
static void start_exchange(struct pconn *, const struct sockaddr_any *);

/* --allow */

static int
cidr_parse(const char *s, struct cidr *c, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	const char *e;
	uint64_t bits;
	int max;

	if (strlen(s) >= sizeof(buf)) {
		*why = "too long";
		return -1;
	}
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->a) == 1) {
		c->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->a) == 1) {
		c->af = AF_INET6;
		max = 128;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	c->bits = max;
	if (slash != NULL) {
		if (num_parse(slash, 0, (uint64_t)max, &bits, &e) == -1) {
			*why = "bad prefix length";
			return -1;
		}
		c->bits = (int)bits;
	}
	return 0;
}

int
proxy_no_mitm(const char *pattern)
{
	if (nno_mitm == MAX_NO_MITM)
		return -1;
	no_mitm[nno_mitm++] = pattern;
	return 0;
}

/* Whether a CONNECT to host (as host:port) is decrypted. */
static int
mitm_wanted(const struct relay *r, const char *target, char *host,
    size_t n)
{
	char *e;
	int i;

	if (!r->mitm)
		return 0;
	snprintf(host, n, "%s", target);
	if ((e = strrchr(host, ':')) != NULL)
		*e = '\0';
	if (host[0] == '[' && (e = strchr(host, ']')) != NULL) {
		*e = '\0';
		memmove(host, host + 1, strlen(host));
	}
	for (i = 0; i < nno_mitm; i++)
		if (fnmatch(no_mitm[i], host, FNM_CASEFOLD) == 0)
			return 0;
	for (i = 0; i < nlearned; i++)
		if (strcasecmp(learned[i], host) == 0)
			return 0;
	return 1;
}

/* A client refused the relay's certificate for c's host (it does not
 * trust the CA, or pins its server's): that host's CONNECTs are tunnels
 * from now on, and a note says so. */
static void
mitm_refused(struct relay *r, struct conn *c, const char *why)
{
	char text[600];

	if (nlearned < MAX_LEARNED && (learned[nlearned] = strdup(c->host)) !=
	    NULL)
		nlearned++;
	snprintf(text, sizeof(text), "mitm: the client refused the relay's "
	    "certificate for %s (%s): CONNECTs to %s are tunnels from now on",
	    c->host, why, c->host);
	conn_note(r, c, text);
}

int
proxy_allow(const char *s, const char **why)
{
	if (nallow == MAX_ALLOW) {
		*why = "too many";
		return -1;
	}
	if (cidr_parse(s, &allow[nallow], why) == -1)
		return -1;
	nallow++;
	return 0;
}

static int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const unsigned char *a;
	unsigned char m;
	int full, rest;

	if (sa->sa_family == AF_INET && c->af == AF_INET)
		a = (const unsigned char *)&((const struct sockaddr_in *)
		    sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && c->af == AF_INET6)
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	else if (sa->sa_family == AF_INET6 && c->af == AF_INET &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->
	    sin6_addr))
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12;
	else
		return 0;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->a, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	m = (unsigned char)(0xff << (8 - rest));
	return (a[full] & m) == (c->a[full] & m);
}

static int
allowed(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int i;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	/* A Unix socket is guarded by its file mode. */
	if (ss.ss_family == AF_UNIX)
		return 1;
	for (i = 0; i < nallow; i++)
		if (cidr_match(&allow[i], (struct sockaddr *)&ss))
			return 1;
	return 0;
}

/* Name lookups */

static void *
lookup_run(void *arg)
{
	struct lookup *lk = arg;
	struct addrinfo hints, *res;
	ssize_t n;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((lk->rc = getaddrinfo(lk->host, lk->port, &hints, &res)) == 0) {
		memcpy(&lk->sa.ss, res->ai_addr, res->ai_addrlen);
		lk->sa.len = res->ai_addrlen;
		freeaddrinfo(res);
	}
	/* A pointer is written whole: pipe writes this small are atomic. */
	do
		n = write(lk->wfd, &lk, sizeof(lk));
	while (n == -1 && errno == EINTR);
	return NULL;
}

static void resolved(struct pconn *, struct lookup *);

static void
lookup_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct relay *r = arg;
	struct lookup *lk;
	struct pconn *p;

	(void)l;
	(void)ev;
	while (read(fd, &lk, sizeof(lk)) == (ssize_t)sizeof(lk)) {
		r->proxy->nlookups--;
		if ((p = lk->p) != NULL) {
			p->lk = NULL;
			resolved(p, lk);
			step(p);
		}
		free(lk);
	}
}

int
proxy_init(struct relay *r)
{
	static const char *def[] = { "127.0.0.0/8", "::1/128" };
	struct proxy *px;
	const char *why;
	int fds[2];
	size_t i;
	uint64_t rnd;

	if (nallow == 0)
		for (i = 0; i < sizeof(def) / sizeof(def[0]); i++)
			(void)proxy_allow(def[i], &why);
	if ((px = r->proxy = calloc(1, sizeof(*px))) == NULL)
		return -1;
	/* Unique to this process, so that a request that comes back to it
	 * is known however it was addressed. */
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)getpid() << 32 ^ (uint64_t)tm_mono_ms();
	snprintf(px->token, sizeof(px->token), "tcpmon-%016llx",
	    (unsigned long long)rnd);
	r->via_token = px->token;
	if (pipe2(fds, O_CLOEXEC) == -1 || sock_nonblock(fds[0]) == -1)
		return -1;
	px->rfd = fds[0];
	px->wfd = fds[1];
	return loop_add(r->loop, px->rfd, LOOP_READ, lookup_event, r);
}

/* The client connection */

static void
drop_up(struct pconn *p)
{
	if (p->up != NULL) {
		/* The conversation ends on its own, from the EOF below;
		 * it must not call back into a client that may be gone. */
		p->up->hooks = NULL;
		p->up = NULL;
	}
	if (p->spfd != -1) {
		loop_del(p->r->loop, p->spfd);
		close(p->spfd);
		p->spfd = -1;
	}
	p->upqoff = p->upqlen = 0;
	p->sp_eof = p->sp_shut = p->upbad = 0;
	p->uptarget[0] = '\0';
}

static void
pconn_close(struct pconn *p)
{
	struct relay *r = p->r;
	struct proxy *px = r->proxy;

	drop_up(p);
	if (p->lk != NULL)
		p->lk->p = NULL;
	loop_del(p->r->loop, p->cfd);
	close(p->cfd);
	if (p->hclive)
		http_conn_free(&p->hc);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		px->list = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	unbufs(p, 1);
	free(p);
	r->nclients--;
	listen_resume(r);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 508: return "Loop Detected";
	default: return "Error";
	}
}

/*
 * Answers the client itself, with a one-line reason, and ends the client
 * connection after it.  The answer is recorded: in the conversation with
 * id conn when there is one (its close record follows from conn.c), else
 * as a connection of its own that holds what the client sent, the answer
 * and a close record with reason and error.
 */
static void
answer(struct pconn *p, uint64_t conn, int status, const char *reason,
    const char *msg)
{
	struct relay *r = p->r;
	struct rec rec;
	size_t c2s;
	int n;

	bufs(p);
	n = snprintf((char *)p->out, OUT_CAP, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s\n", status, status_text(status),
	    strlen(msg) + 1, msg);
	if (n < 0 || (size_t)n >= OUT_CAP)
		n = (int)OUT_CAP - 1;
	p->outoff = 0;
	p->outlen = (size_t)n;
	if (conn != 0)
		conn_put_data(r, conn, REC_S2C, "from", "proxy", p->out,
		    p->outlen);
	else {
		conn = ++r->next_id;
		rec_init(&rec, REC_OPEN, conn);
		rec_set_src(&rec, r->src);
		rec_set(&rec, "client", p->client);
		rec_set(&rec, "listen", p->l->text);
		if (p->target[0] != '\0')
			rec_set(&rec, "target", p->target);
		rec_setf(&rec, "client-conn", "%llu",
		    (unsigned long long)p->id);
		relay_put(r, &rec, NULL, 0);
		c2s = p->headlen > 0 ? p->headlen : p->inlen;
		if (c2s > 0)
			conn_put_data(r, conn, REC_C2S, NULL, NULL, p->in, c2s);
		conn_put_data(r, conn, REC_S2C, "from", "proxy", p->out,
		    p->outlen);
		rec_init(&rec, REC_CLOSE, conn);
		rec_set_src(&rec, r->src);
		rec_set(&rec, "reason", reason);
		rec_setf(&rec, "error", "%d %s", status, msg);
		rec_setf(&rec, "c2s", "%zu", c2s);
		rec_setf(&rec, "s2c", "%zu", p->outlen);
		relay_put(r, &rec, NULL, 0);
	}
	if (r->verbose)
		warnx("client-conn %llu: %d %s", (unsigned long long)p->id,
		    status, msg);
	drop_up(p);
	p->keep = 0;
	p->st = P_ANSWER;
}

/* Hooks from conn.c */

static void
up_connected(struct conn *c, void *arg)
{
	struct pconn *p = arg;
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	(void)c;
	if (p->st != P_CONNECTING)
		return;
	/* The answer is the proxy's, not the target's: it is not part of
	 * the tunnel's record, which holds the target's bytes only. */
	bufs(p);
	memcpy(p->out, ok, sizeof(ok) - 1);
	p->outoff = 0;
	p->outlen = sizeof(ok) - 1;
	p->st = P_TUNNEL;
	step(p);
}

static void
up_failed(struct conn *c, void *arg, const char *reason, const char *msg)
{
	struct pconn *p = arg;

	p->up = NULL;
	answer(p, c->id, strcmp(reason, "timeout") == 0 ? 504 : 502, reason,
	    msg);
	/* The caller goes on with the conversation's end: the client is
	 * served from the loop, not from inside conn.c. */
	loop_mod(p->r->loop, p->cfd, LOOP_WRITE);
}

static void
up_gone(struct conn *c, void *arg)
{
	struct pconn *p = arg;

	if (p->up == c)
		p->up = NULL;
}

static const struct conn_hooks hooks = { up_connected, up_failed, up_gone };

/* The request head */

/*
 * Parses the head at in[0..headlen) (preq.c), and names the target it asks
 * for.  Returns NULL, or a reason for the answer in q->status.
 */
static const char *
parse_request(struct pconn *p, struct preq *q)
{
	const char *why;

	if ((why = preq_parse((const char *)p->in, p->headlen, q)) != NULL)
		return why;
	snprintf(p->target, sizeof(p->target), strchr(q->host, ':') ?
	    "[%s]:%s" : "%s:%s", q->host, q->port);
	return NULL;
}

/* Writes the origin-form head into upq; -1 when it does not fit. */
static int
build_head(struct pconn *p, const struct preq *q)
{
	size_t len;

	if (preq_build(q, p->r->proxy->token, (char *)p->upq + p->upqoff +
	    p->upqlen, UPQ_CAP - p->upqoff - p->upqlen, &len) == -1)
		return -1;
	p->upqlen += len;
	return 0;
}

/* Framing of the exchange, from http.c */

static void
hc_raw(void *arg, enum http_dir d, const unsigned char *b, size_t n)
{
	struct pconn *p = arg;

	(void)d;
	(void)b;
	p->rawn += n;
}

static void
hc_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end how)
{
	struct pconn *p = arg;

	if (d == HTTP_REQ) {
		if (!p->req_done) {
			p->req_done = 1;
			p->cut = p->rawn;
		}
		return;
	}
	if (p->resp_done)
		return;
	/* 100 Continue and the like come before the answer. */
	if (h != NULL && how == HTTP_END_OK && h->status < 200 &&
	    h->status != 101)
		return;
	p->resp_done = 1;
	p->cut = p->rawn;
	if (how != HTTP_END_OK || h == NULL || (h->minor == 0 &&
	    !http_header_has(h, "Connection", "keep-alive")) ||
	    http_header_has(h, "Connection", "close"))
		p->resp_close = 1;
	if (h != NULL && h->body == HTTP_BODY_TUNNEL)
		p->resp_tunnel = 1;
}

static void
hc_notraw(void *arg, enum http_dir d, const char *why)
{
	struct pconn *p = arg;

	(void)why;
	/* A tunnel after 101 is told through the end callback. */
	if (strcmp(why, "tunnel") == 0)
		return;
	/* A response that breaks the rules is passed on as it comes,
	 * to the end of the conversation; a request body that breaks
	 * them is refused (bad_body). */
	if (d == HTTP_RESP)
		p->resp_close = p->upbad = 1;
	else if (p->reqbad == NULL)
		p->reqbad = why;
}

static const struct http_callbacks hc_cb = {
	hc_raw, NULL, NULL, hc_end, hc_notraw
};

/* Moving bytes */

/* Returns bytes read, 0 at EOF, -2 for nothing now, -1 on error. */
static ssize_t
rd(int fd, void *b, size_t n)
{
	ssize_t got;

	do
		got = recv(fd, b, n, 0);
	while (got == -1 && errno == EINTR);
	if (got == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
	return got;
}

/* Sends what waits at b + *off; returns 1 when some went, 0 if none, -1. */
static int
wr(int fd, const unsigned char *b, size_t *off, size_t *len)
{
	ssize_t n;
	int moved = 0;

	while (*len > 0) {
		n = send(fd, b + *off, *len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		*off += (size_t)n;
		*len -= (size_t)n;
		moved = 1;
	}
	if (*len == 0)
		*off = 0;
	return moved;
}

static void
consume_in(struct pconn *p, size_t n)
{
	memmove(p->in, p->in + n, p->inlen - n);
	p->inlen -= n;
}

/* Client bytes into in; returns 1 progress, 0 none, -1 when the client
 * failed and p was closed. */
static int
read_client(struct pconn *p)
{
	ssize_t n;

	if (p->client_eof || p->inlen == IN_CAP)
		return 0;
	n = rd(p->cfd, p->in + p->inlen, IN_CAP - p->inlen);
	if (n == -2)
		return 0;
	if (n == -1) {
		pconn_close(p);
		return -1;
	}
	if (n == 0)
		p->client_eof = 1;
	p->inlen += (size_t)n;
	p->active = tm_mono_ms();
	return 1;
}

/* What waits for the client goes; returns 1 when some went, 0 if none,
 * -1 when the client failed and p was closed. */
static int
flush_client(struct pconn *p)
{
	int rc;

	if (p->outlen == 0)
		return 0;
	if ((rc = wr(p->cfd, p->out, &p->outoff, &p->outlen)) == -1)
		pconn_close(p);
	return rc;
}

/* Ends the client connection once all it is owed has gone. */
static void
finish(struct pconn *p)
{
	shutdown(p->cfd, SHUT_WR);
	p->client_shut = 1;
	drop_up(p);
	p->st = P_DRAIN;
	p->deadline = tm_mono_ms() + DRAIN_MS;
}

/* An address in a plain form: a v4-mapped v6 address as the v4 one. */
struct plain {
	int		 af;		/* AF_INET or AF_INET6 */
	unsigned char	 a[16];
	unsigned	 port;		/* network order */
};

static int
plain(const struct sockaddr *sa, struct plain *p)
{
	const struct sockaddr_in *s4 = (const void *)sa;
	const struct sockaddr_in6 *s6 = (const void *)sa;

	memset(p, 0, sizeof(*p));
	if (sa->sa_family == AF_INET) {
		p->af = AF_INET;
		memcpy(p->a, &s4->sin_addr, 4);
		p->port = s4->sin_port;
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		p->af = AF_INET;
		memcpy(p->a, s6->sin6_addr.s6_addr + 12, 4);
		p->port = s6->sin6_port;
	} else if (sa->sa_family == AF_INET6) {
		p->af = AF_INET6;
		memcpy(p->a, &s6->sin6_addr, 16);
		p->port = s6->sin6_port;
	} else
		return -1;
	return 0;
}

static int
unspecified(const struct plain *p)
{
	static const unsigned char zero[16];

	return memcmp(p->a, zero, p->af == AF_INET ? 4 : 16) == 0;
}

static int
loopback(const struct plain *p)
{
	return p->af == AF_INET ? p->a[0] == 127 :
	    IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)p->a);
}

/* Whether a is one of this machine's addresses, which a listener on the
 * wildcard address takes connections for. */
static int
local(const struct plain *a)
{
	struct ifaddrs *ifs, *i;
	struct plain ia;
	int yes = 0;

	if (unspecified(a) || loopback(a))
		return 1;
	if (getifaddrs(&ifs) == -1)
		return 1;	/* cannot tell: a loop is worse */
	for (i = ifs; i != NULL && !yes; i = i->ifa_next)
		if (i->ifa_addr != NULL && plain(i->ifa_addr, &ia) == 0 &&
		    ia.af == a->af && memcmp(ia.a, a->a, a->af == AF_INET ?
		    4 : 16) == 0)
			yes = 1;
	freeifaddrs(ifs);
	return yes;
}

/*
 * The loop check: a target that one of our own proxy listeners would
 * answer, however it is written (0.0.0.0 and :: reach the machine itself,
 * ::ffff:127.0.0.1 is 127.0.0.1, a wildcard listener takes every address
 * of the machine).  Only the port and the address family of a listener
 * bound to one address are not guessed at.
 */
static int
is_self(struct relay *r, const struct sockaddr_any *t)
{
	struct sockaddr_storage ss;
	struct plain ta, la;
	socklen_t len;
	int i;

	if (plain((const struct sockaddr *)&t->ss, &ta) == -1)
		return 0;
	for (i = 0; i < r->nl; i++) {
		len = sizeof(ss);
		if (!r->l[i].proxy || r->l[i].fd == -1 ||
		    getsockname(r->l[i].fd, (struct sockaddr *)&ss,
		    &len) == -1 || plain((struct sockaddr *)&ss, &la) == -1 ||
		    la.port != ta.port)
			continue;
		if (unspecified(&ta))
			return 1;
		if (unspecified(&la)) {
			/* :: takes IPv4 too, unless IPV6_V6ONLY: assume it
			 * does. */
			if ((la.af == ta.af || la.af == AF_INET6) && local(&ta))
				return 1;
			continue;
		}
		if (la.af == ta.af && (memcmp(la.a, ta.a, la.af == AF_INET ?
		    4 : 16) == 0 || (la.af == AF_INET && loopback(&la) &&
		    loopback(&ta))))
			return 1;
	}
	return 0;
}

/* The request head at in[0] is whole: where does it go? */
static void
on_head(struct pconn *p)
{
	struct proxy *px = p->r->proxy;
	struct lookup *lk;
	struct addrinfo hints, *res;
	struct preq q;
	const char *why;
	pthread_attr_t attr;
	pthread_t tid;
	char msg[600];

	p->target[0] = '\0';
	if ((why = parse_request(p, &q)) != NULL) {
		if (p->denied)
			goto denied;
		snprintf(msg, sizeof(msg), "%s%s", q.status == 400 ?
		    "malformed request: " : "", why);
		answer(p, 0, q.status, "error", msg);
		return;
	}
	if (p->denied) {
denied:
		snprintf(msg, sizeof(msg), "client %s is not allowed "
		    "(--allow)", p->client);
		answer(p, 0, 403, "refused", msg);
		return;
	}
	/* Our own mark: however the target was written, it came back. */
	if (preq_via_has(&q, px->token)) {
		snprintf(msg, sizeof(msg), "%s: this request has been through "
		    "this proxy already (Via): it would loop", p->target);
		answer(p, 0, 508, "refused", msg);
		return;
	}
	p->keep = q.keep;
	if (!q.connect && p->up != NULL && !p->upbad && !p->sp_eof &&
	    strcmp(p->uptarget, p->target) == 0) {
		start_exchange(p, NULL);
		return;
	}
	drop_up(p);
	if (p->r->upstream != NULL) {
		/* The upstream proxy looks the name up. */
		start_exchange(p, upstream_addr(p->r));
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(q.host, q.port, &hints, &res) == 0) {
		struct lookup now;

		memcpy(&now.sa.ss, res->ai_addr, res->ai_addrlen);
		now.sa.len = res->ai_addrlen;
		now.rc = 0;
		freeaddrinfo(res);
		resolved(p, &now);
		return;
	}
	if (px->nlookups >= MAX_LOOKUPS) {
		answer(p, 0, 502, "error", "too many name lookups at once");
		return;
	}
	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	lk->p = p;
	lk->wfd = px->wfd;
	strcpy(lk->host, q.host);
	strcpy(lk->port, q.port);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, lookup_run, lk) != 0) {
		pthread_attr_destroy(&attr);
		free(lk);
		answer(p, 0, 502, "error", "cannot start a name lookup");
		return;
	}
	pthread_attr_destroy(&attr);
	px->nlookups++;
	p->lk = lk;
	p->st = P_RESOLVE;
	p->deadline = p->r->connect_ms > 0 ? tm_mono_ms() +
	    (int64_t)p->r->connect_ms : 0;
}

static void
resolved(struct pconn *p, struct lookup *lk)
{
	char msg[600];

	if (lk->rc != 0) {
		snprintf(msg, sizeof(msg), "resolve %s: %s", p->target,
		    gai_strerror(lk->rc));
		answer(p, 0, 502, "unreachable", msg);
	} else if (is_self(p->r, &lk->sa)) {
		snprintf(msg, sizeof(msg), "%s is this proxy: a request "
		    "there would loop", p->target);
		answer(p, 0, 403, "refused", msg);
	} else
		start_exchange(p, &lk->sa);
}

/*
 * Sends the request at in[0] toward its target: over the conversation
 * already open when sa is NULL, else over a new one to sa.
 */
static void
start_exchange(struct pconn *p, const struct sockaddr_any *sa)
{
	struct preq q;
	struct conn *c;
	char reqline[320], host[300];
	unsigned tls = 0;
	int sp[2];

	bufs(p);
	(void)parse_request(p, &q);	/* it passed once */
	p->deadline = 0;
	if (sa != NULL) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sp) == -1) {
			answer(p, 0, 502, "error", strerror(errno));
			return;
		}
		p->spfd = sp[0];
		if (loop_add(p->r->loop, p->spfd, 0, pconn_event, p) == -1)
			err(TM_EXIT_FAIL, "epoll");
		snprintf(p->uptarget, sizeof(p->uptarget), "%s", p->target);
	}
	if (!q.connect) {
		if (build_head(p, &q) == -1) {
			answer(p, 0, 431, "error", "request head over 64 KiB");
			return;
		}
		if (p->hclive)
			http_conn_free(&p->hc);
		http_conn_init(&p->hc, &hc_cb, p);
		p->hclive = 1;
		p->req_done = p->resp_done = p->resp_close = 0;
		p->resp_tunnel = p->resp_begun = 0;
		p->reqbad = NULL;
		/* The client's body is framed as strictly as its head. */
		p->hc.p[HTTP_REQ].strict = 1;
		/* The head as sent: it sets the method and the framing. */
		http_conn_feed(&p->hc, HTTP_REQ, p->upq + p->upqoff,
		    p->upqlen);
	}
	consume_in(p, p->headlen);
	p->headlen = 0;
	p->head_by = 0;
	p->st = q.connect ? P_CONNECTING : P_EXCHANGE;
	if (sa != NULL) {
		/* A tunnel's records hold the target's bytes only: the
		 * request line that opened it goes in its open record
		 * (never the header fields: Proxy-Authorization). */
		if (q.connect)
			snprintf(reqline, sizeof(reqline), "CONNECT %.*s "
			    "HTTP/1.%d", (int)q.ulen, q.uri, q.minor);
		if (q.connect && mitm_wanted(p->r, p->target, host,
		    sizeof(host)))
			tls = CONN_TLS_CLIENT | CONN_TLS_SERVER | CONN_MITM;
		c = conn_open(p->r, p->l, sp[1], p->client, p->target, sa,
		    p->id, q.connect ? reqline : NULL, &hooks, p, tls, host);
		/* On failure the hook has answered the client already. */
		if (c != NULL) {
			p->up = c;
			c->tls_learn = mitm_refused;
		}
	}
}

/* The client connection waits for a request head: for --head-timeout at
 * most, from now. */
static void
wait_head(struct pconn *p)
{
	p->st = P_HEAD;
	p->head_by = p->r->head_ms > 0 ? tm_mono_ms() +
	    (int64_t)p->r->head_ms : 0;
}

/*
 * The request body broke its framing (http.c, strict for requests): the
 * server might read it otherwise than the proxy, so nothing more of it
 * goes.  The client gets a 400 unless the server's answer has begun;
 * then only a reset can tell it the exchange is cut.  Returns as pass.
 */
static int
bad_body(struct pconn *p)
{
	struct linger lg = { 1, 0 };
	char msg[200];

	snprintf(msg, sizeof(msg), "malformed request body: %s", p->reqbad);
	if (p->resp_begun) {
		if (p->r->verbose)
			warnx("client-conn %llu: %s: reset", (unsigned long
			    long)p->id, msg);
		setsockopt(p->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		pconn_close(p);
		return -1;
	}
	p->inlen = 0;
	answer(p, p->up != NULL ? p->up->id : 0, 400, "error", msg);
	return 1;
}

/* P_HEAD: a request head, read until it is whole. */
static int
pass_head(struct pconn *p)
{
	size_t n, skip;
	ssize_t got;
	int rc, moved = 0;

	/* Empty lines before a request are allowed (RFC 9112 2.2). */
	for (skip = 0; skip < p->inlen && (p->in[skip] == '\r' ||
	    p->in[skip] == '\n'); skip++)
		;
	if (skip > 0) {
		consume_in(p, skip);
		moved = 1;
	}
	if ((n = preq_head_end(p->in, p->inlen < HEAD_MAX ? p->inlen :
	    HEAD_MAX)) > 0) {
		p->headlen = n;
		on_head(p);
		return 1;
	}
	if (p->inlen >= HEAD_MAX) {
		answer(p, 0, 431, "error", "request head over 64 KiB");
		return 1;
	}
	if (p->client_eof) {
		/* Gone between requests, or inside one: nothing to
		 * answer. */
		pconn_close(p);
		return -1;
	}
	if (p->spfd != -1 && (got = rd(p->spfd, p->out, OUT_CAP)) != -2) {
		/* The server spoke or closed between exchanges:
		 * that conversation is over. */
		drop_up(p);
		moved = 1;
	}
	if ((rc = read_client(p)) == -1)
		return -1;
	return moved || rc;
}

/* P_EXCHANGE: the request's body toward the server, the answer toward
 * the client, each up to its end; then the next request, a tunnel, or the
 * end. */
static int
pass_exchange(struct pconn *p)
{
	size_t n;
	ssize_t got;
	int rc, moved = 0;

	if (p->reqbad != NULL)
		return bad_body(p);
	/* The request's body, up to its end, toward the server. */
	if (!p->req_done && p->inlen > 0 && p->upqlen == 0) {
		n = p->inlen < UPQ_CAP ? p->inlen : UPQ_CAP;
		p->rawn = 0;
		http_conn_feed(&p->hc, HTTP_REQ, p->in, n);
		if (p->reqbad != NULL)
			return bad_body(p);
		if (p->req_done)
			n = p->cut;
		memcpy(p->upq, p->in, n);
		p->upqoff = 0;
		p->upqlen = n;
		consume_in(p, n);
		moved = 1;
	}
	if (p->upqlen > 0 && p->spfd != -1) {
		if ((rc = wr(p->spfd, p->upq, &p->upqoff,
		    &p->upqlen)) == -1) {
			p->upqlen = 0;
			p->upbad = 1;
		}
		moved |= rc == 1;
	}
	/* The response toward the client, up to its end. */
	if (!p->resp_done && p->outlen == 0 && p->spfd != -1 &&
	    !p->sp_eof) {
		got = rd(p->spfd, p->out, OUT_CAP);
		if (got == -1 || got == 0) {
			p->sp_eof = 1;
			http_conn_eof(&p->hc, HTTP_RESP);
			if (!p->resp_done)
				p->resp_done = p->resp_close = 1;
			moved = 1;
		} else if (got > 0) {
			p->resp_begun = 1;
			p->rawn = 0;
			http_conn_feed(&p->hc, HTTP_RESP, p->out,
			    (size_t)got);
			p->outoff = 0;
			p->outlen = p->resp_done ? p->cut :
			    (size_t)got;
			if (p->outlen < (size_t)got)
				p->upbad = 1;
			moved = 1;
		}
	} else if (!p->resp_done && (p->spfd == -1 || p->sp_eof)) {
		p->resp_done = p->resp_close = 1;
		moved = 1;
	}
	if ((rc = flush_client(p)) == -1)
		return -1;
	moved |= rc;
	if (!p->req_done && p->inlen == 0 && !p->client_eof) {
		if ((rc = read_client(p)) == -1)
			return -1;
		moved |= rc;
	}
	if (!p->req_done && p->client_eof && p->inlen == 0) {
		/* The client left inside its request: the server
		 * sees the end of it too. */
		p->keep = 0;
		p->upbad = 1;
		if (p->spfd != -1 && !p->sp_shut) {
			shutdown(p->spfd, SHUT_WR);
			p->sp_shut = 1;
		}
	}
	/* A server may answer before the body is all there
	 * (nginx's return): the rest of the body still goes, so
	 * that the next request starts where it should. */
	if (p->resp_done && p->outlen == 0 && (p->req_done ||
	    p->client_eof || p->upbad || p->spfd == -1)) {
		if (p->resp_tunnel && p->req_done) {
			p->st = P_TUNNEL;
			return 1;
		}
		if (p->resp_close || p->upbad || !p->req_done)
			drop_up(p);
		if (!p->keep || p->resp_close || !p->req_done) {
			finish(p);
			return 1;
		}
		wait_head(p);
		return 1;
	}
	return moved;
}

/* P_TUNNEL: bytes both ways after a CONNECT (or an Upgrade), until both
 * sides have ended. */
static int
pass_tunnel(struct pconn *p)
{
	ssize_t got;
	int rc, moved = 0;

	if (p->inlen > 0 && p->upqlen == 0) {
		memcpy(p->upq, p->in, p->inlen);
		p->upqoff = 0;
		p->upqlen = p->inlen;
		p->inlen = 0;
		moved = 1;
	}
	if (p->upqlen > 0 && p->spfd != -1) {
		if ((rc = wr(p->spfd, p->upq, &p->upqoff,
		    &p->upqlen)) == -1) {
			pconn_close(p);
			return -1;
		}
		moved |= rc == 1;
	}
	if (p->client_eof && p->inlen == 0 && p->upqlen == 0 &&
	    !p->sp_shut && p->spfd != -1) {
		shutdown(p->spfd, SHUT_WR);
		p->sp_shut = 1;
		moved = 1;
	}
	if (p->outlen == 0 && !p->sp_eof && p->spfd != -1) {
		got = rd(p->spfd, p->out, OUT_CAP);
		if (got == 0 || got == -1) {
			p->sp_eof = 1;
			moved = 1;
		} else if (got > 0) {
			p->outoff = 0;
			p->outlen = (size_t)got;
			moved = 1;
		}
	}
	if ((rc = flush_client(p)) == -1)
		return -1;
	moved |= rc;
	if ((p->sp_eof || p->spfd == -1) && p->outlen == 0 &&
	    !p->client_shut) {
		shutdown(p->cfd, SHUT_WR);
		p->client_shut = 1;
		moved = 1;
	}
	if (p->client_shut && (p->sp_shut || p->spfd == -1)) {
		pconn_close(p);
		return -1;
	}
	if (p->inlen == 0 && !p->client_eof) {
		if ((rc = read_client(p)) == -1)
			return -1;
		moved |= rc;
	}
	return moved;
}

/* One pass over what can move; returns 1 on progress, -1 if p is gone. */
static int
pass(struct pconn *p)
{
	ssize_t got;
	int rc;

	switch (p->st) {
	case P_HEAD:
		return pass_head(p);
	case P_RESOLVE:
	case P_CONNECTING:
		return 0;
	case P_EXCHANGE:
		return pass_exchange(p);
	case P_TUNNEL:
		return pass_tunnel(p);
	case P_ANSWER:
		if ((rc = flush_client(p)) == -1)
			return -1;
		if (p->outlen == 0) {
			finish(p);
			return 1;
		}
		return rc;
	case P_DRAIN:
		got = rd(p->cfd, p->in, IN_CAP);
		if (got == 0 || got == -1) {
			pconn_close(p);
			return -1;
		}
		return got > 0;
	}
	return 0;
}

static void
watch(struct pconn *p)
{
	unsigned cev = 0, sev = 0;

	switch (p->st) {
	case P_HEAD:
		if (!p->client_eof && p->inlen < IN_CAP)
			cev = LOOP_READ;
		if (p->spfd != -1)
			sev = LOOP_READ;
		break;
	case P_EXCHANGE:
	case P_TUNNEL:
		if (!p->client_eof && p->inlen == 0 &&
		    (p->st == P_TUNNEL || !p->req_done))
			cev |= LOOP_READ;
		if (p->outlen > 0)
			cev |= LOOP_WRITE;
		if (p->spfd != -1 && !p->sp_eof && p->outlen == 0 &&
		    (p->st == P_TUNNEL || !p->resp_done))
			sev |= LOOP_READ;
		if (p->spfd != -1 && p->upqlen > 0)
			sev |= LOOP_WRITE;
		break;
	case P_ANSWER:
		cev = LOOP_WRITE;
		break;
	case P_DRAIN:
		cev = LOOP_READ;
		break;
	default:
		break;
	}
	loop_mod(p->r->loop, p->cfd, cev);
	if (p->spfd != -1)
		loop_mod(p->r->loop, p->spfd, sev);
}

static void
step(struct pconn *p)
{
	int rc;

	bufs(p);
	while ((rc = pass(p)) == 1)
		;
	if (rc == 0) {
		watch(p);
		unbufs(p, 0);
	}
}

static void
pconn_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	(void)l;
	(void)fd;
	(void)ev;
	step(arg);
}

void
proxy_accept(struct relay *r, struct listener *l, int cfd)
{
	struct proxy *px = r->proxy;
	struct pconn *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	p->r = r;
	p->l = l;
	p->id = ++px->next_client;
	p->cfd = cfd;
	p->spfd = -1;
	wait_head(p);
	p->active = tm_mono_ms();
	p->denied = !allowed(cfd);
	r->nclients++;
	addr_fmt_peer(cfd, p->client, sizeof(p->client));
	p->next = px->list;
	if (px->list != NULL)
		px->list->prev = p;
	px->list = p;
	if (loop_add(r->loop, cfd, LOOP_READ, pconn_event, p) == -1) {
		warn("epoll");
		pconn_close(p);
	}
}

void
proxy_sweep(struct relay *r)
{
	struct pconn *p, *next;
	int64_t now = tm_mono_ms();

	if (r->proxy == NULL)
		return;
	for (p = r->proxy->list; p != NULL; p = next) {
		next = p->next;
		/* A client between requests (or in the middle of a head)
		 * that says nothing for --idle-timeout: a keep-alive
		 * connection goes quietly, a head cut short gets a 408.  An
		 * exchange under way is the conversation's own (conn.c). */
		if (p->st == P_HEAD && r->idle_ms > 0 &&
		    now - p->active >= (int64_t)r->idle_ms) {
			if (p->inlen == 0)
				pconn_close(p);
			else {
				answer(p, 0, 408, "timeout", "idle timeout");
				step(p);
			}
			continue;
		}
		/* However it trickles in, a head is whole within
		 * --head-timeout, or the client makes room for others. */
		if (p->st == P_HEAD && p->head_by != 0 && now >= p->head_by) {
			if (p->inlen == 0)
				pconn_close(p);
			else {
				char msg[100];

				snprintf(msg, sizeof(msg), "request head not "
				    "complete within %llu ms (--head-timeout)",
				    (unsigned long long)r->head_ms);
				answer(p, 0, 408, "timeout", msg);
				step(p);
			}
			continue;
		}
		if (p->deadline == 0 || now < p->deadline)
			continue;
		if (p->st == P_DRAIN)
			pconn_close(p);
		else if (p->st == P_RESOLVE) {
			p->lk->p = NULL;
			p->lk = NULL;
			answer(p, 0, 504, "timeout", "name lookup timed out");
			step(p);
		}
	}
}

/* A client taken with the reserve descriptor, when there are no others:
 * told so, and closed. */
void
proxy_refuse(struct relay *r, int cfd)
{
#define BUSY	"out of file descriptors: try again later\n"
	static const char ans[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 41\r\n"
	    "Connection: close\r\n\r\n" BUSY;
	char buf[4096];
	int i;

	(void)r;
	_Static_assert(sizeof(BUSY) - 1 == 41, "Content-Length");
#undef BUSY
	/* What it sent so far is read, so that the close after the answer
	 * is a FIN and not a reset that could overtake it. */
	for (i = 0; i < 16 && recv(cfd, buf, sizeof(buf), 0) > 0; i++)
		;
	(void)send(cfd, ans, sizeof(ans) - 1, MSG_NOSIGNAL);
	close(cfd);
}

/* The relay stops: a client in the middle of an exchange must not take a
 * FIN for the end of its answer, so every client gets a reset. */
uint64_t
proxy_stop_all(struct relay *r)
{
	uint64_t n = 0;

	if (r->proxy == NULL)
		return 0;
	for (; r->proxy->list != NULL; n++) {
		sock_set_reset(r->proxy->list->cfd);
		pconn_close(r->proxy->list);
	}
	return n;
}

void
proxy_free(struct relay *r)
{
	struct lookup *lk;

	free(r->upstream);
	r->upstream = NULL;
	while (nlearned > 0)
		free(learned[--nlearned]);
	if (r->proxy == NULL)
		return;
	if (r->proxy->wfd > 0) {
		/* Lookups that came back and were not read yet. */
		while (read(r->proxy->rfd, &lk, sizeof(lk)) ==
		    (ssize_t)sizeof(lk))
			free(lk);
		loop_del(r->loop, r->proxy->rfd);
		close(r->proxy->rfd);
		close(r->proxy->wfd);
	}
	free(r->proxy);
	r->proxy = NULL;
}
