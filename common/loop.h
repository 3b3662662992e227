/* loop.h - one epoll reactor: a callback per file descriptor, plus timers. */
#ifndef TCPMON_LOOP_H
#define TCPMON_LOOP_H

#include <stdint.h>

#define LOOP_READ	1u
#define LOOP_WRITE	2u
#define LOOP_ERROR	4u	/* reported only: hang-up or error; to a
				 * descriptor watched for nothing (0), once
				 * until it is watched for something again */

struct loop;
typedef void loop_fd_fn(struct loop *, int fd, unsigned events, void *arg);
typedef void loop_timer_fn(struct loop *, void *arg);

struct loop *loop_new(void);
void	 loop_free(struct loop *);
/* Watches fd for events (LOOP_READ|LOOP_WRITE, or 0 to keep it quiet). */
int	 loop_add(struct loop *, int fd, unsigned events, loop_fd_fn *, void *);
/* Changes the events; a no-op when they are already those. */
int	 loop_mod(struct loop *, int fd, unsigned events);
/* Forgets fd: call before close(2). */
void	 loop_del(struct loop *, int fd);
/* Forgets fd and closes it, for a descriptor no other one shares its file
 * with (no dup(2), no child holding it): then close(2) alone takes it out
 * of the epoll set. */
int	 loop_close(struct loop *, int fd);
/*
 * Timers, as many as memory holds; those due at one time fire in the order
 * they were armed, and one armed from a timer's callback waits for the next
 * batch of events.  Each call returns an id for loop_cancel, or -1 (a bad
 * ms, or no memory).
 */
/* Calls fn every ms milliseconds (more than 0) until cancelled. */
int64_t	 loop_every(struct loop *, int ms, loop_timer_fn *, void *);
/* Calls fn once, ms milliseconds from now (0: after the next batch). */
int64_t	 loop_once(struct loop *, int ms, loop_timer_fn *, void *);
/* Forgets a timer; -1, or the id of a one-shot timer that has fired (even
 * if its entry was armed again since), is a no-op. */
void	 loop_cancel(struct loop *, int64_t id);
/* Called once after each batch of events (the record writer flushes here). */
void	 loop_after(struct loop *, loop_timer_fn *, void *);
int	 loop_run(struct loop *);
void	 loop_stop(struct loop *);

#endif
