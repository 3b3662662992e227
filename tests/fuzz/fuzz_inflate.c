/* fuzz_inflate.c - libFuzzer target: gzip and deflate decoding of any bytes
 * stays within its output limit. */
#include <stdint.h>
#include <stdlib.h>

#include "inflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint64_t out;

static void
sink(void *a, const unsigned char *p, size_t n)
{
	(void)a;
	(void)p;
	out += n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct inflater in;
	const char *why;
	size_t i, step;

	if (n < 1)
		return 0;
	out = 0;
	if (infl_init(&in, data[0] & 1 ? "gzip" : "deflate", 1 << 20) == -1)
		abort();
	for (i = 1; i < n; i += step) {
		step = 1 + (data[0] >> 1) % 64;
		if (step > n - i)
			step = n - i;
		if (infl_feed(&in, data + i, step, sink, NULL, &why) != 0)
			break;
	}
	infl_free(&in);
	if (out > (1 << 20))
		abort();
	return 0;
}
