/* loop_test.c - the reactor's timers (common/loop.c): one-shot timers fire
 * once and not early, can be cancelled and re-armed from their callback,
 * and live beside periodic ones; and frac_parse (common/util.c). */
#include <stdlib.h>

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
	int id, i, full = 0;

	l = loop_new();
	t0 = tm_mono_ms();
	ok(loop_once(l, 30, fired, &a) >= 0, "one-shot timer armed");
	id = loop_once(l, 10, fired, &b);
	ok(id >= 0, "second one-shot armed");
	loop_cancel(l, id);
	ok(loop_once(l, 0, fired, &c) >= 0, "zero-delay timer armed");
	ok(loop_every(l, 10, fired, &tick) == 0, "periodic timer armed");
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
	i = loop_once(l, 5, fired, &b);
	ok((i & 0xff) == (id & 0xff) && i != id, "slot reused under a new id");
	loop_cancel(l, id);
	ok(loop_once(l, 30, stop, NULL) >= 0, "stop timer armed again");
	(void)loop_run(l);
	ok(b.n == 1, "a stale id did not cancel the slot's new timer (%d)", b.n);
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

int
main(void)
{
	test_once();
	test_frac();
	return t_done();
}
