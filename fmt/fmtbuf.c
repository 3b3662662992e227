/* fmtbuf.c - what the formatting cores share: the capped output buffer,
 * media type names, the byte-order mark before a document. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fmt.h"

int
fmt_buf_add(struct fmt_buf *b, const void *p, size_t n)
{
	size_t ncap;
	unsigned char *np;

	if (n == 0)
		return 0;
	if (b->max != 0 && (b->len + n > b->max || b->len + n < b->len))
		return -1;
	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n)
			ncap *= 2;
		if (b->max != 0 && ncap > b->max)
			ncap = b->max;
		if ((np = realloc(b->p, ncap)) == NULL)
			return -1;
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int
fmt_buf_addc(struct fmt_buf *b, int c)
{
	unsigned char ch = (unsigned char)c;

	if (b->len < b->cap) {
		b->p[b->len++] = ch;
		return 0;
	}
	return fmt_buf_add(b, &ch, 1);
}

void
fmt_buf_free(struct fmt_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
fmt_media(const char *ct, const char *name)
{
	size_t n, k = strlen(name);

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	if (name[0] == '+')
		return n > k && strncasecmp(ct + n - k, name, k) == 0;
	return n == k && strncasecmp(ct, name, k) == 0;
}

int
fmt_frame_bom(struct fmt_frame *f, int c)
{
	static const unsigned char bom[] = { 0xef, 0xbb, 0xbf };

	if (f->nwin < sizeof(bom) && c == bom[f->nwin]) {
		f->nwin++;
		return 1;
	}
	return f->nwin == 0 || f->nwin == sizeof(bom) ? 0 : -1;
}
