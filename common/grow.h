/* grow.h - the one growable buffer: tap's hold buffers, pattern tails and
 * unfinished HTTP heads, --har's bodies and output, tcpmon-view's panes and
 * inflate's whole bodies all append through it; and the one growable array
 * (the view's index, the regression tools' lists). */
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

/* An array of items of size bytes: makes room for need of them in p (cap
 * now), doubling from first; returns the array, maybe moved.  Out of
 * memory ends the program (exit 1). */
void	*grow_items(void *p, size_t *cap, size_t need, size_t size,
	    size_t first);

#endif
