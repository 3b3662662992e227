/* throttle.h - the parts of tcpmon-throttle: options and non-blocking I/O
 * (throttle.c), per-connection queues and their schedule (shape.c). */
#ifndef TCPMON_THROTTLE_H
#define TCPMON_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define SHAPE_C2S	1u
#define SHAPE_S2C	2u

/* What to do to the connections; times in microseconds. */
struct shape_opts {
	unsigned	 dirs;		/* SHAPE_C2S|SHAPE_S2C: --up, --down */
	uint64_t	 bytes;		/* --bytes: pause after every N bytes */
	uint64_t	 delay_us;	/* --delay: that long */
	uint64_t	 rate;		/* --rate, bytes per second; 0: none */
	uint64_t	 latency_us, jitter_us;
	uint64_t	 slice;		/* --slice N: 0 none */
	uint64_t	 slice_us;	/* --slice N:MS */
	int		 has_cut, has_stall, has_reset;
	uint64_t	 cut_after, stall_after;	/* bytes of a direction */
	uint64_t	 reset_us, slow_close_us;
	double		 corrupt;	/* chance that a byte is flipped */
	double		 probability;	/* share of connections shaped */
	uint64_t	 seed;
	uint64_t	 max_queue;	/* bytes held before we stop reading */
	int		 any;		/* some option changes anything */
};

/* Where released records go: out() takes bytes of whole records, in
 * pieces; full() says the output has enough for now. */
struct shape_io {
	void		(*out)(void *, const void *, size_t);
	int		(*full)(void *);
	void		*arg;
};

#define SHAPE_IDLE	INT64_MAX	/* shape_run: nothing is waiting */

struct shaper;

struct shaper *shape_new(const struct shape_opts *, const struct shape_io *);
void	 shape_free(struct shaper *);
/* Queues one record as read (r parsed from raw, rawlen bytes) at now,
 * monotonic microseconds.  -1 when out of memory. */
int	 shape_put(struct shaper *, const struct rec *r,
	    const unsigned char *raw, size_t rawlen, int64_t now);
/* Releases what is due at now while the output has room; returns when
 * the next record is due, or SHAPE_IDLE. */
int64_t	 shape_run(struct shaper *, int64_t now);
/* Bytes held in the queues, against --max-queue. */
size_t	 shape_queued(const struct shaper *);

#endif
