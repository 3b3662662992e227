/* fuzz_sendreq.c - libFuzzer target: tcpmon-send reading a raw request file
 * (send/rawreq.c): the check, --fix-length's correction and --exchange's
 * cutting of a client's bytes into requests.  The first byte picks how many
 * requests are cut out; the rest is the file.  The correction must be its
 * own fixed point, and what the check lets through must be one request that
 * ends at the end of the file; requests are cut in order, inside the bytes,
 * never overlapping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "send.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
checked(const unsigned char *p, size_t n, struct rawreq *rr)
{
	char msg[256];
	const char *why;

	why = rawreq_check(p, n, rr, msg, sizeof(msg));
	if (why != NULL && (why != msg || strlen(msg) >= sizeof(msg) - 1))
		abort();
	if (why == NULL && (rr->several || rr->head_len == 0 ||
	    rr->head_len + rr->body_len != n))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rawreq rr, fr;
	unsigned char *y, *z;
	size_t yl, zl, s, e, prev = 0;
	char msg[256];
	uint64_t k, nk;

	if (size == 0)
		return 0;
	nk = data[0] % 5;
	data++;
	size--;

	checked(data, size, &rr);
	if ((y = rawreq_fix(data, size, &yl)) == NULL)
		return 0;
	checked(y, yl, &fr);
	if ((z = rawreq_fix(y, yl, &zl)) != NULL) {
		if (zl != yl || memcmp(y, z, yl) != 0)
			abort();
		free(z);
	}
	free(y);

	for (k = 1; k <= nk; k++) {
		if (rawreq_find(data, size, k, &s, &e, msg, sizeof(msg)) == -1)
			break;
		if (s > e || e > size || s < prev)
			abort();
		prev = e;
	}
	return 0;
}
