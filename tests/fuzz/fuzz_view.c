/* fuzz_view.c - libFuzzer target: tcpmon-view's reading of its input
 * (view/index.c: connections and HTTP exchanges out of any record stream),
 * its panes (view/detail.c: an exchange read back from the spool, taken
 * apart, decoded, formatted or dumped in hex) and its filter line
 * (view/act.c: the words typed after F).  The input is a filter line up to
 * a NUL byte, then a record stream.  Every pane of every exchange must be
 * made of lines safe for a terminal: no control character but tab, and
 * line offsets inside the text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui.h"
#include "view.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_X	64	/* exchanges shown per input */

static void
check_pane(const struct pane *p)
{
	size_t i;
	const unsigned char *t = (const unsigned char *)p->text;

	if (p->nline == 0)
		return;
	for (i = 0; i < p->nline; i++)
		if (p->line[i] > p->len)
			abort();
	for (i = 0; i < p->len; i++)
		if ((t[i] < 0x20 && t[i] != '\t' && t[i] != '\0') ||
		    t[i] == 0x7f)
			abort();
	if (t[p->len] != '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec_reader rd;
	struct index ix;
	struct detail d;
	struct rec *r;
	const uint8_t *nul;
	char line[512], why[512];
	size_t n, x;
	int flags;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if ((nul = memchr(data, '\0', size)) != NULL) {
		n = (size_t)(nul - data) < sizeof(line) - 1 ?
		    (size_t)(nul - data) : sizeof(line) - 1;
		memcpy(line, data, n);
		line[n] = '\0';
		act_filter_check(line, why, sizeof(why));
		size -= (size_t)(nul - data) + 1;
		data = nul + 1;
	}
	if ((r = malloc(sizeof(*r))) == NULL)
		return 0;
	ix_init(&ix);
	if (ix_spool(&ix, 0, NULL) < 0) {
		free(r);
		ix_free(&ix);
		return 0;
	}
	recr_init_mem(&rd, data, size, "fuzz");
	while (recr_next(&rd, r) == REC_OK)
		if (ix_take(&ix, 0, r, rd.raw, rd.rawlen) < 0)
			abort();
	recr_free(&rd);
	ix_end(&ix);
	/* The index holds together: every exchange names a connection that
	 * names it back through its first. */
	for (x = 0; x < ix.nx; x++)
		if (ix.x[x].c >= ix.nc || ix.c[ix.x[x].c].nx == 0 ||
		    ix.c[ix.x[x].c].x0 >= ix.nx)
			abort();
	det_init(&d);
	for (x = 0; x < ix.nx && x < MAX_X; x++) {
		det_make(&d, &ix, (long)x, flags & 1, (flags >> 1) & 1,
		    (flags >> 2) & 1);
		check_pane(&d.p[0]);
		check_pane(&d.p[1]);
	}
	det_free(&d);
	ix_free(&ix);
	free(r);
	return 0;
}
