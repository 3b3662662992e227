/* exchange.c - one client connection on the event loop: connect, send the
 * plan's chunks (paced, or holding a body for 100 Continue), read and parse
 * the answers, and say when every request has its final answer.  The
 * request bytes go through the parser too, so the answers to HEAD and
 * CONNECT are framed right and we know how many answers to wait for. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <err.h>

#include "send.h"
#include "util.h"

/* Reads per wakeup, so one fast server cannot starve the others. */
#define MAX_ROUNDS	16

enum { X_IDLE, X_CONNECTING, X_HANDSHAKE, X_OPEN, X_DONE };

static void on_event(struct loop *, int, unsigned, void *);

int
plan_resolve(struct plan *pl, char *err, size_t errlen)
{
	char msg[600];
	int rc;

	pl->t_start = tm_mono_us();
	rc = addr_resolve(&pl->addr, ADDR_TARGET, &pl->sa, msg, sizeof(msg));
	pl->t_lookup = tm_mono_us();
	if (rc == -1)
		snprintf(err, errlen, "cannot resolve %s", msg);
	return rc;
}

static void
cb_head(void *arg, const struct http_head *h)
{
	struct xchg *x = arg;

	if (h->dir == HTTP_REQ) {
		x->nreq++;
		return;
	}
	if (h->status < 200) {
		/* 100 Continue: the held body may go now. */
		if (h->status == 100)
			x->go100 = 1;
	} else {
		x->nfinal++;
		x->keepalive = h->minor >= 1 ?
		    !http_header_has(h, "Connection", "close") :
		    http_header_has(h, "Connection", "keep-alive");
		/* Nor after a body held for 100 Continue and never sent:
		 * the server may still wait for it, whatever else it says. */
		if (h->body == HTTP_BODY_EOF || h->body == HTTP_BODY_TUNNEL ||
		    x->skipped)
			x->keepalive = 0;
	}
	if (x->ops->head != NULL)
		x->ops->head(x->arg, x, h);
}

static void
cb_body(void *arg, enum http_dir d, const unsigned char *p, size_t n)
{
	struct xchg *x = arg;

	if (d == HTTP_RESP && x->ops->body != NULL)
		x->ops->body(x->arg, x, p, n);
}

static void
cb_end(void *arg, enum http_dir d, const struct http_head *h,
    enum http_end e)
{
	struct xchg *x = arg;

	if (d != HTTP_RESP || (h != NULL && h->status < 200))
		return;
	if (x->ops->end != NULL)
		x->ops->end(x->arg, x, h, e);
}

static void
cb_notraw(void *arg, enum http_dir d, const char *why)
{
	struct xchg *x = arg;

	if (d == HTTP_RESP)
		x->resp_raw = why;
}

static const struct http_callbacks parse_cbs = {
	.head = cb_head,
	.body = cb_body,
	.end = cb_end,
	.notraw = cb_notraw,
};

const char *
xchg_why(const struct xchg *x)
{
	if (x->errtext != NULL)
		return x->errtext;
	if (x->error != 0)
		return strerror(x->error);
	return x->reason;
}

static void
watch(struct xchg *x)
{
	unsigned ev = LOOP_READ;

	if (x->state == X_CONNECTING)
		ev = LOOP_WRITE;
	else if (x->state == X_HANDSHAKE)
		ev = x->tlswant;
	else if (x->ci < x->plan->nchunk && x->wait_until == 0)
		ev |= LOOP_WRITE;
	loop_mod(x->loop, x->fd, ev);
}

void
xchg_close(struct xchg *x, const char *reason, int error, const char *text)
{
	if (x->state == X_DONE || x->state == X_IDLE)
		return;
	loop_cancel(x->loop, x->wake);
	x->wake = -1;
	loop_del(x->loop, x->fd);
	if (x->ssl != NULL)
		stls_free(x);
	/* A connection we give up on is reset, so the server does not
	 * keep waiting for the rest of a request. */
	if (strcmp(reason, "eof") == 0)
		close(x->fd);
	else
		sock_reset(x->fd);
	x->fd = -1;
	x->state = X_DONE;
	x->reason = reason;
	x->error = error;
	x->errtext = text;
	x->t_end = tm_mono_us();
	if (x->ops->closed != NULL)
		x->ops->closed(x->arg, x);
}

static void
set_deadline(struct xchg *x, int64_t from)
{
	x->deadline = x->timeout_ms > 0 ?
	    from + (int64_t)x->timeout_ms * 1000 : 0;
}

void
xchg_reset(struct xchg *x, const struct plan *pl, uint64_t timeout_ms,
    uint64_t connect_ms, const struct xchg_ops *ops, void *arg)
{
	if (x->buf == NULL && (x->buf = malloc(SEND_BUF)) == NULL)
		err(TM_EXIT_FAIL, "malloc");
	http_conn_free(&x->hc);
	http_conn_init(&x->hc, &parse_cbs, x);
	x->plan = pl;
	x->ops = ops;
	x->arg = arg;
	x->timeout_ms = timeout_ms;
	x->connect_ms = connect_ms;
	x->ci = 0;
	x->coff = 0;
	x->go100 = 0;
	x->wait_until = 0;
	x->nreq = x->nfinal = 0;
	x->keepalive = 0;
	x->skipped = 0;
	x->resp_raw = NULL;
	x->c2s = x->s2c = 0;
	x->t0 = pl->t_start ? pl->t_start : tm_mono_us();
	x->t_lookup = pl->t_lookup ? pl->t_lookup : x->t0;
	x->t_conn = x->t_sent = x->t_first = x->t_end = 0;
	x->t_req = tm_mono_us();
	x->reason = NULL;
	x->error = 0;
	x->errtext = NULL;
	x->local[0] = '\0';
	set_deadline(x, x->t_req);
}

void
xchg_start(struct xchg *x, struct loop *l, const struct plan *pl,
    uint64_t timeout_ms, uint64_t connect_ms, const struct xchg_ops *ops,
    void *arg)
{
	int pending, e;

	xchg_reset(x, pl, timeout_ms, connect_ms, ops, arg);
	x->loop = l;
	x->wake = -1;
	x->fd = sock_connect(&pl->sa, &pending);
	x->state = X_CONNECTING;
	if (x->fd == -1) {
		e = errno;
		x->fd = -1;
		x->state = X_DONE;
		x->reason = sock_connect_reason(e);
		x->error = e;
		x->t_end = tm_mono_us();
		if (ops->opened != NULL)
			ops->opened(arg, x);
		if (ops->closed != NULL)
			ops->closed(arg, x);
		return;
	}
	addr_fmt_local(x->fd, x->local, sizeof(x->local));
	if (ops->opened != NULL)
		ops->opened(arg, x);
	if (loop_add(l, x->fd, LOOP_WRITE, on_event, x) == -1) {
		xchg_close(x, "error", errno, NULL);
		return;
	}
	/* A connect that finished at once still reports through the loop:
	 * one path for both. */
}

void
xchg_resend(struct xchg *x)
{
	x->ci = 0;
	x->coff = 0;
	x->go100 = 0;
	x->wait_until = 0;
	x->t_req = tm_mono_us();
	x->t_sent = x->t_first = 0;
	set_deadline(x, x->t_req);
	watch(x);
}

int
xchg_answered(const struct xchg *x)
{
	return x->ci == x->plan->nchunk && x->nreq > 0 &&
	    x->nfinal >= x->nreq && !http_conn_is_raw(&x->hc, HTTP_REQ) &&
	    !http_conn_is_raw(&x->hc, HTTP_RESP) &&
	    !x->hc.p[HTTP_RESP].in_msg;
}

void
xchg_sent(struct xchg *x, size_t n)
{
	const struct chunk *c = &x->plan->chunk[x->ci];

	if (x->ops->sent != NULL)
		x->ops->sent(x->arg, x, c->p + x->coff, n);
	http_conn_feed(&x->hc, HTTP_REQ, c->p + x->coff, n);
	x->c2s += n;
	x->coff += n;
	if (x->coff == c->len) {
		x->ci++;
		x->coff = 0;
	}
}

/* The server answered (finally) before we sent a body it was to ask for:
 * that body is never sent, and the connection cannot carry more. */
static void
skip_held_body(struct xchg *x)
{
	if (x->ci < x->plan->nchunk && x->coff == 0 &&
	    x->plan->chunk[x->ci].wait100 && x->nfinal >= x->nreq &&
	    x->nreq > 0) {
		x->ci = x->plan->nchunk;
		x->skipped = 1;
		x->keepalive = 0;
		x->wait_until = 0;
		if (x->t_sent == 0)
			x->t_sent = tm_mono_us();
	}
}

int
xchg_rcvd(struct xchg *x, const unsigned char *p, size_t n)
{
	int before;

	x->s2c += n;
	if (x->ops->rcvd != NULL)
		x->ops->rcvd(x->arg, x, p, n);
	before = x->nfinal;
	http_conn_feed(&x->hc, HTTP_RESP, p, n);
	if (x->nfinal != before)
		skip_held_body(x);
	return xchg_answered(x);
}

static void
on_wake(struct loop *l, void *arg)
{
	struct xchg *x = arg;

	(void)l;
	x->wake = -1;
	xchg_tick(x);
}

/* Holds the rest until monotonic us t: a one-shot timer of the loop wakes
 * x then (a paced replay keeps the recorded pauses to the millisecond
 * without a tick of its own). */
static void
wait_for(struct xchg *x, int64_t t)
{
	int64_t ms = (t - tm_mono_us() + 999) / 1000;

	x->wait_until = t;
	loop_cancel(x->loop, x->wake);
	x->wake = loop_once(x->loop, ms < 0 ? 0 : ms > INT32_MAX ?
	    INT32_MAX : (int)ms, on_wake, x);
}

/* Sends what may go now.  Returns -1 when x ended. */
static int
pump(struct xchg *x)
{
	const struct chunk *c;
	int64_t now;
	ssize_t n;

	while (x->ci < x->plan->nchunk) {
		c = &x->plan->chunk[x->ci];
		if (x->coff == 0) {
			now = tm_mono_us();
			if (c->wait100 && !x->go100) {
				if (x->wait_until == 0)
					wait_for(x, now +
					    SEND_WAIT100_MS * 1000);
				return 0;
			}
			if (x->plan->pace && x->t_conn + c->at_us > now) {
				wait_for(x, x->t_conn + c->at_us);
				return 0;
			}
		}
		x->wait_until = 0;
		if (c->len == 0) {
			x->ci++;
			continue;
		}
		n = x->ssl != NULL ? stls_send(x, c->p + x->coff,
		    c->len - x->coff) : send(x->fd, c->p + x->coff,
		    c->len - x->coff, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			xchg_close(x, errno == ECONNRESET || errno == EPIPE ?
			    "reset" : "error", errno, NULL);
			return -1;
		}
		xchg_sent(x, (size_t)n);
	}
	if (x->t_sent == 0) {
		x->t_sent = tm_mono_us();
		/* Not HTTP: the server learns that we are done by our
		 * FIN, as it did from the recorded client. */
		if (http_conn_is_raw(&x->hc, HTTP_REQ)) {
			if (x->ssl != NULL)
				stls_shut(x);
			shutdown(x->fd, SHUT_WR);
		}
	}
	return 0;
}

/* Reads what has come.  Returns -1 when x ended or was handed back. */
static int
drain(struct xchg *x)
{
	int rounds;
	ssize_t n;

	for (rounds = 0; rounds < MAX_ROUNDS; rounds++) {
		n = x->ssl != NULL ? stls_recv(x, x->buf, SEND_BUF) :
		    recv(x->fd, x->buf, SEND_BUF, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			xchg_close(x, errno == ECONNRESET ? "reset" : "error",
			    errno, NULL);
			return -1;
		}
		if (n == 0) {
			/* The end of an answer framed by the close comes
			 * through the parser first. */
			http_conn_eof(&x->hc, HTTP_RESP);
			xchg_close(x, "eof", 0, NULL);
			return -1;
		}
		if (x->t_first == 0)
			x->t_first = tm_mono_us();
		if (xchg_rcvd(x, x->buf, (size_t)n)) {
			x->t_end = tm_mono_us();
			x->ops->idle(x->arg, x);
			return -1;
		}
	}
	return 0;
}

static void
on_event(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct xchg *x = arg;
	int e;

	(void)l;
	if (x->state == X_CONNECTING) {
		if ((e = sock_error(fd)) != 0) {
			xchg_close(x, sock_connect_reason(e), e, NULL);
			return;
		}
		x->t_conn = tm_mono_us();
		if (x->plan->tls) {
			if (stls_start(x) == -1) {
				xchg_close(x, "tls", 0, x->tlswhy);
				return;
			}
			x->state = X_HANDSHAKE;
		} else {
			x->state = X_OPEN;
			if (pump(x) == -1)
				return;
			watch(x);
			return;
		}
	}
	if (x->state == X_HANDSHAKE) {
		switch (stls_handshake(x)) {
		case -1:
			xchg_close(x, "tls", 0, x->tlswhy);
			return;
		case 0:
			watch(x);
			return;
		}
		x->state = X_OPEN;
		if (pump(x) == -1)
			return;
		watch(x);
		return;
	}

	if ((ev & LOOP_ERROR) && !(ev & LOOP_READ) &&
	    (e = sock_error(fd)) != 0) {
		xchg_close(x, e == ECONNRESET ? "reset" : "error", e, NULL);
		return;
	}
	if ((ev & (LOOP_READ | LOOP_ERROR)) && drain(x) == -1)
		return;
	if (x->ci < x->plan->nchunk && (x->go100 || x->wait_until == 0 ||
	    tm_mono_us() >= x->wait_until) && pump(x) == -1)
		return;
	/* An answer that came before the last bytes went out (a server
	 * that refused the body early) is complete only now. */
	if (xchg_answered(x)) {
		x->t_end = tm_mono_us();
		x->ops->idle(x->arg, x);
		return;
	}
	watch(x);
}

void
xchg_tick(struct xchg *x)
{
	int64_t now;

	if (x->state != X_CONNECTING && x->state != X_HANDSHAKE &&
	    x->state != X_OPEN)
		return;
	now = tm_mono_us();
	/* The TLS handshake counts against the connect timeout. */
	if ((x->state == X_CONNECTING || x->state == X_HANDSHAKE) &&
	    x->connect_ms > 0 &&
	    now - x->t_req >= (int64_t)x->connect_ms * 1000) {
		xchg_close(x, "timeout", 0, x->state == X_HANDSHAKE ?
		    "the TLS handshake timed out" : "connect timed out");
		return;
	}
	if (x->deadline != 0 && now >= x->deadline) {
		xchg_close(x, "timeout", 0, x->t_first == 0 ?
		    "timed out waiting for the answer" :
		    "timed out before the answer was complete");
		return;
	}
	if (x->state == X_OPEN && x->wait_until != 0 &&
	    (x->go100 || now >= x->wait_until)) {
		/* No 100 Continue within a second: send the body anyway,
		 * as RFC 9110 lets a client do. */
		if (x->plan->chunk[x->ci].wait100)
			x->go100 = 1;
		if (pump(x) == -1)
			return;
		watch(x);
	}
}

void
xchg_free(struct xchg *x)
{
	if (x->state == X_CONNECTING || x->state == X_HANDSHAKE ||
	    x->state == X_OPEN)
		xchg_close(x, "stopped", 0, NULL);
	http_conn_free(&x->hc);
	free(x->buf);
	x->buf = NULL;
}
