/* grow.h - the one growable buffer: tap's hold buffers, pattern tails and
 * unfinished HTTP heads, --har's bodies and output, tcpmon-view's panes and
 * inflate's whole bodies all append through it. */
#ifndef TCPMON_GROW_H
#define TCPMON_GROW_H

#include <stddef.h>

/* Appends n bytes to *buf (*len used of *cap), doubling from first bytes;
 * out of memory ends the program (exit 1). */
void	grow_put(unsigned char **buf, size_t *len, size_t *cap, size_t first,
	    const void *p, size_t n);
/* Makes room for n more bytes after len, the same way. */
void	grow_reserve(unsigned char **buf, size_t len, size_t *cap,
	    size_t first, size_t n);

#endif
