/* repeat.c - -n COUNT and -c CONCURRENCY: the same request again and again
 * over CONCURRENCY keep-alive connections on one event loop, then a summary
 * of how it went.  A quick check, not a load generator: the latencies are
 * kept exactly (4 bytes per request) so the percentiles are true ones. */
#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safe.h"
#include "send.h"
#include "util.h"

struct rep {
	const struct opts *o;
	struct loop	*loop;
	struct plan	*pl;
	struct xchg	*x;
	int		*status;	/* per connection: the answer's */
	int		*inflight;	/* per connection: a request out */
	uint64_t	 nx, open;
	uint64_t	 issued, done, answered;
	uint64_t	 http_failures, net_failures, connects;
	uint32_t	*lat;		/* us, per answered request */
	int		 fatal;
	char		 why[1024];
	int64_t		 t0, t1;
};

static const struct xchg_ops rep_ops;

static void __attribute__((format(printf, 2, 3)))
first_why(struct rep *r, const char *fmt, ...)
{
	va_list ap;

	if (r->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static size_t
idx(struct rep *r, struct xchg *x)
{
	return (size_t)(x - r->x);
}

static void
launch(struct rep *r, struct xchg *x)
{
	size_t i = idx(r, x);

	r->issued++;
	r->connects++;
	r->inflight[i] = 1;
	r->status[i] = 0;
	r->open++;
	xchg_start(x, r->loop, r->pl, r->o->timeout_ms, r->o->connect_ms,
	    &rep_ops, r);
}

static void
finish(struct rep *r)
{
	if (r->done == r->o->count || (r->fatal && r->open == 0)) {
		r->t1 = tm_mono_us();
		loop_stop(r->loop);
	}
}

static void
on_head(void *arg, struct xchg *x, const struct http_head *h)
{
	struct rep *r = arg;

	r->status[idx(r, x)] = h->status;
}

static void
on_idle(void *arg, struct xchg *x)
{
	struct rep *r = arg;
	size_t i = idx(r, x);
	int64_t d = tm_mono_us() - x->t_req;

	r->inflight[i] = 0;
	r->lat[r->answered++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	r->done++;
	if (r->status[i] >= 400) {
		r->http_failures++;
		first_why(r, "%s: HTTP %d", x->plan->what, r->status[i]);
	}
	if (r->issued < r->o->count && !r->fatal && x->keepalive) {
		r->issued++;
		r->inflight[i] = 1;
		r->status[i] = 0;
		xchg_resend(x);
		return;
	}
	/* closed() opens a new connection if more requests are due. */
	xchg_close(x, "eof", 0, NULL);
}

static void
on_closed(void *arg, struct xchg *x)
{
	struct rep *r = arg;
	size_t i = idx(r, x);

	r->open--;
	if (r->inflight[i]) {
		r->inflight[i] = 0;
		r->net_failures++;
		r->done++;
		if (x->t_conn == 0) {
			/* Nothing listens there: every request would fail
			 * the same way. */
			r->fatal = 1;
			first_why(r, "connect %s: %s", x->plan->addr.text,
			    xchg_why(x));
		} else
			first_why(r, "%s: %s", x->plan->what,
			    strcmp(x->reason, "eof") == 0 ?
			    "the connection closed before the answer was "
			    "complete" : xchg_why(x));
	}
	if (r->issued < r->o->count && !r->fatal) {
		launch(r, x);
		return;
	}
	finish(r);
}

static const struct xchg_ops rep_ops = {
	.head = on_head,
	.idle = on_idle,
	.closed = on_closed,
};

static void
tick(struct loop *l, void *arg)
{
	struct rep *r = arg;
	uint64_t i;

	(void)l;
	for (i = 0; i < r->nx; i++)
		xchg_tick(&r->x[i]);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
summary(struct rep *r)
{
	double secs = (double)(r->t1 - r->t0) / 1e6;
	uint64_t n = r->answered;

	printf("requests     %llu over %llu connections\n",
	    (unsigned long long)r->done, (unsigned long long)r->connects);
	printf("failures     %llu\n",
	    (unsigned long long)(r->http_failures + r->net_failures));
	printf("time         %.3f s\n", secs);
	printf("requests/s   %.1f\n", secs > 0 ? (double)r->done / secs : 0);
	if (n == 0) {
		printf("latency      -\n");
		return;
	}
	qsort(r->lat, n, sizeof(*r->lat), cmp_u32);
	printf("latency ms   min %.3f  median %.3f  p99 %.3f  max %.3f\n",
	    r->lat[0] / 1e3, r->lat[(n - 1) / 2] / 1e3,
	    r->lat[(n * 99 + 99) / 100 - 1] / 1e3, r->lat[n - 1] / 1e3);
}

int
run_repeat(const struct opts *o, struct plan *pl)
{
	struct rep r;
	char why[SAFE_ROOM(1024)];
	uint64_t i;
	int status;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.pl = pl;
	r.nx = o->conc;
	if ((r.loop = loop_new()) == NULL ||
	    (r.x = calloc(r.nx, sizeof(*r.x))) == NULL ||
	    (r.status = calloc(r.nx, sizeof(int))) == NULL ||
	    (r.inflight = calloc(r.nx, sizeof(int))) == NULL ||
	    (r.lat = calloc(o->count, sizeof(*r.lat))) == NULL)
		err(TM_EXIT_FAIL, "init");
	loop_every(r.loop, 20, tick, &r);
	r.t0 = tm_mono_us();
	for (i = 0; i < r.nx && !r.fatal; i++)
		launch(&r, &r.x[i]);
	if (!(r.fatal && r.open == 0) && loop_run(r.loop) == -1)
		err(TM_EXIT_FAIL, "epoll_wait");
	if (r.t1 == 0)
		r.t1 = tm_mono_us();
	summary(&r);

	if (r.net_failures > 0)
		status = TM_EXIT_FAIL;
	else if (r.http_failures > 0)
		status = o->no_fail ? TM_EXIT_OK : TM_EXIT_FAIL;
	else
		status = TM_EXIT_OK;
	if (status != TM_EXIT_OK)
		warnx("%llu of %llu requests failed; the first: %s",
		    (unsigned long long)(r.http_failures + r.net_failures),
		    (unsigned long long)r.done, safe_str(r.why, why,
		    sizeof(why)));
	/* A summary that could not be written is a failure of its own
	 * (`| head` aside). */
	if ((fflush(stdout) == EOF || ferror(stdout)) && errno != EPIPE) {
		warn("write stdout");
		status = TM_EXIT_FAIL;
	}
	for (i = 0; i < r.nx; i++)
		xchg_free(&r.x[i]);
	free(r.x);
	free(r.status);
	free(r.inflight);
	free(r.lat);
	loop_free(r.loop);
	return status;
}
