/* fuzz_xmlfmt.c - libFuzzer target: the XML formatter (libxml2, entities
 * and network off) on any bytes, in both modes; what it formats once it
 * formats again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmlfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct fmt_opts pretty = { 2, 0, NULL }, compact = { 0, 1, NULL };
	struct fmt_buf a, b;
	struct fmt_err e;
	struct fmt_frame fr;
	size_t i, k;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.max = b.max = 4 * n + (1 << 20);
	if (xmlfmt_format(data, n, &pretty, &a, &e) == 0 &&
	    xmlfmt_format(a.p, a.len, &compact, &b, &e) != 0)
		abort();
	fmt_buf_free(&a);
	fmt_buf_free(&b);
	xmlfmt_frame_init(&fr);
	for (i = 0; i < n && !fr.done && !fr.bad; i += k)
		if ((k = xmlfmt_frame(&fr, data + i, n - i)) == 0)
			break;
	return 0;
}
