/* show.h - the conversation view: records rendered for a person. */
#ifndef TCPMON_SHOW_H
#define TCPMON_SHOW_H

#include <stdio.h>

#include "record.h"

struct show {
	FILE	*out;
	char	 src0[64];	/* the first source seen: labels omit it */
	int	 have_src0;
};

void	show_init(struct show *, FILE *);
void	show_record(struct show *, const struct rec *);
/* Whether a payload reads as text (UTF-8 without control characters
 * other than tab, CR and LF). */
int	show_is_text(const unsigned char *, size_t);
void	show_hexdump(FILE *, const unsigned char *, size_t);

#endif
