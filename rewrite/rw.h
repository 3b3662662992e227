/* rw.h - the rewriting engine of tcpmon-rewrite: records in, records out,
 * with the Host of requests, the Location of answers and the soap:address
 * of WSDL answers changed so that a client stays on the relay.  The main
 * (rewrite.c) owns the input, the clock and the options. */
#ifndef TCPMON_RW_H
#define TCPMON_RW_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct rw_opts {
	size_t		 max_body;	/* --max-body: a WSDL answer held */
	int64_t		 hold_ms;	/* --hold-timeout; 0: hold as long */
};

struct rw;

struct rw *rw_new(const struct rw_opts *, struct rec_writer *);
/* Frees what is left without writing it (rw_finish writes it first). */
void	 rw_free(struct rw *);
/* One record as read: r parsed from raw (rawlen bytes), now monotonic
 * milliseconds.  Writes what it decides to the writer. */
void	 rw_record(struct rw *, const struct rec *r, const unsigned char *raw,
	    size_t rawlen, int64_t now);
/* When the oldest hold times out (monotonic ms), or -1 when nothing is
 * held or holds do not time out. */
int64_t	 rw_deadline(const struct rw *);
/* Writes out, unchanged, what has been held for --hold-timeout by now. */
void	 rw_expire(struct rw *, int64_t now);
/* The input ended: every connection writes what it holds and is freed. */
void	 rw_finish(struct rw *);

#endif
