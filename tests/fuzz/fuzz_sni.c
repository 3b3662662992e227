/* fuzz_sni.c - tap/sni.c: no read outside the bytes given, a name always
 * ends within its buffer, and an answer given on the first bytes of a
 * stream (a name, none, not TLS) stays the answer when more bytes come.
 * And tap/fault.c: a body cut anywhere gives the answer it gives whole. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char full[64], part[64], tiny[4];
	struct fault f1, f2;
	unsigned char *copy;
	enum sni_result rf, rp;
	size_t cut;

	/* An exact-size copy, so that ASan sees a read past the end. */
	if ((copy = malloc(n ? n : 1)) == NULL)
		return 0;
	memcpy(copy, data, n);
	rf = sni_parse(copy, n, full, sizeof(full));
	if (rf == SNI_NAME && memchr(full, '\0', sizeof(full)) == NULL)
		abort();
	cut = n > 0 ? data[0] % (n + 1) : 0;
	rp = sni_parse(copy, cut, part, sizeof(part));
	if (rp != SNI_MORE && (rp != rf || (rp == SNI_NAME &&
	    strcmp(part, full) != 0)))
		abort();
	if (sni_parse(copy, n, tiny, sizeof(tiny)) == SNI_NAME &&
	    strlen(tiny) >= sizeof(tiny))
		abort();
	fault_init(&f1);
	fault_init(&f2);
	fault_feed(&f1, copy, n);
	fault_feed(&f2, copy, cut);
	fault_feed(&f2, copy + cut, n - cut);
	if (f1.found != f2.found)
		abort();
	free(copy);
	return 0;
}
