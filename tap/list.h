/* list.h - the other views of tcpmon-tap: a table of one row per HTTP
 * exchange or per connection (--list) and one JSON object per record
 * (--json). */
#ifndef TCPMON_LIST_H
#define TCPMON_LIST_H

#include <stdio.h>

#include "ctab.h"
#include "record.h"

struct list_opts {
	int		 color;
	int		 per_conn;	/* --list=conn */
	int		 width;		/* columns of the terminal */
	size_t		 max_conns;	/* followed at once */
};

struct list {
	FILE		*out;
	int		 color;
	int		 per_conn;
	const char	*mark;		/* of a value cut to its column */
	int		 w_conn, w_status, w_start, w_client, w_target,
			 w_req, w_num, w_time;	/* 0: not shown */
	size_t		 max_conns;
	uint64_t	 dropped;
	char		 src0[64];
	int		 have_src0;
	int		 multi;		/* more than one source seen */
	struct ctab	 conns;		/* struct lconn */
};

/* Prints the header line at once. */
void	list_init(struct list *, FILE *, const struct list_opts *);
void	list_record(struct list *, const struct rec *);
/* Connections still open at the end of the input get their rows. */
void	list_end(struct list *);

void	json_record(FILE *, const struct rec *);

#endif
