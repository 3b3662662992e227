/* fuzz_record.c - libFuzzer target: the record reader on any bytes, read
 * whole and through a pipe-like split, and every record it accepts written
 * back and read again unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static struct rec r, r2;
	struct rec_reader rd, rd2;
	char hdr[REC_MAX_HEADER];
	size_t h;
	int rc, i = 0;

	recr_init_mem(&rd, data, n, "fuzz");
	while ((rc = recr_next(&rd, &r)) == REC_OK) {
		/* What was accepted must survive a write and a read. */
		h = rec_header(&r, r.len, hdr, sizeof(hdr));
		if (h > 0) {
			unsigned char *buf = malloc(h + r.len + 1);

			memcpy(buf, hdr, h);
			memcpy(buf + h, r.data, r.len);
			buf[h + r.len] = '\n';
			recr_init_mem(&rd2, buf, h + r.len + 1, "again");
			if (recr_next(&rd2, &r2) != REC_OK || r2.len != r.len ||
			    r2.conn != r.conn || r2.dir != r.dir ||
			    r2.usec != r.usec || r2.nfield != r.nfield ||
			    strcmp(r2.kind, r.kind) != 0 ||
			    memcmp(r2.data, r.data, r.len) != 0)
				abort();
			free(buf);
		}
		if (++i > 100000)
			abort();	/* no record is empty: this is a loop */
	}
	if (rc == REC_ERR && strncmp(rd.err, "fuzz: record ", 13) != 0)
		abort();
	return 0;
}
