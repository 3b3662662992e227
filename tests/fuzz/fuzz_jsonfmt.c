/* fuzz_jsonfmt.c - libFuzzer target: the JSON re-indenter on any bytes.
 * What it accepts, indented then minified, equals the minified input: only
 * white space between tokens may change. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct fmt_opts pretty = { 2, 0, NULL }, compact = { 0, 1, NULL };
	struct fmt_buf a, b, c;
	struct fmt_err e;
	struct fmt_frame fr;
	size_t i, k;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.max = b.max = c.max = 4 * n + 4096;
	if (jsonfmt_format(data, n, &pretty, &a, &e) == 0) {
		if (jsonfmt_format(data, n, &compact, &b, &e) != 0 ||
		    jsonfmt_format(a.p, a.len, &compact, &c, &e) != 0 ||
		    b.len != c.len || memcmp(b.p, c.p, b.len) != 0)
			abort();
	}
	fmt_buf_free(&a);
	fmt_buf_free(&b);
	fmt_buf_free(&c);
	jsonfmt_frame_init(&fr);
	for (i = 0; i < n && !fr.done && !fr.bad; i += k)
		if ((k = jsonfmt_frame(&fr, data + i, n - i)) == 0)
			break;
	return 0;
}
