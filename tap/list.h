/* list.h - the other views of tcpmon-tap: one line per connection (--list)
 * and one JSON object per record (--json). */
#ifndef TCPMON_LIST_H
#define TCPMON_LIST_H

#include <stdio.h>

#include "ctab.h"
#include "record.h"

struct list {
	FILE		*out;
	int		 color;
	int		 header;	/* the column titles were printed */
	size_t		 max_conns;	/* followed at once */
	uint64_t	 dropped;
	char		 src0[64];
	int		 have_src0;
	struct ctab	 conns;		/* struct lconn */
};

void	list_init(struct list *, FILE *, int color, size_t max_conns);
void	list_record(struct list *, const struct rec *);
/* Connections still open at the end of the input get their line. */
void	list_end(struct list *);

/* The first bytes of a list line's connection that --list needs of a
 * record's payload (a reader may skip the rest). */
size_t	list_wants(struct list *, const struct rec *);

void	json_record(FILE *, const struct rec *);

#endif
