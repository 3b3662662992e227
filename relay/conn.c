/* conn.c - one relayed connection: bytes both ways, half-closes, resets and
 * failures passed on faithfully, and every event recorded before the peer
 * sees it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <err.h>

#include "relay.h"
#include "util.h"

/* Reads per direction per wakeup: a fast sender must not starve the
 * others; level-triggered epoll calls us again. */
#define MAX_ROUNDS	16

enum side { CLIENT, SERVER };

static void conn_event(struct loop *, int, unsigned, void *);

static void
put_simple(struct relay *r, struct conn *c, enum rec_type t, enum rec_dir d)
{
	struct rec rec;

	rec_init(&rec, t, c->id);
	rec_set_src(&rec, r->src);
	rec.dir = d;
	relay_put(r, &rec, NULL, 0);
}

static void
put_close(struct relay *r, struct conn *c, const char *reason, int side,
    int error)
{
	struct rec rec;

	rec_init(&rec, REC_CLOSE, c->id);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "reason", reason);
	if (side >= 0)
		rec_set(&rec, "by", side == CLIENT ? "client" : "server");
	if (error != 0)
		rec_set(&rec, "error", strerror(error));
	rec_setf(&rec, "c2s", "%llu", (unsigned long long)c->c2s.total);
	rec_setf(&rec, "s2c", "%llu", (unsigned long long)c->s2c.total);
	relay_put(r, &rec, NULL, 0);
	if (r->verbose)
		warnx("conn %llu closed: %s%s%s (%llu bytes up, %llu down)",
		    (unsigned long long)c->id, reason, error ? ": " : "",
		    error ? strerror(error) : "",
		    (unsigned long long)c->c2s.total,
		    (unsigned long long)c->s2c.total);
}

static void
conn_free(struct relay *r, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->c2s.buf);
	free(c->s2c.buf);
	free(c);
	r->nconns--;
	relay_resume_listeners(r);
}

/* Ends the connection.  how: 0 closes both sides with a FIN, 1 resets
 * both, and for a reset that came from one side, the other side is reset
 * and the side that reset is closed. */
static void
conn_end(struct relay *r, struct conn *c, int reset_client, int reset_server)
{
	loop_del(r->loop, c->cfd);
	if (reset_client)
		sock_reset(c->cfd);
	else
		close(c->cfd);
	if (c->sfd != -1) {
		loop_del(r->loop, c->sfd);
		if (reset_server)
			sock_reset(c->sfd);
		else
			close(c->sfd);
	}
	conn_free(r, c);
}

/* The target could not be reached: the client sees a reset, not an
 * empty success. */
static void
connect_failed(struct relay *r, struct conn *c, int e)
{
	put_close(r, c, sock_connect_reason(e), SERVER, e);
	if (!r->quiet)
		warnx("connect %s: %s", c->l->target.text, strerror(e));
	conn_end(r, c, 1, 0);
}

/* Best effort: what the surviving side is owed goes out before its reset. */
static void
flush_before_reset(struct half *h, int fd)
{
	if (h->len > 0 && fd != -1)
		(void)send(fd, h->buf + h->off, h->len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* A socket failed: a reset (or another error) on one side resets the
 * other, so each peer learns what happened as it would have directly. */
static void
side_failed(struct relay *r, struct conn *c, enum side s, int e)
{
	int reset = e == ECONNRESET || e == EPIPE;

	if (s == CLIENT)
		flush_before_reset(&c->s2c, c->cfd);
	else
		flush_before_reset(&c->c2s, c->sfd);
	put_close(r, c, reset ? "reset" : "error", s, reset ? 0 : e);
	conn_end(r, c, s == SERVER, s == CLIENT);
}

static void
record_data(struct relay *r, struct conn *c, enum rec_dir d,
    const unsigned char *p, size_t n)
{
	struct rec rec;

	rec_init(&rec, REC_DATA, c->id);
	rec_set_src(&rec, r->src);
	rec.dir = d;
	relay_put(r, &rec, p, n);
}

/*
 * Moves one direction's bytes as far as they go without blocking.
 * Returns -1 when the connection failed and was ended.
 */
static int
flow(struct relay *r, struct conn *c, struct half *h, int from, int to,
    enum rec_dir d)
{
	enum side fromside = d == REC_C2S ? CLIENT : SERVER;
	enum side toside = d == REC_C2S ? SERVER : CLIENT;
	const unsigned char *p;
	size_t got;
	ssize_t n;
	int rounds;

	for (rounds = 0; rounds < MAX_ROUNDS; rounds++) {
		if (h->len > 0) {
			p = h->buf + h->off;
			n = send(to, p, h->len, MSG_NOSIGNAL);
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
			if (h->len == 0) {
				free(h->buf);
				h->buf = NULL;
				h->off = 0;
			}
			continue;
		}
		if (h->eof) {
			if (!h->shut) {
				shutdown(to, SHUT_WR);
				h->shut = 1;
			}
			return 0;
		}
		n = recv(from, r->scratch, RELAY_BUF, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			side_failed(r, c, fromside, errno);
			return -1;
		}
		if (n == 0) {
			h->eof = 1;
			put_simple(r, c, REC_SHUTDOWN, d);
			continue;
		}
		/* Recorded before it is forwarded: the record never lags
		 * behind what a peer has seen. */
		got = (size_t)n;
		record_data(r, c, d, r->scratch, got);
		h->total += got;
		c->active = tm_mono_ms();
		n = send(to, r->scratch, got, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				side_failed(r, c, toside, errno);
				return -1;
			}
			n = 0;
		}
		if ((size_t)n < got) {
			/* The rest waits in a buffer of its own until the
			 * receiver takes it; we read no more meanwhile. */
			if ((h->buf = malloc(RELAY_BUF)) == NULL)
				err(TM_EXIT_FAIL, "malloc");
			memcpy(h->buf, r->scratch + n, got - (size_t)n);
			h->off = 0;
			h->len = got - (size_t)n;
			return 0;
		}
	}
	return 0;
}

/* Watches each socket for what its two directions need now. */
static void
watch(struct relay *r, struct conn *c)
{
	unsigned cev = 0, sev = 0;

	if (c->connecting)
		sev = LOOP_WRITE;
	else {
		/* Reading stops while the bytes read before wait for their
		 * receiver: that is the backpressure. */
		if (!c->c2s.eof && c->c2s.len == 0)
			cev |= LOOP_READ;
		if (!c->s2c.eof && c->s2c.len == 0)
			sev |= LOOP_READ;
		if (c->s2c.len > 0)
			cev |= LOOP_WRITE;
		if (c->c2s.len > 0)
			sev |= LOOP_WRITE;
	}
	loop_mod(r->loop, c->cfd, cev);
	loop_mod(r->loop, c->sfd, sev);
}

static void
conn_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct conn *c = arg;
	struct relay *r = c->r;
	enum side s = fd == c->cfd ? CLIENT : SERVER;
	int e;

	(void)l;
	if (ev & LOOP_ERROR) {
		if ((e = sock_error(fd)) != 0) {
			if (c->connecting && s == SERVER)
				connect_failed(r, c, e);
			else
				side_failed(r, c, s, e);
			return;
		}
		ev |= LOOP_READ | LOOP_WRITE;
	}
	if (c->connecting) {
		if (s == CLIENT)
			return;
		if ((e = sock_error(fd)) != 0) {
			connect_failed(r, c, e);
			return;
		}
		c->connecting = 0;
		ev = LOOP_READ;
	}
	if (s == CLIENT) {
		if ((ev & LOOP_READ) &&
		    flow(r, c, &c->c2s, c->cfd, c->sfd, REC_C2S) == -1)
			return;
		if ((ev & LOOP_WRITE) &&
		    flow(r, c, &c->s2c, c->sfd, c->cfd, REC_S2C) == -1)
			return;
	} else {
		if ((ev & LOOP_READ) &&
		    flow(r, c, &c->s2c, c->sfd, c->cfd, REC_S2C) == -1)
			return;
		if ((ev & LOOP_WRITE) &&
		    flow(r, c, &c->c2s, c->cfd, c->sfd, REC_C2S) == -1)
			return;
	}
	if (c->c2s.shut && c->s2c.shut) {
		put_close(r, c, "eof", -1, 0);
		conn_end(r, c, 0, 0);
		return;
	}
	watch(r, c);
}

void
conn_accept(struct relay *r, struct listener *l, int cfd)
{
	char client[ADDR_TEXT + 16];
	struct conn *c;
	struct rec rec;
	int pending, e;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		err(TM_EXIT_FAIL, "calloc");
	c->r = r;
	c->id = ++r->next_id;
	c->cfd = cfd;
	c->sfd = -1;
	c->l = l;
	c->started = c->active = tm_mono_ms();
	c->next = r->conns;
	if (r->conns != NULL)
		r->conns->prev = c;
	r->conns = c;
	r->nconns++;

	rec_init(&rec, REC_OPEN, c->id);
	rec_set_src(&rec, r->src);
	rec_set(&rec, "client", addr_fmt_peer(cfd, client, sizeof(client)));
	rec_set(&rec, "listen", l->text);
	rec_set(&rec, "target", l->target.text);
	relay_put(r, &rec, NULL, 0);
	if (r->verbose)
		warnx("conn %llu: %s -> %s", (unsigned long long)c->id, client,
		    l->target.text);

	if ((c->sfd = sock_connect(&l->taddr, &pending)) == -1) {
		connect_failed(r, c, errno);
		return;
	}
	c->connecting = pending;
	if (loop_add(r->loop, cfd, 0, conn_event, c) == -1 ||
	    loop_add(r->loop, c->sfd, 0, conn_event, c) == -1) {
		e = errno;
		put_close(r, c, "error", -1, e);
		conn_end(r, c, 1, 1);
		return;
	}
	watch(r, c);
}

void
conn_sweep(struct relay *r)
{
	struct conn *c, *next;
	int64_t now = tm_mono_ms();

	for (c = r->conns; c != NULL; c = next) {
		next = c->next;
		if (c->connecting) {
			if (r->connect_ms > 0 &&
			    now - c->started >= (int64_t)r->connect_ms)
				connect_failed(r, c, ETIMEDOUT);
		} else if (r->idle_ms > 0 &&
		    now - c->active >= (int64_t)r->idle_ms) {
			put_close(r, c, "timeout", -1, 0);
			conn_end(r, c, 0, 0);
		}
	}
}

void
conn_stop_all(struct relay *r)
{
	while (r->conns != NULL) {
		put_close(r, r->conns, "stopped", -1, 0);
		conn_end(r, r->conns, 0, 0);
	}
}
