/* show.h - the conversation view: records rendered for a person, HTTP
 * messages with their bodies de-chunked and decoded, stacked or side by
 * side. */
#ifndef TCPMON_SHOW_H
#define TCPMON_SHOW_H

#include <stdio.h>

#include "ctab.h"
#include "record.h"

/* A place output goes: stdout, or one column of a side-by-side pair. */
struct sink {
	FILE	*f;
	int	 bol;		/* at the beginning of a line */
};

struct show_opts {
	int	 color;
	int	 side;		/* --layout side */
	int	 width;		/* columns, for side */
	int	 http;		/* take HTTP apart */
	int	 pretty;	/* indent XML and JSON bodies */
	size_t	 max_conns;	/* followed at once; 0: CTAB_MAX_DEFAULT */
};

struct show {
	struct sink	 out;
	struct show_opts o;
	char		 src0[64];	/* the first source seen: labels omit it */
	int		 have_src0;
	int		 multi;		/* more than one source seen */
	struct ctab	 conns;		/* struct vconn */
};

void	show_init(struct show *, FILE *, const struct show_opts *);
void	show_record(struct show *, const struct rec *);
/* The input ended: what side-by-side columns still hold is shown. */
void	show_end(struct show *);

#endif
