/* splice.c - the zero-copy data path.  When the records go to a file or a
 * device (a sync output) and no viewer or stage wants the bytes in memory,
 * a read is spliced from the socket into a pipe, tee(2) gives the output
 * its copy in a second pipe, and the peer gets the first: the payload
 * never enters the relay's memory, and the one copy left is the kernel's
 * into the page cache.  Pipe pairs are lent to a direction only while its
 * bytes are in flight, like the buffers of the copying path, and their
 * number is bounded: beyond it, the copying path serves. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "relay.h"
#include "util.h"

/* Pipe pairs in use at once, and kept when free: each is four
 * descriptors, which the connections need more. */
#define SP_MAX		64
#define SP_KEEP		16

struct spipe {
	int		 a[2];	/* the bytes on their way to the peer */
	int		 b[2];	/* their copy, on its way to the output */
	struct spipe	*next;
};

static void
sp_close(struct spipe *sp)
{
	close(sp->a[0]);
	close(sp->a[1]);
	close(sp->b[0]);
	close(sp->b[1]);
	free(sp);
}

static struct spipe *
sp_get(struct relay *r)
{
	struct spipe *sp;

	if ((sp = r->spare) != NULL) {
		r->spare = sp->next;
		r->nspare--;
		return sp;
	}
	if (r->nsp >= SP_MAX || (sp = malloc(sizeof(*sp))) == NULL)
		return NULL;
	if (pipe2(sp->a, O_NONBLOCK | O_CLOEXEC) == -1) {
		free(sp);
		return NULL;
	}
	if (pipe2(sp->b, O_NONBLOCK | O_CLOEXEC) == -1) {
		close(sp->a[0]);
		close(sp->a[1]);
		free(sp);
		return NULL;
	}
	/* A whole read must fit in each pipe, or tee would give the
	 * output less than the peer gets. */
	if (fcntl(sp->a[1], F_SETPIPE_SZ, RELAY_BUF) < RELAY_BUF ||
	    fcntl(sp->b[1], F_SETPIPE_SZ, RELAY_BUF) < RELAY_BUF) {
		sp_close(sp);
		r->nosplice = 1;
		return NULL;
	}
	r->nsp++;
	return sp;
}

/* An empty pair goes back to the spares; one with bytes left is closed. */
static void
sp_put(struct relay *r, struct spipe *sp, int empty)
{
	if (empty && r->nspare < SP_KEEP) {
		sp->next = r->spare;
		r->spare = sp;
		r->nspare++;
		return;
	}
	sp_close(sp);
	r->nsp--;
}

int
sp_ready(struct relay *r, struct conn *c, struct half *h)
{
	if (r->nosplice || !r->out.sync || r->out.err || r->viewers != NULL ||
	    r->stage != NULL || c->hooks != NULL || !c->tp[CLIENT]->plain ||
	    !c->tp[SERVER]->plain)
		return 0;
	return (h->sp = sp_get(r)) != NULL;
}

/* The read: into the pair's first pipe, and tee(2) gives the record its
 * copy in the second. */
static ssize_t
sp_take(struct relay *r, struct conn *c, enum side s, struct half *h,
    int *copyfd)
{
	struct spipe *sp = h->sp;
	ssize_t n, t;

	do
		n = splice(conn_fd(c, s), NULL, sp->a[1], NULL, RELAY_BUF,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EINVAL) {
		/* A socket that cannot splice: nothing was read, and the
		 * next read (epoll calls again) copies. */
		r->nosplice = 1;
		errno = EAGAIN;
	}
	if (n <= 0)
		return n;
	do
		t = tee(sp->a[0], sp->b[1], (size_t)n, SPLICE_F_NONBLOCK);
	while (t == -1 && errno == EINTR);
	if (t != n)
		errx(TM_EXIT_FAIL, "tee: %zd of %zd bytes", t, n);
	*copyfd = sp->b[0];
	return n;
}

/* The pair goes back once empty. */
static ssize_t
sp_send(struct relay *r, struct conn *c, enum side s, struct half *h)
{
	ssize_t n;

	do
		n = splice(h->sp->a[0], NULL, conn_fd(c, s), NULL, h->len,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n == -1 && errno == EINTR);
	if (n > 0 && (size_t)n == h->len) {
		sp_put(r, h->sp, 1);
		h->sp = NULL;
	}
	return n;
}

static void
sp_drop(struct relay *r, struct half *h)
{
	int e = errno;

	if (h->sp != NULL) {
		sp_put(r, h->sp, h->len == 0);
		h->sp = NULL;
	}
	errno = e;
}

const struct carrier sp_carrier = { sp_take, sp_send, sp_drop };

void
sp_free(struct relay *r)
{
	struct spipe *sp;

	while ((sp = r->spare) != NULL) {
		r->spare = sp->next;
		sp_close(sp);
	}
	r->nspare = 0;
}
