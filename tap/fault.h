/* fault.h - whether an answer's body holds a SOAP Fault (SOAP 1.1 or 1.2:
 * a Fault element of any prefix), read as it flows, in pieces cut
 * anywhere, without holding the body: so that the views can show a Fault
 * as the failure it is, whatever the HTTP status said. */
#ifndef TCPMON_FAULT_H
#define TCPMON_FAULT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a body looked at: a Fault is the first child of the Body. */
#define FAULT_SCAN	(64 * 1024)

/* Small: a viewer keeps one per connection it follows. */
struct fault {
	uint32_t	 seen;		/* bytes looked at */
	unsigned char	 state;
	unsigned char	 found;
	unsigned char	 nlen;		/* > sizeof(name): too long */
	unsigned char	 name[5];	/* the local name so far */
};

void	fault_init(struct fault *);
/* Returns found: 1 once a Fault start or end tag was seen. */
int	fault_feed(struct fault *, const unsigned char *, size_t);

#endif
