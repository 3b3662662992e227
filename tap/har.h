/* har.h - tcpmon-tap's exchange views for other tools: one HAR 1.2
 * document of every HTTP exchange (--har), or one JSON line per exchange
 * with Elastic Common Schema names (--json=exchange).  Written as each
 * exchange ends: memory holds the messages under way, not the document. */
#ifndef TCPMON_HAR_H
#define TCPMON_HAR_H

#include <stdint.h>
#include <stdio.h>

#include "ctab.h"
#include "record.h"

enum har_mode { HAR_DOC, HAR_ECS };

struct har {
	FILE		*out;
	enum har_mode	 mode;
	uint64_t	 entries;
	size_t		 max_conns;
	int		 failed;	/* a line could not be written */
	struct ctab	 conns;		/* struct hconn */
};

/* HAR_DOC: the document's head is written at once. */
void	har_init(struct har *, FILE *, enum har_mode, size_t max_conns);
void	har_record(struct har *, const struct rec *);
/* Exchanges still open are written as they stand; the document ends. */
void	har_end(struct har *);

#endif
