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
/* Calls fn every ms milliseconds until loop_stop. */
int	 loop_every(struct loop *, int ms, loop_timer_fn *, void *);
/* Calls fn once, ms milliseconds from now (0: after the next batch).
 * Returns an id for loop_cancel, or -1 when every timer slot is taken. */
int	 loop_once(struct loop *, int ms, loop_timer_fn *, void *);
/* Forgets a timer of loop_once; -1, or the id of one that has fired
 * (even if its slot was armed again since), is a no-op. */
void	 loop_cancel(struct loop *, int id);
/* Called once after each batch of events (the record writer flushes here). */
void	 loop_after(struct loop *, loop_timer_fn *, void *);
int	 loop_run(struct loop *);
void	 loop_stop(struct loop *);

#endif
