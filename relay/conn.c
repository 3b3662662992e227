/* conn.c - one relayed connection: bytes both ways, half-closes, resets and
 * failures passed on faithfully, and every event recorded before the peer
 * sees it.  The steps are apart so that others can be put between them:
 * conn_connect (where the bytes go), take (read and record) and deliver
 * (hand recorded bytes to the peer). */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay.h"
#include "util.h"

/* Reads per direction per wakeup: a fast sender must not starve the
 * others; level-triggered epoll calls us again. */
#define MAX_ROUNDS	16
/* How long a reset may wait for the bytes before it to leave the socket. */
#define LINGER_MS	5000

static void conn_event(struct loop *, int, unsigned, void *);
static ssize_t conn_got(struct relay *, struct conn *, ssize_t,
    const unsigned char *, int, enum side, enum rec_dir);

unsigned char *
pool_get(struct relay *r)
{
	unsigned char *p;

	if (r->npool > 0)
		return r->pool[--r->npool];
	if ((p = malloc(RELAY_BUF)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	return p;
}

void
pool_put(struct relay *r, unsigned char *p)
{
	if (p == NULL)
		return;
	if (r->npool < POOL_MAX)
		r->pool[r->npool++] = p;
	else
		free(p);
}

void
pool_free(struct relay *r)
{
	while (r->npool > 0)
		free(r->pool[--r->npool]);
}

/* The plain transport: the socket itself. */
static ssize_t
sock_recv(struct conn *c, enum side s, void *buf, size_t n)
{
	ssize_t k;

	do
		k = recv(conn_fd(c, s), buf, n, 0);
	while (k == -1 && errno == EINTR);
	return k;
}

static ssize_t
sock_send(struct conn *c, enum side s, const void *p, size_t n)
{
	ssize_t k;

	do
		k = send(conn_fd(c, s), p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (k == -1 && errno == EINTR);
	return k;
}

static void
sock_shut(struct conn *c, enum side s)
{
	shutdown(conn_fd(c, s), SHUT_WR);
}

static unsigned
sock_wants(const struct conn *c, enum side s)
{
	(void)c;
	(void)s;
	return 0;
}

const struct transport sock_transport = { "tcp", sock_recv, sock_send,
    sock_shut, sock_wants, 1 };

/* The copying carrier: the bytes wait in a buffer of the pool. */
static ssize_t
copy_take(struct relay *r, struct conn *c, enum side from, struct half *h,
    int *copyfd)
{
	if (h->buf == NULL)
		h->buf = pool_get(r);
	*copyfd = -1;
	return c->tp[from]->recv(c, from, h->buf, RELAY_BUF);
}

static ssize_t
copy_send(struct relay *r, struct conn *c, enum side to, struct half *h)
{
	(void)r;
	return c->tp[to]->send(c, to, h->buf + h->off, h->len);
}

static void
copy_drop(struct relay *r, struct half *h)
{
	int e = errno;

	pool_put(r, h->buf);
	h->buf = NULL;
	errno = e;
}

static const struct carrier copy_carrier = { copy_take, copy_send,
    copy_drop };

static void
half_drop(struct relay *r, struct half *h)
{
	if (h->carrier != NULL)
		h->carrier->drop(r, h);
}

/* Every record of a connection: with stages, it goes through them. */
static void
record(struct relay *r, struct conn *c, struct rec *rec, const void *p,
    size_t n)
{
	if (r->detour != NULL)
		r->detour->record(r, c, rec, p, n);
	else
		relay_put(r, rec, p, n);
}

static void
put_simple(struct relay *r, struct conn *c, enum rec_type t, enum rec_dir d)
{
	struct rec rec;

	rec_init(&rec, t, c->id);
	rec_set_src(&rec, r->src);
	rec.dir = d;
	record(r, c, &rec, NULL, 0);
}

void
conn_close_rec(struct relay *r, struct conn *c, struct rec *rec,
    const char *reason, int side, const char *error)
{
	rec_init(rec, REC_CLOSE, c->id);
	rec_set_src(rec, r->src);
	rec_set(rec, "reason", reason);
	if (error != NULL)
		rec_set(rec, "error", error);
	if (side >= 0)
		rec_set(rec, "by", side == CLIENT ? "client" : "server");
	/* What the peers saw of the end: a reset tells a peer that the
	 * conversation did not end as it should have. */
	if (c->rsides != 0)
		rec_set(rec, "reset", c->rsides == 3 ? "both" :
		    c->rsides == 1 ? "client" : "server");
	rec_setf(rec, "c2s", "%llu", (unsigned long long)c->c2s.total);
	rec_setf(rec, "s2c", "%llu", (unsigned long long)c->s2c.total);
}

/* The open record, once and before anything else of the connection: at
 * once for plain sides, after the TLS handshakes otherwise, so that it
 * says what they agreed. */
static void
put_open(struct relay *r, struct conn *c)
{
	struct rec rec;

	if (!c->open_late)
		return;
	c->open_late = 0;
	conn_open_rec(r, c, &rec);
	record(r, c, &rec, NULL, 0);
}

static void
put_close(struct relay *r, struct conn *c, const char *reason, int side,
    const char *error)
{
	struct rec rec;

	put_open(r, c);
	conn_close_rec(r, c, &rec, reason, side, error);
	record(r, c, &rec, NULL, 0);
	if (r->verbose)
		warnx("conn %llu closed: %s%s%s (%llu bytes up, %llu down)",
		    (unsigned long long)c->id, reason, error ? ": " : "",
		    error ? error : "", (unsigned long long)c->c2s.total,
		    (unsigned long long)c->s2c.total);
}

static void
unpark(struct relay *r, struct conn *c)
{
	if (!c->parked)
		return;
	if (c->pprev != NULL)
		c->pprev->pnext = c->pnext;
	else
		r->parked = c->pnext;
	if (c->pnext != NULL)
		c->pnext->pprev = c->pprev;
	c->pprev = c->pnext = NULL;
	c->parked = 0;
}

void
conn_put_close(struct relay *r, struct conn *c, const char *reason, int side,
    const char *error)
{
	put_close(r, c, reason, side, error);
}

static void
conn_free(struct relay *r, struct conn *c)
{
	if (c->hooks != NULL && c->hooks->gone != NULL)
		c->hooks->gone(c, c->harg);
	if (r->detour != NULL)
		r->detour->forget(r, c);
	unpark(r, c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	half_drop(r, &c->c2s);
	half_drop(r, &c->s2c);
	tls_free(c, CLIENT);
	tls_free(c, SERVER);
	free(c->target);
	free(c->request);
	free(c->host);
	free(c);
	r->nconns--;
	listen_resume(r);
}

/* A reset waiting for the bytes before it to leave: a reset throws away
 * what the socket has not sent yet. */
struct lingering {
	int		  fd;
	int64_t		  until;	/* monotonic ms */
	struct lingering *next;
};

static int
unsent(int fd)
{
	int n = 0;

	return ioctl(fd, SIOCOUTQNSD, &n) == 0 ? n : 0;
}

/* Resets fd once what it holds for its peer has gone, within LINGER_MS;
 * at once when the relay is stopping, as the peer will not get the rest
 * of the conversation anyway. */
static void
reset_fd(struct relay *r, int fd)
{
	struct lingering *lg;

	if (r->stopping || unsent(fd) == 0 ||
	    (lg = malloc(sizeof(*lg))) == NULL) {
		sock_reset(fd);
		return;
	}
	lg->fd = fd;
	lg->until = tm_mono_ms() + LINGER_MS;
	lg->next = r->lingering;
	r->lingering = lg;
}

void
conn_linger_sweep(struct relay *r)
{
	struct lingering **pp = &r->lingering, *lg;
	int64_t now = tm_mono_ms();

	while ((lg = *pp) != NULL) {
		if (r->stopping || now >= lg->until || unsent(lg->fd) == 0) {
			sock_reset(lg->fd);
			*pp = lg->next;
			free(lg);
		} else
			pp = &lg->next;
	}
}

/* Closes both sockets and frees the connection; each side is reset or
 * closed with a FIN as asked. */
void
conn_end(struct relay *r, struct conn *c, int reset_client, int reset_server)
{
	/* A reset may linger (reset_fd): out of the set first. */
	if (c->cfd != -1) {	/* -1: a stage's connection lost it */
		if (reset_client) {
			loop_del(r->loop, c->cfd);
			reset_fd(r, c->cfd);
		} else
			loop_close(r->loop, c->cfd);
	}
	if (c->sfd != -1) {
		if (reset_server) {
			loop_del(r->loop, c->sfd);
			reset_fd(r, c->sfd);
		} else
			loop_close(r->loop, c->sfd);
	}
	conn_free(r, c);
}

/* The target could not be reached: the client sees a reset, not an
 * empty success (or, in proxy mode, the answer proxy.c gives). */
static void
conn_fail(struct relay *r, struct conn *c, const char *reason,
    const char *msg)
{
	if (c->hooks != NULL && c->hooks->failed != NULL)
		c->hooks->failed(c, c->harg, reason, msg);
	c->rsides = 1;
	put_close(r, c, reason, SERVER, msg);
	if (!r->quiet)
		warnx("%s", msg);
	conn_end(r, c, 1, 0);
}

static void
connect_failed(struct relay *r, struct conn *c, int e)
{
	char msg[ADDR_TEXT + 320];

	if (r->upstream != NULL)
		snprintf(msg, sizeof(msg), "connect %s (upstream proxy for "
		    "%s): %s", upstream_text(r), c->target, strerror(e));
	else
		snprintf(msg, sizeof(msg), "connect %s: %s", c->target,
		    strerror(e));
	conn_fail(r, c, sock_connect_reason(e), msg);
}

/* Starts the connection toward the server.  Returns -1 when it failed at
 * once and the connection was ended. */
static int
conn_connect(struct relay *r, struct conn *c, const struct sockaddr_any *sa)
{
	int pending;

	c->state = CS_CONNECTING;
	if ((c->sfd = sock_connect(sa, &pending)) == -1) {
		connect_failed(r, c, errno);
		return -1;
	}
	/* Even a connect that completed at once goes through the
	 * connecting state: what follows a connect (the upstream proxy's
	 * CONNECT, the proxy's hooks) happens in one place. */
	(void)pending;
	if (loop_add(r->loop, c->sfd, LOOP_WRITE, conn_event, c) == -1) {
		connect_failed(r, c, errno);
		return -1;
	}
	return 0;
}

/* Best effort: what the surviving side is owed goes out before its reset
 * or close. */
static void
flush_before_end(struct relay *r, struct conn *c, struct half *h,
    enum side to)
{
	if (h->len > 0 && h->carrier != NULL && conn_fd(c, to) != -1)
		(void)h->carrier->send(r, c, to, h);
}

/* A socket failed: a reset (or another error) on one side resets the
 * other, so each peer learns what happened as it would have directly. */
static void
side_failed(struct relay *r, struct conn *c, enum side s, int e)
{
	int reset = e == ECONNRESET || e == EPIPE;

	if (c->in_stage) {
		/* The end goes through the stages like the rest. */
		r->detour->side_failed(r, c, s, e);
		return;
	}
	if (s == CLIENT)
		flush_before_end(r, c, &c->c2s, SERVER);
	else
		flush_before_end(r, c, &c->s2c, CLIENT);
	c->rsides = s == CLIENT ? 2 : 1;
	put_close(r, c, reset ? "reset" : "error", s,
	    reset ? NULL : strerror(e));
	conn_end(r, c, s == SERVER, s == CLIENT);
}

/*
 * Hands the bytes waiting in h to the socket to.  Returns 1 when all went,
 * 0 when the receiver is full (the rest waits), -1 when the connection
 * failed and was ended.
 */
static int
deliver(struct relay *r, struct conn *c, struct half *h, enum side toside)
{
	ssize_t n;

	while (h->len > 0) {
		n = h->carrier->send(r, c, toside, h);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			side_failed(r, c, toside, errno);
			return -1;
		}
		h->off += (size_t)n;
		h->len -= (size_t)n;
		c->active = tm_mono_ms();
	}
	h->off = 0;
	h->carrier->drop(r, h);
	return 1;
}

/*
 * Reads once from side fromside into buf (RELAY_BUF bytes) and records
 * what came.  Returns the bytes read, 0 at the sender's EOF, -2 when
 * nothing is there now, -1 when the connection failed (and was ended,
 * unless it is in the stages).
 */
ssize_t
conn_read(struct relay *r, struct conn *c, unsigned char *buf,
    enum side fromside, enum rec_dir d)
{
	ssize_t n;

	n = c->tp[fromside]->recv(c, fromside, buf, RELAY_BUF);
	return conn_got(r, c, n, buf, -1, fromside, d);
}

/* What a read gave (n as recv(2) returns it, errno set on -1), recorded:
 * bytes in buf, or waiting in the pipe pfd when it is not -1. */
static ssize_t
conn_got(struct relay *r, struct conn *c, ssize_t n, const unsigned char *buf,
    int pfd, enum side fromside, enum rec_dir d)
{
	struct half *h = d == REC_C2S ? &c->c2s : &c->s2c;
	struct rec rec;

	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -2;
		side_failed(r, c, fromside, errno);
		return -1;
	}
	if (n >= 0)
		put_open(r, c);
	if (n == 0 && h->rst != 0) {
		/* All that came before the reset has gone on: now the
		 * reset does. */
		side_failed(r, c, fromside, h->rst);
		return -1;
	}
	if (n == 0) {
		h->eof = 1;
		put_simple(r, c, REC_SHUTDOWN, d);
		return 0;
	}
	/* Recorded before it is delivered: the record never lags behind
	 * what a peer has seen. */
	rec_init(&rec, REC_DATA, c->id);
	rec_set_src(&rec, r->src);
	rec.dir = d;
	h->total += (size_t)n;
	if (pfd != -1)
		relay_put_pipe(r, &rec, pfd, (size_t)n);
	else
		record(r, c, &rec, buf, (size_t)n);
	c->active = tm_mono_ms();
	return n;
}

/* Reads into h (which holds nothing) and records it: the bytes wait in h
 * for the receiver.  Returns as conn_read. */
static ssize_t
take(struct relay *r, struct conn *c, struct half *h, enum side fromside,
    enum rec_dir d)
{
	ssize_t n;
	int copyfd = -1;

	h->carrier = h->bulk && sp_ready(r, c, h) ? &sp_carrier :
	    &copy_carrier;
	n = h->carrier->take(r, c, fromside, h, &copyfd);
	h->bulk = n >= SPLICE_MIN;
	if (n <= 0) {
		h->carrier->drop(r, h);		/* keeps errno */
		return conn_got(r, c, n, NULL, -1, fromside, d);
	}
	h->off = 0;
	h->len = (size_t)n;
	return conn_got(r, c, n, h->buf, copyfd, fromside, d);
}

static void
park(struct relay *r, struct conn *c)
{
	if (c->parked)
		return;
	c->parked = 1;
	c->pprev = NULL;
	c->pnext = r->parked;
	if (r->parked != NULL)
		r->parked->pprev = c;
	r->parked = c;
}

void
conn_park(struct relay *r, struct conn *c)
{
	park(r, c);
}

/*
 * Moves one direction's bytes as far as they go without blocking.
 * Returns -1 when the connection failed and was ended.
 */
static int
flow(struct relay *r, struct conn *c, enum rec_dir d)
{
	struct half *h = d == REC_C2S ? &c->c2s : &c->s2c;
	enum side fromside = d == REC_C2S ? CLIENT : SERVER;
	enum side toside = d == REC_C2S ? SERVER : CLIENT;
	ssize_t n;
	int rounds, rc;

	for (rounds = 0;; rounds++) {
		if (h->len > 0) {
			/* Reading waits while earlier bytes wait for
			 * their receiver: that is the backpressure. */
			if ((rc = deliver(r, c, h, toside)) != 1)
				return rc;
		}
		if (h->eof) {
			if (!h->shut) {
				c->tp[toside]->shut(c, toside);
				h->shut = 1;
			}
			return 0;
		}
		/* The limit is here, after the EOF check, not in the loop's
		 * condition: there, an EOF read in the last round ended the
		 * loop with its FIN not passed on, and nothing called flow()
		 * for it again (the sender, at EOF, is no longer watched and
		 * nothing waits for the receiver): the connection hung
		 * half-open (tests/11-relay-integrity.bats, "an EOF read in
		 * the last round"). */
		if (rounds == MAX_ROUNDS)
			return 0;
		if (!out_room(r)) {
			/* Lossless: the traffic waits for the record. */
			park(r, c);
			return 0;
		}
		if ((n = take(r, c, h, fromside, d)) == -1)
			return -1;
		if (n == -2)
			return 0;
		if (n > 0 && (size_t)n < RELAY_BUF) {
			/* A short read drained the socket: deliver, and
			 * leave the next read to epoll. */
			return deliver(r, c, h, toside) == -1 ? -1 : 0;
		}
	}
}

/* Watches each socket for what its two directions need now. */
static void
watch(struct relay *r, struct conn *c)
{
	unsigned cev = 0, sev = 0;

	switch (c->state) {
	case CS_CLIENT_HELLO:
	case CS_CLIENT_TLS:
		cev = tls_handshake_wants(c, CLIENT);
		break;
	case CS_CONNECTING:
		sev = LOOP_WRITE;
		break;
	case CS_UPSTREAM:
		sev = LOOP_READ;
		break;
	case CS_SERVER_TLS:
		sev = tls_handshake_wants(c, SERVER);
		break;
	case CS_UP:
		if (r->detour != NULL) {
			r->detour->watch(r, c);
			return;
		}
		/* A side that reset takes nothing more, and nothing more is
		 * read for it; what it sent before still goes on. */
		if (!c->c2s.eof && c->c2s.len == 0 && !c->parked &&
		    !c->s2c.rst)
			cev |= LOOP_READ;
		if (!c->s2c.eof && c->s2c.len == 0 && !c->parked &&
		    !c->c2s.rst)
			sev |= LOOP_READ;
		if (c->s2c.len > 0 && !c->c2s.rst)
			cev |= LOOP_WRITE;
		if (c->c2s.len > 0 && !c->s2c.rst)
			sev |= LOOP_WRITE;
		cev |= c->tp[CLIENT]->wants(c, CLIENT);
		sev |= c->tp[SERVER]->wants(c, SERVER);
		break;
	}
	loop_mod(r->loop, c->cfd, cev);
	if (c->sfd != -1)
		loop_mod(r->loop, c->sfd, sev);
}

void
conn_unpark_all(struct relay *r)
{
	struct conn *c;

	while ((c = r->parked) != NULL) {
		unpark(r, c);
		watch(r, c);
	}
}

/* Whether fd has bytes (or its EOF) waiting to be read. */
static int
unread_any(int fd)
{
	unsigned char b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != -1 ||
	    (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Whether side s has bytes waiting to be read: after a reset, what came
 * before it. */
static int
unread(struct conn *c, enum side s)
{
	struct half *h = s == CLIENT ? &c->c2s : &c->s2c;
	int n = 0;

	if (h->eof)
		return 0;
	return ioctl(s == CLIENT ? c->cfd : c->sfd, FIONREAD, &n) == 0 &&
	    n > 0;
}

/* A TLS handshake failed, or a side ended before one: reason=tls, the
 * side and why.  A client that fails is closed.  When the server fails, a
 * client of --mitm, whose own handshake is done, gets a 502 that says why
 * over it; another client is reset, as when the server cannot be
 * reached. */
static void
tls_failed(struct relay *r, struct conn *c, enum side s, const char *why)
{
	char ans[1024], body[800];
	int n;

	if (!r->quiet)
		warnx("TLS with the %s %s: %s", s == CLIENT ? "client" :
		    "server", s == CLIENT ? c->client : c->target, why);
	if (s == CLIENT) {
		put_open(r, c);
		if (c->mitm && c->tls_learn != NULL)
			c->tls_learn(r, c, why);
		put_close(r, c, "tls", CLIENT, why);
		conn_end(r, c, 0, 0);
		return;
	}
	if (c->mitm && c->tls[CLIENT] != NULL &&
	    !conn_in_handshake(c, CLIENT)) {
		/* The body first: its length goes in the head. */
		snprintf(body, sizeof(body), "TLS with %s: %s\n", c->target,
		    why);
		n = snprintf(ans, sizeof(ans), "HTTP/1.1 502 Bad Gateway\r\n"
		    "Content-Type: text/plain\r\nConnection: close\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
		put_open(r, c);
		conn_put_data(r, c->id, REC_S2C, "from", "proxy", ans,
		    (size_t)n);
		(void)c->tp[CLIENT]->send(c, CLIENT, ans, (size_t)n);
		c->tp[CLIENT]->shut(c, CLIENT);
		put_close(r, c, "tls", SERVER, why);
		conn_end(r, c, 0, 0);
		return;
	}
	if (c->hooks != NULL && c->hooks->failed != NULL)
		c->hooks->failed(c, c->harg, "tls", why);
	c->rsides = 1;
	put_close(r, c, "tls", SERVER, why);
	conn_end(r, c, 1, 0);
}

/* The client's first bytes, when it should start TLS: 0 a handshake, or
 * nothing yet; 1 it spoke something else (plain HTTP to a tls: listener)
 * and was closed, what it sent recorded; 2 the same under --mitm, where it
 * becomes a tunnel of bytes as they are. */
static int
not_tls(struct relay *r, struct conn *c)
{
	unsigned char b, *buf;
	ssize_t n;

	n = recv(c->cfd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 || (n == 1 && b == 0x16))	/* a handshake record */
		return 0;
	if (n == 0) {
		tls_failed(r, c, CLIENT, "the client closed before a "
		    "handshake");
		return 1;
	}
	if (c->mitm) {
		tls_free(c, CLIENT);
		tls_free(c, SERVER);
		c->tp[CLIENT] = c->tp[SERVER] = &sock_transport;
		return 2;
	}
	buf = pool_get(r);
	if ((n = recv(c->cfd, buf, RELAY_BUF, MSG_DONTWAIT)) > 0)
		(void)conn_got(r, c, n, buf, -1, CLIENT, REC_C2S);
	pool_put(r, buf);
	tls_failed(r, c, CLIENT, "not TLS: the client's first bytes are no "
	    "TLS handshake");
	return 1;
}

static void
tell_connected(struct conn *c)
{
	if (c->told)
		return;
	c->told = 1;
	if (c->hooks != NULL && c->hooks->connected != NULL)
		c->hooks->connected(c, c->harg);
}

/* Both sides can carry the conversation: its open record, and what waited
 * for that. */
static void
conn_up(struct relay *r, struct conn *c)
{
	c->state = CS_UP;
	put_open(r, c);
	tell_connected(c);
	if (r->detour != NULL)
		r->detour->connected(r, c);
}

/*
 * Takes side s's TLS handshake on, and what comes after it.  The order:
 * a tls: listener's client first, then the connect and the server's
 * handshake; under --mitm the connect first (the proxy's 200 waits for
 * it), then the client's handshake, whose name the server is asked for.
 * Returns 0 when the conversation is up, 1 when it waits, -1 when the
 * connection ended.
 */
static int
handshake(struct relay *r, struct conn *c, enum side s)
{
	char msg[512], lhost[ADDR_TEXT + 256], *e;
	const char *name = c->host;
	int rc;

	if (c->tls[s] == NULL) {
		/* The server: the target's host, or under --mitm the name
		 * the client asked for.  A client that asks for no name
		 * gets a certificate for the CONNECT's host, or for the
		 * address it connected to. */
		if (s == SERVER && c->mitm && tls_sni(c, CLIENT) != NULL)
			name = tls_sni(c, CLIENT);
		else if (s == CLIENT && !c->mitm) {
			snprintf(lhost, sizeof(lhost), "%s", c->l->text);
			if ((e = strrchr(lhost, ':')) != NULL)
				*e = '\0';
			if (lhost[0] == '[' && (e = strchr(lhost, ']')) != NULL) {
				*e = '\0';
				memmove(lhost, lhost + 1, strlen(lhost));
			}
			name = strncmp(c->l->text, "unix:", 5) == 0 ?
			    "localhost" : lhost;
		}
		/* The state first: a failure is this step's. */
		c->state = s == CLIENT ? CS_CLIENT_HELLO : CS_SERVER_TLS;
		if (tls_start(r, c, s, name, msg, sizeof(msg)) == -1) {
			tls_failed(r, c, s, msg);
			return -1;
		}
	}
	if (c->state == CS_CLIENT_HELLO) {
		/* Nothing to look at yet: wait for the client. */
		if (!unread_any(c->cfd)) {
			watch(r, c);
			return 1;
		}
		if ((rc = not_tls(r, c)) == 1)
			return -1;
		if (rc == 2) {
			conn_note(r, c, "mitm: the client's first bytes after "
			    "CONNECT are not TLS: a tunnel of bytes as they "
			    "are");
			conn_up(r, c);
			return 0;
		}
		c->state = CS_CLIENT_TLS;	/* looked at once is enough */
	}
	if ((rc = tls_handshake(c, s, msg, sizeof(msg))) == 0) {
		watch(r, c);
		return 1;
	}
	if (rc == -1) {
		tls_failed(r, c, s, msg);
		return -1;
	}
	/* The handshake is done; the next step sets the state as it
	 * begins. */
	if (s == CLIENT && c->sfd == -1) {
		if (conn_connect(r, c, c->sa) == -1)
			return -1;
		watch(r, c);
		return 1;
	}
	if (s == CLIENT && !c->tp[SERVER]->plain)
		return handshake(r, c, SERVER);
	conn_up(r, c);
	return 0;
}

/* The server side is connected (through the upstream proxy, if any): TLS
 * starts there, or the conversation is up.  Returns as handshake(). */
static int
server_ready(struct relay *r, struct conn *c)
{
	if (c->mitm) {
		/* The proxy answers the CONNECT; the client's handshake
		 * comes next. */
		tell_connected(c);
		return handshake(r, c, CLIENT);
	}
	if (!c->tp[SERVER]->plain)
		return handshake(r, c, SERVER);
	conn_up(r, c);
	return 0;
}

/* An error or hang-up on side s: 1 when it ended the connection (or the
 * reset waits behind bytes still to read), 0 when there is none and the
 * event is an ordinary one. */
static int
side_error(struct relay *r, struct conn *c, enum side s, int fd)
{
	int e;

	if ((e = sock_error(fd)) == 0)
		return 0;
	if (conn_in_handshake(c, s))
		tls_failed(r, c, s, strerror(e));
	else if ((c->state == CS_CONNECTING || c->state == CS_UPSTREAM) &&
	    s == SERVER)
		connect_failed(r, c, e);
	else if (c->in_stage || !unread(c, s))
		side_failed(r, c, s, e);
	else {
		/* Linux keeps what arrived before a reset readable: it is
		 * read, recorded and delivered, and the reset goes on after
		 * it (conn_got). */
		(s == CLIENT ? &c->c2s : &c->s2c)->rst = e;
		watch(r, c);
	}
	return 1;
}

/* The steps before bytes flow: the client's TLS handshake, the connect,
 * the upstream proxy's CONNECT, the server's TLS handshake.  Returns 1
 * when the event was theirs; 0 when the connection is up and *ev (made a
 * read when a step just ended) goes on to the bytes. */
static int
setting_up(struct relay *r, struct conn *c, enum side s, int fd,
    unsigned *ev)
{
	char msg[ADDR_TEXT + 512];
	int e, rc;

	/* Each step waits on one side: an event on the other is not its. */
	if (c->state != CS_UP &&
	    (s == CLIENT) != conn_in_handshake(c, CLIENT))
		return 1;
	switch (c->state) {
	case CS_CLIENT_HELLO:
	case CS_CLIENT_TLS:
		(void)handshake(r, c, CLIENT);
		return 1;
	case CS_CONNECTING:
		if ((e = sock_error(fd)) != 0) {
			connect_failed(r, c, e);
			return 1;
		}
		if (r->verbose)
			warnx("conn %llu: connected to %s",
			    (unsigned long long)c->id, r->upstream != NULL ?
			    upstream_text(r) : c->target);
		if (r->upstream != NULL) {
			if (upstream_start(r, c->sfd, c->target, msg,
			    sizeof(msg)) == -1) {
				conn_fail(r, c, "error", msg);
				return 1;
			}
			c->state = CS_UPSTREAM;
			watch(r, c);
			return 1;
		}
		break;
	case CS_UPSTREAM:
		/* The upstream proxy's answer to CONNECT: the bytes after
		 * it are the target's, and go through take as usual. */
		if ((rc = upstream_reply(r, c->sfd, msg, sizeof(msg))) == -1) {
			conn_fail(r, c, "error", msg);
			return 1;
		}
		if (rc == 0)
			return 1;
		break;
	case CS_SERVER_TLS:
		if (handshake(r, c, SERVER) != 0)
			return 1;
		*ev = LOOP_READ;
		return 0;
	case CS_UP:
		return 0;
	}
	/* The server side is connected: what comes next, server_ready
	 * says; bytes that came with the step's end are read. */
	*ev = LOOP_READ;
	return server_ready(r, c) != 0;
}

static void
conn_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct conn *c = arg;
	struct relay *r = c->r;
	enum side s = fd == c->cfd ? CLIENT : SERVER;

	(void)l;
	if ((ev & LOOP_ERROR) && side_error(r, c, s, fd))
		return;
	if (ev & LOOP_ERROR)
		ev |= LOOP_READ | LOOP_WRITE;
	if (conn_setting_up(c) && setting_up(r, c, s, fd, &ev))
		return;
	/* TLS may read to write, or write to read: an event on a TLS side
	 * moves both directions (each takes only what it can). */
	if (!c->tp[s]->plain)
		ev |= LOOP_READ | LOOP_WRITE;
	if (c->in_stage) {
		r->detour->event(r, c, fd, ev);
		return;
	}
	/* Reading one side and writing the other are the same direction:
	 * either event moves it.  Nothing moves toward a side that reset. */
	if ((ev & (s == CLIENT ? LOOP_READ : LOOP_WRITE)) && !c->s2c.rst)
		if (flow(r, c, REC_C2S) == -1)
			return;
	if ((ev & (s == CLIENT ? LOOP_WRITE : LOOP_READ)) && !c->c2s.rst)
		if (flow(r, c, REC_S2C) == -1)
			return;
	if (c->c2s.shut && c->s2c.shut) {
		put_close(r, c, "eof", -1, NULL);
		conn_end(r, c, 0, 0);
		return;
	}
	watch(r, c);
}

void
conn_note(struct relay *r, struct conn *c, const char *text)
{
	struct rec rec;

	if (r->verbose)
		warnx("conn %llu: %s", (unsigned long long)c->id, text);
	rec_init(&rec, REC_NOTE, c->id);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "level", "info");
	record(r, c, &rec, text, strlen(text));
}

struct conn *
conn_open(struct relay *r, struct listener *l, int cfd, const char *client,
    const char *target, const struct sockaddr_any *sa, uint64_t client_conn,
    const char *request, const struct conn_hooks *hooks, void *harg,
    unsigned tls, const char *host)
{
	struct conn *c;
	struct rec rec;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->target = strdup(target)) == NULL ||
	    (request != NULL && (c->request = strdup(request)) == NULL) ||
	    (tls != 0 && (c->host = strdup(host)) == NULL))
		err(TM_EXIT_FAIL, "calloc");
	c->r = r;
	c->id = ++r->next_id;
	c->cfd = cfd;
	c->sfd = -1;
	c->sa = sa;
	c->tp[CLIENT] = tls & CONN_TLS_CLIENT ? &tls_transport :
	    &sock_transport;
	c->tp[SERVER] = tls & CONN_TLS_SERVER ? &tls_transport :
	    &sock_transport;
	c->mitm = (tls & CONN_MITM) != 0;
	/* The first step; handshake() and conn_connect() below set it
	 * again as they begin it. */
	c->state = (tls & CONN_TLS_CLIENT) && !c->mitm ? CS_CLIENT_HELLO :
	    CS_CONNECTING;
	c->open_late = tls != 0;
	c->l = l;
	c->hooks = hooks;
	c->harg = harg;
	c->client_conn = client_conn;
	snprintf(c->client, sizeof(c->client), "%s", client);
	c->started = c->active = tm_mono_ms();
	c->next = r->conns;
	if (r->conns != NULL)
		r->conns->prev = c;
	r->conns = c;
	r->nconns++;

	if (!c->open_late) {
		conn_open_rec(r, c, &rec);
		record(r, c, &rec, NULL, 0);
	}
	if (r->verbose)
		warnx("conn %llu: %s -> %s", (unsigned long long)c->id, client,
		    target);

	if (loop_add(r->loop, cfd, 0, conn_event, c) == -1) {
		conn_fail(r, c, "error", strerror(errno));
		return NULL;
	}
	/* A TLS client's handshake comes first: the server is connected
	 * once the client has shown that it speaks TLS. */
	if ((tls & CONN_TLS_CLIENT) && !c->mitm)
		return handshake(r, c, CLIENT) == -1 ? NULL : c;
	if (conn_connect(r, c, sa) == -1)
		return NULL;
	watch(r, c);
	return c;
}

void
conn_accept(struct relay *r, struct listener *l, int cfd)
{
	char client[ADDR_TEXT + 16];

	(void)conn_open(r, l, cfd, addr_fmt_peer(cfd, client, sizeof(client)),
	    l->target.text, r->upstream != NULL ? upstream_addr(r) : &l->taddr,
	    0, NULL, NULL, NULL, (l->tls_in ? CONN_TLS_CLIENT : 0) |
	    (l->tls_out ? CONN_TLS_SERVER : 0), l->target.host);
}

void
conn_put_data(struct relay *r, uint64_t id, enum rec_dir d, const char *key,
    const char *val, const void *p, size_t n)
{
	struct rec rec;

	rec_init(&rec, REC_DATA, id);
	rec_set_src(&rec, r->src);
	rec.dir = d;
	if (key != NULL)
		rec_set(&rec, key, val);
	relay_put(r, &rec, p, n);
}

void
conn_open_rec(struct relay *r, struct conn *c, struct rec *rec)
{
	rec_init(rec, REC_OPEN, c->id);
	rec_set_src(rec, r->src);
	rec_set(rec, "client", c->client);
	rec_set(rec, "listen", c->l->text);
	rec_set(rec, "target", c->target);
	if (c->client_conn != 0)
		rec_setf(rec, "client-conn", "%llu",
		    (unsigned long long)c->client_conn);
	if (c->request != NULL)
		rec_set(rec, "request", c->request);
	if (r->upstream != NULL)
		rec_set(rec, "upstream-proxy", upstream_text(r));
	if (c->tls[CLIENT] != NULL && !conn_in_handshake(c, CLIENT))
		tls_rec(r, c, CLIENT, rec);
	if (c->tls[SERVER] != NULL && !conn_in_handshake(c, SERVER))
		tls_rec(r, c, SERVER, rec);
}

void
conn_sweep(struct relay *r)
{
	struct conn *c, *next;
	int64_t now = tm_mono_ms();

	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (conn_setting_up(c)) {
			if (r->connect_ms == 0 ||
			    now - c->started < (int64_t)r->connect_ms)
				continue;
			if (conn_in_handshake(c, CLIENT) ||
			    conn_in_handshake(c, SERVER))
				tls_failed(r, c, conn_in_handshake(c, CLIENT) ?
				    CLIENT : SERVER, "the handshake timed out");
			else
				connect_failed(r, c, ETIMEDOUT);
		} else if (r->idle_ms > 0 &&
		    now - c->active >= (int64_t)r->idle_ms) {
			if (c->in_stage) {
				r->detour->end(r, c, "timeout", "idle timeout");
				continue;
			}
			/* Quiet both ways: a FIN; with bytes still owed to
			 * a peer that takes nothing, a reset, so that it
			 * does not take what it got for all there was. */
			if (c->c2s.len > 0 || c->s2c.len > 0)
				c->rsides = 3;
			put_close(r, c, "timeout", -1, "idle timeout");
			conn_end(r, c, c->rsides != 0, c->rsides != 0);
		}
	}
}

/* Stopping (a signal): the relay does not carry these connections to their
 * end, so both peers get a reset, never a FIN that would make a cut
 * transfer look complete; the records say so. */
void
conn_stop_all(struct relay *r)
{
	struct conn *c;

	r->stopping = 1;
	while ((c = r->conns) != NULL) {
		flush_before_end(r, c, &c->c2s, SERVER);
		flush_before_end(r, c, &c->s2c, CLIENT);
		c->rsides = 3;
		if (!c->ending)
			put_close(r, c, "stopped", -1, NULL);
		conn_end(r, c, 1, 1);
	}
	conn_linger_sweep(r);
}

uint64_t
conn_reset_all(struct relay *r)
{
	struct conn *c;
	uint64_t n = 0;

	r->stopping = 1;
	for (c = r->conns; c != NULL; c = c->next, n++) {
		if (c->cfd != -1)
			sock_reset(c->cfd);
		if (c->sfd != -1)
			sock_reset(c->sfd);
		c->cfd = c->sfd = -1;
	}
	conn_linger_sweep(r);
	return n;
}
