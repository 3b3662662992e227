/* grow.c - appending to a buffer that doubles as it needs to. */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "util.h"

void
grow_reserve(unsigned char **buf, size_t len, size_t *cap, size_t first,
    size_t n)
{
	unsigned char *nb;
	size_t ncap;

	if (len + n <= *cap)
		return;
	ncap = *cap ? *cap : first;
	while (ncap < len + n)
		ncap *= 2;
	if ((nb = realloc(*buf, ncap)) == NULL)
		err(TM_EXIT_FAIL, "realloc");
	*buf = nb;
	*cap = ncap;
}

void *
grow_items(void *p, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t n;

	if (need <= *cap)
		return p;
	n = *cap ? *cap : first;
	while (n < need)
		n *= 2;
	if ((p = reallocarray(p, n, size)) == NULL)
		err(TM_EXIT_FAIL, "reallocarray");
	*cap = n;
	return p;
}

void
grow_put(unsigned char **buf, size_t *len, size_t *cap, size_t first,
    const void *p, size_t n)
{
	if (n == 0)
		return;
	grow_reserve(buf, *len, cap, first, n);
	memcpy(*buf + *len, p, n);
	*len += n;
}
