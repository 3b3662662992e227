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

struct slot {
	loop_fd_fn	*fn;
	void		*arg;
	unsigned	 events;
	uint32_t	 gen;	/* bumped by every loop_add of this fd */
	int		 off;	/* out of the epoll set: quiet and hung up */
};

/*
 * Timers live in a table whose entries keep their place (an id names an
 * entry and the arming it was given for), ordered by a binary heap of
 * entry numbers: as many as the tools arm (one per paced answer in
 * tcpmon-mock), each arming and firing O(log n).
 */
struct timer {
	loop_timer_fn	*fn;		/* NULL: free */
	void		*arg;
	int64_t		 next;		/* due, tm_mono_ms */
	uint64_t	 seq;		/* arming order: ties fire in it */
	int		 every;		/* 0: once */
	uint32_t	 gen;		/* bumped at each arming: in the id */
	int		 hidx;		/* its place in the heap */
	int		 nextfree;
};

struct loop {
	int		 epfd;
	int		 stop;
	struct slot	*slots;		/* indexed by fd */
	int		 nslots;
	struct timer	*tv;
	int		 ntv, freetv;	/* freetv: a free entry, or -1 */
	int		*heap;		/* entry numbers, soonest first */
	int		 nheap;
	uint64_t	 seq;
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
	l->freetv = -1;
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	free(l->slots);
	free(l->tv);
	free(l->heap);
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

static void
forget(struct loop *l, int fd, int del)
{
	if (fd < 0 || fd >= l->nslots || l->slots[fd].fn == NULL)
		return;
	if (del && !l->slots[fd].off)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->slots[fd].off = 0;
	l->slots[fd].fn = NULL;
	l->slots[fd].arg = NULL;
	l->slots[fd].events = 0;
}

void
loop_del(struct loop *l, int fd)
{
	forget(l, fd, 1);
}

/* close(2) takes the descriptor out of the epoll set when it is the last
 * one of its file: one system call less for each socket a relay ends
 * (events already fetched for it are dropped by the slot's generation). */
int
loop_close(struct loop *l, int fd)
{
	forget(l, fd, 0);
	return close(fd);
}

/* Whether entry i is due before entry j. */
static int
sooner(const struct loop *l, int i, int j)
{
	const struct timer *a = &l->tv[i], *b = &l->tv[j];

	return a->next < b->next || (a->next == b->next && a->seq < b->seq);
}

static void
heap_set(struct loop *l, int at, int t)
{
	l->heap[at] = t;
	l->tv[t].hidx = at;
}

/* Moves the entry at heap place at up or down to where it belongs. */
static void
heap_fix(struct loop *l, int at)
{
	int t = l->heap[at], p, c;

	while (at > 0 && sooner(l, t, l->heap[p = (at - 1) / 2])) {
		heap_set(l, at, l->heap[p]);
		at = p;
	}
	for (;;) {
		c = 2 * at + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && sooner(l, l->heap[c + 1], l->heap[c]))
			c++;
		if (!sooner(l, l->heap[c], t))
			break;
		heap_set(l, at, l->heap[c]);
		at = c;
	}
	heap_set(l, at, t);
}

static void
heap_remove(struct loop *l, int t)
{
	int at = l->tv[t].hidx;

	l->nheap--;
	if (at != l->nheap) {
		heap_set(l, at, l->heap[l->nheap]);
		heap_fix(l, at);
	}
	l->tv[t].hidx = -1;
}

/* Puts entry t (its next set) in the heap under a new arming number. */
static void
heap_push(struct loop *l, int t)
{
	l->tv[t].seq = l->seq++;
	heap_set(l, l->nheap++, t);
	heap_fix(l, l->nheap - 1);
}

static void
free_timer(struct loop *l, int t)
{
	l->tv[t].fn = NULL;
	l->tv[t].arg = NULL;
	l->tv[t].nextfree = l->freetv;
	l->freetv = t;
}

static int64_t
add_timer(struct loop *l, int ms, int every, loop_timer_fn *fn, void *arg)
{
	struct timer *tv;
	int *h, t, n;

	if (ms < 0 || fn == NULL)
		return -1;
	if (l->freetv == -1) {
		if (l->ntv == INT32_MAX / 2)
			return -1;
		n = l->ntv ? l->ntv * 2 : 16;
		if ((tv = realloc(l->tv, (size_t)n * sizeof(*tv))) == NULL)
			return -1;
		l->tv = tv;
		if ((h = realloc(l->heap, (size_t)n * sizeof(*h))) == NULL)
			return -1;
		l->heap = h;
		memset(tv + l->ntv, 0, (size_t)(n - l->ntv) * sizeof(*tv));
		for (t = n - 1; t >= l->ntv; t--) {
			tv[t].hidx = -1;
			tv[t].nextfree = l->freetv;
			l->freetv = t;
		}
		l->ntv = n;
	}
	t = l->freetv;
	l->freetv = l->tv[t].nextfree;
	l->tv[t].fn = fn;
	l->tv[t].arg = arg;
	l->tv[t].every = every;
	l->tv[t].next = tm_mono_ms() + ms;
	/* The id carries the arming's generation, so that cancelling a
	 * timer that has fired never frees the entry's next tenant. */
	l->tv[t].gen++;
	heap_push(l, t);
	return (int64_t)l->tv[t].gen << 31 | t;
}

int64_t
loop_every(struct loop *l, int ms, loop_timer_fn *fn, void *arg)
{
	if (ms <= 0)
		return -1;
	return add_timer(l, ms, ms, fn, arg);
}

int64_t
loop_once(struct loop *l, int ms, loop_timer_fn *fn, void *arg)
{
	return add_timer(l, ms, 0, fn, arg);
}

void
loop_cancel(struct loop *l, int64_t id)
{
	int t = (int)(id & INT32_MAX);

	if (id < 0 || t >= l->ntv || l->tv[t].fn == NULL ||
	    l->tv[t].gen != (uint32_t)(id >> 31))
		return;
	if (l->tv[t].hidx != -1)
		heap_remove(l, t);
	free_timer(l, t);
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
	int64_t d;

	if (l->nheap == 0)
		return -1;
	d = l->tv[l->heap[0]].next - tm_mono_ms();
	return d < 0 ? 0 : d > INT32_MAX ? INT32_MAX : (int)d;
}

/* Runs the timers due now.  One armed by a callback here waits for the
 * next batch (its arming number is past start), even when due at once:
 * a tool re-arming a 0 ms timer to yield to events gets them. */
static void
run_timers(struct loop *l)
{
	int64_t now = tm_mono_ms();
	uint64_t start = l->seq;
	struct timer *tm;
	loop_timer_fn *fn;
	void *arg;
	int t;

	while (l->nheap > 0 && !l->stop) {
		t = l->heap[0];
		tm = &l->tv[t];
		if (tm->next > now || tm->seq >= start)
			break;
		fn = tm->fn;
		arg = tm->arg;
		heap_remove(l, t);
		/* A one-shot timer is free before it runs, so that its
		 * callback can arm the next one; a periodic one is armed
		 * again first, so that its callback can cancel it. */
		if (tm->every == 0)
			free_timer(l, t);
		else {
			tm->next = now + tm->every;
			heap_push(l, t);
		}
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
