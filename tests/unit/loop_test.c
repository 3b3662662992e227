/* loop_test.c - the reactor's timers (common/loop.c): one-shot timers fire
 * once and not early, can be cancelled and re-armed from their callback,
 * and live beside periodic ones; a descriptor watched for nothing hears of
 * its hang-up once; loop_close leaves no registration behind; and
 * frac_parse (common/util.c). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"
#include "t.h"

struct count {
	int	 n;
	int64_t	 at;
	int	 rearm;	/* times to re-arm itself */
};

static void
fired(struct loop *l, void *arg)
{
	struct count *c = arg;

	c->n++;
	c->at = tm_mono_ms();
	if (c->rearm > 0) {
		c->rearm--;
		loop_once(l, 5, fired, c);
	}
}

static void
stop(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

static void
test_once(void)
{
	struct count a = { 0, 0, 0 }, b = { 0, 0, 0 }, c = { 0, 0, 2 };
	struct count tick = { 0, 0, 0 };
	struct loop *l;
	int64_t t0;
	int64_t id, i, i2;
	int full = 0;

	l = loop_new();
	t0 = tm_mono_ms();
	ok(loop_once(l, 30, fired, &a) >= 0, "one-shot timer armed");
	id = loop_once(l, 10, fired, &b);
	ok(id >= 0, "second one-shot armed");
	loop_cancel(l, id);
	ok(loop_once(l, 0, fired, &c) >= 0, "zero-delay timer armed");
	ok(loop_every(l, 10, fired, &tick) >= 0, "periodic timer armed");
	ok(loop_once(l, 80, stop, NULL) >= 0, "stop timer armed");
	ok(loop_run(l) == 0, "loop ran");
	ok(a.n == 1, "one-shot fired once (%d)", a.n);
	ok(a.at - t0 >= 30, "not before its time (%lld ms)",
	    (long long)(a.at - t0));
	ok(b.n == 0, "cancelled timer did not fire");
	ok(c.n == 3, "re-armed from its callback: fired 3 times (%d)", c.n);
	ok(tick.n >= 4, "periodic timer kept firing (%d)", tick.n);
	loop_free(l);

	/* Slots are reused once fired or cancelled. */
	l = loop_new();
	for (i = 0; i < 100; i++) {
		if ((id = loop_once(l, 1000, fired, &a)) == -1)
			full = 1;
		loop_cancel(l, id);
	}
	ok(!full, "cancelled slots are reused");
	loop_free(l);

	/* The id of a fired timer is stale: cancelling it later leaves the
	 * timer that took its slot alone. */
	l = loop_new();
	a.n = b.n = 0;
	id = loop_once(l, 0, fired, &a);
	ok(loop_once(l, 20, stop, NULL) >= 0, "stop timer armed");
	(void)loop_run(l);
	ok(a.n == 1, "first tenant fired");
	/* Both entries are free again: one of these two takes id's. */
	i = loop_once(l, 5, fired, &b);
	i2 = loop_once(l, 5, fired, &b);
	ok(((i & INT32_MAX) == (id & INT32_MAX) && i != id) ||
	    ((i2 & INT32_MAX) == (id & INT32_MAX) && i2 != id),
	    "entry reused under a new id");
	loop_cancel(l, id);
	ok(loop_once(l, 30, stop, NULL) >= 0, "stop timer armed again");
	(void)loop_run(l);
	ok(b.n == 2, "a stale id did not cancel the entry's new timer (%d)",
	    b.n);
	loop_free(l);
}

/* Many one-shot timers armed in a shuffled order fire in the order of
 * their times, ties in the order they were armed. */
#define NMANY	2000
static int64_t order[NMANY];
static int norder;

static void
fired_at(struct loop *l, void *arg)
{
	(void)l;
	order[norder++] = (int64_t)(intptr_t)arg;
}

struct per {
	int	 n;
	int64_t	 id;
};

static void
periodic_cancels(struct loop *l, void *arg)
{
	struct per *p = arg;

	if (++p->n == 3)
		loop_cancel(l, p->id);
}

static void
yield0(struct loop *l, void *arg)
{
	int *n = arg;

	/* Re-armed at 0 ms from its own callback: once a batch, not a busy
	 * loop inside one run of the timers. */
	if (++*n < 50)
		loop_once(l, 0, yield0, n);
}

static void
test_heap(void)
{
	static int64_t due[NMANY], hi[NMANY], pos[NMANY], ids[NMANY];
	struct loop *l = loop_new();
	struct per p = { 0, -1 };
	int i, j, inorder = 1, cancelled = 0, y = 0;

	/* Delays of 1 to 40 ms, armed in an order that is not theirs; every
	 * seventh cancelled.  due and pos: what the order must follow. */
	for (i = 0; i < NMANY; i++) {
		j = (int)(((int64_t)i * 7919) % NMANY);
		pos[j] = i;
		due[j] = tm_mono_ms() + j / 50 + 1;
		ids[j] = loop_once(l, j / 50 + 1, fired_at,
		    (void *)(intptr_t)j);
		/* The loop read the clock between these two. */
		hi[j] = tm_mono_ms() + j / 50 + 1;
	}
	for (j = 0; j < NMANY; j += 7)
		loop_cancel(l, ids[j]);
	p.id = loop_every(l, 5, periodic_cancels, &p);
	ok(p.id >= 0, "periodic timer armed");
	loop_once(l, 0, yield0, &y);
	ok(loop_once(l, 300, stop, NULL) >= 0, "stop timer armed");
	(void)loop_run(l);
	ok(norder == NMANY - (NMANY + 6) / 7, "every timer not cancelled "
	    "fired once (%d)", norder);
	for (i = 0; i < norder; i++) {
		if (order[i] % 7 == 0)
			cancelled++;
		if (i > 0 && (hi[order[i]] < due[order[i - 1]] ||
		    (hi[order[i]] == due[order[i - 1]] &&
		    due[order[i]] == hi[order[i - 1]] &&
		    pos[order[i]] < pos[order[i - 1]])))
			inorder = 0;
	}
	ok(inorder, "in the order of their times, ties as armed");
	ok(cancelled == 0, "none cancelled fired (%d)", cancelled);
	ok(p.n == 3, "a periodic timer cancelled from its callback stops (%d)",
	    p.n);
	ok(y == 50, "a 0 ms timer re-armed from its callback ran 50 times "
	    "(%d)", y);
	loop_cancel(l, p.id);	/* cancelled already: a no-op */
	loop_cancel(l, -1);
	loop_cancel(l, (int64_t)1 << 40);
	loop_free(l);
}

static void
test_frac(void)
{
	const char *e;
	double v;

	ok(frac_parse("0.25", &v, &e) == 0 && v == 0.25, "0.25");
	ok(frac_parse("1", &v, &e) == 0 && v == 1, "1");
	ok(frac_parse("50%", &v, &e) == 0 && v == 0.5, "50%%");
	ok(frac_parse("0.1%", &v, &e) == 0 && v > 0.000999 && v < 0.001001,
	    "0.1%%");
	ok(frac_parse("1.5", &v, &e) == -1 && e[0] == 't', "1.5 too large");
	ok(frac_parse("", &v, &e) == -1, "empty refused");
	ok(frac_parse(".", &v, &e) == -1, "dot refused");
	ok(frac_parse("-0.1", &v, &e) == -1, "negative refused");
	ok(frac_parse("0.5x", &v, &e) == -1, "trailing junk refused");
}

struct seen {
	int	 calls, errors, reads;
};

static void
on_fd(struct loop *l, int fd, unsigned ev, void *arg)
{
	struct seen *s = arg;

	(void)l;
	(void)fd;
	s->calls++;
	if (ev & LOOP_ERROR)
		s->errors++;
	if (ev & LOOP_READ)
		s->reads++;
}

/* Runs the loop for ms milliseconds. */
static void
run_for(struct loop *l, int ms)
{
	loop_once(l, ms, stop, NULL);
	loop_run(l);
}

static void
test_fds(void)
{
	struct loop *l = loop_new();
	struct seen a = { 0, 0, 0 }, b = { 0, 0, 0 };
	int sp[2], sp2[2], was;

	/* A quiet descriptor whose peer hung up: told once, not at every
	 * wait; asked for reading again, it is read (its EOF). */
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
	ok(loop_add(l, sp[0], 0, on_fd, &a) == 0, "a quiet descriptor added");
	close(sp[1]);
	run_for(l, 50);
	ok(a.calls == 1 && a.errors == 1, "its hang-up is told once "
	    "(%d calls)", a.calls);
	ok(loop_mod(l, sp[0], LOOP_READ) == 0, "asked to read again");
	run_for(l, 20);
	ok(a.reads >= 1, "then it is read");
	loop_del(l, sp[0]);
	close(sp[0]);

	/* loop_close: the number can be added again at once, and only the
	 * new descriptor's events come. */
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
	was = sp[0];
	ok(loop_add(l, sp[0], LOOP_READ, on_fd, &a) == 0, "added");
	ok(write(sp[1], "x", 1) == 1, "a byte waits");
	ok(loop_close(l, sp[0]) == 0, "loop_close");
	close(sp[1]);
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sp2) == 0, "socketpair");
	ok(sp2[0] == was || sp2[1] == was, "a number reused");
	a.calls = 0;
	ok(loop_add(l, was, 0, on_fd, &b) == 0, "the reused number added");
	run_for(l, 20);
	ok(a.calls == 0 && b.calls == 0, "no event of the closed one");
	loop_del(l, was);
	close(sp2[0]);
	close(sp2[1]);
	loop_free(l);
}

int
main(void)
{
	test_once();
	test_fds();
	test_heap();
	test_frac();
	return t_done();
}
