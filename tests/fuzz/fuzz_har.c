/* fuzz_har.c - libFuzzer target: tcpmon-tap --har and --json=exchange
 * (tap/har.c) over any record stream.  The HAR written must be one JSON
 * document that jansson reads back, and each --json=exchange line one JSON
 * object, whatever bytes the traffic held (query strings, cookies, bodies
 * that are not UTF-8). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "har.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
run(const uint8_t *data, size_t size, enum har_mode mode)
{
	struct rec_reader rd;
	struct rec *r;
	struct har h;
	char *out = NULL;
	size_t outlen = 0;
	json_error_t je;
	json_t *v;
	FILE *f;

	if ((r = malloc(sizeof(*r))) == NULL ||
	    (f = open_memstream(&out, &outlen)) == NULL) {
		free(r);
		return;
	}
	har_init(&h, f, mode, 64);
	recr_init_mem(&rd, data, size, "fuzz");
	while (recr_next(&rd, r) == REC_OK)
		har_record(&h, r);
	recr_free(&rd);
	har_end(&h);
	fclose(f);
	if (mode == HAR_DOC) {
		if ((v = json_loadb(out, outlen, 0, &je)) == NULL) {
			fprintf(stderr, "HAR not JSON: %s at %d\n", je.text,
			    je.position);
			abort();
		}
		json_decref(v);
	}
	free(out);
	free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* --json=exchange writes with write(2) to the stream's fd, which a
	 * memory stream has not: only HAR is read back. */
	run(data, size, HAR_DOC);
	return 0;
}
