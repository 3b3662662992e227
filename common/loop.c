/* loop.c - the epoll reactor.  Level-triggered: a callback that leaves data
 * unread is called again, which keeps the callbacks simple and fair. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

#define MAX_EVENTS	256
#define MAX_TIMERS	8

struct slot {
	loop_fd_fn	*fn;
	void		*arg;
	unsigned	 events;
	uint32_t	 gen;	/* bumped by every loop_add of this fd */
	int		 off;	/* out of the epoll set: quiet and hung up */
};

struct timer {
	loop_timer_fn	*fn;		/* NULL: a free slot */
	void		*arg;
	int		 every;		/* 0: once */
	int64_t		 next;
	unsigned	 gen;		/* bumped at each arming: in the id */
};

struct loop {
	int		 epfd;
	int		 stop;
	struct slot	*slots;		/* indexed by fd */
	int		 nslots;
	/* Few timers (a periodic sweep or two, a wake-up that a tool keeps
	 * re-arming for its own schedule): a scan is cheaper than a heap at
	 * this size. */
	struct timer	 timers[MAX_TIMERS];
	int		 ntimers;
	loop_timer_fn	*after;
	void		*after_arg;
};

struct loop *
loop_new(void)
{
	struct loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	free(l->slots);
	free(l);
}

static uint32_t
to_epoll(unsigned ev)
{
	return (ev & LOOP_READ ? EPOLLIN | EPOLLRDHUP : 0) |
	    (ev & LOOP_WRITE ? EPOLLOUT : 0);
}

int
loop_add(struct loop *l, int fd, unsigned events, loop_fd_fn *fn, void *arg)
{
	struct epoll_event ev;
	struct slot *ns;
	int n;

	if (fd >= l->nslots) {
		n = l->nslots ? l->nslots : 64;
		while (n <= fd)
			n *= 2;
		if ((ns = realloc(l->slots, (size_t)n * sizeof(*ns))) == NULL)
			return -1;
		memset(ns + l->nslots, 0, (size_t)(n - l->nslots) *
		    sizeof(*ns));
		l->slots = ns;
		l->nslots = n;
	}
	/* The generation travels with each event: a descriptor closed and
	 * reused within one batch must not get its predecessor's events. */
	l->slots[fd].gen++;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.u64 = (uint64_t)l->slots[fd].gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	l->slots[fd].fn = fn;
	l->slots[fd].arg = arg;
	l->slots[fd].events = events;
	l->slots[fd].off = 0;
	return 0;
}

int
loop_mod(struct loop *l, int fd, unsigned events)
{
	struct epoll_event ev;

	if (fd < 0 || fd >= l->nslots || l->slots[fd].fn == NULL)
		return -1;
	if (l->slots[fd].events == events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.u64 = (uint64_t)l->slots[fd].gen << 32 | (uint32_t)fd;
	if (l->slots[fd].off) {
		/* Back in the set once its owner wants something of it. */
		if (events != 0) {
			if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
				return -1;
			l->slots[fd].off = 0;
		}
	} else if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
		return -1;
	l->slots[fd].events = events;
	return 0;
}

void
loop_del(struct loop *l, int fd)
{
	if (fd < 0 || fd >= l->nslots || l->slots[fd].fn == NULL)
		return;
	if (!l->slots[fd].off)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->slots[fd].off = 0;
	l->slots[fd].fn = NULL;
	l->slots[fd].arg = NULL;
	l->slots[fd].events = 0;
}

static int
add_timer(struct loop *l, int ms, int every, loop_timer_fn *fn, void *arg)
{
	struct timer *t;
	int i;

	for (i = 0; i < l->ntimers && l->timers[i].fn != NULL; i++)
		;
	if (i == MAX_TIMERS || ms < 0)
		return -1;
	if (i == l->ntimers)
		l->ntimers++;
	t = &l->timers[i];
	t->fn = fn;
	t->arg = arg;
	t->every = every;
	t->next = tm_mono_ms() + ms;
	/* The id carries the arming's generation, so that cancelling a
	 * timer that has fired never frees the slot's next tenant. */
	t->gen = (t->gen + 1) & 0x7fffff;
	return (int)(t->gen << 8) | i;
}

static void
free_timer(struct loop *l, int i)
{
	l->timers[i].fn = NULL;
	while (l->ntimers > 0 && l->timers[l->ntimers - 1].fn == NULL)
		l->ntimers--;
}

int
loop_every(struct loop *l, int ms, loop_timer_fn *fn, void *arg)
{
	if (ms <= 0)
		return -1;
	return add_timer(l, ms, ms, fn, arg) == -1 ? -1 : 0;
}

int
loop_once(struct loop *l, int ms, loop_timer_fn *fn, void *arg)
{
	return add_timer(l, ms, 0, fn, arg);
}

void
loop_cancel(struct loop *l, int id)
{
	int i = id & 0xff;

	if (id < 0 || i >= l->ntimers || l->timers[i].fn == NULL ||
	    l->timers[i].every != 0 || l->timers[i].gen != (unsigned)id >> 8)
		return;
	free_timer(l, i);
}

void
loop_after(struct loop *l, loop_timer_fn *fn, void *arg)
{
	l->after = fn;
	l->after_arg = arg;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

static int
next_timeout(struct loop *l)
{
	int64_t now, soonest = -1, d;
	int i;

	if (l->ntimers == 0)
		return -1;
	now = tm_mono_ms();
	for (i = 0; i < l->ntimers; i++) {
		if (l->timers[i].fn == NULL)
			continue;
		d = l->timers[i].next - now;
		if (d < 0)
			d = 0;
		if (soonest == -1 || d < soonest)
			soonest = d;
	}
	return (int)soonest;
}

static void
run_timers(struct loop *l)
{
	int64_t now = tm_mono_ms();
	loop_timer_fn *fn;
	void *arg;
	int i;

	for (i = 0; i < l->ntimers && !l->stop; i++) {
		if (l->timers[i].fn == NULL || l->timers[i].next > now)
			continue;
		fn = l->timers[i].fn;
		arg = l->timers[i].arg;
		/* A one-shot timer is free before it runs, so that its
		 * callback can arm the next one. */
		if (l->timers[i].every == 0)
			free_timer(l, i);
		else
			l->timers[i].next = now + l->timers[i].every;
		fn(l, arg);
	}
}

int
loop_run(struct loop *l)
{
	struct epoll_event evs[MAX_EVENTS];
	struct slot *s;
	unsigned what;
	int n, i, fd;

	l->stop = 0;	/* a loop can be run again after loop_stop */
	while (!l->stop) {
		n = epoll_wait(l->epfd, evs, MAX_EVENTS, next_timeout(l));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < n && !l->stop; i++) {
			fd = (int)(evs[i].data.u64 & 0xffffffffu);
			/* An earlier callback in this batch may have
			 * removed fd (its slot is empty), or removed it and
			 * added a new one under the same number. */
			if (fd >= l->nslots || (s = &l->slots[fd])->fn == NULL ||
			    s->gen != (uint32_t)(evs[i].data.u64 >> 32))
				continue;
			what = 0;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
				what |= LOOP_READ;
			if (evs[i].events & EPOLLOUT)
				what |= LOOP_WRITE;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				what |= LOOP_ERROR;
			s->fn(l, fd, what, s->arg);
			/* epoll reports a hang-up even to a descriptor that
			 * asks for nothing, at every wait: once told, an
			 * owner that still asks for nothing (a connection
			 * waiting for room in the output) would be called in
			 * a busy loop.  Such a descriptor leaves the set
			 * until loop_mod asks for events again. */
			s = &l->slots[fd];	/* fn may have grown slots */
			if ((what & LOOP_ERROR) && s->fn != NULL &&
			    s->gen == (uint32_t)(evs[i].data.u64 >> 32) &&
			    s->events == 0 && !s->off &&
			    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) == 0)
				s->off = 1;
		}
		run_timers(l);
		if (l->after != NULL)
			l->after(l, l->after_arg);
	}
	return 0;
}
