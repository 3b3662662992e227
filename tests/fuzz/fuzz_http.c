/* fuzz_http.c - libFuzzer target: HTTP reassembly on any bytes.  The first
 * byte picks how the input is split and which direction gets each piece;
 * every byte fed must come back through the raw callback, in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t *want[2];
static size_t got[2], total[2];

static void
on_raw(void *a, enum http_dir d, const unsigned char *p, size_t n)
{
	(void)a;
	if (got[d] + n > total[d] || memcmp(want[d] + got[d], p, n) != 0)
		abort();
	got[d] += n;
}

static void
on_head(void *a, const struct http_head *h)
{
	(void)a;
	if (h->nheader < 0 || h->nheader > HTTP_MAX_HEADERS)
		abort();
}

static const struct http_callbacks cbs = { on_raw, on_head, NULL, NULL, NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static uint8_t dir_bytes[2][1 << 16];
	struct http_conn hc;
	size_t i, k, step;
	unsigned seed;

	if (n < 2 || n > sizeof(dir_bytes[0]))
		return 0;
	seed = data[0];
	data++;
	n--;
	/* Bytes go to the request side, or the response side, in runs. */
	total[0] = total[1] = got[0] = got[1] = 0;
	for (i = 0; i < n; i += step) {
		step = 1 + (seed % 13);
		if (step > n - i)
			step = n - i;
		k = (seed >> 4) & 1;
		memcpy(dir_bytes[k] + total[k], data + i, step);
		total[k] += step;
		seed = seed * 1103515245u + 12345u;
	}
	want[0] = dir_bytes[0];
	want[1] = dir_bytes[1];
	http_conn_init(&hc, &cbs, NULL);
	for (k = 0; k < 2; k++)
		for (i = 0; i < total[k]; i += step) {
			step = 1 + (i * 7 + k) % 17;
			if (step > total[k] - i)
				step = total[k] - i;
			http_conn_feed(&hc, (enum http_dir)k, dir_bytes[k] + i,
			    step);
		}
	http_conn_eof(&hc, HTTP_REQ);
	http_conn_eof(&hc, HTTP_RESP);
	http_conn_free(&hc);
	if (got[0] != total[0] || got[1] != total[1])
		abort();
	return 0;
}
